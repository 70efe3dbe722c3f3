"""Case integrity: no staff action changes a legal date or hides a reportable case silently.

Each finding of the pharmacovigilance review (issue 20) as a story through the real routes:
a duplicate that held a death, a valid case made invalid, an assessment applied backwards,
day 0 and the date sent corrected, four-eyes, the holder's clock, a reference that is not a
credential, and the workbook's follow-up rows.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from adr import accounts, cases, regulatory
from adr.cases import corrections
from adr.extensions import db
from adr.models import ApprovalRequest, AuditEntry, Case, CaseMerge, DuplicateCandidate, Report
from tests.conftest import (
    ReportSender,
    app_config,
    follow_up_link,
    hidden_inputs,
    reference_of,
    valid_report,
)
from tests.test_cases import entered

PASSWORD = "correct horse battery"
REVIEWER, SECOND = "reviewer@tianning.example", "second@tianning.example"
TODAY = regulatory.china_today()


def days_ago(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


@pytest.fixture
def four_eyes(tmp_path, monkeypatch):
    """An app as deployed: four-eyes on, two reviewers."""
    from adr import create_app

    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    app = create_app(app_config(tmp_path, FOUR_EYES=True))
    with app.app_context():
        for email in (REVIEWER, SECOND):
            accounts.create_user(email, email.split("@")[0], "reviewer", PASSWORD, "test")
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def one_person(app):
    """An app with four-eyes off (the tests' default) and one reviewer."""
    with app.app_context():
        accounts.create_user(REVIEWER, "审核员", "reviewer", PASSWORD, "test")
    return app


def signed_in(app, email: str = REVIEWER):
    client = app.test_client()
    token = hidden_inputs(client.get("/login").get_data(as_text=True))["csrf_token"]
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    return client


def heard(client, aware: str, **fields: object) -> str:
    """Enter a report heard of on `aware` (a rash by default), as staff type it."""
    data = {
        "case-source": "phone",
        "case-awareness_date": aware,
        "reporter-kind": "patient",
        "reporter-name": "张某某",
        "reporter-phone": "13912345678",
        "patient-name": "张某某",
        "patient-sex": "female",
        "patient-age": "68",
        "drugs-0-role": "suspect",
        "drugs-0-generic_name": "阿莫西林胶囊",
        "drugs-0-batch_number": "20260315A",
        "event-name": "皮疹",
        "event-onset_date": days_ago(60),
        "event-outcome": "improving",
    } | fields
    follow_up_of = data.pop("follow_up_of", None)
    path = (
        f"/staff/reports/new?follow_up_of={follow_up_of}" if follow_up_of else "/staff/reports/new"
    )
    form = hidden_inputs(client.get(path).get_data(as_text=True))
    typed = {"follow_up_of": follow_up_of} if follow_up_of else {}
    return entered(client.post("/staff/reports/new", data=form | typed | data))


DEATH = {
    "reporter-kind": "physician",
    "reporter-organization_type": "hospital",
    "reporter-organization": "绥德县医院",
    "reporter-name": "李医生",
    "event-outcome": "death",
    "event-serious": ["death"],
    "event-death_cause": "过敏性休克",
    "event-death_date": days_ago(3),
}


def case_page(client, reference: str) -> str:
    return client.get(f"/staff/reports/{reference}").get_data(as_text=True)


def assess(client, reference: str, **fields: object):
    """Post the assessment form as a browser sends it: the stored values, changed by `fields`."""
    page = case_page(client, reference)
    data = {"csrf_token": hidden_inputs(page)["csrf_token"]} | form_values(page) | fields
    return client.post(f"/staff/reports/{reference}/assessment", data=data)


def form_values(page: str) -> dict[str, object]:
    """Return the assessment form's values as the page shows them (what a browser sends)."""
    form = page.split('id="assessment"')[1].split("</form>")[0]
    values: dict[str, object] = {"assessed_serious": []}
    for tag in re.findall(r"<input\b[^>]*>", form):
        attrs = dict(re.findall(r'(\w+)="([^"]*)"', tag))
        name, kind = attrs.get("name"), attrs.get("type")
        if not name or name == "csrf_token":
            continue
        if kind == "checkbox":
            if " checked" in tag:
                values[name].append(attrs["value"])  # type: ignore[union-attr]
        elif kind == "radio":
            if " checked" in tag:
                values[name] = attrs["value"]
        else:
            values[name] = attrs.get("value", "")
    for name, options in re.findall(r'<select[^>]*name="(\w+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option selected value="([^"]*)"', options)
        values[name] = chosen.group(1) if chosen else ""
    return values


def stored(app, reference: str) -> Report:
    with app.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        report.case.reports  # noqa: B018 - loaded before the session ends
        for each in report.case.reports:
            each.corrections  # noqa: B018
        db.session.expunge_all()
        return report


def china_day(moment: datetime | None) -> date | None:
    return moment and regulatory.china_date(moment)


def correct(client, page_reference: str, **fields: object):
    page = case_page(client, page_reference)
    data = {"csrf_token": hidden_inputs(page)["csrf_token"]} | fields
    return client.post(f"/staff/reports/{page_reference}/corrections", data=data)


def decide(client, request_id: int, decision: str, note: str = ""):
    page = client.get("/staff/approvals").get_data(as_text=True)
    data = {"csrf_token": hidden_inputs(page)["csrf_token"], "decision": decision, "note": note}
    return client.post(f"/staff/approvals/{request_id}", data=data)


def pending(app) -> list[ApprovalRequest]:
    with app.app_context():
        found = list(
            db.session.scalars(
                sa.select(ApprovalRequest).where(ApprovalRequest.status == "pending")
            )
        )
        db.session.expunge_all()
        return found


def merge_ids(app) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(sa.select(CaseMerge.id).order_by(CaseMerge.id)))


def undo_merge(client, page_reference: str, merge_id: int, reason: str = "不同患者,标记有误"):
    token = hidden_inputs(case_page(client, page_reference))["csrf_token"]
    return client.post(
        f"/staff/merges/{merge_id}/undo", data={"csrf_token": token, "reason": reason}
    )


