"""The service's settings: strict, frozen Structs with a default for every field, and ``load``.

``load`` merges defaults, a TOML file, the environment and CLI overrides, and reports every problem
at once. It never reads ``os.environ`` itself: the caller passes the environment in.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import msgspec
from msgspec import Meta

from config import _schema, _sources
from config.errors import ConfigError, ConfigProblem

__all__ = [
    "CONFIG_ENV_VAR",
    "AlertsSettings",
    "AuthSettings",
    "DatabaseSettings",
    "EmailSettings",
    "EngineSettings",
    "LiveSettings",
    "LogSettings",
    "MetaSettings",
    "ServerSettings",
    "Settings",
    "SimulatorSettings",
    "SpotifySettings",
    "WebhooksSettings",
    "data_path",
    "load",
    "simulated_providers",
]

_ENV_PREFIX = "SONGTRACK_"
CONFIG_ENV_VAR = "SONGTRACK_CONFIG"  # the config file's path; the CLI reads it, so load() lets it be


class FieldConflict(ValueError):
    """Raised by ``__post_init__`` when fields are fine alone but not together; names those fields."""

    def __init__(self, fields: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.fields = fields


class ServerSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Where the HTTP API listens."""

    # Non-empty: an empty host would bind every interface, which nobody means by leaving it blank.
    host: Annotated[str, Meta(min_length=1)] = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535)] = 3000
    workers: Annotated[int, Meta(ge=1, le=64)] = 1
    # The address people reach the API at, for links in emails; default http://host:port.
    public_url: (
        Annotated[str, Meta(pattern="^https?://", extra={"expected": "an http:// or https:// URL"})] | None
    ) = None


class DatabaseSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """The PostgreSQL connection; without a ``url`` the embedded cluster in the data directory is used."""

    url: (
        Annotated[
            str,
            Meta(
                pattern="^postgres(ql)?://",
                extra={"expected": "a postgresql:// or postgres:// URL", "secret": True},
            ),
        ]
        | None
    ) = None
    pool_min: Annotated[int, Meta(ge=0, le=100)] = 1
    pool_max: Annotated[int, Meta(ge=1, le=100)] = 10

    def __post_init__(self) -> None:
        if self.pool_min > self.pool_max:
            message = f"pool_min ({self.pool_min}) must not exceed pool_max ({self.pool_max})"
            raise FieldConflict(("pool_min", "pool_max"), message)


class EngineSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """How the actor engine runs."""

    # Seconds actors get to drain on SIGINT/SIGTERM before they are cancelled for good.
    shutdown_grace: Annotated[float, Meta(gt=0, le=600)] = 10.0


class AuthSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Token lifetimes and the brute-force limit on the auth endpoints (all in seconds)."""

    access_token_ttl: Annotated[int, Meta(ge=60, le=86_400)] = 15 * 60
    refresh_token_ttl: Annotated[int, Meta(ge=3_600, le=90 * 86_400)] = 7 * 86_400
    email_token_ttl: Annotated[int, Meta(ge=600, le=7 * 86_400)] = 24 * 3_600
    invitation_ttl: Annotated[int, Meta(ge=3_600, le=30 * 86_400)] = 7 * 86_400
    # At most ``attempts`` calls per ``attempt_window`` to login, register and the password
    # and verification endpoints, counted per client IP and per email address.
    attempts: Annotated[int, Meta(ge=1, le=100_000)] = 5
    attempt_window: Annotated[int, Meta(ge=60, le=86_400)] = 15 * 60


class EmailSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Outgoing mail. Without ``smtp_host`` emails are logged (and kept in the sandbox mailbox)."""

    smtp_host: Annotated[str, Meta(min_length=1)] | None = None
    smtp_port: Annotated[int, Meta(ge=1, le=65535)] = 587
    smtp_username: str | None = None
    smtp_password: Annotated[str, Meta(extra={"secret": True})] | None = None
    smtp_starttls: bool = True
    from_address: Annotated[str, Meta(min_length=3)] = "SongTrackPro <no-reply@localhost>"


