"""`/v1/tracks` through Quart's test client against a real per-test PostgreSQL.

Rules of this file: each test creates its own organizations with ``make_member``; assertions are grouped
per behaviour to keep the number of databases (one per test) small; another organization's ids must
answer 404, exactly like unknown ids, and leave the row unchanged.
"""

from __future__ import annotations

import uuid
from typing import Any

from quart.typing import TestClientProtocol as Client

from tests.http_api.conftest import MakeMember
from tests.http_api.post import post_created

SPOTIFY_ID = "4uLU6hMCjMI75M1A2tKUQC"


async def _create(client: Client, headers: dict[str, str], **fields: object) -> Any:
    return await post_created(client, headers, "/v1/tracks", {"title": "Song", "artist": "Band"} | fields)


def _fields(body: Any) -> list[str]:
    return [detail["field"] for detail in body["error"]["details"]]


async def test_a_member_creates_reads_changes_and_deletes_a_track(
    client: Client, make_member: MakeMember
) -> None:
    owner = await make_member()
    member = await make_member(org_id=owner.org_id, role="member")
    created = await _create(
        client, member.headers, title="Summer Vibes", artist="Ana", album="Sun", releaseDate="2024-06-01",
        duration=210, spotifyId=SPOTIFY_ID, isrc="USRC17607839", coverArtUrl="https://cdn.example.com/c.jpg",
        genres=["pop", "electronic"],
    )
    track_id = created["id"]
    assert created | {"id": None, "createdAt": None, "updatedAt": None} == {
        "id": None, "title": "Summer Vibes", "artist": "Ana", "album": "Sun", "releaseDate": "2024-06-01",
        "duration": 210, "spotifyId": SPOTIFY_ID, "isrc": "USRC17607839",
        "coverArtUrl": "https://cdn.example.com/c.jpg", "genres": ["pop", "electronic"],
        "createdAt": None, "updatedAt": None,
    }
    assert await (await client.get(f"/v1/tracks/{track_id}", headers=member.headers)).get_json() == created

    patched = await client.patch(f"/v1/tracks/{track_id}", headers=member.headers,
                                 json={"album": None, "duration": 200, "genres": []})
    assert patched.status_code == 200
    body = await patched.get_json()
    assert (body["album"], body["duration"], body["genres"], body["title"]) == (None, 200, [], "Summer Vibes")

    assert (await client.delete(f"/v1/tracks/{track_id}", headers=member.headers)).status_code == 204
    gone = await client.get(f"/v1/tracks/{track_id}", headers=member.headers)
    assert gone.status_code == 404
    assert (await gone.get_json())["error"]["code"] == "NOT_FOUND"


