"""``songtrack.accounts.account_kinds``: which account actor kinds a process runs, each with its provider.

Rules: building the kinds does no I/O, so we only read their names; the actors themselves are tested in
tests/actors/ and the wiring end to end by the ``songtrack run`` tests in tests/engine/.
"""

from __future__ import annotations

import os

import httpx
import trio

from config import Keys, load
from engine.clock import WallClock
from engine.messages import MetricSample
from engine.registry import Registry
from engine.store import Database
from songtrack.accounts import account_kinds


def _names(db: Database, environ: dict[str, str]) -> list[str]:
    keys = Keys(jwt_signing_key=os.urandom(32), token_encryption_key=os.urandom(32))
    send, receive = trio.open_memory_channel[MetricSample](0)
    with send, receive:
        kinds = account_kinds(db, load(environ), keys, Registry(), send, httpx.AsyncClient, WallClock())
    return [kind.name for kind in kinds]


async def test_meta_runs_first_and_only_with_a_meta_app_and_both_spotify_kinds_always(db: Database) -> None:
    meta_app = {"SONGTRACK_META_APP_ID": "1234", "SONGTRACK_META_APP_SECRET": "s"}
    assert _names(db, meta_app) == ["meta", "spotify-listener", "spotify"]
    assert _names(db, {}) == ["spotify-listener", "spotify"]
