"""Sandbox only: a demo label to watch the pipeline work, set up at each start of ``songtrack run``. It is
composition, not an actor: it runs once before the engine starts, with the Meta client and the report
importer, so it lives in the root.

At the first start it creates the organization "Demo Records", owned by ``DEMO_EMAIL`` with a random
password kept in ``<data_dir>/sandbox-demo-login`` (0600) and printed at every start. At every start,
since the Meta simulator's world is new each time, it connects the organization to the simulator (its
pre-issued token), archives the previous demo campaigns, and creates a fresh one: a Meta campaign in a
USD ad account spending ``META_DAILY_BUDGET`` a simulated day, linked to our "Demo campaign" whose budget
is sized so that spend reaches 80 % about ``WARN_AFTER`` real seconds after start at the configured
simulator speed; both are launched. Its budget guardrail is on (the default), so once the spend reaches
the budget the aggregator pauses it and the Meta account actor pauses its Meta campaign: the demo stops
near its budget. Each demo campaign promotes the organization's "Demo Track" (created
at the first start, reused after), for which ``actors/sandbox_streams.py`` makes up listens at
``stream_rate`` a real second, spread over simulated time: ``DemoLabel.listen_rate`` (``stream_rate /
speed``) a simulated second, so a faster clock gives fewer listens a simulated day, not more load. The
campaign starts at today's midnight (UTC), so its first day is today.
After making it we import, through the import path a person uses, a generated Spotify for Artists
per-song timeline of the track's 28 days before today: seeded draws per day around 60 % of what the
listens add up to in a simulated day (``listen_rate * 86,400``), steady enough for a high-confidence
baseline at any speed,
so the campaign's analytics show the listens' lift of about 40 % over it (incremental streams about
0.4 times the streams during the campaign). A day's figure depends only on the seed and the day, so
the same start day gives the same file (the importer then answers "imported before"). With
``stream_rate`` 0 there is no history. With
``[simulators] demo_webhook_url`` set, the organization has a webhook endpoint there (every event type),
whose secret is printed once, when it is created.

At the first start it also creates a rule, the first worked example of docs/rules.md, as a dry run: its
history shows when it would have paused the demo campaign, without pausing it.

So ``make run`` with a webhook URL configured shows a signed ``budget.warning`` within a minute, then
``campaign.paused`` with the guardrail as its cause.
"""

from __future__ import annotations

import codecs
import math
import random
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx
import msgspec
import trio

from adapters.meta.client import MetaClient
from adapters.stream_reports import importer
from config import Keys, Settings
from engine.guardrail import PauseCause, PausedReason
from engine.pacing import RetryPolicy
from engine.passwords import hash_password
from engine.provider import RateLimitedError, RetryableError
from engine.rules.model import parse_spec
from engine.store import accounts, campaign_meta, campaigns, integrations, rules, tracks, webhooks
from engine.store.database import Database

__all__ = ["DEMO_EMAIL", "DEMO_RULE", "HISTORY_DAYS", "HISTORY_SHARE", "DemoLabel", "history_csv", "set_up_demo"]

DEMO_EMAIL = "demo@songtrack.example"
DEMO_CAMPAIGN = "Demo campaign"
META_DAILY_BUDGET = 1000  # USD a simulated day
WARN_AFTER = 30.0  # real seconds from launch to 80 % of our budget
_TOKEN = "SIMULATOR_TOKEN"  # the Meta simulator's pre-issued token (adapters/meta/simulator/config.py)
_DAY = 86_400.0  # seconds
HISTORY_DAYS = 28  # the analytics' default baseline ([analytics] baseline_days)
HISTORY_SHARE = 0.6  # a history day's mean, as a share of a day of simulated listens
_HISTORY_NOISE = 0.05  # a history day's standard deviation, as a share of its mean
_ATTEMPTS = 12  # of each Meta call while setting up, through the configured faults
_T = TypeVar("_T")
DEMO_RULE: dict[str, Any] = {
    "name": "Too expensive per new stream", "description": "Pause when an incremental stream costs more than"
    " 5 cents over two days (docs/rules.md, example 1)",
    "condition": {"field": "costPerIncrementalStream", "operator": "greater_than", "value": "0.05",
                  "durationHours": 48},
    "action": {"type": "pause_campaign", "config": {}}, "appliesTo": {"campaigns": None}, "cooldownHours": 24,
}
DEMO_TRACK = tracks.NewTrack(title="Demo Track", artist="Demo Artist", album="Demo Sessions", duration=214,
                             genres=["indie pop"])


class DemoLabel(msgspec.Struct, frozen=True, kw_only=True):
    """What ``set_up_demo`` set up: the organization, the track its demo campaign promotes, the listens a
    simulated second each of its tracks gets (0: none), and the lines to print."""

    organization_id: uuid.UUID
    track_id: uuid.UUID
    listen_rate: float
    lines: list[str]


