"""The audiences pages: the list (search and paging as ``GET /v1/audiences``), creating a custom audience
through ``POST /v1/audiences``'s code (its refusals next to their fields), a lookalike of it, and pushing it
to the Meta simulator through ``POST /v1/audiences/{id}/sync/meta``'s code, then a lookalike made on Meta
too. A viewer sees no form and is refused when posting one; another organization's audience is a 404 page."""

from __future__ import annotations

import re
import uuid

import trio

from adapters.meta.simulator import SimulatorConfig as MetaConfig
from engine.store import audiences
from tests.helpers.factories import connect_integration, create_org
from tests.http_api.console.conftest import Console, csrf_of, sign_in_as_member


async def _post(console: Console, path: str, **fields: str | list[str]) -> tuple[int, str, str]:
    """Post a form of the audiences pages at ``path``; the status, the page and where it sent the browser."""
    token = csrf_of((await console.browser.get("/app/audiences")).text)
    answer = await console.browser.post(path, data={"csrf_token": token, **fields})
    return answer.status_code, answer.text, answer.headers.get("location", "")


async def _create(console: Console, name: str, **criteria: str | list[str]) -> uuid.UUID:
    status, page, location = await _post(console, "/app/audiences", name=name, **criteria)
    assert status == 303, page
    return uuid.UUID(location.rsplit("/", 1)[1])


async def test_creating_an_audience_and_a_lookalike_of_it(console: Console) -> None:
    with trio.fail_after(20):
        await console.sign_in()
        created = await _create(console, "Indie fans", ageMin="18", ageMax="34", genders=["female", "male"],
                                locations="us, GB", interests="indie pop, vinyl")
        page = (await console.browser.get(f"/app/audiences/{created}")).text
        assert "The audience Indie fans is created." in page and "18 to 34" in page and "US, GB" in page
        assert "indie pop, vinyl" in page and "female, male" in page
        status, _, location = await _post(console, f"/app/audiences/{created}/lookalike",
                                          lookalikeName="Indie fans alike", countries="US, DE", ratio="0.05")
        assert status == 303
        lookalike = (await console.browser.get(location)).text
        assert "The lookalike Indie fans alike is created." in lookalike and "US, DE, 0.05" in lookalike
        assert f'href="/app/audiences/{created}">Indie fans</a>' in lookalike and "Create a lookalike" not in lookalike
        listed = (await console.browser.get("/app/audiences", params={"search": "alike"})).text
        assert ">Indie fans alike</a>" in listed and ">Indie fans</a>" not in listed
        assert 'aria-current="page">Audiences' in listed


async def test_refusals_are_said_next_to_their_fields(console: Console) -> None:
    with trio.fail_after(20):
        await console.sign_in()
        status, page, _ = await _post(console, "/app/audiences", name="Fans", ageMin="40", ageMax="20")
        assert status == 400 and "must be at least ageMin" in page
        assert re.search(r'id="ageMax"[^>]*aria-invalid="true" aria-describedby="ageMax-error"', page)
        status, page, _ = await _post(console, "/app/audiences", name="Fans", locations="US, ZZ")
        assert status == 400 and 'id="locations-error"' in page and 'value="US, ZZ"' in page
        created = await _create(console, "Fans")
        status, page, _ = await _post(console, f"/app/audiences/{created}/lookalike", lookalikeName="",
                                      countries="", ratio="0.5")
        assert status == 400
        for field in ("lookalikeName", "countries", "ratio"):
            assert f'id="{field}-error"' in page
        assert (await audiences.list_audiences(console.db, console.org.id)).total == 1


async def test_pushing_to_meta_then_a_lookalike_made_on_meta(provider_console: Console) -> None:
    console = provider_console
    with trio.fail_after(30):
        await console.sign_in()
        created = await _create(console, "Buyers")
        status, page, _ = await _post(console, f"/app/audiences/{created}/meta", adAccountId="")
        assert status == 409 and 'id="adAccountId-error"' in page and "no Meta account is connected" in page
        await connect_integration(console.db, console.org.id, provider="meta",
                                  access_token=MetaConfig().access_tokens[0], key=console.ctx.keys.token_encryption_key)
        status, page, _ = await _post(console, f"/app/audiences/{created}/meta", adAccountId="")
        account = re.search(r"one of (act_[0-9]+)", page)
        assert status == 400 and account is not None and 'id="adAccountId-error"' in page  # the choices, by the field
        status, _, location = await _post(console, f"/app/audiences/{created}/meta", adAccountId=account.group(1))
        assert status == 303
        pushed = (await console.browser.get(location)).text
        assert f"in {account.group(1)}." in pushed and "Push to Meta again" in pushed
        status, page, _ = await _post(console, f"/app/audiences/{created}/lookalike", lookalikeName="Buyers alike",
                                      countries="US, GB", ratio="0.02")
        assert status == 400 and "exactly one country" in page
        status, _, location = await _post(console, f"/app/audiences/{created}/lookalike",
                                          lookalikeName="Buyers alike", countries="US", ratio="0.02")
        assert status == 303
        assert f" in {account.group(1)}</dd>" in (await console.browser.get(location)).text


async def test_a_viewer_sees_no_forms_and_is_refused(console: Console) -> None:
    with trio.fail_after(20):
        mine = await audiences.create_audience(console.db, console.org.id, audiences.NewAudience(name="Fans"))
        await sign_in_as_member(console, "viewer")
        listed = (await console.browser.get("/app/audiences")).text
        shown = (await console.browser.get(f"/app/audiences/{mine.id}")).text
        assert "Create the audience" not in listed and "Fans" in listed
        assert "Create the lookalike" not in shown and "Push it to Meta" not in shown
        for path in ("/app/audiences", f"/app/audiences/{mine.id}/lookalike", f"/app/audiences/{mine.id}/meta"):
            refused = await console.browser.post(path, data={"csrf_token": csrf_of(shown), "name": "x",
                                                             "countries": "US", "ratio": "0.05"})
            assert refused.status_code == 403 and "role" in refused.text
        assert (await audiences.list_audiences(console.db, console.org.id)).total == 1


async def test_another_organizations_audience_is_not_found(console: Console) -> None:
    with trio.fail_after(20):
        theirs = await audiences.create_audience(console.db, await create_org(console.db),
                                                 audiences.NewAudience(name="Their secret"))
        await console.sign_in()
        page = await console.browser.get(f"/app/audiences/{theirs.id}")
        assert page.status_code == 404 and "Their secret" not in page.text
        status, _, _ = await _post(console, f"/app/audiences/{theirs.id}/lookalike", lookalikeName="Mine",
                                   countries="US", ratio="0.05")
        assert status == 404
        assert (await audiences.list_audiences(console.db, console.org.id)).total == 0
