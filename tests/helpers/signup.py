"""Signing up, logging in and connecting a provider over real HTTP, as a person's client does, against a
served ``songtrack`` (a child process): for the end-to-end tests. The browser's OAuth hops are played by
hand and followed where the service sends them, so a wrong public URL fails the test."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

__all__ = ["connect", "log_in", "register"]


def _bearer(answer: httpx.Response) -> dict[str, str]:
    return {"Authorization": f"Bearer {answer.json()['tokens']['accessToken']}"}


async def register(client: httpx.AsyncClient, *, email: str = "op@label.example", password: str = "long-enough",
                   name: str = "Op", organization: str = "Label") -> dict[str, str]:
    """A new organization and its owner through ``POST /v1/auth/register``; the owner's Authorization header."""
    registered = await client.post("/v1/auth/register", json={
        "email": email, "password": password, "name": name, "organizationName": organization})
    assert registered.status_code == 201, registered.text
    return _bearer(registered)


async def log_in(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    """``POST /v1/auth/login``; the Authorization header of the session it opens."""
    answer = await client.post("/v1/auth/login", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.text
    return _bearer(answer)


async def connect(client: httpx.AsyncClient, headers: Mapping[str, str], provider: str) -> dict[str, Any]:
    """Connect through the provider's simulator as a browser would (our 302, its login dialog's 302, our
    callback); returns the integration the callback shows."""
    started = await client.get(f"/v1/auth/{provider}/connect", headers=dict(headers))
    assert started.status_code == 302, started.text
    async with httpx.AsyncClient() as browser:
        dialog = await browser.get(started.headers["location"])
        assert dialog.status_code == 302, dialog.text
        done = await browser.get(dialog.headers["location"])
    assert done.status_code == 200, done.text
    integration: dict[str, Any] = done.json()["integration"]
    return integration
