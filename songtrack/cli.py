"""The ``songtrack`` command: parse arguments, load settings, configure logging,
hand over to the runtime (or, for ``config check``, report on the settings).
Exit codes: 0 ok, 1 runtime failure, 2 bad configuration.
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import os
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

import trio

from adapters.stream_reports.model import ReportKind
from config import CONFIG_ENV_VAR, ConfigError, Settings, load, resolve, simulated_providers
from engine.logs import configure_logging, current_actor
from engine.store.embedded import EmbeddedPostgresError, PostgresNotFound
from engine.store.errors import DatabaseRefused, StoreUnavailable
from songtrack.config_check import check_config
from songtrack.metrics_dir import MULTIPROC_ENV, metrics_directory
from songtrack.ports import PortInUse
from songtrack.startup import StartRefused
from songtrack.telemetry import exporting_traces

__all__ = ["main"]


# The simulators' faults (sandbox mode): flag name → help. Each sets ``[simulators] faults_<name>``.
_FAULT_FLAGS = {
    "error_rate": "share of provider API calls (0-1) answered with a server error",
    "throttle_rate": "share of provider API calls (0-1) throttled (429; Meta's code 17)",
    "malformed_rate": "share of provider API calls (0-1) answered with a truncated body",
    "latency": "seconds added to every provider API answer",
    "storms": "scheduled storms, START+LENGTH in seconds after start, comma-separated (600+60,1800+300)",
}


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="TOML settings file (also SONGTRACK_CONFIG)")
    common.add_argument("--data-dir", help="where keys and the embedded PostgreSQL live (default ./var)")
    serving = argparse.ArgumentParser(add_help=False)
    serving.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serving.add_argument("--port", type=int, help="port to listen on (default 3000)")
    faults = argparse.ArgumentParser(add_help=False)  # [simulators] faults_*: rehearse a provider storm
    for name, what in _FAULT_FLAGS.items():
        faults.add_argument(f"--fault-{name.replace('_', '-')}", dest=f"faults_{name}", metavar="X", help=what)

    workers = argparse.ArgumentParser(add_help=False)
    workers.add_argument("--workers", type=int, help="API processes sharing the port (default 1)")

    parser = argparse.ArgumentParser(prog="songtrack", description="SongTrackPro engine and API")
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {importlib.metadata.version('songtrackpro')}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", parents=[common, serving, workers, faults],
                        help="start PostgreSQL, apply migrations, run the engine and the API")
    commands.add_parser("migrate", parents=[common], help="apply pending database migrations and exit")
    api = commands.add_parser("api", parents=[common, serving, workers],
                              help="the API without the engine (for scaling out; needs SONGTRACK_DATABASE_URL)")
    api.add_argument("--fd", type=int, help="serve on this inherited listening socket")
    engine = commands.add_parser("engine", parents=[common],
                                 help="the engine without the API (for scaling out; needs SONGTRACK_DATABASE_URL)")
    # Their own dests: [server] host and port are the API's, and its public URL is built from them.
    engine.add_argument("--host", dest="probe_host", metavar="HOST", help="address of the health and metrics port"
                                                          " (default: [server] host)")
    engine.add_argument("--port", dest="probe_port", metavar="PORT", type=int, default=8081,
                        help="port of /health/live, /health/ready and /metrics (default 8081)")
    report = commands.add_parser("import", parents=[common],
                                 help="import a stream report (Spotify for Artists CSV, DistroKid TSV)")
    report.add_argument("file", type=Path)
    report.add_argument("--organization", help="its id or name (default: the only organization)")
    report.add_argument("--track", type=uuid.UUID, help="a per-song timeline's track id (default: the file name's"
                                                         " title)")
    report.add_argument("--artist", help="an audience timeline's artist (required for one)")
    report.add_argument("--kind", choices=[kind.value for kind in ReportKind],
                        help="the report's kind (default: told by its header row)")
    sandbox = commands.add_parser("sandbox", parents=[common, faults],
                                  help="serve the Meta and Spotify simulators (no credentials needed)")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--meta-port", type=int, default=4010)
    sandbox.add_argument("--spotify-port", type=int, default=4020)
    sandbox.add_argument("--seed", type=int, default=1, help="the same seed gives the same world")
    sandbox.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    sandbox.add_argument("--meta-accounts", type=int, default=6, help="ad accounts in the Meta simulator (1-10000)")
    sandbox.add_argument("--meta-tier", choices=("development_access", "standard_access"),
                         default="development_access")
    sandbox.add_argument("--spotify-mode", choices=("development", "extended"), default="development")
    config = commands.add_parser("config", help="about the settings")
    config.add_subparsers(dest="config_command", required=True).add_parser(
        "check", parents=[common, serving, workers],
        help="print the effective settings (secrets masked) and every problem; exit 0 only when all is well")
    return parser


def _sources(args: argparse.Namespace, environ: dict[str, str]) -> tuple[Path | None, dict[str, object]]:
    """The settings file and the flags' overrides, for ``load`` and ``resolve``."""
    path = args.config or (Path(environ[CONFIG_ENV_VAR]) if environ.get(CONFIG_ENV_VAR) else None)
    overrides = {
        "data_dir": args.data_dir,
        "server.host": getattr(args, "host", None),
        "server.port": getattr(args, "port", None),
        "server.workers": getattr(args, "workers", None),
    } | {f"simulators.faults_{name}": getattr(args, f"faults_{name}", None) for name in _FAULT_FLAGS}
    return path, overrides


