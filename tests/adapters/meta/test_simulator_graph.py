"""The Meta simulator's Graph conventions, objects and determinism, through HTTP (``httpx.ASGITransport``).

Rules: every behaviour is observed through a request; the world is read only for ids. Time is a
``ManualClock`` the test moves, never the wall clock.
"""

from __future__ import annotations

import pytest

from adapters.meta.simulator import Account, FaultConfig, MetaSimulator
from tests.adapters.meta.sim import TOKEN, client, make


def usd_account(sim: MetaSimulator) -> Account:
    return next(a for a in sim.world.accounts.values() if a.currency == "USD")


async def test_paging_walks_to_the_end_and_next_is_absent_on_the_last_page() -> None:
    sim, _ = make(accounts=7)
    seen: list[str] = []
    pages = 0
    async with client(sim, token=None) as http:  # the token rides along in the next URLs, as on Meta
        url: str | None = f"/v25.0/me/adaccounts?limit=3&access_token={TOKEN}"
        while url:
            body = (await http.get(url)).json()
            seen += [row["id"] for row in body["data"]]
            assert set(body["paging"]["cursors"]) == {"before", "after"}
            url, pages = body["paging"].get("next"), pages + 1
    assert pages == 3
    assert len(seen) == 7 == len(set(seen))
    assert all(s.startswith("act_") for s in seen)


async def test_fields_selection_and_numbers_as_strings() -> None:
    sim, _ = make()
    account = usd_account(sim)
    async with client(sim) as http:
        plain = (await http.get(f"/v21.0/act_{account.account_id}")).json()
        chosen = (
            await http.get(
                f"/v21.0/act_{account.account_id}",
                params={"fields": "account_id,currency,timezone_name,amount_spent,account_status"},
            )
        ).json()
        campaigns = (
            await http.get(f"/v21.0/act_{account.account_id}/campaigns", params={"fields": "name,daily_budget,status"})
        ).json()
    assert plain == {"id": f"act_{account.account_id}"}
    assert chosen["account_id"] == account.account_id and chosen["currency"] == "USD"
    assert chosen["amount_spent"].isdigit() and int(chosen["amount_spent"]) > 0
    assert chosen["account_status"] == 1
    assert all(set(c) == {"id", "name", "daily_budget", "status"} for c in campaigns["data"])
    assert all(isinstance(c["daily_budget"], str) and c["daily_budget"].isdigit() for c in campaigns["data"])


@pytest.mark.parametrize("how", ["query", "form", "bearer"])
async def test_access_token_is_accepted_in_query_form_or_bearer(how: str) -> None:
    sim, _ = make()
    act = f"act_{usd_account(sim).account_id}"
    async with client(sim, token=None) as http:
        if how == "query":
            response = await http.get(f"/v25.0/{act}", params={"access_token": TOKEN})
        elif how == "form":
            response = await http.post(
                f"/v25.0/{act}/campaigns",
                data={
                    "access_token": TOKEN,
                    "name": "x",
                    "objective": "OUTCOME_TRAFFIC",
                    "special_ad_categories": "[]",
                },
            )
        else:
            response = await http.get(f"/v25.0/{act}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text


async def test_invalid_token_gives_190_467_with_www_authenticate() -> None:
    sim, _ = make()
    async with client(sim, token="nope") as http:
        response = await http.get("/v25.0/me/adaccounts")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["error_subcode"], error["type"]) == (190, 467, "OAuthException")
    assert error["fbtrace_id"]
    assert response.headers["www-authenticate"].startswith('OAuth "Facebook Platform" "invalid_token" "Error')


async def test_campaign_create_requires_special_ad_categories_and_valid_values() -> None:
    sim, _ = make()
    act = f"act_{usd_account(sim).account_id}"
    base = {"name": "Single drop", "objective": "OUTCOME_TRAFFIC", "status": "PAUSED", "daily_budget": "5000"}
    async with client(sim) as http:
        missing = await http.post(f"/v25.0/{act}/campaigns", data=base)
        bad_status = await http.post(
            f"/v25.0/{act}/campaigns", data={**base, "special_ad_categories": "[]", "status": "ARCHIVED"}
        )
        legacy = await http.post(
            f"/v25.0/{act}/campaigns", data={**base, "special_ad_categories": "[]", "objective": "LINK_CLICKS"}
        )
        both = await http.post(
            f"/v25.0/{act}/campaigns", data={**base, "special_ad_categories": "[]", "lifetime_budget": "90000"}
        )
    for response in (missing, bad_status, legacy, both):
        assert response.status_code == 400
        assert response.json()["error"]["code"] == 100
    assert "special_ad_categories" in missing.json()["error"]["message"]


