"""The API reference's example requests, replayed verbatim: a client written from docs/songtrackpro-api.md
(a copy of the reference) must not meet a 400, a 422 or a 5xx on them.

The requests are parsed out of the document's code blocks, so this test follows the document: each
``#### Section`` with an ``http`` block is one route; its ``**Request Body:**`` JSON is the body and its
``**Query Params:**`` that the document gives a value for anywhere (``startDate``: its first example;
``granularity``: the first option it quotes) are the query. Only the reference's placeholders are filled
in from the state the test sets up: ``:id``-style path parameters, ``"uuid"`` (the track, the campaign),
``act_123`` (the simulator's ad account), ``refresh_token``, ``spotify_track_id`` and ``spotify:track:xxx``.
Sections that need a browser (the OAuth connect/callback pair, e-mail verification, the WebSocket) are
played by the state set-up itself (``connect``), not replayed; nor is a PATCH the reference shows no
body for (it gives no example to replay). Bodiless POSTs (launch, pause, sync to Meta) are replayed.

The world runs at the reference's own moment: its conversion example's ``eventTime`` (2021-06-12), since
Meta refuses events older than 7 days.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import trio
from quart.typing import TestClientProtocol as Client

from adapters.meta.simulator import MetaSimulator
from adapters.meta.simulator import SimulatorConfig as MetaConfig
from adapters.spotify.simulator import ClientApp, SpotifySimulator
from adapters.spotify.simulator import SimulatorConfig as SpotifyConfig
from config import Keys, Settings
from engine.store.database import Database
from engine.store.migrate import discover
from http_api.context import ApiContext
from http_api.providers.integrations import spotify_redirect_uris
from songtrack.api import Api
from tests.http_api.conftest import PUBLIC_URL, MakeMember, Member, Simulators, serving
from tests.http_api.connect import connect
from tests.http_api.post import post_created, post_track

REFERENCE = Path(__file__).parents[2] / "docs" / "songtrackpro-api.md"
BROWSER_ONLY = {"/auth/spotify/connect", "/auth/spotify/callback", "/auth/meta/connect", "/auth/meta/callback",
                "/auth/verify-email/:token"}
REFERENCE_TIME = 1623456789.0 + 3600  # an hour after the conversion example's eventTime


@dataclass
class Example:
    section: str
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None


def _sections(text: str) -> Iterator[tuple[str, str]]:
    for part in re.split(r"^#### ", text, flags=re.MULTILINE)[1:]:
        title, _, rest = part.partition("\n")
        yield title.strip(), rest


def _json_block(rest: str, label: str) -> Any:
    match = re.search(rf"\*\*{label}:\*\*\s*```json\n(.*?)```", rest, re.DOTALL)
    if match is None:
        return None
    # The reference writes alternatives as "csv" | "pdf" | "xlsx"; a client sends the first.
    return json.loads(re.sub(r'("[^"]*")(\s*\|\s*"[^"]*")+', r"\1", match.group(1)))


def _example_value(text: str, name: str, description: str) -> str | None:
    given = re.search(rf'"{name}":\s*"([^"]+)"', text)
    if given:
        return given.group(1)
    quoted = re.search(r'"([^"]+)"', description)
    return quoted.group(1) if quoted else None


def examples(text: str) -> list[Example]:
    found = []
    for title, rest in _sections(text):
        route = re.search(r"```http\n(GET|POST|PATCH|PUT|DELETE) (\S+)\n```", rest)
        if route is None:
            continue
        path, _, inline = route.group(2).partition("?")
        example = Example(title, route.group(1), path, dict(re.findall(r"(\w+)=([^&]+)", inline)),
                          _json_block(rest, "Request Body"))
        params = re.search(r"\*\*Query Params:\*\*\n((?:- .*\n)+)", rest)
        for name, description in re.findall(r"- `(\w+)` - (.*)", params.group(1) if params else ""):
            value = _example_value(text, name, description)
            if value is not None:
                example.query[name] = value
        found.append(example)
    return found


def test_the_parser_finds_the_reference_s_examples() -> None:
    found = {e.section: e for e in examples(REFERENCE.read_text())}
    assert len(found) > 50
    assert found["Create Webhook"].body["events"] == ["campaign.created", "campaign.updated", "metrics.updated"]
    assert found["Get Campaign Analytics"].query == {"startDate": "2024-06-01T00:00:00Z",
                                                     "endDate": "2024-08-31T23:59:59Z", "granularity": "day"}
    assert found["Export Report"].body["format"] == "csv"


@pytest.fixture
def simulators() -> Simulators:
    """One ad account (so the bare audience push has its account), both clocks at the reference's time."""
    start = datetime.fromtimestamp(REFERENCE_TIME, UTC)
    client = ClientApp(redirect_uris=spotify_redirect_uris(PUBLIC_URL))
    return Simulators(MetaSimulator(MetaConfig(accounts=1, start=start.isoformat())),
                      SpotifySimulator(SpotifyConfig(clients=(client,), start=start)))


