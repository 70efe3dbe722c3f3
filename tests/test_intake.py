"""A reporter fills the public form: what is stored, and what they see."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import request

from adr import create_app, regulatory
from adr.cases import reports
from adr.extensions import db
from adr.intake import pages
from adr.intake.forms import ReportForm
from adr.intake.pages import blank_form_page, render_form
from adr.models import (
    AuditEntry,
    BatchCase,
    BatchTally,
    Case,
    CaseDisease,
    Drug,
    FollowUpLink,
    OpenCaseCount,
    OutboxMail,
    Reaction,
    Report,
)
from tests.conftest import (
    COMPANY,
    ReportSender,
    amoxicillin,
    app_config,
    hidden_inputs,
    reference_of,
    valid_report,
)


def stored(app, reference: str) -> Report:
    with app.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        assert report is not None
        report.drugs, report.case.reports  # noqa: B018 - load them before the session ends
        return report


def report_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Report))


def test_landing_page_leads_to_the_form(client):
    page = client.get("/").get_data(as_text=True)
    assert 'href="/report"' in page
    assert "tn@tianning.com.cn" in page
    assert "400-840-1008" in page and "0912-5647197" in page
    assert COMPANY in page and "陕西省榆林市绥德县天宁路" in page


def test_the_start_page_says_when_to_call_120_then_what_to_have_then_the_button(client):
    page = client.get("/").get_data(as_text=True)
    page = page[page.index("<main") : page.index("</main>")]
    order = [page.index(text) for text in (
        "拨打120", "包装盒或说明书", "批号", "不适何时开始", "电话号码",
        'href="/report"', "什么是药品不良反应",
    )]  # fmt: skip
    assert order == sorted(order)


def test_a_full_chinese_report_is_stored_field_by_field(app, sender):
    before = datetime.now(UTC)
    response = sender.send(valid_report())
    reference = reference_of(response)
    assert regulatory.REFERENCE_RE.fullmatch(reference)

    report = stored(app, reference)
    assert before <= report.received_at <= datetime.now(UTC)
    assert reference.startswith(
        "ADR-" + report.received_at.astimezone(regulatory.CHINA).strftime("%Y%m")
    )
    assert report.language == "zh_CN"
    assert report.reporter_kind == "pharmacist"
    assert report.reporter_organization_type == "pharmacy"
    assert report.reporter_organization == "榆林市天宁大药房"
    assert report.reporter_name == "王丽"
    assert report.reporter_phone == "139 1234 5678"
    assert report.reporter_phone_e164 == "+8613912345678"
    assert report.reporter_email == "wangli@example.com"
    assert report.reporter_consent_contact is True
    assert report.reporter_consent_privacy is True
    assert report.patient_name == "张某某"
    assert report.patient_sex == "female"
    assert report.patient_birth_date == date(1958, 3, 14)
    assert (report.patient_age, report.patient_age_unit) == (68, "year")
    assert report.patient_ethnicity == "汉族"
    assert report.patient_weight_kg == 62.5
    assert report.patient_phone == "0912-5647197"
    assert report.patient_phone_e164 == "+869125647197"
    assert report.patient_disease == "急性支气管炎"
    assert report.patient_hospital == "绥德县医院"
    assert report.patient_record_number == "MZ20261120"
    assert (report.patient_past_adr, report.patient_past_adr_detail) == ("yes", "青霉素皮疹")
    assert (report.patient_family_adr, report.patient_family_adr_detail) == ("no", None)
    assert report.patient_history == ["smoking", "allergy"]
    assert report.patient_history_detail == "青霉素皮试阳性(2019年)"
    assert report.event_name == "皮疹、瘙痒"
    assert report.event_onset_date == date(2026, 11, 21)
    assert report.event_description.startswith("服药第二天")
    assert report.event_outcome == "improving"
    assert report.event_dechallenge == "yes"
    assert report.event_rechallenge == "not_applicable"
    assert report.event_disease_impact == "not_obvious"
    assert report.event_serious == []
    assert report.event_causality == "probable"
    assert report.remarks == "患者自行停药后好转。"

    suspect, concomitant = report.drugs
    assert (suspect.position, suspect.role) == (0, "suspect")
    assert suspect.approval_number == "国药准字H61020123"
    assert (suspect.brand_name, suspect.generic_name) == ("天宁", "阿莫西林胶囊")
    assert suspect.manufacturer == COMPANY
    assert suspect.batch_number == "20260315A"
    assert (suspect.dose, suspect.dose_unit, suspect.route) == (0.5, "g", "oral")
    assert suspect.frequency == "每日3次"
    assert (suspect.start_date, suspect.end_date) == (date(2026, 11, 20), date(2026, 11, 22))
    assert suspect.indication == "急性支气管炎"
    assert (concomitant.position, concomitant.role) == (1, "concomitant")
    assert concomitant.generic_name == "盐酸氨溴索片"
    assert concomitant.end_date is None

    assert report.serious is False
    assert report.report_category == "general"
    assert report.case.status == "received"
    assert (report.source, report.follow_up_of_id, report.case.reports) == ("web", None, [report])
    assert report.valid_case is True
    assert report.completeness == 100
    assert report.aware_on == report.day_zero == regulatory.china_date(report.received_at)
    assert report.due_at == regulatory.due_at(report.day_zero, "general", death=False)


# What a new case's rows hold when the ORM's flush inserts them: the intake inserts them by
# Core (`insert_new_case`), and must store what the flush stored, defaults and copies included.
ROWS_OF_A_CASE = {
    Case: Case.id,
    Report: Report.case_id,
    Drug: Report.case_id,
    Reaction: Reaction.case_id,
    CaseDisease: CaseDisease.case_id,
    OutboxMail: Report.case_id,
    FollowUpLink: Report.case_id,
    BatchCase: BatchCase.case_id,
}
DRAWN = {"reference", "submission_token", "message_id", "token_hash"}  # random each report


def rows_of_case(reference: str) -> dict[str, list[dict[str, object]]]:
    """Return the rows a case holds in each table, its ids and random values left out."""
    case_id = db.session.scalar(sa.select(Report.case_id).where(Report.reference == reference))
    held = {}
    for model, key in ROWS_OF_A_CASE.items():
        columns = model.__table__.columns  # and which are SQL's NULL: JSON's null reads as None
        nulls = [column.is_(None).label(f"{column.name} is NULL") for column in columns]
        query = sa.select(*columns, *nulls).where(key == case_id)
        if key.class_ is Report and model is not Report:
            query = query.join(Report, Report.id == model.__table__.c.report_id)
        held[model.__tablename__] = [
            {
                name: comparable(name, value, reference)
                for name, value in row._mapping.items()
                if not (name == "id" or name.endswith("case_id") or name == "report_id")
            }
            for row in db.session.execute(query)
        ]
    return held


def comparable(name: str, value: object, reference: str) -> object:
    """Return a value as two reports of the same fields hold it alike: what is drawn or timed
    by its type, the report's reference in a text (a mail's) by a mark."""
    if name in DRAWN or isinstance(value, datetime):
        return type(value).__name__
    return value.replace(reference, "REF") if isinstance(value, str) else value


def test_a_new_case_stores_what_the_orm_s_flush_stored(app, sender, monkeypatch):
    with app.app_context():
        db.session.add(amoxicillin())
        db.session.commit()
    fields = valid_report() | {"event-serious": ["hospitalization"]}
    by_core = reference_of(sender.send(fields))

    def flushed(session, case, report):  # the unit of work, as before `insert_new_case`
        session.add(report)
        session.flush()

    monkeypatch.setattr(reports, "insert_new_case", flushed)
    by_flush = reference_of(ReportSender(app.test_client()).send(fields))
    with app.app_context():
        core, flush = rows_of_case(by_core), rows_of_case(by_flush)
        assert core == flush
        assert [len(rows) for rows in core.values()] == [1, 1, 2, 2, 1, 2, 1, 1]
        assert core["safety_case"][0]["status"] == "received"
        assert core["report"][0]["case_status"] == "received"
        assert core["report"][0]["case_serious"] is True
        counts = db.session.execute(sa.select(OpenCaseCount.assignee_id, OpenCaseCount.cases))
        assert counts.all() == [(0, 2)]
        tallied = db.session.scalar(sa.select(BatchTally.cases))
        assert tallied == 2


def test_the_confirmation_shows_the_reference_and_no_personal_data(client, sender):
    reference = reference_of(sender.send(valid_report()))
    page = client.get(f"/report/submitted/{reference}").get_data(as_text=True)
    assert f'id="report-reference">{reference}<' in page
    for personal in ("王丽", "张某某", "139 1234 5678", "wangli@example.com", "皮疹"):
        assert personal not in page
    assert f"/report?follow_up_of={reference}" in page


def test_the_confirmation_says_whom_to_call_quoting_the_reference(client, sender):
    reference = reference_of(sender.send(valid_report()))
    page = client.get(f"/report/submitted/{reference}").get_data(as_text=True)
    call = page[page.index('id="call-us"') : page.index("</p>", page.index('id="call-us"'))]
    assert '<a href="tel:4008401008">400-840-1008</a>' in call and reference in call
    assert '<div id="copy" hidden>' in page  # the copy button is the script's to show


@pytest.mark.parametrize(
    "reference", ["ADR-202613-ABCDEF", "adr-202611-abcdef", "ADR-202611-ABCDEU", "x"]
)
def test_the_confirmation_of_a_malformed_reference_is_not_found(client, reference):
    assert client.get(f"/report/submitted/{reference}").status_code == 404


def test_a_death_is_serious_and_due_the_next_day(app, sender):
    fields = valid_report() | {
        "event-outcome": "death",
        "event-death_cause": "过敏性休克",
        "event-death_date": "2026-11-22",
    }
    report = stored(app, reference_of(sender.send(fields)))
    assert report.serious is True
    assert report.event_serious == ["death"]
    assert report.report_category == "serious"
    received_day = report.received_at.astimezone(regulatory.CHINA).date()
    assert report.due_at.astimezone(regulatory.CHINA).date() == received_day + timedelta(days=1)


def test_a_serious_reaction_is_due_in_15_days(app, sender):
    fields = valid_report() | {"event-serious": ["hospitalization", "life_threatening"]}
    report = stored(app, reference_of(sender.send(fields)))
    assert report.serious is True
    assert report.event_serious == ["hospitalization", "life_threatening"]
    assert report.report_category == "serious"
    received_day = report.received_at.astimezone(regulatory.CHINA).date()
    assert report.due_at.astimezone(regulatory.CHINA).date() == received_day + timedelta(days=15)


def test_the_least_a_patient_can_send_is_accepted(app, sender):
    fields = {
        "reporter-kind": "patient",
        "reporter-name": "李",
        "reporter-email": "li@example.com",
        "reporter-consent_privacy": "y",
        "patient-name": "LS",
        "patient-sex": "unknown",
        "patient-age": "8",
        "patient-age_unit": "month",
        "drugs-0-role": "suspect",
        "drugs-0-brand_name": "天宁牌感冒颗粒",
        "event-name": "呕吐",
        "event-onset_date": "2026-11-01",
        "event-description": "喝药后半小时呕吐两次。",
        "event-outcome": "recovered",
    }
    report = stored(app, reference_of(sender.send(fields)))
    assert (report.patient_age, report.patient_age_unit) == (8, "month")
    assert report.reporter_phone is None and report.reporter_phone_e164 is None
    assert [drug.brand_name for drug in report.drugs] == ["天宁牌感冒颗粒"]
    assert report.valid_case is True
    assert 0 < report.completeness < 100


def test_text_is_kept_as_typed_apart_from_outer_space_line_ends_and_controls(app, sender):
    fields = valid_report() | {
        "event-description": "  第一行\r\n第二行\t制表\x00\x07 😀 <script>alert(1)</script>  ",
        "patient-name": '=HYPERLINK("x")',
        "remarks": "   ",
    }
    report = stored(app, reference_of(sender.send(fields)))
    assert report.event_description == "第一行\n第二行\t制表 😀 <script>alert(1)</script>"
    assert report.patient_name == '=HYPERLINK("x")'
    assert report.remarks is None


def test_an_english_report_remembers_its_language(app, sender):
    response = sender.send(valid_report(), path="/report?lang=en")
    assert stored(app, reference_of(response)).language == "en"


def test_empty_drug_rows_are_ignored(app, sender):
    fields = valid_report() | {
        "drugs-2-role": "concomitant",
        "drugs-2-generic_name": "  ",
        "drugs-2-dose_unit": "",
        "drugs-3-role": "interacting",
        "drugs-3-generic_name": "华法林钠片",
    }
    report = stored(app, reference_of(sender.send(fields)))
    assert [(d.position, d.role) for d in report.drugs] == [
        (0, "suspect"),
        (1, "concomitant"),
        (2, "interacting"),
    ]


def test_a_suspect_drug_may_stand_in_any_row(app, sender):
    fields = valid_report() | {"drugs-0-role": "concomitant", "drugs-1-role": "suspect"}
    report = stored(app, reference_of(sender.send(fields)))
    assert [d.role for d in report.drugs] == ["concomitant", "suspect"]


# Once only: double clicks, resubmits, retries and races.


def test_the_same_form_sent_twice_stores_one_report(app, client):
    sender = ReportSender(client)
    data = {**sender.open(), **valid_report()}
    first = reference_of(client.post("/report", data=data))
    second = reference_of(client.post("/report", data=data))
    assert first == second
    assert report_count(app) == 1


def test_two_concurrent_posts_with_one_token_store_one_report(app):
    client = app.test_client()
    data = {**ReportSender(client).open(), **valid_report()}
    cookie = client.get_cookie("session")
    barrier = threading.Barrier(4)
    references: list[str] = []

    def post() -> None:
        own = app.test_client()
        own.set_cookie("session", cookie.value)
        barrier.wait()
        references.append(reference_of(own.post("/report", data=data)))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(references) == 4 and len(set(references)) == 1
    assert report_count(app) == 1


@pytest.mark.parametrize(
    "token", ["", "short", "x" * 65, "has space in it 1234", "<script>1234567890"]
)
def test_a_missing_or_malformed_token_is_replaced_and_the_report_accepted(app, sender, token):
    reference = reference_of(sender.send(valid_report() | {"submission_token": token}))
    report = stored(app, reference)
    assert report.submission_token != token
    assert 16 <= len(report.submission_token) <= 64


def test_a_colliding_reference_is_drawn_again(app, sender, monkeypatch):
    first = reference_of(sender.send(valid_report()))
    draws = iter([first, first, "ADR-202611-NEW000"])
    monkeypatch.setattr(regulatory, "new_reference", lambda received_at: next(draws))
    assert reference_of(sender.send(valid_report())) == "ADR-202611-NEW000"
    assert report_count(app) == 2


def test_a_filled_honeypot_looks_like_success_and_stores_nothing(app, client, sender):
    response = sender.send(valid_report() | {"website": "http://spam.example"})
    reference = reference_of(response)
    assert client.get(f"/report/submitted/{reference}").status_code == 200
    assert report_count(app) == 0


# CSRF.


def test_a_post_without_a_csrf_token_is_refused_and_stores_nothing(app, client):
    client.get("/report")
    response = client.post("/report", data=valid_report())
    assert response.status_code == 400
    assert report_count(app) == 0


def test_a_post_with_a_forged_csrf_token_gets_the_form_back_and_stores_nothing(app, sender):
    response = sender.send(valid_report() | {"csrf_token": "forged"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "王丽" in page and "阿莫西林胶囊" in page
    assert report_count(app) == 0


def test_an_expired_csrf_token_gets_the_form_back_with_every_value(app, client, monkeypatch):
    sender = ReportSender(client)
    data = {**sender.open(), **valid_report()}
    real_time = time.time
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: real_time() + 9 * 3600)
    response = client.post("/report", data=data)  # nine hours later
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "表单打开时间过长" in page
    for value in (
        "王丽",
        "139 1234 5678",
        "阿莫西林胶囊",
        "20260315A",
        "皮疹、瘙痒",
        "患者自行停药后好转。",
    ):
        assert value in page
    assert 'value="y" checked' in page or "checked" in page
    assert report_count(app) == 0
    fresh = hidden_inputs(page)
    assert reference_of(client.post("/report", data={**data, **fresh}))


# Follow-ups.


def test_a_reference_typed_on_the_public_form_is_a_claim_and_changes_no_case(app, sender):
    """A reference is an identifier, not a credential: staff confirm the claim, or not."""
    first = reference_of(sender.send(valid_report()))
    second = reference_of(sender.send(valid_report() | {"follow_up_of": first.lower()}))
    third = reference_of(sender.send(valid_report() | {"follow_up_of": f"  {second} "}))
    with app.app_context():
        by_reference = {r.reference: r for r in db.session.scalars(sa.select(Report)).all()}
        assert by_reference[second].claimed_follow_up_of == first
        assert by_reference[third].claimed_follow_up_of == second
        assert all(r.follow_up_of_id is None for r in by_reference.values())
        assert len({r.case_id for r in by_reference.values()}) == 3
        assert by_reference[first].case.reports == [by_reference[first]]
        claimed = db.session.scalar(
            sa.select(AuditEntry).where(AuditEntry.action == "follow-up claimed")
        )
        assert claimed.new_value == first


def test_a_follow_up_reference_typed_with_o_for_zero_is_understood(app, sender, monkeypatch):
    monkeypatch.setattr(regulatory, "new_reference", lambda received_at: "ADR-202611-10ABCD")
    first = reference_of(sender.send(valid_report()))
    monkeypatch.undo()
    follow_up = reference_of(sender.send(valid_report() | {"follow_up_of": "adr-202611-loabcd"}))
    assert stored(app, follow_up).claimed_follow_up_of == first


def test_a_well_formed_unknown_reference_is_kept_as_typed_for_staff(app, sender):
    """Whether a reference exists is never said to the public."""
    stored_as = reference_of(sender.send(valid_report() | {"follow_up_of": "ADR-202611-ZZZZZZ"}))
    assert stored(app, stored_as).claimed_follow_up_of == "ADR-202611-ZZZZZZ"


@pytest.mark.parametrize("typed", ["not a reference", "ADR-2026-1"])
def test_an_unknown_follow_up_reference_is_a_field_error(app, sender, typed):
    response = sender.send(valid_report() | {"follow_up_of": typed})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="follow_up_of-error"' in page
    assert typed in page
    assert report_count(app) == 0


def test_the_follow_up_link_fills_in_the_reference(client, sender):
    reference = reference_of(sender.send(valid_report()))
    page = client.get(f"/report?follow_up_of={reference}").get_data(as_text=True)
    assert f'value="{reference}"' in page


# The blank form, served from a per-process cache.


@pytest.mark.parametrize(
    "path",
    [
        "/report",
        "/report?lang=en",
        "/report?drugs=3",
        "/report?lang=en&drugs=20",
        "/report?follow_up_of=adr-202611-7k3qd9",
        "/report?lang=en&drugs=2&follow_up_of=ADR-202611-7K3QD9",
    ],
)
def test_the_cached_blank_form_is_the_page_a_fresh_render_gives(app, path):
    for _ in range(2):  # rendered into the cache, then filled from it
        with app.test_request_context(path):
            rows = request.args.get("drugs", default=1, type=int)
            follow_up_of = request.args.get("follow_up_of", type=regulatory.normalize_reference)
            cached = blank_form_page(rows, follow_up_of)
            token = hidden_inputs(cached)["submission_token"]
            fresh, _status = render_form(ReportForm.blank(rows, follow_up_of, token))
            assert cached == fresh
    assert len(app.extensions[pages.EXTENSION]) == 1


@pytest.mark.parametrize("script_name", ["/elsewhere", "/report", "/p%zz", "x", "/\x00"])
def test_a_request_served_elsewhere_gets_its_own_page_and_leaves_the_cache_alone(
    client, app, script_name
):
    """SCRIPT_NAME comes from the server or a proxy: an odd one is neither an error nor cached.

    The test client writes its own SCRIPT_NAME over `environ_base`; `environ_overrides` wins.
    """
    odd = client.get("/report", environ_overrides={"SCRIPT_NAME": script_name})
    assert odd.status_code == 200
    assert 'action="/report"' not in odd.get_data(as_text=True)  # its links start elsewhere
    assert len(app.extensions.get(pages.EXTENSION, ())) == 0
    page = client.get("/report").get_data(as_text=True)
    assert 'action="/report"' in page and 'href="/static/site.css?v=' in page
    assert len(app.extensions[pages.EXTENSION]) == 1


def test_many_mount_points_and_pages_leave_the_cache_at_its_bound(client, app, monkeypatch):
    rendered = []
    render = pages._render_fillable
    monkeypatch.setattr(
        pages, "_render_fillable", lambda *args: rendered.append(args) or render(*args)
    )
    monkeypatch.setattr(pages, "KEPT_PAGES", 3)
    for number in range(50):
        client.get("/report", environ_overrides={"SCRIPT_NAME": f"/p{number}"})
    assert len(app.extensions.get(pages.EXTENSION, ())) == 0
    for rows in (1, 2, 3, 4, 5, 4, 5, 1):
        assert client.get(f"/report?drugs={rows}").status_code == 200
    assert len(app.extensions[pages.EXTENSION]) == 3
    assert rendered[50:] == [(1, False), (2, False), (3, False), (4, False), (5, False), (1, False)]


def test_without_csrf_protection_the_cached_form_has_no_csrf_field(tmp_path, monkeypatch):
    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    app = create_app(app_config(tmp_path, WTF_CSRF_ENABLED=False))
    page = app.test_client().get("/report").get_data(as_text=True)
    assert set(hidden_inputs(page)) == {"submission_token", "patient-birth_date"}  # no CSRF
    assert not re.search(r"slot[0-9a-f]{32}", page)  # no stand-in left unfilled


def test_every_visitor_gets_tokens_of_their_own(app):
    first, second = (ReportSender(app.test_client()) for _ in range(2))
    opened = [first.open(), second.open(), first.open()]
    assert len({inputs["submission_token"] for inputs in opened}) == 3
    assert opened[0]["csrf_token"] != opened[1]["csrf_token"]
    for sender in (first, second):
        reference_of(sender.send(valid_report()))
    assert report_count(app) == 2


# Drug rows without JavaScript.


def test_drugs_n_renders_that_many_rows(client):
    page = client.get("/report?drugs=3").get_data(as_text=True)
    assert 'name="drugs-2-role"' in page and 'name="drugs-3-role"' not in page
    assert page.count('<option selected value="suspect">') == 1


@pytest.mark.parametrize(("asked", "rows"), [("0", 1), ("-4", 1), ("abc", 1), ("99", 20)])
def test_drugs_n_stays_within_1_to_20(client, asked, rows):
    page = client.get(f"/report?drugs={asked}").get_data(as_text=True)
    assert f'name="drugs-{rows - 1}-role"' in page and f'name="drugs-{rows}-role"' not in page


def test_add_a_drug_keeps_everything_typed_and_shows_no_errors(app, sender):
    fields = {"reporter-name": "王丽", "drugs-0-generic_name": "阿莫西林胶囊", "add_drug": "1"}
    response = sender.send(fields)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'value="王丽"' in page and 'value="阿莫西林胶囊"' in page
    assert 'name="drugs-1-role"' in page
    assert 'role="alert"' not in page and "aria-invalid" not in page
    assert report_count(app) == 0


def test_a_drug_row_can_be_removed_without_script_keeping_the_others(app, sender):
    fields = {
        "drugs-0-role": "suspect",
        "drugs-0-generic_name": "阿莫西林胶囊",
        "drugs-1-role": "concomitant",
        "drugs-1-generic_name": "布洛芬",
        "drugs-2-role": "concomitant",
        "drugs-2-generic_name": "维生素C",
        "remove_drug": "drugs-1",
    }
    page = sender.send(fields).get_data(as_text=True)
    assert "阿莫西林胶囊" in page and "维生素C" in page and "布洛芬" not in page
    assert 'role="alert"' not in page
    valid = valid_report() | {"drugs-1-role": "concomitant", "drugs-1-generic_name": "维生素C"}
    sent = sender.send({**valid, "remove_drug": "drugs-1"}).get_data(as_text=True)
    assert "维生素C" not in sent and report_count(app) == 0
    only = sender.send({"drugs-0-generic_name": "阿莫西林胶囊", "remove_drug": "drugs-0"})
    assert "阿莫西林胶囊" in only.get_data(as_text=True)  # the last row stays


def test_enter_in_a_text_field_sends_the_report_never_adds_a_drug(client):
    """Pressing Enter submits with the form's first submit button: it must be the send button."""
    page = client.get("/report").get_data(as_text=True)
    form = page[page.index("<form") :]
    first_button = re.search(r"<button[^>]*>", form).group(0)
    assert 'type="submit"' in first_button and "name=" not in first_button