async def set_up_demo(db: Database, settings: Settings, keys: Keys, data_dir: Path,
                      http_factory: Callable[[], httpx.AsyncClient] = httpx.AsyncClient, *,
                      now: datetime | None = None, speed: float = 1.0) -> DemoLabel:
    """Set the demo up (see the module docstring) as of ``now`` (None: the wall clock), on a clock that
    runs ``speed`` times as fast as the real one (the service's ``WallClock``). ``settings`` must point at
    the Meta simulator (``songtrack.runtime.start_simulators``)."""
    at = now or datetime.now(UTC)
    today = at.astimezone(UTC).date()
    password = _password(data_dir)
    found = await accounts.get_credentials_by_email(db, DEMO_EMAIL)
    if found is None:
        # On the tier any new organization gets here, in the same transaction as the organization itself.
        org, owner = await accounts.create_organization_with_owner(
            db, org_name="Demo Records", email=DEMO_EMAIL, name="Demo", password_hash=await hash_password(password),
            tier=settings.api.default_tier)
        await accounts.mark_email_verified(db, owner.id)
        org_id, owner_id = org.id, owner.id
    else:
        org_id, owner_id = found.user.organization_id, found.user.id
    await integrations.upsert_integration(
        db, keys.token_encryption_key, org_id=org_id, provider="meta", external_account_id="sandbox",
        display_name="Meta simulator", access_token=_TOKEN, refresh_token=None, token_expires_at=None,
        scopes=["ads_read", "ads_management", "business_management"], connected_by=owner_id)
    await _archive_previous(db, org_id, PausedReason(cause=PauseCause(user_id=owner_id), at=at))
    await _demo_rule(db, org_id, owner_id, at)
    track_id = await _demo_track(db, org_id)
    budget = await _launch_campaign(db, settings, org_id, track_id, http_factory, today, speed)
    lines = [f"Demo label: log in as {DEMO_EMAIL} / {password}; \"{DEMO_CAMPAIGN}\" (budget {budget} USD) is"
             f" spending on the Meta simulator"]
    rate = settings.simulators.stream_rate
    listen_rate = rate / speed
    listens = f", {rate:g} listens a second, {listen_rate * _DAY:,.0f} a simulated day" if rate > 0 else ""
    lines.append(f"Demo track: {track_id} (\"{DEMO_TRACK.title}\"{listens})")
    if rate > 0:
        lines.append(await _import_history(db, org_id, track_id, settings.simulators.seed, listen_rate, today))
    url = settings.simulators.demo_webhook_url
    if url is not None:
        lines.append(await _webhook(db, keys, org_id, url))
    return DemoLabel(organization_id=org_id, track_id=track_id, listen_rate=listen_rate, lines=lines)


async def _demo_rule(db: Database, org_id: uuid.UUID, owner_id: uuid.UUID, at: datetime) -> None:
    """At the first start (the organization has no rule yet), the first worked example of docs/rules.md as a
    dry run: its history (``GET /v1/rules/{id}/history``) shows when it would have paused the demo campaign,
    and a label switches it on with ``PATCH /v1/rules/{id} {"dryRun": false}``."""
    if (await rules.list_rules(db, org_id, limit=1)).total:
        return
    await rules.create_rule(db, org_id, name=DEMO_RULE["name"], description=DEMO_RULE["description"],
                            status="active", dry_run=True, spec=parse_spec(DEMO_RULE), created_by=owner_id, now=at)


def _password(data_dir: Path) -> str:
    path = data_dir / "sandbox-demo-login"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    path.touch(mode=0o600)
    path.write_text(password + "\n")
    return password


async def _archive_previous(db: Database, org_id: uuid.UUID, reason: PausedReason) -> None:
    """Archive the earlier demo campaigns and drop their links: their Meta campaigns lived in a simulator
    that is gone, and the new one (same seed) hands out the same ids again. An active one is paused first,
    as its owner would (``reason``)."""
    page = await campaigns.list_campaigns(db, org_id, search=DEMO_CAMPAIGN, limit=100)
    for old in page.items:
        if old.name != DEMO_CAMPAIGN:
            continue
        if old.status == "active":
            await campaigns.set_campaign_status(db, org_id, old.id, expected_from=("active",), to="paused",
                                                reason=reason)
        if old.status in ("draft", "active", "paused"):
            await campaigns.set_campaign_status(db, org_id, old.id, expected_from=("draft", "paused"),
                                                to="archived")
        await campaign_meta.unlink_meta(db, org_id, old.id)


async def _demo_track(db: Database, org_id: uuid.UUID) -> uuid.UUID:
    """The organization's demo track, created at the first start: the same id on every start, so a client
    watching it can stay subscribed across restarts."""
    found = await tracks.list_tracks(db, org_id, search=DEMO_TRACK.title, limit=100)
    known = [t for t in found.items if (t.title, t.artist) == (DEMO_TRACK.title, DEMO_TRACK.artist)]
    if known:
        return known[-1].id  # the oldest (newest first), should a person have made a second one
    return (await tracks.create_track(db, org_id, DEMO_TRACK)).id