def sent(client, reference: str, on: str, number: str = "2026610000000001"):
    """Take a case through review and record the date it went to the national system."""
    for status in ("in_review", "assessed"):
        assess(client, reference, status=status)
    return assess(client, reference, status="submitted", submitted_to_regulator_on=on,
                  national_case_number=number)  # fmt: skip


def compliance(client, month: str) -> str:
    return client.get(f"/staff/compliance?from={month}&to={month}").get_data(as_text=True)


# 1. A duplicate's news is follow-up information on its original (ICH E2D 5.6.1).


def test_a_duplicate_that_held_a_death_gives_its_original_the_death_clock(one_person):
    client = signed_in(one_person)
    rash = heard(client, days_ago(6))
    death = heard(client, days_ago(2), **DEATH)
    assert assess(client, death, status="duplicate", duplicate_of=rash).status_code == 303

    original, moved = stored(one_person, rash), stored(one_person, death)
    case = original.case
    assert moved.case_id == case.id and not moved.duplicate_copy
    assert (case.death, case.serious, case.report_category) == (True, True, "serious")
    assert china_day(moved.due_at) == TODAY - timedelta(days=1)  # at once, from B's day 0
    assert china_day(case.investigation_due_at) == TODAY - timedelta(days=2) + timedelta(days=15)
    assert china_day(original.due_at) == TODAY - timedelta(days=6) + timedelta(days=30)
    with one_person.app_context():  # nothing B said is lost from A's view
        view = cases.current_view(db.session.get(Case, case.id).reports)
        assert (view.event_outcome, view.reporter_name) == ("death", "李医生")
    page = case_page(client, rash)
    assert 'id="merges"' in page and "立即" in page

    # The monthly workbook: B's report is a follow-up row of A, not 不予上报.
    response = client.get(f"/staff/exports/{TODAY:%Y-%m}.xlsx")
    book = load_workbook(io.BytesIO(response.data))
    response.close()
    listed = [row[0].value for row in book["个例报告"].iter_rows(min_row=2)]
    assert death in listed and death not in [
        r[0].value for r in book["不予上报"].iter_rows(min_row=2)
    ]


def test_the_same_report_twice_is_a_copy_that_owes_nothing_and_is_listed_as_a_duplicate(one_person):
    client = signed_in(one_person)
    first = heard(client, days_ago(4))
    again = heard(client, days_ago(3))
    assert assess(client, again, status="duplicate", duplicate_of=first).status_code == 303
    copy = stored(one_person, again)
    assert (
        copy.duplicate_copy
        and copy.due_at is None
        and copy.case_id == stored(one_person, first).case_id
    )
    response = client.get(f"/staff/exports/{TODAY:%Y-%m}.xlsx")
    book = load_workbook(io.BytesIO(response.data))
    response.close()
    not_reported = {row[0].value: row[4].value for row in book["不予上报"].iter_rows(min_row=2)}
    assert not_reported == {again: f"重复:{first}"}


def test_undoing_a_merge_restores_the_duplicate_as_it_was(one_person):
    client = signed_in(one_person)
    rash = heard(client, days_ago(6))
    death = heard(client, days_ago(2), **DEATH)
    before_case = stored(one_person, death).case_id
    clocks_before = {
        r.reference: (r.day_zero, r.due_at, r.report_category)
        for ref in (rash, death)
        for r in stored(one_person, ref).case.reports
    }
    assess(client, death, status="duplicate", duplicate_of=rash)
    with one_person.app_context():
        merge_id = db.session.scalar(sa.select(CaseMerge.id))
    page = case_page(client, rash)
    token = hidden_inputs(page)["csrf_token"]
    refused = client.post(f"/staff/merges/{merge_id}/undo", data={"csrf_token": token})
    assert refused.status_code == 303 and stored(one_person, death).case_id != before_case
    undone = client.post(
        f"/staff/merges/{merge_id}/undo", data={"csrf_token": token, "reason": "不同患者,标记有误"}
    )
    assert undone.status_code == 303 and undone.location.endswith(f"/staff/reports/{death}")
    back = stored(one_person, death)
    assert back.case_id == before_case and back.follow_up_of_id is None and back.merge_id is None
    assert back.case.status == "received" and back.case.duplicate_of_id is None
    original = stored(one_person, rash).case
    assert not original.death and original.investigation_due_at is None
    clocks_after = {
        r.reference: (r.day_zero, r.due_at, r.report_category)
        for ref in (rash, death)
        for r in stored(one_person, ref).case.reports
    }
    assert clocks_after == clocks_before
    with one_person.app_context():
        actions = {e.action for e in db.session.scalars(sa.select(AuditEntry))}
        assert {"merged", "merge undone", "reason"} <= actions
        record = db.session.get(CaseMerge, merge_id)
        assert (record.undone_by, record.undo_reason) == (REVIEWER, "不同患者,标记有误")


def test_a_duplicate_sent_to_the_regulator_must_be_nullified_there(one_person):
    client = signed_in(one_person)
    rash = heard(client, days_ago(6))
    reported = heard(
        client, days_ago(5), **{"reporter-name": "王医生", "reporter-kind": "physician"}
    )
    assert sent(client, reported, days_ago(1), "2026610000000009").status_code == 303
    assess(client, reported, status="in_review")  # a sent case is reviewed again before it merges
    assert assess(client, reported, status="duplicate", duplicate_of=rash).status_code == 303
    page = case_page(client, rash)
    merges_section = page.split('id="merges"')[1].split("</section>")[0]
    assert "已上报国家系统：请在国家系统中作废" in merges_section
    assert stored(one_person, reported).submitted_to_regulator_on == TODAY - timedelta(days=1)


def test_a_duplicate_known_before_its_original_keeps_its_day_0_and_stays_owed(one_person):
    client = signed_in(one_person)
    overdue = heard(client, days_ago(40), **{"event-serious": ["hospitalization"]})
    again = heard(client, days_ago(2), **{"event-serious": ["hospitalization"]})  # the same
    assert assess(client, overdue, status="duplicate", duplicate_of=again).status_code == 303
    moved = stored(one_person, overdue)
    assert moved.case_id == stored(one_person, again).case_id and not moved.duplicate_copy
    assert china_day(moved.due_at) == TODAY - timedelta(days=25)  # known first: still owed
    assert overdue in client.get("/staff/reports?overdue=1").get_data(as_text=True)


