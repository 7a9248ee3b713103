"""The service wired in the test's own trio run, as ``songtrack run`` wires it, on the test's database: the
Meta simulator served by hypercorn, the API served by hypercorn with its LiveHub and job runner, and the
engine's actors (the accounts supervisor with its real Meta actors, the aggregator, the rule evaluator, the webhook
dispatcher). Everything talks real HTTP on 127.0.0.1. Real time (the database and MockClock do not mix);
the caller bounds every wait.

The Meta simulator runs ``meta_speed`` times faster than the wall clock (so a campaign spends in seconds)
and the Meta actors read its clock, as they do in the sandbox; the aggregator sweeps every half second.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import trio

from actors.accounts import AccountsSupervisor
from actors.aggregator import Aggregator
from actors.http import lend
from actors.lease_keeper import LeaseKeeper
from actors.meta_account import meta_kind
from actors.meta_schedule import MetaSchedule
from actors.meta_signals import MetaWriteSignals
from actors.rule_evaluator import RuleEvaluator
from actors.webhook_dispatcher import DispatcherConfig, WebhookDispatcher
from adapters.meta import meta_window
from adapters.meta.provider import meta_ads
from adapters.meta.simulator import ServedSimulator, SimulatorConfig, serve_meta_simulator
from config import Keys, Settings, load
from engine.pacing import Pacer
from engine.registry import Registry
from engine.store import Database
from engine.store.migrate import discover
from http_api.context import ApiContext
from songtrack.api import build_api

__all__ = ["Service", "running_service"]


@dataclass(frozen=True)
class Service:
    api_url: str
    ctx: ApiContext
    meta: ServedSimulator
    settings: Settings

    def client(self, token: str) -> httpx.AsyncClient:
        """An API client holding ``token``."""
        return httpx.AsyncClient(base_url=self.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    async def connect_meta(self, api: httpx.AsyncClient) -> dict[str, Any]:
        """Connect the caller's organization to Meta through our OAuth routes and the simulator's dialog, a
        browser's hops played by hand; returns the integration the callback shows."""
        started = await api.get("/v1/auth/meta/connect")
        assert started.status_code == 302, started.text
        async with httpx.AsyncClient() as browser:
            dialog = await browser.get(started.headers["location"])
            assert dialog.status_code == 302, dialog.text
            back = urlsplit(dialog.headers["location"])  # our public URL, which this test server is not
            done = await browser.get(f"{self.api_url}{back.path}?{back.query}")
        assert done.status_code == 200, done.text
        integration: dict[str, Any] = done.json()["integration"]
        return integration

    def revoke_meta_logins(self) -> None:
        """What the person logging out of Facebook does to the tokens our OAuth got: Meta refuses them (190)
        from now on. The simulator's pre-issued tokens, which no integration holds, stay valid."""
        oauth = self.meta.simulator.oauth
        for value in [value for value in oauth.tokens if value not in self.meta.simulator.config.access_tokens]:
            del oauth.tokens[value]

    async def meta_campaign(self, meta_campaign_id: str) -> dict[str, Any]:
        """The Meta campaign as the simulator's Graph API answers for it."""
        config = self.meta.simulator.config
        async with httpx.AsyncClient(base_url=self.meta.url) as graph:
            answer = await graph.get(f"/{self.settings.meta.api_version}/{meta_campaign_id}",
                                     params={"fields": "status,effective_status",
                                             "access_token": config.access_tokens[0]})
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found


def _settings(meta: ServedSimulator) -> Settings:
    config = meta.simulator.config
    return load({"SONGTRACK_SANDBOX": "off", "SONGTRACK_META_APP_ID": config.app_id,
                 "SONGTRACK_META_APP_SECRET": config.app_secret, "SONGTRACK_META_GRAPH_URL": meta.url,
                 "SONGTRACK_META_DIALOG_URL": meta.url, "SONGTRACK_WEBHOOKS_SCHEDULE": "fast",
                 "SONGTRACK_WEBHOOKS_POLL_INTERVAL": "0.5", "SONGTRACK_WEBHOOKS_ALLOW_SUBNETS": "127.0.0.0/8",
                 "SONGTRACK_AUTH_ATTEMPTS": "10000"})


@asynccontextmanager
async def running_service(db: Database, keys: Keys, *, meta_speed: float = 120.0) -> AsyncIterator[Service]:
    """The service until the block ends (then cancelled: the tests need no graceful stop). The account
    actors share one HTTP client, closed once they are all gone, so no connection outlives the test."""
    async with httpx.AsyncClient(timeout=30.0) as http, trio.open_nursery() as nursery:
        config = SimulatorConfig(seed=5, speed=meta_speed, accounts=1, campaigns_per_account=0,
                                 start=datetime.now(UTC).isoformat())
        meta: ServedSimulator = await nursery.start(serve_meta_simulator, config)
        settings = _settings(meta)
        ctx = ApiContext(lambda: db, discover(), settings, keys)
        urls = await nursery.start(build_api(ctx).serve, "127.0.0.1:0", trio.sleep_forever)
        signals = MetaWriteSignals()
        evaluator = RuleEvaluator(db, settings.rules, settings.analytics, signals=signals)
        aggregator = Aggregator(db, settings.alerts, sweep_every=0.5, rules=settings.rules,
                                on_changed=evaluator.changed, signals=signals)
        dispatcher = WebhookDispatcher(db, DispatcherConfig.from_settings(settings.webhooks),
                                       secret_key=keys.token_encryption_key)
        registry = Registry()
        kind = meta_kind(db, keys, registry, aggregator.sender(), lend(http), meta_ads(settings.meta),
                         pacer=Pacer(meta_window), schedule=MetaSchedule(interval=1.0, restatement_every=3600.0),
                         wall=lambda: datetime.fromtimestamp(meta.simulator.clock.now(), UTC), signals=signals)
        accounts = AccountsSupervisor(db, registry=registry, kinds=[kind], keeper=LeaseKeeper(db, uuid.uuid4()),
                                      poll_interval=1.0)
        for run in (dispatcher.run, evaluator.run, evaluator.run_schedule, aggregator.run, aggregator.sweep_forever,
                    accounts.run):
            await nursery.start(run)
        yield Service(urls[0], ctx, meta, settings)
        nursery.cancel_scope.cancel()
