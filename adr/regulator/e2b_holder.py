"""E2B(R3) of the holder's form (上市许可持有人药品不良反应报告表): what staff complete per case.

The builders `adr.regulator.e2b` calls for the related diseases (D.7.1.r, D.7.2), lab results
(F.r), the parent of a parent-child report (D.10), pregnancy (D.CN.6 and H.1), each drug's
strength (G.k.2.3.r) and additional information (G.k.11), the report's source (C.1.CN.1), and
the rules of that data, each with the case page's section where staff put it right. The element
IDs in the comments are ICH's; docs/e2b-mapping.md says where each value comes from and which
readings are ours.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext as _

from adr import vocab
from adr.cases import holder
from adr.i18n import current_language
from adr.models import Case, CaseDisease, LabResult, TermCoding
from adr.regulator.e2b_xml import (
    MEDDRA,
    SEX,
    add_name,
    clean,
    code,
    component_observation,
    day,
    el,
    number,
    observation,
    organizer,
    quantity,
)

# The case page's sections of the holder's form, where each problem is put right.
SECTION = {
    "patient": "#holder-case",
    "diseases": "#diseases",
    "lab": "#labs",
    "pregnancy": "#holder-pregnancy",
    "parent": "#holder-pregnancy",
    "death": "#holder-death",
    "drugs": "#holder-drugs",
}
GESTATION_WEEKS = (0, 45)  # D.2.2.1a and G.k.6a in weeks: a pregnancy lasts at most some 45
REFERENCE_RANGE = "2.16.840.1.113883.5.83"  # HL7 ObservationInterpretation: L low, H high
PARENT_ROLE = "2.16.840.1.113883.5.111"  # HL7 RoleCode: PRN parent
FIELD_MAX = {"D.9.4.r.2": 250, "F.r.3.4": 2000, "F.r.6": 2000, "G.k.11": 2000}

# Units of laboratory results as Chinese reports write them, folded (see `fold_unit`), and
# their UCUM codes (F.r.3.3). A unit not here, nor a UCUM code written as one, is not sent as
# a unit: the number and the unit go as the result's text (F.r.3.4).
LAB_UNITS = {
    "u/l": "U/L",
    "iu/l": "[IU]/L",
    "u/ml": "U/mL",
    "iu/ml": "[IU]/mL",
    "miu/ml": "m[IU]/mL",
    "miu/l": "m[IU]/L",
    "uiu/ml": "u[IU]/mL",
    "mol/l": "mol/L",
    "mmol/l": "mmol/L",
    "umol/l": "umol/L",
    "nmol/l": "nmol/L",
    "pmol/l": "pmol/L",
    "g/l": "g/L",
    "mg/l": "mg/L",
    "ug/l": "ug/L",
    "ng/l": "ng/L",
    "g/dl": "g/dL",
    "mg/dl": "mg/dL",
    "ug/dl": "ug/dL",
    "mg/ml": "mg/mL",
    "ug/ml": "ug/mL",
    "ng/ml": "ng/mL",
    "pg/ml": "pg/mL",
    "10^9/l": "10*9/L",
    "10^12/l": "10*12/L",
    "10^6/l": "10*6/L",
    "%": "%",
    "fl": "fL",
    "pg": "pg",
    "g": "g",
    "mg": "mg",
    "kg": "kg",
    "cm": "cm",
    "mm": "mm",
    "s": "s",
    "秒": "s",
    "min": "min",
    "分钟": "min",
    "h": "h",
    "mm/h": "mm/h",
    "mmhg": "mm[Hg]",
    "kpa": "kPa",
    "ml/min": "mL/min",
    "°c": "Cel",
    "次/分": "/min",
    "次/min": "/min",
    "bpm": "/min",
    "1": "1",  # a ratio (INR, 比值)
}
UCUM_CODES = frozenset(LAB_UNITS.values())
SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")

# A drug's strength (规格) as one amount of one unit: 0.25g, 500 mg, 每袋装10g, 每片含5毫克.
# Anything else (0.5g/10ml, 0.25g(按C16H19N3O5S计), 80万单位) is not parsed: it is sent as text.
STRENGTH = re.compile(r"(?:每[\u4e00-\u9fff]{1,3})?(\d+(?:\.\d+)?)\s*([a-zA-Zμ\u4e00-\u9fff]+)")
STRENGTH_UNITS = {
    "mg": "mg",
    "g": "g",
    "ug": "ug",
    "μg": "ug",
    "mcg": "ug",
    "ml": "mL",
    "l": "L",
    "iu": "[iU]",
    "毫克": "mg",
    "克": "g",
    "微克": "ug",
    "毫升": "mL",
}
# G.k.8, in vocab.ACTION_TAKEN's order.
ACTION_CODE = dict(zip(vocab.ACTION_TAKEN, ("1", "2", "3", "4", "0", "9"), strict=True))
# C.1.CN.1 报告来源 (mapping.md §4) by the 信息来源 the monthly workbook gives the report.
SOURCE_CODE = {  # vocab.HOLDER_REPORT_SOURCE as NMPA codes it
    "regulator": "1",
    "individual": "2",
    "hospital": "3",
    "pharmacy": "4",
    "literature": "5",
    "study": "6",
    "project": "7",
    "other": "8",
}


def zh(key: str) -> str:
    """Return a holder-form item's Chinese label."""
    return vocab.HOLDER_FIELDS[key].zh


