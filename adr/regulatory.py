"""Pure rules of the regulation: reference, seriousness, deadline, validity, completeness."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from adr import vocab
from adr.vocab import HEALTH_PROFESSIONALS

CHINA = ZoneInfo("Asia/Shanghai")

# Crockford base 32: no I, L, O or U, so a reference read aloud or copied by hand survives.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_RE = re.compile(r"ADR-(\d{4})(0[1-9]|1[0-2])-([0-9A-HJKMNP-TV-Z]{6})")
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})

# The holder's clock (NMPA 2018 No. 66, GVP 2021): a death at once, serious 15 days, every
# other report 30, a new non-serious reaction included (`due_at`'s `new_days`: Order 81 Art. 20
# gave it 15, which a company's SOP may keep).
DAYS_TO_REPORT = {"death": 1, "serious": 15, "new": 30, "new_serious": 15, "general": 30}
DEATH_INVESTIGATION_DAYS = 15  # Order 81 Art. 22: the manufacturer investigates every death
GROUP_EVENT_INVESTIGATION_DAYS = 7  # Order 81 Art. 28: a group event investigated within 7 days
# The case statuses without a deadline, and those still owing the regulator a report: kept beside
# STATUS in vocab, which the models read them from.
NOT_FOR_REGULATOR = vocab.NOT_FOR_REGULATOR
OPEN_STATUSES = vocab.OPEN_STATUSES
# Words people type where a name would go when they will not or cannot give one.
PLACEHOLDERS = frozenset([
    "不详", "未知", "匿名", "无", "某某", "某", "患者", "病人", "本人", "无名", "无名氏", "保密",
    "不知道", "不清楚", "略", "空", "暂无",
    "unknown", "unk", "anonymous", "anon", "na", "none", "null", "nil", "noname", "notknown",
    "x", "xx", "xxx",
])  # fmt: skip
AGE_LIMITS = {"year": 150, "month": 1800, "day": 3660}


def china_date(moment: datetime) -> date:
    """Return the calendar date in China of an aware moment."""
    return moment.astimezone(CHINA).date()


def china_today(now: datetime | None = None) -> date:
    """Return today's date in China time."""
    return china_date(now or datetime.now(UTC))


def new_reference(received_at: datetime) -> str:
    """Return a fresh random reference `ADR-YYYYMM-XXXXXX` for a report received then."""
    month = received_at.astimezone(CHINA).strftime("%Y%m")
    number = secrets.randbits(30)  # six characters of five bits each, drawn at once
    suffix = "".join(CROCKFORD[number >> shift & 31] for shift in range(25, -1, -5))
    return f"ADR-{month}-{suffix}"


def normalize_reference(text: str) -> str | None:
    """Return the reference a person typed in canonical form, or None if it is not one.

    Case does not matter, and O, I and L in the random part are read as 0, 1 and 1.
    """
    candidate = text.strip().upper()
    head, _, suffix = candidate.rpartition("-")
    candidate = f"{head}-{suffix.translate(_READ_AS)}"
    return candidate if REFERENCE_RE.fullmatch(candidate) else None


def is_serious(criteria: Iterable[str], outcome: str | None) -> bool:
    """Tell whether a reaction is serious: any criterion ticked, or a death."""
    return bool(list(criteria)) or outcome == "death"


def report_category(serious: bool, new: bool = False) -> str:
    """Return the 报告类型 code from seriousness and expectedness."""
    if new:
        return "new_serious" if serious else "new"
    return "serious" if serious else "general"


def end_of_china_day(day: date) -> datetime:
    """Return 23:59:59 China time of `day`, in UTC."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=CHINA).astimezone(UTC)


def is_overseas(country: str | None) -> bool:
    """Tell whether a reaction happened outside China mainland (境外, Hong Kong and Macao and
    Taiwan included); None is the mainland, as the public form assumes."""
    return country not in (None, "", "CN")


def due_at(
    day_zero: date, category: str, death: bool, new_days: int = 30, overseas: bool = False
) -> datetime | None:
    """Return the deadline: the end of the China day N days after day 0, in UTC.

    N is 1 for a death (立即报告), 15 for a serious reaction, `new_days` for a new non-serious
    one, 30 otherwise. A reaction overseas (境外) is due in 15 days when serious, a death
    included; one not serious is none: it goes in the periodic report (NMPA 2018 No. 66).
    """
    if overseas:
        serious = death or category in ("serious", "new_serious")
        return end_of_china_day(day_zero + timedelta(days=15)) if serious else None
    if death:
        days = DAYS_TO_REPORT["death"]
    else:
        days = new_days if category == "new" else DAYS_TO_REPORT[category]
    return end_of_china_day(day_zero + timedelta(days=days))


def is_death_clock(day_zero: date, due: datetime) -> bool:
    """Tell whether a deadline is a death's (立即报告): the day after day 0."""
    return china_date(due) - day_zero == timedelta(days=DAYS_TO_REPORT["death"])


