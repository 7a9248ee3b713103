"""SQL for ``key_fingerprints``: the fingerprints of the keys the first process brought to this database, so
that every later process can tell whether it holds the same keys. It stores and compares; what a fingerprint
is belongs to ``config.keys``, and refusing to start to the composition root.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.store.database import Database

__all__ = ["differing_fingerprints"]


async def differing_fingerprints(db: Database, ours: Mapping[str, str]) -> dict[str, str]:
    """Record each of ``ours`` (key file → fingerprint) not recorded yet, and return those of ours whose
    recorded fingerprint differs: key file → the recorded fingerprint. Empty: we hold the database's keys.

    The first process to start records its own (processes starting at once: the first insert wins, and the
    others compare with it). Returns an empty mapping, recording nothing, when the table does not exist yet
    (an API process that started before the migrations ran; the engine process that runs them checks).
    """
    async with db.transaction() as tx:
        if await tx.fetchval("SELECT to_regclass('key_fingerprints')") is None:
            return {}
        await tx.executemany(
            "INSERT INTO key_fingerprints (key_file, fingerprint) VALUES ($1, $2) ON CONFLICT (key_file) DO NOTHING",
            list(ours.items()),
        )
        rows = await tx.fetch("SELECT key_file, fingerprint FROM key_fingerprints WHERE key_file = ANY($1::text[])",
                              list(ours))
    return {row["key_file"]: row["fingerprint"] for row in rows if row["fingerprint"] != ours[row["key_file"]]}
