"""Arbitrary text in the staff pages' parameters and forms: never a 500, on either engine."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adr import accounts
from tests.conftest import ReportSender, app_on_new_database, reference_of, valid_report
from tests.test_fuzz import text
from tests.test_review import ADMIN, PASSWORD, csrf, signed_in

LIST_PARAMETERS = ["q", "status", "serious", "overdue", "month", "batch", "source", "page",
                   "due_soon", "due_today", "deaths", "mail_failed", "investigation",
                   "incomplete"]  # fmt: skip
ASSESSMENT_FIELDS = ["status", "status_reason", "duplicate_of", "assessed_serious", "expectedness",
                     "company_causality", "submitted_to_regulator_on", "national_case_number",
                     "note", "naranjo_0", "naranjo_9", "assessed_outcome",
                     "investigation_reported_on"]  # fmt: skip
STAFF_REPORT_FIELDS = ["case-source", "case-awareness_date", "follow_up_of", "event-name",
                       "event-outcome", "patient-name", "patient-age", "reporter-phone",
                       "drugs-0-role", "drugs-0-generic_name", "drugs-0-dose",
                       "submission_token", "literature-year", "literature-doi"]  # fmt: skip
USER_FIELDS = ["action", "email", "name", "role", "password"]
numbers = st.integers(min_value=-(10**30), max_value=10**30).map(str)
parameter = st.one_of(text, numbers)


@pytest.fixture(scope="module")
def staff_app(request, engine, tmp_path_factory):
    for app in app_on_new_database(request, engine, tmp_path_factory.mktemp("staff-fuzz")):
        with app.app_context():
            accounts.create_user(ADMIN, "管理员", "admin", PASSWORD, "test")
        reference = reference_of(ReportSender(app.test_client()).send(valid_report()))
        client = signed_in(app, ADMIN)
        yield app, client, reference, csrf(client)


@settings(max_examples=150, deadline=None)
@given(arguments=st.dictionaries(st.sampled_from(LIST_PARAMETERS), parameter, max_size=5))
def test_any_list_parameters_answer_a_page_or_a_404(staff_app, arguments):
    _, client, _, _ = staff_app
    response = client.get("/staff/reports", query_string=arguments)
    assert response.status_code in (200, 404), response.status_code


@settings(max_examples=100, deadline=None)
@given(month=st.one_of(parameter, st.from_regex(r"\A\d{4}-\d{2}\Z")))
def test_any_export_month_leads_to_its_workbook_or_a_message(staff_app, month):
    _, client, _, _ = staff_app
    response = client.get("/staff/exports", query_string={"month": month})
    assert response.status_code in (303, 400), response.status_code


@settings(max_examples=150, deadline=None)
@given(fields=st.dictionaries(st.sampled_from(ASSESSMENT_FIELDS), parameter, max_size=6))
def test_any_assessment_is_stored_or_refused(staff_app, fields):
    _, client, reference, token = staff_app
    response = client.post(
        f"/staff/reports/{reference}/assessment", data=fields | {"csrf_token": token}
    )
    assert response.status_code in (303, 422), response.status_code


@settings(max_examples=100, deadline=None)
@given(fields=st.dictionaries(st.sampled_from(STAFF_REPORT_FIELDS), parameter, max_size=8))
def test_any_staff_entry_is_stored_or_refused(staff_app, fields):
    _, client, reference, token = staff_app
    if fields.get("follow_up_of") == "":
        fields["follow_up_of"] = reference
    response = client.post("/staff/reports/new", data=fields | {"csrf_token": token})
    assert response.status_code in (303, 422), response.status_code


@settings(max_examples=100, deadline=None)
@given(fields=st.dictionaries(st.sampled_from(USER_FIELDS), parameter, max_size=5))
def test_any_account_form_is_carried_out_or_refused(staff_app, fields):
    _, client, _, token = staff_app
    if fields.get("email", "").strip().lower() == ADMIN:
        fields["email"] = "other@tianning.example"  # not the admin's own account
    response = client.post("/staff/users", data=fields | {"csrf_token": token})
    assert response.status_code in (200, 303, 400, 422), response.status_code


@settings(max_examples=100, deadline=None)
@given(email=parameter, password=parameter, next_path=parameter)
def test_any_login_attempt_is_answered(staff_app, email, password, next_path):
    app, _, _, _ = staff_app
    client = app.test_client()
    token = csrf(client)
    response = client.post(
        "/login",
        query_string={"next": next_path},
        data={"email": email, "password": password, "csrf_token": token},
    )
    assert response.status_code in (200, 401), response.status_code