def test_required_fields_say_so_to_browsers_and_assistive_technology(client):
    page = client.get("/report").get_data(as_text=True)
    for name in ("event-name", "reporter-phone"):
        tag = re.search(rf'<(input|textarea)[^>]*name="{name}"[^>]*>', page).group(0)
        assert " required" in tag, tag
    assert re.search(r'<input[^>]*required[^>]*name="reporter-kind"', page)
    assert re.search(r'<select[^>]*required[^>]*name="drugs-0-role"', page)
    for prompted in ("event-onset_date", "event-description", "reporter-name", "patient-name"):
        tag = re.search(rf'<(input|textarea)[^>]*name="{prompted}"[^>]*>', page).group(0)
        assert " required" not in tag, tag  # revised 2026-12: asked, never blocking
    assert not re.search(r'<input[^>]*required[^>]*name="event-outcome"', page)
    consent = re.search(r'<input[^>]*name="reporter-consent_privacy"[^>]*>', page).group(0)
    assert " required" in consent
    assert not re.search(r'<input[^>]*required[^>]*name="patient-weight_kg"', page)


def test_the_privacy_notice_link_sits_with_its_checkbox(client):
    page = client.get("/report").get_data(as_text=True)
    cell = page[page.rindex('<div class="cell"', 0, page.index('id="reporter-consent_privacy"')) :]
    cell = cell[: cell.index("</div>")]
    assert 'href="/privacy"' in cell and 'aria-describedby="reporter-consent_privacy-hint"' in cell