# The report's source.


def report_source(source: str | None, organization_type: str | None) -> str:
    """Return C.1.CN.1: the holder form's 报告来源 as NMPA codes it."""
    return SOURCE_CODE[vocab.holder_report_source(source, organization_type)]


# Related diseases and history: D.7.1.r, D.7.2.


def disease_coding(row: CaseDisease, codings: Sequence[TermCoding]) -> tuple[str, int] | None:
    """Return a disease's MedDRA version and LLT: its own, else the code staff gave its text
    as history before the diseases were rows (the report's 原患疾病)."""
    if row.llt_code is not None and row.meddra_version:
        return row.meddra_version, row.llt_code
    name = row.name.strip().casefold()
    coding = next((c for c in codings if c.text.strip().casefold() == name), None)
    return (coding.meddra_version, coding.llt_code) if coding else None


def add_disease(grouping: Any, row: CaseDisease, coding: tuple[str, int]) -> None:
    """Add one D.7.1.r: its LLT, dates, comments (the name as reported) and continuing."""
    obs = component_observation(grouping)
    el(obs, "code", code=str(coding[1]), codeSystem=MEDDRA, codeSystemVersion=coding[0])
    if row.start_date or row.end_date:
        period = el(obs, "effectiveTime", type_="IVL_TS")
        if row.start_date:
            el(period, "low", value=day(row.start_date))  # D.7.1.r.2
        if row.end_date:
            el(period, "high", value=day(row.end_date))  # D.7.1.r.4
    comments = row.name + (f"；{zh('disease-note')}：{row.note}" if row.note else "")
    note = observation(obs, "outboundRelationship2", "10", display="comment", typeCode="COMP")
    el(note, "value", comments, type_="ED")  # D.7.1.r.5
    if row.continuing in vocab.CONTINUING:  # D.7.1.r.3: not known is UNK
        continuing = observation(obs, "inboundRelationship", "13", typeCode="REFR")
        value = {"yes": "true", "no": "false"}.get(row.continuing)
        el(continuing, "value", type_="BL", value=value, nullFlavor=None if value else "UNK")


def disease_text(row: CaseDisease) -> str:
    """Return a disease not coded to MedDRA as D.7.2 tells it: 高血压（开始日期：2015-03-01，…）."""
    details = [
        f"{zh(key)}：{value}"
        for key, value in (
            ("disease-start_date", row.start_date and row.start_date.isoformat()),
            ("disease-end_date", row.end_date and row.end_date.isoformat()),
            ("disease-continuing", vocab.label(vocab.CONTINUING, row.continuing, "zh")),
            ("disease-note", row.note),
        )
        if value
    ]
    return row.name + (f"（{'，'.join(details)}）" if details else "")


