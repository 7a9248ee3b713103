"""Bodies a route cannot use get a clear 4xx in the error envelope, never a 500:
malformed JSON, the wrong content type, a body over the size limit, NUL
characters; and nothing is written when a request is refused.
"""

from __future__ import annotations

from http_api.app import MAX_BODY_BYTES
from tests.http_api.conftest import Client, MakeMember


async def _error(response: object) -> dict[str, object]:
    body = await response.get_json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    return body["error"]  # type: ignore[no-any-return]


async def test_malformed_json_is_a_400_that_says_so(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    headers = {**owner.headers, "Content-Type": "application/json"}
    response = await client.post("/v1/tracks", headers=headers, data=b'{"title": "A", ')
    assert response.status_code == 400
    error = await _error(response)
    assert error["code"] == "VALIDATION_ERROR" and "malformed JSON" in str(error["message"])


async def test_the_wrong_content_type_is_a_400_naming_it(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    response = await client.post("/v1/tracks", headers={**owner.headers, "Content-Type": "text/plain"},
                                 data=b'{"title": "A", "artist": "B"}')
    assert response.status_code == 400
    assert (await _error(response))["details"] == [
        {"field": "Content-Type", "message": "expected application/json, got text/plain"}]


async def test_an_oversized_body_is_a_413(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    huge = b'{"title": "' + b"a" * MAX_BODY_BYTES + b'", "artist": "B"}'
    response = await client.post("/v1/tracks", headers={**owner.headers, "Content-Type": "application/json"},
                                 data=huge)
    assert response.status_code == 413
    assert (await _error(response))["code"] == "PAYLOAD_TOO_LARGE"


async def test_refused_requests_write_nothing(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    for body in ({"title": "A"}, {"title": "A\u0000", "artist": "B"}, {"title": "A", "artist": "B", "x": 1}):
        assert (await client.post("/v1/tracks", headers=owner.headers, json=body)).status_code == 400
    listed = await (await client.get("/v1/tracks", headers=owner.headers)).get_json()
    assert listed["pagination"]["total"] == 0