def test_the_form_asks_who_reports_first_and_how_to_reach_them_last(client):
    page = client.get("/report").get_data(as_text=True)
    order = [page.index(f'name="{name}"') for name in (
        "reporter-kind", "event-name", "event-causality", "drugs-0-generic_name",
        "patient-name", "reporter-name", "remarks", "reporter-consent_privacy",
    )]  # fmt: skip
    assert order == sorted(order)


def test_a_twenty_first_drug_is_an_error_not_a_silent_drop(app, sender):
    fields = valid_report()
    for row in range(2, 21):
        fields |= {f"drugs-{row}-role": "concomitant", f"drugs-{row}-generic_name": f"药品{row}"}
    response = sender.send(fields)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "药品19" in page  # the twenty rows the form can hold come back
    assert "最多填写 20 种药品" in page
    assert 'href="#drugs-19-generic_name"' in page  # the error leads to a field
    assert report_count(app) == 0


def test_rows_far_past_the_limit_are_refused_from_their_names_alone(app, sender):
    """Thousands of drug rows, or an index too long to read, build no field and break nothing."""
    fields = valid_report() | {f"drugs-{row}-role": "suspect" for row in range(2, 400)}
    fields["drugs-" + "9" * 5000 + "-role"] = "suspect"
    response = sender.send(fields)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "最多填写 20 种药品" in page and 'value="阿莫西林胶囊"' in page
    assert "drugs-20-" not in page and "drugs-399-" not in page
    assert report_count(app) == 0


