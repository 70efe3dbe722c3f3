"""E2B(R3) files: built, checked against the ICH schemas and rules, kept, downloaded, read back.

The round trip reads every file with the XPath of ../shared/e2b-r3/mapping.md (written here
again, not taken from the builder) and compares each value with the database.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from lxml import etree

from adr import cases, create_app, demo, meddra, reactions, regulatory, vocab
from adr.cases import holder
from adr.extensions import db
from adr.models import (
    AuditEntry,
    Case,
    CaseDisease,
    CaseDrug,
    LabResult,
    Report,
    Submission,
    TermCoding,
    write_transaction,
)
from adr.regulator import e2b
from tests import meddra_fixture
from tests.conftest import (
    COMPANY,
    app_config,
    hidden_inputs,
    reference_of,
    send_report,
    valid_report,
)
from tests.test_review import ADMIN, REVIEWER, csrf, signed_in

IDS = {"E2B_SENDER_ID": "TN-SENDER-01", "E2B_RECEIVER_ID": "CN-NMPA-CDR", "MAH_ID": "TN0001"}
H = {"h": "urn:hl7-org:v3", "xsi": "http://www.w3.org/2001/XMLSchema-instance"}
CL19 = "2.16.840.1.113883.3.989.2.1.1.19"
CODES = meddra_fixture.DEMO_CODES


@pytest.fixture
def app(tmp_path, monkeypatch):
    yield from e2b_app(tmp_path, monkeypatch)


def e2b_app(tmp_path, monkeypatch):
    """Yield an app with the E2B identifiers set, two staff and the fixture's MedDRA release."""
    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    app = create_app(app_config(tmp_path, **IDS))
    with app.app_context():
        from adr import accounts

        accounts.create_user(REVIEWER, "审核员", "reviewer", "correct horse battery", "test")
        accounts.create_user(ADMIN, "管理员", "admin", "correct horse battery", "test")
        meddra.import_release(meddra_fixture.write_release(tmp_path / "meddra", "zh"), "test")
    yield app
    with app.app_context():
        db.engine.dispose()


def submit(app, **fields) -> str:
    return reference_of(send_report(app, valid_report() | fields))


def case_of(reference: str) -> Case:
    report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
    return report.case


def code_reactions(case: Case, version: str = meddra_fixture.VERSION) -> None:
    """Code each reaction of the case to the fixture's LLT of its term (皮疹 → Rash), and give
    the company's causality where staff have not yet."""
    with write_transaction():
        case.company_causality = case.company_causality or "possible"
        for reaction in case.reactions:
            reaction.meddra_version = version
            reaction.llt_code = CODES.get(reaction.reported_term, meddra_fixture.RASH)
            reaction.coded_by = "test"


def ready(app, **fields) -> str:
    """Return the reference of a report whose case is coded, ready for a file."""
    reference = submit(app, **fields)
    with app.app_context():
        code_reactions(case_of(reference))
    return reference


def holder_patient(case: Case) -> None:
    """The holder's form, the patient: nationality and height."""
    with write_transaction():
        case.patient_nationality = "CN"
        case.patient_height_cm = 158.4


def holder_diseases(case: Case) -> None:
    """Related diseases: the report's 原患疾病 dated (not coded), and 高血压 coded."""
    with write_transaction() as session:
        for row in case.diseases:
            row.start_date, row.continuing = date(2026, 11, 18), "unknown"
        session.add(
            CaseDisease(
                case_id=case.id,
                position=len(case.diseases) + 1,
                name="高血压",
                meddra_version=meddra_fixture.VERSION,
                llt_code=meddra_fixture.HYPERTENSION,
                start_date=date(2015, 3, 1),
                continuing="yes",
                note="服用硝苯地平控制良好",
            )
        )
    db.session.expire(case)


def holder_lab_results(case: Case) -> None:
    """Two lab results: a number with its unit and range, coded; a text with a text range."""
    with write_transaction() as session:
        session.add_all(
            [
                LabResult(
                    case_id=case.id,
                    position=1,
                    test_name="丙氨酸氨基转移酶",
                    meddra_version=meddra_fixture.VERSION,
                    llt_code=84000006,
                    test_date=date(2026, 11, 22),
                    result_value=56.0,
                    unit="U/L",
                    normal_low="9",
                    normal_high="50",
                    more_info="停药一周后复查降至正常",
                ),
                LabResult(
                    case_id=case.id,
                    position=2,
                    test_name="尿蛋白",
                    result_text="阳性(+)",
                    normal_low="阴性",
                ),
            ]
        )
    db.session.expire(case)


def holder_drugs(case: Case) -> None:
    """The suspect's and the concomitant drug's dosage form, strength, expiry, duration, action."""
    suspect, concomitant = case.first_report.drugs[:2]
    with write_transaction() as session:
        session.add_all(
            [
                CaseDrug(
                    case_id=case.id,
                    drug_key=reactions.drug_key(suspect),
                    dosage_form="胶囊剂",
                    strength="0.25g",
                    expiry_date=date(2027, 6, 30),
                    duration_value=3,
                    duration_unit="d",
                    action_taken="withdrawn",
                ),
                CaseDrug(
                    case_id=case.id,
                    drug_key=reactions.drug_key(concomitant),
                    dosage_form="片剂",
                    strength="30mg",
                    action_taken="not_changed",
                ),
            ]
        )
    db.session.expire(case)


HOLDER_SECTIONS = (holder_patient, holder_diseases, holder_lab_results, holder_drugs)


def complete_holder_form(case: Case) -> None:
    """Complete the holder's form of a case from valid_report() as staff do, every section."""
    for section in HOLDER_SECTIONS:
        section(case)


def parse(xml: bytes | str):
    data = xml.encode() if isinstance(xml, str) else xml
    return etree.fromstring(data)


def one(document, path: str) -> str:
    found = document.xpath(path, namespaces=H)
    assert len(found) == 1, (path, found)
    return str(found[0])


def test_a_coded_case_gives_a_file_the_schemas_and_rules_accept(app):
    reference = ready(app)
    with app.app_context():
        built = e2b.build(case_of(reference))
    assert e2b.check(built.xml) == []
    document = parse(built.xml)
    assert one(
        document,
        "/h:MCCI_IN200100UV01/h:PORR_IN049016UV/h:controlActProcess/h:subject"
        "/h:investigationEvent/h:id[@root='2.16.840.1.113883.3.989.2.1.3.1']/@extension",
    ) == (f"CN-TN0001-{reference}")


def test_the_case_page_lists_the_problems_and_the_download_keeps_the_file(app):
    reference = submit(app)
    client = signed_in(app, REVIEWER)
    page = client.get(f"/staff/reports/{reference}").get_data(as_text=True)
    assert 'id="e2b-problems"' in page and 'data-where="#reactions"' in page
    token = csrf(client)
    response = client.post(
        f"/staff/reports/{reference}/e2b", data={"csrf_token": token, "kind": "report"}
    )
    assert response.status_code == 409
    assert 'data-where="#reactions"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 0
        code_reactions(case_of(reference))
    response = client.post(
        f"/staff/reports/{reference}/e2b", data={"csrf_token": token, "kind": "report"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:3000]
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename=CN-TN0001-{reference}-v1.xml"
    )
    assert e2b.check(response.data) == []
    page = client.get(f"/staff/reports/{reference}").get_data(as_text=True)
    assert 'id="e2b-submissions"' in page and 'id="e2b-correction"' in page


def problem_places(app, reference: str, kind: str = "report", reason: str | None = None):
    with app.app_context():
        return {problem.where for problem in e2b.problems(case_of(reference), kind, reason)}


