"""The engine without the API: ``songtrack engine`` (``serve_engine``), and the engine's supervision tree
(``run_engine``), which ``songtrack run`` runs the same way beside its API. Part of the composition root.

An engine process registers itself (``engine_nodes``), holds its fair share of the account leases
(docs/scaling.md) and serves its own small port: the API's health routes and ``/metrics``
(``http_api.ops.probes``), nothing else.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

import trio

from actors import Housekeeper
from actors.accounts import AccountsSupervisor
from actors.aggregator import Aggregator
from actors.daily_reporter import DailyReporter
from actors.http import lend, shared_client, user_agent
from actors.lease_keeper import LeaseKeeper, release_dead_neighbours
from actors.meta_signals import MetaWriteSignals
from actors.rule_evaluator import RuleEvaluator
from actors.sandbox_streams import SandboxStreams
from actors.singletons import Singletons
from actors.stream_counter import StreamCounter
from actors.webhook_dispatcher import DispatcherConfig, WebhookDispatcher
from config import Keys, Settings, data_path, load_or_create_keys
from engine.analytics.campaign import AnalyticsRules
from engine.clock import WallClock
from engine.heap import settle_heap
from engine.lease_plan import LeaseTimings
from engine.messages import MetricSample
from engine.publisher import StatusPublisher
from engine.registry import Registry
from engine.report_links import link_key
from engine.store.database import Database
from engine.store.migrate import apply_migrations, discover
from engine.store.nodes import register_node
from engine.supervisor import ChildSpec, Supervisor
from http_api.context import ApiContext
from http_api.ops.probes import create_probe_app
from http_api.server import serve_http
from songtrack.accounts import account_kinds
from songtrack.keys_check import check_keys
from songtrack.ports import naming_port
from songtrack.sandbox_demo import DemoLabel
from songtrack.shutdown import Shutdown, until_stopped
from songtrack.startup import DatabaseSlot, connect

__all__ = ["prepare_database", "run_engine", "serve_engine"]

log = logging.getLogger(__name__)


async def serve_engine(settings: Settings, host: str, port: int) -> int:
    """``songtrack engine``: migrations, then the engine against ``[database] url`` until SIGINT/SIGTERM, with
    its probes on ``host:port`` from the start (``/health/ready`` says 503 until the database is reached).

    ``songtrack.cli`` refuses to call it without ``[database] url`` or with a simulated provider. Returns 0
    after a graceful stop, 1 when the engine escalated.
    Error handling: raises ``KeysDiffer`` when our keys are not the database's.
    """
    keys = load_or_create_keys(data_path(settings))
    dsn = settings.database.url
    assert dsn is not None  # songtrack.cli refuses to start without it

    async def body(shutdown: Shutdown, nursery: trio.Nursery) -> None:
        slot = DatabaseSlot()
        probes = create_probe_app(ApiContext(slot.get, discover(), settings, keys))
        with naming_port("the engine's probes", host, port, "--port"):
            urls = await nursery.start(partial(serve_http, probes, f"{host}:{port}", shutdown.wait,
                                               graceful_timeout=settings.engine.shutdown_grace))
        log.info("engine probes on %s", ", ".join(urls))
        print(f"SongTrackPro engine; health on {urls[0]}/health/ready, metrics on {urls[0]}/metrics", flush=True)
        with trio.CancelScope() as waiting:  # a signal while the database is down stops us at once
            nursery.start_soon(slot.give_up_on, shutdown, waiting)
            async with connect(settings, dsn, wait=True, engine=True) as db:
                await prepare_database(db, settings, keys)
                slot.db = db
                settle_heap()  # the probes' app and the pool live as long as we do
                await run_engine(db, settings, keys, shutdown, WallClock())

    escalated = await until_stopped(settings.engine.shutdown_grace, body)
    if escalated is not None:
        log.critical("the engine's supervision tree gave up: %s", escalated, exc_info=escalated)
    return 0 if escalated is None else 1


async def prepare_database(db: Database, settings: Settings, keys: Keys) -> None:
    """What an engine process does first with its database: apply the pending migrations (several processes
    starting at once take turns: ``apply_migrations`` holds an advisory lock) and check that our keys are
    the database's (``check_keys``: raises ``KeysDiffer``)."""
    applied = await apply_migrations(db)
    log.info("migrations: %s", f"applied {applied}" if applied else "up to date")
    await check_keys(db, keys, data_path(settings))


