"""`GET /v1/rules/{id}/history` and `GET /v1/campaigns/{id}/history` against a real per-test PostgreSQL: a
member's pause, launch, resume and budget change appear there (manual, with who and the values before and
after) next to a rule's firings, newest first, in the API's pagination.

Rules of this file: the API's clock is ``mock_clock`` (a minute between actions, so their order is their
time's); a rule's firings are recorded with ``rule_runs.insert_run``, as the evaluator records them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from quart.typing import TestClientProtocol as Client
from trio.testing import MockClock

from engine.store import rule_runs
from engine.store.database import Database
from tests.http_api.conftest import EPOCH, MakeMember, Member
from tests.http_api.paging import assert_paged
from tests.http_api.post import post_created, post_track
from tests.http_api.rules.test_rules import EXAMPLE

CAMPAIGN = {"name": "Summer", "budget": 100, "currency": "USD", "startDate": "2027-01-01T00:00:00Z",
            "endDate": "2027-03-31T23:59:59Z"}


async def _act(client: Client, member: Member, clock: MockClock, method: str, path: str, body: object = None,
               status: int = 200) -> None:
    clock.jump(60)
    response = await client.open(path, method=method, headers=member.headers, json=body)
    assert response.status_code == status, (path, await response.get_json())


async def _history(client: Client, member: Member, path: str) -> list[dict[str, Any]]:
    response = await client.get(f"{path}/history?limit=100", headers=member.headers)
    assert response.status_code == 200, await response.get_json()
    history: list[dict[str, Any]] = (await response.get_json())["history"]
    return history


async def test_a_members_actions_are_in_the_campaigns_history(client: Client, make_member: MakeMember,
                                                              mock_clock: MockClock) -> None:
    owner = await make_member()
    member = await make_member(org_id=owner.org_id, role="member")
    campaign = await post_created(client, owner.headers, "/v1/campaigns",
                                  CAMPAIGN | {"trackId": await post_track(client, owner.headers)})
    path = f"/v1/campaigns/{campaign['id']}"
    await _act(client, owner, mock_clock, "POST", f"{path}/pause", status=409)  # a draft: refused, not recorded
    await _act(client, owner, mock_clock, "POST", f"{path}/launch")
    await _act(client, member, mock_clock, "POST", f"{path}/pause")
    await _act(client, owner, mock_clock, "POST", f"{path}/launch")
    await _act(client, member, mock_clock, "PATCH", path, {"budget": 80, "name": "Summer II"})
    await _act(client, owner, mock_clock, "PATCH", path, {"name": "Summer III", "budget": 80})  # no change of budget
    await _act(client, owner, mock_clock, "PATCH", path, {"status": "paused", "budget": 120})
    await _act(client, owner, mock_clock, "POST", f"{path}/archive")  # not an action a rule takes
    history = await _history(client, owner, path)
    # The last PATCH changed the budget and the status at one instant: two entries, in the order of their ids.
    last_two = sorted(history[:2], key=lambda h: h["action"]["type"])
    assert [(h["action"]["type"], h["before"], h["after"]) for h in last_two + history[2:]] == [
        ("adjust_budget", {"budget": "80.00"}, {"budget": "120.00"}),
        ("pause_campaign", {"status": "active"}, {"status": "paused"}),
        ("adjust_budget", {"budget": "100.00"}, {"budget": "80.00"}),
        ("resume_campaign", {"status": "paused"}, {"status": "active"}),
        ("pause_campaign", {"status": "active"}, {"status": "paused"}),
        ("launch_campaign", {"status": "draft"}, {"status": "active"}),
    ]
    who = [owner, owner, member, owner, member, owner]
    assert [h["userId"] for h in history] == [str(m.user_id) for m in who]
    assert all(h["manual"] and h["ruleId"] is None for h in history)
    first = history[-1]
    assert first | {"id": None} == {
        "id": None, "ruleId": None, "ruleName": None, "campaignId": campaign["id"], "manual": True,
        "userId": str(owner.user_id), "dryRun": False, "at": first["at"], "inputs": {},
        "action": {"type": "launch_campaign", "config": {}}, "outcome": "applied", "detail": None,
        "before": {"status": "draft"}, "after": {"status": "active"}, "meta": None}
    started = datetime.fromtimestamp(EPOCH, UTC)
    assert [datetime.fromisoformat(h["at"]) - started for h in history] == [
        timedelta(minutes=m) for m in (7, 7, 5, 4, 3, 2)]


async def test_history_pages_newest_first_per_rule_and_per_campaign(client: Client, db: Database,
                                                                     make_member: MakeMember,
                                                                     mock_clock: MockClock) -> None:
    owner = await make_member()
    rule = await post_created(client, owner.headers, "/v1/rules", EXAMPLE)
    first = await post_created(client, owner.headers, "/v1/campaigns", CAMPAIGN)
    second = await post_created(client, owner.headers, "/v1/campaigns", CAMPAIGN)
    at = datetime.fromtimestamp(EPOCH, UTC)
    for n in range(7):
        await rule_runs.insert_run(
            db, owner.org_id, rule_id=uuid.UUID(rule["id"]), rule_name=rule["name"],
            campaign_id=uuid.UUID((first, second)[n % 2]["id"]), manual=False, user_id=None, dry_run=False,
            at=at + timedelta(hours=n), inputs={"conditions": [{"field": "spend", "met": True}]},
            action=rule["action"], outcome="applied", detail=None, before={"status": "active"},
            after={"status": "paused"}, meta=None)  # fmt: skip
    whole = await assert_paged(client, f"/v1/rules/{rule['id']}/history", owner.headers, "history", total=7)
    assert [h["at"] for h in whole] == sorted((h["at"] for h in whole), reverse=True)
    assert {h["ruleName"] for h in whole} == {rule["name"]} and not any(h["manual"] for h in whole)
    await _act(client, owner, mock_clock, "PATCH", f"/v1/campaigns/{first['id']}", {"budget": 50})
    mine = await assert_paged(client, f"/v1/campaigns/{first['id']}/history", owner.headers, "history", total=5)
    assert [h["manual"] for h in mine] == [False, False, False, True, False]  # the PATCH at EPOCH + 1 min
    assert {h["campaignId"] for h in mine} == {first["id"]}