def test_each_problem_is_reported_with_where_to_fix_it(app):
    reference = submit(app, **{"reporter-name": "王" * 80})
    assert problem_places(app, reference) == {"#reactions", "#assessment", "follow-up"}
    with app.app_context():
        case = case_of(reference)
        code_reactions(case)
        with write_transaction():
            case.reactions[0].llt_code = meddra_fixture.NOT_CURRENT
            case.reactions[1].meddra_version = "99.0"
        texts = [problem.text for problem in e2b.problems(case)]
    assert len([text for text in texts if "NOT_CURRENT" in text or "84000004" in text]) == 1
    assert any("99.0" in text for text in texts)
    app.config.update(MAH_ID=None, E2B_SENDER_ID="", E2B_PATIENT_NAME="full")
    places = problem_places(app, reference)
    assert {"MAH_ID", "E2B_SENDER_ID", "E2B_PATIENT_NAME", "#reactions", "follow-up"} <= places
    app.config.update(IDS, E2B_PATIENT_NAME="initials")
    with app.app_context():
        case = case_of(reference)
        code_reactions(case)
        with write_transaction():
            case.first_report.reporter_name = "王丽"
            case.status = "invalid"
    assert problem_places(app, reference) == {"#assessment"}
    assert problem_places(app, reference, "nullification", "重复录入") == {"#e2b"}  # none sent
    with app.app_context():
        case = case_of(reference)
        with write_transaction():
            case.status = "in_review"
            for drug in case.first_report.drugs:
                drug.role = "concomitant"
            for reaction in case.reactions:
                db.session.delete(reaction)
        texts = [problem.text for problem in e2b.problems(case_of(reference))]
    assert len(texts) == 3  # not valid (no suspect drug), no suspect drug, no reaction


def test_the_command_writes_nothing_and_exits_1_on_problems_then_writes_the_file(app, tmp_path):
    reference = submit(app)
    runner = app.test_cli_runner()
    output = tmp_path / "case.xml"
    typed = " " + reference.lower().replace("-", "- ", 1)
    result = runner.invoke(args=["e2b", typed, "-o", str(output)])
    assert result.exit_code == 1
    assert not output.exists()
    assert "#reactions" in result.output and "#assessment" in result.output
    assert result.output.count("\n- ") == 4  # 2 reactions not coded, nor judged by the company
    with app.app_context():
        code_reactions(case_of(reference))
    result = runner.invoke(args=["e2b", typed, "-o", str(output)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        kept = db.session.scalars(sa.select(Submission)).one()
        assert kept.message_id in result.output and "version 1" in result.output
        assert output.read_bytes().decode() == kept.xml
        assert kept.created_by == "adr e2b"
    result = runner.invoke(args=["e2b", reference, "-o", str(output), "--kind", "amendment"])
    assert result.exit_code == 1 and "#e2b" in result.output


def test_a_follow_up_gives_version_2_with_the_same_case_id_and_later_information(app, tmp_path):
    reference = ready(app)
    with app.app_context():
        first = case_of(reference).first_report
        with write_transaction():
            first.aware_on = first.aware_on - timedelta(days=5)
        with write_transaction() as session:
            e2b.submit(session, case_of(reference), "test")
    follow_up = submit(app, follow_up_of=reference, **{"event-name": "皮疹、发热"})
    with app.app_context():
        case = case_of(reference)
        assert [r.reference for r in case.reports] == [reference, follow_up]
        code_reactions(case)
        with write_transaction() as session:
            second = e2b.submit(session, case, "test")
        one_, two = case.submissions
        assert (one_.version, two.version, two.latest_report_id) == (1, 2, case.reports[1].id)
        first_file, second_file = parse(one_.xml), parse(two.xml)
        c11 = IE + "/h:id[@root='2.16.840.1.113883.3.989.2.1.3.1']/@extension"
        assert one(first_file, c11) == one(second_file, c11) == f"CN-TN0001-{reference}"
        assert one(first_file, IE + "/h:availabilityTime/@value") < one(
            second_file, IE + "/h:availabilityTime/@value"
        )
        assert one(second_file, IE + "/h:effectiveTime/h:low/@value") == one(
            first_file, IE + "/h:effectiveTime/h:low/@value"
        )
        assert len(second_file.xpath(RX, namespaces=H)) == 3  # 皮疹, 瘙痒, then 发热
        assert second.message_id != one_.message_id


def test_amendment_and_nullification_need_a_sent_report_and_a_reason(app):
    reference = ready(app)
    client = signed_in(app, REVIEWER)
    token = csrf(client)
    post = lambda **data: client.post(  # noqa: E731
        f"/staff/reports/{reference}/e2b", data={"csrf_token": token, **data}
    )
    assert post(kind="amendment", reason="剂量更正").status_code == 409
    assert post(kind="report").status_code == 200
    assert post(kind="amendment").status_code == 409
    assert post(kind="amendment", reason="x" * 201).status_code == 409
    assert post(kind="bogus").status_code == 400
    amended = post(kind="amendment", reason="剂量更正 <&>")
    assert amended.status_code == 200
    assert amended.headers["Content-Disposition"].endswith(f"{reference}-v1-amendment.xml")
    document = parse(amended.data)
    correction = IE + "/h:subjectOf2/h:investigationCharacteristic"
    assert one(document, correction + "[h:code/@code='3']/h:value/@code") == "2"
    assert one(document, correction + "[h:code/@code='4']/h:value/h:originalText/text()") == (
        "剂量更正 <&>"
    )
    with app.app_context(), write_transaction():
        case_of(reference).status = "duplicate"
    assert post(kind="amendment", reason="更正").status_code == 409
    nullified = post(kind="nullification", reason="重复报告")
    assert nullified.status_code == 200
    assert one(parse(nullified.data), correction + "[h:code/@code='3']/h:value/@code") == "1"
    with app.app_context():
        kinds = [s.kind for s in db.session.scalars(sa.select(Submission).order_by(Submission.id))]
        assert kinds == ["report", "amendment", "nullification"]
        generated = [
            entry.new_value
            for entry in db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id))
            if entry.action == "E2B generated"
        ]
        assert len(generated) == 3
        assert generated[1].endswith(": 剂量更正 <&>") and generated[2].endswith(": 重复报告")


def test_the_download_needs_staff_and_a_csrf_token_and_a_kept_file_downloads_again(app):
    reference = ready(app)
    anonymous = app.test_client()
    response = anonymous.post(
        f"/staff/reports/{reference}/e2b", data={"kind": "report", "csrf_token": csrf(anonymous)}
    )
    assert response.status_code == 302
    client = signed_in(app, ADMIN)
    assert (
        client.post(f"/staff/reports/{reference}/e2b", data={"kind": "report"}).status_code == 400
    )
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 0
    made = client.post(
        f"/staff/reports/{reference}/e2b", data={"kind": "report", "csrf_token": csrf(client)}
    )
    with app.app_context():
        kept = db.session.scalars(sa.select(Submission)).one()
    assert anonymous.get(f"/staff/submissions/{kept.id}.xml").status_code == 302
    again = client.get(f"/staff/submissions/{kept.id}.xml")
    assert again.status_code == 200 and again.data == made.data
    assert again.headers["Cache-Control"] == "no-store"
    assert client.get(f"/staff/submissions/{kept.id + 1}.xml").status_code == 404
    assert client.get(f"/staff/submissions/{10**30}.xml").status_code == 404


def test_privacy_initials_by_default_no_patient_phone_unless_configured(app):
    reference = ready(app, **{"patient-name": "王晓明"})
    with app.app_context():
        document = parse(e2b.build(case_of(reference)).xml)
        text = etree.tostring(document, encoding="unicode")
        assert one(document, PR + "/h:player1/h:name/text()") == "WXM"
        assert "王晓明" not in text and "5647197" not in text
        app.config.update(E2B_PATIENT_PHONE=True, E2B_PATIENT_NAME="name")
        text = e2b.build(case_of(reference)).xml.decode()
        assert "0912-5647197" in text and "<name>王晓明</name>" in text
        app.config.update(E2B_PATIENT_NAME="masked")
        document = parse(e2b.build(case_of(reference)).xml)
        assert one(document, PR + "/h:player1/h:name/@nullFlavor") == "MSK"
        assert not document.xpath(PR + "/h:player1/h:asIdentifiedEntity", namespaces=H)


def test_unverified_regional_elements_only_when_the_setting_is_on(app):
    reference = ready(app)
    with app.app_context():
        on = parse(e2b.build(case_of(reference)).xml)
        app.config["E2B_UNVERIFIED_REGIONAL"] = False
        off = parse(e2b.build(case_of(reference)).xml)
    cn = "//h:code[starts-with(@code, 'CN-')]/@code"
    assert set(on.xpath(cn, namespaces=H)) == {
        "CN-6",
        "CN-11",
        "CN-12",
        "CN-1",
        "CN-3",
        "CN-7",
        "CN-15",
        "CN-16",
        "CN-5",
    }
    assert set(off.xpath(cn, namespaces=H)) == {"CN-6", "CN-11", "CN-12"}
    assert one(on, IE + "/h:component/h:observationEvent[h:code/@code='CN-12']/h:value/@code") == (
        "TN0001"
    )


