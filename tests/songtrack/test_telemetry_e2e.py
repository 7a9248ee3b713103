"""OpenTelemetry traces end to end (docs/telemetry.md): ``songtrack run`` in sandbox mode with ``[telemetry]
endpoint`` pointing at a real OTLP/HTTP receiver in the test, which decodes opentelemetry-proto's
``ExportTraceServiceRequest``s. A request that creates a campaign, sent with a W3C ``traceparent``, makes one
trace of the API's server span, the store's spans and the delivery of the ``campaign.created`` webhook it
caused; the Meta account actor's polls are traces of their own, with a span per provider call.

Real clock and a real child process; every wait is bounded.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import trio

from tests.helpers.otlp_receiver import OtlpReceiver, ReceivedSpan, serve_otlp_receiver
from tests.helpers.process import SongtrackProcess, free_port
from tests.helpers.receiver import Receiver, serve_receiver
from tests.helpers.signup import log_in

SERVICE = "songtrack-e2e"


async def _span(otlp: OtlpReceiver, what: str, matches: Callable[[ReceivedSpan], bool]) -> ReceivedSpan:
    with trio.move_on_after(30):
        while True:
            found = [span for span in otlp.spans if matches(span)]
            if found:
                return found[0]
            await trio.sleep(0.1)
    raise AssertionError(f"no {what} span among {[(s.name, s.trace_id) for s in otlp.spans]}")


async def _created_event(receiver: Receiver, campaign_id: str) -> str:
    with trio.fail_after(30):
        while True:
            for item in receiver.received:
                event = json.loads(item.body)
                if event["type"] == "campaign.created" and event["data"]["campaignId"] == campaign_id:
                    return str(event["id"])
            await trio.sleep(0.1)


async def _create_campaign(port: int, output: str, traceparent: str) -> httpx.Response:
    login = re.search(r"log in as (\S+) / (\S+);", output)
    track = re.search(r"Demo track: (\S+) ", output)
    assert login is not None and track is not None, output
    now = datetime.now(UTC).replace(microsecond=0)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        headers = await log_in(client, login[1], login[2])
        created = await client.post("/v1/campaigns", headers={**headers, "traceparent": traceparent}, json={
            "name": "Traced", "trackId": track[1], "budget": 100, "currency": "USD", "objective": "streams",
            "startDate": now.isoformat(), "endDate": (now + timedelta(days=30)).isoformat()})
    assert created.status_code == 201, created.text
    return created


async def test_a_request_its_statements_and_its_webhook_share_one_trace(tmp_path: Path) -> None:
    await trio.Path(tmp_path).chmod(0o755)  # the embedded cluster runs unprivileged when we are root
    port, trace_id, parent_id = free_port(), secrets.token_hex(16), secrets.token_hex(8)
    async with trio.open_nursery() as nursery:
        receiver, otlp = await serve_receiver(nursery), await serve_otlp_receiver(nursery)
        env = {**os.environ, "SONGTRACK_SIMULATORS_DEMO_WEBHOOK_URL": f"{receiver.url}/hook",
               "SONGTRACK_WEBHOOKS_ALLOW_SUBNETS": "127.0.0.0/8", "SONGTRACK_SIMULATORS_STREAM_RATE": "0",
               "SONGTRACK_TELEMETRY_ENDPOINT": f"{otlp.url}/v1/traces", "SONGTRACK_TELEMETRY_SERVICE_NAME": SERVICE,
               "OTEL_BSP_SCHEDULE_DELAY": "100"}  # milliseconds between exports, not the default 5 s
        proc = SongtrackProcess(["run", "--data-dir", str(tmp_path / "var"), "--port", str(port)],
                                tmp_path / "songtrack.log", env)
        try:
            await proc.start()
            await proc.wait_ready(f"http://127.0.0.1:{port}")
            created = await _create_campaign(port, proc.output, f"00-{trace_id}-{parent_id}-01")
            event_id = await _created_event(receiver, created.json()["id"])
            ours: Callable[[ReceivedSpan], bool] = lambda span: span.trace_id == trace_id  # noqa: E731

            api = await _span(otlp, "API", lambda s: ours(s) and s.kind == "server")
            assert (api.name, api.parent_id) == ("POST /v1/campaigns", parent_id)  # the caller's traceparent
            assert api.attributes["songtrack.request_id"] == created.headers["X-Request-ID"]
            assert api.attributes["http.response.status_code"] == 201
            transaction = await _span(otlp, "transaction",
                                      lambda s: s.parent_id == api.span_id and s.name == "transaction")
            store = await _span(otlp, "store", lambda s: s.parent_id == transaction.span_id and s.name == "INSERT")
            assert store.attributes == {"db.system.name": "postgresql", "db.operation.name": "INSERT"}  # no SQL
            # The delivery continues the span that enqueued its event: the request's transaction.
            delivery = await _span(otlp, "delivery", lambda s: ours(s) and s.name == "webhook delivery")
            assert (delivery.parent_id, delivery.kind) == (transaction.span_id, "client")
            assert delivery.attributes["songtrack.webhook.event_id"] == event_id
            assert delivery.attributes["http.response.status_code"] == 200

            call = await _span(otlp, "provider call", lambda s: s.name == "meta call")
            poll = await _span(otlp, "poll", lambda s: s.span_id == call.parent_id)
            assert (poll.name, poll.trace_id, poll.parent_id) == ("meta poll", call.trace_id, "")
            assert call.attributes["songtrack.outcome"] == "ok"
            assert {span.service for span in otlp.spans} == {SERVICE}
            assert await proc.stop() == 0
        finally:
            await proc.kill()
            nursery.cancel_scope.cancel()
