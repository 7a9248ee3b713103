"""The OpenAPI document describes every route the app serves, and Swagger UI
works offline: its page and assets come from this server, not a CDN.
"""

from __future__ import annotations

import re

from quart_trio import QuartTrio

from tests.http_api.conftest import Client


async def test_every_served_route_is_in_the_document(app: QuartTrio, client: Client) -> None:
    doc = await (await client.get("/openapi.json")).get_json()
    assert doc["openapi"] == "3.1.0"
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    served = {
        (method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"} and rule.endpoint not in {"static"}
        and not rule.rule.startswith(("/openapi.json", "/api-docs")) and not rule.websocket
    }
    assert served == documented
    # OpenAPI has no WebSockets: the document's description names each one.
    sockets = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule) for rule in app.url_map.iter_rules() if rule.websocket}
    assert sockets == {"/v1/streaming/ws", "/v1/streaming/ws/{track_id}"}
    assert all(f"`{path.replace('track_id', 'trackId')}`" in doc["info"]["description"] for path in sockets)


async def test_operations_declare_security_and_errors(client: Client) -> None:
    doc = await (await client.get("/openapi.json")).get_json()
    profile = doc["paths"]["/v1/auth/profile"]["get"]
    assert profile["security"] == [{"bearerAuth": []}]
    assert {"200", "401", "429"} <= set(profile["responses"])
    register = doc["paths"]["/v1/auth/register"]["post"]
    assert register["security"] == []
    body_schema = register["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = body_schema.rsplit("/", 1)[1]
    assert set(doc["components"]["schemas"][name]["required"]) == {"email", "password", "name", "organizationName"}
    error_ref = register["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
    assert error_ref.endswith("/ErrorEnvelope")


async def test_swagger_ui_is_served_from_local_assets(client: Client) -> None:
    page = await client.get("/api-docs")
    html = (await page.get_data()).decode()
    assert page.status_code == 200 and "/openapi.json" in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/api-docs/static/") for a in assets)
    for asset in assets:
        response = await client.get(asset)
        assert response.status_code == 200, asset
        assert len(await response.get_data()) > 100


async def test_spotify_id_path_parameters_say_the_pattern_the_handlers_check(client: Client) -> None:
    doc = await (await client.get("/openapi.json")).get_json()
    schemas = {(path, param["name"]): param["schema"] for path, ops in doc["paths"].items()
               for op in ops.values() for param in op.get("parameters", []) if param["in"] == "path"}
    for key in (("/v1/spotify/artists/{artist_id}", "artist_id"),
                ("/v1/spotify/tracks/{spotify_id}/analytics", "spotify_id")):
        assert schemas[key] == {"type": "string", "pattern": "^[0-9A-Za-z]{22}$"}
    refused = await client.get("/v1/spotify/artists/not-an-id")
    assert refused.status_code == 401  # the route exists for any segment: a bad id is the handler's 400


async def test_free_text_says_it_may_not_hold_nul_as_the_validator_does(client: Client) -> None:
    doc = await (await client.get("/openapi.json")).get_json()
    register = doc["components"]["schemas"]["RegisterBody"]["properties"]
    assert register["name"]["pattern"] == register["organizationName"]["pattern"] == r"^[^\x00]*$"
    refused = await client.post("/v1/auth/register", json={"email": "ana@label.example", "password": "s3cret-enough",
                                                           "name": "A\x00na", "organizationName": "Ana Records"})
    assert refused.status_code == 400
    assert (await refused.get_json())["error"]["details"] == [{"field": "name",
                                                               "message": "may not contain the NUL character"}]