HOSTILE = "<script>alert('x')</script> & \"quoted\" 💊\x01\x1f 皮疹]]>"


def test_hostile_text_builds_a_valid_file(app):
    description = ("严重皮疹 <b>&amp; \"引号\" 'x' 😷 " * 200)[:4999] + "。"
    reference = ready(
        app,
        **{
            "event-description": description,
            "remarks": HOSTILE,
            "drugs-0-frequency": "<每日>3次&",
            "drugs-0-indication": "支气管炎 & <咳嗽>",
        },
    )
    with app.app_context():
        case = case_of(reference)
        with write_transaction():
            case.first_report.remarks = HOSTILE  # as stored by anything but the form
            case.reactions[0].reported_term = "皮疹😷<&>\x0b"
        built = e2b.build(case)
    document = parse(built.xml)
    assert len(description) == 5000
    told = one(document, IE + "/h:text/text()")
    assert told.startswith("【首次报告 ") and told.split("】", 1)[1].startswith(description)
    assert one(document, AEA + "/h:component1/h:observationEvent/h:value/text()") == (
        "<script>alert('x')</script> & \"quoted\" 💊 皮疹]]>"
    )
    assert document.xpath(RX + "/h:value/h:originalText/text()", namespaces=H)[0] == "皮疹😷<&>"


def test_the_business_rules_catch_what_the_schema_lets_through(app):
    reference = ready(app)
    with app.app_context():
        built = e2b.build(case_of(reference))
    assert e2b.check(built.xml) == []
    document = parse(built.xml)
    document.xpath(
        RX + "[1]/h:outboundRelationship2/h:observation[h:code/@code='27']/h:value", namespaces=H
    )[0].set("code", "9")
    document.xpath(
        RX + "[1]/h:outboundRelationship2/h:observation[h:code/@code='34']/h:value", namespaces=H
    )[0].attrib.update({"value": "false"})
    ref = document.xpath(AEA + "/h:component/h:causalityAssessment/h:subject2//h:id", namespaces=H)
    ref[0].set("root", "00000000-0000-0000-0000-000000000000")
    errors = e2b.check(etree.tostring(document))
    assert any(error.startswith("E.i.7") for error in errors)
    assert any("E.i.3.2 (34)" in error for error in errors)
    assert any("points at no drug" in error for error in errors)
    assert e2b.check(built.xml.replace(b"<statusCode", b"<bogus/><statusCode"))[0].startswith("XSD")


# The round trip: every file read back with mapping.md's XPath, each value against the database.

B = "/h:MCCI_IN200100UV01"
IE = B + "/h:PORR_IN049016UV/h:controlActProcess/h:subject/h:investigationEvent"
AEA = IE + "/h:component/h:adverseEventAssessment"
PR = AEA + "/h:subject1/h:primaryRole"
RX = PR + "/h:subjectOf2/h:observation[h:code/@code='29']"
DRG = PR + "/h:subjectOf2/h:organizer[h:code/@code='4']/h:component/h:substanceAdministration"
OUTCOMES = {
    "unknown": "0",
    "recovered": "1",
    "improving": "2",
    "not_recovered": "3",
    "sequelae": "4",
    "death": "5",
}
SERIOUS = {
    "death": "34",
    "life_threatening": "21",
    "hospitalization": "33",
    "disability": "35",
    "congenital_anomaly": "12",
    "other_important": "26",
}
ROLES = {"suspect": "1", "concomitant": "2", "interacting": "3"}
XML_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def xml_text(text) -> str:
    return XML_TEXT.sub("", text or "")


def ymd(value: date) -> str:
    return f"{value:%Y%m%d}"


def mentions_of(case: Case, drug) -> list[dict]:
    """Return the distinct mentions of a drug (role and name) across the reports, in order."""
    fields = (
        "batch_number",
        "start_date",
        "end_date",
        "dose",
        "dose_unit",
        "route",
        "frequency",
        "expiry_date",
    )
    found: list[dict] = []
    for report in case.reports:
        for mention in report.drugs:
            if (mention.role, reactions.drug_key(mention)) != (drug.role, reactions.drug_key(drug)):
                continue
            values = {name: getattr(mention, name) or None for name in fields}
            if mention.dose == 0:
                values["dose"] = 0.0
            if any(value is not None for value in values.values()) and values not in found:
                found.append(values)
    return found or [{name: getattr(drug, name) for name in fields}]


