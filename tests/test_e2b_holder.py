"""The holder's form in the E2B(R3) file: each part staff complete read back through this test's
own XPaths (ICH's element sheet, docs/e2b-mapping.md), the rules that stop a file, and the
readings of strengths, lab units and report sources."""

from __future__ import annotations

from datetime import date

import pytest
from lxml import etree

from adr.extensions import db
from adr.models import LabResult, write_transaction
from adr.regulator import e2b, e2b_holder
from tests import meddra_fixture
from tests.test_e2b import (
    CL19,
    DRG,
    FR,
    HISTORY,
    HOLDER_SECTIONS,
    IE,
    PARENT,
    PR,
    RX,
    SOURCE,
    case_of,
    code_reactions,
    compare_with_database,
    complete_holder_form,
    e2b_app,
    one,
    parse,
    patient_obs,
    problem_places,
    ready,
    submit,
    texts,
)
from tests.test_review import REVIEWER, csrf, signed_in

CN = IE + "/h:component/h:observationEvent[h:code/@code='{}']/h:value/@code"
DOS = "h:outboundRelationship2[@typeCode='COMP']/h:substanceAdministration"
EXPIRY = (
    "h:outboundRelationship2[@typeCode='PERT']"
    f"/h:observation[h:code/@code='CN-8'][h:code/@codeSystem='{CL19}']/h:value/@value"
)
GESTATION = "h:outboundRelationship2[@typeCode='PERT']/h:observation[h:code/@code='16']/h:value"
ACTION = "h:inboundRelationship[@typeCode='CAUS']/h:act/h:code/@code"
AUTOPSY = patient_obs("5")


@pytest.fixture
def app(tmp_path, monkeypatch):
    yield from e2b_app(tmp_path, monkeypatch)


def built(reference: str):
    """Return the case's file, checked by the schemas and the rules, parsed."""
    xml = e2b.build(case_of(reference)).xml
    assert e2b.check(xml) == []
    return parse(xml)


def read(document, path: str) -> list[str]:
    return texts(document, path)


# The readings: pure, no app.


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("0.25g", (0.25, "g")),
        ("500 mg", (500.0, "mg")),
        ("每袋装10g", (10.0, "g")),
        ("每片含5毫克", (5.0, "mg")),
        ("０．２５ｇ", (0.25, "g")),
        ("100µg", (100.0, "ug")),
        ("2ml", (2.0, "mL")),
        ("0.5g/10ml", None),
        ("0.25g(按C16H19N3O5S计)", None),
        ("80万单位", None),
        ("0.25g×24粒", None),
        ("", None),
        (None, None),
    ],
)
def test_a_strength_is_an_amount_only_when_it_is_one_amount_of_one_unit(text, amount):
    assert e2b_holder.strength(text) == amount


@pytest.mark.parametrize(
    ("unit", "code"),
    [
        ("U/L", "U/L"),
        ("u/l", "U/L"),
        ("IU/L", "[IU]/L"),
        ("×10^9/L", "10*9/L"),
        ("×10⁹/L", "10*9/L"),
        ("10E12/L", "10*12/L"),
        ("μmol/L", "umol/L"),
        ("µmol/L", "umol/L"),  # the micro sign, not the Greek letter
        ("ｍｍｏｌ／Ｌ", "mmol/L"),
        ("mmHg", "mm[Hg]"),
        ("mm[Hg]", "mm[Hg]"),  # a UCUM code as it is
        ("℃", "Cel"),
        ("1", "1"),
        ("单位", None),
        ("个/HP", None),
        ("", None),
        (None, None),
    ],
)
def test_a_lab_unit_is_ucum_when_chinese_reports_write_it_so(unit, code):
    assert e2b_holder.ucum(unit) == code


