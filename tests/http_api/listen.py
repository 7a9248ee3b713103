"""A fan's part of the listener opt-in, played by hand: opening a campaign's listen link, and consenting at
the Spotify simulator (its sandbox's ``sim_user`` picks the fan) back to our callback."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from quart.typing import TestClientProtocol as Client

from tests.http_api.conftest import PUBLIC_URL, Member, Simulators
from tests.http_api.connect import local

__all__ = ["fan_callback", "listen_link"]


async def listen_link(client: Client, member: Member, campaign_id: uuid.UUID) -> dict[str, Any]:
    """The campaign's listen link, made (or found) by ``member``."""
    made = await client.post(f"/v1/campaigns/{campaign_id}/listen-link", headers=member.headers)
    assert made.status_code in (200, 201), await made.get_data()
    body: dict[str, Any] = await made.get_json()
    return body


async def fan_callback(client: Client, sims: Simulators, link: dict[str, Any], fan: str) -> str:
    """The fan opens the link and consents at Spotify as ``fan``; returns our callback (path and query)."""
    opened = await client.get(local(link["url"]))
    assert opened.status_code == 302, await opened.get_data()
    authorize = opened.headers["Location"]
    assert parse_qs(urlsplit(authorize).query)["scope"] == ["user-read-recently-played"]
    async with sims.browser("spotify") as browser:
        answer = await browser.get(f"{authorize}&sim_user={fan}")
    assert answer.status_code == 302, answer.text
    back = answer.headers["location"]
    assert back.startswith(f"{PUBLIC_URL}/v1/listen/callback?"), back
    return local(back)
