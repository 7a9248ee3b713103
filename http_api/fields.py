"""Field types that several API bodies share (email addresses, passwords), so every route checks them the
same way. It owns the shape of a value, not what the value means to a route.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

__all__ = ["Email", "Password", "normalize_email"]

# Deliberately loose: one "@", no spaces or control characters, a dot somewhere in the domain. Whether the
# mailbox exists is for the confirmation email to find out, not for a regular expression.
# The refused characters are spelled out, not ``\s``: Python's ``\s`` and ECMA's (the OpenAPI document's)
# differ (\x1c-\x1f and \x85 against \ufeff), and clients validating with the document must agree with us.
# ``(?![\s\S])`` after ``$``: Python's ``$`` also matches before a trailing newline; this refuses it and
# stays a valid ECMA pattern.
_NOT_IN_EMAIL = r"@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_EMAIL_PATTERN = rf"^[^{_NOT_IN_EMAIL}]+@[^{_NOT_IN_EMAIL}.]+(\.[^{_NOT_IN_EMAIL}.]+)+$(?![\s\S])"

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