@pytest.mark.parametrize(
    ("source", "workplace", "code"),
    [
        ("regulator", None, "1"),
        ("web", "none", "2"),
        ("sales", None, "2"),
        ("web", "hospital", "3"),
        ("phone", "pharmacy", "4"),
        ("literature", "hospital", "5"),
        ("study", None, "6"),
        ("other", "hospital", "8"),
    ],
)
def test_the_report_source_is_nmpa_s_code_of_the_workbook_s_information_source(
    source, workplace, code
):
    assert e2b_holder.report_source(source, workplace) == code


# The holder's form, section by section.


def test_a_case_completed_section_by_section_gives_a_valid_file_carrying_each_part(app):
    reference = ready(app)
    with app.app_context():
        before = built(reference)
        assert read(before, FR) == [] and read(before, patient_obs("17")) == []
        for section in HOLDER_SECTIONS:  # each section alone still gives a valid file
            section(case_of(reference))
            assert e2b.problems(case_of(reference)) == [], section.__name__
            built(reference)
        document = built(reference)
        assert compare_with_database(document, case_of(reference)) > 90
    # The patient: D.4 height (rounded), D.CN.4 nationality.
    assert read(document, patient_obs("17") + "/h:value[@xsi:type='PQ']/@value") == ["158"]
    assert read(document, patient_obs("17") + "/h:value/@unit") == ["cm"]
    assert read(document, patient_obs("CN-9") + "/h:value/@code") == ["CN"]
    # D.7.1.r: 高血压 coded, with its start, continuing and name; D.7.2: 急性支气管炎, not coded.
    coded = HISTORY + f"[h:code/@code='{meddra_fixture.HYPERTENSION}']"
    assert read(document, coded + "/h:code/@codeSystemVersion") == [meddra_fixture.VERSION]
    assert read(document, coded + "/h:effectiveTime/h:low/@value") == ["20150301"]
    assert read(document, coded + "/h:effectiveTime/h:high") == []
    assert read(
        document, coded + "/h:inboundRelationship/h:observation[h:code/@code='13']/h:value/@value"
    ) == ["true"]
    assert read(
        document, coded + "/h:outboundRelationship2/h:observation[h:code/@code='10']/h:value/text()"
    ) == ["高血压；备注：服用硝苯地平控制良好"]
    history = one(document, HISTORY + "[h:code/@code='18']/h:value/text()")
    assert history.startswith(
        "相关疾病信息：急性支气管炎（开始日期：2026-11-18，报告当时疾病是否仍存在：不详）；"
    )
    # F.r: the number with its UCUM unit and range; the text with its range in the comments.
    alt, protein = document.xpath(FR, namespaces={"h": "urn:hl7-org:v3"})
    assert read(alt, "h:code/@code") == ["84000006"]
    assert read(alt, "h:code/h:originalText/text()") == ["丙氨酸氨基转移酶"]
    assert read(alt, "h:effectiveTime/@value") == ["20261122"]
    assert read(alt, "h:value[@xsi:type='IVL_PQ']/h:center/@value") == ["56"]
    assert read(alt, "h:value/h:center/@unit") == ["U/L"]
    ranges = "h:referenceRange/h:observationRange[h:interpretationCode/@code='{}']/h:value/@value"
    assert read(alt, ranges.format("L")) == ["9"] and read(alt, ranges.format("H")) == ["50"]
    comments = "h:outboundRelationship2[@typeCode='PERT']/h:observation[h:code/@code='10']"
    assert read(alt, comments + "/h:value/text()") == ["停药一周后复查降至正常"]
    more = "h:outboundRelationship2[@typeCode='REFR']/h:observation[h:code/@code='25']/h:value"
    assert read(alt, more + "/@value") == read(protein, more + "/@value") == ["false"]
    assert read(protein, "h:code/@code") == []
    assert read(protein, "h:effectiveTime/@nullFlavor") == ["UNK"]
    assert read(protein, "h:value[@xsi:type='ED']/text()") == ["阳性(+)"]
    assert read(protein, "h:referenceRange") == []
    assert read(protein, comments + "/h:value/text()") == ["正常值下限：阴性"]
    # G.k: strength, dose form, expiry, duration and action, per drug.
    suspect, concomitant = document.xpath(DRG, namespaces={"h": "urn:hl7-org:v3"})
    ingredient = "h:consumable/h:instanceOfKind/h:kindOfProduct/h:ingredient"
    assert read(suspect, ingredient + "/h:quantity/h:numerator/@value") == ["0.25"]
    assert read(suspect, ingredient + "/h:quantity/h:numerator/@unit") == ["g"]
    assert read(suspect, ingredient + "/h:quantity/h:denominator/@value") == ["1"]
    assert read(suspect, ingredient + "/h:ingredientSubstance/h:name/text()") == ["阿莫西林胶囊"]
    assert read(concomitant, ingredient + "/h:quantity/h:numerator/@value") == ["30"]
    form = DOS + "/h:consumable/h:instanceOfKind/h:kindOfProduct/h:formCode/h:originalText/text()"
    assert read(suspect, form) == ["胶囊剂"] and read(concomitant, form) == ["片剂"]
    assert read(suspect, DOS + "/" + EXPIRY) == ["20270630"]
    assert read(concomitant, DOS + "/" + EXPIRY) == []
    period = DOS + "/h:effectiveTime[@xsi:type='SXPR_TS']/h:comp"
    assert read(suspect, period + "[1]/h:low/@value") == ["20261120"]
    assert read(suspect, period + "[1]/h:high/@value") == ["20261122"]
    assert read(suspect, period + "[@operator='A']/h:width/@value") == ["3"]
    assert read(suspect, period + "[@operator='A']/h:width/@unit") == ["d"]
    assert read(concomitant, DOS + "/h:effectiveTime//h:width") == []  # derived: not sent
    assert read(suspect, ACTION) == ["1"] and read(concomitant, ACTION) == ["4"]
    # C.1.CN.1 a pharmacy's report (4), C.1.CN.2 post-marketing in China (12), E.i.9 CN.
    assert read(document, CN.format("CN-6")) == ["4"]
    assert read(document, CN.format("CN-11")) == ["12"]
    assert set(read(document, RX + "/h:location//h:code/@code")) == {"CN"}


