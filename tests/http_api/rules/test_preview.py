"""`POST /v1/rules/preview` and `POST /v1/rules/{id}/preview` over facts and stream days stored the way the
aggregator and imports store them: the days a rule would have fired, what it would have done, and on which
campaigns and days it ran.

The world (as in tests/http_api/analytics/test_analytics.py): the API's clock is 2027-01-15 08:00 UTC (every
test takes ``mock_clock``, so trio runs on it). The campaign runs from 2027-01-05 to 2027-01-20; its track
had 90 and 110 streams on alternate days for the 28 days before (a mean of 100), then 150 a day, and 60 so
far today; Meta reported $10.00 a day, $80.00 on 2027-01-09 and 2027-01-11, from 2027-01-05 to 2027-01-14.
Each day is evaluated at 23:59:59 UTC.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from quart.typing import TestClientProtocol as Client
from trio.testing import MockClock

from engine.messages import MetricSample
from engine.store import facts, imports
from engine.store.database import Database
from tests.helpers.factories import create_campaign, create_track
from tests.http_api.analytics.test_analytics import START, track_days
from tests.http_api.conftest import EPOCH, MakeMember, Member
from tests.http_api.post import post_created
from tests.http_api.rules.test_rules import EXAMPLE

SPIKES = {date(2027, 1, 9), date(2027, 1, 11)}
COSTLY_DAY = {"field": "spend", "operator": "greater_than", "value": 50, "durationHours": 24}


async def _world(db: Database, client: Client, member: Member) -> str:
    track = await create_track(db, member.org_id, title="Frost", artist="Ana")
    campaign = await post_created(client, member.headers, "/v1/campaigns", {
        "name": "Winter Single", "budget": 500, "currency": "USD", "trackId": str(track),
        "startDate": "2027-01-05T00:00:00Z", "endDate": "2027-01-20T23:59:59Z"})
    launched = await client.post(f"/v1/campaigns/{campaign['id']}/launch", headers=member.headers)
    assert launched.status_code == 200, await launched.get_json()
    await imports.upsert_track_days(db, member.org_id, None, "s4a", track_days(track))
    observed = datetime.fromtimestamp(EPOCH, UTC)
    samples = [MetricSample(organization_id=member.org_id, campaign_id=uuid.UUID(campaign["id"]), day=day,
                            metric=metric, value=value, source="meta:1", observed_at=observed, currency=currency)
               for day in (START + timedelta(n) for n in range(10))
               for metric, value, currency in (("spend_minor", 8000 if day in SPIKES else 1000, "USD"),
                                               ("impressions", 1000, None), ("clicks", 20, None))]
    async with db.transaction() as tx:  # as the aggregator writes a batch
        await facts.recompute_totals(tx, await facts.upsert_samples(tx, samples))
    return str(campaign["id"])


async def _preview(client: Client, member: Member, path: str, body: dict[str, Any], status: int = 200) -> Any:
    """The preview (under ``data``), or the error's answer when ``status`` is not 200."""
    response = await client.post(path, headers=member.headers, json=body)
    answer = await response.get_json()
    assert response.status_code == status, answer
    return answer["data"] if status == 200 else answer


def _end_of(day: int) -> str:
    return f"2027-01-{day:02d}T23:59:59Z"


async def test_the_issues_example_would_have_paused_the_campaign_once(
        client: Client, db: Database, make_member: MakeMember, mock_clock: MockClock) -> None:
    owner = await make_member()
    campaign = await _world(db, client, owner)
    answer = await _preview(client, owner, "/v1/rules/preview", EXAMPLE)  # a create body, as it is
    # From the first day its 48 h window is full: $20.00 over 2 * 150 - 2 * 100 = 100 incremental streams.
    (firing,) = answer["firings"]
    assert firing | {"conditions": None} == {
        "at": _end_of(6), "campaignId": campaign, "campaignName": "Winter Single", "conditions": None,
        "outcome": "applied", "detail": None, "before": {"status": "active"}, "after": {"status": "paused"}}
    assert firing["conditions"] == [{"field": "costPerIncrementalStream", "operator": "greater_than",
                                     "durationHours": 48, "actual": "0.200000", "expected": "0.05", "met": True}]
    # The default period: the last 30 days, of which the campaign ran from the 5th to today.
    assert {key: answer[key] for key in ("startDate", "endDate", "campaigns", "evaluations", "action")} == {
        "startDate": "2026-12-17", "endDate": "2027-01-15", "campaigns": 1, "evaluations": 11,
        "action": {"type": "pause_campaign", "config": {}}}


async def test_an_alert_lists_every_day_it_would_have_fired_in_the_period(
        client: Client, db: Database, make_member: MakeMember, mock_clock: MockClock) -> None:
    owner = await make_member()
    campaign = await _world(db, client, owner)
    other = await create_campaign(db, owner.org_id, name="Other", start=datetime(2027, 1, 1, tzinfo=UTC),
                                  status="active")
    await create_campaign(db, owner.org_id, name="Draft", start=datetime(2027, 1, 1, tzinfo=UTC))  # never ran
    rule = {"condition": COSTLY_DAY, "action": {"type": "send_alert", "config": {"message": "costly"}},
            "cooldownHours": 0}
    answer = await _preview(client, owner, "/v1/rules/preview", rule)
    assert [(f["at"], f["campaignId"]) for f in answer["firings"]] == [(_end_of(9), campaign), (_end_of(11), campaign)]
    assert (answer["campaigns"], answer["evaluations"]) == (2, 11 + 15)
    scoped = await _preview(client, owner, "/v1/rules/preview", rule | {"appliesTo": {"campaigns": [campaign]}})
    assert (scoped["campaigns"], scoped["evaluations"], len(scoped["firings"])) == (1, 11, 2)
    stored = await post_created(client, owner.headers, "/v1/rules", rule | {"name": "Costly", "status": "inactive"})
    window = {"startDate": "2027-01-10", "endDate": "2027-01-12", "campaignIds": [campaign, str(other)]}
    answer = await _preview(client, owner, f"/v1/rules/{stored['id']}/preview", window)
    assert [f["at"] for f in answer["firings"]] == [_end_of(11)]
    assert (answer["campaigns"], answer["evaluations"]) == (2, 6)
    rows = await db.fetchval("SELECT count(*) FROM rule_runs WHERE rule_id IS NOT NULL")
    assert rows == 0  # a preview records nothing


async def test_a_preview_refuses_other_campaigns_and_a_bad_period(
        client: Client, db: Database, make_member: MakeMember, mock_clock: MockClock) -> None:
    owner, other = await make_member(), await make_member()
    mine, theirs = await create_campaign(db, owner.org_id), await create_campaign(db, other.org_id)
    rule = {"condition": COSTLY_DAY, "action": {"type": "pause_campaign"}}
    for body, field in (({"campaignIds": [str(mine), str(theirs)]}, "campaignIds[1]"),
                        ({"startDate": "2027-01-10", "endDate": "2027-01-09"}, "endDate"),
                        ({"startDate": "2026-01-01", "endDate": "2027-01-10"}, "endDate")):
        answer = await _preview(client, owner, "/v1/rules/preview", rule | body, status=422)
        assert [d["field"] for d in answer["error"]["details"]] == [field]
        assert str(theirs) not in str(answer)