def test_a_merge_leaves_the_deadlines_of_reports_sent_before_it(one_person):
    client = signed_in(one_person)
    first = heard(client, days_ago(10))
    death = heard(client, days_ago(5), **DEATH)
    follow_up = heard(
        client,
        days_ago(4),
        follow_up_of=first,
        **{"event-description": "患者停药后皮疹逐渐消退，复查肝功能正常"},
    )
    sent(client, first, days_ago(3))
    assert assess(client, death, status="duplicate", duplicate_of=first).status_code == 303
    case = stored(one_person, first).case
    deadlines = {r.reference: (r.report_category, china_day(r.due_at)) for r in case.reports}
    assert [r.reference for r in case.reports] == [first, follow_up, death]  # in joining order
    assert deadlines == {
        first: ("general", TODAY + timedelta(days=20)),
        follow_up: ("general", TODAY + timedelta(days=26)),
        death: ("serious", TODAY - timedelta(days=4)),
    }
    assert case.death and case.status == "in_review"  # the death is news: the case reopens


def test_an_undo_takes_back_what_rests_on_the_duplicate_and_says_which_deadlines_move(
    one_person,
):
    client = signed_in(one_person)
    rash = heard(client, days_ago(6))
    doctor = {"reporter-name": "王医生", "reporter-kind": "physician"}
    news = heard(client, days_ago(2), **doctor)
    assess(client, news, status="duplicate", duplicate_of=rash)
    assess(client, rash, assessed_serious=["hospitalization"])  # rests on the doctor's report
    died = heard(client, days_ago(1), follow_up_of=news, **DEATH)  # of the doctor's report
    assert stored(one_person, died).case_id == stored(one_person, rash).case_id
    undone = undo_merge(client, rash, merge_ids(one_person)[0])
    page = client.get(undone.location).get_data(as_text=True)
    investigation = f"{TODAY - timedelta(days=1) + timedelta(days=15):%Y-%m-%d}"
    assert f"{rash} 死亡病例调查报告时限 {investigation} → —" in page  # said, not silent
    assert f"{news} 死亡病例调查报告时限 — → {investigation}" in page
    kept = stored(one_person, rash)
    assert kept.case.assessed_serious is None and not kept.case.death
    assert china_day(kept.due_at) == TODAY + timedelta(days=24)
    back = stored(one_person, news)
    assert back.case_id == stored(one_person, died).case_id
    assert back.case.assessed_serious == ["hospitalization"] and back.case.death

    closed = heard(client, days_ago(6), **{"patient-name": "赵某"})
    sent(client, closed, days_ago(1))
    assess(client, closed, status="closed")
    again = heard(client, days_ago(2), **{"patient-name": "赵某"} | doctor)
    assess(client, again, status="duplicate", duplicate_of=closed)
    assert stored(one_person, closed).case.status == "in_review"
    undo_merge(client, closed, merge_ids(one_person)[1])
    assert stored(one_person, closed).case.status == "closed"
    assert stored(one_person, again).case.status == "received"


def test_a_merge_keeps_what_staff_decided_on_the_duplicate(one_person):
    client = signed_in(one_person)
    rash = heard(client, days_ago(8))
    hospital = {key: value for key, value in DEATH.items() if key.startswith("reporter-")}
    unknown = heard(client, days_ago(3), **hospital | {"event-outcome": "unknown"})
    assess(client, unknown, assessed_outcome="death")  # the hospital confirmed it by phone
    assess(client, rash, assessed_outcome="recovered")  # later, on the other case
    assess(client, unknown, status="duplicate", duplicate_of=rash)
    moved = stored(one_person, unknown)
    assert moved.case.death and china_day(moved.due_at) == TODAY - timedelta(days=2)
    assert china_day(moved.case.investigation_due_at) == TODAY + timedelta(days=12)


def test_a_copy_corrected_to_an_earlier_day_0_owes_and_starts_the_investigation(one_person):
    client = signed_in(one_person)
    death = DEATH | {"event-death_date": days_ago(12)}
    first = heard(client, days_ago(5), **death)
    copy = heard(client, days_ago(3), **death)  # the same report, sent again
    assess(client, copy, status="duplicate", duplicate_of=first)
    assert stored(one_person, copy).duplicate_copy
    correct(client, first, report=copy, field="case-awareness_date", value=days_ago(9),
            reason="医院首次来电在9天前")  # fmt: skip
    owed = stored(one_person, copy)
    assert not owed.duplicate_copy and china_day(owed.due_at) == TODAY - timedelta(days=8)
    assert china_day(owed.case.investigation_due_at) == TODAY + timedelta(days=6)


def test_a_duplicate_s_open_candidate_pairs_move_to_its_original(one_person):
    client = signed_in(one_person)
    other = heard(client, days_ago(5))
    duplicate = heard(client, days_ago(3))  # the matcher pairs it with `other`
    stranger = {"patient-name": "赵某", "patient-age": "30", "patient-sex": "male",
                "event-name": "头痛"}  # fmt: skip
    original = heard(client, days_ago(6), **stranger)
    ids = {ref: stored(one_person, ref).case_id for ref in (other, duplicate, original)}

    def pairs() -> set[tuple[int, int, str]]:
        with one_person.app_context():
            return {
                (p.case_id, p.candidate_case_id, p.decision)
                for p in db.session.scalars(sa.select(DuplicateCandidate))
            }

    assert (ids[duplicate], ids[other], "none") in pairs()
    assess(client, duplicate, status="duplicate", duplicate_of=original)
    assert pairs() == {(ids[original], ids[other], "none")}
    assert other in case_page(client, original).split('id="duplicate-candidates"')[1]