def history_text(view: Any, uncoded: Iterable[CaseDisease]) -> str:
    """Return D.7.2: the related diseases not coded, relevant history and earlier reactions."""
    parts = []
    diseases = "、".join(disease_text(row) for row in uncoded)
    if diseases:
        parts.append(f"相关疾病信息：{diseases}")
    history = [vocab.label(vocab.HISTORY, code, "zh") for code in view.patient_history or []]
    if history:
        detail = f"（{view.patient_history_detail}）" if view.patient_history_detail else ""
        parts.append(f"相关重要信息：{'、'.join(history)}{detail}")
    for label, answer, detail in (
        ("既往药品不良反应", view.patient_past_adr, view.patient_past_adr_detail),
        ("家族药品不良反应", view.patient_family_adr, view.patient_family_adr_detail),
    ):
        if answer:
            said = vocab.label(vocab.YES_NO_UNKNOWN, answer, "zh")
            parts.append(f"{label}：{said}" + (f"，{detail}" if detail else ""))
    return clean("；".join(parts))


def add_history(role: Any, case: Case, view: Any, codings: Sequence[TermCoding]) -> None:
    """Add D.7.1.r (the diseases coded, other history texts staff coded) and D.7.2 (the rest)."""
    coded, uncoded = [], []
    for row in case.diseases:
        coding = disease_coding(row, codings)
        if coding:
            coded.append((row, coding))
        else:
            uncoded.append(row)
    names = {row.name.strip().casefold() for row in case.diseases}
    others = [c for c in codings if c.text.strip().casefold() not in names]
    text = history_text(view, uncoded)
    if not coded and not others and not text:
        return
    grouping = organizer(role, "1", "relevantMedicalHistoryAndConcurrentConditions")
    for row, coding in coded:
        add_disease(grouping, row, coding)
    for other in others:
        obs = component_observation(grouping)
        code(obs, str(other.llt_code), MEDDRA, codeSystemVersion=other.meddra_version)
    if text:
        obs = observation(
            grouping,
            "component",
            "18",
            display="historyAndConcurrentConditionText",
            typeCode="COMP",
        )
        el(obs, "value", text, type_="ED")


# Pregnancy: D.CN.6 and H.1.


def pregnancy_text(case: Case, view: Any) -> str:
    """Return the pregnancy as D.CN.6 and the narrative tell it, in Chinese; "" if none."""
    if not holder.is_pregnancy(case, view):
        return ""
    parts = []
    if "pregnancy" in (view.patient_history or []):
        detail = view.patient_history_detail
        parts.append("妊娠期" + (f"：{detail}" if detail else ""))
    if view.patient_pregnant:
        said = vocab.label(vocab.PREGNANT, view.patient_pregnant, "zh")
        parts.append(f"{vocab.FIELDS['patient-pregnant'].zh}：{said}")
    if case.pregnancy_lmp:
        parts.append(f"{zh('pregnancy_lmp')}：{case.pregnancy_lmp.isoformat()}")
    for key in ("gestation_exposure_weeks", "gestation_reaction_weeks"):
        if getattr(case, key) is not None:
            parts.append(f"{zh(key)}：{getattr(case, key)}周")
    if case.pregnancy_outcome:
        outcome = vocab.label(vocab.PREGNANCY_OUTCOME, case.pregnancy_outcome, "zh")
        parts.append(f"{zh('pregnancy_outcome')}：{outcome}")
    if case.pregnancy_detail:
        parts.append(f"{zh('pregnancy_detail')}：{case.pregnancy_detail}")
    return clean("；".join(parts))


# The parent of a parent-child report: D.10.


