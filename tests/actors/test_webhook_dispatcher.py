"""The webhook dispatcher end to end: a real PostgreSQL outbox, a real HTTP receiver served by hypercorn
on 127.0.0.1, and the dispatcher between them.

Rules of this file: the receiver verifies every request the way consumers do, with the
``standardwebhooks`` package and with a hand-written check of the seed's ``X-Webhook-*`` headers, and
the tests assert that every request verified. The receiver is on 127.0.0.1, so the dispatchers here
allow-list 127.0.0.0/8 unless a test is about the SSRF guard. Retries use short schedules on trio's real
clock (the database must not meet the autojump clock); time-dependent store logic gets explicit ``now``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import standardwebhooks
import trio
from prometheus_client import REGISTRY

from actors.lease_keeper import release_dead_neighbours
from actors.webhook_dispatcher import DispatcherConfig, GuardedTransport, WebhookDispatcher
from engine.store import webhook_deliveries as deliveries
from engine.store import webhooks as store
from engine.store.database import Database
from engine.store.nodes import register_node
from engine.store.outbox import enqueue_event
from engine.webhooks.schedule import Decision, Schedule
from engine.webhooks.ssrf import UnsafeTarget, parse_subnets
from tests.helpers.factories import create_owner
from tests.helpers.receiver import Receiver, serve_receiver

KEY = os.urandom(32)
QUICK = Schedule(delays=(0.2, 0.2, 0.2), jitter=0.0, throttle_floor=0.2)
LOCAL = ("127.0.0.0/8", "::1/128")


@pytest.fixture
async def receiver(nursery: trio.Nursery) -> AsyncIterator[Receiver]:
    yield await serve_receiver(nursery)


@pytest.fixture
async def org(db: Database) -> uuid.UUID:
    organization, _ = await create_owner(db)
    return organization.id


async def add_endpoint(db: Database, org: uuid.UUID, receiver: Receiver, path: str = "/hook",
                       **fields: object) -> store.Endpoint:
    endpoint, secret = await store.create_endpoint(db, KEY, org, store.NewEndpoint(url=receiver.url + path,
                                                                                   **fields))  # type: ignore[arg-type]
    receiver.secrets.setdefault(path, []).append(secret)
    return endpoint


def dispatcher(db: Database, *, allow: Sequence[str] = LOCAL, schedule: Schedule = QUICK,
               **kw: object) -> WebhookDispatcher:
    config = DispatcherConfig(timeout=2.0, schedule=schedule, poll_interval=0.2, allow_subnets=tuple(allow),
                              claim_slack=1.0)
    return WebhookDispatcher(db, config, secret_key=KEY, **kw)  # type: ignore[arg-type]


async def statuses(db: Database, endpoint: store.Endpoint) -> list[tuple[str, str, int]]:
    return list(await deliveries.delivery_statuses(db, endpoint.id))


async def settle(db: Database, endpoint: store.Endpoint, count: int, within: float = 10) -> None:
    """Wait until ``count`` deliveries to ``endpoint`` are no longer pending (polling the database)."""
    with trio.fail_after(within):
        # The state is in PostgreSQL, so there is no event to wait on: we poll it.
        while sum(status != "pending" for _, status, _ in await statuses(db, endpoint)) < count:  # noqa: ASYNC110
            await trio.sleep(0.05)


def _delays() -> tuple[float, float]:
    """How many end-to-end delivery delays were observed, and their sum in seconds."""
    return tuple(REGISTRY.get_sample_value(f"songtrack_webhook_delivery_delay_seconds_{part}") or 0.0
                 for part in ("count", "sum"))  # type: ignore[return-value]


def counted(name: str, outcome: str) -> float:
    """The dispatcher's count of ``outcome`` (``engine.metrics``): shared by the process's tests, so compared."""
    return REGISTRY.get_sample_value(f"songtrack_webhook_{name}_total", {"outcome": outcome}) or 0.0


async def test_an_event_reaches_the_receiver_once_with_both_signatures(
        db: Database, org: uuid.UUID, receiver: Receiver, nursery: trio.Nursery) -> None:
    endpoint = await add_endpoint(db, org, receiver)
    await nursery.start(dispatcher(db).run)
    event_id = await enqueue_event(db, org, "budget.warning", {"campaignId": "c1", "threshold": 0.8})
    got = await receiver.next()
    assert (got.event_id, got.verified_standard, got.verified_seed) == (event_id, True, True)
    assert got.headers["x-webhook-id"] == event_id
    assert got.headers["user-agent"].startswith("SongTrackPro-Webhooks/")
    assert list(standardwebhooks.Webhook(receiver.secrets["/hook"][0]).verify(got.body, got.headers)) == [
        "id", "type", "timestamp", "data"]
    await settle(db, endpoint, 1)
    await trio.sleep(0.5)
    assert len(receiver.received) == 1
    assert await statuses(db, endpoint) == [(event_id, "succeeded", 1)]


async def test_500_then_200_sends_the_same_id_twice_and_nothing_more(
        db: Database, org: uuid.UUID, receiver: Receiver, nursery: trio.Nursery) -> None:
    endpoint = await add_endpoint(db, org, receiver)
    receiver.answers = [(500, {})]
    before = [counted("attempts", "failed"), counted("attempts", "succeeded"), counted("deliveries", "succeeded")]
    delays_before = _delays()
    await nursery.start(dispatcher(db).run)
    event_id = await enqueue_event(db, org, "goal.reached", {"n": 1})
    await settle(db, endpoint, 1)
    await trio.sleep(0.6)
    after = [counted("attempts", "failed"), counted("attempts", "succeeded"), counted("deliveries", "succeeded")]
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1]
    # One end-to-end delay, from the event's creation through the failed attempt and its retry.
    count, total = _delays()
    assert count - delays_before[0] == 1 and 0 < total - delays_before[1] < 30
    assert [r.event_id for r in receiver.received] == [event_id, event_id]
    assert all(r.verified_standard and r.verified_seed for r in receiver.received)
    attempts = await store.attempts_for_event(db, org, endpoint.id, event_id)
    assert [a.status_code for a in attempts or []] == [500, 200]
    assert attempts is not None and attempts[0].response_body == "nope"


async def test_a_redirect_is_a_failure_and_is_not_followed(
        db: Database, org: uuid.UUID, receiver: Receiver, nursery: trio.Nursery) -> None:
    endpoint = await add_endpoint(db, org, receiver)
    receiver.answers = [(302, {"location": receiver.url + "/elsewhere"})] * 4
    before = counted("deliveries", "failed")
    await nursery.start(dispatcher(db).run)
    event_id = await enqueue_event(db, org, "goal.reached", {})
    await settle(db, endpoint, 1)
    with trio.fail_after(5):  # counted by the dispatcher's task just after the row settles; nothing to wait on
        while counted("deliveries", "failed") == before:  # noqa: ASYNC110
            await trio.sleep(0.01)
    assert counted("deliveries", "failed") - before == 1  # settled once, after its 4 attempts
    assert [r.path for r in receiver.received] == ["/hook"] * 4  # 1 + the 3 retries of QUICK, never /elsewhere
    assert await statuses(db, endpoint) == [(event_id, "failed", 4)]


async def test_410_disables_the_endpoint_and_tells_the_others(
        db: Database, org: uuid.UUID, receiver: Receiver, nursery: trio.Nursery) -> None:
    gone = await add_endpoint(db, org, receiver, "/gone", event_types=["goal.reached"])
    other = await add_endpoint(db, org, receiver, "/other", event_types=["endpoint.disabled"])
    receiver.answers = [(410, {})]
    await nursery.start(dispatcher(db).run)
    await enqueue_event(db, org, "goal.reached", {})
    notice = await receiver.next()
    notice = await receiver.next()
    assert notice.path == "/other" and b'"endpoint.disabled"' in notice.body
    assert notice.verified_standard and notice.verified_seed
    endpoint = await store.get_endpoint(db, org, gone.id)
    assert endpoint is not None and not endpoint.enabled and "410" in (endpoint.disabled_reason or "")
    assert await db.fetchval("SELECT count(*) FROM notifications WHERE organization_id = $1"
                             " AND type = 'endpoint.disabled'", org) == 1
    assert [s for _, s, _ in await statuses(db, gone)] == ["failed"]
    assert other.enabled
    # The notice's delivery is recorded after the answer we read: let it finish before the teardown
    # cancels the dispatcher mid-statement (its connection would outlive the pool's close).
    await settle(db, other, 1)


async def test_retry_after_is_clamped_between_the_delay_and_twice_it(
        db: Database, org: uuid.UUID, receiver: Receiver, nursery: trio.Nursery) -> None:
    endpoint = await add_endpoint(db, org, receiver)
    slow = Schedule(delays=(100, 100), jitter=0.0, throttle_floor=60)
    receiver.answers = [(429, {"retry-after": "3600"})]
    now = datetime.now(UTC) + timedelta(seconds=5)  # after the delivery's creation (the database's clock)
    await nursery.start(dispatcher(db, schedule=slow, now=lambda: now).run)
    await enqueue_event(db, org, "goal.reached", {})
    await receiver.next()
    with trio.fail_after(5):
        sql = "SELECT next_attempt_at FROM webhook_deliveries WHERE endpoint_id = $1 AND attempts = 1"
        while (due := await db.fetchval(sql, endpoint.id)) is None:  # noqa: ASYNC110
            await trio.sleep(0.05)
    assert due == now + timedelta(seconds=200)  # 3600 asked; twice the scheduled 100 s at most


async def test_two_dispatchers_never_send_the_same_attempt(
        db: Database, org: uuid.UUID, receiver: Receiver, nursery: trio.Nursery) -> None:
    endpoint = await add_endpoint(db, org, receiver, max_in_flight=8)
    ids = [await enqueue_event(db, org, "metrics.updated", {"i": i}) for i in range(40)]
    first, second = dispatcher(db, worker_id="a"), dispatcher(db, worker_id="b")
    await nursery.start(first.run)
    await nursery.start(second.run)
    await settle(db, endpoint, 40, within=30)
    await trio.sleep(0.5)
    assert sorted(r.event_id for r in receiver.received) == sorted(ids)
    assert all(r.verified_standard and r.verified_seed for r in receiver.received)
    assert await db.fetchval("SELECT count(*) FROM webhook_attempts") == 40
    assert first.sent + second.sent == 40


async def test_a_restarted_dispatcher_delivers_pending_and_expired_claims(
        db: Database, org: uuid.UUID, receiver: Receiver, nursery: trio.Nursery) -> None:
    endpoint = await add_endpoint(db, org, receiver)
    pending = await enqueue_event(db, org, "goal.reached", {"n": 1})
    abandoned = await enqueue_event(db, org, "goal.reached", {"n": 2})
    # A worker claimed this one and died: its claim ran out a second ago.
    await db.execute("UPDATE webhook_deliveries SET claimed_by = 'dead', claimed_until = $2 WHERE event_id = $1",
                     abandoned, datetime.now(UTC) - timedelta(seconds=1))
    await nursery.start(dispatcher(db).run)
    await settle(db, endpoint, 2)
    assert sorted(r.event_id for r in receiver.received) == sorted([pending, abandoned])


async def test_a_live_claim_of_another_worker_is_left_alone(
        db: Database, org: uuid.UUID, receiver: Receiver, nursery: trio.Nursery) -> None:
    endpoint = await add_endpoint(db, org, receiver)
    held = await enqueue_event(db, org, "goal.reached", {})
    await db.execute("UPDATE webhook_deliveries SET claimed_by = 'alive', claimed_until = $2 WHERE event_id = $1",
                     held, datetime.now(UTC) + timedelta(minutes=1))
    await nursery.start(dispatcher(db).run)
    await trio.sleep(1)
    assert receiver.received == [] and await statuses(db, endpoint) == [(held, "pending", 0)]


async def test_the_claims_of_a_silent_engine_process_are_taken_back_long_before_they_expire(
        db: Database, org: uuid.UUID, receiver: Receiver, nursery: trio.Nursery) -> None:
    endpoint = await add_endpoint(db, org, receiver)
    dead, alive, ours = [await register_node(db) for _ in range(3)]
    # Killed while sending: its heartbeat stopped a minute ago; the other process heartbeats.
    await db.execute("UPDATE engine_nodes SET heartbeat_at = now() - interval '1 minute' WHERE id = $1", dead)
    orphan, held = [await enqueue_event(db, org, "goal.reached", {"n": n}) for n in (1, 2)]
    for event_id, node in ((orphan, dead), (held, alive)):
        await db.execute("UPDATE webhook_deliveries SET claimed_by = $2, claimed_until = $3 WHERE event_id = $1",
                         event_id, str(node), datetime.now(UTC) + timedelta(minutes=10))
    began = trio.current_time()
    await nursery.start(dispatcher(db, worker_id=str(ours), take_back_after=30).run)
    await settle(db, endpoint, 1)
    assert trio.current_time() - began < 5  # its claim had ten minutes to run
    assert [r.event_id for r in receiver.received] == [orphan]
    assert await db.fetchval("SELECT claimed_by FROM webhook_deliveries WHERE event_id = $1", held) == str(alive)


async def test_a_restart_on_the_same_host_takes_back_its_dead_predecessors_claims(
        db: Database, org: uuid.UUID, receiver: Receiver) -> None:
    await add_endpoint(db, org, receiver)
    crashed = await trio.lowlevel.open_process(["true"])
    await crashed.wait()
    predecessor = await register_node(db)
    await db.execute("UPDATE engine_nodes SET pid = $2 WHERE id = $1", predecessor, crashed.pid)
    event_id = await enqueue_event(db, org, "goal.reached", {})
    await db.execute("UPDATE webhook_deliveries SET claimed_by = $2, claimed_until = $3 WHERE event_id = $1",
                     event_id, str(predecessor), datetime.now(UTC) + timedelta(minutes=10))
    await release_dead_neighbours(db, await register_node(db))
    assert await db.fetchval("SELECT claimed_by FROM webhook_deliveries WHERE event_id = $1", event_id) is None


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_the_ssrf_guard_refuses_loopback_unless_allow_listed(
        db: Database, org: uuid.UUID, receiver: Receiver, nursery: trio.Nursery, host: str) -> None:
    receiver.url = receiver.url.replace("127.0.0.1", host)
    endpoint = await add_endpoint(db, org, receiver)
    await nursery.start(dispatcher(db, allow=(), schedule=Schedule(delays=())).run)
    event_id = await enqueue_event(db, org, "goal.reached", {})
    await settle(db, endpoint, 1)
    attempts = await store.attempts_for_event(db, org, endpoint.id, event_id)
    assert attempts is not None and "SSRF" in (attempts[0].error or "")
    assert receiver.received == []


async def test_during_a_rotation_both_secrets_sign(
        db: Database, org: uuid.UUID, receiver: Receiver, nursery: trio.Nursery) -> None:
    endpoint = await add_endpoint(db, org, receiver)
    rotated = await store.rotate_secret(db, KEY, org, endpoint.id, now=datetime.now(UTC))
    assert rotated is not None
    receiver.secrets["/hook"].append(rotated[0])  # the receiver now checks with the old secret AND the new one
    await nursery.start(dispatcher(db).run)
    await enqueue_event(db, org, "goal.reached", {})
    got = await receiver.next()
    assert got.verified_standard and got.verified_seed
    assert len(got.headers["webhook-signature"].split(" ")) == 2


async def test_a_rotation_while_it_runs_signs_the_next_attempt_with_the_new_secret(
        db: Database, org: uuid.UUID, receiver: Receiver, nursery: trio.Nursery) -> None:
    endpoint = await add_endpoint(db, org, receiver)
    await nursery.start(dispatcher(db).run)
    await enqueue_event(db, org, "goal.reached", {"n": 1})
    first = await receiver.next()  # the dispatcher opened the secret and keeps it
    assert first.verified_standard and len(first.headers["webhook-signature"].split(" ")) == 1
    rotated = await store.rotate_secret(db, KEY, org, endpoint.id, now=datetime.now(UTC))
    assert rotated is not None
    receiver.secrets["/hook"].append(rotated[0])
    await enqueue_event(db, org, "goal.reached", {"n": 2})
    second = await receiver.next()
    assert second.verified_standard and second.verified_seed  # with the old secret and with the new one
    assert len(second.headers["webhook-signature"].split(" ")) == 2


async def test_five_days_of_failure_disable_the_endpoint(db: Database, org: uuid.UUID, receiver: Receiver) -> None:
    endpoint = await add_endpoint(db, org, receiver)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for day in (0, 2, 5):
        now = start + timedelta(days=day)
        await enqueue_event(db, org, "goal.reached", {"day": day})
        [claim] = await deliveries.claim_due(db, "w", now=now + timedelta(days=400), lease=timedelta(minutes=1),
                                             limit=1)
        result = deliveries.AttemptResult(attempted_at=now, duration_ms=5, status_code=500)
        await deliveries.record_attempts(db, "w", [deliveries.Attempted(claim, result, Decision("retry", 60))], now=now)
        current = await store.get_endpoint(db, org, endpoint.id)
        assert current is not None and current.enabled is (day < 5)
    assert current is not None and current.failing_since == start


# --- the transport alone --------------------------------------------------------------------------------


def _echo(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"url": str(request.url), "host": request.headers["host"],
                                     "sni": request.extensions.get("sni_hostname")})


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://10.1.2.3/", "http://169.254.169.254/latest",
                                 "http://[::1]:8080/", "http://100.64.0.1/", "http://internal.example/",
                                 "ftp://example.com/"])
async def test_the_transport_refuses_non_public_targets(url: str) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "192.168.1.10"]  # one private answer is enough to refuse

    transport = GuardedTransport(resolve=resolve, inner=lambda: httpx.MockTransport(_echo))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises((UnsafeTarget, httpx.UnsupportedProtocol)):
            await client.post(url)


async def test_the_transport_connects_to_the_checked_address_with_the_name_in_host_and_sni() -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["10.0.0.7"]

    transport = GuardedTransport(parse_subnets(["10.0.0.0/24"]), resolve=resolve,
                                 inner=lambda: httpx.MockTransport(_echo))
    async with httpx.AsyncClient(transport=transport) as client:
        answer = (await client.post("https://hooks.example:8443/x")).json()
    assert answer == {"url": "https://10.0.0.7:8443/x", "host": "hooks.example:8443", "sni": "hooks.example"}


class _Hanging(Receiver):
    """A consumer that takes every request and never answers, so each send is in flight until cut off."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.seen = trio.Event()

    async def answer(self, item, receive, send) -> None:  # type: ignore[no-untyped-def]
        self.seen.set()
        await trio.sleep_forever()


async def test_a_stopped_dispatcher_gives_back_the_deliveries_it_was_sending(
        db: Database, org: uuid.UUID, nursery: trio.Nursery) -> None:
    hanging = await serve_receiver(nursery, _Hanging)
    await add_endpoint(db, org, hanging)
    event_id = await enqueue_event(db, org, "goal.reached", {})
    with trio.fail_after(10):
        async with trio.open_nursery() as running:
            await running.start(dispatcher(db, worker_id="leaving").run)
            await hanging.seen.wait()
            assert await db.fetchval("SELECT claimed_by FROM webhook_deliveries WHERE event_id = $1",
                                     event_id) == "leaving"
            running.cancel_scope.cancel()  # how the supervisor stops it
    # Due at once for any other process, instead of after the claim's timeout and slack.
    row = await db.fetchrow("SELECT claimed_by, claimed_until, status FROM webhook_deliveries WHERE event_id = $1",
                            event_id)
    assert row is not None and (row["claimed_by"], row["claimed_until"], row["status"]) == (None, None, "pending")
