"""The confirmation page on a phone: the reference is copied with a button, or selected."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.sqlite_only


def test_the_copy_button_copies_the_reference_and_says_so(phone, live_server):
    phone.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    reference = live_server.send_report()
    phone.goto(f"/report/submitted/{reference}")
    phone.get_by_role("button", name="复制报告编码").click()
    status = phone.get_by_role("status")
    status.filter(has_text="已复制").wait_for()
    assert status.inner_text() == f"已复制：{reference}"
    assert phone.evaluate("navigator.clipboard.readText()") == reference


def test_when_the_browser_refuses_to_copy_the_reference_is_selected(phone, live_server):
    reference = live_server.send_report()
    phone.goto(f"/report/submitted/{reference}")
    phone.evaluate(
        "Object.defineProperty(navigator.clipboard, 'writeText',"
        " {value: () => Promise.reject(new Error('refused'))})"
    )
    phone.get_by_role("button", name="复制报告编码").click()
    phone.get_by_role("status").filter(has_text="长按").wait_for()
    assert phone.evaluate("getSelection().toString().trim()") == reference
    assert "未能自动复制" in phone.get_by_role("status").inner_text()
