"""Settings and secrets: what the service is told (``load``) and what it keeps (``load_or_create_keys``).

It imports only the stdlib and msgspec, and never reads ``os.environ``: callers pass the environment in.
"""

from __future__ import annotations

from config.errors import ConfigError, ConfigProblem
from config.keys import KeyFileError, Keys, load_or_create_keys
from config.operations import LogSettings
from config.sections import (
    AuthSettings,
    DatabaseSettings,
    EmailSettings,
    EngineSettings,
    MetaSettings,
    ServerSettings,
    SimulatorSettings,
    SpotifySettings,
)
from config.settings import CONFIG_ENV_VAR, Resolved, Settings, Value, data_path, load, resolve, simulated_providers

__all__ = [
    "CONFIG_ENV_VAR",
    "AuthSettings",
    "ConfigError",
    "ConfigProblem",
    "DatabaseSettings",
    "EmailSettings",
    "EngineSettings",
    "KeyFileError",
    "Keys",
    "LogSettings",
    "MetaSettings",
    "Resolved",
    "ServerSettings",
    "Settings",
    "SimulatorSettings",
    "SpotifySettings",
    "Value",
    "data_path",
    "load",
    "load_or_create_keys",
    "resolve",
    "simulated_providers",
]