async def _launch_campaign(db: Database, settings: Settings, org_id: uuid.UUID, track_id: uuid.UUID,
                           http_factory: Callable[[], httpx.AsyncClient], today: date, speed: float) -> float:
    """A fresh Meta campaign and our campaign linked to it, both running from ``today``'s midnight (UTC)
    for 30 days; returns our budget (USD), 80 % of it spent ``WARN_AFTER`` real seconds in at ``speed``."""
    meta = settings.meta
    async with http_factory() as http:
        client = MetaClient(http, _TOKEN, base_url=meta.graph_url, version=meta.api_version)
        usd = next(a for a in (await _through_faults(client.ad_accounts)).data if a.currency == "USD")
        meta_id = (await _through_faults(partial(
            client.create_campaign, usd.id, name=DEMO_CAMPAIGN, objective="OUTCOME_AWARENESS", status="ACTIVE",
            special_ad_categories=[], daily_budget_minor=META_DAILY_BUDGET * 100))).data
    per_second = META_DAILY_BUDGET * speed / _DAY
    budget = max(1.0, math.ceil(per_second * WARN_AFTER / 0.8 * 100) / 100)
    midnight = datetime.combine(today, time(), UTC)
    ours = await campaigns.create_campaign(db, org_id, campaigns.NewCampaign(
        name=DEMO_CAMPAIGN, objective="streams", budget=budget, currency="USD", track_id=track_id,
        start_date=midnight, end_date=midnight + timedelta(days=30)))
    await campaign_meta.link_meta(db, org_id, ours.id, ad_account_id=usd.id, meta_campaign_id=meta_id,
                              effective_status="ACTIVE")
    await campaigns.set_campaign_status(db, org_id, ours.id, expected_from=("draft",), to="active")
    return budget


async def _through_faults(call: Callable[[], Awaitable[_T]]) -> _T:
    """``call()``, retried through the faults a sandbox may be rehearsing (``[simulators] faults_*``): the
    demo is set up before the engine runs, and a failed setup would stop ``songtrack run``. A truncated
    answer to the campaign's creation may leave an extra campaign in the simulator; nothing reads it."""
    policy, rng = RetryPolicy(base=0.5, cap=10.0), random.Random()
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return await call()
        except (RetryableError, RateLimitedError) as exc:
            if attempt == _ATTEMPTS:
                raise
            limited = exc.reset_after if isinstance(exc, RateLimitedError) else None
            await trio.sleep(min(limited, 30.0) if limited is not None else policy.wait(exc, attempt, rng.random()))
    raise AssertionError("unreachable")


def history_csv(seed: int, rate: float, today: date) -> bytes:
    """A Spotify for Artists per-song timeline (``date,streams``, UTF-8 with a BOM, as S4A exports it) of
    the ``HISTORY_DAYS`` days before ``today``: per day a normal draw seeded by (``seed``, day) around
    ``HISTORY_SHARE`` of ``rate * 86,400`` (``rate``: listens a simulated second), rounded and at least 0."""
    mean = HISTORY_SHARE * rate * _DAY
    lines = ["date,streams"]
    for back in range(HISTORY_DAYS, 0, -1):
        day = today - timedelta(days=back)
        draw = random.Random(f"{seed}/history/{day.isoformat()}").gauss(mean, _HISTORY_NOISE * mean)
        lines.append(f"{day.isoformat()},{max(0, round(draw))}")
    return codecs.BOM_UTF8 + ("\r\n".join(lines) + "\r\n").encode()


async def _import_history(db: Database, org_id: uuid.UUID, track_id: uuid.UUID, seed: int, rate: float,
                          today: date) -> str:
    """Import the track's history (``history_csv``) the way a person uploads one; returns the line to
    print. The demo stands in for a person, so it takes the path a person's upload takes."""
    data = history_csv(seed, rate, today)
    prepared = await importer.prepare(db, org_id, data, f"{DEMO_TRACK.title}-timeline.csv", track_id=track_id)
    if prepared.started:
        await importer.load(db, org_id, prepared)
    status = prepared.record.status
    done = "imported" if prepared.started else "imported before" + ("" if status == "succeeded" else f", {status}")
    return (f"Demo history: {HISTORY_DAYS} days of Spotify for Artists streams before the campaign ({done}),"
            f" about {HISTORY_SHARE * rate * _DAY:,.0f} a day, {HISTORY_SHARE:.0%} of the live listens;"
            f" so about {1 - HISTORY_SHARE:.0%} of the campaign's streams show as incremental")


async def _webhook(db: Database, keys: Keys, org_id: uuid.UUID, url: str) -> str:
    existing = [e for e in await webhooks.list_endpoints(db, org_id) if e.url == url]
    if existing:
        return f"Demo webhook: {url} (its secret was printed when it was created)"
    endpoint, secret = await webhooks.create_endpoint(db, keys.token_encryption_key, org_id,
                                                      webhooks.NewEndpoint(url=url, description="sandbox demo"))
    return f"Demo webhook: {url} (id {endpoint.id}), secret {secret}"