def investigation_due_at(day_zero: date) -> datetime:
    """Return when the investigation report of a death is due: 15 days after day 0."""
    return end_of_china_day(day_zero + timedelta(days=DEATH_INVESTIGATION_DAYS))


def group_event_investigation_due(known_on: date) -> date:
    """Return the day a group adverse event's investigation is due: 7 days after day 0
    (Order 81 Art. 28)."""
    return known_on + timedelta(days=GROUP_EVENT_INVESTIGATION_DAYS)


def is_overdue(due: datetime | None, sent_on: date | None, now: datetime) -> bool:
    """Tell whether a report has a deadline, has not reached the regulator, and it has passed.

    Invalid and duplicate cases have no deadline (`due` None); a case is closed only once its
    reports were sent.
    """
    return due is not None and sent_on is None and now > due


def triage_late_before(now: datetime) -> datetime:
    """Return the moment before which a message of the safety inbox still untriaged is late:
    one working day before `now`, counting Monday to Friday in China time (a weekend does not
    count). Public holidays are not counted: there is no calendar of them here."""
    local = now.astimezone(CHINA)
    if local.weekday() >= 5:  # at a weekend, Friday's end
        local = datetime.combine(local.date() - timedelta(days=local.weekday() - 5), time(), CHINA)
    before = local - timedelta(days=1)
    while before.weekday() >= 5:
        before -= timedelta(days=1)
    return before.astimezone(UTC)


def identifies(text: str | None) -> bool:
    """Tell whether a typed name names someone: not empty, not a placeholder such as 不详 or N/A.

    Full-width characters and case do not matter; text of only punctuation names nobody.
    """
    folded = unicodedata.normalize("NFKC", text or "").casefold()
    letters = "".join(char for char in folded if char.isalnum())  # N/A, (不详), x-x: na, 不详, xx
    return bool(letters) and letters not in PLACEHOLDERS


def age_at(birth: date, onset: date, unit: str) -> int:
    """Return the whole years, months or days from birth to onset."""
    if unit == "day":
        return (onset - birth).days
    months = (onset.year - birth.year) * 12 + onset.month - birth.month
    if onset.day < birth.day:
        months -= 1
    return months // 12 if unit == "year" else months


