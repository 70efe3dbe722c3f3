"""The pages fit a narrow phone and load every file they name."""

from __future__ import annotations

import pytest

from tests.browser.conftest import send_as_is

pytestmark = pytest.mark.sqlite_only

SCROLLS_SIDEWAYS = "document.documentElement.scrollWidth > document.documentElement.clientWidth"


def test_the_form_reflows_at_320_pixels_without_scrolling_sideways(phone):
    phone.set_viewport_size({"width": 320, "height": 640})
    phone.goto("/report")
    assert not phone.evaluate(SCROLLS_SIDEWAYS)
    assert send_as_is(phone).status == 422  # refused: messages beside every field
    phone.wait_for_selector("#error-summary")
    assert not phone.evaluate(SCROLLS_SIDEWAYS)


def test_no_file_a_page_asks_for_is_missing(phone):
    failed = []
    phone.on("response", lambda response: response.ok or failed.append(response.url))
    for path in ("/", "/report", "/login", "/favicon.ico"):
        phone.goto(path)
    assert failed == []
    assert phone.evaluate("document.contentType") == "image/svg+xml"  # /favicon.ico, redirected


def test_on_a_phone_the_start_page_leads_with_120_and_the_button_is_above_the_fold(phone):
    phone.goto("/")
    emergency, start = phone.locator("#emergency"), phone.locator("#start")
    assert "拨打120" in emergency.inner_text()
    assert emergency.bounding_box()["y"] < start.bounding_box()["y"]
    box = start.bounding_box()
    assert box["y"] + box["height"] <= phone.viewport_size["height"]


def touch_targets_too_small(page) -> list[str]:
    boxes = [(link.inner_text(), link.bounding_box()) for link in page.locator("footer a").all()]
    return [text for text, box in boxes if box["height"] < 44 or box["width"] < 44]


def test_the_footer_links_are_44_pixel_touch_targets_on_a_phone(phone, live_server):
    for path in ("/", f"/report/submitted/{live_server.send_report()}"):
        phone.goto(path)
        assert phone.locator("footer a").count() == 4  # two phones, the inbox, the notice
        assert touch_targets_too_small(phone) == []
    phone.set_viewport_size({"width": 320, "height": 640})
    assert not phone.evaluate(SCROLLS_SIDEWAYS)


def test_on_a_desktop_the_footer_keeps_its_lines(desktop):
    desktop.goto("/")
    assert touch_targets_too_small(desktop) == []
    phones = [link.bounding_box() for link in desktop.locator('footer a[href^="tel:"]').all()]
    assert len(phones) == 2 and phones[0]["y"] == phones[1]["y"]  # side by side, one line
    assert desktop.locator("footer").bounding_box()["height"] < 5 * 44
