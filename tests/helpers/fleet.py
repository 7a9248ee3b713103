"""A fleet for the chaos tests of issue 18: engine processes (real ``songtrack`` children) sharing one
PostgreSQL database and one standalone ``songtrack sandbox``, whose Meta simulator logs which engine
process called for which ad account when (``GET /__simulator/callers``: our Meta client's User-Agent
names its engine node).

Every process gets the same keys (a copy of one ``keys/`` directory in its own data directory: the
metrics directory in there is a process's own), real-looking provider credentials pointing at the one
sandbox (so none starts simulators of its own) and the short timings of ``FleetTimings``. The accounts
(organizations, Meta integrations with sealed tokens the simulator issued through its OAuth, one
campaign each linked to its own ad account) are written to the database directly.

Real clock (the children cannot follow MockClock); every wait is bounded.
"""

from __future__ import annotations

import os
import re
import shutil
import time as clock
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import trio

from config import Keys
from engine.store import Database, campaign_meta
from tests.helpers.factories import connect_integration, create_campaign, create_org
from tests.helpers.process import SongtrackProcess, free_port

__all__ = ["ENGINE_COMMAND", "Engine", "Fleet", "FleetTimings", "Sandbox", "SeededAccount", "seed_accounts"]

# The command of an engine process: the engine alone, its probes and /metrics on its --port.
ENGINE_COMMAND = ["engine"]
_VERSION = "v25.0"
_UA_NODE = re.compile(r"\(engine ([0-9a-f-]{36})\)")


@dataclass(frozen=True)
class FleetTimings:
    """Seconds: the lease TTL and renewal interval, the Meta poll interval, and the simulator's added latency
    per call (so that, at any moment, some polls are in flight: a stalled process has answers waiting)."""

    ttl: float = 4.0
    renew_every: float = 1.0
    poll_interval: float = 5.0
    latency: float = 0.2


