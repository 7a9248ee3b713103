"""The sections of the settings (``[server]``, ``[alerts]``, ...): strict, frozen Structs with a default for
every field, each checking its own values. ``config.settings`` puts them together and loads them. What the
service tells its operators about itself (metrics, traces, the audit log, logs) is ``config.operations``'.
"""

from __future__ import annotations

import ipaddress
import math
import re
from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

__all__ = [
    "AlertsSettings",
    "AnalyticsSettings",
    "ApiSettings",
    "AuthSettings",
    "DatabaseSettings",
    "EmailSettings",
    "EngineSettings",
    "FieldConflict",
    "LiveSettings",
    "MetaSettings",
    "RulesSettings",
    "Secret",
    "ServerSettings",
    "SimulatorSettings",
    "SpotifySettings",
    "WebhooksSettings",
]


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
    # The reverse proxies (CIDRs, a TOML list or comma-separated) whose X-Forwarded-For names the client;
    # from any other peer the header is ignored. Read it through ``proxies()``.
    trusted_proxies: str | list[str] = ""
    # The browser origins (https://dash.example.com; a TOML list or comma-separated; "*" for any) whose pages
    # may call the API (CORS) and open live WebSockets besides public_url's own. Read it through ``origins()``.
    cors_origins: str | list[str] = ""

    def __post_init__(self) -> None:
        _check_subnets("trusted_proxies", self.proxies())
        for origin in self.origins():
            if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
                raise FieldConflict(("cors_origins",),
                                    f"{origin!r} is not an origin (scheme://host[:port], no path)")

    def proxies(self) -> tuple[str, ...]:
        return _listed(self.trusted_proxies)

    def origins(self) -> tuple[str, ...]:
        """The allowed browser origins, as given (without a trailing slash)."""
        return tuple(origin.rstrip("/") for origin in _listed(self.cors_origins))


class ApiSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """The API's policies. ``default_tier``: the tier, so the hourly request budget, a new organization
    starts on (the reference's tiers). Enterprise, since on a label's own server the limit guards against a
    runaway script, not against a team exploring the API; a hosted service would set ``free``."""

    default_tier: Literal["free", "starter", "professional", "enterprise"] = "enterprise"


class DatabaseSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """The PostgreSQL connection; without a ``url`` the embedded cluster in the data directory is used,
    unless ``embedded`` is off (the container image and the systemd unit): then a ``url`` is required."""

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
    embedded: bool = True

    def __post_init__(self) -> None:
        if self.url is None and not self.embedded:
            raise FieldConflict(("url", "embedded"), "the embedded PostgreSQL is off, so a url is required"
                                " (DATABASE_URL or SONGTRACK_DATABASE_URL)")
        if self.pool_min > self.pool_max:
            message = f"pool_min ({self.pool_min}) must not exceed pool_max ({self.pool_max})"
            raise FieldConflict(("pool_min", "pool_max"), message)


class EngineSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """How the actor engine runs."""

    # Seconds actors get to drain on SIGINT/SIGTERM before they are cancelled for good.
    shutdown_grace: Annotated[float, Meta(gt=0, le=600)] = 10.0
    # Engine processes sharing a database hold each account's actor under a lease (docs/scaling.md): it
    # lasts ``lease_ttl`` seconds from its last renewal, renewed every ``lease_renew_every`` seconds (less
    # than the TTL: a third of it by default). A process that cannot renew stops its actors
    # ``lease_ttl - lease_renew_every`` seconds after its last renewal, before the lease can expire.
    lease_ttl: Annotated[float, Meta(ge=1, le=3600)] = 30.0
    lease_renew_every: Annotated[float, Meta(gt=0, le=1200)] = 10.0

    def __post_init__(self) -> None:
        if self.lease_renew_every >= self.lease_ttl:
            raise FieldConflict(("lease_renew_every", "lease_ttl"),
                                f"lease_renew_every ({self.lease_renew_every:g}) must be less than lease_ttl"
                                f" ({self.lease_ttl:g}): a lease must be renewed before it expires")


class AuthSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Token lifetimes and the brute-force limit on the auth endpoints (all in seconds)."""

    access_token_ttl: Annotated[int, Meta(ge=60, le=86_400)] = 15 * 60
    refresh_token_ttl: Annotated[int, Meta(ge=3_600, le=90 * 86_400)] = 7 * 86_400
    email_token_ttl: Annotated[int, Meta(ge=600, le=7 * 86_400)] = 24 * 3_600
    invitation_ttl: Annotated[int, Meta(ge=3_600, le=30 * 86_400)] = 7 * 86_400
    # At most ``attempts`` failures per sliding ``attempt_window`` on the auth routes, counted per client
    # IP and per email address (http_api/auth/attempts.py).
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
Secret = Annotated[str, Meta(min_length=1, extra={"secret": True})]  # masked by `songtrack config check`


class MetaSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """The Meta app ad accounts connect through. Without ``app_id`` the sandbox's Meta simulator stands in."""

    app_id: Annotated[str, Meta(pattern="^[0-9]+$", extra={"expected": "the numeric App ID"})] | None = None
    app_secret: Secret | None = None
    graph_url: _Url = "https://graph.facebook.com"
    dialog_url: _Url = "https://www.facebook.com"  # where the login dialog lives
    api_version: Annotated[str, Meta(pattern=r"^v[0-9]+\.0$", extra={"expected": "like v25.0"})] = "v25.0"
    # Seconds between two polls of an account's insights: Meta refreshes them every 15 minutes (PROVIDERS.md
    # A3), so polling more often only spends the rate limits; tests and rehearsals shorten it.
    poll_interval: Annotated[float, Meta(ge=1, le=86_400)] = 900.0

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
    # Simulated seconds per real second: a simulated day in 24 minutes, so a sandbox shows movement. The
    # engine reads the same simulated clock (engine/clock.py) when every provider is simulated.
    speed: Annotated[float, Meta(gt=0, le=100_000)] = 60.0
    # Real Unix seconds where simulated time meets real time; None: the start of ``songtrack run``, which
    # hands its own to its API workers.
    epoch: float | None = None
    demo: bool = True  # set up the demo label and campaign (songtrack/sandbox_demo.py)
    demo_webhook_url: _Url | None = None  # the demo label's webhook endpoint
    # Simulated listens a real second per demo track (actors/sandbox_streams.py), spread over simulated
    # time (``stream_rate * 86,400 / speed`` a simulated day); 0 turns them off. The cap keeps one batch a
    # second within what a single ingest transaction handles comfortably.
    stream_rate: Annotated[float, Meta(ge=0, le=1000)] = 2.0
    # Provider faults, to rehearse a storm (docs/sandbox.md): the share of API calls (0 to 1) answered with
    # a server error, a throttle (429; Meta's code 17) or a truncated body, seconds added to each answer,
    # and scheduled storms (every call throttled) as START+LENGTH in real seconds after the simulators
    # start: "600+60, 1800+300". Drawn from the seed, so the same seed gives the same faults.
    faults_error_rate: Annotated[float, Meta(ge=0, le=1)] = 0.0
    faults_throttle_rate: Annotated[float, Meta(ge=0, le=1)] = 0.0
    faults_malformed_rate: Annotated[float, Meta(ge=0, le=1)] = 0.0
    faults_latency: Annotated[float, Meta(ge=0, le=30)] = 0.0
    faults_storms: str = ""

    def __post_init__(self) -> None:
        try:
            self.storms()
        except ValueError as exc:
            raise FieldConflict(("faults_storms",), str(exc)) from None

    def storms(self) -> tuple[tuple[float, float], ...]:
        """The scheduled storms as (start, length) in real seconds. Raises ValueError for a bad entry."""
        found = []
        for part in filter(None, (p.strip() for p in self.faults_storms.split(","))):
            start, plus, length = part.partition("+")
            try:
                storm = (float(start), float(length))
            except ValueError:
                storm = (-1.0, 0.0)
            if not plus or storm[0] < 0 or storm[1] <= 0 or not all(map(math.isfinite, storm)):
                raise ValueError(f"{part!r} is not START+LENGTH (seconds, like 600+60)")
            found.append(storm)
        return tuple(found)


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


class RulesSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """The rules that act on campaigns (docs/rules.md). ``guardrail_percent``: the share of its budget (in %)
    at which an active campaign whose own ``budgetGuardrail.percent`` is null is paused, here and on Meta
    (1 to 1000; above 100 lets it overspend by that much). ``max_budget_step``: the largest budget change
    (in % of the budget) one ``adjust_budget`` action makes unless the rule sets its own
    ``maxStepPercent``. ``evaluate_every``: seconds between the scheduled evaluations of every active rule
    (rules are also evaluated whenever the figures of a campaign change)."""

    guardrail_percent: Annotated[int, Meta(ge=1, le=1000)] = 100
    max_budget_step: Annotated[int, Meta(ge=1, le=1000)] = 20
    evaluate_every: Annotated[float, Meta(ge=1, le=86400)] = 1800.0


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
        _check_subnets("allow_subnets", self.subnets())

    def subnets(self) -> tuple[str, ...]:
        """The allowlist's CIDRs, as given."""
        return _listed(self.allow_subnets)


def _listed(given: str | list[str]) -> tuple[str, ...]:
    """A list setting given as a TOML list or as comma-separated text (the environment's form)."""
    parts = given.split(",") if isinstance(given, str) else given
    return tuple(part.strip() for part in parts if part.strip())


def _check_subnets(field: str, cidrs: tuple[str, ...]) -> None:
    for cidr in cidrs:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise FieldConflict((field,), f"{cidr!r} is not a subnet in CIDR notation") from None


class LiveSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """Live stream events over WebSocket (docs/live-streams.md); the browser origins that may open one are
    ``[server] cors_origins``. The server pings every ``ping_interval`` seconds and closes a connection
    silent for 10 s longer; ``backlog`` stream events may wait for one connection before it is closed as too
    slow; ``poll_interval`` is the fallback poll when a NOTIFY is missed (seconds)."""

    ping_interval: Annotated[float, Meta(gt=0, le=300)] = 25.0
    backlog: Annotated[int, Meta(ge=10, le=100_000)] = 1000
    poll_interval: Annotated[float, Meta(gt=0, le=60)] = 2.0


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
