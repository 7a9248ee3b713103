"""The vendored scripts as the console uses them: served by ``songtrack run`` over real HTTP with a cache
header a browser may keep for good, and working in Chromium (htmx swaps a real response in, uPlot draws)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import Service
from tests.helpers.browser import assert_accessible, screenshot

HTMX, UPLOT_JS, UPLOT_CSS = "htmx-2.0.11.min.js", "uPlot-1.6.32.iife.min.js", "uPlot-1.6.32.min.css"

# Served at a path of the service's origin by the test itself (page.route), loading the real vendored files.
_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vendored scripts</title>
<link rel="stylesheet" href="/static/vendor/{UPLOT_CSS}">
<script src="/static/vendor/{HTMX}"></script><script src="/static/vendor/{UPLOT_JS}"></script></head>
<body><main><h1>Vendored scripts</h1>
<button hx-get="/health/live" hx-target="#answer">Check</button><output id="answer"></output>
<div id="chart"></div></main>
<script>
new uPlot({{title: "Streams", width: 600, height: 300, series: [{{}}, {{label: "streams", stroke: "#1f4e79"}}]}},
          [[1, 2, 3, 4], [5, 9, 4, 12]], document.getElementById("chart"));
</script></body></html>
"""


def test_vendored_files_are_served_with_a_lasting_cache_header(service: Service) -> None:
    with httpx.Client(base_url=service.url) as client:
        response = client.get(f"/static/vendor/{HTMX}")
        missing = client.get("/static/vendor/htmx-1.0.0.min.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert b"htmx" in response.content[:2000]
    assert missing.status_code == 404


def test_htmx_and_uplot_work_in_the_browser(page: Page, service: Service, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def fulfil(route: Route) -> None:
        route.fulfill(body=_PAGE, content_type="text/html; charset=utf-8")

    page.route("**/browser-test/vendored", fulfil)
    page.goto("/browser-test/vendored")
    assert page.evaluate("typeof window.htmx.ajax === 'function' && typeof window.uPlot === 'function'")
    # The chart drew: its canvas has pixels that are not transparent.
    painted = page.evaluate("""() => {
        const canvas = document.querySelector('#chart canvas');
        const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        return canvas.width > 0 && pixels.some((value, i) => i % 4 === 3 && value > 0);
    }""")
    assert painted
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#answer")).not_to_be_empty()
    assert json.loads(page.locator("#answer").inner_text())["status"] == "ok"
    assert_accessible(page)
    monkeypatch.setenv("SONGTRACK_SCREENSHOTS", str(tmp_path))
    assert screenshot(page, "vendored") == tmp_path / "vendored.png"
    assert (tmp_path / "vendored.png").read_bytes().startswith(b"\x89PNG")