def test_merges_are_undone_latest_first(one_person):
    client = signed_in(one_person)
    a = heard(client, days_ago(6))
    b = heard(client, days_ago(3), **{"reporter-name": "王医生", "reporter-kind": "physician"})
    c = heard(client, days_ago(8), **{"reporter-name": "赵医生", "reporter-kind": "physician"})
    assess(client, b, status="duplicate", duplicate_of=a)
    assess(client, a, status="duplicate", duplicate_of=c)
    b_into_a, a_into_c = merge_ids(one_person)
    blocked = undo_merge(client, c, b_into_a)
    assert blocked.status_code == 303
    page = client.get(blocked.location).get_data(as_text=True)
    assert "请先撤销那次合并" in page
    assert stored(one_person, b).case_id == stored(one_person, c).case_id
    assert undo_merge(client, c, a_into_c).status_code == 303
    assert stored(one_person, b).case_id == stored(one_person, a).case_id
    assert undo_merge(client, a, b_into_a).status_code == 303
    cases_now = {stored(one_person, ref).case_id for ref in (a, b, c)}
    assert len(cases_now) == 3


# 2. Invalid means invalid.


def test_a_case_holding_the_four_elements_cannot_be_invalid_for_lacking_one(one_person):
    client = signed_in(one_person)
    reference = heard(client, days_ago(2))
    refused = assess(client, reference, status="invalid", invalid_reason="missing_element")
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "不能以缺少要素为由判为无效" in page
    assert re.search(r'checked[^>]*value="missing_element"', page)  # the choice kept
    assert assess(client, reference, status="invalid", invalid_reason="other").status_code == 422
    assert stored(one_person, reference).case.status == "received"
    assert (
        assess(client, reference, status="invalid", invalid_reason="not_adverse_event").status_code
        == 303
    )
    case = stored(one_person, reference).case
    assert (case.status, case.invalid_reason) == ("invalid", "not_adverse_event")


def test_a_case_without_a_reporter_may_be_invalid_for_a_missing_element(one_person):
    client = signed_in(one_person)
    reference = heard(
        client, days_ago(2), **{"reporter-name": "", "reporter-phone": "", "reporter-kind": ""}
    )
    assert not stored(one_person, reference).case.valid_case
    assert (
        assess(client, reference, status="invalid", invalid_reason="missing_element").status_code
        == 303
    )


def test_an_overdue_case_made_invalid_stays_in_that_month_s_figures(one_person):
    client = signed_in(one_person)
    late = heard(client, days_ago(50), **{"event-serious": ["hospitalization"]})  # due 35 days ago
    month = f"{TODAY - timedelta(days=35):%Y-%m}"
    before = client.get(f"/staff/compliance?from={month}&to={month}").get_data(as_text=True)
    assert re.search(r'data-count="open_past_due"><strong[^>]*>1<', before)
    assert (
        assess(client, late, status="invalid", invalid_reason="not_our_product").status_code == 303
    )
    after = client.get(f"/staff/compliance?from={month}&to={month}").get_data(as_text=True)
    assert re.search(r'data-count="closed_invalid"><strong[^>]*>1<', after)
    assert re.search(r'data-count="due">1<', after) and late in after  # still owed that month
    assert stored(one_person, late).due_at is None  # and no longer overdue in the list


# 3. An assessment applies from the report it rests on (ICH E2D 5.3).


@pytest.fixture
def sent_initial(one_person):
    """An initial report known 40 days ago, sent on day 20; a follow-up known 10 days ago."""
    client = signed_in(one_person)
    initial = heard(client, days_ago(40))
    sent(client, initial, days_ago(20))
    return client, initial


def test_a_hospitalisation_confirmed_after_a_follow_up_leaves_the_sent_report_on_time(
    one_person, sent_initial
):
    client, initial = sent_initial
    follow_up = heard(
        client, days_ago(10), follow_up_of=initial, **{"event-serious": ["hospitalization"]}
    )
    assess(client, initial, assessed_serious=["hospitalization"])
    first, later = stored(one_person, initial), stored(one_person, follow_up)
    assert (first.report_category, china_day(first.due_at)) == (
        "general",
        TODAY - timedelta(days=10),
    )
    assert (later.report_category, china_day(later.due_at)) == (
        "serious",
        TODAY + timedelta(days=5),
    )
    month = f"{first.due_at.astimezone(regulatory.CHINA):%Y-%m}"
    page = client.get(f"/staff/compliance?from={month}&to={month}").get_data(as_text=True)
    assert initial not in page  # sent on time: not among the late


def test_a_death_reported_by_a_follow_up_dates_its_clock_and_the_investigation_from_it(
    one_person, sent_initial
):
    client, initial = sent_initial
    follow_up = heard(client, days_ago(10), follow_up_of=initial, **DEATH)
    first, later = stored(one_person, initial), stored(one_person, follow_up)
    assert (first.report_category, china_day(first.due_at)) == (
        "general",
        TODAY - timedelta(days=10),
    )
    assert china_day(later.due_at) == TODAY - timedelta(days=9)  # at once
    assert china_day(later.case.investigation_due_at) == TODAY + timedelta(days=5)


def test_new_after_a_follow_up_applies_from_it(one_person, sent_initial):
    client, initial = sent_initial
    follow_up = heard(client, days_ago(10), follow_up_of=initial, **{"event-name": "皮疹、肝损伤"})
    assess(client, initial, expectedness="new")
    assert stored(one_person, initial).report_category == "general"
    assert stored(one_person, follow_up).report_category == "new"
    with one_person.app_context():
        (decision,) = (
            db.session.scalars(sa.select(Report).where(Report.reference == follow_up))
            .one()
            .decisions
        )
        assert (decision.field, decision.value, decision.correction) == (
            "expectedness",
            "new",
            False,
        )


def test_correcting_an_earlier_report_s_assessment_needs_a_reason(one_person, sent_initial):
    client, initial = sent_initial
    heard(client, days_ago(10), follow_up_of=initial)
    refused = assess(client, initial, assessed_serious=["hospitalization"], effective_from=initial)
    assert refused.status_code == 422 and "评价有误" in refused.get_data(as_text=True)
    fixed = assess(client, initial, assessed_serious=["hospitalization"], effective_from=initial,
                   decision_reason="首次报告已写明住院,当时漏判")  # fmt: skip
    assert fixed.status_code == 303
    first = stored(one_person, initial)
    assert (first.report_category, china_day(first.due_at)) == (
        "serious",
        TODAY - timedelta(days=25),
    )
    with one_person.app_context():
        trail = {(e.action, e.field) for e in db.session.scalars(sa.select(AuditEntry))}
        assert ("assessment corrected", "assessed_serious") in trail and (
            "reason",
            "assessed_serious",
        ) in trail


