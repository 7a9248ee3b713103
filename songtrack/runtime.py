"""The composition root: builds the store, the supervision tree and the API
from Settings and runs them until a signal says stop.

``serve`` is ``songtrack run``; ``serve_api`` is ``songtrack api`` (one API process, or its workers);
``migrate`` is ``songtrack migrate``; the engine's own tree and ``songtrack engine`` are
``engine_process``'s. Nothing else wires components together.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import msgspec
import trio

from adapters.meta import simulator as meta_simulator
from adapters.spotify import simulator as spotify_simulator
from config import Keys, Settings, data_path, load_or_create_keys, simulated_providers
from engine.clock import WallClock
from engine.heap import settle_heap
from engine.store.database import Database
from engine.store.migrate import apply_migrations, discover
from http_api.context import ApiContext
from http_api.providers.integrations import spotify_redirect_uris
from http_api.providers.listeners import listener_callback_url
from songtrack.api import Api, build_api
from songtrack.engine_process import prepare_database, run_engine
from songtrack.keys_check import check_keys
from songtrack.ports import naming_port
from songtrack.sandbox import meta_with_faults, sandbox_lines, spotify_with_faults
from songtrack.sandbox_demo import set_up_demo
from songtrack.shutdown import Shutdown, until_stopped
from songtrack.startup import DatabaseSlot, connect, database_server, open_store
from songtrack.workers import bind_socket, run_workers, worker_command, worker_env

__all__ = ["migrate", "serve", "serve_api", "start_simulators", "wall_clock"]

log = logging.getLogger(__name__)


async def migrate(settings: Settings) -> list[int]:
    """Apply pending migrations and return their versions (``songtrack migrate``)."""
    async with open_store(settings) as db:
        return await apply_migrations(db)


async def serve(settings: Settings, environ: dict[str, str], worker_argv: list[str],
                metrics_dir: Path | None = None) -> int:
    """``songtrack run``: the database, the engine and the API until SIGINT/SIGTERM.

    ``worker_argv`` is how API worker processes (``--workers N``) are told the
    same configuration (``--config``, ``--data-dir``) as ours. ``metrics_dir``: where every process of ours
    keeps its Prometheus figures (``songtrack/metrics_dir.py``).
    Returns the process exit code: 0 after a graceful stop (in-flight work
    finished or abandoned at the deadline), 1 when the engine escalated.
    """
    keys = load_or_create_keys(data_path(settings))
    escalated = await until_stopped(settings.engine.shutdown_grace, lambda shutdown, _: _serve_all(
        settings, keys, environ, worker_argv, shutdown, metrics_dir))
    if escalated is not None:
        log.critical("the engine's supervision tree gave up: %s", escalated, exc_info=escalated)
    return 0 if escalated is None else 1


async def _serve_all(
    settings: Settings, keys: Keys, environ: dict[str, str], worker_argv: list[str], shutdown: Shutdown,
    metrics_dir: Path | None,
) -> None:
    slot = DatabaseSlot()
    migrations = discover()
    server = settings.server
    async with trio.open_nursery() as nursery:
        meta_simulated = "meta" in simulated_providers(settings)
        clock = wall_clock(settings)
        settings = msgspec.structs.replace(settings, simulators=msgspec.structs.replace(
            settings.simulators, epoch=clock.epoch))  # API workers read the same clock (``_shared_env``)
        settings = await start_simulators(nursery, settings, clock)
        http_stopped = trio.Event()
        if server.workers == 1:
            # One process: the API answers /health at once and turns ready when the store is.
            api = build_api(ApiContext(slot.get, migrations, settings, keys, wall=clock, metrics_dir=metrics_dir))
            with naming_port("the API", server.host, server.port, "--port"):
                urls = await nursery.start(
                    _serve_http_until, api, f"{server.host}:{server.port}", shutdown, http_stopped,
                    settings.engine.shutdown_grace,
                )
            _announce(urls)
        async with database_server(settings) as dsn, trio.open_nursery() as workers:
            if server.workers > 1:  # they answer 503 until they reach the database themselves
                with naming_port("the API", server.host, server.port, "--port"):
                    sock = bind_socket(server.host, server.port)
                env = worker_env(environ, dsn) | _shared_env(settings)
                await workers.start(run_workers, server.workers, sock, worker_command(sock, worker_argv), env,
                                    shutdown.wait, metrics_dir)
                _announce([f"http://{server.host}:{sock.getsockname()[1]}"])
            with trio.CancelScope() as waiting:
                nursery.start_soon(slot.give_up_on, shutdown, waiting)
                async with connect(settings, dsn, wait=True, engine=True) as db:
                    await _start_serving(db, slot, settings, keys, shutdown, clock, meta_simulated)
                    if server.workers == 1:
                        await http_stopped.wait()  # in-flight requests and jobs finish before the database closes
            # The workers were told when our shutdown was requested; wait until they finished their requests.
            shutdown.request("the engine stopped")
        nursery.cancel_scope.cancel()  # the sandbox's simulators serve until now


async def _start_serving(db: Database, slot: DatabaseSlot, settings: Settings,
                         keys: Keys, shutdown: Shutdown, clock: WallClock, meta_simulated: bool) -> None:
    """Once the database is up: migrations and the keys' check, the sandbox's demo, the API's database, then
    the engine until shutdown."""
    await prepare_database(db, settings, keys)
    demo = None
    if meta_simulated and settings.simulators.demo:
        demo = await set_up_demo(db, settings, keys, data_path(settings), now=clock(), speed=clock.speed)
        for line in demo.lines:
            print(line, flush=True)
    slot.db = db
    settle_heap()  # the app, its routes and the pool live as long as we do
    await run_engine(db, settings, keys, shutdown, clock, demo)


def wall_clock(settings: Settings) -> WallClock:
    """The service's one wall clock: in sandbox mode with every provider simulated, the simulated one
    (``[simulators] speed`` times the real one, from ``[simulators] epoch``); otherwise the real one, since
    a real provider's days are the real days (the simulators then run in real time too)."""
    sims = settings.simulators
    if simulated_providers(settings) != {"meta", "spotify"}:
        if simulated_providers(settings) and sims.speed != 1:
            log.warning("sandbox: [simulators] speed %g ignored: a real provider keeps the real clock", sims.speed)
        return WallClock()
    return WallClock(speed=sims.speed, epoch=sims.epoch)


