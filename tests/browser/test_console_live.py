"""Live streams in Chromium: the demo campaign's page and the overview watch the demo track over ``/app/live``
(signed in by the page's session cookie) and show streams as they arrive. The streams are sent as any source
sends them, ``POST /v1/streaming/events`` with the demo owner's token, with a country the sandbox's own
simulated listens never use, so the page shows ours.
"""

from __future__ import annotations

import json
import re
import uuid

import httpx
from playwright.sync_api import Page, WebSocketRoute, expect

from songtrack.sandbox_demo import DEMO_EMAIL
from tests.browser.conftest import Service, sign_in_as_demo
from tests.helpers.browser import assert_accessible, drawn_pixels

_SENT = 25
_COUNTRY = "IS"  # not among the sandbox's simulated listeners' countries



def _send_streams(service: Service, password: str, track_id: str) -> None:
    with httpx.Client(base_url=service.url, timeout=10) as api:
        login = api.post("/v1/auth/login", json={"email": DEMO_EMAIL, "password": password})
        assert login.status_code == 200, login.text
        api.headers["Authorization"] = f"Bearer {login.json()['tokens']['accessToken']}"
        # The sandbox runs on its simulated clock: the current bucket's start is "now" as the server sees it.
        realtime = api.get(f"/v1/streaming/realtime/{track_id}", params={"interval": "5m", "buckets": 1})
        assert realtime.status_code == 200, realtime.text
        at = realtime.json()["data"][-1]["timestamp"]
        events = [{"id": f"browser-{uuid.uuid4()}", "trackId": track_id, "platform": "spotify",
                   "country": _COUNTRY, "timestamp": at} for _ in range(_SENT)]
        sent = api.post("/v1/streaming/events", json={"events": events})
        assert sent.status_code == 200 and sent.json()["accepted"] == _SENT, sent.text


def _number(text: str) -> int:
    return int(re.sub(r"\D", "", text))


def test_the_campaign_page_shows_live_streams_as_they_arrive(page: Page, service: Service,
                                                             demo_password: str) -> None:
    sign_in_as_demo(page, demo_password)
    page.goto("/app/campaigns?search=Demo+campaign")
    page.get_by_role("link", name="Demo campaign").first.click()
    live = page.locator("#live-streams")
    expect(live.locator('[data-live="state"]')).to_have_text("Live: connected.")
    hour = live.locator('[data-live="hour"]')
    expect(hour).to_have_text(re.compile(r"^\d[\d,.\s]*$"))  # the first counts snapshot has come
    before = _number(hour.inner_text())

    track_id = json.loads(live.get_attribute("data-live-tracks") or "[]")[0]
    _send_streams(service, demo_password, track_id)

    expect(live.locator('[data-live="latest"]')).to_contain_text(_COUNTRY)
    expect(hour).not_to_have_text(str(before))
    assert _number(hour.inner_text()) >= before + _SENT
    expect(live.locator('[data-live="chart"] canvas')).to_be_visible()
    assert drawn_pixels(page, '[data-live="chart"] canvas') > 200
    assert_accessible(page)


def test_the_overview_shows_the_labels_live_streams(page: Page, demo_password: str) -> None:
    sign_in_as_demo(page, demo_password)
    live = page.locator("#live-streams")
    expect(live.locator('[data-live="state"]')).to_have_text("Live: connected.")
    expect(live.locator('[data-live="hour"]')).to_have_text(re.compile(r"^\d[\d,.\s]*$"))
    expect(live.locator('[data-live="minute"]')).to_have_text(re.compile(r"^\d[\d,.\s]*$"))
    assert_accessible(page)


def test_after_a_dropped_connection_the_page_resumes_where_it_was(page: Page, service: Service,
                                                                  demo_password: str) -> None:
    """The page's connections pass through Playwright, which shows what the page sends and can drop them."""
    connections: list[tuple[WebSocketRoute, list[dict[str, object]], list[int]]] = []
    dropped: list[WebSocketRoute] = []

    def relay(route: WebSocketRoute) -> None:
        sent: list[dict[str, object]] = []
        seqs: list[int] = []  # of the stream events the server sent
        server = route.connect_to_server()

        def from_page(message: str | bytes) -> None:
            sent.append(json.loads(message))
            server.send(message)

        def from_server(message: str | bytes) -> None:
            if route in dropped:  # what the server sent after we dropped it never reached the page
                return
            for line in str(message).split("\n"):
                if (frame := json.loads(line))["event"] == "stream":
                    seqs.append(frame["seq"])
            route.send(message)
        route.on_message(from_page)
        server.on_message(from_server)
        connections.append((route, sent, seqs))

    page.route_web_socket(re.compile(r".*/app/live$"), relay)
    sign_in_as_demo(page, demo_password)
    page.goto("/app/campaigns?search=Demo+campaign")
    page.get_by_role("link", name="Demo campaign").first.click()
    live = page.locator("#live-streams")
    state = live.locator('[data-live="state"]')
    expect(state).to_have_text("Live: connected.")
    track_id = json.loads(live.get_attribute("data-live-tracks") or "[]")[0]
    _send_streams(service, demo_password, track_id)
    expect(live.locator('[data-live="latest"]')).to_contain_text(_COUNTRY)

    first, first_sent, first_seqs = connections[-1]  # the campaign page's (the overview had one before it)
    count = len(connections)
    dropped.append(first)
    first.close(code=4000, reason="no pong: reconnect and resume")  # as the server drops a silent client
    for _ in range(100):  # the page reconnects after half a second
        if len(connections) > count:
            break
        page.wait_for_timeout(100)
    expect(state).to_have_text("Live: connected.")
    resume = next(m for m in connections[-1][1] if m["type"] == "subscribe")
    assert resume["trackId"] == track_id and isinstance(resume["epoch"], str)
    assert resume["after"] == first_seqs[-1]  # the last event the page had
    assert first_sent[0] == {"type": "subscribe", "trackId": track_id}  # a fresh start had no position