async def run_engine(db: Database, settings: Settings, keys: Keys, shutdown: Shutdown,
                     clock: WallClock, demo: DemoLabel | None = None) -> None:
    """The root supervisor until shutdown; it drains children in reverse start order: the singletons this
    process holds (``actors/singletons.py``) and the account actors stop first, then the aggregator writes
    what they sent, then the dispatcher stops sending.

    Every actor reads domain time from ``clock``; its ``speed`` (the sandbox's simulated clock) also scales
    the account pollers' intervals (``account_kinds``), and a Meta poll spans every day since the previous
    one, so no simulated day is skipped at any speed. With ``demo`` (sandbox mode) a singleton makes up
    listens of the demo label's tracks in simulated time, unless ``simulators.stream_rate`` is 0."""
    registry = Registry()
    node_id = await register_node(db)  # before anything claims a lease in its name
    await release_dead_neighbours(db, node_id)
    publisher = StatusPublisher(db, registry, node_id)
    # Claims marked with our node id: once our heartbeat stops, the other processes take them back.
    dispatcher = WebhookDispatcher(db, DispatcherConfig.from_settings(settings.webhooks),
                                   secret_key=keys.token_encryption_key, worker_id=str(node_id),
                                   take_back_after=settings.engine.lease_ttl)
    signals = MetaWriteSignals()  # writes to Meta queued by the aggregator and the evaluator wake the Meta actors
    evaluator = RuleEvaluator(db, settings.rules, settings.analytics, wall=clock, speed=clock.speed, signals=signals)
    aggregator = Aggregator(db, settings.alerts, wall=clock, rules=settings.rules, on_changed=evaluator.changed,
                            signals=signals)
    # The account actors and the stream counter send on clones of this; the counter (a singleton, stopped
    # first) closing its own, then closing this once the accounts have stopped, lets the aggregator drain.
    samples = aggregator.sender()
    # One connection pool for every account actor, closed after they stop.
    http = shared_client(user_agent=user_agent(node_id))
    timings = LeaseTimings(ttl=settings.engine.lease_ttl, renew_every=settings.engine.lease_renew_every)
    accounts = AccountsSupervisor(db, registry=registry,
                                  kinds=account_kinds(db, settings, keys, registry, samples, lend(http), clock,
                                                      signals),
                                  keeper=LeaseKeeper(db, node_id, timings))
    singletons = Singletons(db, registry=registry, keeper=LeaseKeeper(db, node_id, timings), specs=[
        aggregator.sweeper(), evaluator.schedule_spec(), *_singleton_specs(db, settings, keys, clock, samples, demo)])

    def stop_accounts() -> None:
        accounts.stop()
        samples.close()  # no new actor will clone it; theirs close as they stop

    children = [
        ChildSpec("status-publisher", publisher.run, stop=publisher.stop),
        ChildSpec("webhook-dispatcher", dispatcher.run),
        evaluator.child_spec(),
        aggregator.child_spec(),
        ChildSpec("accounts", accounts.run, stop=stop_accounts),
        # Last: its singletons stop first, and release only their own leases; the accounts' release then
        # gives back whatever else our process still held.
        singletons.child_spec(),
    ]
    root = Supervisor("root", registry, children=children)
    async with http, trio.open_nursery() as nursery:
        await nursery.start(root.run)
        log.info("engine started")
        await shutdown.wait()
        root.stop()


def _singleton_specs(db: Database, settings: Settings, keys: Keys, clock: WallClock,
                     samples: trio.MemorySendChannel[MetricSample], demo: DemoLabel | None) -> list[ChildSpec]:
    """The children that run in one engine process at a time, besides the aggregator's sweep and the rules'
    schedule: the housekeeper, the stream counter, the daily reporter and, in sandbox mode, the demo label's
    listens (two processes would store them twice over)."""
    reporter = DailyReporter(db, link_key=link_key(keys.jwt_signing_key), public_url=ApiContext.public_url_of(settings),
                             rules=AnalyticsRules.from_settings(settings.analytics),
                             ttl=timedelta(seconds=settings.analytics.export_ttl), wall=clock)
    specs = [
        ChildSpec("housekeeper", Housekeeper(db, wall=clock,
                                            audit_retention=timedelta(days=settings.audit.retention_days)).run),
        StreamCounter(db, samples, wall=clock).child_spec(),
        reporter.child_spec(),
    ]
    if demo is not None and demo.listen_rate > 0:
        # Stamped on ``clock`` at ``listen_rate`` a simulated second: ``stream_rate`` a real second.
        streams = SandboxStreams(db, demo.organization_id, rate=demo.listen_rate, seed=settings.simulators.seed,
                                 wall=clock)
        specs.append(ChildSpec("sandbox-streams", streams.run))
    return specs
