"""The console's privacy buttons on the organization page: downloads of the person's and the organization's
data, and the two deletion pages, each through the API's own function (its refusals next to the one field).

Rules: as the other console tests (real hypercorn, a real database, a browser without JavaScript); every
refusal is checked to have deleted nothing.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import trio

from engine.store import accounts
from tests.helpers.factories import create_member
from tests.http_api.console.conftest import PASSWORD, Console, csrf_of, sign_in_as_member


async def test_the_owner_downloads_their_data_and_the_organizations(console: Console) -> None:
    with trio.fail_after(20):
        await console.sign_in()
        page = (await console.browser.get("/app/organization")).text
        assert "Download my data" in page and "Delete the organization" in page
        mine = await console.browser.post("/app/organization/my-data", data={"csrf_token": csrf_of(page)})
        assert mine.status_code == 200 and mine.headers["content-disposition"].startswith("attachment;")
        assert json.loads(mine.content)["profile"]["id"] == str(console.user.id)
        theirs = await console.browser.post("/app/organization/export", data={"csrf_token": csrf_of(page)})
        assert theirs.status_code == 200 and theirs.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(theirs.content)) as archive:
            assert json.loads(archive.read("organization.jsonl"))["name"] == "Moonlit Records"
        refused = await console.browser.post("/app/organization/my-data", data={})
        assert refused.status_code == 403  # no CSRF token


async def test_a_member_sees_no_organization_buttons_and_may_not_use_them(console: Console) -> None:
    with trio.fail_after(20):
        await sign_in_as_member(console, "admin")
        page = (await console.browser.get("/app/organization")).text
        assert "Download my data" in page and "Download the organization" not in page
        assert (await console.browser.get("/app/organization/delete")).status_code == 403
        posted = await console.browser.post("/app/organization/export", data={"csrf_token": csrf_of(page)})
        assert posted.status_code == 403


async def test_deleting_my_account_asks_the_password_and_the_last_owner_is_told_what_to_do(console: Console) -> None:
    with trio.fail_after(20):
        await console.sign_in()
        page = (await console.browser.get("/app/organization/delete-account")).text
        assert "Your current password" in page
        last = await console.browser.post("/app/organization/delete-account",
                                          data={"csrf_token": csrf_of(page), "password": PASSWORD})
        assert last.status_code == 409 and "delete the organization instead" in last.text
        colleague = await create_member(console.db, console.org.id, f"m-{uuid.uuid4().hex[:8]}@example.com",
                                        "admin")
        await accounts.set_member_role(console.db, console.org.id, colleague.id, "owner")
        wrong = await console.browser.post("/app/organization/delete-account",
                                           data={"csrf_token": csrf_of(page), "password": "nope"})
        assert wrong.status_code == 400 and 'id="password-error">does not match your current password' in wrong.text
        assert await accounts.get_user(console.db, console.org.id, console.user.id) is not None
        done = await console.browser.post("/app/organization/delete-account",
                                          data={"csrf_token": csrf_of(page), "password": PASSWORD})
        assert (done.status_code, done.headers["location"]) == (303, "/login")
        assert await accounts.get_user(console.db, console.org.id, console.user.id) is None
        assert (await console.browser.get("/app/organization")).status_code == 303  # signed out


async def test_deleting_the_organization_asks_its_name(console: Console) -> None:
    with trio.fail_after(20):
        await console.sign_in()
        page = (await console.browser.get("/app/organization/delete")).text
        assert "Moonlit Records" in page
        wrong = await console.browser.post("/app/organization/delete",
                                           data={"csrf_token": csrf_of(page), "confirm": "Moonlit"})
        assert wrong.status_code == 400 and 'id="confirm-error">must be the organization' in wrong.text
        assert await accounts.get_organization(console.db, console.org.id) is not None
        done = await console.browser.post("/app/organization/delete",
                                          data={"csrf_token": csrf_of(page), "confirm": "Moonlit Records"})
        assert (done.status_code, done.headers["location"]) == (303, "/login")
        assert await accounts.get_organization(console.db, console.org.id) is None
