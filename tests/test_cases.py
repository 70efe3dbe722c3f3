"""Cases: every channel, day 0 as GVP defines it, and the clock of each follow-up."""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from adr import accounts, cases, regulatory
from adr.extensions import db
from adr.models import AuditEntry, Drug, Report
from adr.review.queries import Filters, dashboard_counts, report_query
from tests.conftest import (
    ReportSender,
    follow_up_link,
    hidden_inputs,
    reference_of,
    send_report,
    valid_report,
)
from tests.test_review import stored

PASSWORD = "correct horse battery"
REVIEWER = "reviewer@tianning.example"
TODAY = regulatory.china_today()


@pytest.fixture
def staff(app):
    with app.app_context():
        accounts.create_user(REVIEWER, "审核员", "reviewer", PASSWORD, "test")
    client = app.test_client()
    token = hidden_inputs(client.get("/login").get_data(as_text=True))["csrf_token"]
    client.post("/login", data={"email": REVIEWER, "password": PASSWORD, "csrf_token": token})
    return client


def phone_call(**fields: object) -> dict[str, object]:
    """Return what staff type after a call: a patient reporting a serious reaction, no e-mail."""
    return {
        "case-source": "phone",
        "case-awareness_date": (TODAY - timedelta(days=3)).isoformat(),
        "reporter-kind": "patient",
        "reporter-name": "李四",
        "patient-name": "李四",
        "patient-sex": "male",
        "patient-age": "45",
        "drugs-0-role": "suspect",
        "drugs-0-generic_name": "阿莫西林胶囊",
        "drugs-0-batch_number": "20260315A",
        "event-name": "呼吸困难",
        "event-onset_date": (TODAY - timedelta(days=5)).isoformat(),
        "event-serious": ["hospitalization"],
    } | fields


def enter(client, fields: dict[str, object], follow_up_of: str | None = None):
    """Open the staff form (a follow-up's from the case's link) and post it as a browser would."""
    path = (
        f"/staff/reports/new?follow_up_of={follow_up_of}" if follow_up_of else "/staff/reports/new"
    )
    page = client.get(path).get_data(as_text=True)
    assert f'value="{follow_up_of}"' in page if follow_up_of else "录入报告" in page
    typed = {"follow_up_of": follow_up_of} if follow_up_of else {}
    return client.post("/staff/reports/new", data={**hidden_inputs(page), **typed, **fields})


