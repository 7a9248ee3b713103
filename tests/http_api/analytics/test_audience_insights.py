"""`GET /v1/analytics/audiences/{audienceId}/insights` and the `targetAudience.audienceId` that ties
campaigns to an audience, through Quart's test client against a real PostgreSQL and the Meta simulator,
connected through our real OAuth routes.

Rules of this file: expected numbers come from the simulator (``World.truth``), never hard-coded. Our
campaigns are linked to the simulator's seeded ACTIVE campaigns with the store's ``link_meta`` (a campaign
created through ``POST /v1/meta/campaigns`` starts PAUSED and delivers nothing).
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from quart.typing import TestClientProtocol as Client

from adapters.meta.simulator import Account
from engine.store import campaign_meta
from engine.store.database import Database
from http_api.context import ApiContext
from tests.http_api.conftest import MakeMember, Member, Simulators
from tests.http_api.connect import connect
from tests.http_api.post import post_created

CAMPAIGN = {"name": "Summer Release", "budget": 5000, "currency": "USD", "objective": "streams",
            "startDate": "2026-06-01T00:00:00Z", "endDate": "2026-12-31T23:59:59Z"}
# The simulators start at the API's EPOCH (2027-01-15); the seeded campaigns began about 60 days before.
SINCE, UNTIL = date(2027, 1, 1), date(2027, 1, 7)
DIMENSIONS = ("age", "gender", "country")
Totals = dict[str, tuple[int, int, Decimal]]  # bucket value → (impressions, clicks, spend in major units)


def _path(audience_id: str, query: str = f"?startDate={SINCE}&endDate={UNTIL}") -> str:
    return f"/v1/analytics/audiences/{audience_id}/insights{query}"


async def _audience(client: Client, member: Member) -> str:
    return str((await post_created(client, member.headers, "/v1/audiences", {"name": "Fans", "criteria": {}}))["id"])


async def _campaign(client: Client, member: Member, audience_id: str | None) -> str:
    body = CAMPAIGN | {"targetAudience": {"ageMin": 18, "audienceId": audience_id}}
    created = await post_created(client, member.headers, "/v1/campaigns", body)
    assert created["targetAudience"]["audienceId"] == audience_id
    return str(created["id"])


async def _linked(db: Database, member: Member, campaign_id: str, account: Account, meta_campaign_id: str) -> None:
    linked = await campaign_meta.link_meta(db, member.org_id, uuid.UUID(campaign_id),
                                           ad_account_id=f"act_{account.account_id}",
                                           meta_campaign_id=meta_campaign_id, effective_status="ACTIVE")
    assert linked is not None


def _active(sims: Simulators, account: Account) -> list[str]:
    return [c.id for c in sims.meta.world.campaigns_of(account) if c.status == "ACTIVE"]


def _accounts(sims: Simulators) -> list[Account]:
    return list(sims.meta.world.accounts.values())  # profiles in order: USD first, JPY second


def _truth(sims: Simulators, meta_ids: list[str], dimension: str) -> Totals:
    """What Meta reports for the campaigns from SINCE to UNTIL, per bucket, added up; empty buckets left out."""
    world, sums = sims.meta.world, dict[str, tuple[int, int, Decimal]]()
    for meta_id in meta_ids:
        offset = world.accounts[world.campaigns[meta_id].account_id].offset
        day = SINCE
        while day <= UNTIL:
            for (value,), m in world.truth(meta_id, day, (dimension,)).items():
                impressions, clicks, spend = sums.get(value, (0, 0, Decimal(0)))
                sums[value] = (impressions + m.impressions, clicks + m.clicks, spend + Decimal(m.spend_minor) / offset)
            day += timedelta(days=1)
    return {value: totals for value, totals in sums.items() if totals[0] or totals[2]}


def _got(buckets: list[dict[str, Any]]) -> Totals:
    return {b["value"]: (b["impressions"], b["clicks"], Decimal(b["spend"])) for b in buckets}


async def _get(client: Client, member: Member, path: str, status: int = 200) -> dict[str, Any]:
    response = await client.get(path, headers=member.headers)
    body: dict[str, Any] = await response.get_json()
    assert response.status_code == status, body
    return body


async def test_breakdowns_add_up_to_the_simulators_truth(client: Client, simulators: Simulators, db: Database,
                                                         make_member: MakeMember) -> None:
    owner = await make_member()
    await connect(client, simulators, "meta", owner)
    audience = await _audience(client, owner)
    usd = _accounts(simulators)[0]
    meta_ids = _active(simulators, usd)[:2]
    ours = [await _campaign(client, owner, audience) for _ in meta_ids]
    for campaign_id, meta_id in zip(ours, meta_ids, strict=True):
        await _linked(db, owner, campaign_id, usd, meta_id)
    await _campaign(client, owner, audience)  # not linked to Meta: not one of the audience's campaigns
    await _linked(db, owner, await _campaign(client, owner, None), usd, _active(simulators, usd)[2])

    body = await _get(client, owner, _path(audience))
    assert (body["audienceId"], body["period"]) == (audience, {"start": str(SINCE), "end": str(UNTIL)})
    assert (body["campaigns"], body["currency"], body["spendNote"]) == (ours, usd.currency, None)
    total = sum(impressions for impressions, _, _ in _truth(simulators, meta_ids, "age").values())
    assert total > 0
    for dimension in DIMENSIONS:
        buckets = body[dimension]
        assert _got(buckets) == _truth(simulators, meta_ids, dimension), dimension
        assert sum(b["impressions"] for b in buckets) == total
        assert math.isclose(sum(b["share"] for b in buckets), 1.0)
        assert [(-b["impressions"], b["value"]) for b in buckets] == sorted((-b["impressions"], b["value"])
                                                                             for b in buckets)
        assert all(len(b["spend"].partition(".")[2]) == 2 for b in buckets)  # USD has cents


async def test_several_currencies_leave_spend_out(client: Client, simulators: Simulators, db: Database,
                                                  make_member: MakeMember) -> None:
    owner = await make_member()
    await connect(client, simulators, "meta", owner)
    audience = await _audience(client, owner)
    usd, jpy = _accounts(simulators)[:2]
    meta_ids = [_active(simulators, usd)[0], _active(simulators, jpy)[0]]
    for account, meta_id in zip((usd, jpy), meta_ids, strict=True):
        await _linked(db, owner, await _campaign(client, owner, audience), account, meta_id)

    body = await _get(client, owner, _path(audience))
    assert body["currency"] is None
    assert "JPY, USD" in body["spendNote"]
    for dimension in DIMENSIONS:
        truth = _truth(simulators, meta_ids, dimension)
        assert {b["value"]: (b["impressions"], b["clicks"]) for b in body[dimension]} == {
            value: totals[:2] for value, totals in truth.items()}
        assert all(b["spend"] is None for b in body[dimension])


async def test_an_audience_nothing_targets_has_empty_breakdowns(client: Client, make_member: MakeMember,
                                                                ctx: ApiContext) -> None:
    owner = await make_member()  # Meta not connected: no campaign, so Meta is not asked
    audience = await _audience(client, owner)
    await _campaign(client, owner, None)
    body = await _get(client, owner, _path(audience, ""))
    end = datetime.fromtimestamp(ctx.now(), UTC).date()
    assert body["period"] == {"start": str(end - timedelta(days=29)), "end": str(end)}
    assert (body["campaigns"], body["currency"], body["age"], body["gender"], body["country"]) == (
        [], None, [], [], [])


async def test_meta_not_connected_is_409_when_campaigns_target_it(
    client: Client, simulators: Simulators, db: Database, make_member: MakeMember
) -> None:
    owner = await make_member()
    audience = await _audience(client, owner)
    usd = _accounts(simulators)[0]
    await _linked(db, owner, await _campaign(client, owner, audience), usd, _active(simulators, usd)[0])
    body = await _get(client, owner, _path(audience), 409)
    assert body["error"]["code"] == "INTEGRATION_ERROR"


async def test_another_organizations_audience_is_404_and_a_viewer_reads(
    client: Client, simulators: Simulators, db: Database, make_member: MakeMember
) -> None:
    owner, stranger = await make_member(), await make_member()
    await connect(client, simulators, "meta", owner)
    audience = await _audience(client, owner)
    usd = _accounts(simulators)[0]
    await _linked(db, owner, await _campaign(client, owner, audience), usd, _active(simulators, usd)[0])
    for path in (_path(audience), _path(str(uuid.uuid4()))):
        assert (await _get(client, stranger, path, 404))["error"]["code"] == "NOT_FOUND"
    viewer = await make_member(org_id=owner.org_id, role="viewer")
    assert len((await _get(client, viewer, _path(audience)))["campaigns"]) == 1


async def test_the_period_is_checked(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    audience = await _audience(client, owner)
    for query, field in (("?startDate=2026-09-01&endDate=2027-01-10", "endDate"),
                         ("?startDate=2027-01-10&endDate=2027-01-01", "endDate"),
                         ("?startDate=2020-01-01&endDate=2020-01-31", "startDate")):
        body = await _get(client, owner, _path(audience, query), 400)
        assert body["error"]["details"][0]["field"] == field, query


async def test_a_campaigns_audience_must_be_the_organizations(client: Client, make_member: MakeMember) -> None:
    owner, stranger = await make_member(), await make_member()
    theirs = await _audience(client, stranger)
    for audience_id in (theirs, str(uuid.uuid4())):
        body = CAMPAIGN | {"targetAudience": {"audienceId": audience_id}}
        response = await client.post("/v1/campaigns", headers=owner.headers, json=body)
        assert response.status_code == 400
        assert (await response.get_json())["error"]["details"] == [
            {"field": "targetAudience.audienceId", "message": "no such audience in your organization"}]
    campaign_id = await _campaign(client, owner, await _audience(client, owner))
    patched = await client.patch(f"/v1/campaigns/{campaign_id}", headers=owner.headers,
                                 json={"targetAudience": {"audienceId": theirs}})
    assert patched.status_code == 400
    assert (await patched.get_json())["error"]["details"][0]["field"] == "targetAudience.audienceId"
    # An audience's own criteria do not name an audience.
    criteria = {"name": "Nested", "criteria": {"audienceId": theirs}}
    assert (await client.post("/v1/audiences", headers=owner.headers, json=criteria)).status_code == 400
