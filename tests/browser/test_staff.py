"""A reviewer signs in, finds a report in the list, opens its case and downloads the workbook."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook

from adr import regulatory
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.sqlite_only


def test_from_sign_in_to_the_months_workbook(desktop, live_server, tmp_path):
    reference = live_server.send_report()
    sign_in(desktop, live_server)
    assert desktop.text_content("h1") == "Dashboard"

    desktop.get_by_role("link", name="Reports", exact=True).click()
    desktop.get_by_role("link", name=reference).click()
    desktop.wait_for_url(f"**/staff/reports/{reference}")
    assert reference in desktop.text_content("h1")

    desktop.get_by_role("link", name="Dashboard").click()
    picker = desktop.locator("#export-month")
    this_month = datetime.now(regulatory.CHINA).date().replace(day=1)
    last_month = (this_month - timedelta(days=1)).strftime("%Y-%m")
    assert picker.input_value() == last_month  # what the regulator asks for
    picker.fill(this_month.strftime("%Y-%m"))
    with desktop.expect_download() as download:
        desktop.get_by_role("button", name="Download the workbook").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    sheet = load_workbook(path)["个例报告"]
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == [reference]


def test_the_articles_fields_show_once_the_literature_is_chosen(desktop, live_server):
    sign_in(desktop, live_server)
    desktop.goto("/staff/reports/new")
    article, hint = (
        desktop.locator("#literature"),
        desktop.locator("#case-awareness_date-hint span"),
    )
    assert article.is_hidden() and hint.is_hidden()
    desktop.select_option("#case-source", "literature")
    assert article.is_visible() and hint.is_visible()
    desktop.fill("#literature-title", "SJS after amoxicillin")
    desktop.select_option("#case-source", "phone")  # what was typed stays in sight, to be refused
    assert article.is_visible() and hint.is_hidden()
