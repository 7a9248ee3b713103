"""What the catalog queries (tracks, campaigns, audiences) share: the errors they raise, the ``Page`` they
return, and the small SQL helpers that keep user input out of SQL text (LIKE escaping, whitelisted SET
clauses, jsonb and money conversions). It knows no table itself.

    StoreError
     ├── NotFound(field, message)    a referenced row is not in the caller's organization
     └── Conflict(field, message)    the write collides with a row or a state that is already there

``field`` is the API's camelCase name of the offending field, so the HTTP layer can report it as is. A
missing *target* row is not an error: the functions return ``None`` or ``False`` for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from decimal import Decimal
from typing import Generic, TypeVar

import asyncpg
import msgspec

from engine.store.database import Connection, Database
from engine.store.errors import StoreError

__all__ = [
    "Conflict",
    "Executor",
    "NotFound",
    "Page",
    "Where",
    "atomic",
    "check_window",
    "count_rows",
    "decode_object",
    "encode_json",
    "fetch_page",
    "like_pattern",
    "money",
    "page",
    "raise_conflict_on",
    "raise_not_found_on",
    "set_clause",
    "to_decimal",
]

T = TypeVar("T")

Executor = Database | Connection
"""Where a query runs: the pool, or the connection of a caller's transaction."""

_object_decoder = msgspec.json.Decoder(dict[str, object])


class NotFound(StoreError):
    """A row named by a field (``trackId``, ``sourceAudienceId``) does not exist in the organization."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class Conflict(StoreError):
    """The write would break a uniqueness rule or is not allowed from the row's current state."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class Page(msgspec.Struct, Generic[T], frozen=True, kw_only=True, rename="camel"):
    """One page of a list: ``total`` counts every matching row, not just ``items``."""

    items: list[T]
    total: int
    limit: int
    offset: int
    has_next: bool


@asynccontextmanager
async def atomic(db: Executor) -> AsyncIterator[Connection]:
    """A connection whose statements commit or roll back together. A ``Connection`` already lives inside
    a transaction (the caller's), so we use it as it is and let the caller's block decide."""
    if isinstance(db, Connection):
        yield db
    else:
        async with db.transaction() as conn:
            yield conn


@contextmanager
def raise_conflict_on(index: str, field: str, message: str) -> Iterator[None]:
    """Translate a unique violation of ``index`` into ``Conflict(field, message)``; others pass through."""
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != index:
            raise
        raise Conflict(field, message) from exc


@contextmanager
def raise_not_found_on(foreign_key: str, field: str, message: str) -> Iterator[None]:
    """Translate a violation of ``foreign_key`` into ``NotFound(field, message)``; others pass through.

    Our existence checks run in a statement's snapshot; a row deleted by a transaction that committed
    after that snapshot was taken fails the foreign key instead, which means the same to our caller.
    """
    try:
        yield
    except asyncpg.ForeignKeyViolationError as exc:
        if exc.constraint_name != foreign_key:
            raise
        raise NotFound(field, message) from exc


class Where:
    """Builds a WHERE clause from fixed SQL fragments; only the values become ``$n`` parameters."""

    def __init__(self, *args: object) -> None:
        self.conditions: list[str] = []
        self.args: list[object] = list(args)

    def param(self, value: object) -> str:
        """Add ``value`` as the next parameter and return its placeholder."""
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, condition: str) -> None:
        self.conditions.append(condition)

    def equal(self, column: str, value: object | None) -> None:
        """Keep rows whose ``column`` (our SQL text) is ``value``; no condition when ``value`` is None."""
        if value is not None:
            self.add(f"{column} = {self.param(value)}")

    def sql(self) -> str:
        return " AND ".join(self.conditions) if self.conditions else "TRUE"


def like_pattern(text: str) -> str:
    """An ``ILIKE ... ESCAPE '\\'`` pattern matching ``text`` literally anywhere in a value."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def set_clause(
    changes: Mapping[str, object], columns: Mapping[str, str], first_param: int
) -> tuple[str, list[object]]:
    """``"col = $n, ..., updated_at = now()"`` and its values for ``changes``, whose keys must be keys of
    ``columns``; every write bumps ``updated_at``, an empty ``changes`` included.

    The column names come from the whitelist ``columns`` (field name -> column), never from the caller's
    keys, so no user-provided text reaches the SQL. Raises ``ValueError`` for an unknown field.
    """
    unknown = sorted(set(changes) - set(columns))
    if unknown:
        raise ValueError(f"cannot update field(s) {', '.join(unknown)}")
    parts = [f"{columns[field]} = ${first_param + i}" for i, field in enumerate(changes)]
    return ", ".join([*parts, "updated_at = now()"]), list(changes.values())


def encode_json(value: object) -> str:
    """Text for a ``$n::jsonb`` parameter (asyncpg exchanges jsonb as text unless given a codec)."""
    return msgspec.json.encode(value).decode()


def decode_object(text: str | bytes) -> dict[str, object]:
    """A jsonb object column, as asyncpg returns it (text)."""
    return _object_decoder.decode(text)


def money(value: Decimal) -> float:
    """A numeric amount as the API shows it: a float, to the cent."""
    return round(float(value), 2)


def to_decimal(value: object) -> object:
    """A float becomes the Decimal it prints as (``0.1``, not the binary ``0.1000000000000000055...``)
    before it reaches a numeric column; anything else is passed through for the driver to judge."""
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def page(items: Sequence[T], total: int, limit: int, offset: int) -> Page[T]:
    """The ``Page`` of ``items`` found at ``offset`` among ``total`` rows."""
    has_next = offset + len(items) < total
    return Page(items=list(items), total=total, limit=limit, offset=offset, has_next=has_next)


async def count_rows(db: Executor, sql: str, *args: object) -> int:
    """The value of a ``SELECT count(*) ...`` statement."""
    total = await db.fetchval(sql, *args)
    assert isinstance(total, int), total
    return total


async def fetch_page(q: Executor, table: str, fields: str, where: Where, order: str, *, limit: int, offset: int,
                     row: Callable[[asyncpg.Record], T]) -> Page[T]:
    """The ``Page`` at ``offset`` of ``table``'s rows that ``where`` keeps, sorted by ``order``, each read by
    ``row``. ``table``, ``fields`` and ``order`` are our SQL text, never a caller's. Raises ``ValueError``
    for a negative ``limit`` or ``offset``."""
    check_window(limit, offset)
    total = await count_rows(q, f"SELECT count(*) FROM {table} WHERE {where.sql()}", *where.args)
    rows = await q.fetch(f"SELECT {fields} FROM {table} WHERE {where.sql()} ORDER BY {order}"
                         f" LIMIT {where.param(limit)} OFFSET {where.param(offset)}", *where.args)
    return page([row(record) for record in rows], total, limit, offset)


def check_window(limit: int, offset: int) -> None:
    """Guard against a negative LIMIT/OFFSET reaching SQL (the HTTP layer validates the bounds first)."""
    if limit < 0 or offset < 0:
        raise ValueError(f"limit and offset must be >= 0, not {limit} and {offset}")
