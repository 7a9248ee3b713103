"""The sandbox demo as a person meets it: ``songtrack run`` with no provider credentials and a webhook URL
for the demo label, nothing else. Within a minute of start the demo campaign's spend on the Meta simulator
crosses its thresholds and a signed ``budget.warning`` reaches the consumer; the printed demo login works,
simulated stream events arrive for the printed demo track, and a second start sets up a fresh campaign
that warns again.

Real clock and a real child process; the consumer on 127.0.0.1 verifies both signature styles with the
secret the demo printed. The simulator runs at its default speed (60).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import httpx
import trio

from engine.store import EmbeddedPostgres, open_database
from tests.helpers.process import SongtrackProcess, free_port
from tests.helpers.receiver import Receiver, seed_ok, serve_receiver, standard_ok


async def _warned_within(receiver: Receiver, seconds: float, already: int = 0) -> float:
    started = time.monotonic()
    with trio.fail_after(seconds):
        while True:
            if any(json.loads(r.body)["type"] == "budget.warning" for r in receiver.received[already:]):
                return time.monotonic() - started
            await trio.sleep(0.2)


async def _stream_events_of(data: Path, track: str) -> int:
    """How many stream events the running process has stored for ``track``: we attach to its embedded
    cluster as a second client (the owner lock is the process's, so ``stop`` leaves the server alone)."""
    embedded = EmbeddedPostgres(data)
    dsn = await trio.to_thread.run_sync(embedded.start)
    try:
        async with open_database(dsn, max_size=1) as db:
            count = await db.fetchval("SELECT count(*) FROM stream_events WHERE track_id = $1::uuid", track)
    finally:
        await trio.to_thread.run_sync(embedded.stop)
    assert isinstance(count, int)
    return count


async def test_make_run_in_sandbox_warns_a_webhook_consumer_within_a_minute(tmp_path: Path) -> None:
    await trio.Path(tmp_path).chmod(0o755)  # the embedded cluster runs unprivileged when we are root
    port, data = free_port(), tmp_path / "var"
    async with trio.open_nursery() as nursery:
        receiver = await serve_receiver(nursery)
        env = {**os.environ, "SONGTRACK_SIMULATORS_DEMO_WEBHOOK_URL": f"{receiver.url}/hook",
               "SONGTRACK_WEBHOOKS_ALLOW_SUBNETS": "127.0.0.0/8"}
        first = SongtrackProcess(["run", "--data-dir", str(data), "--port", str(port)], tmp_path / "1.log", env)
        try:
            await first.start()
            await first.wait_ready(f"http://127.0.0.1:{port}")
            # Deliveries may arrive before we read the printed secret: they are verified at the end.
            secret = re.search(r"secret (whsec_\S+)", first.output).group(1)  # type: ignore[union-attr]
            await _warned_within(receiver, 60)
            track = re.search(r"Demo track: (\S+) ", first.output)
            assert track is not None
            assert await _stream_events_of(data, track[1]) > 0  # 2 a second by default, for 10 s or more
            login = re.search(r"log in as (\S+) / (\S+);", first.output)
            assert login is not None
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                answer = await client.post("/v1/auth/login", json={"email": login[1], "password": login[2]})
                assert answer.status_code == 200, answer.text
                headers = {"Authorization": f"Bearer {answer.json()['tokens']['accessToken']}"}
                alerts = (await client.get("/v1/alerts?type=budget.warning", headers=headers)).json()["alerts"]
            assert alerts and alerts[0]["data"]["threshold"] in (0.5, 0.8, 1.0)
            assert await first.stop() == 0
            seen = len(receiver.received)
            second = SongtrackProcess(["run", "--data-dir", str(data), "--port", str(port)], tmp_path / "2.log",
                                      env)
            try:
                await second.start()
                await second.wait_ready(f"http://127.0.0.1:{port}")
                await _warned_within(receiver, 60, already=seen)  # a fresh campaign, so fresh thresholds
                assert await second.stop() == 0
            finally:
                await second.kill()
        finally:
            await first.kill()
            nursery.cancel_scope.cancel()
    # Both checks allow 5 minutes of clock skew, more than this test lasts.
    assert receiver.received and all(standard_ok(secret, r.headers, r.body) and seed_ok(secret, r.headers, r.body)
                                     for r in receiver.received)