def test_a_post_of_more_parts_than_any_form_has_is_refused_before_it_is_read(app, sender):
    fields = valid_report() | {f"drugs-{row}-role": "suspect" for row in range(2, 2000)}
    assert sender.send(fields).status_code == 413
    assert report_count(app) == 0


def test_twenty_drug_rows_with_every_field_fit_the_limit_on_parts(app, sender):
    first = {key[len("drugs-0-") :]: value for key, value in valid_report().items()
             if key.startswith("drugs-0-")}  # fmt: skip
    fields = valid_report() | {
        f"drugs-{row}-{name}": value for row in range(20) for name, value in first.items()
    }
    assert len(fields) < app.config["MAX_FORM_PARTS"]
    assert len(stored(app, reference_of(sender.send(fields))).drugs) == 20


def test_twenty_drugs_are_accepted(app, sender):
    fields = valid_report()
    for row in range(2, 20):
        fields |= {f"drugs-{row}-role": "concomitant", f"drugs-{row}-generic_name": f"药品{row}"}
    report = stored(app, reference_of(sender.send(fields)))
    assert len(report.drugs) == 20
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Drug)) == 20


def test_the_add_button_disappears_at_twenty_rows(client):
    page = client.get("/report?drugs=20").get_data(as_text=True)
    assert 'name="add_drug"' not in page


