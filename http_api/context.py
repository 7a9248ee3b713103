"""What the API is given to work with: the database, settings, keys, the mailer
and the wall clock. Routes reach the rest of the service only through this.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import httpx

from config import Keys, Settings, simulated_providers
from engine.mailer import Mailer, SmtpConfig
from engine.store.database import Database
from engine.store.migrate import Migration
from http_api.auth.tokens import TokenService
from http_api.errors import ApiError
from http_api.quotas import QuotaLedger

__all__ = ["ApiContext"]


@dataclass(frozen=True)
class ApiContext:
    database: Callable[[], Database | None]  # None while the database is still starting
    migrations: Sequence[Migration]
    settings: Settings
    keys: Keys
    # Wall-clock seconds for tokens and rate-limit windows; tests drive it from MockClock.
    now: Callable[[], float] = field(default=time.time)
    # Domain time (days, periods, stream and alert times): the service's one clock, simulated in sandbox
    # mode (engine/clock.py), while tokens and rate limits stay on ``now``. None: ``now``'s.
    wall: Callable[[], datetime] | None = None
    # How routes reach Meta and Spotify; tests mount the simulators here with httpx.ASGITransport.
    http_factory: Callable[[], httpx.AsyncClient] = field(default=httpx.AsyncClient)
    # Where the processes of one ``songtrack run`` keep their Prometheus figures (songtrack/metrics_dir.py),
    # so a scrape of any of them adds up all; None: this process's own, in memory.
    metrics_dir: Path | None = None

    def domain_now(self) -> datetime:
        """The present of the data: ``wall()``, else ``now()`` as an aware UTC datetime."""
        return self.wall() if self.wall is not None else datetime.fromtimestamp(self.now(), UTC)

    def db(self) -> Database:
        db = self.database()
        if db is None:
            error = ApiError(503, "SERVICE_UNAVAILABLE", "the database is still starting; retry shortly")
            error.headers["Retry-After"] = "5"  # what the wait for the database retries within
            raise error
        return db

    @cached_property
    def tokens(self) -> TokenService:
        return TokenService(self.keys.jwt_signing_key, self.settings.auth.access_token_ttl, self.now)

    @cached_property
    def quotas(self) -> QuotaLedger:
        """This process's leases on the organizations' hourly quotas (one per context: one per process)."""
        return QuotaLedger()

    @cached_property
    def mailer(self) -> Mailer:
        """Built on first use: it records every email in the database, which may start after us."""
        email = self.settings.email
        smtp = None
        if email.smtp_host is not None:
            smtp = SmtpConfig(host=email.smtp_host, port=email.smtp_port, username=email.smtp_username,
                              password=email.smtp_password, starttls=email.smtp_starttls,
                              from_address=email.from_address)
        return Mailer(self.db(), smtp)

    @property
    def sandbox(self) -> bool:
        """True while a simulator stands in for a provider (the dev routes exist only then)."""
        return bool(simulated_providers(self.settings))

    @property
    def public_url(self) -> str:
        return self.public_url_of(self.settings)

    @staticmethod
    def public_url_of(settings: Settings) -> str:
        """Where people reach the API: ``server.public_url``, else ``http://host:port``."""
        server = settings.server
        return (server.public_url or f"http://{server.host}:{server.port}").rstrip("/")