async def start_simulators(nursery: trio.Nursery, settings: Settings, clock: WallClock) -> Settings:
    """Serve a simulator for each provider without credentials (sandbox mode) until the nursery ends.

    Both read ``clock``, the service's own (``wall_clock``), so their days are the engine's days.
    Returns the settings pointed at them, with the simulators' own app credentials, so every part of the
    service (and each API worker, through ``_shared_env``) talks to them exactly as to the real thing.
    """
    simulated = simulated_providers(settings)
    if not simulated:
        return settings
    sims, public_url = settings.simulators, ApiContext.public_url_of(settings)
    now = datetime.fromtimestamp(clock.epoch, UTC)  # the simulated worlds start at the real present
    # "on" keeps the dev routes on once the simulators' credentials are set.
    replaced: dict[str, object] = {"sandbox": "on"}
    lines = []
    config, app = None, None
    if "meta" in simulated:
        config = meta_with_faults(meta_simulator.SimulatorConfig(seed=sims.seed, speed=clock.speed,
                                                                 start=now.isoformat()), sims)
        with naming_port("the Meta simulator", sims.host, sims.meta_port, "[simulators] meta_port"):
            meta = await nursery.start(partial(meta_simulator.serve_meta_simulator, clock=clock), config, sims.host,
                                       sims.meta_port)
        replaced["meta"] = msgspec.structs.replace(settings.meta, app_id=config.app_id, app_secret=config.app_secret,
                                                   graph_url=meta.url, dialog_url=meta.url)
        lines.append(f"Meta simulator on {meta.url}/{settings.meta.api_version} (token {config.access_tokens[0]})")
    if "spotify" in simulated:
        app = spotify_simulator.ClientApp(redirect_uris=spotify_redirect_uris(public_url))
        # Fans opening a campaign's listen link are simulated listeners, one after another, not the label.
        world = spotify_with_faults(spotify_simulator.SimulatorConfig(
            seed=sims.seed, speed=clock.speed, clients=(app,), start=now,
            fan_redirect_uris=(listener_callback_url(public_url),)), sims)
        simulator = spotify_simulator.SpotifySimulator(world, clock=clock)
        with naming_port("the Spotify simulator", sims.host, sims.spotify_port, "[simulators] spotify_port"):
            url = await nursery.start(spotify_simulator.serve_spotify_simulator, simulator, sims.host,
                                      sims.spotify_port)
        replaced["spotify"] = msgspec.structs.replace(settings.spotify, client_id=app.client_id, accounts_url=url,
                                                      api_url=url)
        lines.append(f"Spotify simulator on {url}/v1 (accounts at {url}/authorize)")
    lines += sandbox_lines(config, app, sims)
    print(f"Sandbox mode: no credentials for {' or '.join(sorted(simulated))}, so simulators stand in.\n  "
          + "\n  ".join(lines), flush=True)
    log.info("sandbox: simulating %s", ", ".join(sorted(simulated)))
    return msgspec.structs.replace(settings, **replaced)


def _shared_env(settings: Settings) -> dict[str, str]:
    """What API workers must see as we do, as environment variables: the providers (the simulators we
    serve, in sandbox mode) and our public URL, which OAuth callbacks are built from (our ``--port`` is
    not theirs: they serve an inherited socket)."""
    meta, spotify = settings.meta, settings.spotify
    values = {"SANDBOX": settings.sandbox, "SERVER_PUBLIC_URL": ApiContext.public_url_of(settings),
              "META_APP_ID": meta.app_id, "META_APP_SECRET": meta.app_secret,
              "META_GRAPH_URL": meta.graph_url, "META_DIALOG_URL": meta.dialog_url,
              "SPOTIFY_CLIENT_ID": spotify.client_id, "SPOTIFY_ACCOUNTS_URL": spotify.accounts_url,
              "SPOTIFY_API_URL": spotify.api_url, "SIMULATORS_EPOCH": settings.simulators.epoch}
    return {f"SONGTRACK_{name}": str(value) for name, value in values.items() if value is not None}