class Sandbox:
    """``songtrack sandbox`` with ``accounts`` Meta ad accounts, and what its output says a client needs."""

    def __init__(self, log_dir: Path, accounts: int, latency: float) -> None:
        self.meta_url = f"http://127.0.0.1:{free_port()}"
        self.spotify_url = f"http://127.0.0.1:{free_port()}"
        args = ["sandbox", "--meta-port", self.meta_url.rsplit(":", 1)[1], "--spotify-port",
                self.spotify_url.rsplit(":", 1)[1], "--seed", "18", "--meta-accounts", str(accounts),
                "--meta-tier", "standard_access", "--fault-latency", str(latency)]
        self.process = SongtrackProcess(args, log_dir / "sandbox.log")
        self.credentials: dict[str, str] = {}

    async def start(self) -> None:
        await self.process.start()
        await self.process.wait_for_output("Spotify app:", within=60)
        meta = re.search(r"Meta app: app id (\d+), app secret ([^;]+);", self.process.output)
        spotify = re.search(r"Spotify app: client id (\w+),", self.process.output)
        assert meta and spotify, self.process.output
        self.credentials = {"META_APP_ID": meta[1], "META_APP_SECRET": meta[2], "SPOTIFY_CLIENT_ID": spotify[1]}

    async def graph(self, path: str, **params: str) -> Any:
        async with httpx.AsyncClient(base_url=f"{self.meta_url}/{_VERSION}", timeout=30) as client:
            answer = await client.get(path, params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def issue_token(self, client: httpx.AsyncClient) -> str:
        """A long-lived user token, through the login dialog and the code exchange, as a label's OAuth does."""
        app, callback = self.credentials, "http://127.0.0.1/callback"
        dialog = await client.get(f"{self.meta_url}/{_VERSION}/dialog/oauth", params={
            "client_id": app["META_APP_ID"], "redirect_uri": callback, "scope": "ads_read,ads_management"})
        code = re.search(r"code=([^&]+)", dialog.headers["location"])
        assert code, dialog.headers
        exchanged = await client.get(f"{self.meta_url}/{_VERSION}/oauth/access_token", params={
            "client_id": app["META_APP_ID"], "client_secret": app["META_APP_SECRET"], "redirect_uri": callback,
            "code": code[1]})
        token: str = exchanged.json()["access_token"]
        return token

    async def callers(self) -> dict[str, list[dict[str, Any]]]:
        """The simulator's caller log: ad account → runs of calls by one engine node (``node`` added: the
        node id the User-Agent names; calls of other clients, such as this harness, are left out)."""
        async with httpx.AsyncClient(timeout=60) as client:
            answer = await client.get(f"{self.meta_url}/__simulator/callers")
        log: dict[str, list[dict[str, Any]]] = {}
        for account in answer.json()["data"]:
            runs = [run | {"node": uuid.UUID(found[1])} for run in account["runs"]
                    if (found := _UA_NODE.search(run["user_agent"]))]
            log[account["account_id"]] = runs
        return log


@dataclass(frozen=True)
class SeededAccount:
    organization_id: uuid.UUID
    integration: str  # its lease's name: meta:<integration id>
    ad_account: str
    campaign_id: uuid.UUID
    meta_campaign_id: str
    token: str


async def seed_accounts(db: Database, keys: Keys, sandbox: Sandbox, count: int) -> list[SeededAccount]:
    """``count`` organizations, each with a Meta integration (its own token) and one active campaign linked
    to the first campaign of its own ad account (an active one)."""
    found = await sandbox.graph("me/adaccounts", access_token="SIMULATOR_TOKEN", fields="account_id,currency",
                                limit="5000")
    accounts = found["data"][:count]
    assert len(accounts) == count
    seeded: list[SeededAccount] = []
    limiter = trio.CapacityLimiter(32)

    async def one(account: dict[str, str]) -> None:
        async with limiter, httpx.AsyncClient(timeout=30) as client:
            token = await sandbox.issue_token(client)
            listed = await client.get(f"{sandbox.meta_url}/{_VERSION}/{account['id']}/campaigns",
                                      params={"access_token": token, "fields": "id,name", "limit": "100"})
        meta_campaign = next(c["id"] for c in listed.json()["data"] if c["name"] == "Release push 1")
        org_id = await create_org(db, f"label {account['id']}")
        integration = await connect_integration(db, org_id, account=f"user-{account['id']}",
                                                key=keys.token_encryption_key, access_token=token,
                                                scopes=("ads_read", "ads_management"))
        # From today's midnight (UTC): no campaign ran yesterday, so no daily report adds to the load.
        today = datetime.combine(datetime.now(UTC).date(), time(), UTC)
        campaign = await create_campaign(db, org_id, budget=1e9, currency=account["currency"], status="active",
                                         start=today, end=today + timedelta(days=30))
        await campaign_meta.link_meta(db, org_id, campaign, ad_account_id=account["id"],
                                      meta_campaign_id=meta_campaign, effective_status="ACTIVE")
        seeded.append(SeededAccount(org_id, f"meta:{integration.id}", account["id"], campaign, meta_campaign, token))

    async with trio.open_nursery() as nursery:
        for account in accounts:
            nursery.start_soon(one, account)
    return seeded


@dataclass
class Engine:
    """One engine process: its API port, and its engine node id once it registered."""

    process: SongtrackProcess
    port: int
    node: uuid.UUID | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process.process is not None
        return self.process.process.pid

    async def fenced_samples(self) -> float:
        """``songtrack_fenced_samples_total`` on its /metrics."""
        async with httpx.AsyncClient(timeout=10) as client:
            text = (await client.get(f"{self.url}/metrics")).text
        found = re.search(r"^songtrack_fenced_samples_total (\S+)$", text, re.MULTILINE)
        return float(found[1]) if found else 0.0


@dataclass
class Fleet:
    """Engine processes on ``dsn`` polling through ``sandbox``; ``started`` collects every child process, for
    the kill at the end."""

    dsn: str
    db: Database
    keys: Keys
    keys_dir: Path
    sandbox: Sandbox
    workdir: Path
    started: list[SongtrackProcess]
    timings: FleetTimings = FleetTimings()
    engines: list[Engine] = field(default_factory=list)

    def _env(self) -> dict[str, str]:
        sandbox, timings = self.sandbox, self.timings
        values = sandbox.credentials | {
            "DATABASE_URL": self.dsn, "SANDBOX": "off", "META_GRAPH_URL": sandbox.meta_url,
            "META_DIALOG_URL": sandbox.meta_url, "SPOTIFY_ACCOUNTS_URL": sandbox.spotify_url,
            "SPOTIFY_API_URL": sandbox.spotify_url, "META_POLL_INTERVAL": str(timings.poll_interval),
            "ENGINE_LEASE_TTL": str(timings.ttl), "ENGINE_LEASE_RENEW_EVERY": str(timings.renew_every),
            "WEBHOOKS_SCHEDULE": "fast", "WEBHOOKS_ALLOW_SUBNETS": "127.0.0.0/8", "WEBHOOKS_TIMEOUT": "3",
            "WEBHOOKS_POLL_INTERVAL": "0.5"}
        return {**os.environ, **{f"SONGTRACK_{name}": value for name, value in values.items()}}

    async def start_engine(self) -> Engine:
        """One more engine process, once it answers ready and has registered its node."""
        port = free_port()
        data_dir = self.workdir / f"engine-{port}"
        shutil.copytree(self.keys_dir, data_dir / "keys")
        process = SongtrackProcess([*ENGINE_COMMAND, "--data-dir", str(data_dir), "--port", str(port)],
                                   self.workdir / f"engine-{port}.log", self._env())
        self.started.append(process)
        await process.start()
        engine = Engine(process, port)
        await process.wait_ready(engine.url)
        with trio.fail_after(30):
            while engine.node is None:
                engine.node = await self.db.fetchval(
                    "SELECT id FROM engine_nodes WHERE pid = $1 AND stopped_at IS NULL", engine.pid)
                await trio.sleep(0.1)
        self.engines.append(engine)
        return engine

    async def holdings(self) -> Counter[uuid.UUID]:
        """Unexpired account leases per engine node, by the database's clock (not the singletons')."""
        rows = await self.db.fetch("SELECT node_id, count(*) AS n FROM engine_leases"
                                   " WHERE node_id IS NOT NULL AND expires_at > now()"
                                   " AND name NOT LIKE 'singleton:%' GROUP BY node_id")
        return Counter({row["node_id"]: row["n"] for row in rows})

    async def wait_balanced(self, nodes: list[uuid.UUID], accounts: int, within: float) -> float:
        """Wait until ``nodes`` hold every account between them, fairly (no two differ by more than one);
        return the seconds it took."""
        began = clock.monotonic()
        with trio.move_on_after(within):
            while True:
                held = await self.holdings()
                counts = [held.get(node, 0) for node in nodes]
                if sum(counts) == accounts == sum(held.values()) and max(counts) - min(counts) <= 1:
                    return clock.monotonic() - began
                await trio.sleep(0.1)
        raise AssertionError(f"not balanced over {len(nodes)} nodes within {within}s: {await self.holdings()}")
