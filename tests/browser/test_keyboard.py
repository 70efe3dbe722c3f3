"""A keyboard user skips to the content and always sees where the focus is."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.sqlite_only

FOCUSED = """() => {
    const element = document.activeElement;
    const style = getComputedStyle(element);
    const box = element.getBoundingClientRect();
    return {
        tag: element.tagName.toLowerCase(),
        type: element.type || "",
        name: element.name || element.className || element.textContent.trim().slice(0, 30),
        outline: style.outlineStyle === "none" ? 0 : parseFloat(style.outlineWidth),
        visible: box.width > 0 && box.height > 0 && box.bottom > 0 && box.top < innerHeight,
    };
}"""


def test_the_first_tab_shows_a_skip_link_to_the_content(desktop):
    desktop.goto("/report")
    desktop.keyboard.press("Tab")
    focused = desktop.evaluate(FOCUSED)
    assert (focused["tag"], focused["name"], focused["visible"]) == ("a", "skip", True)
    assert desktop.text_content(".skip") == "Skip to content"
    desktop.keyboard.press("Enter")
    assert desktop.evaluate("location.hash") == "#main"
    desktop.keyboard.press("Tab")  # on to the first control of the content, past the header
    assert desktop.evaluate("document.activeElement.closest('main') !== null")


def test_every_control_of_the_form_shows_its_focus(desktop):
    desktop.goto("/report")
    desktop.evaluate("document.querySelectorAll('[data-step]').forEach(s => s.hidden = false)")
    seen: list[dict] = []
    for _ in range(1000):  # past the last control the focus leaves the page
        desktop.keyboard.press("Tab")
        focused = desktop.evaluate(FOCUSED)
        if focused["tag"] == "body" or focused in seen[:1]:
            break
        assert focused["outline"] >= 2, f"no visible focus on {focused}"
        seen.append(focused)
    kinds = {(item["tag"], item["type"]) for item in seen}
    assert {("input", "date"), ("input", "radio"), ("select", "select-one")} <= kinds
    assert {("input", "checkbox"), ("summary", ""), ("button", "submit"), ("a", "")} <= kinds