async def _serve_http_until(
    api: Api, bind: str, shutdown: Shutdown, stopped: trio.Event, grace: float,
    *, task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the app and its services; ``stopped`` is set once both have stopped: the app's requests and the
    jobs they started have ended, so the database, closed after it, outlives them."""
    try:
        await api.serve(bind, shutdown.wait, graceful_timeout=grace, task_status=task_status)
    finally:
        stopped.set()


def _announce(urls: list[str]) -> None:
    for url in urls:
        # Printed, not only logged: this is what a person running `make run` looks for.
        print(f"SongTrackPro API on {url}  (health: {url}/health/ready, engine: {url}/v1/engine/status)",
              flush=True)
    log.info("listening on %s", ", ".join(urls))


async def serve_api(settings: Settings, fd: int | None, environ: dict[str, str], worker_argv: list[str],
                    metrics_dir: Path | None = None) -> int:
    """``songtrack api``: the API without the engine or migrations, against ``[database] url`` (required).

    With ``[server] workers`` above 1 (``--workers N``) and no ``fd``, we bind the port and run N ``songtrack
    api --fd`` children on it (``songtrack.workers``, as ``songtrack run --workers N`` does), told ``worker_argv``
    and ``environ``; otherwise we serve ourselves. With ``fd`` (a socket inherited from a parent) we also stop
    when the parent dies, so a killed parent leaves no orphans serving. Returns 0 after a graceful stop, 1
    when the LiveHub or the job runner crashed past its restart intensity. Error handling: raises
    ``KeysDiffer`` when our keys are not the database's.
    """
    dsn = settings.database.url
    assert dsn is not None  # songtrack.cli refuses to start without it
    if fd is None and settings.server.workers > 1:
        return await _serve_api_workers(settings, environ, worker_argv, metrics_dir)
    slot = DatabaseSlot()
    bind = f"fd://{fd}" if fd is not None else f"{settings.server.host}:{settings.server.port}"
    keys = load_or_create_keys(data_path(settings))
    api = build_api(ApiContext(slot.get, discover(), settings, keys, wall=wall_clock(settings),
                               metrics_dir=metrics_dir))

    async def body(shutdown: Shutdown, nursery: trio.Nursery) -> None:
        if fd is not None:
            nursery.start_soon(_watch_parent, os.getppid(), shutdown)
        await _serve_worker(api, bind, settings, dsn, slot, shutdown, nursery, keys)

    escalated = await until_stopped(settings.engine.shutdown_grace, body)
    if escalated is not None:
        log.critical("the api worker's supervisor gave up: %s", escalated, exc_info=escalated)
    return 0 if escalated is None else 1


async def _serve_api_workers(settings: Settings, environ: dict[str, str], worker_argv: list[str],
                             metrics_dir: Path | None) -> int:
    """``songtrack api --workers N``: N children serving the port we bind, until they have drained."""
    server, dsn = settings.server, settings.database.url
    assert dsn is not None

    async def body(shutdown: Shutdown, _: trio.Nursery) -> None:
        with naming_port("the API", server.host, server.port, "--port"):
            sock = bind_socket(server.host, server.port)
        with sock:
            _announce([f"http://{server.host}:{sock.getsockname()[1]}"])
            env = worker_env(environ, dsn) | _shared_env(settings)
            await run_workers(server.workers, sock, worker_command(sock, worker_argv), env, shutdown.wait, metrics_dir)

    await until_stopped(settings.engine.shutdown_grace, body)  # the children's escalations are theirs
    return 0


async def _serve_worker(api: Api, bind: str, settings: Settings, dsn: str, slot: DatabaseSlot, shutdown: Shutdown,
                        nursery: trio.Nursery, keys: Keys) -> None:
    """The API serving at once (503 until the database at ``dsn`` is up and our ``keys`` are found to be its
    own), until it has stopped."""
    http_stopped = trio.Event()
    with naming_port("the API", settings.server.host, settings.server.port, "--port"):
        await nursery.start(_serve_http_until, api, bind, shutdown, http_stopped, settings.engine.shutdown_grace)
    log.info("api worker %d serving %s", os.getpid(), bind)
    with trio.CancelScope() as waiting:  # the database may not be up yet: we answer 503 until it is
        nursery.start_soon(slot.give_up_on, shutdown, waiting)
        async with connect(settings, dsn, wait=True) as db:
            await check_keys(db, keys, data_path(settings))
            slot.db = db
            settle_heap()  # the app, its routes and the pool live as long as we do
            await http_stopped.wait()  # in-flight requests and jobs finish before the database closes


async def _watch_parent(parent: int, shutdown: Shutdown) -> None:
    # Polling getppid is the portable way to notice re-parenting; once a second is plenty.
    while True:
        await trio.sleep(1)
        if os.getppid() != parent:
            break
    log.warning("parent process %d is gone; stopping", parent)
    shutdown.request("parent exited")
