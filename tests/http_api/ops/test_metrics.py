"""``GET /metrics``: who may read it (``[metrics] mode``), and figures that match what the test did, read
with prometheus_client's own parser. The instruments are the process's own, shared by every test in it,
so each test compares a scrape after with a scrape before.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from pathlib import Path

import httpx
import trio
from prometheus_client.parser import text_string_to_metric_families
from quart.typing import TestClientProtocol as Client

from config import Keys, load
from engine.store.database import Database
from engine.store.outbox import enqueue_event
from http_api.context import ApiContext
from songtrack.api import build_api
from tests.helpers.factories import create_endpoint, create_org
from tests.helpers.live_ws import open_ws, serve
from tests.helpers.live_ws import settings as live_settings

LOCAL = {"client": ("127.0.0.1", 50000)}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


async def scrape(client: Client, **headers: str) -> Samples:
    response = await client.get("/metrics", headers=headers, scope_base=LOCAL)
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return parse(await response.get_data(as_text=True))


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def with_metrics(ctx: ApiContext, **metrics: str) -> Client:
    """A client of an app whose ``[metrics]`` settings are ``metrics`` (``mode="token"``, ``token=...``)."""
    env = {f"SONGTRACK_METRICS_{name.upper()}": given for name, given in metrics.items()} | {"SONGTRACK_SANDBOX": "off"}
    return build_api(dataclasses.replace(ctx, settings=load(env))).app.test_client()


async def test_requests_are_counted_by_route_template_and_status(client: Client) -> None:
    before = await scrape(client)
    for _ in range(3):
        response = await client.get(f"/v1/tracks/{uuid.uuid4()}")  # no token: 401
        assert response.status_code == 401
    after = await scrape(client)
    route = {"method": "GET", "route": "/v1/tracks/<uuid:track_id>"}
    assert value(after, "songtrack_http_requests_total", **route, status="401") - \
        value(before, "songtrack_http_requests_total", **route, status="401") == 3
    assert value(after, "songtrack_http_request_duration_seconds_count", **route) - \
        value(before, "songtrack_http_request_duration_seconds_count", **route) == 3
    # No label carries a path's ids: the route template stands for all of them.
    assert not any(re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", v) for _, labels in after for _, v in labels)


async def test_a_path_no_route_matches_counts_as_unmatched(client: Client) -> None:
    before = await scrape(client)
    assert (await client.get("/no/such/page")).status_code == 404
    after = await scrape(client)
    unmatched = {"method": "GET", "route": "<unmatched>", "status": "404"}
    assert value(after, "songtrack_http_requests_total", **unmatched) - \
        value(before, "songtrack_http_requests_total", **unmatched) == 1


async def test_the_outbox_and_the_database_are_read_at_scrape_time(client: Client, db: Database) -> None:
    before = await scrape(client)
    assert value(before, "songtrack_database_up") == 1
    org = await create_org(db)
    await create_endpoint(db, org)
    await enqueue_event(db, org, "campaign.created", {"id": "c1"})
    after = await scrape(client)
    assert value(after, "songtrack_webhook_outbox_pending") - value(before, "songtrack_webhook_outbox_pending") == 1
    assert 0 <= value(after, "songtrack_webhook_outbox_oldest_pending_age_seconds") < 60
    assert value(after, "songtrack_database_pool_max_connections") >= 1


async def test_a_scrape_without_the_database_still_answers(ctx: ApiContext) -> None:
    client = build_api(dataclasses.replace(ctx, database=lambda: None)).app.test_client()
    samples = await scrape(client)
    assert value(samples, "songtrack_database_up") == 0
    assert not any(name.startswith("songtrack_webhook_outbox") for name, _ in samples)


async def test_loopback_mode_refuses_other_peers_and_proxied_requests(client: Client) -> None:
    remote = await client.get("/metrics", scope_base={"client": ("203.0.113.7", 50000)})
    assert remote.status_code == 403
    assert (await remote.get_json())["error"]["code"] == "AUTHORIZATION_ERROR"
    proxied = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"}, scope_base=LOCAL)
    assert proxied.status_code == 403
    assert (await client.get("/metrics", scope_base={"client": ("::1", 50000)})).status_code == 200


async def test_token_mode_asks_for_the_bearer_token_from_anywhere(ctx: ApiContext) -> None:
    client = with_metrics(ctx, mode="token", token="s3cret-scrape")
    remote = {"client": ("203.0.113.7", 50000)}
    missing = await client.get("/metrics", scope_base=remote)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"}, scope_base=remote)
    assert wrong.status_code == 401
    right = await client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"}, scope_base=remote)
    assert right.status_code == 200


async def test_off_mode_has_no_metrics_route(ctx: ApiContext) -> None:
    assert (await with_metrics(ctx, mode="off").get("/metrics", scope_base=LOCAL)).status_code == 404


async def test_a_live_connection_is_counted_while_open(nursery: trio.Nursery, db: Database, keys: Keys) -> None:
    server = await serve(nursery, db, keys, live_settings())
    async with httpx.AsyncClient(base_url=server.http_url) as http:

        async def connections(expected: float) -> None:
            """Wait until a scrape shows ``expected`` connections: the gauge moves as the server's side does."""
            with trio.fail_after(5):
                while True:
                    if value(parse((await http.get("/metrics")).text), "songtrack_live_connections") == expected:
                        return
                    await trio.sleep(0.01)

        idle = value(parse((await http.get("/metrics")).text), "songtrack_live_connections")
        async with open_ws(f"{server.ws_url}/v1/streaming/ws"):
            await connections(idle + 1)  # counted from the handshake on, authenticated or not
        await connections(idle)


DOC = Path(__file__).parents[3] / "docs" / "metrics.md"


async def test_the_doc_lists_exactly_the_metrics_a_scrape_shows(client: Client, db: Database) -> None:
    org = await create_org(db)
    await create_endpoint(db, org)
    await enqueue_event(db, org, "campaign.created", {"id": "c1"})  # the oldest pending age needs one
    response = await client.get("/metrics", scope_base=LOCAL)
    scraped = {family.name + ("_total" if family.type == "counter" else "")
               for family in text_string_to_metric_families(await response.get_data(as_text=True))
               if family.name.startswith("songtrack_")}
    documented = set(re.findall(r"^\| `(songtrack_\w+)`", DOC.read_text(), re.MULTILINE))
    assert documented == scraped
