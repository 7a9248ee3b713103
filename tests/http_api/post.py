"""Creating resources through the API, for the tests that arrange through it as a client would: a POST
that must answer 201. What to create (each file's own body) stays in the test file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quart.typing import TestClientProtocol as Client

__all__ = ["post_created", "post_track"]


async def post_created(client: Client, headers: Mapping[str, str], path: str, body: Mapping[str, object]
                       ) -> dict[str, Any]:
    """POST ``body`` to ``path``; asserts 201 (showing the answer otherwise) and returns what was created."""
    response = await client.post(path, headers=dict(headers), json=dict(body))
    created: dict[str, Any] = await response.get_json()
    assert response.status_code == 201, created
    return created


async def post_track(client: Client, headers: Mapping[str, str], **fields: object) -> str:
    """A track made through ``POST /v1/tracks`` ("Song" by "Band" unless ``fields`` say otherwise); its id."""
    return str((await post_created(client, headers, "/v1/tracks", {"title": "Song", "artist": "Band"} | fields))["id"])
