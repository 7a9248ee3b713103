"""Fans' consent end to end: the opt-in writes its record and gives a revoke link; the link shows a button,
and its POST disconnects the fan, erases their plays and takes them out of the campaign's streams.

Rules: the fan's hops are played by hand as in test_listeners.py (``tests/http_api/listen.py``); their
plays are stored as the listener actor stores them (``record_plays``, then stream events with its ids), and
the campaign's streams as the stream counter writes them (a ``stream_events`` fact, totals recomputed).
"""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import trio

from engine.messages import MetricSample
from engine.store import facts, listener_plays, stream_events
from engine.store.database import Database
from tests.helpers.factories import create_campaign, create_track
from tests.http_api.conftest import PUBLIC_URL, Client, MakeMember, Simulators
from tests.http_api.connect import local
from tests.http_api.listen import fan_callback, listen_link


async def _opt_in(client: Client, simulators: Simulators, db: Database, make_member: MakeMember) -> dict[str, Any]:
    # The database's clock stamps the opt-in and the plays must come after it: read it now, not at import.
    now = datetime.now(UTC)
    owner = await make_member()
    track = await create_track(db, owner.org_id, spotify_id="4uLU6hMCjMI75M1A2tKUQC")
    campaign = await create_campaign(db, owner.org_id, start=now - timedelta(days=1), track_id=track)
    link = await listen_link(client, owner, campaign)
    done = await client.get(await fan_callback(client, simulators, link, "fan0001"),
                            headers={"User-Agent": "FanPhone/2.0", "X-Forwarded-For": "203.0.113.9"})
    page = (await done.get_data()).decode()
    assert done.status_code == 200, page
    (revoke,) = re.findall(r'href="([^"]+/revoke\?signature=[0-9a-f]+)"', page)
    assert revoke.startswith(f"{PUBLIC_URL}/v1/listen/consents/")
    consent = await db.fetchrow("SELECT * FROM listener_consents WHERE campaign_id = $1", campaign)
    assert consent is not None
    return {"owner": owner, "track": track, "campaign": campaign, "link": link, "revoke": local(revoke),
            "consent": dict(consent), "now": now}


async def _plays(db: Database, made: dict[str, Any]) -> None:
    """Two plays of the fan that count, and one stream from elsewhere, all in the campaign's streams."""
    listener, org, track, now = made["consent"]["listener_id"], made["owner"].org_id, made["track"], made["now"]
    plays = [listener_plays.Play(played_at=now + timedelta(minutes=m), spotify_track_id="4uLU6hMCjMI75M1A2tKUQC")
             for m in (1, 2)]
    counted = await listener_plays.record_plays(db, listener, plays, cursor_ms=None, polled_at=now)
    events = [stream_events.NewEvent(event_id=f"listener:{listener}:{listener_plays.to_ms(p.played_at)}",
                                     track_id=p.track_id, platform="spotify", country="ZZ", occurred_at=p.played_at)
              for p in counted]
    other = stream_events.NewEvent(event_id="web-1", track_id=track, platform="web", country="GB", occurred_at=now)
    await stream_events.ingest(db, org, [*events, other], received_at=now)
    await _count_streams(db, made, now.date())


async def _count_streams(db: Database, made: dict[str, Any], day: Any) -> None:
    streams = await db.fetchval("SELECT streams FROM track_day_streams WHERE track_id = $1 AND day = $2",
                                made["track"], day)
    sample = MetricSample(organization_id=made["owner"].org_id, campaign_id=made["campaign"], day=day,
                          metric="streams", value=int(streams), source="stream_events", observed_at=made["now"])
    await facts.upsert_samples(db, [sample])
    await facts.recompute_totals(db, [made["campaign"]])


async def _streams(db: Database, campaign: uuid.UUID) -> object:
    return await db.fetchval("SELECT streams FROM campaigns WHERE id = $1", campaign)


async def test_an_opt_in_records_the_consent(client: Client, simulators: Simulators, db: Database,
                                             make_member: MakeMember) -> None:
    with trio.fail_after(20):
        made = await _opt_in(client, simulators, db, make_member)
    consent = made["consent"]
    assert (consent["spotify_user_id"], consent["scopes"], consent["user_agent"]) == (
        "fan0001", ["user-read-recently-played"], "FanPhone/2.0")
    # The peer's address: it is no trusted proxy, so its X-Forwarded-For is not believed (http_api/forwarded.py).
    assert consent["ip"] == "<local>" and consent["link_token"] == made["link"]["token"]
    assert consent["organization_id"] == made["owner"].org_id and consent["revoked_at"] is None
    exported = await client.get("/v1/organization/export", headers=made["owner"].headers)
    with zipfile.ZipFile(io.BytesIO(await exported.get_data())) as archive:
        rows = [json.loads(line) for line in archive.read("listener_consents.jsonl").splitlines()]
    assert [(row["id"], row["spotify_user_id"]) for row in rows] == [(str(consent["id"]), "fan0001")]


async def test_the_revoke_link_erases_the_plays_and_keeps_the_record(
        client: Client, simulators: Simulators, db: Database, make_member: MakeMember) -> None:
    with trio.fail_after(20):
        made = await _opt_in(client, simulators, db, make_member)
        await _plays(db, made)
        assert await _streams(db, made["campaign"]) == 3
        shown = await client.get(made["revoke"])
        assert shown.status_code == 200 and b'<form method="post"' in await shown.get_data()
        assert await _streams(db, made["campaign"]) == 3  # a GET changes nothing
        done = await client.post(made["revoke"], headers={"User-Agent": "FanPhone/2.0"})
    assert done.status_code == 200 and b"the 2 plays" in await done.get_data()
    assert await _streams(db, made["campaign"]) == 1
    listener = made["consent"]["listener_id"]
    for table in ("listener_accounts", "campaign_listeners", "listener_plays"):
        column = "id" if table == "listener_accounts" else "listener_id"
        assert await db.fetchval(f"SELECT count(*) FROM {table} WHERE {column} = $1", listener) == 0
    assert await db.fetchval("SELECT count(*) FROM stream_events WHERE event_id LIKE 'listener:%'") == 0
    record = await db.fetchrow("SELECT * FROM listener_consents WHERE id = $1", made["consent"]["id"])
    assert record is not None
    assert (record["listener_id"], record["plays_erased"], record["revoked_user_agent"]) == (None, 2, "FanPhone/2.0")
    assert record["revoked_at"] is not None and record["granted_at"] == made["consent"]["granted_at"]


async def test_a_forged_or_reused_revoke_link_is_refused(client: Client, simulators: Simulators, db: Database,
                                                         make_member: MakeMember) -> None:
    with trio.fail_after(20):
        made = await _opt_in(client, simulators, db, make_member)
    path, signature = made["revoke"].split("?signature=")
    other = f"/v1/listen/consents/{uuid.uuid4()}/revoke?signature={signature}"
    for forged in (f"{path}?signature={'0' * 64}", f"{path}?signature=", other):
        for method in ("GET", "POST"):
            refused = await client.open(forged, method=method)
            assert refused.status_code == 403 and b"not one we made" in await refused.get_data()
    assert (await client.post(made["revoke"])).status_code == 200
    for method in ("GET", "POST"):
        again = await client.open(made["revoke"], method=method)
        assert again.status_code == 410 and b"works once" in await again.get_data()