def compare_with_database(document, case: Case) -> int:
    """Check each mapped value of a file against the case; return how many were compared."""
    compared = 0

    def same(path: str, expected) -> None:
        nonlocal compared
        assert one(document, path) == expected, path
        compared += 1

    first, latest = case.reports[0], case.reports[-1]
    view = cases.current_view(case.reports)
    same(
        IE + "/h:id[@root='2.16.840.1.113883.3.989.2.1.3.1']/@extension",
        f"CN-TN0001-{first.reference}",
    )
    same(
        IE + "/h:id[@root='2.16.840.1.113883.3.989.2.1.3.2']/@extension",
        f"CN-TN0001-{first.reference}",
    )
    same(
        B + "/h:sender/h:device/h:id[@root='2.16.840.1.113883.3.989.2.1.3.13']/@extension",
        "TN-SENDER-01",
    )
    same(
        B + "/h:receiver/h:device/h:id[@root='2.16.840.1.113883.3.989.2.1.3.14']/@extension",
        "CN-NMPA-CDR",
    )
    same(IE + "/h:effectiveTime/h:low/@value", ymd(first.aware_on))
    same(IE + "/h:availabilityTime/@value", ymd(latest.aware_on))
    same(IE + "/h:subjectOf2/h:investigationCharacteristic[h:code/@code='1']/h:value/@code", "1")
    same(
        IE + f"/h:component/h:observationEvent[h:code/@code='23' and h:code/@codeSystem='{CL19}']"
        "/h:value/@value",
        "true" if case.report_category != "general" else "false",
    )
    same(IE + "/h:subjectOf1/h:controlActEvent/h:author/h:assignedEntity/h:code/@code", "1")
    same(
        IE + "/h:subjectOf1//h:representedOrganization/h:assignedEntity/h:representedOrganization"
        "/h:name/text()",
        COMPANY,
    )
    narrative = one(document, IE + "/h:text/text()")
    kinds = ["首次报告"] + ["跟踪报告"] * (len(case.reports) - 1)
    told = [
        f"【{kind} {report.aware_on.isoformat()}】{xml_text(report.event_description)}"
        for kind, report in zip(kinds, case.reports, strict=True)
        if report.event_description
    ]
    assert narrative.startswith("\n".join(told)), (narrative[:200], told)
    compared += len(told)
    if view.remarks:
        same(
            AEA + "/h:component1/h:observationEvent[h:code/@code='10']/h:value/text()",
            xml_text(view.remarks),
        )
    source = IE + "/h:outboundRelationship[h:relatedInvestigation/h:code/@code='2']"
    same(source + "/h:priorityNumber/@value", "1")
    qualification = {"physician": "1", "pharmacist": "2", "nurse": "3", "other_hcp": "3"}
    same(
        source + "//h:assignedPerson/h:asQualifiedEntity/h:code/@code",
        qualification.get(view.reporter_kind, "5"),
    )
    if regulatory.identifies(view.reporter_name) and view.reporter_kind != "patient":
        same(source + "//h:assignedPerson/h:name/h:family/text()", xml_text(view.reporter_name))
    if view.reporter_organization:
        same(
            source
            + "//h:representedOrganization/h:assignedEntity/h:representedOrganization"
            + "/h:name/text()",
            xml_text(view.reporter_organization),
        )
    # D: the patient.
    name = document.xpath(PR + "/h:player1/h:name/text()", namespaces=H)
    assert not name or re.fullmatch("[A-Z]{1,10}", name[0]), name
    if view.patient_name and len(view.patient_name) > 1:
        assert view.patient_name not in etree.tostring(document, encoding="unicode")
    sex = {"male": "1", "female": "2"}.get(view.patient_sex)
    if sex:
        same(PR + "/h:player1/h:administrativeGenderCode/@code", sex)
    else:
        same(PR + "/h:player1/h:administrativeGenderCode/@nullFlavor", "UNK")
    foetus = case.parent_child and case.gestation_reaction_weeks is not None
    if view.patient_birth_date and not foetus:
        same(PR + "/h:player1/h:birthTime/@value", ymd(view.patient_birth_date))
    if view.patient_age is not None and not foetus:
        same(
            PR
            + f"/h:subjectOf2/h:observation[h:code/@code='3' and h:code/@codeSystem='{CL19}']"
            + "/h:value/@value",
            str(view.patient_age),
        )
        same(
            PR + "/h:subjectOf2/h:observation[h:code/@code='3']/h:value/@unit",
            {"year": "a", "month": "mo", "day": "d"}[view.patient_age_unit],
        )
    if view.patient_weight_kg:
        weight = one(
            document,
            PR + "/h:subjectOf2/h:observation[h:code/@code='7']/h:value[@unit='kg']/@value",
        )
        assert float(weight) == pytest.approx(view.patient_weight_kg)
    if view.event_death_date:
        same(PR + "/h:player1/h:deceasedTime/@value", ymd(view.event_death_date))
    if view.event_death_cause:
        same(
            PR + "/h:subjectOf2/h:observation[h:code/@code='32']/h:value/h:originalText/text()",
            xml_text(view.event_death_cause),
        )
    compared += compare_holder_form(document, case, view)
    # E.i: one per reaction, in order.
    found = document.xpath(RX, namespaces=H)
    sent = [reaction for reaction in case.reactions if reaction.excluded_reason is None]
    assert len(found) == len(sent)
    ids = {}
    for element, reaction in zip(found, sent, strict=True):
        facts = reactions.reaction_facts(reaction, case, view)
        ids[element.xpath("h:id/@root", namespaces=H)[0]] = reaction
        value = element.xpath("h:value", namespaces=H)[0]
        assert value.get("code") == str(reaction.llt_code)
        assert value.get("codeSystemVersion") == reaction.meddra_version
        assert value.get("codeSystem") == "2.16.840.1.113883.6.163"
        original = value.xpath("h:originalText", namespaces=H)[0]
        assert (original.text, original.get("language")) == (
            xml_text(reaction.reported_term),
            reaction.language,
        )
        outcome = element.xpath(
            "h:outboundRelationship2/h:observation[h:code/@code='27']/h:value/@code", namespaces=H
        )
        assert outcome == [OUTCOMES[facts.outcome or "unknown"]]
        ticked = set(facts.serious) | ({"death"} if facts.outcome == "death" else set())
        for criterion, obs_code in SERIOUS.items():
            bl = element.xpath(
                f"h:outboundRelationship2/h:observation[h:code/@code='{obs_code}']/h:value",
                namespaces=H,
            )[0]
            assert (bl.get("value"), bl.get("nullFlavor")) == (
                ("true", None) if criterion in ticked else (None, "NI")
            )
        if facts.onset_date:
            assert element.xpath("h:effectiveTime/h:low/@value", namespaces=H) == [
                ymd(facts.onset_date)
            ]
        assert element.xpath(
            "h:location/h:locatedEntity/h:locatedPlace/h:code/@code", namespaces=H
        ) == [case.occurrence_country or "CN"]
        compared += 5
    # G.k: one per drug of the current view, in order, with its role.
    drugs = document.xpath(DRG, namespaces=H)
    assert len(drugs) == len(view.drugs)
    drug_ids = {}
    for element, drug in zip(drugs, view.drugs, strict=True):
        drug_id = element.xpath("h:id/@root", namespaces=H)[0]
        drug_ids[drug_id] = drug
        assert element.xpath(
            "h:consumable/h:instanceOfKind/h:kindOfProduct/h:name/text()", namespaces=H
        ) == [xml_text(drug.brand_name or drug.generic_name)]
        role = document.xpath(
            AEA + f"/h:component/h:causalityAssessment[h:code/@code='20']"
            f"[h:subject2/h:productUseReference/h:id/@root='{drug_id}']/h:value/@code",
            namespaces=H,
        )
        assert role == [ROLES[drug.role]]
        dosage = "h:outboundRelationship2[@typeCode='COMP']/h:substanceAdministration"
        mentions = mentions_of(case, drug)
        rows = element.xpath(dosage, namespaces=H)
        assert len(rows) == len(mentions)
        for row, mention in zip(rows, mentions, strict=True):
            assert row.xpath(
                "h:consumable/h:instanceOfKind/h:productInstanceInstance/h:lotNumberText/text()",
                namespaces=H,
            ) == ([mention["batch_number"]] if mention["batch_number"] else [])
            assert row.xpath("h:effectiveTime//h:low/@value", namespaces=H) == (
                [ymd(mention["start_date"])] if mention["start_date"] else []
            )
            assert row.xpath("h:effectiveTime//h:high/@value", namespaces=H) == (
                [ymd(mention["end_date"])] if mention["end_date"] else []
            )
            if mention["dose"] is not None and mention["dose_unit"]:
                dose = row.xpath("h:doseQuantity/@value", namespaces=H)[0]
                assert float(dose) == pytest.approx(mention["dose"])
            compared += 3
        assert element.xpath(
            ".//h:approval/h:id[@root='2.16.840.1.113883.3.989.2.1.3.4']/@extension", namespaces=H
        ) == ([drug.approval_number] if drug.approval_number else [])
        if drug.indication:
            assert element.xpath(
                "h:inboundRelationship[@typeCode='RSON']/h:observation[h:code/@code='19']"
                "/h:value/h:originalText/text()",
                namespaces=H,
            ) == [xml_text(drug.indication)]
        action = element.xpath(
            "h:inboundRelationship[@typeCode='CAUS']/h:act/h:code/@code", namespaces=H
        )
        # Staff's action; else 4 (dose not changed) when the reporter said the drug was neither
        # stopped nor reduced; else 0 (unknown): nothing is guessed from the dates.
        own = holder.drug_row(case, drug)
        if own is not None and own.action_taken:
            assert action == [ACTIONS[own.action_taken]]
        elif view.event_dechallenge == "not_applicable":
            assert action == ["4"]
        else:
            assert action == ["0"]
        if drug.role in ("suspect", "interacting"):
            for reaction_id_, reaction in ids.items():
                pair = reactions.pair_facts(reaction, drug, case, view)
                rechallenge = element.xpath(
                    f"h:outboundRelationship2/h:observation[h:code/@code='31'][h:outboundRelationship1"
                    f"/h:actReference/h:id/@root='{reaction_id_}']/h:value/@code",
                    namespaces=H,
                )
                assert rechallenge == (
                    [{"yes": "1", "no": "2", "not_applicable": "4"}[pair.rechallenge]]
                    if pair.rechallenge in ("yes", "no", "not_applicable")
                    else []  # 不明: omitted
                )
                judged = document.xpath(
                    AEA + f"/h:component/h:causalityAssessment[h:code/@code='39']"
                    f"[h:subject1/h:adverseEffectReference/h:id/@root='{reaction_id_}']"
                    f"[h:subject2/h:productUseReference/h:id/@root='{drug_id}']",
                    namespaces=H,
                )
                expected = {
                    (source, vocab.label(vocab.CAUSALITY, value, "zh"))
                    for source, value in (
                        ("报告人", pair.reporter_causality),
                        ("上市许可持有人", pair.company_causality),
                    )
                    if value
                }
                assert {
                    (
                        ca.xpath(
                            "h:author/h:assignedEntity/h:code/h:originalText/text()", namespaces=H
                        )[0],
                        ca.xpath("h:value/text()", namespaces=H)[0],
                    )
                    for ca in judged
                } == expected
                compared += 2
        compared += 4
    return compared


# The holder's form, read back with the XPaths of ICH's element sheet (docs/e2b-mapping.md).

