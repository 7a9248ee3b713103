"""The console's rule editor over real HTTP: a rule built from form fields (two conditions, one comparing two
figures) goes through the API's own create and update; a row is added and removed without JavaScript; the
API's message for a bad value is shown next to the field its path names; the preview shows what the rule
would have done and saves nothing; a rule is deleted after asking; a viewer is refused."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import trio

from engine.messages import MetricSample
from engine.rules.model import Comparison, parse_spec
from engine.store import facts
from engine.store import rules as store
from http_api.console.cookies import SESSION_COOKIE, session_cookie
from tests.helpers.factories import create_campaign, create_member, create_session
from tests.http_api.console.conftest import Console, csrf_of

CONDITION = {"c0_field": "spend", "c0_hours": "48", "c0_operator": "greater_than", "c0_kind": "value",
             "c0_value": "5"}
COMPARED = {"c1_field": "spend", "c1_hours": "", "c1_operator": "gte", "c1_kind": "figure",
            "c1_other_field": "budget", "c1_multiplier": "2", "c1_other_hours": ""}
RULE = {"name": "Costly days", "description": "", "dry_run": "on", "match": "any", "action": "adjust_budget",
        "adjustment_type": "percent", "adjust_value": "-20", "floor": "50", "cap": "", "max_step": "",
        "message": "", "applies": "all", "cooldown": "72", "condition_count": "2", **CONDITION, **COMPARED}


async def _token(console: Console, path: str = "/app/rules/new") -> str:
    return csrf_of((await console.browser.get(path)).text)


async def _post(console: Console, path: str, fields: dict[str, Any]) -> Any:
    return await console.browser.post(path, data={"csrf_token": await _token(console), **fields})


async def _rules(console: Console) -> list[store.Rule]:
    return (await store.list_rules(console.db, console.org.id, limit=10)).items


async def _created(console: Console) -> store.Rule:
    """Signed in, with RULE created through the editor."""
    await console.sign_in()
    await _post(console, "/app/rules/new", RULE)
    (rule,) = await _rules(console)
    return rule


async def test_a_rule_of_two_conditions_one_comparing_figures_is_created_through_the_api(console: Console) -> None:
    await console.sign_in()
    form = await console.browser.get("/app/rules/new")
    assert form.status_code == 200 and 'name="c0_field"' in form.text and 'name="c1_field"' not in form.text
    token = csrf_of(form.text)
    added = await console.browser.post("/app/rules/new", data={"csrf_token": token, "add_condition": "1",
                                                                "condition_count": "1", **CONDITION})
    assert added.status_code == 200 and 'name="c1_field"' in added.text and 'value="48"' in added.text
    created = await console.browser.post("/app/rules/new", data={"csrf_token": token, **RULE})
    (rule,) = await _rules(console)
    assert created.status_code == 303 and created.headers["Location"] == f"/app/rules/{rule.id}"
    assert rule.name == "Costly days" and rule.dry_run and rule.status == "active"
    assert rule.spec == parse_spec({
        "conditions": [{"field": "spend", "operator": "greater_than", "value": "5", "durationHours": 48},
                       {"field": "spend", "operator": "gte", "value": {"field": "budget", "multiplier": "2"}}],
        "match": "any", "cooldownHours": 72,
        "action": {"type": "adjust_budget", "config": {"adjustmentType": "percent", "value": "-20", "floor": "50"}}})
    assert rule.spec.conditions[1].value == Comparison(field="budget", multiplier=2)
    shown = await console.browser.get(f"/app/rules/{rule.id}")
    assert "Costly days is created." in shown.text and "spend so far gte 2 * budget so far" in shown.text


async def test_a_row_is_removed_and_the_rest_keep_their_values(console: Console) -> None:
    await console.sign_in()
    removed = await _post(console, "/app/rules/new", {**RULE, "remove_condition": "0"})
    assert removed.status_code == 200 and 'name="c1_field"' not in removed.text
    assert re.search(r'<option value="figure" selected>', removed.text) and await _rules(console) == []


async def test_the_apis_messages_are_shown_next_to_the_fields_their_paths_name(console: Console) -> None:
    await console.sign_in()
    bad = await _post(console, "/app/rules/new", {**RULE, "c0_value": "lots", "c1_multiplier": "0"})
    assert bad.status_code == 422 and await _rules(console) == []
    assert re.search(r'id="c0_value"[^>]*aria-invalid="true" aria-describedby="c0_value-error"', bad.text)
    assert "&#39;lots&#39; is not a number" in bad.text and 'id="c0_value-error"' in bad.text
    bad = await _post(console, "/app/rules/new", {**RULE, "c1_multiplier": "0", "name": "x", "cooldown": "1y"})
    assert bad.status_code == 422 and 'id="c1_multiplier-error"' in bad.text  # the first fault the API names
    assert 'value="1y"' in bad.text and 'value="0"' in bad.text  # what was typed stays
    nameless = await _post(console, "/app/rules/new", {**RULE, "name": ""})
    assert nameless.status_code == 400 and 'id="name-error"' in nameless.text


async def test_a_rule_is_edited_from_its_stored_values(console: Console) -> None:
    rule = await _created(console)
    page = await console.browser.get(f"/app/rules/{rule.id}/edit")
    assert page.status_code == 200 and 'value="Costly days"' in page.text and 'value="-20"' in page.text
    assert '<option value="any" selected>' in page.text and 'value="72"' in page.text
    changed = {**RULE, "name": "Costly day", "dry_run": "", "c0_hours": "24", "action": "pause_campaign"}
    saved = await _post(console, f"/app/rules/{rule.id}/edit", changed)
    assert saved.status_code == 303 and saved.headers["Location"] == f"/app/rules/{rule.id}"
    (edited,) = await _rules(console)
    assert (edited.id, edited.name, edited.dry_run) == (rule.id, "Costly day", False)
    assert edited.spec.conditions[0].duration_hours == 24 and edited.spec.action.type == "pause_campaign"


async def test_the_preview_shows_the_days_it_would_have_fired_and_saves_nothing(console: Console) -> None:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    campaign = await create_campaign(console.db, console.org.id, name="Night Drive", start=today - timedelta(days=6),
                                     status="active")
    samples = [MetricSample(organization_id=console.org.id, campaign_id=campaign, day=(today - timedelta(n)).date(),
                            metric="spend_minor", value=2000 if n == 3 else 100, source="meta:1",
                            observed_at=today, currency="USD") for n in range(1, 7)]
    async with console.db.transaction() as tx:
        await facts.recompute_totals(tx, await facts.upsert_samples(tx, samples))
    await console.sign_in()
    fields = {**RULE, "condition_count": "1", "c0_hours": "24", "c0_value": "10", "action": "pause_campaign",
              "dry_run": ""}
    shown = await _post(console, "/app/rules/new", {**fields, "preview": "1", "preview_days": "10",
                                                     "preview_campaign": str(campaign)})
    assert shown.status_code == 200 and await _rules(console) == []
    day = (today - timedelta(days=3)).strftime("%Y-%m-%d")
    assert f"{day} 23:59" in shown.text and "Night Drive" in shown.text and "pause_campaign: applied" in shown.text
    assert "1 firings over 1 campaigns" in shown.text
    refused = await _post(console, "/app/rules/new", {**fields, "preview": "1", "preview_days": "400"})
    assert refused.status_code == 422 and 'id="preview_days-error"' in refused.text


async def test_a_rule_is_deleted_after_asking(console: Console) -> None:
    rule = await _created(console)
    asked = await console.browser.get(f"/app/rules/{rule.id}/delete")
    assert asked.status_code == 200 and "Delete Costly days?" in asked.text
    done = await console.browser.post(f"/app/rules/{rule.id}/delete", data={"csrf_token": csrf_of(asked.text)})
    assert done.status_code == 303 and done.headers["Location"] == "/app/rules" and await _rules(console) == []
    assert (await console.browser.get(f"/app/rules/{rule.id}/edit")).status_code == 404


async def test_a_viewer_is_refused_the_editor_and_its_posts(console: Console) -> None:
    with trio.fail_after(20):
        viewer = await create_member(console.db, console.org.id, f"viewer-{uuid.uuid4().hex[:8]}@example.com",
                                     "viewer")
        session, _ = await create_session(console.db, viewer)
        console.browser.cookies.set(SESSION_COOKIE, session_cookie(console.ctx.keys, session.id, viewer.id))
        listed = await console.browser.get("/app/rules")
        assert listed.status_code == 200 and "New rule" not in listed.text
        assert (await console.browser.get("/app/rules/new")).status_code == 403
        refused = await console.browser.post("/app/rules/new", data={"csrf_token": csrf_of(listed.text), **RULE})
        assert refused.status_code == 403 and "role" in refused.text and await _rules(console) == []