def test_a_decision_taken_before_the_date_sent_was_recorded_holds_for_the_report_sent(four_eyes):
    first, second = signed_in(four_eyes), signed_in(four_eyes, SECOND)
    reference = heard(first, days_ago(5), **{"event-serious": ["hospitalization"],
                                             "event-outcome": "not_recovered"})  # fmt: skip
    assess(
        first, reference, assessed_outcome="death", assessed_serious=["hospitalization", "death"]
    )
    assert not stored(four_eyes, reference).case.death  # a death confirmed waits for approval
    sent(first, reference, days_ago(2))  # typed as two days ago, recorded after the decision
    for request in pending(four_eyes):
        assert decide(second, request.id, "approve").status_code == 303
    report = stored(four_eyes, reference)
    assert report.case.death and china_day(report.due_at) == TODAY - timedelta(days=4)
    page = compliance(first, f"{TODAY - timedelta(days=4):%Y-%m}")
    assert re.search(r'data-count="late"><strong[^>]*>1<', page)

    withdraw = {"assessed_outcome": "improving", "assessed_serious": ["hospitalization"]}
    refused = assess(first, reference, **withdraw)
    assert refused.status_code == 422 and 'id="decision_reason"' in refused.get_data(as_text=True)
    asked = assess(first, reference, **withdraw, decision_reason="核实后患者未死亡,系误报")
    assert asked.status_code == 303 and stored(four_eyes, reference).case.death  # not yet
    (request,) = pending(four_eyes)
    assert request.kind == "reassessment"
    decide(second, request.id, "approve")
    report = stored(four_eyes, reference)
    assert not report.case.death and report.case.investigation_due_at is None
    assert china_day(report.due_at) == TODAY - timedelta(days=4)  # sent: its deadline stays


# 4. Received data is corrected, never overwritten.


def test_a_mistyped_day_0_is_corrected_with_a_reason_and_every_deadline_follows(one_person):
    client = signed_in(one_person)
    reference = heard(client, days_ago(2), **{"event-serious": ["hospitalization"]})
    missing = correct(
        client, reference, report=reference, field="case-awareness_date", value=days_ago(9)
    )
    assert missing.status_code == 422
    page = missing.get_data(as_text=True)
    assert "请说明更正报告的原因" in page and f'value="{days_ago(9)}"' in page  # kept
    bad = correct(client, reference, report=reference, field="case-awareness_date",
                  value=days_ago(-3), reason="录入错误")  # fmt: skip
    assert bad.status_code == 422 and "还没到" in bad.get_data(as_text=True)
    done = correct(client, reference, report=reference, field="case-awareness_date",
                   value=days_ago(9), reason="来电记录显示9天前首次获知")  # fmt: skip
    assert done.status_code == 303
    report = stored(one_person, reference)
    assert (report.aware_on, report.day_zero) == (
        TODAY - timedelta(days=9),
        TODAY - timedelta(days=9),
    )
    assert china_day(report.due_at) == TODAY + timedelta(days=6)
    (made,) = report.corrections
    assert (made.field, made.original, made.value, made.made_by) == (
        "case-awareness_date", days_ago(2), days_ago(9), REVIEWER,
    )  # fmt: skip
    page = case_page(client, reference)
    corrections = page.split('id="corrections"')[1].split("</section>")[0]
    assert days_ago(2) in corrections and "来电记录显示9天前首次获知" in corrections
    with one_person.app_context():
        entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "corrected"))
        assert (entry.field, entry.old_value, entry.new_value) == (
            "case-awareness_date",
            days_ago(2),
            days_ago(9),
        )
        assert db.session.scalar(
            sa.select(AuditEntry).where(
                AuditEntry.action == "deadline", AuditEntry.field == "due_at"
            )
        )


def test_a_wrong_date_sent_and_other_fields_are_corrected(one_person):
    client = signed_in(one_person)
    reference = heard(client, days_ago(30))
    sent(client, reference, days_ago(1))
    fields = {
        "submitted_to_regulator_on": days_ago(3),
        "national_case_number": "2026610000000002",
        "drugs-0-batch_number": "lot 20260316b",
        "drugs-0-expiry_date": "2028-03-14",  # the holder's form's fields too
        "event-city": "榆林市",
        "patient-age": "69",
        "event-outcome": "痊愈",  # a label is understood
    }
    for field, value in fields.items():
        response = correct(
            client, reference, report=reference, field=field, value=value, reason="核对原始记录"
        )
        assert response.status_code == 303, (field, response.get_data(as_text=True)[:300])
    report = stored(one_person, reference)
    assert report.submitted_to_regulator_on == TODAY - timedelta(days=3)
    assert report.case.national_case_number == "2026610000000002"
    assert report.patient_age == 69 and report.event_outcome == "recovered"
    with one_person.app_context():
        drug = db.session.scalar(sa.select(Report).where(Report.reference == reference)).drugs[0]
        assert (drug.batch_number, str(drug.expiry_date)) == ("20260316B", "2028-03-14")
    assert report.event_city == "榆林市"
    refused = correct(
        client, reference, report=reference, field="patient-age", value="很多", reason="x"
    )
    assert refused.status_code == 422 and 'value="很多"' in refused.get_data(as_text=True)
    odd = {
        "no-such": "1",
        "record-remarks": "x",  # the record's fields go by their own names
        "drugs-²-batch_number": "x",
        "drugs-0-role": "",  # a drug keeps its role
        "submitted_to_regulator_on": days_ago(-3),  # not in the future
    }
    for field, value in odd.items():
        refused = correct(client, reference, report=reference, field=field, value=value, reason="x")
        assert refused.status_code == 422, field
    assert len(stored(one_person, reference).corrections) == len(fields)  # none of the odd
    huge = 2**63
    assert client.post(f"/staff/approvals/{huge}", data={"decision": "approve"}).status_code in (
        400, 404,
    )  # fmt: skip
    assert client.post(f"/staff/merges/{huge}/undo", data={}).status_code in (400, 404)