def test_the_rate_limit_gives_the_form_back(app, tmp_path):
    from adr import create_app
    from tests.conftest import app_config

    limited = create_app(
        app_config(tmp_path, RATELIMIT_ENABLED=True, REPORT_RATE_LIMIT="2 per minute")
    )
    client = limited.test_client()
    sender = ReportSender(client)
    statuses = [sender.send({"reporter-name": "王丽"}).status_code for _ in range(3)]
    assert statuses == [422, 422, 429]
    assert "王丽" in sender.send({"reporter-name": "王丽"}).get_data(as_text=True)


def test_a_connection_ended_while_idle_in_the_pool_is_replaced_without_a_ping(
    client, engine, database, monkeypatch
):
    """The server ends the pool's idle connections (a restart, an idle timeout): the next report
    is stored all the same, and no round trip (pool_pre_ping's SELECT 1) checks a connection
    before its use: on PostgreSQL a poll of its socket does (models.configure_postgresql)."""
    from tests.test_mailer import refuse_postgresql_connections

    sender = ReportSender(client)
    assert sender.send(valid_report()).status_code == 303  # the pool keeps its connection
    with client.application.app_context():
        dialect = db.engine.dialect
    pings: list[object] = []
    monkeypatch.setattr(dialect, "do_ping", pings.append)
    if engine == "postgresql":
        refuse_postgresql_connections(database)()  # ended, and let in again at once
    assert sender.send(valid_report()).status_code == 303
    assert report_count(client.application) == 2
    assert pings == []


def test_a_report_sent_while_the_database_is_down_comes_back_whole(
    tmp_path, monkeypatch, engine, database
):
    """A database restart answers 503 with the form as typed; sent again, it is stored once."""
    from tests.test_mailer import hold_sqlite_write_lock, refuse_postgresql_connections

    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    app = create_app(app_config(tmp_path, SQLITE_BUSY_TIMEOUT_MS=200))
    client = app.test_client()
    fields = valid_report() | ReportSender(client).open()
    end = (hold_sqlite_write_lock if engine == "sqlite" else refuse_postgresql_connections)(
        database
    )
    try:
        refused = client.post("/report", data=fields)
    finally:
        end()
    assert refused.status_code == 503
    page = refused.get_data(as_text=True)
    assert "暂时无法保存您的报告" in page
    assert 'value="张某某"' in page and "服药第二天躯干出现红色皮疹" in page
    resent = client.post("/report", data=fields | hidden_inputs(page))
    assert resent.status_code == 303
    assert report_count(app) == 1
    with app.app_context():
        db.engine.dispose()