async def test_validation_names_every_bad_field(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    bad = {
        "title": " ", "releaseDate": "June", "duration": 0, "spotifyId": "spotify:track:x", "isrc": "US-RC1",
        "coverArtUrl": "ftp://x", "genres": ["pop"] * 21, "colour": "red",
    }
    response = await client.post("/v1/tracks", headers=owner.headers, json=bad)
    assert response.status_code == 400
    body = await response.get_json()
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert sorted(_fields(body)) == sorted([
        "colour", "title", "artist", "releaseDate", "duration", "spotifyId", "isrc", "coverArtUrl", "genres",
    ])

    track = await _create(client, owner.headers)
    response = await client.patch(f"/v1/tracks/{track['id']}", headers=owner.headers,
                                  json={"title": None, "artist": None})
    assert response.status_code == 400
    assert _fields(await response.get_json()) == ["title", "artist"]
    # NUL is refused for every body before the schema is checked (PostgreSQL cannot store it).
    response = await client.patch(f"/v1/tracks/{track['id']}", headers=owner.headers, json={"genres": ["\u0000"]})
    assert _fields(await response.get_json()) == ["genres[0]"]


async def test_a_spotify_id_is_unique_in_an_organization(client: Client, make_member: MakeMember) -> None:
    owner, other = await make_member(), await make_member()
    await _create(client, owner.headers, spotifyId=SPOTIFY_ID)
    second = await _create(client, owner.headers)
    duplicate = await client.post("/v1/tracks", headers=owner.headers,
                                  json={"title": "B", "artist": "B", "spotifyId": SPOTIFY_ID})
    assert duplicate.status_code == 409
    body = await duplicate.get_json()
    assert (body["error"]["code"], _fields(body)) == ("CONFLICT", ["spotifyId"])
    moved = await client.patch(f"/v1/tracks/{second['id']}", headers=owner.headers,
                               json={"spotifyId": SPOTIFY_ID})
    assert moved.status_code == 409
    assert _fields(await moved.get_json()) == ["spotifyId"]
    await _create(client, other.headers, spotifyId=SPOTIFY_ID)  # another organization may have it too


async def test_list_pages_and_searches_literally(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    for title in ("100% Pure", "100 Pure", "Under_score", "UnderXscore"):
        await _create(client, owner.headers, title=title)
    await _create(client, owner.headers, title="Other", artist="The 100% Band")

    first = await (await client.get("/v1/tracks?limit=2", headers=owner.headers)).get_json()
    assert [t["title"] for t in first["tracks"]] == ["Other", "UnderXscore"]  # newest first
    assert first["pagination"] == {"total": 5, "limit": 2, "offset": 0, "hasNext": True}
    last = await (await client.get("/v1/tracks?limit=2&offset=4", headers=owner.headers)).get_json()
    assert [t["title"] for t in last["tracks"]] == ["100% Pure"]
    assert last["pagination"] == {"total": 5, "limit": 2, "offset": 4, "hasNext": False}

    percent = await (await client.get("/v1/tracks?search=100%25", headers=owner.headers)).get_json()
    assert sorted(t["title"] for t in percent["tracks"]) == ["100% Pure", "Other"]  # title or artist
    underscore = await (await client.get("/v1/tracks?search=r_s", headers=owner.headers)).get_json()
    # As a wildcard, "_" would match the X of "UnderXscore" too.
    assert [t["title"] for t in underscore["tracks"]] == ["Under_score"]

    bad = await client.get("/v1/tracks?limit=0&offset=-1", headers=owner.headers)
    assert bad.status_code == 400
    assert _fields(await bad.get_json()) == ["limit", "offset"]
    assert (await client.get("/v1/tracks?limit=101", headers=owner.headers)).status_code == 400


async def test_viewers_read_but_every_write_is_403(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    viewer = await make_member(org_id=owner.org_id, role="viewer")
    track = await _create(client, owner.headers)
    path = f"/v1/tracks/{track['id']}"
    assert (await client.get("/v1/tracks", headers=viewer.headers)).status_code == 200
    assert (await client.get(path, headers=viewer.headers)).status_code == 200
    for method, url, body in (("POST", "/v1/tracks", {"title": "T", "artist": "A"}),
                              ("PATCH", path, {"title": "T"}), ("DELETE", path, None)):
        response = await client.open(url, method=method, headers=viewer.headers, json=body)
        assert response.status_code == 403, (method, url)
        assert (await response.get_json())["error"]["code"] == "AUTHORIZATION_ERROR"
    assert (await client.get(path, headers=owner.headers)).status_code == 200
    assert (await client.get("/v1/tracks")).status_code == 401


async def test_another_organization_sees_404_and_changes_nothing(
    client: Client, make_member: MakeMember
) -> None:
    owner, stranger = await make_member(), await make_member()
    track = await _create(client, owner.headers, title="Mine")
    await _create(client, stranger.headers, title="Theirs")
    path = f"/v1/tracks/{track['id']}"
    calls = [("GET", path, None), ("PATCH", path, {"title": "Stolen"}), ("DELETE", path, None),
             ("GET", f"/v1/tracks/{uuid.uuid4()}", None)]
    for method, url, body in calls:
        response = await client.open(url, method=method, headers=stranger.headers, json=body)
        assert response.status_code == 404, (method, url)
        assert (await response.get_json())["error"]["code"] == "NOT_FOUND"
    assert await (await client.get(path, headers=owner.headers)).get_json() == track
    listed = await (await client.get("/v1/tracks", headers=stranger.headers)).get_json()
    assert [t["title"] for t in listed["tracks"]] == ["Theirs"]
    malformed = await client.get("/v1/tracks/not-a-uuid", headers=owner.headers)
    assert malformed.status_code == 404
    assert (await malformed.get_json())["error"]["code"] == "NOT_FOUND"
