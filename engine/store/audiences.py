"""Audiences: the people an organization targets, either described by criteria (``custom``) or derived
from another audience by Meta's lookalike modelling (``lookalike``).

Every function takes the organization's id and filters on it in SQL, so another organization's audience
is simply not found. A lookalike is a child of its source: deleting the source deletes it (the foreign
key cascades), and a lookalike cannot itself be a source. Syncing to Meta is not ours.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

import asyncpg
import msgspec

from engine.store.catalog_common import (
    Conflict,
    Executor,
    Page,
    Where,
    check_window,
    count_rows,
    decode_object,
    encode_json,
    like_pattern,
    page,
    set_clause,
    to_decimal,
)

__all__ = [
    "UPDATABLE_FIELDS",
    "Audience",
    "Lookalike",
    "MetaLink",
    "NewAudience",
    "create_audience",
    "create_lookalike",
    "delete_audience",
    "get_audience",
    "link_meta",
    "list_audiences",
    "update_audience",
]


class Lookalike(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """How a lookalike was built: the countries it covers and the share of their population (0.01 = 1%)."""

    countries: list[str]
    ratio: float


class MetaLink(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The Meta custom or lookalike audience an audience was pushed to, and when it last was."""

    ad_account_id: str
    audience_id: str
    synced_at: datetime