def entered(response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    match = re.fullmatch(r".*/staff/reports/(ADR-\d{6}-[0-9A-Z]{6})", response.location)
    assert match, response.location
    return match.group(1)


def china_day(moment: datetime | None) -> date | None:
    return moment and regulatory.china_date(moment)


def submit(app, fields: dict[str, object] | None = None) -> str:
    return reference_of(send_report(app, valid_report() | (fields or {})))


def assess(client, reference: str, **fields):
    page = client.get(f"/staff/reports/{reference}").get_data(as_text=True)
    data = {"status": "in_review", "csrf_token": hidden_inputs(page)["csrf_token"], **fields}
    return client.post(f"/staff/reports/{reference}/assessment", data=data)


# Staff intake: a phone report heard of days ago, and its follow-up.


def test_a_phone_report_counts_from_the_day_we_first_knew_and_its_follow_up_from_its_own(
    app, staff
):
    reference = entered(enter(staff, phone_call()))
    report = stored(app, reference)
    heard = TODAY - timedelta(days=3)
    assert (report.source, report.aware_on, report.day_zero) == ("phone", heard, heard)
    assert report.report_category == "serious"
    assert china_day(report.due_at) == heard + timedelta(days=15)
    assert report.reporter_email is None and report.reporter_phone is None
    page = staff.get(f"/staff/reports/{reference}").get_data(as_text=True)
    assert str(heard + timedelta(days=15)) in page and "电话" in page

    follow_up = entered(
        enter(
            staff,
            {
                "case-source": "phone",
                "case-awareness_date": TODAY.isoformat(),
                "event-name": "呼吸困难",
                "event-outcome": "recovered",
            },
            reference,
        )
    )
    later = stored(app, follow_up)
    assert later.case_id == report.case_id and later.follow_up_of_id == report.id
    assert later.day_zero == TODAY and later.report_category == "serious"
    assert china_day(later.due_at) == TODAY + timedelta(days=15)
    assert china_day(stored(app, reference).due_at) == heard + timedelta(days=15)  # unchanged
    page = staff.get(f"/staff/reports/{follow_up}").get_data(as_text=True)
    assert str(TODAY + timedelta(days=15)) in page and str(heard + timedelta(days=15)) in page
    assert "痊愈" in page  # the case's current view holds the follow-up's outcome


def test_staff_entries_are_audited_as_theirs_and_mailed_to_the_safety_inbox(app, staff):
    reference = entered(enter(staff, phone_call(**{"reporter-email": "lisi@example.com"})))
    with app.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        entry = db.session.scalar(
            sa.select(AuditEntry).where(
                AuditEntry.report_id == report.id, AuditEntry.action == "report received"
            )
        )
        assert entry.actor == REVIEWER
        assert [mail.kind for mail in report.mails] == ["safety_inbox"]  # the caller is not mailed
        assert "李四" not in report.mails[0].body_text  # no names in mails by default


@pytest.mark.parametrize(
    ("missing", "element"),
    [
        ({"patient-name": "不详", "patient-sex": "", "patient-age": ""}, "patient"),
        ({"reporter-name": "匿名"}, "reporter"),
        ({"drugs-0-generic_name": "", "drugs-0-batch_number": ""}, "drug"),
        ({"event-name": "", "event-serious": []}, "reaction"),
    ],
)
def test_a_case_missing_a_minimum_element_is_stored_without_a_deadline(
    app, staff, missing, element
):
    reference = entered(enter(staff, phone_call(**missing)))
    report = stored(app, reference)
    assert (report.valid_case, report.day_zero, report.due_at) == (False, None, None)
    page = staff.get(f"/staff/reports/{reference}").get_data(as_text=True)
    label = {"patient": "可识别的患者", "reporter": "可识别的报告人", "drug": "怀疑药品"}
    label["reaction"] = "不良反应"
    assert f'<li class="missing">{label[element]}' in page
    assert "暂无时限" in page
    listed = staff.get("/staff/reports?incomplete=1").get_data(as_text=True)
    assert reference in listed


def test_a_follow_up_that_completes_a_case_starts_its_clock(app, staff):
    first = entered(enter(staff, phone_call(**{"patient-name": "不详", "patient-sex": ""}) | {
        "patient-age": "", "case-awareness_date": (TODAY - timedelta(days=4)).isoformat(),
    }))  # fmt: skip
    assert stored(app, first).due_at is None
    follow_up = entered(
        enter(
            staff,
            {
                "case-source": "email",
                "case-awareness_date": (TODAY - timedelta(days=2)).isoformat(),
                "patient-sex": "male",
                "patient-age": "45",
            },
            first,
        )
    )
    completed = stored(app, follow_up)
    assert completed.valid_case and completed.day_zero == TODAY - timedelta(days=2)
    assert china_day(completed.due_at) == TODAY - timedelta(days=2) + timedelta(days=15)
    assert stored(app, first).due_at is None  # the incomplete report never had a deadline
    assert completed.case.valid_case


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"event-name": "", "drugs-0-generic_name": ""}, "event-name", "请填写不良反应或怀疑药品"),
        ({"case-source": ""}, "case-source", "请选择获知本报告的途径"),
        ({"case-source": "web"}, "case-source", "请从列出的选项中选择"),
        ({"case-awareness_date": ""}, "case-awareness_date", "请填写公司首次获知本报告的日期"),
        (
            {"case-awareness_date": (TODAY + timedelta(days=1)).isoformat()},
            "case-awareness_date",
            "日期还没到",
        ),
        ({"case-awareness_date": "1899-12-31"}, "case-awareness_date", "1900"),
        ({"reporter-phone": "12"}, "reporter-phone", "请填写"),
        ({"drugs-0-dosage_form": "剂" * 61}, "drugs-0-dosage_form", "请缩短到 60 个字以内"),
        ({"drugs-0-expiry_date": "2099-01-01"}, "drugs-0-expiry_date", "请核对药盒上的有效期"),
        ({"patient-pregnant": "yes"}, "patient-pregnant", "男性患者不可能怀孕"),
        ({"event-city": "市" * 51}, "event-city", "请缩短到 50 个字以内"),
    ],
)
def test_staff_intake_refuses_what_cannot_be_recorded_and_keeps_every_value(
    app, staff, fields, field, message
):
    response = enter(staff, phone_call(**fields))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in page and message in page
    assert "李四" in page and "20260315A" in page  # every value kept
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Report)) == 0


