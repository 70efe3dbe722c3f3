"""Every public and staff page passes axe-core, on a phone in Chinese and a desktop in English."""

from __future__ import annotations

import io
from datetime import date

import pytest
import sqlalchemy as sa

from adr.extensions import db
from adr.models import Batch, LabResult, Product, Report, write_transaction
from tests.browser.conftest import send_as_is, sign_in
from tests.conftest import COMPANY
from tests.test_documents import photo
from tests.test_inbox_triage import LETTER, mail, store
from tests.test_signals import add_signal

ADMIN = "admin@tianning.example"

pytestmark = pytest.mark.sqlite_only


@pytest.fixture(params=["phone", "desktop"])
def page(request):
    return request.getfixturevalue(request.param)


def test_the_landing_page(page, axe_check):
    page.goto("/")
    axe_check(page)


def test_the_empty_form(page, axe_check):
    page.goto("/report")
    axe_check(page)
    page.evaluate("document.querySelectorAll('[required]').forEach(e => e.required = false)")
    for _ in range(4):  # every step, the review included
        page.locator("section[data-step]:visible .step-nav .primary").click()
        axe_check(page)


def test_a_refused_form(page, axe_check):
    page.goto("/report")
    assert send_as_is(page).status == 422
    axe_check(page)
    page.locator("#error-summary a").last.click()  # the privacy consent, on the last step
    axe_check(page)


def test_the_confirmation(page, live_server, axe_check):
    page.goto(f"/report/submitted/{live_server.send_report()}")
    axe_check(page)
    page.locator("#copy-reference").click()  # copied, or selected: either way, a status
    page.wait_for_selector("#copy-status:not(:empty)")
    axe_check(page)


def test_the_login_page(page, axe_check):
    page.goto("/login")
    axe_check(page)


def test_the_staff_list(page, live_server, axe_check):
    live_server.send_report()
    sign_in(page, live_server)
    page.goto("/staff/reports")
    axe_check(page)


def test_a_case_page(page, live_server, axe_check):
    pack = (io.BytesIO(photo()), "pack.jpg")  # a source document listed
    reference = live_server.send_report(**{"drugs-files": [pack]})
    with live_server.app.app_context(), write_transaction() as session:  # the holder's rows too
        report = session.scalar(sa.select(Report).where(Report.reference == reference))
        session.add(LabResult(case_id=report.case_id, position=1, test_name="ALT", result_value=86))
    sign_in(page, live_server)
    page.goto(f"/staff/reports/{reference}")
    axe_check(page)
    not_a_pdf = {"name": "scan.pdf", "mimeType": "application/pdf", "buffer": b"PK\x03\x04zip"}
    page.set_input_files("#document-file", not_a_pdf)
    with page.expect_navigation():
        page.locator("#document-form button[type=submit]").click()
    assert page.locator("#document-file-error").is_visible()  # refused, said at the field
    axe_check(page)


def test_the_safety_intelligence_pages(page, live_server, axe_check):
    """The catalogue, batches, compliance and listing pages, and a case page carrying a batch
    check and a duplicate candidate side by side."""
    with live_server.app.app_context():
        product = Product(
            generic_name="阿莫西林胶囊",
            brand_name="天宁",
            approval_number="国药准字H61020123",
            manufacturer=COMPANY,
            listed_reactions=["皮疹"],
        )
        product.batches.append(
            Batch(batch_number="20260315A", manufactured_on=date(2026, 3, 15), expires_on=None)
        )
        db.session.add(product)
        db.session.commit()
    for _ in range(3):  # a batch cluster, and the same patient's reaction told again
        live_server.send_report()
    reference = live_server.send_report(**{"drugs-0-batch_number": "20269999Z"})
    password = live_server.add_staff(ADMIN, "admin")
    page.goto("/login")
    page.fill("[name=email]", ADMIN)
    page.fill("[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_url("**/staff/")
    axe_check(page)  # the dashboard, listing the batch above the threshold
    for path in (
        f"/staff/reports/{reference}",
        "/staff/batches",
        "/staff/compliance",
        "/staff/listing",
        "/staff/periodic?product=1&from=2026-01-01&to=2026-12-31",
        "/staff/products",
        "/staff/products/1",
    ):
        page.goto(path)
        axe_check(page)
    page.goto("/staff/periodic")
    with page.expect_navigation():  # the year's figures computed, then a report arrives
        # pressed by script: the phone's zoomed-out page confuses Playwright's hit test
        page.locator("#figures-form button[type=submit]").evaluate("button => button.click()")
    live_server.send_report()
    page.reload()
    assert page.locator("#figures-stale").is_visible()
    axe_check(page)
    page.goto(f"/staff/reports/{reference}")
    assert page.locator("#batch-check").get_attribute("data-result") == "unknown"
    assert page.locator("#duplicate-candidates article").count() >= 1


def test_the_safety_inbox_pages(page, live_server, axe_check):
    """The inbox, a message with its decisions and attachment, the form it opens, the month."""
    raw = mail("患者用药后皮疹", "附件为报告表。", files=((LETTER, "application/pdf", "表.pdf"),))
    message_id = store(live_server.app, raw)
    sign_in(page, live_server)
    for path in (
        "/staff/inbox",
        f"/staff/inbox/{message_id}",
        f"/staff/reports/new?inbox={message_id}",
        "/staff/inbox/reconciliation",
    ):
        page.goto(path)
        axe_check(page)


def test_the_signal_and_group_event_pages(page, live_server, axe_check):
    """Signals, a signal with its 2×2 table and forms, group events and one event, the MedDRA
    upgrade's and the designated events' pages, and the dashboard listing them."""
    with live_server.app.app_context():
        db.session.add(
            Product(
                generic_name="阿莫西林胶囊",
                approval_number="国药准字H61020123",
                manufacturer=COMPANY,
                listed_reactions=["皮疹"],
            )
        )
        db.session.commit()
    place = {"event-province": "陕西省", "event-city": "榆林市"}
    references = [live_server.send_report(**place) for _ in range(3)]  # a group event
    live_server.app.config.update(first=references[0], second=references[1])
    signal_id = add_signal(live_server.app, "阿莫西林胶囊", 83000001)
    sign_in(page, live_server)
    axe_check(page)  # the dashboard, with the signal and the group event
    for path in (
        "/staff/signals",
        f"/staff/signals/{signal_id}",
        "/staff/group-events",
        "/staff/group-events/1",
        "/staff/coding/upgrade",
        "/staff/coding/designated-events",
    ):
        assert page.goto(path).ok, path
        axe_check(page)