ACTIONS = {
    "withdrawn": "1",
    "reduced": "2",
    "increased": "3",
    "not_changed": "4",
    "unknown": "0",
    "not_applicable": "9",
}
# The lab units these tests give, and their UCUM codes; any other is sent as text.
UCUM = {"U/L": "U/L", "×10^9/L": "10*9/L", "μmol/L": "umol/L", "g/L": "g/L"}
# The strengths these tests give that are one amount of one unit.
# The strengths the tests and the demo catalogue give, as G.k.2.3.r reads them; others go whole
# to G.k.11 (每片重0.32g, 每袋装5g（相当于饮片7g）).
STRENGTHS = {
    **{f"{n}g": (n, "g") for n in ("0.2", "0.25", "0.3", "0.5")},
    **{f"{n}mg": (n, "mg") for n in ("30", "50", "100")},
    **{f"每支装{n}ml": (n, "mL") for n in ("2", "10", "20")},
    "每袋装10g": ("10", "g"),
}
MEDDRA = "2.16.840.1.113883.6.163"
HISTORY = PR + "/h:subjectOf2/h:organizer[h:code/@code='1']/h:component/h:observation"
PARENT = PR + "/h:player1/h:role[h:code/@code='PRN'][h:code/@codeSystem='2.16.840.1.113883.5.111']"
FR = PR + "/h:subjectOf2/h:organizer[h:code/@code='3']/h:component/h:observation"
SOURCE = IE + "/h:outboundRelationship[h:relatedInvestigation/h:code/@code='2']"


def texts(base, path: str) -> list[str]:
    return [str(value) for value in base.xpath(path, namespaces=H)]


def patient_obs(code: str, base: str = PR) -> str:
    return f"{base}/h:subjectOf2/h:observation[h:code/@code='{code}'][h:code/@codeSystem='{CL19}']"


def regional(document, code: str, base: str = PR) -> list[str]:
    return [str(v) for v in document.xpath(patient_obs(code, base) + "/h:value/@*", namespaces=H)]


def compare_holder_form(document, case: Case, view) -> int:
    """Check each element of the holder's form against the case; return how many were compared."""
    compared = 0

    def found(path: str, base=document) -> list[str]:
        return [str(value) for value in base.xpath(path, namespaces=H)]

    def same(path: str, expected: list, base=document) -> None:
        nonlocal compared
        assert found(path, base) == expected, (path, found(path, base), expected)
        compared += 1

    overseas = case.occurrence_country not in (None, "", "CN")
    where = case.occurrence_country or "CN"
    source = {"regulator": "1", "literature": "5", "study": "6", "other": "8"}.get(
        case.reports[0].source
    ) or {"hospital": "3", "pharmacy": "4"}.get(view.reporter_organization_type, "2")
    cn = IE + "/h:component/h:observationEvent[h:code/@code='{}']/h:value/@code"
    same(cn.format("CN-6"), [source])  # C.1.CN.1
    same(cn.format("CN-11"), ["22" if overseas else "12"])  # C.1.CN.2
    same(
        SOURCE + "//h:assignedPerson/h:asLocatedEntity/h:location/h:code/@code", [where]
    )  # C.2.r.3
    same(
        RX + "/h:location/h:locatedEntity/h:locatedPlace/h:code/@code",
        [where] * len(found(RX + "/h:id/@root")),
    )
    # D: the patient, the parent.
    height = case.patient_height_cm
    same(patient_obs("17") + "/h:value[@unit='cm']/@value", [str(round(height))] if height else [])
    same(
        patient_obs("22") + "/h:value/@value",
        [ymd(case.pregnancy_lmp)] if case.pregnancy_lmp and not case.parent_child else [],
    )
    foetus = case.gestation_reaction_weeks if case.parent_child else None
    same(patient_obs("16") + "/h:value[@unit='wk']/@value", [] if foetus is None else [str(foetus)])
    if foetus is not None:
        same(patient_obs("3"), [])
    same(
        patient_obs("CN-9") + "/h:value[@codeSystem='1.0.3166.1.2.2']/@code",
        [case.patient_nationality] if case.patient_nationality else [],
    )
    compared += compare_parent(document, case)
    pregnancy = found(patient_obs("CN-13") + "/h:value/text()")
    narrative = one(document, IE + "/h:text/text()")
    pregnant = (
        view.patient_pregnant == "yes"
        or "pregnancy" in (view.patient_history or [])
        or any(
            getattr(case, name) not in (None, "")
            for name in (
                "pregnancy_lmp",
                "gestation_exposure_weeks",
                "gestation_reaction_weeks",
                "pregnancy_outcome",
                "pregnancy_detail",
            )
        )
    )
    assert len(pregnancy) == int(pregnant) and ("妊娠报告有关信息：" in narrative) == pregnant
    told = [
        case.pregnancy_lmp and case.pregnancy_lmp.isoformat(),
        case.gestation_exposure_weeks is not None
        and f"用药时孕周：{case.gestation_exposure_weeks}周",
        case.gestation_reaction_weeks is not None
        and f"发生不良反应时孕周：{case.gestation_reaction_weeks}周",
        vocab.label(vocab.PREGNANCY_OUTCOME, case.pregnancy_outcome, "zh"),
        case.pregnancy_detail and xml_text(case.pregnancy_detail),
    ]
    for part in filter(None, told):
        assert part in pregnancy[0] and part in narrative, part
        compared += 1
    # D.7.1.r, D.7.2: the related diseases.
    compared += compare_diseases(document, case, view)
    # D.9: death and autopsy.
    if case.death or view.event_death_date:
        autopsy = patient_obs("5")
        expected = {"yes": ["true"], "no": ["false"]}.get(case.autopsy or "", ["UNK"])
        same(autopsy + "/h:value/@value | " + autopsy + "/h:value/@nullFlavor", expected)
        same(
            autopsy + "/h:outboundRelationship2[@typeCode='DRIV']/h:observation"
            f"[h:code/@code='8']/h:value[@codeSystem='{MEDDRA}']/h:originalText/text()",
            [xml_text(case.autopsy_findings)]
            if case.autopsy == "yes" and case.autopsy_findings
            else [],
        )
    else:
        same(patient_obs("5"), [])
    compared += compare_lab_results(document, case)
    compared += compare_drug_details(document, case, view)
    return compared


def compare_parent(document, case: Case) -> int:
    """D.10: the parent of a parent-child report, and nothing when the case is not one."""
    if not case.parent_child:
        assert not document.xpath(PR + "/h:player1/h:role", namespaces=H)
        return 1
    person = PARENT + "/h:associatedPerson"
    initials = case.parent_initials
    name = document.xpath(person + "/h:name", namespaces=H)[0]
    assert (name.text, name.get("nullFlavor")) == (
        (e2b.patient_initials(initials), None) if initials else (None, "UNK")
    )
    sex = {"male": "1", "female": "2"}.get(case.parent_sex)
    assert document.xpath(
        person
        + "/h:administrativeGenderCode/@code | "
        + person
        + "/h:administrativeGenderCode/@nullFlavor",
        namespaces=H,
    ) == [sex or "UNK"]
    expected = {
        ("3", "a"): case.parent_age_years,
        ("7", "kg"): case.parent_weight_kg,
        ("17", "cm"): case.parent_height_cm and round(case.parent_height_cm),
    }
    for (code, unit), value in expected.items():
        sent = document.xpath(
            patient_obs(code, PARENT) + f"/h:value[@unit='{unit}']/@value", namespaces=H
        )
        assert [float(v) for v in sent] == ([pytest.approx(value)] if value else []), code
    lmp = document.xpath(patient_obs("22", PARENT) + "/h:value/@value", namespaces=H)
    assert lmp == ([ymd(case.pregnancy_lmp)] if case.pregnancy_lmp else [])
    history = document.xpath(
        PARENT + "/h:subjectOf2/h:organizer[h:code/@code='1']/h:component/h:observation"
        "[h:code/@code='18']/h:value/text()",
        namespaces=H,
    )
    assert history == ([xml_text(case.parent_history)] if case.parent_history else [])
    return 8