def test_staff_enter_the_holder_form_fields_a_caller_gives(app, staff):
    page = staff.get("/staff/reports/new").get_data(as_text=True)
    assert 'name="drugs-0-dosage_form"' in page and 'name="drugs-0-strength"' in page
    reference = entered(
        enter(
            staff,
            phone_call(
                **{
                    "patient-sex": "female",
                    "patient-age": "30",
                    "patient-pregnant": "yes",
                    "drugs-0-dosage_form": "胶囊剂",
                    "drugs-0-strength": "0.5g",
                    "drugs-0-expiry_date": "2027-06-30",
                    "event-province": "Shaanxi",
                    "event-city": "Yulin",
                }
            ),
        )
    )
    report = stored(app, reference)
    with app.app_context():
        drug = db.session.scalar(sa.select(Drug).where(Drug.report_id == report.id))
    assert (drug.dosage_form, drug.strength, drug.expiry_date) == (
        "胶囊剂",
        "0.5g",
        date(2027, 6, 30),
    )
    assert (report.event_province, report.event_city) == ("Shaanxi", "Yulin")  # any text
    assert (report.patient_pregnant, report.patient_history) == ("yes", ["pregnancy"])


def test_a_double_click_on_the_staff_form_stores_one_report(app, staff):
    page = staff.get("/staff/reports/new").get_data(as_text=True)
    data = {**hidden_inputs(page), **phone_call()}
    first, second = (staff.post("/staff/reports/new", data=data) for _ in range(2))
    assert entered(first) == entered(second)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Report)) == 1


def test_a_follow_up_must_add_something(app, staff):
    first = submit(app)
    response = enter(
        staff, {"case-source": "phone", "case-awareness_date": TODAY.isoformat()}, first
    )
    assert response.status_code == 422 and "请填写跟踪报告补充的内容" in response.get_data(
        as_text=True
    )


def test_we_cannot_have_known_of_a_reaction_before_it_started(app, staff):
    fields = {"case-awareness_date": (TODAY - timedelta(days=6)).isoformat()}  # onset: 5 days ago
    response = enter(staff, phone_call(**fields))
    assert response.status_code == 422 and 'id="case-awareness_date-error"' in response.get_data(
        as_text=True
    )


def test_a_follow_up_to_a_duplicate_goes_to_the_original_case(app, staff):
    original, duplicate = submit(app), submit(app)
    assert assess(staff, duplicate, status="duplicate", duplicate_of=original).status_code == 303
    assert stored(app, duplicate).case_id == stored(app, original).case_id  # merged
    died = {"event-outcome": "death", "event-death_cause": "休克", "event-death_date": "2026-11-23"}
    follow_up = submit(app, {"follow_up_of": duplicate} | died)
    report = stored(app, follow_up)
    assert report.case_id == stored(app, original).case_id and report.case.death
    assert report.follow_up_of_id == stored(app, duplicate).id  # leaves with it on an undo
    assert china_day(report.due_at) == report.day_zero + timedelta(days=1)
    third = submit(app)  # quoting the merged report names the case it now belongs to
    assert assess(staff, third, status="duplicate", duplicate_of=duplicate).status_code == 303
    assert stored(app, third).case_id == stored(app, original).case_id


def test_the_staff_form_is_for_staff_only(client):
    assert client.get("/staff/reports/new").status_code == 302
    assert client.post("/staff/reports/new", data=phone_call()).status_code in (302, 400)


