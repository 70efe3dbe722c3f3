"""The holder's form on the case page: what staff complete per case, audited; the country of the
reaction and its deadline; what the national system requires and the case lacks."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from adr import cases, meddra, regulatory
from adr.extensions import db
from adr.models import CaseDisease, LabResult, Report
from adr.review.queries import not_ready_soon, utcnow
from tests.meddra_fixture import RASH, write_release
from tests.test_coding import english, entries, page, post, reaction_named
from tests.test_review import ADMIN, REVIEWER, signed_in, staff, submit  # noqa: F401

SERIOUS = {"event-serious": ["hospitalization"]}


def case_of(app, reference: str):
    """Return the case with its rows and reports loaded, detached."""
    with app.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        case = report.case
        for name in ("reports", "diseases", "lab_results", "drug_details", "reactions"):
            getattr(case, name)
        db.session.expunge_all()
        return case


def gaps(client, reference: str) -> list[str]:
    """Return the required items the case page lists as missing, by where each is filled."""
    text = page(client, reference)
    block = text.split('id="national-readiness"', 1)[1].split("</div>", 1)[0]
    return re.findall(r'data-where="([^"]+)"', block)


def ready(client, reference: str) -> bool:
    return 'id="national-ready"' in page(client, reference)


def save(client, reference: str, values: dict[str, object]):
    """Post the holder form as its page sends it: with the stamp of the items it showed."""
    shown = re.search(r'name="stamp" value="(\w+)"', page(client, reference))
    return post(client, f"/staff/reports/{reference}/holder", {**values, "stamp": shown[1]})


def holder_fields(**values: object) -> dict[str, object]:
    return {"patient_nationality": "", "autopsy": "", "pregnancy_outcome": "", **values}


# The readiness list shrinks as staff fill the form, to "ready".


def test_a_serious_case_completed_section_by_section_becomes_ready(staff):  # noqa: F811
    reference = submit(staff, SERIOUS)
    client = signed_in(staff, REVIEWER)
    english(client)
    missing = gaps(client, reference)
    # The suspect's dosage form, and the holder's causality for each of the two reactions.
    assert missing == ["#holder-drug-0", "#pairs", "#pairs"]
    assert "2 required items missing" not in page(client, reference)

    response = post(
        client,
        f"/staff/reports/{reference}/holder/drugs/0",
        {
            "drug": "阿莫西林胶囊",
            "dosage_form": "胶囊剂",
            "strength": "0.25g",
            "expiry_date": "2028-02-29",
            "duration_value": "3",
            "duration_unit": "d",
            "action_taken": "withdrawn",
        },
    )
    assert response.status_code == 303 and response.location.endswith("#holder-drug-0")
    assert gaps(client, reference) == ["#pairs", "#pairs"]

    rash, itch = (reaction_named(staff, reference, term) for term in ("皮疹", "瘙痒"))
    pairs = {f"pair-{r.id}-0-company_causality": "probable" for r in (rash, itch)}
    assert (
        post(
            client, f"/staff/reports/{reference}/judgements", {"drug-0": "阿莫西林胶囊", **pairs}
        ).status_code
        == 303
    )
    assert ready(client, reference)
    text = page(client, reference)
    assert "Ready for the national system" in text and "National system" in text

    case = case_of(staff, reference)
    row = case.drug_details[0]
    assert (row.dosage_form, row.strength, row.expiry_date) == (
        "胶囊剂",
        "0.25g",
        date(2028, 2, 29),
    )
    assert (row.duration_value, row.duration_unit, row.action_taken) == (3, "d", "withdrawn")
    changed = entries(staff, reference, "drug details changed")
    assert {e.field.split(":")[0] for e in changed} == {
        "dosage_form",
        "strength",
        "expiry_date",
        "duration_value",
        "duration_unit",
        "action_taken",
    }
    for typed in ("20280229", "2028-W01-1"):  # YYYY-MM-DD only
        drug = {"drug": "阿莫西林胶囊", "expiry_date": typed}
        response = post(client, f"/staff/reports/{reference}/holder/drugs/0", drug)
        assert response.status_code == 422 and "YYYY-MM-DD" in response.get_data(as_text=True)
    # Emptied again, a value is the reports' once more: the gap comes back.
    post(client, f"/staff/reports/{reference}/holder/drugs/0", {"drug": "阿莫西林胶囊"})
    assert gaps(client, reference) == ["#holder-drug-0"]


def test_a_death_needs_whether_an_autopsy_was_done_and_its_findings(staff):  # noqa: F811
    death = {"event-outcome": "death", "event-death_cause": "过敏性休克"}
    reference = submit(staff, {**death, "event-death_date": "2026-11-23"})
    client = signed_in(staff, REVIEWER)
    assert "#holder-case" in gaps(client, reference)
    save(client, reference, holder_fields(autopsy="yes"))
    assert "#holder-case" in gaps(client, reference)  # the findings
    save(
        client,
        reference,
        holder_fields(autopsy="yes", autopsy_findings="喉头水肿"),
    )
    assert "#holder-case" not in gaps(client, reference)
    case = case_of(staff, reference)
    assert (case.autopsy, case.autopsy_findings) == ("yes", "喉头水肿")


def test_the_dashboard_lists_serious_cases_due_within_3_days_not_ready(staff):  # noqa: F811
    reference = submit(staff, SERIOUS)
    with staff.app_context():  # known 13 days ago: due in 2 days
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        report.aware_on = regulatory.china_today() - timedelta(days=13)
        cases.derive(report.case.reports, report.case)
        db.session.commit()
    client = signed_in(staff, REVIEWER)
    text = client.get("/staff/").get_data(as_text=True)
    assert '<strong id="not-ready-count">1</strong>' in text
    assert f"{reference}</a>" in text and f"{reference}#national-readiness" in text
    general = submit(staff)  # not serious: not counted
    assert general not in client.get("/staff/").get_data(as_text=True)
    with staff.app_context():  # overdue, still not ready: still listed
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        report.aware_on = regulatory.china_today() - timedelta(days=20)
        cases.derive(report.case.reports, report.case)
        db.session.commit()
    assert f"{reference}#national-readiness" in client.get("/staff/").get_data(as_text=True)
    later = [submit(staff, SERIOUS), submit(staff, SERIOUS)]  # due later: in 2 days
    with staff.app_context():
        for known in later:
            report = db.session.scalar(sa.select(Report).where(Report.reference == known))
            report.aware_on = regulatory.china_today() - timedelta(days=13)
            cases.derive(report.case.reports, report.case)
        db.session.commit()
        now = utcnow()  # the soonest listed (the same deadline: newest first), the rest more
        found = not_ready_soon(now, shown=2)
        assert [first.reference for first, _, _ in found.cases] == [reference, later[1]]
        assert found.more and not not_ready_soon(now, shown=3).more


# The case's own items: saved, audited, refused with what was typed kept.


def test_the_holder_items_are_saved_and_each_change_audited(staff):  # noqa: F811
    reference = submit(
        staff,
        {"patient-history": ["pregnancy"], "patient-birth_date": "1996-05-01", "patient-age": "30"},
    )
    client = signed_in(staff, REVIEWER)
    assert 'id="holder-pregnancy" open' in page(client, reference)  # the report says pregnant
    values = holder_fields(
        patient_nationality="CN",
        patient_height_cm="162.5",
        pregnancy_lmp="2026-06-01",
        gestation_exposure_weeks="22",
        gestation_reaction_weeks="23",
        pregnancy_outcome="ongoing",
        pregnancy_detail="孕22周用药",
    )
    response = save(client, reference, values)
    assert response.status_code == 303 and response.location.endswith("#holder-case")
    case = case_of(staff, reference)
    assert (case.patient_nationality, case.patient_height_cm) == ("CN", 162.5)
    assert (case.pregnancy_lmp, case.gestation_exposure_weeks) == (date(2026, 6, 1), 22)
    assert (case.pregnancy_outcome, case.parent_child) == ("ongoing", False)
    changed = {
        (e.field, e.old_value, e.new_value) for e in entries(staff, reference, "holder changed")
    }
    assert ("patient_height_cm", None, "162.5") in changed and len(changed) == 7
    save(client, reference, values)  # again: nothing changes
    assert len(entries(staff, reference, "holder changed")) == 7
    # A parent-child report: the parent described.
    save(
        client,
        reference,
        {
            **values,
            "parent_child": "y",
            "parent_initials": "ZMM",
            "parent_age_years": "31",
            "parent_sex": "female",
        },
    )
    case = case_of(staff, reference)
    assert (case.parent_child, case.parent_initials, case.parent_age_years) == (True, "ZMM", 31)


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("patient_height_cm", "999", "from 10 to 250"),
        ("gestation_exposure_weeks", "50", "from 0 to 45"),
        ("gestation_reaction_weeks", "abc", "whole number"),
        ("pregnancy_lmp", "2026-11-30", "after the reaction started"),
        ("pregnancy_lmp", "2099-01-01", "future"),
        ("patient_nationality", "ZZ", "options shown"),
        ("parent_age_years", "3", "from 8 to 80"),
        ("autopsy_findings", "尸" * 251, "250 characters"),
    ],
)
def test_a_refused_holder_form_says_why_and_keeps_every_value(staff, field, typed, message):  # noqa: F811
    reference = submit(staff)
    client = signed_in(staff, REVIEWER)
    english(client)
    values = {
        **holder_fields(patient_height_cm="160", pregnancy_detail="<b>不要</b>"),
        field: typed,
    }
    response = save(client, reference, values)
    text = response.get_data(as_text=True)
    assert response.status_code == 422 and message in text
    assert 'value="160"' in text or field == "patient_height_cm"
    assert "&lt;b&gt;不要&lt;/b&gt;" in text and "<b>不要</b>" not in text
    assert case_of(staff, reference).patient_height_cm is None  # nothing saved


# Related diseases and lab results as rows.


def test_the_reported_disease_is_the_first_row_and_a_follow_up_adds_a_new_one_once(staff):  # noqa: F811
    reference = submit(staff)
    assert [d.name for d in case_of(staff, reference).diseases] == ["急性支气管炎"]
    client = signed_in(staff, REVIEWER)
    follow_up = {
        **__import__("tests.conftest", fromlist=["x"]).valid_report(),
        "patient-disease": "高血压",
        "case-source": "phone",
        "case-awareness_date": regulatory.china_today().isoformat(),
    }
    response = post(
        client,
        f"/staff/reports/new?follow_up_of={reference}",
        {**follow_up, "follow_up_of": reference},
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    case = case_of(staff, reference)
    assert [d.name for d in case.diseases] == ["急性支气管炎", "高血压"]
    assert [d.report_id for d in case.diseases] == [report.id for report in case.reports]
    none = submit(staff, {"patient-disease": "不详"})
    assert case_of(staff, none).diseases == []


def test_rows_are_added_changed_refused_and_removed_with_their_audit(staff):  # noqa: F811
    reference = submit(staff)
    client = signed_in(staff, REVIEWER)
    english(client)
    path = f"/staff/reports/{reference}/holder"
    alt = {
        "test_name": "ALT",
        "test_date": "2026-11-22",
        "result": "86",
        "unit": "U/L",
        "normal_low": "7",
        "normal_high": "40",
        "more_info": "停药后复查",
    }
    assert post(client, f"{path}/labs", alt).status_code == 303
    assert post(client, f"{path}/labs", {"test_name": "尿蛋白", "result": "2+"}).status_code == 303
    labs = case_of(staff, reference).lab_results
    assert [(r.test_name, r.result_value, r.result_text, r.result) for r in labs] == [
        ("ALT", 86.0, None, "86"),
        ("尿蛋白", None, "2+", "2+"),
    ]
    assert labs[0].normal_high == "40" and labs[0].test_date == date(2026, 11, 22)
    text = page(client, reference)
    assert f'id="labs-{labs[0].id}"' in text and "7–40" in text

    # Refused: no test name, a date in the future; every value typed comes back.
    response = post(
        client, f"{path}/labs/{labs[0].id}", {**alt, "test_name": "", "test_date": "2099-01-01"}
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Name the test." in text and "in the future" in text and 'value="U/L"' in text
    # A comma groups thousands, never a decimal point; what is not a number is kept as text.
    assert post(client, f"{path}/labs/{labs[0].id}", {**alt, "result": "1,500"}).status_code == 303
    assert case_of(staff, reference).lab_results[0].result_value == 1500
    for typed in ("1,5", "1e999999999", "<0.5"):
        assert (
            post(client, f"{path}/labs/{labs[0].id}", {**alt, "result": typed}).status_code == 303
        )
        stored = case_of(staff, reference).lab_results[0]
        assert (stored.result_value, stored.result_text) == (None, typed)

    disease = case_of(staff, reference).diseases[0]
    response = post(
        client,
        f"{path}/diseases/{disease.id}",
        {
            "name": "急性支气管炎",
            "start_date": "2026-11-18",
            "end_date": "2026-11-17",
            "continuing": "yes",
        },
    )
    assert response.status_code == 422 and "The end is before the start" in response.get_data(
        as_text=True
    )
    post(
        client,
        f"{path}/diseases/{disease.id}",
        {"name": "急性支气管炎", "start_date": "2026-11-18", "continuing": "yes"},
    )
    assert case_of(staff, reference).diseases[0].continuing == "yes"
    response = post(client, f"{path}/diseases/{disease.id}", {"remove": "1"})
    assert response.status_code == 422 and "Say why it is removed" in response.get_data(
        as_text=True
    )
    assert (
        post(client, f"{path}/diseases/{disease.id}", {"remove": "1", "reason": "重复"}).status_code
        == 303
    )
    assert case_of(staff, reference).diseases == []
    assert [e.new_value for e in entries(staff, reference, "reason")] == ["重复"]
    removed = entries(staff, reference, "disease removed")
    assert (
        removed[0].old_value.startswith("急性支气管炎; 2026-11-18") and removed[0].new_value is None
    )
    assert [e.action for e in entries(staff, reference, "lab result added")] == [
        "lab result added"
    ] * 2

    # Another case's row, an unknown kind or row: 404.
    other = submit(staff)
    other_lab = f"/staff/reports/{other}/holder/labs/{labs[0].id}"
    assert post(client, other_lab, alt).status_code == 404
    assert post(client, f"{path}/pets", alt).status_code == 404
    assert post(client, f"{path}/labs/99999999999", alt).status_code == 404


def test_a_disease_and_a_lab_test_are_coded_to_meddra(staff, tmp_path):  # noqa: F811
    with staff.app_context():
        meddra.import_release(write_release(tmp_path / "en", "en"), "test")
    reference = submit(staff)
    client = signed_in(staff, REVIEWER)
    english(client)
    post(client, f"/staff/reports/{reference}/holder/labs", {"test_name": "皮试", "result": "阳性"})
    case = case_of(staff, reference)
    disease, lab = case.diseases[0], case.lab_results[0]
    text = page(client, reference)
    assert f'id="coding-diseases-{disease.id}"' in text and f'id="coding-labs-{lab.id}"' in text
    for kind, row in (("diseases", disease), ("labs", lab)):
        path = f"/staff/reports/{reference}/holder/{kind}/{row.id}/coding"
        assert post(client, path, {"llt_code": RASH}).status_code == 303
        response = post(client, path, {"llt_code": "123"})
        assert response.status_code == 422 and "123 is not an LLT" in response.get_data(
            as_text=True
        )
    case = case_of(staff, reference)
    assert case.diseases[0].llt_code == RASH == case.lab_results[0].llt_code
    assert len(entries(staff, reference, "disease coded")) == 1
    assert len(entries(staff, reference, "lab result coded")) == 1


# The country where the reaction happened: a correction, since it moves the deadline.


def test_an_overseas_serious_case_is_due_in_15_days_and_the_change_carries_a_reason(staff):  # noqa: F811
    reference = submit(staff, SERIOUS)
    client = signed_in(staff, REVIEWER)
    english(client)
    path = f"/staff/reports/{reference}/corrections"
    fields = {"report": reference, "field": "occurrence_country", "value": "HK"}
    response = post(client, path, fields)  # no reason
    assert response.status_code == 422 and "Say why" in response.get_data(as_text=True)
    assert post(client, path, {**fields, "reason": "患者在香港用药"}).status_code == 303
    case = case_of(staff, reference)
    report = case.reports[0]
    assert case.occurrence_country == "HK"
    assert report.due_at == regulatory.end_of_china_day(report.day_zero + timedelta(days=15))
    text = page(client, reference)
    assert "an overseas report" in text and "<td>Hong Kong, China</td>" in text
    assert [e.new_value for e in entries(staff, reference, "corrected")] == ["HK"]


@pytest.mark.parametrize(
    ("fields", "days", "investigation"),
    [
        ({}, None, False),  # not serious overseas: the periodic report, no individual deadline
        (
            {
                "event-outcome": "death",
                "event-death_cause": "休克",
                "event-death_date": "2026-11-23",
            },
            15,
            False,
        ),
    ],
)
def test_overseas_deadlines(staff, fields, days, investigation):  # noqa: F811
    reference = submit(staff, fields)
    client = signed_in(staff, REVIEWER)
    post(
        client,
        f"/staff/reports/{reference}/corrections",
        {"report": reference, "field": "occurrence_country", "value": "US", "reason": "美国病例"},
    )
    case = case_of(staff, reference)
    report = case.reports[0]
    due = regulatory.end_of_china_day(report.day_zero + timedelta(days=days)) if days else None
    assert report.due_at == due
    assert (case.investigation_due_at is not None) is investigation
    if days is None:  # said so, not "incomplete"
        assert "纳入定期报告" in page(client, reference)


def test_staff_pages_of_the_holder_form_need_a_signed_in_reviewer(staff, client):  # noqa: F811
    reference = submit(staff)
    for path in ("holder", "holder/labs", "holder/drugs/0"):
        response = client.post(f"/staff/reports/{reference}/{path}", data={})
        assert response.status_code in (302, 400)
    admin = signed_in(staff, ADMIN)
    assert (
        post(
            admin, f"/staff/reports/{reference}/holder/labs", {"test_name": "ALT", "result": "1"}
        ).status_code
        == 303
    )
    with staff.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LabResult)) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseDisease)) == 1


def test_a_report_placing_the_reaction_in_hong_kong_suggests_the_country(staff):  # noqa: F811
    reference = submit(staff, {"event-province": "香港特别行政区", "event-city": "九龙"})
    client = signed_in(staff, REVIEWER)
    text = page(client, reference)
    assert 'id="holder-country-reported"' in text and '<option value="HK" selected>' in text
    assert case_of(staff, reference).occurrence_country is None  # staff decide: a correction
    fields = {"report": reference, "field": "occurrence_country", "value": "HK", "reason": "香港"}
    post(client, f"/staff/reports/{reference}/corrections", fields)
    assert 'id="holder-country-reported"' not in page(client, reference)


def test_a_correction_of_the_reported_disease_reaches_its_row(staff):  # noqa: F811
    reference = submit(staff)
    client = signed_in(staff, REVIEWER)
    path = f"/staff/reports/{reference}/corrections"
    fields = {"report": reference, "field": "patient-disease", "reason": "病历所载"}
    assert post(client, path, {**fields, "value": "社区获得性肺炎"}).status_code == 303
    assert [d.name for d in case_of(staff, reference).diseases] == ["社区获得性肺炎"]
    assert post(client, path, {**fields, "value": ""}).status_code == 303  # emptied: no disease
    assert case_of(staff, reference).diseases == []
    assert post(client, path, {**fields, "value": "高血压"}).status_code == 303
    assert [d.name for d in case_of(staff, reference).diseases] == ["高血压"]


def test_a_pregnancy_ending_with_an_anomaly_asks_for_the_seriousness(staff):  # noqa: F811
    reference = submit(staff)
    client = signed_in(staff, REVIEWER)
    save(client, reference, holder_fields(pregnancy_outcome="ongoing"))
    assert 'id="holder-anomaly"' not in page(client, reference)
    outcome = holder_fields(pregnancy_outcome="live_birth_anomaly")
    save(client, reference, outcome)
    assert 'id="holder-anomaly"' in page(client, reference)
    with_anomaly = submit(staff, {"event-serious": ["congenital_anomaly"]})
    save(client, with_anomaly, outcome)
    assert 'id="holder-anomaly"' not in page(client, with_anomaly)


def test_a_save_from_a_page_another_reviewer_saved_since_is_refused(staff):  # noqa: F811
    reference = submit(staff)
    first, second = signed_in(staff, REVIEWER), signed_in(staff, ADMIN)
    shown = re.search(r'name="stamp" value="(\w+)"', page(second, reference))[1]
    findings = holder_fields(autopsy="yes", autopsy_findings="喉头水肿")
    assert save(first, reference, findings).status_code == 303
    stale = {**holder_fields(patient_height_cm="160"), "stamp": shown}
    response = post(second, f"/staff/reports/{reference}/holder", stale)
    text = response.get_data(as_text=True)
    assert response.status_code == 409 and 'id="holder-conflict"' in text and 'value="160"' in text
    case = case_of(staff, reference)
    assert (case.autopsy_findings, case.patient_height_cm) == ("喉头水肿", None)


def test_an_overseas_country_for_a_reaction_placed_in_the_mainland_is_flagged(staff):  # noqa: F811
    reference = submit(staff, {"event-province": "陕西省", "event-city": "榆林市"})
    client = signed_in(staff, REVIEWER)
    assert 'id="holder-country-disagrees"' not in page(client, reference)
    fields = {"report": reference, "field": "occurrence_country", "value": "TW", "reason": "误选"}
    post(client, f"/staff/reports/{reference}/corrections", fields)
    text = page(client, reference)
    assert 'id="holder-country-disagrees"' in text and "陕西省 榆林市" in text
    hong_kong = submit(staff, {"event-province": "中国香港", "event-city": ""})
    assert '<option value="HK" selected>' in page(client, hong_kong)