def compare_diseases(document, case: Case, view) -> int:
    """D.7.1.r: each related disease staff coded (or whose text they coded as history), with
    its dates, continuing and name; D.7.2: the others by name."""
    current = {view.patient_disease or "", view.patient_history_detail or ""}
    codings = {
        c.text.strip().casefold(): c
        for c in case.term_codings
        if c.kind == "history" and c.text in current
    }
    rows = document.xpath(HISTORY + f"[h:code/@codeSystem='{MEDDRA}']", namespaces=H)
    text = document.xpath(HISTORY + "[h:code/@code='18']/h:value/text()", namespaces=H)
    compared = 0
    coded_rows = 0
    for disease in case.diseases:
        coding = (
            (disease.meddra_version, disease.llt_code)
            if disease.llt_code
            else next(
                (
                    (c.meddra_version, c.llt_code)
                    for name, c in codings.items()
                    if name == disease.name.casefold()
                ),
                None,
            )
        )
        if coding is None:
            assert text and xml_text(disease.name) in text[0], disease.name
            compared += 1
            continue
        row = next(
            r
            for r in rows
            if r.xpath(
                "h:outboundRelationship2/h:observation[h:code/@code='10']/h:value/text()",
                namespaces=H,
            )[0].startswith(disease.name)
        )
        coded_rows += 1
        assert (
            row.xpath("h:code/@code", namespaces=H),
            row.xpath("h:code/@codeSystemVersion", namespaces=H),
        ) == ([str(coding[1])], [coding[0]])
        assert row.xpath("h:effectiveTime/h:low/@value", namespaces=H) == (
            [ymd(disease.start_date)] if disease.start_date else []
        )
        assert row.xpath("h:effectiveTime/h:high/@value", namespaces=H) == (
            [ymd(disease.end_date)] if disease.end_date else []
        )
        flag = "h:inboundRelationship[@typeCode='REFR']/h:observation[h:code/@code='13']/h:value"
        continuing = texts(row, f"{flag}/@value | {flag}/@nullFlavor")
        assert continuing == {"yes": ["true"], "no": ["false"], "unknown": ["UNK"]}.get(
            disease.continuing or "", []
        )
        if disease.note:
            assert (
                xml_text(disease.note)
                in row.xpath(
                    "h:outboundRelationship2/h:observation[h:code/@code='10']/h:value/text()",
                    namespaces=H,
                )[0]
            )
        compared += 5
    others = {
        c.llt_code
        for name, c in codings.items()
        if name not in {d.name.casefold() for d in case.diseases}
    }
    assert len(rows) == coded_rows + len(others)
    return compared


def compare_lab_results(document, case: Case) -> int:
    """F.r: one observation per lab result, in order."""
    tests = document.xpath(FR, namespaces=H)
    assert len(tests) == len(case.lab_results)
    for test, result in zip(tests, case.lab_results, strict=True):
        assert texts(test, f"h:code[@codeSystem='{MEDDRA}']/h:originalText/text()") == [
            xml_text(result.test_name)
        ]
        assert texts(test, "h:code/@code") == ([str(result.llt_code)] if result.llt_code else [])
        assert texts(test, "h:code/@codeSystemVersion") == (
            [result.meddra_version] if result.llt_code else []
        )
        assert texts(test, "h:effectiveTime/@value | h:effectiveTime/@nullFlavor") == [
            ymd(result.test_date) if result.test_date else "UNK"
        ]
        comments = "".join(
            texts(
                test,
                "h:outboundRelationship2[@typeCode='PERT']/h:observation[h:code/@code='10']/h:value/text()",
            )
        )
        unit = UCUM.get(result.unit or "")
        if result.result_value is not None and unit:
            assert [
                float(v) for v in texts(test, "h:value[@xsi:type='IVL_PQ']/h:center/@value")
            ] == [pytest.approx(result.result_value)]
            assert texts(test, "h:value/h:center/@unit") == [unit]
            for side, bound in (("L", result.normal_low), ("H", result.normal_high)):
                limit = texts(
                    test,
                    f"h:referenceRange[@typeCode='REFV']/h:observationRange[h:interpretationCode/@code='{side}']/h:value[@xsi:type='PQ']/@value",
                )
                numeric = bound and re.fullmatch(r"\d+(\.\d+)?", bound)
                assert [float(v) for v in limit] == ([float(bound)] if numeric else [])
                if bound and not numeric:
                    assert xml_text(bound) in comments
        else:
            expected = (
                result.result_text
                if result.result_value is None
                else f"{result.result_value:g} {result.unit}"
            )
            assert texts(test, "h:value[@xsi:type='ED']/text()") == [xml_text(expected)]
            assert not texts(test, "h:referenceRange")
            for bound in (result.normal_low, result.normal_high):
                assert not bound or xml_text(bound) in comments
        assert not result.more_info or xml_text(result.more_info) in comments
        assert texts(
            test,
            "h:outboundRelationship2[@typeCode='REFR']/h:observation[h:code/@code='25']/h:value/@value",
        ) == ["false"]
    return 8 * len(tests)


def compare_drug_details(document, case: Case, view) -> int:
    """G.k: each drug's strength, dose form, duration, expiry date and gestation at exposure."""
    compared = 0
    for element, drug in zip(document.xpath(DRG, namespaces=H), view.drugs, strict=True):
        details = holder.drug_details(case, drug)
        parsed = STRENGTHS.get(details.strength or "") if drug.generic_name else None
        ingredient = "h:consumable/h:instanceOfKind/h:kindOfProduct/h:ingredient[@classCode='ACTI']"
        assert texts(
            element, ingredient + "/h:quantity[h:denominator/@value='1']/h:numerator/@value"
        ) == ([parsed[0]] if parsed else [])
        assert texts(element, ingredient + "/h:quantity/h:numerator/@unit") == (
            [parsed[1]] if parsed else []
        )
        assert texts(element, ingredient + "/h:ingredientSubstance/h:name/text()") == (
            [xml_text(drug.generic_name)] if parsed else []
        )
        additional = "h:outboundRelationship2[@typeCode='REFR']/h:observation[h:code/@code='2']"
        information = "".join(texts(element, additional + "/h:value/text()"))
        if details.strength and not parsed:
            assert f"规格：{details.strength}" in information
        rows = element.xpath(
            "h:outboundRelationship2[@typeCode='COMP']/h:substanceAdministration", namespaces=H
        )
        mentions = mentions_of(case, drug)
        own_duration = "duration_value" in details.own
        for row, mention in zip(rows, mentions, strict=True):
            form = "h:consumable/h:instanceOfKind/h:kindOfProduct/h:formCode/h:originalText"
            assert texts(row, form + "/text()") == (
                [xml_text(details.dosage_form)] if details.dosage_form else []
            )
            expiry = details.expiry_date if "expiry_date" in details.own else mention["expiry_date"]
            regional = (
                "h:outboundRelationship2[@typeCode='PERT']"
                f"/h:observation[h:code/@code='CN-8'][h:code/@codeSystem='{CL19}']"
            )
            assert texts(row, regional + "/h:value/@value") == ([ymd(expiry)] if expiry else [])
            width = texts(row, "h:effectiveTime//h:width/@value") + texts(
                row, "h:effectiveTime//h:width/@unit"
            )
            assert width == (
                [str(details.duration_value), details.duration_unit]
                if own_duration and len(rows) == 1
                else []
            )
            compared += 3
        if own_duration and len(rows) > 1:
            assert f"用药时间：{details.duration_value}" in information
        weeks = case.gestation_exposure_weeks
        exposed = weeks is not None and drug.role in ("suspect", "interacting")
        gestation = "h:outboundRelationship2[@typeCode='PERT']/h:observation[h:code/@code='16']"
        assert texts(element, gestation + "/h:value[@unit='wk']/@value") == (
            [str(weeks)] if exposed else []
        )
        compared += 5
    return compared