def add_parent(person: Any, case: Case, initials: str | None) -> None:
    """Add D.10 under the patient (the child): the parent's initials as `initials` shows them,
    age, last menstrual period, weight, height, sex and history."""
    role = el(person, "role", classCode="PRS")
    code(role, "PRN", PARENT_ROLE, "parent")
    parent = el(role, "associatedPerson", classCode="PSN", determinerCode="INSTANCE")
    add_name(parent, case.parent_initials, initials)  # D.10.1
    if case.parent_sex in SEX:  # D.10.6: required once D.10 is sent
        el(parent, "administrativeGenderCode", code=SEX[case.parent_sex], codeSystem="1.0.5218")
    else:
        el(parent, "administrativeGenderCode", nullFlavor="UNK")
    if case.parent_age_years is not None:  # D.10.2.2a/b
        quantity(observation(role, "subjectOf2", "3", display="age"), case.parent_age_years, "a")
    if case.pregnancy_lmp:  # D.10.3: the mother's last period
        lmp = observation(role, "subjectOf2", "22", display="lastMenstrualPeriodDate")
        el(lmp, "value", type_="TS", value=day(case.pregnancy_lmp))
    if case.parent_weight_kg:  # D.10.4
        quantity(
            observation(role, "subjectOf2", "7", display="bodyWeight"), case.parent_weight_kg, "kg"
        )
    if case.parent_height_cm:  # D.10.5, a whole number
        quantity(
            observation(role, "subjectOf2", "17", display="height"),
            round(case.parent_height_cm),
            "cm",
        )
    if case.parent_history:  # D.10.7.2
        grouping = organizer(role, "1", "relevantMedicalHistoryAndConcurrentConditions")
        text = observation(
            grouping,
            "component",
            "18",
            display="historyAndConcurrentConditionText",
            typeCode="COMP",
        )
        el(text, "value", case.parent_history, type_="ED")


# Lab results: F.r.


def fold_unit(unit: str) -> str:
    """Return a unit as LAB_UNITS keys it: full-width and case folded, μ as u, no spaces,
    ×10⁹/L, 10E9/L and 10*9/L all as 10^9/l."""
    text = re.sub("[⁰¹²³⁴⁵⁶⁷⁸⁹]+", lambda m: "^" + m.group().translate(SUPERSCRIPT), unit)
    text = unicodedata.normalize("NFKC", text).casefold().replace("μ", "u").replace(" ", "")
    return re.sub(r"^[×x*]?10(?:\^|e|\*)(\d+)", r"10^\1", text)


def ucum(unit: str | None) -> str | None:
    """Return a lab unit's UCUM code, or None when it is not one we know (see LAB_UNITS)."""
    text = (unit or "").strip()
    if not text:
        return None
    return text if text in UCUM_CODES else LAB_UNITS.get(fold_unit(text))


def as_number(text: str | None) -> float | None:
    """Return a normal-range value that is a plain number, else None."""
    folded = unicodedata.normalize("NFKC", text or "").strip()
    return float(folded) if NUMBER.fullmatch(folded) else None


@dataclass(frozen=True)
class LabSent:
    """A lab result as F.r sends it: a number with a UCUM unit (F.r.3.2, F.r.3.3) and its normal
    range in that unit (F.r.4, F.r.5), or the result as text (F.r.3.4); comments (F.r.6)."""

    unit: str | None
    text: str | None
    low: float | None
    high: float | None
    comments: str


def lab_sent(result: LabResult) -> LabSent:
    """Return how a lab result is sent: see LabSent; the rest of what staff wrote is comments."""
    unit = ucum(result.unit) if result.result_value is not None else None
    if unit:
        text = None
    elif result.result_value is not None:
        text = clean(f"{number(result.result_value)} {result.unit or ''}".strip())
    else:  # in words, with its unit when staff gave one: <0.5 mg/L
        text = clean(f"{result.result_text or ''} {result.unit or ''}".strip()) or None
    low, high = (
        as_number(bound) if unit else None for bound in (result.normal_low, result.normal_high)
    )
    comments = []
    if result.result_value is not None and result.result_text:
        comments.append(f"{zh('lab-result')}：{result.result_text}")
    for key, given, sent in (
        ("lab-normal_low", result.normal_low, low),
        ("lab-normal_high", result.normal_high, high),
    ):
        if given and sent is None:
            comments.append(f"{zh(key)}：{given}")
    if result.more_info:
        comments.append(result.more_info)
    return LabSent(unit, text, low, high, clean("；".join(comments)))


