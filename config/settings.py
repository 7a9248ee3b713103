"""The service's settings (its sections are in ``config.sections``) and ``load``.

``load`` merges defaults, a TOML file, the environment and CLI overrides, and reports every problem
at once; ``resolve`` does the same work and also says where each value came from, for
``songtrack config check``. Neither reads ``os.environ`` itself: the caller passes the environment in.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal, NamedTuple, TypeVar

import msgspec
from msgspec import Meta

from config import schema, sources
from config.errors import ConfigError, ConfigProblem
from config.operations import AuditSettings, LogSettings, MetricsSettings, TelemetrySettings
from config.sections import (
    AlertsSettings,
    AnalyticsSettings,
    ApiSettings,
    AuthSettings,
    DatabaseSettings,
    EmailSettings,
    EngineSettings,
    FieldConflict,
    LiveSettings,
    MetaSettings,
    RulesSettings,
    ServerSettings,
    SimulatorSettings,
    SpotifySettings,
    WebhooksSettings,
)

__all__ = [
    "CONFIG_ENV_VAR",
    "Resolved",
    "Settings",
    "Value",
    "data_path",
    "load",
    "resolve",
    "simulated_providers",
]

_ENV_PREFIX = "SONGTRACK_"
CONFIG_ENV_VAR = "SONGTRACK_CONFIG"  # the config file's path; the CLI reads it, so load() lets it be


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
    api: ApiSettings = msgspec.field(default_factory=ApiSettings)
    email: EmailSettings = msgspec.field(default_factory=EmailSettings)
    log: LogSettings = msgspec.field(default_factory=LogSettings)
    meta: MetaSettings = msgspec.field(default_factory=MetaSettings)
    spotify: SpotifySettings = msgspec.field(default_factory=SpotifySettings)
    simulators: SimulatorSettings = msgspec.field(default_factory=SimulatorSettings)
    alerts: AlertsSettings = msgspec.field(default_factory=AlertsSettings)
    rules: RulesSettings = msgspec.field(default_factory=RulesSettings)
    webhooks: WebhooksSettings = msgspec.field(default_factory=WebhooksSettings)
    live: LiveSettings = msgspec.field(default_factory=LiveSettings)
    analytics: AnalyticsSettings = msgspec.field(default_factory=AnalyticsSettings)
    metrics: MetricsSettings = msgspec.field(default_factory=MetricsSettings)
    telemetry: TelemetrySettings = msgspec.field(default_factory=TelemetrySettings)
    audit: AuditSettings = msgspec.field(default_factory=AuditSettings)


# Derived from the Structs, so a field added above is configurable everywhere without more code.
_SPECS = schema.flatten(Settings)
_ENV_NAMES = schema.env_names(_SPECS, _ENV_PREFIX)
# DATABASE_URL is the name every platform sets; our own SONGTRACK_DATABASE_URL wins over it.
_ENV_ALIASES = {"DATABASE_URL": "database.url"}

_S = TypeVar("_S", bound=msgspec.Struct)


class Value(NamedTuple):
    """One setting as resolved: ``value`` (the default when nothing gave one; None when what was given is
    invalid), ``origin`` (``default``, or the name the winning value was given under, as the user wrote it)
    and whether it is ``secret`` (never to be shown: see ``config.schema.masked``)."""

    value: object
    origin: str
    secret: bool
    valid: bool


class Resolved(NamedTuple):
    """What ``resolve`` found: the Settings (None when there is any problem), every setting by dotted key
    in declaration order, and every problem."""

    settings: Settings | None
    values: dict[str, Value]
    problems: list[ConfigProblem]


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
    resolved = resolve(environ, path, overrides)
    if resolved.settings is None:
        raise ConfigError(resolved.problems)
    return resolved.settings


def resolve(
    environ: Mapping[str, str],
    path: Path | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Resolved:
    """What ``load`` does, without raising: the Settings when all is well, each setting's value and
    origin (also when something is wrong, so the good part can still be shown), and every problem."""
    provided: list[sources.Provided] = []
    problems: list[ConfigProblem] = []
    for found in (
        sources.from_file(path, _SPECS),
        sources.from_environ(
            environ, _ENV_NAMES, prefix=_ENV_PREFIX, aliases=_ENV_ALIASES, reserved={CONFIG_ENV_VAR}
        ),
        sources.from_overrides(overrides or {}, _SPECS),
    ):
        provided += found[0]
        problems += found[1]
    winners, failed, bad_values = _check(provided)
    settings, conflicts = _build(winners, failed)
    problems += bad_values + conflicts
    values = {key: _value(spec, winners, failed) for key, spec in _SPECS.items()}
    return Resolved(None if problems else settings, values, problems)


def _value(spec: schema.FieldSpec, winners: Mapping[str, sources.Provided], failed: set[str]) -> Value:
    if spec.key in failed:  # a bad value given anywhere fails the setting, as in load
        return Value(None, "invalid", spec.secret, valid=False)
    if spec.key in winners:
        return Value(winners[spec.key].value, winners[spec.key].origin, spec.secret, valid=True)
    return Value(spec.default, "default", spec.secret, valid=True)


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
    provided: list[sources.Provided],
) -> tuple[dict[str, sources.Provided], set[str], list[ConfigProblem]]:
    """Check each value alone against its field's type, so each bad one gets its own message.

    Returns the winning (last good) value per key with its converted value, the keys with a bad
    value, and the problems.
    """
    winners: dict[str, sources.Provided] = {}
    failed: set[str] = set()
    problems: list[ConfigProblem] = []
    for item in provided:
        annotation = _SPECS[item.key].type
        try:
            value = msgspec.convert(item.value, annotation, strict=not item.lax)
        except msgspec.ValidationError as exc:
            failed.add(item.key)
            problems.append(ConfigProblem(item.origin, schema.explain(annotation, item.value, exc)))
        else:
            winners[item.key] = item._replace(value=value)
    return winners, failed, problems


def _build(
    winners: Mapping[str, sources.Provided], failed: set[str]
) -> tuple[Settings | None, list[ConfigProblem]]:
    """Construct the sections, then Settings, collecting conflicts between fields.

    A section with a bad value is skipped (its conflicts would be noise), but the others are still
    built so their conflicts are reported in the same run. Returns None if anything failed.
    """
    failed_sections = {_SPECS[key].section for key in failed}
    parts: dict[str, object] = {}
    problems: list[ConfigProblem] = []
    for info in msgspec.structs.fields(Settings):
        if schema.is_section(info.type) and info.name not in failed_sections:
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
    cls: type[_S], section: str | None, winners: Mapping[str, sources.Provided], **parts: object
) -> _S | ConfigProblem:
    # Values were converted one by one in _check; constructing runs __post_init__, the only check left.
    specs = schema.specs_in(_SPECS, section)
    given = {spec.name: winners[spec.key].value for spec in specs if spec.key in winners}
    try:
        return cls(**given, **parts)
    except FieldConflict as exc:
        names = [_origin(f"{section}.{name}" if section else name, winners) for name in exc.fields]
        return ConfigProblem(", ".join(names), str(exc))


def _origin(key: str, winners: Mapping[str, sources.Provided]) -> str:
    return winners[key].origin if key in winners else f"{key} (default)"