def test_round_trip_every_file_read_back_matches_the_database(app):
    month = f"{date.today().replace(day=1) - timedelta(days=1):%Y-%m}"
    with app.app_context():
        demo.make_demo_data(150, month, seed=12)
    death = ready(
        app,
        **{
            "event-outcome": "death",
            "event-death_cause": "过敏性休克 <急性>",
            "event-death_date": "2026-11-22",
            "event-name": "过敏性休克、呼吸困难",
        },
    )
    several = ready(
        app,
        **{
            "drugs-2-role": "interacting",
            "drugs-2-generic_name": "克拉霉素片",
            "drugs-2-batch_number": "KL2026",
            "event-name": "皮疹、瘙痒、发热",
        },
    )
    follow_up = submit(
        app,
        follow_up_of=several,
        remarks=HOSTILE,
        **{
            "event-name": "呕吐",
            "patient-name": "Wang Xiaoming",
            "event-description": "随访：患者次日呕吐一次，已自行缓解。",
            "drugs-0-batch_number": "20260401B",  # a new batch: the first one's stays
            "drugs-0-start_date": "2026-11-23",
            "drugs-0-end_date": "",
        },
    )
    unsure = ready(
        app,
        **{
            "event-dechallenge": "not_applicable",  # G.k.8 = 4 despite the end date
            "event-rechallenge": "unknown",  # G.k.9.i.4 omitted
            "event-name": "皮疹、停药后好转",
        },
    )
    pregnant, child = (ready(app, **{"patient-age": "29", "patient-birth_date": ""}) for _ in "12")
    files = compared = follow_ups = deaths = 0
    with app.app_context():
        with write_transaction():
            case_of(death).reactions[0].outcome = "death"  # which reaction led to death
            case_of(death).autopsy = "yes"
            case_of(death).autopsy_findings = "尸检示喉头水肿 <窒息>"
            case_of(unsure).reactions[1].excluded_reason = "不是不良反应"
            case_of(unsure).occurrence_country = "JP"
            case_of(pregnant).pregnancy_lmp = date(2026, 8, 1)
            case_of(pregnant).gestation_exposure_weeks = 15
            case_of(pregnant).pregnancy_outcome = "ongoing"
            case_of(child).parent_child = True
            case_of(child).gestation_reaction_weeks = 20
            case_of(child).parent_initials = "王丽娟"
            case_of(child).parent_sex = "female"
            case_of(child).parent_history = "妊娠期高血压"
        complete_holder_form(case_of(several))  # the suspect's two dosage rows: G.k.11
        with write_transaction():
            case_of(several).lab_results[0].more_info = HOSTILE
            case_of(several).diseases[-1].note = HOSTILE[:200]
    with app.app_context():
        for case in db.session.scalars(sa.select(Case).order_by(Case.id)):
            with write_transaction():  # 原患疾病 as related diseases, as 0019 made them
                for report in case.reports:
                    holder.add_reported_disease(case, report)
            code_reactions(case)
            with write_transaction() as session:
                case.company_causality = case.company_causality or "possible"
                if case.reactions and case.first_report.drugs:
                    session.add(
                        reactions.DrugReaction(
                            reaction_id=case.reactions[0].id,
                            drug_key=reactions.drug_key(case.first_report.drugs[0]),
                            company_causality="certain",
                            rechallenge=None if case.first_report.reference == unsure else "yes",
                        )
                    )
            db.session.expire(case)
            if e2b.problems(case):
                continue
            with write_transaction() as session:
                submission = e2b.submit(session, case, "test")
            document = parse(submission.xml)
            assert e2b.check(submission.xml.encode()) == []
            compared += compare_with_database(document, case)
            files += 1
            follow_ups += len(case.reports) > 1
            deaths += bool(cases.current_view(case.reports).event_death_date)
        assert case_of(follow_up).first_report.reference == several
        assert case_of(death).death
        assert {case_of(r).submissions[0].version for r in (death, several, unsure)} == {1, 2}
        assert all(case_of(r).submissions for r in (pregnant, child))
        suspect = parse(case_of(several).submissions[0].xml).xpath(DRG, namespaces=H)[0]
        assert suspect.xpath(".//h:lotNumberText/text()", namespaces=H) == [
            "20260315A",
            "20260401B",
        ]
        assert suspect.xpath(".//h:effectiveTime//h:low/@value", namespaces=H) == [
            "20261120",
            "20261123",
        ]
        unsure_drug = parse(case_of(unsure).submissions[0].xml).xpath(DRG, namespaces=H)[0]
        assert unsure_drug.xpath(
            "h:inboundRelationship[@typeCode='CAUS']/h:act/h:code/@code", namespaces=H
        ) == ["4"]
        assert not unsure_drug.xpath(
            "h:outboundRelationship2/h:observation[h:code/@code='31']", namespaces=H
        )
        assert len(parse(case_of(unsure).submissions[0].xml).xpath(RX, namespaces=H)) == 1
    assert files >= 40 and follow_ups >= 2 and deaths >= 1, (files, follow_ups, deaths)
    assert compared > 1000


# Review findings: each with its own story.


def test_a_reaction_staff_set_aside_is_neither_sent_nor_needs_coding(app):
    reference = ready(app)
    with app.app_context():
        case = case_of(reference)
        with write_transaction():
            case.reactions[1].llt_code = None
        assert problem_places(app, reference) == {"#reactions"}
        with write_transaction():
            case.reactions[1].excluded_reason = "与皮疹为同一反应"
        document = parse(e2b.build(case_of(reference)).xml)
    assert document.xpath(RX + "/h:value/h:originalText/text()", namespaces=H) == ["皮疹"]
    assert (
        len(document.xpath(AEA + "//h:causalityAssessment[h:code/@code='39']", namespaces=H)) == 2
    )


def test_the_narrative_tells_every_report_in_order_under_its_kind_and_day(app):
    reference = ready(app)
    submit(
        app,
        follow_up_of=reference,
        **{"event-description": "随访：皮疹于停药后第三天完全消退。", "event-outcome": "recovered"},
    )
    with app.app_context():
        case = case_of(reference)
        code_reactions(case)
        first, second = case.reports
        text = one(parse(e2b.build(case).xml), IE + "/h:text/text()")
    assert text.startswith(
        f"【首次报告 {first.aware_on.isoformat()}】{first.event_description}\n"
        f"【跟踪报告 {second.aware_on.isoformat()}】随访：皮疹于停药后第三天完全消退。"
        "\n报告人身份："
    )


def test_a_narrative_past_the_limit_is_cut_and_says_so(app):
    with app.app_context():
        reports = [
            Report(event_description=f"{n}" * 5000, aware_on=date(2026, 11, 1) + timedelta(n))
            for n in range(25)
        ]
        text = e2b.narrative(Case(reports=reports), cases.current_view(reports))
    assert len(text) == 100_000 and text.endswith(e2b.CUT_NOTE)
    assert text.startswith("【首次报告 2026-11-01】0000")


def test_death_seriousness_and_causality_must_agree_before_a_file(app):
    reference = ready(
        app,
        **{
            "event-outcome": "death",
            "event-death_cause": "过敏性休克",
            "event-death_date": "2026-11-22",
            "event-name": "过敏性休克、呼吸困难",
            "event-serious": ["hospitalization"],
        },
    )
    with app.app_context():
        case = case_of(reference)
        assert case.death and case.serious
        texts = [problem.text for problem in e2b.problems(case)]
        assert len(texts) == 1, texts  # say which reaction(s) led to death
        assert problem_places(app, reference) == {"#reactions"}
        with write_transaction():
            case.reactions[0].outcome = "recovered"
            case.reactions[1].outcome = "not_recovered"
        assert problem_places(app, reference) == {"#reactions"}  # died of none of them
        with write_transaction():
            case.reactions[0].outcome = "death"
            case.reactions[1].serious = ["life_threatening"]  # beyond the case's criteria
        texts = [problem.text for problem in e2b.problems(case)]
        assert len(texts) == 1 and "呼吸困难" in texts[0]
        with write_transaction():
            case.reactions[1].serious = []
            case.reactions[0].outcome = "recovered"
            case.reactions[0].serious = []
            case.death = False
        texts = [problem.text for problem in e2b.problems(case)]
        assert len(texts) == 1 and problem_places(app, reference) == {"#reactions"}  # serious
        with write_transaction():
            case.reactions[0].serious = ["hospitalization"]
            case.company_causality = None
            session = db.session()
            session.add(
                reactions.DrugReaction(
                    reaction_id=case.reactions[0].id,
                    drug_key="阿莫西林胶囊",
                    company_causality="certain",
                )
            )
        found = e2b.problems(case)
    assert [(problem.where, "呼吸困难" in problem.text) for problem in found] == [
        ("#assessment", True)
    ]


@pytest.mark.parametrize("source", ["study", "regulator"])
def test_a_case_from_a_study_or_the_regulator_is_entered_by_hand(app, source):
    reference = ready(app)
    with app.app_context():
        case = case_of(reference)
        with write_transaction():
            case.first_report.source = source
        found = e2b.problems(case)
        assert [problem.where for problem in found] == ["#e2b"]
        assert ("C.5" in found[0].text) == (source == "study")
        with write_transaction():
            case.first_report.source = "phone"
        assert e2b.problems(case) == []


def telecoms(document) -> list[str]:
    return document.xpath(IE + "/h:outboundRelationship//h:telecom/@value", namespaces=H)