async def test_campaign_create_read_update_delete() -> None:
    sim, _ = make()
    act = f"act_{usd_account(sim).account_id}"
    async with client(sim) as http:
        created = (
            await http.post(
                f"/v25.0/{act}/campaigns",
                data={
                    "name": "Single drop",
                    "objective": "OUTCOME_TRAFFIC",
                    "status": "PAUSED",
                    "special_ad_categories": '["NONE"]',
                    "daily_budget": "5000",
                },
            )
        ).json()
        assert created["success"] is True and created["id"].isdigit()
        updated = await http.post(f"/v25.0/{created['id']}", data={"status": "ACTIVE", "daily_budget": "7500"})
        read = (await http.get(f"/v25.0/{created['id']}", params={"fields": "status,daily_budget,objective"})).json()
        active = (
            await http.get(
                f"/v25.0/{act}/campaigns", params={"effective_status": '["ACTIVE"]', "fields": "status", "limit": 100}
            )
        ).json()
        deleted = (await http.delete(f"/v25.0/{created['id']}")).json()
    assert updated.json() == {"success": True}
    assert read == {"id": created["id"], "status": "ACTIVE", "daily_budget": "7500", "objective": "OUTCOME_TRAFFIC"}
    assert created["id"] in {c["id"] for c in active["data"]}
    assert all(c["status"] == "ACTIVE" for c in active["data"])
    assert deleted == {"success": True}


async def test_unknown_object_gives_100_33() -> None:
    sim, _ = make()
    async with client(sim) as http:
        response = await http.get("/v25.0/act_999/campaigns")
    assert response.status_code == 400
    assert (response.json()["error"]["code"], response.json()["error"]["error_subcode"]) == (100, 33)


async def test_request_log_records_calls_without_tokens() -> None:
    sim, _ = make()
    async with client(sim) as http:
        await http.get("/v25.0/me/adaccounts", params={"fields": "id"})
        served = (await http.get("/__simulator/requests")).json()
    assert [(r.method, r.path, r.status) for r in sim.requests[:1]] == [("GET", "/v25.0/me/adaccounts", 200)]
    assert sim.requests[0].params == {"fields": "id"}
    assert served["data"][0]["path"] == "/v25.0/me/adaccounts"


async def _script(sim: MetaSimulator) -> list[tuple[int, str, str]]:
    answers = []
    async with client(sim) as http:
        accounts = await http.get("/v25.0/me/adaccounts", params={"fields": "id,amount_spent,currency"})
        answers.append(accounts)
        act = accounts.json()["data"][0]["id"]
        answers.append(await http.get(f"/v25.0/{act}/campaigns", params={"fields": "id,name,daily_budget"}))
        answers.append(
            await http.post(
                f"/v25.0/{act}/campaigns",
                data={"name": "n", "objective": "OUTCOME_SALES", "special_ad_categories": "[]"},
            )
        )
        answers.append(await http.get(f"/v25.0/{act}/insights", params={"level": "campaign", "time_increment": "1"}))
    return [(r.status_code, r.text, r.headers["x-fb-trace-id"]) for r in answers]


async def test_same_seed_gives_the_same_world_and_the_same_responses() -> None:
    first, second, other = make(seed=7)[0], make(seed=7)[0], make(seed=8)[0]
    assert await _script(first) == await _script(second)
    assert [t for _, t, _ in await _script(other)] != [t for _, t, _ in await _script(make(seed=7)[0])]


async def test_an_empty_page_can_still_have_next() -> None:
    sim, _ = make(faults=FaultConfig(empty_page_rate=0.5), seed=11)
    act = f"act_{usd_account(sim).account_id}"
    ids: list[str] = []
    empty_pages = 0
    async with client(sim) as http:
        url: str | None = f"/v25.0/{act}/campaigns?limit=1"
        while url:
            body = (await http.get(url)).json()
            ids += [row["id"] for row in body["data"]]
            empty_pages += not body["data"]
            url = body.get("paging", {}).get("next")
    assert empty_pages > 0
    assert sorted(ids) == sorted(c.id for c in sim.world.campaigns_of(usd_account(sim)))
