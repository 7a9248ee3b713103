"""Swagger UI at /api-docs in Chromium: its script renders the API's title and operations from /openapi.json
(real JavaScript, assets from this server). No axe check here: Swagger UI's own colours fail axe's contrast rule
(serious), which is not ours to fix; pages we control pass it (test_vendored_scripts.py, the console's)."""

from __future__ import annotations

from playwright.sync_api import Page, expect


def test_swagger_ui_renders_the_title_and_the_operations(page: Page) -> None:
    page.goto("/api-docs")
    expect(page.get_by_role("heading", level=1)).to_contain_text("SongTrackPro API")
    expect(page.get_by_role("button", name="POST /v1/auth/register Create")).to_be_visible()
    assert page.locator(".opblock").count() > 50  # one block per operation, built by Swagger UI's script
