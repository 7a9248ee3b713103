"""``engine.store.campaigns`` against a real PostgreSQL: round trips, goals, organization scoping, listing
(filters, sort whitelist, stable paging, the plan for a large organization) and the status compare-and-set.

Rules: each test gets a fresh migrated database from the ``db`` fixture and makes its own organizations;
real time only (no autojump clock); every test has a ``fail_after`` deadline.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import msgspec
import pytest
import trio

from engine.store import Database
from engine.store.campaign_meta import get_campaign_by_meta, link_meta, meta_links, set_meta_effective_status
from engine.store.campaigns import (
    Campaign,
    Goal,
    IllegalTransition,
    NewCampaign,
    create_campaign,
    delete_campaign,
    get_campaign,
    list_campaigns,
    set_campaign_status,
    update_campaign,
)
from engine.store.catalog_common import Conflict, NotFound
from tests.helpers import factories

_WAITING_ON_LOCKS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
)
START, END = datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 8, 31, 23, 59, 59, tzinfo=UTC)


def _new(name: str = "Summer Release", **fields: object) -> NewCampaign:
    base: dict[str, object] = dict(objective="streams", budget=5000.0, currency="USD", start_date=START,
                                   end_date=END)  # fmt: skip
    return NewCampaign(name=name, **{**base, **fields})  # type: ignore[arg-type]


async def test_create_get_round_trip_with_track_and_goals(db: Database) -> None:
    with trio.fail_after(10):
        org = await factories.create_org(db)
        track_id = await factories.create_track(db, org, title="Summer Vibes", artist="Artist")
        goals = [Goal(metric="streams", target=10_000), Goal(metric="clicks", target=500)]
        created = await create_campaign(db, org, _new(
            track_id=track_id, budget=1234.5, target_audience={"ageMin": 18, "locations": ["US"]},
            creative_assets={"headline": "Listen Now"},
        ), goals)  # fmt: skip
        assert (created.status, created.budget, created.budget_spent) == ("draft", 1234.5, 0.0)
        assert created.track is not None and created.track.title == "Summer Vibes"
        assert created.goals == sorted(goals, key=lambda goal: goal.metric)
        assert created.target_audience == {"ageMin": 18, "locations": ["US"]}
        assert created.launched_at is None and created.start_date == START
        assert await get_campaign(db, org, created.id) == created


async def test_encodes_as_the_apis_camel_case_json(db: Database) -> None:
    with trio.fail_after(10):
        org = await factories.create_org(db)
        track_id = await factories.create_track(db, org)
        campaign = await create_campaign(db, org, _new(track_id=track_id))
        await db.execute("UPDATE campaigns SET budget_spent = 1250.50, impressions = 150000, streams = 12")
        wire = msgspec.json.decode(msgspec.json.encode(await get_campaign(db, org, campaign.id)))
        assert {"trackId", "budgetSpent", "startDate", "targetAudience", "creativeAssets"} <= set(wire)
        assert wire["budgetSpent"] == 1250.5 and wire["budget"] == 5000
        assert set(wire["track"]) == {"id", "title", "artist"}
        assert wire["metrics"] == {"impressions": 150000, "clicks": 0, "streams": 12}


async def test_tracks_of_another_organization_cannot_be_attached(db: Database) -> None:
    with trio.fail_after(10):
        org_a, org_b = await factories.create_org(db, "a"), await factories.create_org(db, "b")
        track_a = await factories.create_track(db, org_a)
        for track_id in (track_a, uuid.uuid4()):
            with pytest.raises(NotFound) as info:
                await create_campaign(db, org_b, _new(track_id=track_id))
            assert info.value.field == "trackId"
        assert await db.fetchval("SELECT count(*) FROM campaigns") == 0
        campaign = await create_campaign(db, org_b, _new())
        with pytest.raises(NotFound, match="trackId"):
            await update_campaign(db, org_b, campaign.id, {"track_id": track_a, "name": "renamed"})
        assert await get_campaign(db, org_b, campaign.id) == campaign


async def test_another_organizations_campaign_is_not_found(db: Database) -> None:
    with trio.fail_after(10):
        org_a, org_b = await factories.create_org(db, "a"), await factories.create_org(db, "b")
        campaign = await create_campaign(db, org_a, _new(), [Goal(metric="streams", target=1)])
        assert await get_campaign(db, org_b, campaign.id) is None
        assert await update_campaign(db, org_b, campaign.id, {"name": "x"}, goals=[]) is None
        assert await set_campaign_status(db, org_b, campaign.id, expected_from={"draft"}, to="active") is None
        assert await delete_campaign(db, org_b, campaign.id) is False
        assert (await list_campaigns(db, org_b)).total == 0
        assert await get_campaign(db, org_a, campaign.id) == campaign


async def test_update_sets_only_given_fields_and_replaces_goals(db: Database) -> None:
    with trio.fail_after(10):
        org = await factories.create_org(db)
        track_id = await factories.create_track(db, org)
        goals = [Goal(metric="streams", target=10), Goal(metric="clicks", target=5)]
        campaign = await create_campaign(db, org, _new(track_id=track_id), goals)
        updated = await update_campaign(db, org, campaign.id, {"budget": 99.99, "creative_assets": {"a": 1}})
        assert updated is not None and updated.updated_at > campaign.updated_at
        assert (updated.budget, updated.creative_assets, updated.name) == (99.99, {"a": 1}, campaign.name)
        assert updated.goals == campaign.goals  # goals=None keeps them

        impressions = [Goal(metric="impressions", target=7)]
        replaced = await update_campaign(db, org, campaign.id, {}, goals=impressions)
        assert replaced is not None and replaced.goals == impressions
        detached = await update_campaign(db, org, campaign.id, {"track_id": None}, goals=[])
        assert detached is not None
        assert (detached.track_id, detached.track, detached.goals) == (None, None, [])
        with pytest.raises(ValueError, match="status"):
            await update_campaign(db, org, campaign.id, {"status": "active"})


async def test_duplicate_goal_metrics_conflict_and_change_nothing(db: Database) -> None:
    with trio.fail_after(10):
        org = await factories.create_org(db)
        twice = [Goal(metric="streams", target=1), Goal(metric="streams", target=2)]
        with pytest.raises(Conflict, match="goals"):
            await create_campaign(db, org, _new(), twice)
        assert await db.fetchval("SELECT count(*) FROM campaigns") == 0
        campaign = await create_campaign(db, org, _new(), [Goal(metric="clicks", target=3)])
        with pytest.raises(Conflict):
            await update_campaign(db, org, campaign.id, {"name": "renamed"}, goals=twice)
        assert await get_campaign(db, org, campaign.id) == campaign


async def test_list_filters_by_status_and_searches_names_literally(db: Database) -> None:
    with trio.fail_after(10):
        org = await factories.create_org(db)
        for name in ("50% off", "500 off", "a_b", "axb"):
            await create_campaign(db, org, _new(name))
        active = await create_campaign(db, org, _new("Launch"))
        await set_campaign_status(db, org, active.id, expected_from={"draft"}, to="active")

        async def names(**query: str) -> list[str]:
            return sorted(c.name for c in (await list_campaigns(db, org, **query)).items)  # type: ignore[arg-type]

        assert await names(search="0%") == ["50% off"]
        assert await names(search="_") == ["a_b"]
        assert await names(search="OFF") == ["50% off", "500 off"]
        assert await names(status="active") == ["Launch"]
        assert await names(status="draft", search="launch") == []


async def test_list_pages_are_stable_with_ties_in_either_order(db: Database) -> None:
    with trio.fail_after(10):
        org = await factories.create_org(db)
        ids = set()
        for i, budget in enumerate([10.0, 20.0, 20.0, 20.0, 30.0]):
            ids.add((await create_campaign(db, org, _new(f"c{i}", budget=budget))).id)
        for order in ("asc", "desc"):
            seen: list[Campaign] = []
            for offset in (0, 2, 4):
                page = await list_campaigns(db, org, sort="budget", order=order, limit=2, offset=offset)
                assert (page.total, page.has_next) == (5, offset < 3)
                seen += page.items
            assert {c.id for c in seen} == ids and len(seen) == 5
            budgets = [c.budget for c in seen]
            assert budgets == sorted(budgets, reverse=order == "desc")


async def test_list_refuses_sort_keys_outside_the_whitelist(db: Database) -> None:
    with trio.fail_after(10):
        org = await factories.create_org(db)
        for sort, order in [("organization_id", "asc"), ("created_at", "asc"), ("name; DROP", "asc"),
                            ("name", "sideways")]:  # fmt: skip
            with pytest.raises(ValueError):
                await list_campaigns(db, org, sort=sort, order=order)
        for sort in ("createdAt", "updatedAt", "name", "startDate", "endDate", "budget", "status"):
            assert (await list_campaigns(db, org, sort=sort, order="asc")).total == 0


async def test_a_page_of_a_large_organization_reads_through_the_index(db: Database) -> None:
    with trio.fail_after(20):
        org, other = await factories.create_org(db, "big"), await factories.create_org(db, "other")
        await db.execute(
            "INSERT INTO campaigns (organization_id, name, objective, budget, currency, start_date,"
            " end_date, created_at) SELECT CASE WHEN i % 10 = 0 THEN $2::uuid ELSE $1::uuid END, 'c' || i,"
            " 'streams', i, 'USD', $3, $4, now() - i * interval '1 second' FROM generate_series(1, 11000) i",
            org, other, START, END,
        )  # fmt: skip
        await db.execute("ANALYZE campaigns")
        recorder = _Recorder(db)
        page = await list_campaigns(recorder, org, limit=20)  # type: ignore[arg-type]
        assert page.total == 9900 and len(page.items) == 20 and page.has_next
        assert [c.name for c in page.items[:2]] == ["c1", "c2"]
        sql, args = recorder.statements[-1]
        plan = await db.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args)
        nodes = list(_nodes(json.loads(str(plan))[0]["Plan"]))
        assert any(node.get("Index Name") == "campaigns_organization_idx" for node in nodes), nodes
        assert not any(n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "campaigns" for n in nodes)
        # Only the page's campaigns are joined with their goals.
        goals = [node for node in nodes if node.get("Relation Name") == "campaign_goals"]
        assert goals and all(node["Actual Loops"] <= 20 for node in goals)


async def test_status_compare_and_set(db: Database) -> None:
    with trio.fail_after(10):
        org = await factories.create_org(db)
        campaign = await create_campaign(db, org, _new())
        launched = await set_campaign_status(db, org, campaign.id, expected_from={"draft"}, to="active")
        assert launched is not None and launched.status == "active" and launched.launched_at is not None
        assert launched.updated_at > campaign.updated_at

        with pytest.raises(IllegalTransition) as info:
            await set_campaign_status(db, org, campaign.id, expected_from={"draft"}, to="active")
        assert (info.value.current, info.value.field) == ("active", "status")
        assert await get_campaign(db, org, campaign.id) == launched  # nothing changed, not even updated_at

        paused = await set_campaign_status(db, org, campaign.id, expected_from={"active"}, to="paused")
        assert paused is not None and paused.launched_at == launched.launched_at
        resumed = await set_campaign_status(db, org, campaign.id, expected_from={"paused"}, to="active")
        assert resumed is not None and resumed.launched_at == launched.launched_at  # the first launch counts
        assert await set_campaign_status(db, org, uuid.uuid4(), expected_from={"draft"}, to="active") is None


async def test_of_two_concurrent_transitions_exactly_one_wins(db: Database) -> None:
    with trio.fail_after(10):
        org = await factories.create_org(db)
        campaign = await create_campaign(db, org, _new())
        outcomes: dict[str, str] = {}

        async def transition(to: str) -> None:
            try:
                await set_campaign_status(db, org, campaign.id, expected_from={"draft"}, to=to)
                outcomes[to] = "won"
            except IllegalTransition as exc:
                outcomes[to] = f"refused from {exc.current}"

        # We hold the row until both UPDATEs wait on it, so they really race for the same row version.
        # The transaction is entered last, so it commits (releasing the row) before the nursery waits.
        async with trio.open_nursery() as nursery, db.transaction() as holder:
            await holder.execute("SELECT 1 FROM campaigns WHERE id = $1 FOR UPDATE", campaign.id)
            nursery.start_soon(transition, "active")
            nursery.start_soon(transition, "archived")
            # The server has no event to wait on, so we poll pg_stat_activity.
            while await _count(db, _WAITING_ON_LOCKS) < 2:  # noqa: ASYNC110
                await trio.sleep(0.01)
        winner = next(to for to, outcome in outcomes.items() if outcome == "won")
        loser = next(to for to in outcomes if to != winner)
        assert outcomes[loser] == f"refused from {winner}"
        final = await get_campaign(db, org, campaign.id)
        assert final is not None and final.status == winner


async def test_delete_removes_campaign_and_goals_and_keeps_the_track(db: Database) -> None:
    with trio.fail_after(10):
        org = await factories.create_org(db)
        track_id = await factories.create_track(db, org)
        campaign = await create_campaign(db, org, _new(track_id=track_id), [Goal(metric="streams", target=1)])
        assert await delete_campaign(db, org, campaign.id) is True
        assert await get_campaign(db, org, campaign.id) is None
        assert await delete_campaign(db, org, campaign.id) is False
        assert await db.fetchval("SELECT count(*) FROM campaign_goals") == 0
        assert await db.fetchval("SELECT count(*) FROM tracks") == 1


async def _count(db: Database, sql: str) -> int:
    count = await db.fetchval(sql)
    assert isinstance(count, int)
    return count


class _Recorder:
    """Passes queries to the database and remembers them, so a test can EXPLAIN what a function ran."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.statements: list[tuple[str, tuple[object, ...]]] = []

    async def fetch(self, sql: str, *args: object) -> object:
        self.statements.append((sql, args))
        return await self._db.fetch(sql, *args)

    async def fetchval(self, sql: str, *args: object) -> object:
        self.statements.append((sql, args))
        return await self._db.fetchval(sql, *args)


