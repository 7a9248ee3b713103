"""``engine.store.key_fingerprints``: the first process's fingerprints are recorded, and later ones are
compared with them, file by file; on a real, migrated database."""

from __future__ import annotations

from engine.store.database import Database
from engine.store.key_fingerprints import differing_fingerprints

FIRST = {"jwt-signing.key": "aa", "token-encryption.key": "bb"}


async def test_the_first_fingerprints_are_recorded_and_later_ones_compared_file_by_file(db: Database) -> None:
    assert await differing_fingerprints(db, FIRST) == {}
    assert await differing_fingerprints(db, FIRST) == {}
    assert await differing_fingerprints(db, FIRST | {"token-encryption.key": "cc"}) == {"token-encryption.key": "bb"}
    assert await db.fetchval("SELECT count(*) FROM key_fingerprints") == 2


async def test_a_database_not_migrated_yet_records_and_refuses_nothing(db: Database) -> None:
    await db.execute("DROP TABLE key_fingerprints")
    assert await differing_fingerprints(db, FIRST) == {}
