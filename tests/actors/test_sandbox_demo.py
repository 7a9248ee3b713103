"""``actors.sandbox_demo.set_up_demo`` against the Meta simulator (in-process, through
``httpx.ASGITransport``) and a real PostgreSQL, on the real clock: the demo track it links each fresh
demo campaign to, and what it prints.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import httpx
import trio

from actors.sandbox_demo import set_up_demo
from adapters.meta.simulator import MetaSimulator, SimClock, SimulatorConfig
from adapters.meta.simulator.clock import parse_start
from config import Keys, load
from engine.store import Database, campaigns, tracks


def _http_factory() -> Callable[[], httpx.AsyncClient]:
    config = SimulatorConfig(seed=1)
    sim = MetaSimulator(config, SimClock(parse_start(config.start), 60.0, trio.current_time))
    return lambda: httpx.AsyncClient(transport=httpx.ASGITransport(sim), base_url="https://graph.facebook.com")


async def test_each_start_links_a_fresh_demo_campaign_to_the_same_demo_track(db: Database, tmp_path: Path) -> None:
    settings, keys = load({}), Keys(jwt_signing_key=os.urandom(32), token_encryption_key=os.urandom(32))
    with trio.fail_after(30):
        first = await set_up_demo(db, settings, keys, tmp_path, _http_factory())
        second = await set_up_demo(db, settings, keys, tmp_path, _http_factory())
    assert (second.organization_id, second.track_id) == (first.organization_id, first.track_id)
    org = first.organization_id
    assert [t.id for t in (await tracks.list_tracks(db, org)).items] == [first.track_id]
    demo = (await campaigns.list_campaigns(db, org, sort="createdAt", order="asc")).items
    assert [(c.status, c.track_id) for c in demo] == [("archived", first.track_id), ("active", first.track_id)]
    printed = "\n".join(second.lines)
    assert f"Demo track: {first.track_id}" in printed and "2 simulated listens a second" in printed