def test_a_correction_overtaken_by_another_comes_back_as_typed_with_409(one_person, monkeypatch):
    """Two reviewers correct the same field at once: the first is made, the second is refused
    with the page as it now stands and the value it asked for, not lost to a 500."""
    client = signed_in(one_person)
    reference = heard(client, days_ago(30))
    checked = corrections.check

    def overtaken(*args: object) -> None:  # the first reviewer saves while the second's waits
        monkeypatch.setattr(corrections, "check", checked)
        with one_person.app_context():  # a session of its own, as another request's
            report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
            corrections.correct(report, "patient-age", ["70"], "核对病历", REVIEWER)
        checked(*args)

    monkeypatch.setattr(corrections, "check", overtaken)
    refused = correct(
        client, reference, report=reference, field="patient-age", value="71", reason="电话核实"
    )
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    assert "申请更正后，该字段已被改动。" in page  # said at the value
    assert 'value="71"' in page and 'value="电话核实"' in page
    report = stored(one_person, reference)
    assert report.patient_age == 70
    assert [correction.value for correction in report.corrections] == [70]  # the first only


def test_the_investigation_date_and_the_national_number_change_only_by_correction(four_eyes):
    first, second = signed_in(four_eyes), signed_in(four_eyes, SECOND)
    reference = heard(first, days_ago(3), **DEATH)
    assert assess(first, reference, investigation_reported_on=days_ago(1)).status_code == 303
    case = stored(four_eyes, reference).case
    assert case.investigation_reported_on is None and case.investigation_due_at is not None
    (request,) = pending(four_eyes)
    assert request.kind == "investigation"
    decide(second, request.id, "approve")
    assert stored(four_eyes, reference).case.investigation_reported_on == TODAY - timedelta(1)
    assert assess(first, reference, national_case_number="2026610000000001").status_code == 303
    for field, value in (("investigation_reported_on", TODAY.isoformat()),
                         ("national_case_number", "9999")):  # fmt: skip
        refused = assess(first, reference, **{field: value})
        assert refused.status_code == 422 and "更正" in refused.get_data(as_text=True)
    case = stored(four_eyes, reference).case
    assert (case.investigation_reported_on, case.national_case_number) == (
        TODAY - timedelta(days=1),
        "2026610000000001",
    )


# 5. Four-eyes.


def test_marking_invalid_waits_for_a_second_person_who_is_not_the_requester(four_eyes):
    first, second = signed_in(four_eyes), signed_in(four_eyes, SECOND)
    reference = heard(first, days_ago(2))
    assert (
        assess(first, reference, status="invalid", invalid_reason="not_adverse_event").status_code
        == 303
    )
    case = stored(four_eyes, reference).case
    assert case.status == "received" and stored(four_eyes, reference).due_at is not None
    page = case_page(first, reference)
    assert 'id="awaiting-approval"' in page
    assert re.search(r"<strong>1</strong> 待复核", first.get("/staff/").get_data(as_text=True))
    (request,) = pending(four_eyes)
    assert decide(first, request.id, "approve").status_code == 403
    assert stored(four_eyes, reference).case.status == "received"
    assert decide(second, request.id, "approve", "已核实").status_code == 303
    case = stored(four_eyes, reference).case
    assert (case.status, case.invalid_reason) == ("invalid", "not_adverse_event")
    with four_eyes.app_context():
        actions = [(e.actor, e.action) for e in db.session.scalars(sa.select(AuditEntry))]
        assert (REVIEWER, "approval requested") in actions and (SECOND, "approved") in actions


def test_a_refusal_leaves_everything_as_it_was(four_eyes):
    first, second = signed_in(four_eyes), signed_in(four_eyes, SECOND)
    rash = heard(first, days_ago(6))
    death = heard(first, days_ago(2), **DEATH)
    assess(first, death, status="duplicate", duplicate_of=rash)
    (request,) = pending(four_eyes)
    assert request.kind == "duplicate"
    assert decide(second, request.id, "refuse", "不是同一患者").status_code == 303
    assert stored(four_eyes, death).case_id != stored(four_eyes, rash).case_id
    assert stored(four_eyes, death).case.status == "received" and pending(four_eyes) == []


def test_a_merge_approved_by_a_second_person_takes_effect(four_eyes):
    first, second = signed_in(four_eyes), signed_in(four_eyes, SECOND)
    rash = heard(first, days_ago(6))
    death = heard(first, days_ago(2), **DEATH)
    assess(first, death, status="duplicate", duplicate_of=rash)
    (request,) = pending(four_eyes)
    assert decide(second, request.id, "approve").status_code == 303
    case = stored(four_eyes, rash).case
    assert case.death and stored(four_eyes, death).case_id == case.id
    with four_eyes.app_context():
        record = db.session.scalar(sa.select(CaseMerge))
        assert (record.merged_by, record.approved_by) == (REVIEWER, SECOND)
    assert undo_merge(first, rash, record.id).status_code == 303  # an undo waits too
    assert stored(four_eyes, death).case_id == case.id
    (undo,) = pending(four_eyes)
    assert f"撤销病例合并: {death}" in second.get("/staff/approvals").get_data(as_text=True)
    assert undo.kind == "unmerge" and decide(second, undo.id, "approve").status_code == 303
    assert stored(four_eyes, death).case_id != case.id and not stored(four_eyes, rash).case.death


def test_a_correction_that_moves_a_deadline_waits_and_one_that_does_not_is_made(four_eyes):
    first, second = signed_in(four_eyes), signed_in(four_eyes, SECOND)
    reference = heard(first, days_ago(2))
    assert correct(first, reference, report=reference, field="patient-name",
                   value="张某", reason="姓名录入错误").status_code == 303  # fmt: skip
    assert stored(four_eyes, reference).patient_name == "张某" and pending(four_eyes) == []
    correct(
        first,
        reference,
        report=reference,
        field="case-awareness_date",
        value=days_ago(9),
        reason="来电记录",
    )
    assert stored(four_eyes, reference).aware_on == TODAY - timedelta(days=2)  # not yet
    (request,) = pending(four_eyes)
    assert request.kind == "correction"
    assert decide(second, request.id, "approve").status_code == 303
    report = stored(four_eyes, reference)
    assert report.aware_on == TODAY - timedelta(days=9)
    assert report.corrections[-1].approved_by == SECOND


