"""Connecting an organization's Meta or Spotify account through our real OAuth routes, for the tests of
the routes that need one. The browser's hops are played by hand: our 302 into the simulator's login dialog,
the simulator's 302 back to our callback, which is called without a Bearer token as a browser would."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from quart.typing import TestClientProtocol as Client

from tests.http_api.conftest import PUBLIC_URL, Member, Simulators


def local(url: str) -> str:
    """The path and query of one of our own URLs, for the test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def callback_for(client: Client, sims: Simulators, provider: str, member: Member) -> str:
    """Start connecting and pass the provider's login dialog; returns our callback URL (path and query)."""
    started = await client.get(f"/v1/auth/{provider}/connect", headers=member.headers)
    assert started.status_code == 302, await started.get_data()
    async with sims.browser(provider) as browser:
        answer = await browser.get(started.headers["Location"])
    assert answer.status_code == 302, answer.text
    back = answer.headers["location"]
    assert back.startswith(f"{PUBLIC_URL}/v1/auth/{provider}/callback?"), back
    return local(back)


async def connect(client: Client, sims: Simulators, provider: str, member: Member) -> dict[str, Any]:
    """Connect ``member``'s organization to ``provider``; returns the integration as the callback shows it."""
    done = await client.get(await callback_for(client, sims, provider, member))
    assert done.status_code == 200, await done.get_data()
    integration: dict[str, Any] = (await done.get_json())["integration"]
    return integration
