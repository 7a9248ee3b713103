""""Nothing names them": every row of every table of the public schema, cast to text, searched for a
person's or an organization's identifiers (ids, addresses, names).

It reads the table list from ``information_schema`` at each call, so a table added later (the audit log)
is searched without anyone listing it here. Binary columns read as hex, so digests never match by chance.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.store.database import Database

__all__ = ["rows_naming"]


async def rows_naming(db: Database, needles: Sequence[object]) -> dict[str, list[str]]:
    """For each base table with a row whose text contains one of ``needles`` (case-insensitively), those
    rows' text; an empty dict when nothing names them."""
    tables = await db.fetch("SELECT table_name FROM information_schema.tables"
                            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1")
    patterns = [str(needle).lower() for needle in needles]
    assert patterns and all(patterns), "search for something"
    found: dict[str, list[str]] = {}
    for (table,) in tables:
        rows = await db.fetch(f'SELECT x::text FROM public."{table}" x WHERE EXISTS'
                              " (SELECT 1 FROM unnest($1::text[]) n WHERE strpos(lower(x::text), n) > 0)", patterns)
        if rows:
            found[table] = [row[0] for row in rows]
    return found