def test_recording_the_date_sent_and_closing_wait_for_approval(four_eyes):
    first, second = signed_in(four_eyes), signed_in(four_eyes, SECOND)
    reference = heard(first, days_ago(5))
    sent(first, reference, days_ago(1))
    assert stored(four_eyes, reference).submitted_to_regulator_on is None
    again = {"submitted_to_regulator_on": days_ago(1), "national_case_number": "2026610000000001"}
    refused_again = assess(first, reference, status="submitted", **again)
    assert refused_again.status_code == 422  # one status request at a time
    (request,) = pending(four_eyes)
    assert request.kind == "sent"
    decide(second, request.id, "approve")
    report = stored(four_eyes, reference)
    assert (report.case.status, report.submitted_to_regulator_on) == (
        "submitted",
        TODAY - timedelta(days=1),
    )
    assess(first, reference, status="closed")
    (closing,) = pending(four_eyes)
    assert closing.kind == "close"
    decide(second, closing.id, "approve")
    assert stored(four_eyes, reference).case.status == "closed"


def test_the_approvals_page_lists_what_waits_and_is_for_staff(four_eyes, client):
    first = signed_in(four_eyes)
    reference = heard(first, days_ago(2))
    assess(first, reference, status="invalid", invalid_reason="not_human")
    page = signed_in(four_eyes, SECOND).get("/staff/approvals").get_data(as_text=True)
    assert reference in page and "非人用病例" in page and 'value="approve"' in page
    assert four_eyes.test_client().get("/staff/approvals").status_code == 302
    assert four_eyes.test_client().post("/staff/approvals/1", data={}).status_code in (302, 400)


def test_a_request_is_carried_out_only_on_the_case_as_it_was_asked(four_eyes):
    first, second = signed_in(four_eyes), signed_in(four_eyes, SECOND)
    reference = heard(first, days_ago(6))
    sent(first, reference, TODAY.isoformat())
    follow_up = heard(first, TODAY.isoformat(), follow_up_of=reference, **DEATH)
    (request,) = pending(four_eyes)
    refused = decide(second, request.id, "approve")
    assert refused.status_code == 409 and "报告" in refused.get_data(as_text=True)
    assert stored(four_eyes, reference).submitted_to_regulator_on is None
    assert china_day(stored(four_eyes, follow_up).due_at) == TODAY + timedelta(days=1)
    assert decide(second, request.id, "refuse").status_code == 303

    # Two corrections of one day 0: the second was asked on a value that is gone.
    late = heard(first, days_ago(4))
    for day in (9, 7):
        correct(first, late, report=late, field="case-awareness_date", value=days_ago(day),
                reason="来电记录")  # fmt: skip
    one, two = pending(four_eyes)
    assert decide(second, one.id, "approve").status_code == 303
    assert decide(second, two.id, "approve").status_code == 409
    assert decide(second, two.id, "refuse").status_code == 303
    assert stored(four_eyes, late).aware_on == TODAY - timedelta(days=9)

    # A request on a case merged away since.
    merged = heard(first, days_ago(2), **DEATH)
    assess(first, merged, investigation_reported_on=days_ago(1))
    assess(first, merged, status="duplicate", duplicate_of=late)
    asked, merge = pending(four_eyes)
    decide(second, merge.id, "approve")
    assert decide(second, asked.id, "approve").status_code == 409


def test_a_request_of_an_account_no_longer_active_cannot_be_approved(four_eyes):
    first, second = signed_in(four_eyes), signed_in(four_eyes, SECOND)
    reference = heard(first, days_ago(2))
    assess(first, reference, status="invalid", invalid_reason="not_adverse_event")
    with four_eyes.app_context():
        accounts.set_active(REVIEWER, False, "admin@test")
    page = second.get("/staff/approvals").get_data(as_text=True)
    assert "该账户已停用" in page
    (request,) = pending(four_eyes)
    assert decide(second, request.id, "approve").status_code == 409
    assert stored(four_eyes, reference).case.status == "received"
    assert decide(second, request.id, "refuse").status_code == 303 and pending(four_eyes) == []


def test_the_approver_sees_what_a_decision_changes_and_the_deadline_it_moves(four_eyes):
    first, second = signed_in(four_eyes), signed_in(four_eyes, SECOND)
    reference = heard(first, days_ago(3))
    assess(first, reference, assessed_serious=["hospitalization"])
    page = second.get("/staff/approvals").get_data(as_text=True)
    (card,) = re.findall(r'<article class="card approval".*?</article>', page, re.S)
    text = re.sub(r"<[^>]+>", " ", card)
    assert "— → 导致住院或住院时间延长" in text
    old, new = TODAY - timedelta(days=3) + timedelta(days=30), TODAY + timedelta(days=12)
    assert f"{old:%Y-%m-%d} → {new:%Y-%m-%d}" in text


# 6. The holder's clock.


def test_a_new_non_serious_reaction_has_30_days_or_15_where_the_sop_says_so(one_person):
    client = signed_in(one_person)
    reference = heard(client, days_ago(1))
    assess(client, reference, expectedness="new")
    assert china_day(stored(one_person, reference).due_at) == TODAY + timedelta(days=29)
    one_person.config["NEW_REACTION_DAYS"] = 15
    assess(client, reference, company_causality="possible")  # any save derives the clock again
    assert china_day(stored(one_person, reference).due_at) == TODAY + timedelta(days=14)


# 7. A reference is an identifier, not a credential.