# The clock of follow-ups (finding 1) and of staff corrections (finding 3).


def test_a_follow_up_without_seriousness_keeps_the_serious_case_clock(app):
    first = submit(app, {"event-serious": ["hospitalization"]})
    follow_up = submit(app, {"follow_up_of": first})  # the reporter did not tick it again
    report = stored(app, follow_up)
    assert report.report_category == "serious" and report.serious
    assert china_day(report.due_at) == report.day_zero + timedelta(days=15)


def test_a_follow_up_that_reports_a_hospitalisation_upgrades_the_case(app):
    first = submit(app)
    follow_up = submit(app, {"follow_up_of": first, "event-serious": ["hospitalization"]})
    later, earlier = stored(app, follow_up), stored(app, first)
    assert (earlier.report_category, later.report_category) == ("general", "serious")
    assert later.case.serious and later.case.report_category == "serious"
    assert china_day(earlier.due_at) == earlier.day_zero + timedelta(days=30)


def test_concurrent_follow_ups_of_one_case_all_count(app):
    """Each follow-up locks its case, so none derives the clock without the others."""
    first = submit(app)
    barrier = threading.Barrier(6)
    statuses: list[int] = []

    link = follow_up_link(app, first)

    def follow_up(index: int) -> None:
        client = app.test_client()
        serious = {"event-serious": ["hospitalization"]} if index == 0 else {}
        data = {**ReportSender(client).open(link), **valid_report(), **serious}
        barrier.wait()
        statuses.append(client.post(link, data=data).status_code)

    threads = [threading.Thread(target=follow_up, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [303] * 6
    with app.app_context():
        case = db.session.scalar(sa.select(Report).where(Report.reference == first)).case
        assert len(case.reports) == 7 and case.serious
        assert cases.derive(case.reports, case) == []  # what is stored is what the rules say
        db.session.rollback()


def test_a_follow_up_reopens_a_submitted_case(app, staff):
    first = submit(app)
    assess(staff, first)
    assess(staff, first, status="assessed")
    sent = assess(
        staff,
        first,
        status="submitted",
        submitted_to_regulator_on=TODAY.isoformat(),
        national_case_number="202661000123",
    )
    assert sent.status_code == 303
    follow_up = submit(app, {"follow_up_of": first})
    report = stored(app, follow_up)
    assert report.case.status == "in_review" and report.submitted_to_regulator_on is None
    assert report.case.reports[0].submitted_to_regulator_on == TODAY


def test_a_follow_up_reopens_an_invalid_case_for_assessment(app, staff):
    first = submit(app)
    invalid = {"status": "invalid", "invalid_reason": "other", "status_reason": "无法联系报告人"}
    assert assess(staff, first, **invalid).status_code == 303
    report = stored(app, submit(app, {"follow_up_of": first}))
    assert report.case.status == "in_review"
    assert china_day(report.due_at) == report.day_zero + timedelta(days=30)


def test_staff_cannot_confirm_a_death_with_a_recovering_outcome(app, staff):
    reference = submit(app)  # outcome 好转
    refused = assess(staff, reference, assessed_serious=["death"])
    assert refused.status_code == 422 and 'id="assessed_outcome"' in refused.get_data(as_text=True)
    assert stored(app, reference).report_category == "general"


def test_an_assessed_death_gives_the_death_clock_and_an_investigation(app, staff):
    reference = submit(app)
    assert (
        assess(staff, reference, assessed_serious=["death"], assessed_outcome="death").status_code
        == 303
    )
    report = stored(app, reference)
    assert report.case.death and report.case.assessed_outcome == "death"
    assert china_day(report.due_at) == report.day_zero + timedelta(days=1)
    assert china_day(report.case.investigation_due_at) == report.day_zero + timedelta(days=15)
    page = staff.get(f"/staff/reports/{reference}").get_data(as_text=True)
    assert "立即" in page and "死亡病例调查" in page
    with app.app_context():
        fields = {e.field for e in db.session.scalars(sa.select(AuditEntry))}
        assert {"assessed_outcome", "due_at", "investigation_due_at"} <= fields


def test_the_death_investigation_is_tracked_until_its_date_is_recorded(app, staff):
    reference = submit(
        app,
        {"event-outcome": "death", "event-death_cause": "休克", "event-death_date": "2026-11-22"},
    )
    dashboard = staff.get("/staff/").get_data(as_text=True)
    assert re.search(r"<strong>1</strong> 待完成的死亡病例调查", dashboard)
    assert reference in staff.get("/staff/reports?investigation=1").get_data(as_text=True)
    early = assess(staff, reference, investigation_reported_on="2020-01-01")
    assert early.status_code == 422
    assert assess(staff, reference, investigation_reported_on=TODAY.isoformat()).status_code == 303
    assert stored(app, reference).case.investigation_reported_on == TODAY
    dashboard = staff.get("/staff/").get_data(as_text=True)
    assert re.search(r"<strong>0</strong> 待完成的死亡病例调查", dashboard)


# Invalid and duplicate cases owe nothing (finding 2).


@pytest.mark.parametrize("status", ["invalid", "duplicate"])
def test_invalid_and_duplicate_cases_are_never_overdue(app, staff, status):
    original = submit(app)
    late = submit(app)
    with app.app_context():  # as if both had come in two months ago
        db.session.execute(
            sa.update(Report).values(
                aware_on=TODAY - timedelta(days=60), due_at=datetime.now(UTC) - timedelta(days=30)
            )
        )
        db.session.commit()
    reason = (
        {"invalid_reason": "other", "status_reason": "测试报告"}
        if status == "invalid"
        else {"duplicate_of": original}  # the same report again: a copy, owing nothing
    )
    assert assess(staff, late).status_code == 303
    assert assess(staff, late, status=status, **reason).status_code == 303
    with app.app_context():
        now = datetime.now(UTC)
        overdue = db.session.scalars(report_query(Filters(overdue=True), now)).all()
        assert [r.reference for r in overdue] == [original]
        assert dashboard_counts(now)["overdue"] == 1
    page = staff.get(f"/staff/reports/{late}").get_data(as_text=True)
    assert "无需上报" in page and "逾期" not in page.split("本病例的报告")[1].split("</table>")[0]


# The clock itself, without the app.


def report_facts(aware_on: date, **fields: object) -> SimpleNamespace:
    blank = dict.fromkeys(cases.VIEW_COLUMNS)
    drug = SimpleNamespace(
        role="suspect", generic_name="阿莫西林胶囊", brand_name=None, approval_number=None,
        manufacturer=None, batch_number=None, dose=None, dose_unit=None, route=None,
        frequency=None, start_date=None, indication=None,
    )  # fmt: skip
    return SimpleNamespace(
        **(blank | {
            "patient_name": "ZS", "reporter_name": "王丽", "event_name": "皮疹",
            "event_serious": [], "patient_history": [], "aware_on": aware_on, "drugs": [drug],
        } | fields)
    )  # fmt: skip


def case_facts(**fields: object) -> SimpleNamespace:
    return SimpleNamespace(
        **(
            {"status": "received", "assessed_serious": None, "assessed_outcome": None}
            | {"expectedness": None}
            | fields
        )
    )


@pytest.mark.parametrize(
    ("aware_on", "category", "due"),
    [
        (date(2026, 1, 31), "general", date(2026, 3, 2)),
        (date(2026, 1, 31), "serious", date(2026, 2, 15)),
        (date(2026, 12, 31), "serious", date(2027, 1, 15)),
        (date(2028, 2, 14), "serious", date(2028, 2, 29)),
    ],
)
def test_deadlines_count_calendar_days_from_day_0_across_month_ends(aware_on, category, due):
    serious = ["hospitalization"] if category == "serious" else []
    (clock,) = cases.clocks([report_facts(aware_on, event_serious=serious)], case_facts())
    assert clock.day_zero == aware_on and clock.category == category
    assert clock.due_at == datetime(due.year, due.month, due.day, 15, 59, 59, tzinfo=UTC)


def test_a_web_report_received_just_before_china_midnight_counts_from_that_china_day():
    received = datetime(2026, 11, 30, 15, 59, tzinfo=UTC)  # 23:59 on 30 November in China
    (clock,) = cases.clocks([report_facts(regulatory.china_date(received))], case_facts())
    assert clock.day_zero == date(2026, 11, 30)
    just_after = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 00:00 on 1 December
    assert regulatory.china_date(just_after) == date(2026, 12, 1)


def test_a_case_judged_new_from_its_first_report_counts_every_report_from_its_own_day_0():
    """The holder's clock (revised 2026-12): a new non-serious reaction has 30 days."""
    first, follow_up = report_facts(date(2026, 11, 1)), report_facts(date(2026, 11, 10))
    clocks = cases.clocks([first, follow_up], case_facts(expectedness="new"))
    assert [c.category for c in clocks] == ["new", "new"]
    assert [c.due_at.date() for c in clocks] == [date(2026, 12, 1), date(2026, 12, 10)]


@pytest.mark.parametrize("status", ["invalid", "duplicate"])
def test_invalid_and_duplicate_cases_have_no_deadline(status):
    (clock,) = cases.clocks([report_facts(date(2026, 11, 1))], case_facts(status=status))
    assert clock.day_zero == date(2026, 11, 1) and clock.due_at is None


def test_the_reporter_s_seriousness_is_not_downgraded_by_staff():
    serious = report_facts(date(2026, 11, 1), event_serious=["hospitalization"])
    (clock,) = cases.clocks([serious], case_facts(assessed_serious=[]))
    assert clock.serious and clock.category == "serious"


def test_the_current_view_takes_each_field_s_latest_value_and_names_its_report():
    first = report_facts(date(2026, 11, 1), event_outcome="improving", patient_weight_kg=60.0)
    later = report_facts(date(2026, 11, 5), event_outcome="recovered", drugs=[])
    view = cases.current_view([first, later])
    assert (view.event_outcome, view.patient_weight_kg) == ("recovered", 60.0)
    assert view.sources["event_outcome"] is later and view.sources["patient_weight_kg"] is first
    assert view.drugs == first.drugs and view.drug_sources == [first]


def test_a_follow_up_never_blanks_out_what_identified_the_case():
    first = report_facts(date(2026, 11, 1), patient_name="张三", reporter_phone="13912345678")
    later = report_facts(
        date(2026, 11, 5),
        patient_name="不详",
        reporter_name="王医生",
        drugs=[SimpleNamespace(role="concomitant", generic_name="维生素C", brand_name=None)],
    )
    view = cases.current_view([first, later])
    assert view.patient_name == "张三" and view.sources["patient_name"] is first
    assert (view.reporter_name, view.reporter_phone) == ("王医生", None)  # one reporter, whole
    assert [d.role for d in view.drugs] == ["suspect", "concomitant"]
    assert [c.valid_case for c in cases.clocks([first, later], case_facts())] == [True, True]


def test_a_drug_named_again_adds_to_what_was_said_of_it():
    said = Drug(role="suspect", generic_name="阿莫西林胶囊", batch_number="A1", dose=0.5,
                dose_unit="g", route="oral", start_date=date(2026, 10, 30))  # fmt: skip
    again = Drug(role="suspect", generic_name="阿莫西林胶囊", batch_number="B2")
    first = report_facts(date(2026, 11, 1), drugs=[said])
    later = report_facts(date(2026, 11, 5), drugs=[again])
    [drug] = cases.current_view([first, later]).drugs
    assert (drug.batch_number, drug.dose, drug.dose_unit, drug.route) == ("B2", 0.5, "g", "oral")
    assert drug.start_date == date(2026, 10, 30)
    assert (said.batch_number, again.dose) == ("A1", None)  # the reports stay as received


def test_staff_cannot_correct_a_reported_death_away():
    died = report_facts(date(2026, 11, 1), event_outcome="death")
    (clock,) = cases.clocks([died], case_facts(assessed_outcome="recovered"))
    assert clock.death and clock.due_at.date() == date(2026, 11, 2)
