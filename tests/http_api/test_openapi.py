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
        and not rule.rule.startswith(("/openapi.json", "/api-docs", "/static/")) and not rule.websocket
        and not rule.endpoint.startswith("console.")  # the console's pages are for people, not the API
        and rule.endpoint != "metrics.metrics"  # Prometheus' text format for its scrapers, not the API
    }
    assert served == documented
    assert not {"/", "/login", "/logout", "/app"} & set(doc["paths"])
    # OpenAPI has no WebSockets: the document's description names each one.
    # The console's own (``/app/live``, signed in by its cookie) is for its pages, not the API.
    sockets = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule) for rule in app.url_map.iter_rules()
               if rule.websocket and not rule.rule.startswith("/app/")}
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


# GET answers that hold arrays of objects but are not lists of a resource. (An answer for one resource, whose
# path ends in its id, holds parts of that resource: a campaign's goals, an import's errors, a series.)
NOT_LISTS = {
    "/v1/analytics/overview": "one report: spend and cost per incremental stream, per currency",
    "/v1/analytics/audiences/{audience_id}/insights": "one report: breakdowns",
    "/v1/meta/campaigns/{meta_campaign_id}/insights": "one report: Meta's daily rows for the asked period",
    "/v1/spotify/tracks/{spotify_id}/analytics": "one report of one track",
    "/v1/engine/status": "the state of the running nodes, not a resource",
    "/v1/dev/mailbox": "sandbox only: a debugging view of every organization's mail, newest first up to `limit`",
}
# Lists proxied from Spotify keep Spotify's page bounds (default, maximum), and its search answers several
# types of items in one page.
SPOTIFY_BOUNDS = {"/v1/spotify/tracks": (20, 50), "/v1/spotify/playlists": (20, 50), "/v1/spotify/search": (5, 10)}
SEVERAL = {"/v1/spotify/search": ["tracks", "artists", "albums"],
           "/v1/audit-logs": ["auditLogs"]}  # a JSON field is camelCase, the path's words are hyphenated


async def test_every_list_answers_the_reference_pagination(client: Client) -> None:
    doc = await (await client.get("/openapi.json")).get_json()
    schemas = doc["components"]["schemas"]
    lists = []
    for path, operations in doc["paths"].items():
        read = operations.get("get", {})
        schema = read.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {}).get("schema")
        if not schema or "$ref" not in schema or path.endswith("}") or path in NOT_LISTS:
            continue
        answer = schemas[schema["$ref"].rsplit("/", 1)[1]]
        arrays = [name for name, field in answer["properties"].items()
                  if field.get("type") == "array" and "$ref" in field["items"]]
        if not arrays:
            continue
        lists.append(path)
        assert arrays == SEVERAL.get(path, [path.rsplit("/", 1)[1]]), path  # items under the resource's name
        assert answer["properties"]["pagination"] == {"$ref": "#/components/schemas/Pagination"}, path
        assert {"pagination", *arrays} <= set(answer["required"]), path
        window = {p["name"]: p["schema"] for p in read.get("parameters", []) if p["in"] == "query"}
        assert {"limit", "offset"} <= set(window), path
        default, most = SPOTIFY_BOUNDS.get(path, (20, 100))
        assert (window["limit"]["default"], window["limit"]["minimum"], window["limit"]["maximum"]) == (
            default, 1, most), path
        assert (window["offset"]["default"], window["offset"]["minimum"]) == (0, 0), path
    pagination = schemas["Pagination"]
    assert sorted(pagination["required"]) == ["hasNext", "limit", "offset", "total"]
    assert len(lists) >= 20  # every list at the time of writing


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


async def test_schema_names_do_not_depend_on_where_the_code_lives(client: Client) -> None:
    # Two Structs of one name make msgspec name both by module path ("http_api.x.Name"): the names a
    # client's generator turns into types would then change whenever a module moves.
    doc = await (await client.get("/openapi.json")).get_json()
    assert [name for name in doc["components"]["schemas"] if "." in name] == []


async def test_operation_ids_are_unique_snake_case_words(client: Client) -> None:
    doc = await (await client.get("/openapi.json")).get_json()
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+(_[a-z0-9]+)+", op) for op in ids), [op for op in ids if "__" in op]
    assert {"get_health_ready", "get_campaigns_by_campaign_id", "post_campaigns_by_campaign_id_launch"} <= set(ids)
