"""The console's rules pages over real HTTP: the list says what each rule watches and does, its page shows
its history, and the enable/disable buttons go through the API's own code with the CSRF token, or change
nothing without it; another organization's rule is a 404 page."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.rules.model import parse_spec
from engine.store import rule_runs
from engine.store import rules as store
from tests.helpers.factories import create_campaign, create_owner
from tests.http_api.console.conftest import Console, csrf_of

NOW = datetime(2027, 1, 5, tzinfo=UTC)
BODY = {"name": "Too expensive per new stream",
        "condition": {"field": "costPerIncrementalStream", "operator": "greater_than", "value": "0.05",
                      "durationHours": 48},
        "action": {"type": "pause_campaign", "config": {}}, "appliesTo": {"campaigns": None}, "cooldownHours": 24}


async def _rule(console: Console, org_id: object = None) -> store.Rule:
    return await store.create_rule(console.db, org_id or console.org.id, name=BODY["name"], description=None,  # type: ignore[arg-type]
                                   status="active", dry_run=False, spec=parse_spec(BODY), created_by=None, now=NOW)


async def test_the_list_shows_each_rule_and_its_page_its_history(console: Console) -> None:
    rule = await _rule(console)
    campaign = await create_campaign(console.db, console.org.id, name="Night Drive push", status="active")
    await rule_runs.insert_run(
        console.db, console.org.id, rule_id=rule.id, rule_name=rule.name, campaign_id=campaign, manual=False,
        user_id=None, dry_run=False, at=NOW, inputs={}, action={"type": "pause_campaign", "config": {}},
        outcome="applied", detail=None, before={"status": "active"}, after={"status": "paused"}, meta=None)
    await console.sign_in()
    listed = await console.browser.get("/app/rules")
    assert listed.status_code == 200
    assert "costPerIncrementalStream over 48 h greater_than 0.05" in listed.text and "pause_campaign" in listed.text
    page = await console.browser.get(f"/app/rules/{rule.id}")
    assert page.status_code == 200 and "status active → status paused" in page.text
    assert "rule Too expensive per new stream" in page.text and "2027-01-05 00:00" in page.text


async def test_disable_and_enable_go_through_the_api_with_the_token_or_change_nothing(console: Console) -> None:
    rule = await _rule(console)
    await console.sign_in()
    token = csrf_of((await console.browser.get("/app/rules")).text)
    refused = await console.browser.post(f"/app/rules/{rule.id}/disable", data={})
    assert refused.status_code == 403
    assert (await store.get_rule(console.db, console.org.id, rule.id)).status == "active"  # type: ignore[union-attr]
    done = await console.browser.post(f"/app/rules/{rule.id}/disable", data={"csrf_token": token})
    assert done.status_code == 303 and done.headers["Location"] == "/app/rules"
    assert (await store.get_rule(console.db, console.org.id, rule.id)).status == "inactive"  # type: ignore[union-attr]
    assert 'action="/app/rules/' + str(rule.id) + '/enable"' in (await console.browser.get("/app/rules")).text


async def test_another_organizations_rule_is_not_found(console: Console) -> None:
    other, _ = await create_owner(console.db)
    theirs = await _rule(console, other.id)
    await console.sign_in()
    token = csrf_of((await console.browser.get("/app")).text)
    page = await console.browser.get(f"/app/rules/{theirs.id}")
    assert page.status_code == 404 and BODY["name"] not in page.text
    pressed = await console.browser.post(f"/app/rules/{theirs.id}/disable", data={"csrf_token": token})
    assert pressed.status_code == 404
    assert (await store.get_rule(console.db, other.id, theirs.id)).status == "active"  # type: ignore[union-attr]