def _settings(args: argparse.Namespace, environ: dict[str, str]) -> Settings:
    return load(environ, *_sources(args, environ))


def _worker_argv(args: argparse.Namespace) -> list[str]:
    """What API worker processes need to load the same settings as their parent."""
    argv = ["--data-dir", args.data_dir] if args.data_dir else []
    return argv + (["--config", str(args.config)] if args.config else [])


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    environ = dict(os.environ)  # the one place the process environment is read
    if args.command == "config":  # its own report of every problem, so no ConfigError here
        return check_config(resolve(environ, *_sources(args, environ)), sys.stdout)
    try:
        settings = _settings(args, environ)
    except ConfigError as err:
        print(f"songtrack: {err}", file=sys.stderr)
        return 2
    refusal = _refusal(args.command, settings)
    if refusal is not None:
        print(f"songtrack: {refusal}", file=sys.stderr)
        return 2
    configure_logging(settings.log.level, settings.log.format)
    current_actor.set(args.command)
    metrics_dir = metrics_directory(args.command, settings, environ)
    if metrics_dir is not None:
        # Before the service is imported: prometheus_client chooses files over memory when first imported.
        if "prometheus_client" in sys.modules:
            raise RuntimeError("prometheus_client was imported before its directory was set (songtrack.cli)")
        os.environ[MULTIPROC_ENV] = environ[MULTIPROC_ENV] = str(metrics_dir)  # API workers inherit ``environ``
    failures: list[BaseException] = []
    refused = False
    try:
        return _dispatch(args, settings, environ, metrics_dir)
    except* StartRefused as group:  # bad configuration found once started: keys other than the database's
        failures.extend(_leaves(group))
        refused = True
    except* (PostgresNotFound, EmbeddedPostgresError, PortInUse, DatabaseRefused, StoreUnavailable) as group:
        # Raised inside the service's nurseries, so it arrives grouped (nested as deep as the nurseries
        # were); the message is the whole story. (run and api wait for a database that is unavailable;
        # migrate and import give up at once.)
        failures.extend(_leaves(group))
    for failure in failures:
        print(f"songtrack: {failure}", file=sys.stderr)
    return 2 if refused else 1


def _refusal(command: str, settings: Settings) -> str | None:
    """Why ``command`` cannot start with ``settings`` (a configuration problem: exit 2), or None."""
    if command == "api" and settings.database.url is None:
        return "songtrack api needs SONGTRACK_DATABASE_URL (songtrack run sets it for its workers)"
    if command != "engine":
        return None
    if settings.database.url is None:
        return "songtrack engine needs SONGTRACK_DATABASE_URL: the database every engine and API process shares"
    simulated = simulated_providers(settings)
    if simulated:
        # The simulators keep their worlds in memory: processes each serving their own would disagree.
        return (f"songtrack engine does not run the sandbox's simulators (no credentials for"
                f" {' or '.join(sorted(simulated))}): they belong to one `songtrack run` or `songtrack sandbox`."
                " Give the providers' settings (a `songtrack sandbox` simulator as SONGTRACK_META_GRAPH_URL and so"
                " on, with its app credentials), or set SONGTRACK_SANDBOX=off")
    return None


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    return [leaf for exc in group.exceptions
            for leaf in (_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])]


def _dispatch(args: argparse.Namespace, settings: Settings, environ: dict[str, str], metrics_dir: Path | None) -> int:
    # Imported here, not above: after ``main`` pointed prometheus_client at the metrics directory.
    from songtrack import engine_process, report_import, runtime, sandbox

    if args.command == "run":
        with exporting_traces(settings.telemetry):
            return trio.run(runtime.serve, settings, environ, _worker_argv(args), metrics_dir)
    if args.command == "api":
        with exporting_traces(settings.telemetry):
            return trio.run(runtime.serve_api, settings, args.fd, environ, _worker_argv(args), metrics_dir)
    if args.command == "engine":
        with exporting_traces(settings.telemetry):
            return trio.run(engine_process.serve_engine, settings, args.probe_host or settings.server.host,
                            args.probe_port)
    if args.command == "sandbox":
        return trio.run(functools.partial(
            sandbox.serve_sandbox, args.host, args.meta_port, args.spotify_port, seed=args.seed,
            speed=args.speed, meta_tier=args.meta_tier, spotify_mode=args.spotify_mode,
            meta_accounts=args.meta_accounts, sims=settings.simulators))
    if args.command == "import":
        return trio.run(functools.partial(
            report_import.import_report, settings, args.file, organization=args.organization, kind=args.kind,
            track_id=args.track, artist=args.artist, out=sys.stdout))
    applied = trio.run(runtime.migrate, settings)
    print(f"applied migrations: {applied}" if applied else "migrations: up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