def test_a_patient_reporters_phone_and_e_mail_go_only_when_allowed_and_never_masked(app):
    reference = ready(app, **{"reporter-kind": "patient", "reporter-name": "王晓明"})
    with app.app_context():
        build = lambda: parse(e2b.build(case_of(reference)).xml)  # noqa: E731
        assert telecoms(build()) == []
        app.config["E2B_PATIENT_PHONE"] = True
        assert telecoms(build()) == ["tel:+8613912345678", "mailto:wangli@example.com"]
        app.config["E2B_PATIENT_NAME"] = "masked"
        document = build()
        assert telecoms(document) == []
        source = IE + "/h:outboundRelationship[h:relatedInvestigation/h:code/@code='2']"
        assert one(document, source + "//h:assignedPerson/h:name/@nullFlavor") == "MSK"
        with write_transaction():
            case_of(reference).first_report.reporter_kind = "pharmacist"
        assert telecoms(build()) == ["tel:+8613912345678"]  # a pharmacist's work phone; no e-mail


def test_masked_sends_the_age_not_the_birth_date_nor_hospital_nor_ethnicity(app):
    reference = ready(app, **{"patient-age": ""})
    with app.app_context():
        document = parse(e2b.build(case_of(reference)).xml)
        assert one(document, PR + "/h:player1/h:birthTime/@value") == "19580314"
        assert not document.xpath(
            PR + "/h:subjectOf2/h:observation[h:code/@code='3']", namespaces=H
        )
        app.config["E2B_PATIENT_NAME"] = "masked"
        built = e2b.build(case_of(reference)).xml
    document = parse(built)
    assert not document.xpath(PR + "/h:player1/h:birthTime", namespaces=H)
    age = PR + "/h:subjectOf2/h:observation[h:code/@code='3']/h:value"
    assert (one(document, age + "/@value"), one(document, age + "/@unit")) == ("68", "a")
    codes = set(document.xpath("//h:code[starts-with(@code, 'CN-')]/@code", namespaces=H))
    assert not codes & {"CN-1", "CN-3"} and "CN-13" not in codes
    assert "绥德县医院" not in built.decode() and "汉族" not in built.decode()


def test_a_name_withheld_is_msk_and_a_name_not_given_is_unk(app):
    withheld = ready(app, **{"patient-name": "Ω"})
    unknown = ready(app, **{"patient-name": "不详"})
    with app.app_context():
        app.config["E2B_PATIENT_NAME"] = "masked"
        assert (
            one(parse(e2b.build(case_of(withheld)).xml), PR + "/h:player1/h:name/@nullFlavor")
            == "MSK"
        )
        assert (
            one(parse(e2b.build(case_of(unknown)).xml), PR + "/h:player1/h:name/@nullFlavor")
            == "UNK"
        )


@pytest.mark.parametrize(
    ("name", "initials"),
    [
        ("WXM", "WXM"),
        ("ＷＸＭ", "WXM"),
        ("WX", "WX"),
        ("wxm", "W"),
        ("WXMZ", "W"),
        ("王晓明", "WXM"),
        ("张某某", "Z"),
        ("Wang Xiaoming", "WX"),
        ("Ｗａｎｇ　Ｘｉａｏｍｉｎｇ", "WX"),
        ("김민수", "김"),
        ("やまだ たろう", "や"),
        ("ﾔﾏﾀﾞ", "ヤ"),
    ],
)
def test_patient_initials(name, initials):
    assert e2b.patient_initials(name) == initials


def test_only_history_codings_of_the_current_texts_are_sent(app):
    reference = ready(app)
    with app.app_context():
        case = case_of(reference)
        with write_transaction() as session:
            for text, code in (("急性支气管炎", meddra_fixture.RASH), ("旧的病史", CODES["瘙痒"])):
                session.add(
                    TermCoding(
                        case_id=case.id,
                        kind="history",
                        text=text,
                        meddra_version=meddra_fixture.VERSION,
                        llt_code=code,
                        coded_by="test",
                        coded_at=datetime.now(UTC),
                    )
                )
        document = parse(e2b.build(case_of(reference)).xml)
    history = PR + "/h:subjectOf2/h:organizer[h:code/@code='1']/h:component/h:observation"
    assert document.xpath(
        history + "/h:code[@codeSystem='2.16.840.1.113883.6.163']/@code", namespaces=H
    ) == [str(meddra_fixture.RASH)]


def test_a_later_file_keeps_the_first_c11_when_the_mah_id_is_corrected(app):
    reference = ready(app)
    with app.app_context():
        with write_transaction() as session:
            first = e2b.submit(session, case_of(reference), "test")
        app.config["MAH_ID"] = "TN0002"
        with write_transaction() as session:
            second = e2b.submit(session, case_of(reference), "test")
        kept = [
            s.safety_report_id
            for s in db.session.scalars(sa.select(Submission).order_by(Submission.id))
        ]
        c11 = IE + "/h:id[@root='2.16.840.1.113883.3.989.2.1.3.1']/@extension"
        assert kept == [f"CN-TN0001-{reference}"] * 2
        assert one(parse(second.xml), c11) == one(parse(first.xml), c11) == kept[0]
        assert (
            one(
                parse(second.xml),
                IE + "/h:component/h:observationEvent[h:code/@code='CN-12']/h:value/@code",
            )
            == "TN0002"
        )


def test_dates_have_four_digit_years_and_the_rules_refuse_any_other(app):
    assert e2b.day(date(958, 3, 4)) == "09580304"
    reference = ready(app)
    with app.app_context():
        built = e2b.build(case_of(reference))
    bad = built.xml.replace(b'<birthTime value="19580314"', b'<birthTime value="08580314"')
    assert bad != built.xml
    assert [error for error in e2b.check(bad) if error.startswith("TS")] == [
        "TS '08580314' not a date of 1900-2100"
    ]


def test_a_file_the_rules_refuse_is_a_plain_message_and_a_log_line_without_values(
    app, caplog, tmp_path
):
    reference = ready(app)
    with app.app_context(), write_transaction():
        case_of(reference).reactions[0].onset_date = date(2150, 1, 2)  # as a bad import might
    client = signed_in(app, REVIEWER)
    response = client.post(
        f"/staff/reports/{reference}/e2b", data={"csrf_token": csrf(client), "kind": "report"}
    )
    assert response.status_code == 500
    assert 'id="e2b-error"' in response.get_data(as_text=True)
    logged = [r.getMessage() for r in caplog.records if r.name == "adr.review.e2b"]
    assert logged and "TS" in logged[0] and "2150" not in logged[0]
    result = app.test_cli_runner().invoke(args=["e2b", reference, "-o", str(tmp_path / "x.xml")])
    assert result.exit_code == 1 and "TS" in result.output and "2150" not in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 0


def test_the_command_writes_the_file_for_its_owner_only(app, tmp_path):
    reference = ready(app)
    output = tmp_path / "case.xml"
    result = app.test_cli_runner().invoke(args=["e2b", reference, "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert output.stat().st_mode & 0o777 == 0o600


def test_a_duplicate_whose_file_went_gets_its_nullification_on_the_original_s_page(app):
    """Merged into its original, the duplicate's own ICSR is withdrawn with a nullification
    naming the original's C.1.1; the original's page offers the file."""
    original = ready(app)
    duplicate = ready(app, **{"reporter-name": "李医生", "reporter-kind": "physician"})
    client = signed_in(app, REVIEWER)
    sent = client.post(f"/staff/reports/{duplicate}/e2b", data={"csrf_token": csrf(client)})
    assert sent.status_code == 200
    page = client.get(f"/staff/reports/{duplicate}").get_data(as_text=True)
    data = hidden_inputs(page) | {
        "status": "duplicate", "duplicate_of": original, "company_causality": "possible"
    }  # fmt: skip
    assert client.post(f"/staff/reports/{duplicate}/assessment", data=data).status_code == 303
    with app.app_context():
        moved = db.session.scalar(sa.select(Report).where(Report.reference == duplicate))
        assert moved.case.first_report.reference == original
        emptied = db.session.get(Case, moved.merge.duplicate_case_id)
        report_file, nullification = emptied.submissions
        assert (report_file.kind, nullification.kind) == ("report", "nullification")
        assert nullification.safety_report_id == report_file.safety_report_id
        assert e2b.safety_report_id(moved.case) in nullification.reason
        download = f"/staff/submissions/{nullification.id}.xml"
    merges_section = (
        client.get(f"/staff/reports/{original}").get_data(as_text=True).split('id="merges"')[1]
    )
    assert download in merges_section.split("</section>")[0]
    document = parse(client.get(download).data)
    correction = IE + "/h:subjectOf2/h:investigationCharacteristic"
    assert one(document, correction + "[h:code/@code='3']/h:value/@code") == "1"
