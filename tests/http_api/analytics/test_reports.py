"""Exports: `POST /v1/analytics/campaigns/{id}/export` answers with a signed, expiring link at once; the
file is made by the API's job runner; the link downloads it without a login, and a changed or expired
link does not. Every file is read back (csv, openpyxl, pypdf) and checked against the analytics route.

Rules: each test runs inside one ``async with serving(api)`` (the job runner makes the files), on
real time, polling the link until the file is ready.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import openpyxl
import pypdf
import trio
from prometheus_client import REGISTRY
from quart.datastructures import Headers

from engine import report_links
from engine.messages import MetricSample
from engine.store import facts, imports, report_exports
from engine.store.database import Database
from http_api.context import ApiContext
from songtrack.api import Api
from tests.helpers.factories import create_track
from tests.http_api.conftest import Client, MakeMember, Member, serving
from tests.http_api.post import post_created

START = date(2027, 1, 5)
START_AT = datetime(2027, 1, 15, tzinfo=UTC)
CAMPAIGN = {"name": "Winter Single", "budget": 500, "currency": "USD", "objective": "streams",
            "startDate": "2027-01-05T00:00:00Z", "endDate": "2027-01-14T23:59:59Z"}


async def _campaign(db: Database, client: Client, owner: Member) -> str:
    track = await create_track(db, owner.org_id, title="Frost", artist="Ana")
    created = await post_created(client, owner.headers, "/v1/campaigns", {**CAMPAIGN, "trackId": str(track)})
    campaign = str(created["id"])
    await imports.upsert_track_days(db, owner.org_id, None, "s4a", [
        imports.TrackDay(track_id=track, day=START + timedelta(days=n), streams=100 + n) for n in range(-28, 10)])
    await facts.upsert_samples(db, [
        MetricSample(organization_id=owner.org_id, campaign_id=uuid.UUID(campaign), day=START + timedelta(days=n),
                     metric=metric, value=value, source="meta:1", observed_at=START_AT, currency=currency)
        for n in range(10) for metric, value, currency in (("spend_minor", 1250 + n, "USD"),
                                                           ("impressions", 900, None), ("clicks", 9, None))])
    return campaign


async def _export(client: Client, member: Member, campaign: str, status: int = 200, **body: object) -> Any:
    response = await client.post(f"/v1/analytics/campaigns/{campaign}/export", headers=member.headers, json=body)
    answer = await response.get_json()
    assert response.status_code == status, answer
    return answer


async def _download(client: Client, url: str) -> tuple[int, bytes, Headers]:
    """The file behind ``url`` once it is made (no Authorization header: the link is the credential)."""
    parts = urlsplit(url)
    while True:
        response = await client.get(f"{parts.path}?{parts.query}")
        if response.status_code != 202:
            return response.status_code, await response.get_data(), response.headers
        await trio.sleep(0.02)


async def _analytics(client: Client, member: Member, campaign: str) -> Any:
    response = await client.get(f"/v1/analytics/campaigns/{campaign}", headers=member.headers)
    return await response.get_json()


def _exported(fmt: str) -> float:
    """Exports that succeeded in ``fmt`` (the metric of docs/metrics.md), by this process so far."""
    return REGISTRY.get_sample_value("songtrack_exports_total", {"format": fmt, "status": "succeeded"}) or 0.0


async def test_each_format_downloads_through_its_link_and_reads_back_as_the_analytics(
        api: Api, db: Database, client: Client, make_member: MakeMember, ctx: ApiContext) -> None:
    with trio.fail_after(60):
        async with serving(api):
            owner = await make_member()
            viewer = await make_member(org_id=owner.org_id, role="viewer")  # reading is enough to export
            campaign = await _campaign(db, client, owner)
            expected = await _analytics(client, owner, campaign)
            files = {}
            exported = {fmt: _exported(fmt) for fmt in ("csv", "xlsx", "pdf")}
            for fmt in ("csv", "xlsx", "pdf"):
                started = await _export(client, viewer, campaign, format=fmt)
                files[fmt] = (started, *await _download(client, started["reportUrl"]))
            assert {fmt: _exported(fmt) - before for fmt, before in exported.items()} == {"csv": 1, "xlsx": 1, "pdf": 1}
            follow = await client.get(f"/v1/reports/{files['pdf'][0]['id']}", headers=owner.headers)
    started, status, body, headers = files["csv"]
    assert started["reportUrl"].startswith(ctx.public_url + f"/v1/reports/{started['id']}/download?expires=")
    assert (started["status"], started["filename"]) == ("running", "Winter-Single_2027-01-05_2027-01-14.csv")
    assert status == 200 and headers["Content-Type"] == "text/csv; charset=utf-8; header=present"
    assert headers["Content-Disposition"] == 'attachment; filename="Winter-Single_2027-01-05_2027-01-14.csv"'
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[0] == ["date", "spend_USD", "impressions", "clicks", "streams"]
    assert rows[1:] == [[p["date"], f"{Decimal(str(p['spend'])):.2f}", str(p["impressions"]), str(p["clicks"]),
                         str(p["streams"])] for p in expected["daily"]]
    _, status, body, _ = files["xlsx"]
    series = openpyxl.load_workbook(io.BytesIO(body))["Series"]
    values = [[cell.value for cell in row] for row in series.iter_rows(min_row=2)]
    assert [(v[0].date(), v[4]) for v in values] == [(date.fromisoformat(p["date"]), p["streams"])
                                                      for p in expected["daily"]]
    assert all(isinstance(v[1], float | int) for v in values)  # typed cells, not text
    _, status, body, headers = files["pdf"]
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(body)).pages)
    assert status == 200 and headers["Content-Type"] == "application/pdf"
    assert "Winter Single" in text and f"{expected['attribution']['incrementalStreams']:,}" in text
    assert (await follow.get_json())["status"] == "succeeded"


async def test_a_changed_expired_or_foreign_link_does_not_download(
        api: Api, db: Database, client: Client, make_member: MakeMember, ctx: ApiContext) -> None:
    with trio.fail_after(60):
        async with serving(api):
            owner, stranger = await make_member(), await make_member()
            campaign = await _campaign(db, client, owner)
            started = await _export(client, owner, campaign, format="csv")
            url = urlsplit(started["reportUrl"])
            assert (await _download(client, started["reportUrl"]))[0] == 200
            tampered = url.query.replace("signature=", "signature=0")[:-1]
            forged = await client.get(f"{url.path}?{tampered}")
            other = await client.get(f"/v1/reports/{uuid.uuid4()}/download?{url.query}")
            key = report_links.link_key(ctx.keys.jwt_signing_key)
            past = int(ctx.now()) - 1
            expired = await client.get(report_links.download_path(key, uuid.UUID(started["id"]), past))
            hidden = await client.get(f"/v1/reports/{started['id']}", headers=stranger.headers)
            backwards = await _export(client, owner, campaign, status=400, format="pdf", startDate="2027-01-10",
                                      endDate="2027-01-01")
            wrong = await _export(client, owner, campaign, status=400, format="docx")
    assert forged.status_code == 403 and other.status_code == 403
    assert expired.status_code == 410
    assert hidden.status_code == 404
    assert backwards["error"]["details"][0]["field"] == "endDate"
    assert wrong["error"]["details"][0]["field"] == "format"


async def test_expired_exports_are_deleted(db: Database, make_member: MakeMember) -> None:
    owner = await make_member()
    new = report_exports.NewExport(kind="daily", campaign_id=None, format="csv", granularity="day",
                                   period_start=START, period_end=START, filename="daily.csv",
                                   expires_at=START_AT)
    made = await report_exports.create_export(db, owner.org_id, new, None)
    again = await report_exports.create_export(db, owner.org_id, new, None)
    assert made is not None and again is None  # one daily report per organization and day
    assert await report_exports.prune_expired(db, now=START_AT - timedelta(seconds=1)) == 0
    assert await report_exports.prune_expired(db, now=START_AT + timedelta(seconds=1)) == 1