def age_in_years(
    age: int | None, unit: str | None, birth: date | None, onset: date | None
) -> int | None:
    """Return the patient's whole years at the reaction: from the date of birth to the onset
    (today when it is not known), else from the age as given; None when neither tells."""
    if birth:
        return age_at(birth, max(birth, onset or china_today()), "year")
    if age is None:
        return None
    return {"year": age, "month": age // 12, "day": age // 365}.get(unit or "year")


def natural_age(birth: date, onset: date) -> tuple[int, str]:
    """Return the age at onset as clinicians write it: years; months under 1; days under 1 month."""
    for unit in ("year", "month"):
        age = age_at(birth, onset, unit)
        if age >= 1:
            return age, unit
    return age_at(birth, onset, "day"), "day"


class DrugFacts(Protocol):
    role: str
    brand_name: str | None
    generic_name: str | None
    approval_number: str | None
    manufacturer: str | None
    batch_number: str | None
    dose: float | None
    dose_unit: str | None
    route: str | None
    frequency: str | None
    start_date: date | None
    indication: str | None


class CaseFacts(Protocol):
    reporter_kind: str | None
    reporter_name: str | None
    reporter_phone: str | None
    reporter_email: str | None
    reporter_organization: str | None
    patient_name: str | None
    patient_sex: str | None
    patient_birth_date: date | None
    patient_age: int | None
    patient_weight_kg: float | None
    patient_disease: str | None
    patient_past_adr: str | None
    patient_family_adr: str | None
    event_name: str | None
    event_onset_date: date | None
    event_description: str | None
    event_outcome: str | None
    event_dechallenge: str | None
    event_rechallenge: str | None

    @property
    def drugs(self) -> Sequence[DrugFacts]: ...


def suspect_drugs(case: CaseFacts) -> list[DrugFacts]:
    """Return the drugs the reporter suspects."""
    return [drug for drug in case.drugs if drug.role == "suspect"]


def is_valid_case(case: CaseFacts) -> bool:
    """Tell whether the four minimum elements of a valid case are present.

    An identifiable patient, an identifiable reporter, a suspect drug and a reaction.
    """
    return all(minimum_elements(case).values())


def identifiable_patient(
    name: str | None, sex: str | None, age: int | None, birth_date: date | None
) -> bool:
    """Tell whether a patient is identifiable: initials or a name, a known sex, an age or a
    date of birth (GVP 2021's minimum for an identifiable patient)."""
    return identifies(name) or sex in ("male", "female") or age is not None or bool(birth_date)


def minimum_elements(case: CaseFacts) -> dict[str, bool]:
    """Return which of the four minimum elements a case holds: patient, reporter, drug, reaction.

    Placeholders (不详, 匿名, unknown, -) identify nobody.
    """
    return {
        "patient": identifiable_patient(
            case.patient_name, case.patient_sex, case.patient_age, case.patient_birth_date
        ),
        "reporter": identifies(case.reporter_name)
        or bool(case.reporter_phone or case.reporter_email),
        "drug": any(
            identifies(d.brand_name) or identifies(d.generic_name) for d in suspect_drugs(case)
        ),
        "reaction": identifies(case.event_name),
    }


@dataclass(frozen=True)
class Completeness:
    """How complete a report is: a score of 0–100 and the names of what is missing."""

    score: int
    missing: list[str]


def completeness(case: CaseFacts) -> Completeness:
    """Score the share of the national form's prompted items that the report fills."""
    items: dict[str, object] = {
        "reporter-kind": case.reporter_kind,
        "reporter-name": case.reporter_name,
        "reporter-phone": case.reporter_phone or case.reporter_email,
    }
    if case.reporter_kind in HEALTH_PROFESSIONALS:
        items["reporter-organization"] = case.reporter_organization
    items |= {
        "patient-name": case.patient_name,
        "patient-sex": case.patient_sex,
        "patient-birth_date": case.patient_birth_date or case.patient_age is not None,
        "patient-weight_kg": case.patient_weight_kg,
        "patient-disease": case.patient_disease,
        "patient-past_adr": case.patient_past_adr,
        "patient-family_adr": case.patient_family_adr,
    }
    for index, drug in enumerate(case.drugs):
        if drug.role != "suspect":
            continue
        prefix = f"drugs-{index}-"
        items |= {
            prefix + "generic_name": drug.generic_name or drug.brand_name,
            prefix + "approval_number": drug.approval_number,
            prefix + "manufacturer": drug.manufacturer,
            prefix + "batch_number": drug.batch_number,
            prefix + "dose": drug.dose is not None and drug.dose_unit,
            prefix + "route": drug.route,
            prefix + "frequency": drug.frequency,
            prefix + "start_date": drug.start_date,
            prefix + "indication": drug.indication,
        }
    items |= {
        "event-name": case.event_name,
        "event-onset_date": case.event_onset_date,
        "event-description": case.event_description,
        "event-outcome": case.event_outcome,
        "event-dechallenge": case.event_dechallenge,
        "event-rechallenge": case.event_rechallenge,
    }
    missing = [name for name, value in items.items() if not value]
    return Completeness(round(100 * (len(items) - len(missing)) / len(items)), missing)


# The staff workflow.

TRANSITIONS = {
    "received": {"in_review", "assessed", "invalid", "duplicate"},  # assessed: when complete
    "in_review": {"assessed", "invalid", "duplicate"},
    "assessed": {"in_review", "submitted", "invalid", "duplicate"},
    "submitted": {"closed", "in_review"},
    "closed": {"in_review"},
    "invalid": {"in_review"},
    "duplicate": {"in_review"},
}


def can_move(status: str, to: str) -> bool:
    """Tell whether the workflow allows going from `status` to `to` (staying put is allowed)."""
    return to == status or to in TRANSITIONS.get(status, set())


# The Naranjo algorithm: ten answers, a score, a band, and the WHO-UMC level it suggests.

NARANJO_SCORES = [
    (1, 0, 0), (2, -1, 0), (1, 0, 0), (2, -1, 0), (-1, 2, 0),
    (-1, 1, 0), (1, 0, 0), (1, 0, 0), (1, 0, 0), (1, 0, 0),
]  # fmt: skip
_ANSWER_INDEX = {"yes": 0, "no": 1, "unknown": 2}


def naranjo_score(answers: Sequence[str]) -> int:
    """Return the Naranjo score of ten answers (`yes`, `no`, `unknown`)."""
    if len(answers) != len(NARANJO_SCORES):
        raise ValueError("the Naranjo questionnaire has ten questions")
    return sum(scores[_ANSWER_INDEX[a]] for scores, a in zip(NARANJO_SCORES, answers, strict=True))


def naranjo_band(score: int) -> str:
    """Return the published band: definite ≥ 9, probable 5–8, possible 1–4, doubtful ≤ 0."""
    if score >= 9:
        return "definite"
    if score >= 5:
        return "probable"
    return "possible" if score >= 1 else "doubtful"


SUGGESTED_CAUSALITY = {
    "definite": "certain",
    "probable": "probable",
    "possible": "possible",
    "doubtful": "unlikely",
}
