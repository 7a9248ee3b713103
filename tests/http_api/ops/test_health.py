"""Health, readiness, engine status and the error envelope, through Quart's test
client against a real (per-test) PostgreSQL database.
"""

from __future__ import annotations

import dataclasses

from quart.typing import TestClientProtocol as Client
from quart_trio import QuartTrio

from engine.registry import ActorState, Registry
from engine.store import nodes
from engine.store.database import Database
from engine.store.migrate import Migration, discover
from http_api.context import ApiContext
from songtrack.api import build_api
from tests.http_api.conftest import MakeMember


async def test_live_answers_while_the_database_is_still_starting(ctx: ApiContext) -> None:
    client = build_api(dataclasses.replace(ctx, database=lambda: None)).app.test_client()
    assert (await client.get("/health/live")).status_code == 200
    ready = await client.get("/health/ready")
    assert ready.status_code == 503
    assert (await ready.get_json())["checks"]["database"] == {"status": "starting"}
    status = await client.get("/v1/engine/status", headers={"Authorization": "Bearer x"})
    assert status.status_code == 503
    assert (await status.get_json())["error"]["code"] == "SERVICE_UNAVAILABLE"


async def test_ready_once_the_database_is_migrated(client: Client) -> None:
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert await ready.get_json() == {
        "status": "ready",
        "checks": {"database": {"status": "ok"}, "migrations": {"status": "ok"}},
    }


async def test_ready_names_pending_migrations(ctx: ApiContext) -> None:
    extra = Migration(version=9999, name="later", sql="SELECT 1", checksum="x")
    client = build_api(dataclasses.replace(ctx, migrations=[*discover(), extra])).app.test_client()
    ready = await client.get("/health/ready")
    assert ready.status_code == 503
    assert (await ready.get_json())["checks"]["migrations"] == {
        "status": "pending", "detail": "not applied: 9999",
    }


async def test_engine_status_shows_actor_state_restarts_and_last_error(
    db: Database, client: Client, make_member: MakeMember
) -> None:
    registry = Registry()
    registry.update("poller-1", ActorState.RUNNING)
    registry.update("poller-2", ActorState.BACKING_OFF, restarts=3, last_error="ValueError: boom")
    node = await nodes.register_node(db)
    await nodes.publish_actors(db, node, registry.snapshot())
    owner = await make_member()
    body = await (await client.get("/v1/engine/status", headers=owner.headers)).get_json()
    assert [n["id"] for n in body["nodes"]] == [str(node)]
    by_name = {a["name"]: a for a in body["actors"]}
    assert by_name["poller-1"]["state"] == "running"
    assert by_name["poller-2"] | {"since": None} == {
        "nodeId": str(node), "name": "poller-2", "state": "backing_off", "restarts": 3,
        "lastError": "ValueError: boom", "nextRestartAt": None, "since": None, "detail": None,
    }


async def test_engine_status_is_for_admins_only(client: Client, make_member: MakeMember) -> None:
    owner = await make_member()
    member = await make_member(org_id=owner.org_id, role="member")
    assert (await client.get("/v1/engine/status")).status_code == 401
    denied = await client.get("/v1/engine/status", headers=member.headers)
    assert denied.status_code == 403
    assert (await denied.get_json())["error"]["code"] == "AUTHORIZATION_ERROR"


async def test_stopped_nodes_drop_out_of_the_status(
    db: Database, client: Client, make_member: MakeMember
) -> None:
    registry = Registry()
    registry.update("poller-1", ActorState.RUNNING)
    node = await nodes.register_node(db)
    await nodes.publish_actors(db, node, registry.snapshot())
    await nodes.mark_node_stopped(db, node)
    owner = await make_member()
    body = await (await client.get("/v1/engine/status", headers=owner.headers)).get_json()
    assert body == {"nodes": [], "actors": []}


async def test_unknown_route_and_wrong_method_use_the_error_envelope(client: Client) -> None:
    missing = await client.get("/v1/nope")
    assert missing.status_code == 404
    error = (await missing.get_json())["error"]
    assert (error["code"], error["details"]) == ("NOT_FOUND", [])
    wrong = await client.post("/health/live")
    assert wrong.status_code == 405
    assert (await wrong.get_json())["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in wrong.headers["Allow"]


async def test_a_crash_answers_500_in_the_envelope_without_a_traceback(app: QuartTrio) -> None:
    @app.get("/boom")
    async def boom() -> str:
        raise RuntimeError("secret internals")

    response = await app.test_client().get("/boom")
    assert response.status_code == 500
    body = await response.get_json()
    assert body == {"error": {"code": "SERVER_ERROR", "message": "internal server error", "details": [],
                              "requestId": response.headers["X-Request-ID"]}}
