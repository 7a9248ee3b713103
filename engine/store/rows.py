"""Row and token helpers shared by the store's modules and the analytics queries (``Queries``).

It knows no table: converting records into Structs, reading status tags, and minting token secrets
whose SHA-256 digest is all we store.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TypeVar

import asyncpg
import msgspec

from engine.store.database import Connection, Database

__all__ = ["Queries", "as_struct", "fetch_one", "maybe_struct", "new_token", "row_count", "token_digest"]

T = TypeVar("T")
Queries = Database | Connection


def as_struct(row: asyncpg.Record, kind: type[T]) -> T:
    # convert() checks the Literal fields, so a role the schema gained but we did not is loud.
    return msgspec.convert(dict(row), kind)


def maybe_struct(row: asyncpg.Record | None, kind: type[T]) -> T | None:
    return None if row is None else as_struct(row, kind)


async def fetch_one(q: Queries, sql: str, *args: object) -> asyncpg.Record:
    """``fetchrow`` for statements that always return a row (INSERT ... RETURNING)."""
    row = await q.fetchrow(sql, *args)
    assert row is not None, sql
    return row


def row_count(status: str) -> int:
    """The row count of a status tag such as ``"UPDATE 3"``."""
    return int(status.rsplit(" ", 1)[1])


def new_token() -> tuple[str, bytes]:
    """A raw secret for the caller, and the digest we store in its place."""
    raw = secrets.token_urlsafe(32)
    return raw, token_digest(raw)


def token_digest(raw: str) -> bytes:
    return hashlib.sha256(raw.encode()).digest()
