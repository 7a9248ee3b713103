"""Crash recovery of webhook deliveries, end to end: ``songtrack run`` (sandbox mode, a real child process,
the embedded PostgreSQL) is SIGKILLed while deliveries are pending, some of them in flight; a second
``songtrack run`` on the same data directory delivers every one.

The consumer is a real receiver on 127.0.0.1 that verifies both signature styles and answers by phase:

1. *refuse*: 500 (a plain failure, so the fast schedule retries within seconds) while test events and the
   campaign's ``budget.warning`` events pile up in the outbox;
2. *hang*: it reads and records the request (a consumer may act on it) but never answers, so these
   attempts are in flight when the engine is SIGKILLed (no drain, no recorded outcome);
3. *accept*: 200, for the restarted engine.

What must hold: every event of the endpoint (the test events we queued, one ``budget.warning`` per alert
in ``GET /v1/alerts``) reaches the consumer with a 200 exactly once, and the stats show nothing pending or
failed; an event reaches the consumer more than once only if its attempt was in flight at the kill; every
request verifies. The attempt timeout is 3 s, so the claims the killed process held expire 33 s after they
were taken (timeout + 30 s slack) and the in-flight deliveries go out again within the deadline.

Real clock (a child process cannot follow MockClock); every wait has a deadline. The PostgreSQL server
outlives the SIGKILLed engine; the second run adopts it and stops it at its clean stop (asserted), and
``finally`` stops it if a failure came first.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import trio

from tests.helpers.process import SongtrackProcess, free_port
from tests.helpers.receiver import Received, Receiver, serve_receiver
from tests.helpers.signup import connect, log_in, register

EMAIL, PASSWORD = "ana@label.example", "a long password"

TIMEOUT = 3  # SONGTRACK_WEBHOOKS_TIMEOUT: a claim lasts this + 30 s


@dataclass
class PhasedReceiver(Receiver):
    """``tests.helpers.receiver.Receiver`` answering by phase ("refuse": 500, "hang": no answer, "accept":
    200); ``log`` holds every request with the status it got (``None``: never answered)."""

    phase: str = "refuse"
    log: list[tuple[Received, int | None]] = field(default_factory=list)

    def statuses(self, event_id: str) -> list[int | None]:
        return [status for item, status in self.log if item.event_id == event_id]

    def ids(self, status: int | None) -> set[str]:
        return {item.event_id for item, got in self.log if got == status}

    async def answer(self, item: Received, receive, send) -> None:  # type: ignore[no-untyped-def]
        self.received.append(item)
        if self.phase == "hang":
            self.log.append((item, None))
            with trio.move_on_after(120):  # until the engine's connection goes away with the engine
                while (await receive())["type"] != "http.disconnect":
                    pass
            return
        status = 500 if self.phase == "refuse" else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok" if status == 200 else b"nope"})
        self.log.append((item, status))


async def _until(what: str, check: Callable[[], bool], within: float) -> None:
    with trio.move_on_after(within):
        while True:
            if check():
                return
            await trio.sleep(0.1)
    raise AssertionError(f"not within {within}s: {what}")


async def _ok(answer: httpx.Response) -> Any:
    assert answer.status_code in (200, 201, 202), (answer.request.url, answer.status_code, answer.text)
    return answer.json()


async def _set_up(client: httpx.AsyncClient, receiver: PhasedReceiver) -> tuple[dict[str, str], str, str]:
    """Ana's label, connected to the Meta simulator, with an endpoint for ``budget.warning`` and a
    campaign (budget 20 USD, 2000 USD a simulated day on Meta) launched; (headers, endpoint id, campaign id)."""
    headers = await register(client, email=EMAIL, password=PASSWORD, name="Ana", organization="Ana")
    await connect(client, headers, "meta")
    hook = await _ok(await client.post("/v1/webhooks", headers=headers, json={
        "url": f"{receiver.url}/hook", "events": ["budget.warning"], "maxInFlight": 8}))
    receiver.secrets["/hook"] = [hook["secret"]]
    accounts = (await _ok(await client.get("/v1/meta/accounts", headers=headers)))["accounts"]
    usd = next(account for account in accounts if account["currency"] == "USD")
    track = await _ok(await client.post("/v1/tracks", headers=headers, json={"title": "Summer Vibes", "artist": "Ana"}))
    now = datetime.now(UTC)
    campaign = await _ok(await client.post("/v1/campaigns", headers=headers, json={
        "name": "Summer release", "trackId": track["id"], "budget": 20, "currency": "USD", "objective": "streams",
        "startDate": (now - timedelta(hours=1)).isoformat(), "endDate": (now + timedelta(days=30)).isoformat()}))
    await _ok(await client.post("/v1/meta/campaigns", headers=headers, json={
        "campaignId": campaign["id"], "adAccountId": usd["id"], "objective": "OUTCOME_AWARENESS",
        "budget": "2000", "budgetType": "daily"}))
    await _ok(await client.post(f"/v1/campaigns/{campaign['id']}/launch", headers=headers, json={}))
    return headers, hook["id"], campaign["id"]


async def _test_event(client: httpx.AsyncClient, headers: dict[str, str], hook: str) -> str:
    return str((await _ok(await client.post(f"/v1/webhooks/{hook}/test", headers=headers)))["eventId"])


def _warning_ids(receiver: PhasedReceiver) -> dict[tuple[str, float], set[str]]:
    """Event ids of the ``budget.warning`` requests received, by (campaign, threshold)."""
    found: dict[tuple[str, float], set[str]] = {}
    for item, _ in receiver.log:
        event = json.loads(item.body)
        if event["type"] == "budget.warning":
            found.setdefault((event["data"]["campaignId"], event["data"]["threshold"]), set()).add(event["id"])
    return found


def _stop_leftover_postgres(data: Path) -> None:
    """The embedded server runs in its own session, so it outlives a SIGKILLed engine; the engine that
    attached to it does not stop it either. Fast shutdown by its pid, then wait for it to go."""
    pid_file = data / "postgres" / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


async def test_sigkill_with_deliveries_pending_then_a_restart_delivers_every_one(tmp_path: Path) -> None:
    await trio.Path(tmp_path).chmod(0o755)  # the embedded cluster runs as an unprivileged account when we are root
    port, data = free_port(), tmp_path / "var"
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SONGTRACK_SIMULATORS_SPEED": "600", "SONGTRACK_WEBHOOKS_SCHEDULE": "fast",
           "SONGTRACK_SIMULATORS_STREAM_RATE": "0.05",  # the sandbox backfills today's listens: keep them few
           "SONGTRACK_WEBHOOKS_ALLOW_SUBNETS": "127.0.0.0/8", "SONGTRACK_WEBHOOKS_TIMEOUT": str(TIMEOUT)}
    args = ["run", "--data-dir", str(data), "--port", str(port)]
    first = SongtrackProcess(args, tmp_path / "first.log", env)
    second = SongtrackProcess(args, tmp_path / "second.log", env)
    started = time.monotonic()
    async with trio.open_nursery() as nursery:
        receiver = await serve_receiver(nursery, PhasedReceiver)
        try:
            with trio.fail_after(170):
                # --- the first engine: events pile up, refused, then some in flight; SIGKILL -------------
                await first.start()
                await first.wait_ready(base)
                async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                    headers, hook, campaign_id = await _set_up(client, receiver)
                    test_ids = [await _test_event(client, headers, hook) for _ in range(3)]
                    # Well before the fast schedule gives up on a delivery (8 attempts, about 27 s).
                    await _until("each test event and a budget.warning refused once",
                                 lambda: set(test_ids) <= receiver.ids(500) and bool(_warning_ids(receiver)), 20)
                    receiver.phase = "hang"
                    test_ids += [await _test_event(client, headers, hook) for _ in range(3)]  # just committed
                    await _until("an attempt in flight", lambda: bool(receiver.ids(None)), TIMEOUT - 0.5)
                    await trio.sleep(0.3)
                    before = await _ok(await client.get(f"/v1/webhooks/{hook}/stats", headers=headers))
                await first.kill()  # SIGKILL: no drain, the in-flight attempts are never recorded
                killed_at = time.monotonic()
                in_flight = receiver.ids(None)
                receiver.phase = "accept"
                assert before["pending"] >= len(test_ids) and before["succeeded"] == 0, before
                assert not receiver.ids(200)

                # --- the second engine on the same data directory delivers everything -----------------
                await second.start()
                await second.wait_ready(base)
                async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                    headers = await log_in(client, EMAIL, PASSWORD)

                    async def settled() -> dict[str, Any]:
                        """Once every event seen (and every test event) has had its 200, until the stats
                        show nothing pending; the API is rate limited (100 requests an hour), so we mostly
                        watch the receiver."""
                        stats: dict[str, Any] = {}
                        with trio.move_on_after(TIMEOUT + 30 + 25):
                            while True:
                                seen = {item.event_id for item, _ in receiver.log} | set(test_ids)
                                if seen <= receiver.ids(200):
                                    stats = await _ok(await client.get(f"/v1/webhooks/{hook}/stats",
                                                                       headers=headers))
                                    if stats["pending"] == 0:
                                        return stats
                                    await trio.sleep(1)
                                await trio.sleep(0.1)
                        raise AssertionError(f"deliveries still pending or missing: {stats}; no 200 for"
                                             f" {sorted(seen - receiver.ids(200))}")

                    stats = await settled()
                    recovered_in = time.monotonic() - killed_at
                    alerts = (await _ok(await client.get("/v1/alerts?type=budget.warning&limit=100",
                                                         headers=headers)))["alerts"]
                    attempts = {event_id: (await _ok(await client.get(
                        f"/v1/webhooks/{hook}/events/{event_id}/attempts", headers=headers)))["attempts"]
                        for event_id in sorted(in_flight)}
                assert await second.stop() == 0
                # The second run adopted the server the killed one left behind, and stopped it.
                assert not await trio.Path(data / "postgres" / "postmaster.pid").exists()
        finally:
            await first.kill()
            await second.kill()
            await trio.to_thread.run_sync(_stop_leftover_postgres, data)
            nursery.cancel_scope.cancel()

    delivered = receiver.ids(200)
    warnings = _warning_ids(receiver)
    # None lost: each test event and one budget.warning per alert, delivered; nothing pending or failed.
    assert set(test_ids) <= delivered
    assert {(a["data"]["campaignId"], a["data"]["threshold"]) for a in alerts} == set(warnings)
    assert all(len(ids) == 1 for ids in warnings.values()), warnings  # one event per alert, not re-fired
    assert all(a["campaignId"] == campaign_id for a in alerts)
    assert stats["failed"] == 0 and stats["pending"] == 0
    assert stats["succeeded"] == len(delivered) == len(test_ids) + len(alerts), (stats, len(test_ids), alerts)
    # At least once, and more than once only for what was in flight at the kill.
    assert in_flight, "no attempt was in flight at the kill"
    for event_id in delivered:
        statuses = Counter(receiver.statuses(event_id))
        assert statuses[200] == 1, (event_id, statuses)
        assert statuses[None] == (1 if event_id in in_flight else 0), (event_id, statuses)
    # The killed attempt left no trace in the attempt log; the restart's 200 is its last entry.
    for event_id, log in attempts.items():
        assert log and log[-1]["statusCode"] == 200 and all(a["statusCode"] in (500, 200) for a in log), (
            event_id, log)
        assert sum(a["statusCode"] == 200 for a in log) == 1, (event_id, log)
    assert receiver.log and all(item.verified_standard and item.verified_seed for item, _ in receiver.log)
    assert time.monotonic() - started < 170 and recovered_in < TIMEOUT + 30 + 40