@pytest.fixture
def ctx(db: Database, settings: Settings, keys: Keys, simulators: Simulators) -> ApiContext:
    return ApiContext(lambda: db, discover(), settings, keys, now=lambda: REFERENCE_TIME + trio.current_time(),
                      http_factory=lambda: simulators.http())


@dataclass
class World:
    owner: Member
    ids: dict[str, str] = field(default_factory=dict)


async def _world(client: Client, sims: Simulators, make_member: MakeMember) -> World:
    owner = await make_member()
    for provider in ("meta", "spotify"):
        await connect(client, sims, provider, owner)
    world = World(owner)
    world.ids["track"] = await post_track(client, owner.headers, title="Summer Vibes", artist="Ana")
    world.ids["campaign"] = str((await post_created(client, owner.headers, "/v1/campaigns", {
        "name": "Summer", "budget": 5000, "currency": "USD", "objective": "streams",
        "trackId": world.ids["track"], "startDate": "2024-06-01T00:00:00Z", "endDate": "2024-08-31T23:59:59Z"}))["id"])
    world.ids["audience"] = str((await post_created(client, owner.headers, "/v1/audiences", {"name": "Fans"}))["id"])
    world.ids["act"] = "act_" + next(iter(sims.meta.world.accounts))
    world.ids["metaCampaign"] = next(iter(sims.meta.world.campaigns))
    world.ids["spotifyTrack"] = next(iter(sims.spotify.world.catalog.tracks))
    return world


def _fill(value: Any, world: World, key: str = "") -> Any:
    """The example with the reference's placeholders replaced by the world's ids."""
    if isinstance(value, dict):
        return {k: _fill(v, world, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, world, key) for v in value]
    placeholders = {"uuid": world.ids.get(key.removesuffix("Id"), world.ids["campaign"]), "act_123": world.ids["act"],
                    "spotify:track:xxx": f"spotify:track:{world.ids['spotifyTrack']}",
                    "refresh_token": world.owner.refresh_token, "spotify_track_id": world.ids["spotifyTrack"]}
    return placeholders.get(value, value) if isinstance(value, str) else value


def _path(path: str, world: World) -> str:
    params = {":id": world.ids["campaign"], ":provider": "meta", ":trackId": world.ids["track"],
              ":metaCampaignId": world.ids["metaCampaign"], ":spotifyId": world.ids["spotifyTrack"]}
    if path.startswith(("/audiences/", "/analytics/audiences/")):
        params[":id"] = world.ids["audience"]
    if path.startswith(("/tracks/", "/analytics/tracks/")):
        params[":id"] = world.ids["track"]
    for name, value in params.items():
        path = re.sub(rf"{name}(?=/|$)", value, path)
    return f"/v1{path}"


# Replayed last: they end what the others need (the session, the connection, the resources).
_LAST = ("DELETE", "/auth/logout")


def _order(found: list[Example]) -> list[Example]:
    return sorted(found, key=lambda e: (e.method in _LAST or e.path in _LAST, e.method == "DELETE"))


async def test_every_example_request_of_the_reference_is_accepted(
    api: Api, client: Client, simulators: Simulators, make_member: MakeMember,
) -> None:
    refused = []
    with trio.fail_after(60):
        async with serving(api):  # routes that start jobs need the job runner running
            refused = await _replay(client, await _world(client, simulators, make_member))
    assert refused == [], "\n".join(map(str, refused))


async def _replay(client: Client, world: World) -> list[tuple[str, str, str, int, str]]:
    """Every example request in the document's order (deletions last); the ones refused."""
    refused = []
    if True:
        for example in _order(examples(REFERENCE.read_text())):
            if example.path in BROWSER_ONLY or (example.method == "PATCH" and example.body is None):
                continue  # a browser's part; a PATCH the reference gives no example body for
            path = _path(example.path, world)
            if example.query:
                path += "?" + urlencode(example.query)
            kwargs: dict[str, Any] = {"headers": world.owner.headers}
            if example.body is not None:
                kwargs["json"] = _fill(example.body, world)
            response = await client.open(path, method=example.method, **kwargs)
            if response.status_code in (400, 422) or response.status_code >= 500:
                refused.append((example.section, example.method, path, response.status_code,
                                await response.get_data(as_text=True)))
    return refused