def test_the_staff_download_carries_the_holder_form(app):
    reference = ready(app)
    with app.app_context():
        complete_holder_form(case_of(reference))
    client = signed_in(app, REVIEWER)
    page = client.get(f"/staff/reports/{reference}").get_data(as_text=True)
    assert 'id="e2b-problems"' not in page
    response = client.post(
        f"/staff/reports/{reference}/e2b", data={"csrf_token": csrf(client), "kind": "report"}
    )
    assert response.status_code == 200
    document = parse(response.data)
    assert len(document.xpath(FR, namespaces={"h": "urn:hl7-org:v3"})) == 2
    with app.app_context():
        assert compare_with_database(document, case_of(reference)) > 90


def test_a_strength_not_one_amount_and_a_duration_of_several_rows_go_as_drug_information(app):
    reference = ready(app)
    submit(app, follow_up_of=reference, **{"drugs-0-batch_number": "20260401B"})  # a 2nd row
    with app.app_context():
        case = case_of(reference)
        code_reactions(case)
        HOLDER_SECTIONS[-1](case)  # the drugs' details
        with write_transaction():
            case.drug_details[0].strength = "0.25g(按C16H19N3O5S计)"
        document = built(reference)
        compare_with_database(document, case_of(reference))
    information = "h:outboundRelationship2[@typeCode='REFR']/h:observation[h:code/@code='2']"
    suspect = document.xpath(DRG, namespaces={"h": "urn:hl7-org:v3"})[0]
    assert read(suspect, information + "/h:value/text()") == [
        "规格：0.25g(按C16H19N3O5S计)；用药时间：3天"
    ]
    assert read(suspect, "h:consumable/h:instanceOfKind/h:kindOfProduct/h:ingredient") == []
    assert len(suspect.xpath(DOS, namespaces={"h": "urn:hl7-org:v3"})) == 2
    assert read(suspect, DOS + "/h:effectiveTime//h:width") == []  # no row holds it all


