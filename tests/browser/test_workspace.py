"""The reviewer's workspace in a browser (issue 21): nothing typed is lost, triage by keyboard
from the queue, the queue as cards on a phone."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from adr.extensions import db
from adr.models import Case, Report
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.sqlite_only


def case_of(live_server, reference: str) -> Case:
    with live_server.app.app_context():
        query = sa.select(Case).join(Report).where(Report.reference == reference)
        case = db.session.scalar(query)
        db.session.expunge_all()
        return case


def fill_assessment(page) -> None:
    page.select_option("#status", "in_review")
    page.check("#assessment-form [name=expectedness][value=new]")
    page.check("#assessment-form [name=company_causality][value=probable]")
    page.fill("#note", "皮疹于停药后3天消退,考虑与本品有关")


def test_an_assessment_typed_survives_saving_another_section(desktop, live_server):
    """The review's lost assessment: typed, then the judgement table's save pressed first."""
    reference = live_server.send_report()
    sign_in(desktop, live_server)
    desktop.goto(f"/staff/reports/{reference}")
    fill_assessment(desktop)
    assert "Assessment" in desktop.text_content("#unsaved-notice")  # named before any save
    asked: list[str] = []
    desktop.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    with desktop.expect_navigation():
        desktop.click("#pairs-0 button[type=submit]")
    assert asked and "Assessment" in asked[0]  # the save asked first
    assert desktop.input_value("#note") == "皮疹于停药后3天消退,考虑与本品有关"
    assert desktop.input_value("#status") == "in_review"
    assert desktop.is_checked("#assessment-form [name=expectedness][value=new]")
    notice = desktop.locator("#unsaved-notice")
    assert notice.is_visible() and "not saved yet" in notice.text_content()
    assert case_of(live_server, reference).status == "received"  # kept, not saved

    with desktop.expect_navigation():
        desktop.click("#assessment-form button.primary")
    case = case_of(live_server, reference)
    assert (case.status, case.expectedness, case.company_causality) == (
        "in_review",
        "new",
        "probable",
    )
    assert desktop.locator("#unsaved-notice").is_hidden()
    assert "皮疹于停药后3天消退" in desktop.text_content("#assessment .note")


def test_leaving_with_unsaved_changes_asks_first(desktop, live_server):
    reference = live_server.send_report()
    sign_in(desktop, live_server)
    desktop.goto(f"/staff/reports/{reference}")
    desktop.fill("#note", "未保存的备注")
    kinds: list[str] = []
    desktop.once("dialog", lambda dialog: (kinds.append(dialog.type), dialog.dismiss()))
    desktop.get_by_role("link", name="Reports", exact=True).click()
    desktop.wait_for_timeout(300)
    assert kinds == ["beforeunload"]
    assert desktop.url.endswith(f"/staff/reports/{reference}")
    assert desktop.input_value("#note") == "未保存的备注"


def test_a_reviewer_triages_the_queue_by_keyboard(desktop, live_server):
    references = [live_server.send_report() for _ in range(3)]
    sign_in(desktop, live_server)
    desktop.goto("/staff/reports")
    desktop.keyboard.press("j")  # the first case of the queue
    desktop.keyboard.press("o")
    desktop.wait_for_url(f"**/staff/reports/{references[-1]}")  # same deadlines: newest first
    for position, reference in enumerate(reversed(references)):
        assert desktop.url.endswith(reference)
        desktop.keyboard.press("a")  # to the assessment: the status has the focus
        assert desktop.evaluate("document.activeElement.name") == "status"
        desktop.select_option("#status", "assessed")  # received → assessed in one save
        desktop.focus("#assessment-form [name=expectedness][value=listed]")
        desktop.keyboard.press("Space")
        desktop.focus("#assessment-form [name=company_causality][value=possible]")
        desktop.keyboard.press("Space")
        desktop.focus("#note")
        desktop.keyboard.type("已评价")
        with desktop.expect_navigation():
            desktop.keyboard.press("Control+Enter")  # save, and the next case when there is one
        case = case_of(live_server, reference)
        assert (case.status, case.expectedness, case.company_causality) == (
            "assessed", "listed", "possible",
        )  # fmt: skip
        if position < 2:
            assert not desktop.url.endswith(reference)
    assert desktop.url.endswith(references[0])  # the last: stays on it, saved
    desktop.keyboard.press("u")
    desktop.wait_for_url("**/staff/reports")
    desktop.keyboard.press("?")
    assert desktop.locator("#shortcuts").get_attribute("open") is not None


def test_the_queue_on_a_phone_is_one_card_a_case(phone, live_server):
    for _ in range(2):
        live_server.send_report()
    sign_in(phone, live_server)
    phone.goto("/staff/reports")
    layout = phone.evaluate(
        """() => {
        const row = document.querySelector("table.queue tbody tr");
        const cell = row.querySelector("td[data-label]");
        return {
            row: getComputedStyle(row).display,
            cellWidth: cell.getBoundingClientRect().width,
            width: innerWidth,
            overflow: document.documentElement.scrollWidth - innerWidth,
        };
    }"""
    )
    assert layout["row"] == "block"
    assert layout["cellWidth"] > layout["width"] * 0.7  # a line a field, not a column a letter
    assert layout["overflow"] <= 0


def test_what_was_typed_survives_another_sections_refused_save(desktop, live_server):
    """The other section's save is refused (422, at its own address): the note comes back."""
    reference = live_server.send_report()
    sign_in(desktop, live_server)
    desktop.goto(f"/staff/reports/{reference}")
    desktop.fill("#note", "待随访肝功能")
    desktop.once("dialog", lambda dialog: dialog.accept())
    with desktop.expect_navigation():
        desktop.click("#add-reaction button[type=submit]")  # no term typed: refused
    assert desktop.url.endswith("/reactions")
    assert desktop.input_value("#note") == "待随访肝功能"
    assert "not saved yet" in desktop.text_content("#unsaved-notice")
    kinds: list[str] = []
    desktop.once("dialog", lambda dialog: (kinds.append(dialog.type), dialog.dismiss()))
    desktop.get_by_role("link", name="Reports", exact=True).click()
    desktop.wait_for_timeout(300)
    assert kinds == ["beforeunload"]  # still unsaved: leaving asks
