"""Refusing to start with other keys than the database's: every process sharing a database (``run``,
``engine``, ``api``) must verify the JWTs the others sign and open the provider tokens the others seal.

The fingerprints are ``config.keys``'; storing and comparing them, ``engine.store.key_fingerprints``'. Part of
the composition root: each command checks once its database is open.
"""

from __future__ import annotations

from pathlib import Path

from config import Keys
from config.keys import fingerprints
from engine.store.database import Database
from engine.store.key_fingerprints import differing_fingerprints
from songtrack.startup import StartRefused

__all__ = ["KeysDiffer", "check_keys"]


class KeysDiffer(StartRefused):
    """Our keys are not the ones this database was first used with; the message names the files and the fix."""


async def check_keys(db: Database, keys: Keys, data_dir: Path) -> None:
    """Record our keys' fingerprints if the database has none yet, else compare ours with them.

    Error handling: raises ``KeysDiffer`` naming each of our key files (under ``data_dir/keys``) that differs.
    """
    differing = await differing_fingerprints(db, fingerprints(keys))
    if not differing:
        return
    files = ", ".join(str(data_dir / "keys" / name) for name in sorted(differing))
    raise KeysDiffer(
        f"{files}: a key other than the one this database was first used with (the fingerprints differ)."
        " Every process sharing a database needs the same keys: copy the keys directory (keys/) of the"
        " first process's data directory into this one's")
