"""Every public and staff page passes axe-core, on a phone in Chinese and a desktop in English."""

from __future__ import annotations

import pytest

from tests.browser.conftest import send_as_is, sign_in

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


def test_the_login_page(page, axe_check):
    page.goto("/login")
    axe_check(page)


def test_the_staff_list(page, live_server, axe_check):
    live_server.send_report()
    sign_in(page, live_server)
    page.goto("/staff/reports")
    axe_check(page)


def test_a_case_page(page, live_server, axe_check):
    reference = live_server.send_report()
    sign_in(page, live_server)
    page.goto(f"/staff/reports/{reference}")
    axe_check(page)