def add_lab_results(role: Any, results: Sequence[LabResult]) -> None:
    """Add F.r: one observation per lab result, in the case's order."""
    if not results:
        return
    grouping = organizer(role, "3", "testsAndProceduresRelevantToTheInvestigation")
    for result in results:
        sent = lab_sent(result)
        obs = component_observation(grouping)
        coded = result.llt_code is not None and bool(result.meddra_version)
        test = el(
            obs,
            "code",
            code=str(result.llt_code) if coded else None,  # F.r.2.2b
            codeSystem=MEDDRA,
            codeSystemVersion=result.meddra_version if coded else None,  # F.r.2.2a
        )
        el(test, "originalText", result.test_name)  # F.r.2.1
        if result.test_date:  # F.r.1: required beside a test; not known is UNK
            el(obs, "effectiveTime", value=day(result.test_date))
        else:
            el(obs, "effectiveTime", nullFlavor="UNK")
        if sent.unit and result.result_value is not None:  # F.r.3.2, F.r.3.3
            quantity(el(obs, "value", type_="IVL_PQ"), result.result_value, sent.unit, "center")
        elif sent.text:
            el(obs, "value", sent.text, type_="ED")  # F.r.3.4
        for bound, side in ((sent.low, "L"), (sent.high, "H")):  # F.r.4, F.r.5
            if bound is not None and sent.unit:
                limit = el(
                    el(obs, "referenceRange", typeCode="REFV"),
                    "observationRange",
                    classCode="OBS",
                    moodCode="EVN.CRT",
                )
                quantity(limit, bound, sent.unit)
                el(limit, "interpretationCode", code=side, codeSystem=REFERENCE_RANGE)
        if sent.comments:  # F.r.6
            comment = observation(
                obs, "outboundRelationship2", "10", display="comment", typeCode="PERT"
            )
            el(comment, "value", sent.comments, type_="ED")
        more = observation(
            obs, "outboundRelationship2", "25", display="moreInformationAvailable", typeCode="REFR"
        )
        el(more, "value", type_="BL", value="false")  # F.r.7: nothing more is held


# A drug's strength and additional information: G.k.2.3.r, G.k.11.


def strength(text: str | None) -> tuple[float, str] | None:
    """Return a strength's amount and UCUM unit when it is one amount of one unit, else None."""
    match = STRENGTH.fullmatch(unicodedata.normalize("NFKC", text or "").strip())
    unit = STRENGTH_UNITS.get(match.group(2).casefold()) if match else None
    return (float(match.group(1)), unit) if match and unit else None


def add_strength(kind: Any, substance: str, amount: tuple[float, str]) -> None:
    """Add G.k.2.3.r: the substance as reported (the generic name) and its strength per unit."""
    ingredient = el(kind, "ingredient", classCode="ACTI")
    ratio = el(ingredient, "quantity")
    quantity(ratio, amount[0], amount[1], "numerator")  # G.k.2.3.r.3a/b
    el(ratio, "denominator", value="1")
    named = el(ingredient, "ingredientSubstance", classCode="MMAT", determinerCode="KIND")
    el(named, "name", substance)  # G.k.2.3.r.1


def drug_information(strength_text: str | None, duration: str | None) -> str:
    """Return G.k.11: a strength not sent as an amount, a duration no dosage row can carry."""
    parts = []
    if strength_text:
        parts.append(f"{zh('drug-strength')}：{strength_text}")
    if duration:
        parts.append(f"{zh('drug-duration')}：{duration}")
    return clean("；".join(parts))


# What stops a file.


def field(key: str) -> str:
    """Return a holder-form item's label in the page's language."""
    return vocab.HOLDER_FIELDS[key].text(current_language())


def holder_problems(case: Case, view: Any, onset: date | None, died: bool) -> list[tuple[str, str]]:
    """Return what stops a file in what staff completed of the holder's form: (text, where)."""
    found = [(text, SECTION["diseases"]) for text in disease_problems(case.diseases)]
    for position, result in enumerate(case.lab_results, 1):
        found += [(text, SECTION["lab"]) for text in lab_problems(position, result)]
    found += [(text, SECTION["pregnancy"]) for text in pregnancy_problems(case, view, onset)]
    found += [(text, SECTION["parent"]) for text in parent_problems(case)]
    found += [(text, SECTION["death"]) for text in death_problems(case, died)]
    if not whole_cm(case.patient_height_cm):  # D.4: three digits
        found.append((height_problem("patient_height_cm"), SECTION["patient"]))
    return found


def whole_cm(height: float | None) -> bool:
    """Tell whether a height, if given, rounds to the 1 to 3 digits D.4 and D.10.5 allow."""
    return height is None or (math.isfinite(height) and 1 <= round(height) <= 999)


def height_problem(key: str) -> str:
    return _("%(field)s must be between 1 and 999 cm.", field=field(key))