def test_a_claimed_follow_up_changes_nothing_until_staff_confirm_it(one_person):
    first = reference_of(ReportSender(one_person.test_client()).send(valid_report()))
    client = signed_in(one_person)
    sent(client, first, TODAY.isoformat())
    assess(client, first, status="closed")
    death = valid_report() | {
        "follow_up_of": first, "reporter-email": "stranger@example.com",
        "event-outcome": "death", "event-death_cause": "休克", "event-death_date": days_ago(1),
    }  # fmt: skip
    claim = reference_of(ReportSender(one_person.test_client()).send(death))
    original = stored(one_person, first).case
    assert original.status == "closed" and not original.death  # reopened nothing
    assert stored(one_person, claim).case_id != original.id
    with one_person.app_context():  # the stranger's link is for their own report only
        assert (
            follow_up_link(one_person, claim)
            and db.session.scalar(
                sa.select(sa.func.count()).select_from(Report).where(Report.case_id == original.id)
            )
            == 1
        )
    assert "声称为本病例跟踪报告" in case_page(client, first)
    page = case_page(client, claim)
    assert 'id="claim"' in page
    token = hidden_inputs(page)["csrf_token"]
    confirmed = client.post(
        f"/staff/reports/{claim}/claim", data={"csrf_token": token, "decision": "confirm"}
    )
    assert confirmed.status_code == 303
    joined = stored(one_person, claim)
    assert joined.case_id == original.id and joined.aware_on == TODAY
    assert joined.case.death and joined.case.status == "in_review"


def test_a_rejected_claim_stays_a_case_of_its_own(one_person):
    first = reference_of(ReportSender(one_person.test_client()).send(valid_report()))
    claim = reference_of(
        ReportSender(one_person.test_client()).send(valid_report() | {"follow_up_of": first})
    )
    client = signed_in(one_person)
    token = hidden_inputs(case_page(client, claim))["csrf_token"]
    client.post(f"/staff/reports/{claim}/claim", data={"csrf_token": token, "decision": "reject"})
    report = stored(one_person, claim)
    assert (
        report.claimed_follow_up_of is None and report.case_id != stored(one_person, first).case_id
    )


def test_the_confirmation_page_is_rate_limited_like_the_form(tmp_path, monkeypatch):
    from adr import create_app

    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    app = create_app(app_config(tmp_path, RATELIMIT_ENABLED=True, REPORT_RATE_LIMIT="3 per minute"))
    client = app.test_client()
    statuses = [client.get("/report/submitted/ADR-202611-ZZZZZ0").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


# 8. The workbook's follow-up rows and months.


def test_a_follow_up_row_holds_the_case_as_it_stood_in_the_month_it_was_known(one_person):
    client = signed_in(one_person)
    hospital = {
        "reporter-kind": "physician", "reporter-organization_type": "hospital",
        "reporter-organization": "绥德县医院", "reporter-name": "李医生",
    }  # fmt: skip
    first = heard(client, days_ago(40), **hospital)
    follow_up = heard(
        client,
        days_ago(35),
        follow_up_of=first,
        **{"reporter-kind": "", "reporter-name": "", "reporter-phone": "", "patient-name": "",
           "patient-sex": "", "patient-age": "", "drugs-0-generic_name": "",
           "drugs-0-batch_number": "", "event-name": "", "event-outcome": "recovered"},
    )  # fmt: skip
    month = f"{TODAY - timedelta(days=35):%Y-%m}"
    response = client.get(f"/staff/exports/{month}.xlsx")
    book = load_workbook(io.BytesIO(response.data))
    response.close()
    sheet = book["个例报告"]
    headers = [c.value for c in sheet[1]]
    rows = {
        row[0]: dict(zip(headers, row, strict=True))
        for row in sheet.iter_rows(min_row=2, values_only=True)
    }
    row = rows[follow_up]
    assert (row["首次/跟踪报告"], row["原始报告编码"]) == ("跟踪报告", first)
    assert (row["报告人职业"], row["信息来源"], row["报告人姓名"]) == ("医生", "医疗机构", "李医生")
    assert (row["患者姓名"], row["性别"], row["年龄"]) == ("张某某", "女", "68岁")
    assert "阿莫西林胶囊" in row["怀疑药品"] and row["结果"] == "痊愈"
    assert row["接收日期"].date() == TODAY - timedelta(days=35)


def test_a_report_known_last_month_and_entered_today_is_in_last_month_s_workbook(one_person):
    client = signed_in(one_person)
    known = TODAY.replace(day=1) - timedelta(days=3)
    reference = heard(
        client, known.isoformat(), **{"event-onset_date": (known - timedelta(days=2)).isoformat()}
    )
    response = client.get(f"/staff/exports/{known:%Y-%m}.xlsx")
    book = load_workbook(io.BytesIO(response.data))
    response.close()
    (row,) = [
        r for r in book["个例报告"].iter_rows(min_row=2, values_only=True) if r[0] == reference
    ]
    assert row[4].date() == known
    this_month = client.get(f"/staff/exports/{TODAY:%Y-%m}.xlsx")
    listed = load_workbook(io.BytesIO(this_month.data))["个例报告"]
    this_month.close()
    assert reference not in [row[0] for row in listed.iter_rows(values_only=True)]


def test_each_row_carries_the_decisions_in_force_for_its_report(one_person, sent_initial):
    client, initial = sent_initial
    follow_up = heard(client, days_ago(3), follow_up_of=initial,
                      **{"event-outcome": "not_recovered"})  # fmt: skip
    assess(client, initial, assessed_outcome="death", assessed_serious=["death"])

    def rows_and_summary(month: str) -> tuple[dict, dict]:
        response = client.get(f"/staff/exports/{month}.xlsx")
        book = load_workbook(io.BytesIO(response.data))
        response.close()
        sheet = book["个例报告"]
        headers = [c.value for c in sheet[1]]
        rows = {
            row[0]: dict(zip(headers, row, strict=True))
            for row in sheet.iter_rows(min_row=2, values_only=True)
        }
        summary = {row[0]: row[1] for row in book["汇总"].iter_rows(values_only=True) if row}
        return rows, summary

    rows, summary = rows_and_summary(f"{TODAY - timedelta(days=40):%Y-%m}")
    assert (rows[initial]["报告类型"], rows[initial]["结果"]) == ("一般", "好转")
    assert summary["死亡"] == 0
    rows, summary = rows_and_summary(f"{TODAY - timedelta(days=3):%Y-%m}")
    assert rows[follow_up]["报告类型"] == "严重" and "审核确认:死亡" in rows[follow_up]["结果"]
    assert summary["死亡"] == 1