def test_a_pregnancy_case_carries_the_last_period_the_gestation_at_exposure_and_the_outcome(app):
    reference = ready(app, **{"patient-age": "29", "patient-birth_date": ""})
    with app.app_context():
        case = case_of(reference)
        with write_transaction():
            case.first_report.patient_pregnant = "yes"
            case.pregnancy_lmp = date(2026, 8, 1)
            case.gestation_exposure_weeks = 15
            case.gestation_reaction_weeks = 16
            case.pregnancy_outcome = "ongoing"
            case.pregnancy_detail = "B超示胎儿发育正常"
        document = built(reference)
        compare_with_database(document, case_of(reference))
    assert read(document, patient_obs("22") + "/h:value[@xsi:type='TS']/@value") == ["20260801"]
    suspect, concomitant = document.xpath(DRG, namespaces={"h": "urn:hl7-org:v3"})
    assert read(suspect, GESTATION + "/@value") == ["15"]
    assert read(suspect, GESTATION + "/@unit") == ["wk"]
    assert read(concomitant, GESTATION) == []  # the suspect drugs' exposure
    assert read(document, patient_obs("16")) == []  # the mother is the patient: no foetus
    assert read(document, PR + "/h:player1/h:role") == []
    told = one(document, patient_obs("CN-13") + "/h:value/text()")
    assert told == (
        "是否妊娠：是；末次月经日期：2026-08-01；用药时孕周：15周；发生不良反应时孕周：16周；"
        "妊娠结局：妊娠中；妊娠详情及转归：B超示胎儿发育正常"
    )
    assert f"妊娠报告有关信息：{told}" in one(document, IE + "/h:text/text()")


def test_a_parent_child_report_describes_the_parent_and_the_foetus_s_gestation(app):
    reference = ready(app, **{"patient-name": "王宝宝", "patient-age": "", "patient-sex": "male"})
    with app.app_context():
        case = case_of(reference)
        with write_transaction():
            case.parent_child = True
            case.gestation_reaction_weeks = 20
            case.pregnancy_lmp = date(2026, 6, 1)
            case.parent_initials = "王丽娟"
            case.parent_age_years = 31
            case.parent_sex = "female"
            case.parent_weight_kg = 60.5
            case.parent_height_cm = 162.6
            case.parent_history = "妊娠期高血压"
        document = built(reference)
        compare_with_database(document, case_of(reference))
    assert read(document, patient_obs("16") + "/h:value/@value") == ["20"]  # D.2.2.1
    assert read(document, patient_obs("16") + "/h:value/@unit") == ["wk"]
    assert read(document, patient_obs("3")) == []  # one age element: the foetus's
    assert read(document, PR + "/h:player1/h:birthTime") == []
    assert read(document, patient_obs("22")) == []  # the mother's period is D.10.3
    person = PARENT + "/h:associatedPerson"
    assert read(document, person + "/h:name/text()") == ["WLJ"]  # D.10.1, initials
    assert read(document, person + "/h:administrativeGenderCode/@code") == ["2"]  # D.10.6
    assert read(document, patient_obs("3", PARENT) + "/h:value/@value") == ["31"]  # D.10.2.2
    assert read(document, patient_obs("3", PARENT) + "/h:value/@unit") == ["a"]
    assert read(document, patient_obs("22", PARENT) + "/h:value/@value") == ["20260601"]
    assert read(document, patient_obs("7", PARENT) + "/h:value[@unit='kg']/@value") == ["60.5"]
    assert read(document, patient_obs("17", PARENT) + "/h:value[@unit='cm']/@value") == ["163"]
    assert read(
        document,
        PARENT + "/h:subjectOf2/h:organizer[h:code/@code='1']/h:component"
        "/h:observation[h:code/@code='18']/h:value/text()",
    ) == ["妊娠期高血压"]
    with app.app_context():
        app.config["E2B_PATIENT_NAME"] = "masked"
        masked = parse(e2b.build(case_of(reference)).xml)
        assert read(masked, person + "/h:name/@nullFlavor") == ["MSK"]
        assert "王丽娟" not in etree.tostring(masked, encoding="unicode")
        with write_transaction():
            case_of(reference).parent_child = False
        # D.10 only for a parent-child report; the period is now the boy's.
        assert problem_places(app, reference) == {"#holder-pregnancy"}  # the parent's part too


