"""Field types that several API bodies share (email addresses, passwords), so every route checks them the
same way. It owns the shape of a value, not what the value means to a route.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

__all__ = ["Day", "Email", "Instant", "Password", "day_of", "instant_of", "normalize_email"]

# Deliberately loose: one "@", no spaces or control characters, a dot somewhere in the domain. Whether the
# mailbox exists is for the confirmation email to find out, not for a regular expression.
# The refused characters are spelled out, not ``\s``: Python's ``\s`` and ECMA's (the OpenAPI document's)
# differ (\x1c-\x1f and \x85 against \ufeff), and clients validating with the document must agree with us.
# ``(?![\s\S])`` after ``$``: Python's ``$`` also matches before a trailing newline; this refuses it and
# stays a valid ECMA pattern.
# The domain holds a host name's characters only (letters, digits, hyphens, and any non-ASCII letter for
# internationalised names): an address with "<", "," or "[" in its domain passed the pattern and then
# broke the e-mail header it goes into (a 500 at registration).
_NOT_IN_EMAIL = r"@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_HOST_CHAR = (r"A-Za-z0-9\-\u00a1-\u167f\u1681-\u1fff\u200b-\u2027\u202a-\u202e\u2030-\u205e\u2060-\u2fff"
              r"\u3001-\ufefe\uff00-\uffff")
_EMAIL_PATTERN = rf"^[^{_NOT_IN_EMAIL}]+@[{_HOST_CHAR}]+(\.[{_HOST_CHAR}]+)+$(?![\s\S])"

Email = Annotated[
    str,
    msgspec.Meta(pattern=_EMAIL_PATTERN, max_length=254, description="An email address",
                 examples=["ana@label.example"]),
]
"""An email address: one ``@``, a dot in the domain, at most 254 characters (RFC 5321's path limit)."""

Password = Annotated[
    str, msgspec.Meta(min_length=8, max_length=128, description="8 to 128 characters")
]
"""A new password: 8 to 128 characters. The upper bound keeps argon2 from hashing megabytes."""


def normalize_email(address: str) -> str:
    """``address`` with its domain lowercased. Domains are case-insensitive, local parts in principle not,
    so we keep the local part as typed (the store still compares whole addresses case-insensitively)."""
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


# A date, or an ISO 8601 datetime (the API reference writes ``startDate=2024-06-01T00:00:00Z``). msgspec
# cannot take ``date | datetime`` (two types that are strings on the wire), so the field is a string and
# ``day_of`` reads it; the pattern keeps the OpenAPI document exact about what we take: only dates that exist
# (months 01-12, each month's length, 29 February in leap years, no year 0) and times on the clock.
_YEAR = r"(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"
_LEAP_YEAR = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_MONTH_DAY = r"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
_DATE = rf"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:[.,][0-9]{1,6})?)?"
_OFFSET = r"(?:Z|[+-](?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?)"
_DAY_PATTERN = rf"^{_DATE}(?:[T ]{_TIME}{_OFFSET}?)?$(?![\s\S])"

Day = Annotated[
    str,
    msgspec.Meta(pattern=_DAY_PATTERN, max_length=40, examples=["2024-06-01", "2024-06-01T00:00:00Z"],
                 description="A day: `YYYY-MM-DD`, or an ISO 8601 datetime, which names its date as written"
                             " (the time and offset are dropped: periods are whole days)"),
]


# An instant, as RFC 3339 writes it (seconds and an offset required, the fraction up to microseconds): a string
# with a pattern rather than a ``datetime``, so the OpenAPI document says exactly what we take; ``instant_of``
# reads it.
_INSTANT_PATTERN = rf"^{_DATE}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{{1,6}})?{_OFFSET}$(?![\s\S])"

Instant = Annotated[
    str,
    msgspec.Meta(pattern=_INSTANT_PATTERN, max_length=40, examples=["2024-06-01T00:00:00Z"],
                 description="An instant: an RFC 3339 datetime with its offset (`2024-06-01T12:00:00Z`)"),
]


def instant_of(value: str) -> datetime:
    """The aware datetime an ``Instant`` names."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def day_of(value: str) -> date:
    """The date a ``Day`` names; raises ValueError for one that does not exist (``2024-02-30``)."""
    return datetime.fromisoformat(value).date() if len(value) > 10 else date.fromisoformat(value)