class Audience(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """An audience as the API shows it; ``type`` is ``custom`` or ``lookalike``, and only a lookalike has
    a ``source_audience_id`` and ``lookalike``. ``meta`` is set once it was pushed to Meta."""

    id: uuid.UUID
    name: str
    description: str | None
    type: str
    criteria: dict[str, object]
    source_audience_id: uuid.UUID | None
    lookalike: Lookalike | None
    meta: MetaLink | None = None
    created_at: datetime
    updated_at: datetime


class NewAudience(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """The fields of a custom audience to create; the same names are the keys ``update_audience`` accepts."""

    name: str
    description: str | None = None
    criteria: dict[str, object] = {}


# Field name -> column: the whitelist of what update_audience may set.
_COLUMNS = {"name": "name", "description": "description", "criteria": "criteria"}
UPDATABLE_FIELDS = frozenset(_COLUMNS)
_FIELDS = (
    "id, name, description, kind, criteria, source_audience_id, lookalike_countries, lookalike_ratio,"
    " meta_ad_account_id, meta_audience_id, meta_synced_at, created_at, updated_at"
)
# Only a custom audience may be a source: the check is in the INSERT, so it sees the row it copies from.
_INSERT_LOOKALIKE = f"""
INSERT INTO audiences (organization_id, name, description, kind, source_audience_id, lookalike_countries,
                       lookalike_ratio, meta_ad_account_id, meta_audience_id, meta_synced_at)
SELECT $1, $3::text, $4::text, 'lookalike', s.id, $5::text[], $6::numeric, $7::text, $8::text,
       CASE WHEN $8::text IS NULL THEN NULL ELSE now() END
FROM audiences s
WHERE s.organization_id = $1 AND s.id = $2 AND s.kind = 'custom'
RETURNING {_FIELDS}
"""


async def create_audience(db: Executor, org_id: uuid.UUID, fields: NewAudience) -> Audience:
    """Insert a custom audience and return it."""
    row = await db.fetchrow(
        f"INSERT INTO audiences (organization_id, name, description, criteria)"
        f" VALUES ($1, $2, $3, $4::jsonb) RETURNING {_FIELDS}",
        org_id, fields.name, fields.description, encode_json(fields.criteria),
    )  # fmt: skip
    assert row is not None  # INSERT ... RETURNING always returns its row
    return _audience(row)


async def create_lookalike(
    db: Executor,
    org_id: uuid.UUID,
    source_id: uuid.UUID,
    *,
    name: str,
    countries: Sequence[str],
    ratio: float,
    description: str | None = None,
    meta: tuple[str, str] | None = None,
) -> Audience | None:
    """Insert a lookalike of the custom audience ``source_id`` and return it, or ``None`` when the
    organization has no such audience. Its criteria stay empty: Meta derives the people from the source.
    ``meta`` is the (ad account, audience id) it was already created as on Meta, if it was.

    Raises ``Conflict("sourceAudienceId", ...)`` when the source is itself a lookalike.
    """
    try:
        row = await db.fetchrow(
            _INSERT_LOOKALIKE, org_id, source_id, name, description, list(countries), to_decimal(ratio),
            *(meta or (None, None)),
        )
    except asyncpg.ForeignKeyViolationError as exc:
        # The source was deleted by a transaction that committed after our snapshot was taken.
        if exc.constraint_name != "audiences_source_audience_id_fkey":
            raise
        return None
    if row is not None:
        return _audience(row)
    kind = await db.fetchval(
        "SELECT kind FROM audiences WHERE organization_id = $1 AND id = $2", org_id, source_id
    )
    if kind is None:
        return None
    raise Conflict("sourceAudienceId", "a lookalike cannot be built from another lookalike")


async def get_audience(db: Executor, org_id: uuid.UUID, audience_id: uuid.UUID) -> Audience | None:
    """The audience, or ``None`` when the organization has no such audience."""
    row = await db.fetchrow(
        f"SELECT {_FIELDS} FROM audiences WHERE organization_id = $1 AND id = $2", org_id, audience_id
    )
    return None if row is None else _audience(row)


async def list_audiences(
    db: Executor, org_id: uuid.UUID, *, search: str | None = None, limit: int = 20, offset: int = 0
) -> Page[Audience]:
    """The organization's audiences, newest first (``id`` breaks ties, so pages never overlap).

    ``search`` keeps names containing it, ignoring case, with ``%`` and ``_`` matching themselves.
    Raises ``ValueError`` for a negative ``limit`` or ``offset``.
    """
    check_window(limit, offset)
    where = Where(org_id)
    where.add("organization_id = $1")
    if search:
        where.add(f"name ILIKE {where.param(like_pattern(search))} ESCAPE '\\'")
    total = await count_rows(db, f"SELECT count(*) FROM audiences WHERE {where.sql()}", *where.args)
    rows = await db.fetch(
        f"SELECT {_FIELDS} FROM audiences WHERE {where.sql()} ORDER BY created_at DESC, id DESC"
        f" LIMIT {where.param(limit)} OFFSET {where.param(offset)}",
        *where.args,
    )
    return page([_audience(row) for row in rows], total, limit, offset)


async def update_audience(
    db: Executor, org_id: uuid.UUID, audience_id: uuid.UUID, changes: Mapping[str, object]
) -> Audience | None:
    """Set the fields in ``changes`` (keys from ``UPDATABLE_FIELDS``) and return the audience, or
    ``None`` when the organization has no such audience. Raises ``ValueError`` for an unknown key."""
    values = {field: encode_json(v) if field == "criteria" else v for field, v in changes.items()}
    assignments, args = set_clause(values, _COLUMNS, first_param=3)
    row = await db.fetchrow(
        f"UPDATE audiences SET {assignments} WHERE organization_id = $1 AND id = $2 RETURNING {_FIELDS}",
        org_id, audience_id, *args,
    )  # fmt: skip
    return None if row is None else _audience(row)


async def link_meta(db: Executor, org_id: uuid.UUID, audience_id: uuid.UUID, *, ad_account_id: str,
                    meta_audience_id: str) -> Audience | None:
    """Record that the audience now lives on Meta as ``meta_audience_id`` (synced now); ``None`` when the
    organization has no such audience."""
    row = await db.fetchrow(
        "UPDATE audiences SET meta_ad_account_id = $3, meta_audience_id = $4, meta_synced_at = now(),"
        f" updated_at = now() WHERE organization_id = $1 AND id = $2 RETURNING {_FIELDS}",
        org_id, audience_id, ad_account_id, meta_audience_id,
    )  # fmt: skip
    return None if row is None else _audience(row)


async def delete_audience(db: Executor, org_id: uuid.UUID, audience_id: uuid.UUID) -> bool:
    """Delete the audience and, if it is a source, its lookalikes; ``False`` when the organization has
    no such audience."""
    status = await db.execute(
        "DELETE FROM audiences WHERE organization_id = $1 AND id = $2", org_id, audience_id
    )
    return status == "DELETE 1"


def _audience(row: asyncpg.Record) -> Audience:
    lookalike = None
    if row["kind"] == "lookalike":
        lookalike = Lookalike(countries=list(row["lookalike_countries"] or ()), ratio=_ratio(row))
    meta = None
    if row["meta_audience_id"] is not None:
        meta = MetaLink(ad_account_id=row["meta_ad_account_id"], audience_id=row["meta_audience_id"],
                        synced_at=row["meta_synced_at"])
    return Audience(
        id=row["id"], name=row["name"], description=row["description"], type=row["kind"],
        criteria=decode_object(row["criteria"]), source_audience_id=row["source_audience_id"],
        lookalike=lookalike, meta=meta, created_at=row["created_at"], updated_at=row["updated_at"],
    )  # fmt: skip


def _ratio(row: asyncpg.Record) -> float:
    ratio = row["lookalike_ratio"]
    return 0.0 if ratio is None else float(ratio)