def test_an_overseas_case_says_where_the_reaction_happened(app):
    reference = ready(app, **{"event-serious": ["hospitalization"]})
    with app.app_context():
        with write_transaction():
            case_of(reference).occurrence_country = "JP"
        document = built(reference)
        compare_with_database(document, case_of(reference))
    assert read(document, RX + "/h:location/h:locatedEntity/h:locatedPlace/h:code/@code") == [
        "JP",
        "JP",
    ]
    assert read(document, CN.format("CN-11")) == ["22"]  # post-marketing, overseas
    assert read(document, SOURCE + "//h:asLocatedEntity/h:location/h:code/@code") == ["JP"]


def test_a_death_with_an_autopsy_carries_its_findings(app):
    reference = ready(
        app,
        **{
            "event-outcome": "death",
            "event-death_cause": "过敏性休克",
            "event-death_date": "2026-11-22",
            "event-name": "过敏性休克",
        },
    )
    findings = (
        AUTOPSY + "/h:outboundRelationship2[@typeCode='DRIV']/h:observation[h:code/@code='8']"
        "/h:value[@codeSystem='2.16.840.1.113883.6.163']/h:originalText/text()"
    )
    with app.app_context():
        assert read(built(reference), AUTOPSY + "/h:value/@nullFlavor") == ["UNK"]
        with write_transaction():
            case_of(reference).autopsy = "yes"
            case_of(reference).autopsy_findings = "喉头水肿致窒息"
        document = built(reference)
        compare_with_database(document, case_of(reference))
        assert read(document, AUTOPSY + "/h:value[@xsi:type='BL']/@value") == ["true"]
        assert read(document, findings) == ["喉头水肿致窒息"]
        with write_transaction():
            case_of(reference).autopsy = "no"
        assert problem_places(app, reference) == {"#holder-death"}  # findings, no autopsy
        with write_transaction():
            case_of(reference).autopsy_findings = None
        document = built(reference)
    assert read(document, AUTOPSY + "/h:value/@value") == ["false"]
    assert read(document, findings) == []


# What stops a file.


def test_what_staff_left_wrong_on_the_holder_form_is_listed_with_its_section(app):
    reference = ready(app)
    with app.app_context():
        case = case_of(reference)
        with write_transaction() as session:
            session.add_all(
                [
                    LabResult(case_id=case.id, position=1, test_name=" ", result_text="阴性"),
                    LabResult(case_id=case.id, position=2, test_name="血钾"),
                    LabResult(case_id=case.id, position=3, test_name="INR", result_value=1.2),
                ]
            )
            case.diseases[0].start_date = date(2026, 11, 1)
            case.diseases[0].end_date = date(2026, 10, 1)
            case.pregnancy_lmp = date(2026, 11, 25)  # after the onset, 2026-11-21
            case.gestation_exposure_weeks = 46
            case.parent_initials = "WLJ"
            case.patient_height_cm = 1580
            case.autopsy = "yes"  # nobody died
        found = e2b.problems(case_of(reference))
        texts_ = [problem.text for problem in found]
        assert {problem.where for problem in found} == {
            "#labs",
            "#diseases",
            "#holder-pregnancy",  # the parent's part is in it
            "#holder-case",
            "#holder-death",
        }
        assert len(texts_) == 9, texts_  # 3 lab, 1 disease, 2 pregnancy, parent, height, death
        assert any("INR" in text and "1" in text for text in texts_)
        with write_transaction():
            case = case_of(reference)
            for result in case.lab_results:
                db.session.delete(result)
            case.diseases[0].end_date = None
            case.pregnancy_lmp = case.gestation_exposure_weeks = case.parent_initials = None
            case.patient_height_cm = case.autopsy = None
            case.diseases[0].meddra_version, case.diseases[0].llt_code = "26.0", 83000016
        assert problem_places(app, reference) == {"#diseases", "#reactions"}
        texts_ = [problem.text for problem in e2b.problems(case_of(reference))]
        assert any("26.0" in text and "27.1" in text for text in texts_)  # one version a file


