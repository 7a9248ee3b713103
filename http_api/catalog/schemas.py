"""Field types and Structs that the catalog routes (tracks, campaigns, audiences) share: text PostgreSQL
can store, web URLs, ISO country codes, targeting criteria (a campaign's ``Targeting``, an audience's
``AudienceCriteria``), and the catalog lists' search (``PageQuery``).

It owns the shape of a value, not what a route does with it. Every bound here also keeps a value inside
what its column holds, so a fuzzer finds a 400 rather than a 500.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Annotated, Literal, overload

import msgspec
from msgspec import UNSET, Meta, UnsetType

from http_api.pagination import ListQuery

__all__ = [
    "NO_NUL",
    "VISIBLE",
    "AudienceCriteria",
    "CountryCode",
    "Description",
    "Label",
    "Name",
    "PageQuery",
    "Targeting",
    "TargetingCriteria",
    "Url",
    "age_problem",
    "iso_country",
]

# PostgreSQL's text and jsonb cannot hold U+0000, so every free text refuses it. Blank means ASCII
# whitespace, spelled out rather than ``\s``: Python's and ECMA 262's ``\s`` differ (U+001C, U+FEFF), and the
# OpenAPI document's patterns must accept exactly what we accept. Neither pattern can backtrack more than
# once over a long input. Python's ``$`` also matches before a final newline; a pattern whose last part
# cannot take a newline ends with ``(?!\n)$`` (or has a length bound) so "USD\n" is not "USD".
_BLANK = r" \t\n\r\f\v"
NO_NUL = r"^[^\x00]*$"
VISIBLE = rf"^[{_BLANK}]*[^{_BLANK}\x00][^\x00]*$"  # at least one non-blank character

Name = Annotated[
    str, Meta(min_length=1, max_length=200, pattern=VISIBLE, description="1 to 200 characters, not blank")
]
Description = Annotated[str, Meta(max_length=2000, pattern=NO_NUL, description="At most 2000 characters")]
Label = Annotated[
    str, Meta(min_length=1, max_length=100, pattern=VISIBLE, description="A short tag: 1 to 100 characters")
]
"""A genre, an interest, a behaviour: one short tag."""

Url = Annotated[
    str,
    Meta(max_length=2048, pattern=rf"^https?://[^{_BLANK}/?#\x00][^{_BLANK}\x00]*(?!\n)$",
         description="An http:// or https:// URL", examples=["https://cdn.example.com/cover.jpg"]),
]

# Officially assigned ISO 3166-1 alpha-2 codes (the same 249 as tzdata's iso3166.tab), plus "UK": ad tools
# (and the API reference's own example) say UK for the United Kingdom, whose ISO code is GB. We take it and
# keep GB (``iso_country``), so what we store, send to Meta and read back in its breakdowns is one code.
# Listing the codes, rather than allowing any two letters, catches a typo before Meta refuses the targeting.
CountryCode = Annotated[
    Literal[
        "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ", "BA",
        "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV",
        "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU",
        "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES",
        "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM",
        "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM", "HN", "HR", "HT", "HU", "ID", "IE",
        "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP", "KE", "KG", "KH", "KI", "KM",
        "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY",
        "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT",
        "MU", "MV", "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU",
        "NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA",
        "RE", "RO", "RS", "RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM",
        "SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL",
        "TM", "TN", "TO", "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UK", "UM", "US", "UY", "UZ", "VA", "VC", "VE",
        "VG", "VI", "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
    ],
    Meta(description="An ISO 3166-1 alpha-2 country code; UK is taken as GB"),
]  # fmt: skip

@overload
def iso_country(code: CountryCode) -> CountryCode: ...
@overload
def iso_country(code: None) -> None: ...
def iso_country(code: CountryCode | None) -> CountryCode | None:
    """``code`` as ISO 3166-1 spells it (``UK`` → ``GB``)."""
    return "GB" if code == "UK" else code


# Meta's age bounds: 13 is the youngest it targets, and 65 means "65 and older".
Age = Annotated[int, Meta(ge=13, le=65)]
Gender = Literal["all", "male", "female"]


class TargetingCriteria(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """The criteria a campaign's targeting and an audience share. Every criterion is optional; an empty
    list means "no restriction". Only its two subclasses appear in bodies."""

    age_min: Age | None = None
    age_max: Age | None = None
    genders: Annotated[list[Gender], Meta(max_length=3)] = []
    locations: Annotated[list[CountryCode], Meta(max_length=250)] = []
    interests: Annotated[list[Label], Meta(max_length=100)] = []

    def __post_init__(self) -> None:
        self.locations = [iso_country(code) for code in self.locations]


class Targeting(TargetingCriteria):
    """Who should see a campaign's ads: the criteria, and optionally the audience they aim at."""

    # UNSET rather than None by default: a campaign that names no audience keeps the stored and shown
    # targeting it had before the field existed (no "audienceId": null appears unless a client sent it).
    audience_id: Annotated[uuid.UUID | None, Meta(description=(
        "One of the organization's audiences that the campaign's ads target (400 when there is no such"
        " audience); `GET /v1/analytics/audiences/{audienceId}/insights` reads its Meta campaigns. Absent"
        " or null: none"))] | UnsetType = UNSET


class AudienceCriteria(TargetingCriteria):
    """Who belongs to a custom audience: the targeting criteria plus behaviours (e.g. "music streaming").
    It has no ``audienceId``: an audience does not target another one."""

    behaviors: Annotated[list[Label], Meta(max_length=100)] = []


def age_problem(field: str, targeting: TargetingCriteria | UnsetType | None) -> str | None:
    """``"<field>: ..."`` when ``targeting``'s ages are upside down, else ``None``.

    A body's ``__post_init__`` raises this as a ValueError: the validator names the field of the body
    (``targetAudience``), which a check inside the nested Struct could not do.
    """
    if not isinstance(targeting, TargetingCriteria) or targeting.age_min is None or targeting.age_max is None:
        return None
    if targeting.age_max < targeting.age_min:
        return f"{field}: ageMax ({targeting.age_max}) must be at least ageMin ({targeting.age_min})"
    return None


class PageQuery(ListQuery, kw_only=True):
    """A window on a list; ``search`` matches literally, ignoring case (``%`` and ``_`` are not wildcards)."""

    search: Annotated[str, Meta(max_length=200, pattern=NO_NUL)] | UnsetType = UNSET

    def search_text(self) -> str | None:
        return None if isinstance(self.search, UnsetType) else self.search


def patch_changes(patch: msgspec.Struct, allowed: Collection[str] | None = None) -> dict[str, object]:
    """The fields a PATCH body gives (absent ones are UNSET), by their stored names, with nested Structs
    turned into the plain JSON shapes the store writes; limited to ``allowed`` when given."""
    return {
        name: msgspec.to_builtins(value) if isinstance(value, msgspec.Struct) else value
        for name, value in msgspec.structs.asdict(patch).items()
        if value is not UNSET and (allowed is None or name in allowed)
    }