def _nodes(plan: dict[str, object]):  # type: ignore[no-untyped-def]
    yield plan
    for child in plan.get("Plans", []):  # type: ignore[attr-defined]
        yield from _nodes(child)


async def test_a_campaign_links_to_one_meta_campaign_once(db: Database) -> None:
    with trio.fail_after(10):
        org, other = await factories.create_org(db), await factories.create_org(db, "other")
        first, second = await create_campaign(db, org, _new()), await create_campaign(db, org, _new("B"))
        assert (first.meta_campaign_id, first.meta_ad_account_id, first.meta_effective_status) == (None, None, None)
        linked = await link_meta(db, org, first.id, ad_account_id="act_1", meta_campaign_id="120",
                                 effective_status="PAUSED")
        assert linked is not None
        assert (linked.meta_ad_account_id, linked.meta_campaign_id, linked.meta_effective_status) == (
            "act_1", "120", "PAUSED")
        with pytest.raises(Conflict) as twice:
            await link_meta(db, org, first.id, ad_account_id="act_1", meta_campaign_id="121", effective_status=None)
        assert twice.value.field == "campaignId"
        with pytest.raises(Conflict) as taken:
            await link_meta(db, org, second.id, ad_account_id="act_1", meta_campaign_id="120", effective_status=None)
        assert taken.value.field == "metaCampaignId"
        assert await link_meta(db, other, first.id, ad_account_id="act_1", meta_campaign_id="122",
                               effective_status=None) is None
        assert await meta_links(db, org) == {"120": first.id} and await meta_links(db, other) == {}
        moved = await set_meta_effective_status(db, org, "120", "ACTIVE")
        assert moved is not None and moved.meta_effective_status == "ACTIVE" and moved.updated_at == linked.updated_at
        assert await set_meta_effective_status(db, other, "120", "ACTIVE") is None
        found = await get_campaign_by_meta(db, org, "120")
        assert found is not None and found.id == first.id and await get_campaign_by_meta(db, other, "120") is None


async def test_the_meta_status_changes_only_by_its_rule(db: Database) -> None:
    """``set_meta_effective_status``: a new status is written, an equal one writes nothing, ``None`` (Meta did
    not say) keeps what we knew; never ``updated_at``, never a webhook event."""
    with trio.fail_after(10):
        org = await factories.create_org(db)
        ours = await create_campaign(db, org, _new())
        linked = await link_meta(db, org, ours.id, ad_account_id="act_1", meta_campaign_id="120",
                                 effective_status="PAUSED")
        assert linked is not None
        version = "SELECT xmin::text FROM campaigns WHERE id = $1"
        before = await db.fetchval(version, ours.id)
        same = await set_meta_effective_status(db, org, "120", "PAUSED")
        assert same == linked and await db.fetchval(version, ours.id) == before
        moved = await set_meta_effective_status(db, org, "120", "ACTIVE")
        assert moved is not None and moved.meta_effective_status == "ACTIVE" and moved.updated_at == linked.updated_at
        kept = await set_meta_effective_status(db, org, "120", None)
        assert kept == moved and await db.fetchval(version, ours.id) != before
        events = await db.fetch("SELECT type FROM webhook_events WHERE organization_id = $1", org)
        assert [row["type"] for row in events] == ["campaign.created"]