def test_a_measure_that_is_not_a_number_stops_the_file_and_never_reaches_it(app):
    with app.test_request_context():
        nan = float("nan")
        result = LabResult(test_name="血钾", result_value=nan, unit="mmol/L")
        assert len(e2b_holder.lab_problems(1, result)) == 1
        assert not e2b_holder.whole_cm(nan) and not e2b_holder.whole_cm(1000.0)
        assert e2b_holder.whole_cm(None) and e2b_holder.whole_cm(999.4)


def test_the_rules_refuse_a_file_whose_holder_elements_break_them(app):
    reference = ready(app, **{"patient-age": "29", "patient-birth_date": ""})
    with app.app_context():
        complete_holder_form(case_of(reference))
        with write_transaction():
            case = case_of(reference)
            case.parent_child, case.parent_sex = True, "female"
            case.gestation_reaction_weeks = case.gestation_exposure_weeks = 20
            case.pregnancy_lmp = date(2026, 6, 1)
        xml = e2b.build(case_of(reference)).xml
    assert e2b.check(xml) == []
    h = {"h": "urn:hl7-org:v3"}
    document = parse(xml)
    document.xpath(FR + "/h:value/h:center", namespaces=h)[0].attrib.pop("unit")
    document.xpath(patient_obs("16") + "/h:value", namespaces=h)[0].set("value", "50")
    document.xpath(patient_obs("17") + "/h:value", namespaces=h)[0].set("value", "158.4")
    document.xpath(patient_obs("22", PARENT) + "/h:value", namespaces=h)[0].set("value", "20261130")
    gender = document.xpath(PARENT + "/h:associatedPerson/h:administrativeGenderCode", namespaces=h)
    gender[0].getparent().remove(gender[0])
    document.xpath(RX + "/h:location//h:code", namespaces=h)[0].set("code", "cn")
    document.xpath(HISTORY + "[h:code/@code='83000016']/h:code", namespaces=h)[0].set(
        "codeSystemVersion", "26.0"
    )
    protein = document.xpath(FR, namespaces=h)[1]
    protein.remove(protein.xpath("h:value", namespaces=h)[0])
    errors = e2b.check(etree.tostring(document))
    for rule in (
        "F.r.3.2/F.r.3.3",
        "D.2.2.1/G.k.6",
        "D.4/D.10.5",
        "D.6/D.10.3",
        "D.10.6",
        "E.i.9",
        "MedDRA: more than one version",
        "F.r.3: no result",
    ):
        assert any(error.startswith(rule) for error in errors), (rule, errors)


def test_unverified_regional_holder_elements_only_with_the_setting(app):
    reference = ready(app)
    with app.app_context():
        complete_holder_form(case_of(reference))
        app.config["E2B_UNVERIFIED_REGIONAL"] = False
        off = built(reference)
        app.config.update(E2B_UNVERIFIED_REGIONAL=True, E2B_PATIENT_NAME="masked")
        masked = built(reference)
    assert read(off, f"{DRG}/{DOS}/{EXPIRY}") == [] and read(off, patient_obs("CN-9")) == []
    assert read(off, CN.format("CN-6")) == ["4"]  # C.1.CN.1–3 go always
    assert read(masked, patient_obs("CN-9")) == []  # nationality, like ethnicity: not masked
    assert read(masked, f"{DRG}/{DOS}/{EXPIRY}") == ["20270630"]