def too_long(label: str, element: str) -> str:
    return _(
        "%(field)s is longer than the %(n)s characters E2B allows.",
        field=label,
        n=FIELD_MAX[element],
    )


def disease_problems(diseases: Sequence[CaseDisease]) -> list[str]:
    found = []
    for row in diseases:
        if not row.name.strip():
            found.append(_("A related disease has no name."))
        elif row.start_date and row.end_date and row.end_date < row.start_date:
            found.append(_("Related disease “%(name)s” ends before it starts.", name=row.name))
    return found


def lab_problems(position: int, result: LabResult) -> list[str]:
    """Return what is wrong with one lab result for F.r."""
    name = result.test_name.strip()
    found = []
    if not name:
        found.append(_("Lab result %(n)s has no test name.", n=position))
    shown = name or str(position)
    if result.result_value is None and not (result.result_text or "").strip():
        found.append(_("Lab test “%(test)s” has no result.", test=shown))
    if result.result_value is not None and not math.isfinite(result.result_value):
        found.append(_("Lab test “%(test)s” has a result that is not a number.", test=shown))
    elif result.result_value is not None and not (result.unit or "").strip():
        found.append(
            _(
                "Lab test “%(test)s” has a number but no unit (for a ratio such as INR, "
                "the unit is 1).",
                test=shown,
            )
        )
    sent = lab_sent(result)
    for element, value in (("F.r.3.4", sent.text), ("F.r.6", sent.comments)):
        if value and len(value) > FIELD_MAX[element]:
            found.append(
                too_long(
                    _("Lab test “%(test)s” (%(element)s)", test=shown, element=element), element
                )
            )
    return found


def pregnancy_problems(case: Case, view: Any, onset: date | None) -> list[str]:
    found = []
    if case.pregnancy_lmp and onset and case.pregnancy_lmp > onset:
        found.append(
            _(
                "The last menstrual period (%(lmp)s) is after the reaction began (%(onset)s).",
                lmp=case.pregnancy_lmp.isoformat(),
                onset=onset.isoformat(),
            )
        )
    low, high = GESTATION_WEEKS
    for key in ("gestation_exposure_weeks", "gestation_reaction_weeks"):
        weeks = getattr(case, key)
        if weeks is not None and not low <= weeks <= high:
            found.append(
                _(
                    "%(field)s must be between %(low)s and %(high)s weeks.",
                    field=field(key),
                    low=low,
                    high=high,
                )
            )
    mother = case.parent_sex if case.parent_child else view.patient_sex
    if mother == "male" and case.pregnancy_lmp:
        found.append(_("A last menstrual period is given for a man."))
    return found


def parent_problems(case: Case) -> list[str]:
    given = [name for name in holder.PARENT_ITEMS if getattr(case, name) not in (None, "")]
    found = []
    age = case.parent_age_years
    if age is not None and not 0 <= age <= 999:  # D.10.2.2a: three digits
        found.append(_("%(field)s must be between 0 and 999.", field=field("parent_age_years")))
    if given and not case.parent_child:
        found.append(
            _(
                "The parent's details (%(items)s) are for a parent-child report, which this "
                "case is not.",
                items="、".join(field(name) for name in given),
            )
        )
    if not whole_cm(case.parent_height_cm):  # D.10.5: three digits
        found.append(height_problem("parent_height_cm"))
    weight = case.parent_weight_kg
    if weight is not None and not (
        math.isfinite(weight) and weight > 0 and len(number(weight)) <= 6
    ):
        found.append(
            _(
                "%(field)s must be a weight in kg of at most 6 characters.",
                field=field("parent_weight_kg"),
            )
        )
    return found


def death_problems(case: Case, died: bool) -> list[str]:
    found = []
    if case.autopsy_findings and case.autopsy != "yes":
        found.append(_("Autopsy findings are given, but no autopsy is recorded as done."))
    if (case.autopsy == "yes" or case.autopsy_findings) and not died:
        found.append(_("An autopsy is recorded, but the patient did not die."))
    if case.autopsy_findings and len(case.autopsy_findings) > FIELD_MAX["D.9.4.r.2"]:
        found.append(too_long(field("autopsy_findings"), "D.9.4.r.2"))
    return found