_Url = Annotated[str, Meta(pattern="^https?://", extra={"expected": "an http:// or https:// URL"})]
_Secret = Annotated[str, Meta(min_length=1, extra={"secret": True})]


class MetaSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """The Meta app ad accounts connect through. Without ``app_id`` the sandbox's Meta simulator stands in."""

    app_id: Annotated[str, Meta(pattern="^[0-9]+$", extra={"expected": "the numeric App ID"})] | None = None
    app_secret: _Secret | None = None
    graph_url: _Url = "https://graph.facebook.com"
    dialog_url: _Url = "https://www.facebook.com"  # where the login dialog lives
    api_version: Annotated[str, Meta(pattern=r"^v[0-9]+\.0$", extra={"expected": "like v25.0"})] = "v25.0"

    def __post_init__(self) -> None:
        if (self.app_id is None) != (self.app_secret is None):
            raise FieldConflict(("app_id", "app_secret"), "a Meta app needs both its App ID and its App Secret")


class SpotifySettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """The Spotify app accounts connect through (PKCE: no secret). Without ``client_id`` the simulator stands in."""

    client_id: Annotated[str, Meta(pattern="^[0-9a-zA-Z]+$", extra={"expected": "the app's Client ID"})] | None = None
    accounts_url: _Url = "https://accounts.spotify.com"
    api_url: _Url = "https://api.spotify.com"  # the Web API root, without /v1


class SimulatorSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """The provider simulators ``songtrack run`` starts in sandbox mode (port 0: any free port), and the
    demo label it sets up there."""

    host: Annotated[str, Meta(min_length=1)] = "127.0.0.1"
    meta_port: Annotated[int, Meta(ge=0, le=65535)] = 0
    spotify_port: Annotated[int, Meta(ge=0, le=65535)] = 0
    seed: int = 1  # the same seed gives the same world
    # Simulated seconds per real second: a simulated day in 24 minutes, so a sandbox shows movement.
    speed: Annotated[float, Meta(gt=0, le=100_000)] = 60.0
    demo: bool = True  # set up the demo label and campaign (actors/sandbox_demo.py)
    demo_webhook_url: _Url | None = None  # the demo label's webhook endpoint
    # Simulated listens a second per demo track (actors/sandbox_streams.py); 0 turns them off. The cap
    # keeps one batch a second within what a single ingest transaction handles comfortably.
    stream_rate: Annotated[float, Meta(ge=0, le=1000)] = 2.0


_Fraction = Annotated[float, Meta(gt=0, le=2)]


class AlertsSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """The aggregator's alert rules: budget warning thresholds (fractions of the budget, in (0, 2]), the
    pacing tolerance (fire when projected spend exceeds the budget by more than this fraction), and how
    often at most ``metrics.updated`` fires per campaign (seconds).

    ``budget_thresholds`` is a TOML list (``[0.5, 0.8, 1.0]``) or a comma-separated string
    (``SONGTRACK_ALERTS_BUDGET_THRESHOLDS=0.5,0.8,1.0``); read it through ``fractions()``.
    """

    # A plain ``str`` in the union: msgspec 0.22 corrupts memory converting text in lax mode (environment
    # values) to a union whose ``str`` member has a pattern, so the text is checked in __post_init__.
    budget_thresholds: str | Annotated[list[_Fraction], Meta(max_length=20)] = "0.5, 0.8, 1.0"
    pacing_tolerance: Annotated[float, Meta(ge=0, le=10)] = 0.10
    metrics_updated_every: Annotated[float, Meta(ge=1, le=86_400)] = 60.0

    def __post_init__(self) -> None:
        try:
            fractions = self.fractions()
        except ValueError:
            fractions = ()
        if not 0 < len(fractions) <= 20 or not all(0 < fraction <= 2 for fraction in fractions):
            raise FieldConflict(("budget_thresholds",), "expected 1 to 20 fractions, each above 0 and at most 2")

    def fractions(self) -> tuple[float, ...]:
        """The thresholds, sorted, each once. Raises ValueError for text that is not numbers and commas."""
        given = self.budget_thresholds
        values = [float(part) for part in given.split(",")] if isinstance(given, str) else given
        return tuple(sorted(set(values)))


class WebhooksSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """The webhook dispatcher. ``allow_subnets`` lists the subnets that webhooks may reach although they
    are private, loopback or otherwise non-public (on-prem receivers): a TOML list (``["10.0.0.0/8"]``) or
    a comma-separated string (``SONGTRACK_WEBHOOKS_ALLOW_SUBNETS=10.0.0.0/8,fd00::/8``); read it through
    ``subnets()``. By default only public addresses are. ``timeout`` bounds each attempt (seconds, all of
    it); ``schedule = "fast"`` shortens the retry schedule to seconds (sandbox, tests); ``poll_interval``
    is the fallback poll when a NOTIFY is missed (seconds)."""

    allow_subnets: str | list[str] = ""
    timeout: Annotated[float, Meta(gt=0, le=60)] = 15.0
    schedule: Literal["standard", "fast"] = "standard"
    poll_interval: Annotated[float, Meta(gt=0, le=3600)] = 5.0

    def __post_init__(self) -> None:
        for cidr in self.subnets():
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise FieldConflict(("allow_subnets",), f"{cidr!r} is not a subnet in CIDR notation") from None

    def subnets(self) -> tuple[str, ...]:
        """The allowlist's CIDRs, as given."""
        given = self.allow_subnets
        parts = given.split(",") if isinstance(given, str) else given
        return tuple(part.strip() for part in parts if part.strip())


class LiveSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Live stream events over WebSocket (docs/live-streams.md). ``allowed_origins`` lists the browser
    origins (``https://dash.example.com``) that may open one besides the API's own public URL: a TOML list
    or a comma-separated string, ``*`` for any; clients that send no Origin (not browsers) are always let
    in. The server pings every ``ping_interval`` seconds and closes a connection silent for 10 s longer;
    ``backlog`` stream events may wait for one connection before it is closed as too slow;
    ``poll_interval`` is the fallback poll when a NOTIFY is missed (seconds)."""

    allowed_origins: str | list[str] = ""
    ping_interval: Annotated[float, Meta(gt=0, le=300)] = 25.0
    backlog: Annotated[int, Meta(ge=10, le=100_000)] = 1000
    poll_interval: Annotated[float, Meta(gt=0, le=60)] = 2.0

    def __post_init__(self) -> None:
        for origin in self.origins():
            if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
                raise FieldConflict(("allowed_origins",),
                                    f"{origin!r} is not an origin (scheme://host[:port], no path)")

    def origins(self) -> tuple[str, ...]:
        """The allowed origins, as given (without a trailing slash)."""
        given = self.allowed_origins
        parts = given.split(",") if isinstance(given, str) else given
        return tuple(part.strip().rstrip("/") for part in parts if part.strip())


class AnalyticsSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """The attribution model (docs/analytics.md). ``baseline_days`` UTC days before a campaign give its
    baseline; fewer than ``min_baseline_days`` observed days, or a coefficient of variation (stddev / mean)
    above ``max_baseline_noise``, mark its figures "low" confidence. ``stream_values`` is what one stream
    earns, per currency, for ROI: a TOML table (``{ USD = "0.004" }``) or ``USD:0.004,EUR:0.0037``; a
    campaign in a currency it does not list has no ROI. ``export_ttl`` is how long an export's signed link
    works (seconds)."""

    baseline_days: Annotated[int, Meta(ge=1, le=365)] = 28
    min_baseline_days: Annotated[int, Meta(ge=1, le=365)] = 7
    max_baseline_noise: Annotated[float, Meta(gt=0, le=100)] = 1.0
    stream_values: str | dict[str, str] = ""
    export_ttl: Annotated[int, Meta(ge=60, le=7 * 86_400)] = 86_400

    def __post_init__(self) -> None:
        if self.min_baseline_days > self.baseline_days:
            raise FieldConflict(("min_baseline_days", "baseline_days"),
                                "min_baseline_days must not be above baseline_days")
        try:
            self.values()
        except ValueError as exc:
            raise FieldConflict(("stream_values",), str(exc)) from None

    def values(self) -> dict[str, Decimal]:
        """Currency (upper case) → value of one stream. Raises ValueError for a bad entry."""
        given = self.stream_values
        pairs: list[tuple[str, str]] = []
        if isinstance(given, str):
            for part in filter(None, (p.strip() for p in given.split(","))):
                currency, sep, amount = part.partition(":")
                if not sep:
                    raise ValueError(f"{part!r} is not CURRENCY:AMOUNT")
                pairs.append((currency, amount))
        else:
            pairs = list(given.items())
        values: dict[str, Decimal] = {}
        for currency, amount in pairs:
            code = currency.strip().upper()
            if not re.fullmatch(r"[A-Z]{3}", code):
                raise ValueError(f"{currency!r} is not a three-letter currency code")
            try:
                value = Decimal(amount.strip())
            except ArithmeticError:
                raise ValueError(f"{amount!r} is not an amount (for {code})") from None
            if not value.is_finite() or value < 0:
                raise ValueError(f"the value of a stream in {code} must be 0 or more")
            values[code] = value
        return values


class LogSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Log verbosity and line format (``auto``: text on a TTY, JSON otherwise)."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "text"] = "auto"


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """All settings. Struct-typed fields are the sections: ``[server]`` in TOML, ``SONGTRACK_SERVER_*``."""

    data_dir: Annotated[str, Meta(min_length=1)] = "var"  # relative paths are relative to the cwd
    # Sandbox mode: provider simulators instead of real Meta/Spotify, and the dev mailbox.
    # "auto" simulates each provider whose credentials are not configured (simulated_providers).
    sandbox: Literal["auto", "on", "off"] = "auto"
    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    database: DatabaseSettings = msgspec.field(default_factory=DatabaseSettings)
    engine: EngineSettings = msgspec.field(default_factory=EngineSettings)
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    email: EmailSettings = msgspec.field(default_factory=EmailSettings)
    log: LogSettings = msgspec.field(default_factory=LogSettings)
    meta: MetaSettings = msgspec.field(default_factory=MetaSettings)
    spotify: SpotifySettings = msgspec.field(default_factory=SpotifySettings)
    simulators: SimulatorSettings = msgspec.field(default_factory=SimulatorSettings)
    alerts: AlertsSettings = msgspec.field(default_factory=AlertsSettings)
    webhooks: WebhooksSettings = msgspec.field(default_factory=WebhooksSettings)
    live: LiveSettings = msgspec.field(default_factory=LiveSettings)
    analytics: AnalyticsSettings = msgspec.field(default_factory=AnalyticsSettings)


# Derived from the Structs, so a field added above is configurable everywhere without more code.
_SPECS = _schema.flatten(Settings)
_ENV_NAMES = _schema.env_names(_SPECS, _ENV_PREFIX)
# DATABASE_URL is the name every platform sets; our own SONGTRACK_DATABASE_URL wins over it.
_ENV_ALIASES = {"DATABASE_URL": "database.url"}

_S = TypeVar("_S", bound=msgspec.Struct)


def load(
    environ: Mapping[str, str],
    path: Path | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Settings:
    """Build Settings from, lowest precedence first: defaults, the TOML file at ``path``,
    ``environ``, and ``overrides`` (dotted keys such as ``"server.port"``; ``None`` = not given).

    Every value given is checked, even one a higher source overrides: a broken file is broken
    whatever the environment says.

    Error handling: raises ConfigError listing every problem, one per bad value, each named the
    way the user wrote it (``SONGTRACK_SERVER_PORT``, ``server.port (config.toml)``,
    ``server.port``), then problems between fields (``pool_min`` above ``pool_max``).
    """
    provided: list[_sources.Provided] = []
    problems: list[ConfigProblem] = []
    for found in (
        _sources.from_file(path, _SPECS),
        _sources.from_environ(
            environ, _ENV_NAMES, prefix=_ENV_PREFIX, aliases=_ENV_ALIASES, reserved={CONFIG_ENV_VAR}
        ),
        _sources.from_overrides(overrides or {}, _SPECS),
    ):
        provided += found[0]
        problems += found[1]
    winners, failed, bad_values = _check(provided)
    settings, conflicts = _build(winners, failed)
    problems += bad_values + conflicts
    if problems or settings is None:
        raise ConfigError(problems)
    return settings


def simulated_providers(settings: Settings) -> frozenset[Literal["meta", "spotify"]]:
    """The providers the sandbox's simulators stand in for: both when ``sandbox`` is on, none when off,
    and under ``auto`` each one without credentials."""
    if settings.sandbox == "off":
        return frozenset()
    missing = {"meta": settings.meta.app_id is None, "spotify": settings.spotify.client_id is None}
    return frozenset(name for name, absent in missing.items() if absent or settings.sandbox == "on")  # type: ignore[misc]


def data_path(settings: Settings) -> Path:
    """The data directory as an absolute path (a relative ``data_dir`` is taken from the cwd)."""
    return Path(settings.data_dir).resolve()


def _check(
    provided: list[_sources.Provided],
) -> tuple[dict[str, _sources.Provided], set[str], list[ConfigProblem]]:
    """Check each value alone against its field's type, so each bad one gets its own message.

    Returns the winning (last good) value per key with its converted value, the keys with a bad
    value, and the problems.
    """
    winners: dict[str, _sources.Provided] = {}
    failed: set[str] = set()
    problems: list[ConfigProblem] = []
    for item in provided:
        annotation = _SPECS[item.key].type
        try:
            value = msgspec.convert(item.value, annotation, strict=not item.lax)
        except msgspec.ValidationError as exc:
            failed.add(item.key)
            problems.append(ConfigProblem(item.origin, _schema.explain(annotation, item.value, exc)))
        else:
            winners[item.key] = item._replace(value=value)
    return winners, failed, problems


def _build(
    winners: Mapping[str, _sources.Provided], failed: set[str]
) -> tuple[Settings | None, list[ConfigProblem]]:
    """Construct the sections, then Settings, collecting conflicts between fields.

    A section with a bad value is skipped (its conflicts would be noise), but the others are still
    built so their conflicts are reported in the same run. Returns None if anything failed.
    """
    failed_sections = {_SPECS[key].section for key in failed}
    parts: dict[str, object] = {}
    problems: list[ConfigProblem] = []
    for info in msgspec.structs.fields(Settings):
        if _schema.is_section(info.type) and info.name not in failed_sections:
            part = _construct(info.type, info.name, winners)
            if isinstance(part, ConfigProblem):
                problems.append(part)
            else:
                parts[info.name] = part
    if failed or problems:
        return None, problems
    settings = _construct(Settings, None, winners, **parts)
    if isinstance(settings, ConfigProblem):
        return None, [settings]
    return settings, []


def _construct(
    cls: type[_S], section: str | None, winners: Mapping[str, _sources.Provided], **parts: object
) -> _S | ConfigProblem:
    # Values were converted one by one in _check; constructing runs __post_init__, the only check left.
    specs = _schema.specs_in(_SPECS, section)
    given = {spec.name: winners[spec.key].value for spec in specs if spec.key in winners}
    try:
        return cls(**given, **parts)
    except FieldConflict as exc:
        names = [_origin(f"{section}.{name}" if section else name, winners) for name in exc.fields]
        return ConfigProblem(", ".join(names), str(exc))


def _origin(key: str, winners: Mapping[str, _sources.Provided]) -> str:
    return winners[key].origin if key in winners else f"{key} (default)"
