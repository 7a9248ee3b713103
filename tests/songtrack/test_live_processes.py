"""Live streams across API processes, as a label scales out: two ``songtrack api`` processes on one
PostgreSQL, an event POSTed to one of them, and a WebSocket client of the other that receives it. Nothing
but the database joins the two processes (LISTEN/NOTIFY wakes each one's LiveHub).

Real processes, real clock, every wait bounded; the children are killed if the test fails half-way.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec
import trio

from config import load_or_create_keys
from engine.passwords import hash_password
from engine.store import accounts, open_database
from http_api.auth.tokens import TokenService
from tests.helpers.factories import create_owner, create_session, create_track
from tests.helpers.live_ws import open_ws
from tests.helpers.process import SongtrackProcess, free_port


async def test_an_event_posted_to_one_api_process_reaches_a_client_of_another(
        property_dsn: str, tmp_path: Path, processes: list[SongtrackProcess]) -> None:
    data_dir = tmp_path / "var"
    keys = load_or_create_keys(data_dir)  # both processes sign and verify with these
    async with open_database(property_dsn, max_size=2) as db:
        org, user = await create_owner(db, "owner@scaled.example", org_name="Scaled Records",
                                       password_hash=await hash_password("scaled-password"))
        await accounts.update_organization(db, org.id, tier="enterprise")
        session, _ = await create_session(db, user, ttl=timedelta(days=1), user_agent=None, ip=None)
        track = await create_track(db, org.id)
    token = TokenService(keys.jwt_signing_key, 900, lambda: datetime.now(UTC).timestamp()).mint(
        user_id=user.id, org_id=org.id, role="owner", session_id=session.id)
    env = {**os.environ, "SONGTRACK_DATABASE_URL": property_dsn, "SONGTRACK_SANDBOX": "off"}
    ports = [free_port(), free_port()]
    for n, port in enumerate(ports):
        proc = SongtrackProcess(["api", "--data-dir", str(data_dir), "--port", str(port)],
                                tmp_path / f"api{n}.log", env)
        processes.append(proc)
        await proc.start()
    for proc, port in zip(processes, ports, strict=True):
        await proc.wait_ready(f"http://127.0.0.1:{port}")

    async with open_ws(f"ws://127.0.0.1:{ports[1]}/v1/streaming/ws/{track}?token={token}") as ws:
        with trio.fail_after(10):
            while msgspec.json.decode(await ws.get_message())["event"] != "subscribed":
                pass
        now = datetime.now(UTC)
        events = [{"id": f"e{i}", "trackId": str(track), "platform": "spotify", "country": "SE",
                   "timestamp": (now - timedelta(seconds=3 - i)).isoformat()} for i in range(3)]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[0]}") as http:
            response = await http.post("/v1/streaming/events", json={"events": events},
                                       headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        assert response.json() == {"accepted": 3, "duplicates": 0}
        received = []
        with trio.fail_after(10):
            while len(received) < 3:
                message = msgspec.json.decode(await ws.get_message())
                if message["event"] == "stream":
                    received.append((message["seq"], message["data"]["country"]))
    assert received == [(1, "SE"), (2, "SE"), (3, "SE")]
