"""The API served by hypercorn in a background thread on 127.0.0.1:<free port>,
on its own database, with the sandbox's provider simulators as ``songtrack run``
starts them: for tests whose client is synchronous (schemathesis uses
``requests``) and must talk real HTTP to a real server.
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import trio

from config import Settings, load_or_create_keys
from engine.passwords import hash_password
from engine.store import accounts
from engine.store.database import open_database
from engine.store.migrate import discover
from http_api.context import ApiContext
from songtrack.api import build_api
from songtrack.runtime import start_simulators, wall_clock
from tests.helpers.factories import create_owner, create_session

__all__ = ["LiveApi", "serve_in_thread"]


@dataclass(frozen=True)
class LiveApi:
    base_url: str
    token: str  # an owner of an enterprise-tier organization, so the hourly budget does not interfere
    org_id: uuid.UUID


@contextmanager
def serve_in_thread(dsn: str, settings: Settings, data_dir: Path) -> Iterator[LiveApi]:
    started: queue.Queue[LiveApi | BaseException] = queue.Queue()
    stop = threading.Event()
    thread = threading.Thread(target=trio.run, args=(_serve, dsn, settings, data_dir, started, stop), daemon=True)
    thread.start()
    live = started.get(timeout=60)
    if isinstance(live, BaseException):
        raise live
    try:
        yield live
    finally:
        stop.set()
        thread.join(timeout=30)


async def _serve(dsn: str, settings: Settings, data_dir: Path, started: queue.Queue[object],
                 stop: threading.Event) -> None:
    try:
        async with open_database(dsn) as db, trio.open_nursery() as simulators:
            clock = wall_clock(settings)
            settings = await start_simulators(simulators, settings, clock)
            ctx = ApiContext(lambda: db, discover(), settings, load_or_create_keys(data_dir), wall=clock)
            org, user = await create_owner(db, "owner@fuzz.example", org_name="Fuzz Records",
                                           password_hash=await hash_password("fuzz-password"))
            await accounts.update_organization(db, org.id, tier="enterprise")
            session, _ = await create_session(db, user, ttl=timedelta(days=1), user_agent=None, ip=None)
            token = ctx.tokens.mint(user_id=user.id, org_id=org.id, role="owner", session_id=session.id)
            async with trio.open_nursery() as nursery:
                urls = await nursery.start(build_api(ctx).serve, "127.0.0.1:0", _wait_for(stop))
                started.put(LiveApi(urls[0], token, org.id))
            simulators.cancel_scope.cancel()
    except BaseException as exc:  # hand any start-up failure to the waiting test
        started.put(exc)
        raise


def _wait_for(stop: threading.Event):  # type: ignore[no-untyped-def]
    async def wait() -> None:
        await trio.to_thread.run_sync(stop.wait)

    return wait
