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
