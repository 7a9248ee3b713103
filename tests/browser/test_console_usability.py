"""What the console promises every member of a team, checked in Chromium: it works from the keyboard alone
(skip link, sign-in, navigation, a campaign's page, a visible focus ring), a page loads at most about 150 KB
of script, and the charts follow a window that narrows to a phone's width without sideways scrolling."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from songtrack.sandbox_demo import DEMO_EMAIL
from tests.browser.conftest import sign_in_as_demo

_SCRIPT_BUDGET = 150 * 1024  # bytes of script a page may load (issue 16: "no more than about 150 KB")
_PAGES = ("/app", "/app/campaigns", "/app/rules", "/app/integrations", "/app/webhooks", "/app/tracks",
          "/app/audiences", "/app/imports", "/app/organization")

_FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  return {tag: el.tagName, text: (el.textContent || el.value || "").trim(), outline: style.outlineStyle,
          width: parseFloat(style.outlineWidth), visible: box.top >= 0 && box.bottom <= innerHeight};
}"""


def _tab_to(page: Page, text: str, limit: int = 60) -> dict[str, object]:
    """Press Tab until the focused element's text is ``text``; what is focused then."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(_FOCUSED)
        if focused["text"] == text:
            return focused  # type: ignore[no-any-return]
    raise AssertionError(f"{text!r} is not reachable with Tab")


def test_a_member_signs_in_and_reaches_a_campaign_with_the_keyboard_alone(page: Page, demo_password: str) -> None:
    page.goto("/login")
    skip = _tab_to(page, "Skip to content")
    assert skip["visible"] and skip["outline"] != "none"  # the skip link shows itself when focused
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_EMAIL)
    page.keyboard.press("Tab")
    page.keyboard.type(demo_password)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Demo Records", level=1)).to_be_visible()

    link = _tab_to(page, "Campaigns")
    assert link["tag"] == "A" and link["outline"] != "none" and float(link["width"]) >= 2  # type: ignore[arg-type]
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Campaigns", level=1)).to_be_visible()
    _tab_to(page, "Demo campaign", limit=120)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Demo campaign", level=1)).to_be_visible()
    button = _tab_to(page, "CSV", limit=120)  # past the lifecycle buttons to the downloads
    assert button["visible"] and button["outline"] != "none"  # focus visible, not hidden under anything


def test_no_page_loads_more_than_about_150_kb_of_script(page: Page, demo_password: str) -> None:
    sign_in_as_demo(page, demo_password)
    page.goto("/app/campaigns?search=Demo+campaign")
    page.get_by_role("link", name="Demo campaign").first.click()
    for path in (page.url, *_PAGES):
        page.goto(path)
        page.wait_for_load_state("load")
        scripts = page.evaluate("""() => performance.getEntriesByType("resource")
            .filter((r) => r.initiatorType === "script").map((r) => r.decodedBodySize)""")
        assert scripts, f"{path} loads no script at all"  # every page has at least local-time.js
        assert sum(scripts) <= _SCRIPT_BUDGET, (path, sum(scripts))


def test_the_charts_follow_a_window_that_narrows_to_a_phone(page: Page, demo_password: str) -> None:
    sign_in_as_demo(page, demo_password)
    page.goto("/app/campaigns?search=Demo+campaign")
    page.get_by_role("link", name="Demo campaign").first.click()
    expect(page.locator("#campaign-chart canvas")).to_be_visible()
    page.set_viewport_size({"width": 390, "height": 844})  # no reload: the window itself narrows
    page.wait_for_function("document.documentElement.scrollWidth <= 390")
    assert page.locator("#campaign-chart canvas").bounding_box()["width"] <= 390  # type: ignore[index]
