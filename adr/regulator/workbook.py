"""The monthly regulator workbook (spec/export.md), streamed from the database.

openpyxl write-only sheets are fed by a query that yields reports in batches with
their drugs loaded per batch, so memory stays flat however large the month.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any

import sqlalchemy as sa
from flask import current_app
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy.engine import Row

from adr import meddra, reactions, regulatory, vocab
from adr.cases.holder import DrugDetails, drug_details, is_overseas
from adr.cases.view import VIEW_COLUMNS, CurrentView, current_view
from adr.extensions import db
from adr.intake.forms import plain_number
from adr.models import Product
from adr.reactions import PairFacts, ReactionFacts
from adr.regulator.rows import plain_rows
from adr.vocab import Term

MONTH_RE = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
BATCH_SIZE = 1000
# Characters XML 1.0 forbids: most C0 controls, lone surrogates, U+FFFE and U+FFFF.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Text starting with these could be read as a formula or an error value by a spreadsheet.
_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "#")
# One of them at the start of a text of texts joined by NUL (`checked`).
_TRIGGERED = re.compile(f"(?:^|\x00)[{re.escape(''.join(_TRIGGERS))}]")

PHRASES = {
    "initial": vocab.REPORT_KIND["initial"],
    "follow_up": vocab.REPORT_KIND["follow_up"],
    "yes": vocab.YES_NO["yes"],
    "no": vocab.YES_NO["no"],
    "batch": Term("批号", "batch"),
    "reason": Term("用药原因", "reason"),
    "until": Term("至", " to "),
    "ongoing": Term("今", "now"),
    "manifestation": Term("表现", "effects"),
    "cause": Term("直接死因", "cause"),
    "death_date": Term("死亡时间", "died"),
    "list": Term("、", ", "),
    # How the parts of a composite cell join: `批号:20260315A`, `batch: 20260315A`.
    "colon": Term(":", ": "),
    "semicolon": Term(";", "; "),
    "confirmed": Term("审核确认", "confirmed"),
    "open": Term("(", " ("),
    "unit": Term("", " "),  # between a number and its unit: `33岁`, `33 years`
    "normal_range": Term("正常值范围", "normal range"),
    "started": vocab.HOLDER_FIELDS["disease-start_date"],
    "ended": vocab.HOLDER_FIELDS["disease-end_date"],
    "continuing": Term("仍存在", "still present"),
}
# A report or drug as the export reads it: a database row, its columns as attributes.
Record = Any
SHEETS = (
    Term("个例报告", "Reports"),
    Term("药品", "Drugs"),
    Term("汇总", "Summary"),
    Term("不予上报", "Not reported"),
    Term("持有人报告表", "Holder form"),
)
# Headers the sheets share.
REFERENCE = Term("报告编码", "Reference")
REPORT_KIND = Term("首次/跟踪报告", "Initial or follow-up")
RECEIVED = Term("接收日期", "Received")
STATUS = Term("处理状态", "Status")
EVENT_NAME = Term("不良反应/事件名称", "Reaction")


def parse_month(text: str) -> tuple[datetime, datetime]:
    """Return the UTC bounds [start, end) of a `YYYY-MM` month in China time.

    Raises ValueError, saying how to write it, when the month is malformed.
    """
    match = MONTH_RE.fullmatch(text)
    if not match:
        raise ValueError(f"not a month: {text!r}; write it as YYYY-MM, for example 2026-11")
    year, month = int(match[1]), int(match[2])
    try:
        start = datetime(year, month, 1, tzinfo=regulatory.CHINA)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=regulatory.CHINA)
        return start.astimezone(UTC), end.astimezone(UTC)
    except (ValueError, OverflowError):  # 0000-01, 0001-01, 9999-12: beyond the calendar
        raise ValueError(f"not a month the calendar holds: {text!r}") from None


def previous_month(now: datetime) -> str:
    """Return the month before `now`'s in China, as YYYY-MM: the one the regulator asks for."""
    first = regulatory.china_date(now).replace(day=1)
    return f"{first - timedelta(days=1):%Y-%m}"


def clean(text: str) -> str:
    """Remove what XML cannot hold; keep everything else exactly as typed."""
    return _FORBIDDEN.sub("", text)


@dataclass
class Summary:
    """The month's counts, gathered while the rows stream by."""

    reports: int = 0
    drugs: int = 0
    serious: int = 0
    deaths: int = 0
    new: int = 0
    follow_ups: int = 0
    overdue: int = 0
    not_reported: int = 0  # reports of invalid cases and duplicate copies, in sheet 不予上报
    holder_rows: int = 0  # rows of sheet 持有人报告表: a report's reactions and suspect drugs
    outcomes: Counter[str] = field(default_factory=Counter)
    products: Counter[str] = field(default_factory=Counter)
    batches: Counter[str] = field(default_factory=Counter)


class Writer:
    """Turns reports into the cells of the regulator's form, in one language."""

    def __init__(self, language: str, now: datetime) -> None:
        self.language = language
        self.english = language.startswith("en")
        self.now = now
        self.words = {key: term.text(language) for key, term in PHRASES.items()}
        self.columns = report_columns(self)
        self.drugs_of_report: list[Record] = []  # the drugs of the report being written
        self._labels: dict[int, dict[str, str]] = {}  # each code list's labels, by id
        self._countries: dict[str, str] | None = None

    def term(self, codes: vocab.CodeList, code: str | None) -> str | None:
        labels = self._labels.get(id(codes))
        if labels is None:
            labels = self._labels[id(codes)] = {c: t.text(self.language) for c, t in codes.items()}
        return labels.get(code) if code else None

    def joined(self, codes: vocab.CodeList, chosen: list[str]) -> str:
        return self.words["list"].join(self.term(codes, code) or code for code in chosen)

    def with_detail(self, label: str | None, detail: str | None) -> str | None:
        """Return `有:detail` (`Yes: detail`), or the label alone, or the detail alone."""
        return self.words["colon"].join(part for part in (label, detail) if part) or None

    def with_unit(self, number: str, unit: str | None) -> str:
        """Return `33岁`, `0.5g` in Chinese; `33 years`, `0.5 g` in English."""
        return f"{number}{self.words['unit']}{unit}" if unit else number

    def age(self, report: Record) -> str | None:
        """Return `45岁`, `8月` or `12天`; from the birth date at onset when no age was given."""
        age, unit = report.patient_age, report.patient_age_unit or "year"
        birth, onset = report.patient_birth_date, report.event_onset_date
        if age is None and birth and onset and birth <= onset:
            age, unit = regulatory.natural_age(birth, onset)
        if age is None:
            return None
        label = self.term(vocab.AGE_UNIT, unit)
        if self.english and age == 1 and label:
            label = label.removesuffix("s")  # 1 year, 1 month, 1 day
        return self.with_unit(str(age), label)

    def dosage(self, drug: Record) -> str | None:
        """Return 用法用量: the dose, route and frequency, `0.5g 口服 每日3次`."""
        dose = None
        if drug.dose is not None:
            dose = self.with_unit(f"{drug.dose:g}", self.term(vocab.DOSE_UNIT, drug.dose_unit))
        parts = [dose, self.term(vocab.ROUTE, drug.route), drug.frequency]
        return " ".join(part for part in parts if part) or None

    def period(self, drug: Record) -> str | None:
        """Return the dates a drug was taken: `2026-11-20至2026-11-22`, `2026-11-20至今`."""
        if not (drug.start_date or drug.end_date):
            return None
        end = drug.end_date.isoformat() if drug.end_date else self.words["ongoing"]
        return f"{drug.start_date or ''}{self.words['until']}{end}"

    def drug_line(self, drug: Record) -> str:
        """Return one drug as the form's cell reads it; empty parts left out with their label."""
        name = (drug.generic_name or "") + (f"[{drug.brand_name}]" if drug.brand_name else "")
        parts = [
            name,
            drug.approval_number,
            drug.manufacturer,
            self.with_detail(self.words["batch"], drug.batch_number) if drug.batch_number else None,
            self.dosage(drug),
            self.period(drug),
            self.with_detail(self.words["reason"], drug.indication) if drug.indication else None,
        ]
        return " ".join(part for part in parts if part)

    def drugs(self, report: Record, suspect: bool) -> str | None:
        drugs = self.drugs_of_report
        lines = [self.drug_line(d) for d in drugs if (d.role == "suspect") == suspect]
        return "\n".join(lines) or None

    def outcome(self, report: Record) -> str | None:
        """Return `好转`, `有后遗症(表现:…)` or `死亡(直接死因:…;死亡时间:…)`."""
        label = self.term(vocab.OUTCOME, report.event_outcome)
        w = self.words
        details: list[str | None] = []
        if report.event_outcome == "sequelae" and report.event_sequelae_detail:
            details = [self.with_detail(w["manifestation"], report.event_sequelae_detail)]
        if report.event_outcome == "death":
            death_date = report.event_death_date and report.event_death_date.isoformat()
            details = [
                self.with_detail(w["cause"], report.event_death_cause)
                if report.event_death_cause
                else None,
                self.with_detail(w["death_date"], death_date) if death_date else None,
            ]
        corrected = report.decided_outcome
        if corrected and corrected != report.event_outcome:
            details.append(self.with_detail(w["confirmed"], self.term(vocab.OUTCOME, corrected)))
        inside = w["semicolon"].join(d for d in details if d)
        return f"{label or ''}{w['open']}{inside})" if inside else label

    def death(self, report: Record) -> bool:
        """Tell whether a report counts as a death: reported, confirmed, or due at once."""
        return "death" in (report.event_outcome, report.decided_outcome) or bool(
            report.day_zero
            and report.due_at
            and regulatory.is_death_clock(report.day_zero, report.due_at)
        )

    def criteria(self, report: Record) -> str | None:
        """Return the seriousness criteria the reporter gave and staff confirmed, when serious."""
        if not report.serious:
            return None
        chosen = dict.fromkeys([*report.event_serious, *(report.decided_serious or [])])
        return self.joined(vocab.SERIOUSNESS, list(chosen)) or None

    def overdue(self, report: Record) -> bool:
        """Tell whether the report reached the regulator after its due date, or is unsent past it.

        A report without a deadline (the case lacks a minimum element) is never overdue.
        """
        if report.due_at is None:
            return False
        sent_on = report.submitted_to_regulator_on
        if sent_on is not None:
            return bool(sent_on > regulatory.china_date(report.due_at))
        return regulatory.is_overdue(report.due_at, sent_on, self.now)

    def report_kind(self, report: Record) -> str:
        return self.words["follow_up" if report.follow_up_of_id else "initial"]

    def reason_not_reported(self, report: Record) -> str | None:
        """Return why a report is not for the regulator: `重复:<the case's first report>` for a
        copy of what its case held, or why the case is invalid."""
        if report.duplicate_copy:
            return self.with_detail(self.term(vocab.STATUS, "duplicate"), report.first_reference)
        why = self.term(vocab.INVALID_REASON, report.invalid_reason)
        return self.with_detail(why, report.status_reason) if why else report.status_reason

    def status_not_reported(self, report: Record) -> str | None:
        return self.term(vocab.STATUS, "duplicate" if report.duplicate_copy else report.status)

    def history(self, report: Record) -> str | None:
        return self.with_detail(
            self.joined(vocab.HISTORY, report.patient_history) or None,
            report.patient_history_detail,
        )

    def yes_no(self, flag: bool) -> str:
        return self.words["yes" if flag else "no"]

    def country(self, code: str | None) -> str | None:
        """Return a country's name in the workbook's language (the code when Babel lacks it)."""
        if not code:
            return None
        if self._countries is None:
            self._countries = dict(vocab.countries(self.language))
        return self._countries.get(code, code)

    def duration(self, details: DrugDetails) -> str | None:
        """Return 用药时间: `3天`, `3 days`."""
        if details.duration_value is None:
            return None
        unit = self.term(vocab.DURATION_UNIT, details.duration_unit)
        if self.english and details.duration_value == 1 and unit:
            unit = unit.removesuffix("s")
        return self.with_unit(str(details.duration_value), unit)

    def normal_range(self, low: str | None, high: str | None) -> str | None:
        """Return a normal range as labs print it: `0–40`, `≥3.5`, `≤40`."""
        if low and high:
            return f"{low}–{high}"
        return f"≥{low}" if low else f"≤{high}" if high else None

    def lab_line(self, lab: Record) -> str:
        """Return one lab result: `谷丙转氨酶 2026-11-21 120 U/L 正常值范围:0–40`."""
        result = plain_number(lab.result_value) if lab.result_value is not None else lab.result_text
        normal = self.normal_range(lab.normal_low, lab.normal_high)
        parts = [
            lab.test_name,
            lab.test_date and lab.test_date.isoformat(),
            " ".join(part for part in (result, lab.unit) if part),
            self.with_detail(self.words["normal_range"], normal) if normal else None,
        ]
        return " ".join(part for part in parts if part)

    def disease_line(self, disease: Record) -> str:
        """Return one related disease: `高血压 开始日期:2019-03-01 仍存在:是` and its note."""
        w = self.words
        continuing = self.term(vocab.CONTINUING, disease.continuing)
        start, end = disease.start_date, disease.end_date
        parts = [
            disease.name,
            self.with_detail(w["started"], start.isoformat()) if start else None,
            self.with_detail(w["ended"], end.isoformat()) if end else None,
            self.with_detail(w["continuing"], continuing) if continuing else None,
            disease.note,
        ]
        return " ".join(part for part in parts if part)

    def coding(self, case: Record, reaction: Record | None, level: str) -> str | None:
        """Return a reaction's MedDRA LLT (`10037087 皮疹 (27.1)`) or its PT, where coded."""
        if reaction is None or reaction.llt_code is None:
            return None
        hit = case.meddra.get((reaction.meddra_version, reaction.llt_code))
        if level == "llt":
            name = f" {hit.llt_name}" if hit else ""
            return f"{reaction.llt_code}{name} ({reaction.meddra_version})"
        return f"{hit.pt_code} {hit.pt_name}" if hit else None


Column = tuple[Term, Callable[[Record], Any]]


def report_columns(w: Writer) -> list[Column]:
    """Return the 42 columns of sheet 个例报告, in the national form's order."""
    china_day = regulatory.china_date
    return [
        (REFERENCE, lambda r: r.reference),
        (REPORT_KIND, w.report_kind),
        (
            Term("原始报告编码", "Reference of the first report"),
            lambda r: r.first_reference if r.follow_up_of_id else None,
        ),
        (
            Term("报告类型", "Report type"),
            lambda r: w.term(vocab.REPORT_CATEGORY, r.report_category),
        ),
        (RECEIVED, lambda r: r.aware_on),
        (Term("报告时限", "Due"), lambda r: china_day(r.due_at) if r.due_at else None),
        (Term("是否逾期", "Overdue"), lambda r: w.words["yes" if w.overdue(r) else "no"]),
        (
            Term("报告人职业", "Reporter's occupation"),
            lambda r: w.term(vocab.OCCUPATION, vocab.occupation(r.reporter_kind)),
        ),
        (
            Term("信息来源", "Information source"),
            lambda r: w.term(
                vocab.INFORMATION_SOURCE,
                vocab.information_source(r.source, r.reporter_organization_type),
            ),
        ),
        (Term("报告人姓名", "Reporter's name"), lambda r: r.reporter_name),
        (Term("报告人联系电话", "Reporter's phone"), lambda r: r.reporter_phone),
        (Term("报告人电子邮箱", "Reporter's e-mail"), lambda r: r.reporter_email),
        (Term("报告人单位", "Reporter's organisation"), lambda r: r.reporter_organization),
        (Term("患者姓名", "Patient"), lambda r: r.patient_name),
        (Term("性别", "Sex"), lambda r: w.term(vocab.SEX, r.patient_sex)),
        (Term("出生日期", "Date of birth"), lambda r: r.patient_birth_date),
        (Term("年龄", "Age"), w.age),
        (Term("民族", "Ethnic group"), lambda r: r.patient_ethnicity),
        (Term("体重(kg)", "Weight (kg)"), lambda r: r.patient_weight_kg),
        (Term("患者联系方式", "Patient's phone"), lambda r: r.patient_phone),
        (Term("原患疾病", "Condition treated"), lambda r: r.patient_disease),
        (Term("医院名称", "Hospital"), lambda r: r.patient_hospital),
        (Term("病历号/门诊号", "Record number"), lambda r: r.patient_record_number),
        (
            Term("既往药品不良反应/事件", "Earlier drug reactions"),
            lambda r: w.with_detail(
                w.term(vocab.YES_NO_UNKNOWN, r.patient_past_adr), r.patient_past_adr_detail
            ),
        ),
        (
            Term("家族药品不良反应/事件", "Reactions in the family"),
            lambda r: w.with_detail(
                w.term(vocab.YES_NO_UNKNOWN, r.patient_family_adr), r.patient_family_adr_detail
            ),
        ),
        (Term("相关重要信息", "Relevant history"), w.history),
        (Term("怀疑药品", "Suspected drugs"), lambda r: w.drugs(r, suspect=True)),
        (Term("并用药品", "Other drugs"), lambda r: w.drugs(r, suspect=False)),
        (EVENT_NAME, lambda r: r.event_name),
        (Term("发生时间", "Onset"), lambda r: r.event_onset_date),
        (Term("过程描述及处理情况", "Description and treatment"), lambda r: r.event_description),
        (Term("结果", "Outcome"), w.outcome),
        (
            Term("停药或减量后反应是否消失或减轻", "Dechallenge"),
            lambda r: w.term(vocab.DECHALLENGE, r.event_dechallenge),
        ),
        (
            Term("再次使用后是否再次出现", "Rechallenge"),
            lambda r: w.term(vocab.RECHALLENGE, r.event_rechallenge),
        ),
        (
            Term("对原患疾病的影响", "Effect on the condition"),
            lambda r: w.term(vocab.DISEASE_IMPACT, r.event_disease_impact),
        ),
        (
            Term("严重性标准", "Seriousness criteria"),
            w.criteria,
        ),
        (
            Term("报告人关联性评价", "Reporter's causality"),
            lambda r: w.term(vocab.CAUSALITY, r.event_causality),
        ),
        (
            Term("报告单位关联性评价", "Company's causality"),
            lambda r: w.term(vocab.CAUSALITY, r.company_causality),
        ),
        (STATUS, lambda r: w.term(vocab.STATUS, r.status)),
        (Term("上报日期", "Sent to the national system"), lambda r: r.submitted_to_regulator_on),
        (Term("国家系统报告编号", "National case number"), lambda r: r.national_case_number),
        (Term("备注", "Remarks"), lambda r: r.remarks),
    ]


# After the 42 columns of the national form (the contract's checker compares the first 42
# headers, so these two pass it; spec/export.md itself names only the 42): each coded
# reaction's PT and primary SOC, one a line, in the version it was coded in (as the sheet
# 持有人报告表 and the E2B file give them); empty where nothing is coded.
MEDDRA_COLUMNS = [
    Term("MedDRA首选语(PT)", "MedDRA PT"),
    Term("MedDRA系统器官分类(SOC)", "MedDRA SOC"),
]


def pt_and_soc(h: HolderReport) -> list[str | None]:
    """Return the PT and SOC cells of a report: its coded reactions' terms, each once."""
    hits = [
        h.case.meddra.get((reaction.meddra_version, reaction.llt_code))
        for reaction, _facts in h.reactions
        if reaction.llt_code is not None
    ]
    pts = dict.fromkeys(f"{hit.pt_code} {hit.pt_name}" for hit in hits if hit)
    socs = dict.fromkeys(f"{hit.soc_code} {hit.soc_name}" for hit in hits if hit and hit.soc_code)
    return ["\n".join(pts) or None, "\n".join(socs) or None]


def drug_columns(w: Writer) -> list[tuple[Term, Callable[[Record, Record], Any]]]:
    """Return the 14 columns of sheet 药品."""
    fields = vocab.FIELDS
    return [
        (REFERENCE, lambda r, d: r.reference),
        (fields["drug-role"], lambda r, d: w.term(vocab.DRUG_ROLE, d.role)),
        (fields["drug-approval_number"], lambda r, d: d.approval_number),
        (fields["drug-brand_name"], lambda r, d: d.brand_name),
        (fields["drug-generic_name"], lambda r, d: d.generic_name),
        (fields["drug-manufacturer"], lambda r, d: d.manufacturer),
        (fields["drug-batch_number"], lambda r, d: d.batch_number),
        (fields["drug-dose"], lambda r, d: d.dose),
        (fields["drug-dose_unit"], lambda r, d: w.term(vocab.DOSE_UNIT, d.dose_unit)),
        (fields["drug-route"], lambda r, d: w.term(vocab.ROUTE, d.route)),
        (fields["drug-frequency"], lambda r, d: d.frequency),
        (fields["drug-start_date"], lambda r, d: d.start_date),
        (fields["drug-end_date"], lambda r, d: d.end_date),
        (fields["drug-indication"], lambda r, d: d.indication),
    ]


def not_reported_columns(w: Writer) -> list[Column]:
    """Return the 6 columns of sheet 不予上报: reports of invalid and duplicate cases."""
    return [
        (REFERENCE, lambda r: r.reference),
        (REPORT_KIND, w.report_kind),
        (RECEIVED, lambda r: r.aware_on),
        (STATUS, w.status_not_reported),
        (Term("原因", "Reason"), w.reason_not_reported),
        (EVENT_NAME, lambda r: r.event_name),
    ]


@dataclass(frozen=True)
class HolderReport:
    """What the rows of one report on sheet 持有人报告表 share, worked out once for all of them.

    `case` is what the holder's form adds to the reports (`holder_cases`); `reactions` are the
    reactions the report had, with their values; `suspects` its suspect and interacting drugs,
    with their details.
    """

    report: Record
    case: Record
    serious: bool  # 严重报告: the report is serious, or any one of its reactions is
    reactions: list[tuple[Record, ReactionFacts]]
    suspects: list[tuple[Record, DrugDetails]]


def holder_report(report: Record, drugs: list[Record], case: Record) -> HolderReport:
    """Return what a report's rows on sheet 持有人报告表 share.

    The reactions are the case's, those a later report first named left out; suspect and
    interacting drugs are the 怀疑用药 (their causality is judged per reaction, G.k.9.i).
    """
    upto = case.order.get(report.id, len(case.order))
    judged = [
        (reaction, reactions.reaction_facts(reaction, case, report))
        for reaction in reactions.sent(case)
        if case.order.get(reaction.report_id, 0) <= upto
    ]
    serious = bool(report.serious) or any(facts.serious for _, facts in judged)
    suspects = [  # the action taken read as the E2B file reads it (`drug_details`)
        (drug, drug_details(case, drug, report.event_dechallenge))
        for drug in drugs
        if drug.role in reactions.ASSESSED_ROLES
    ]
    return HolderReport(report, case, serious, judged, suspects)


ReportCell = Callable[[HolderReport], Any]
DrugCell = Callable[[Record, DrugDetails], Any]
ReactionCell = Callable[[Record, ReactionFacts, Record], Any]  # the reaction, its values, the case
PairCell = Callable[[PairFacts], Any]


@dataclass(frozen=True)
class HolderColumns:
    """The columns of sheet 持有人报告表 in the form's order (docs/holder-form.md), in the runs a
    row is made of: the report and its case, the suspect drug, the reaction, the drug and the
    reaction judged together, then where it happened and who reported it. Each run is worked
    out once for what it describes, not once a row."""

    report: list[tuple[Term, ReportCell]]
    drug: list[tuple[Term, DrugCell]]
    reaction: list[tuple[Term, ReactionCell]]
    pair: list[tuple[Term, PairCell]]
    reporter: list[tuple[Term, ReportCell]]

    def terms(self) -> list[Term]:
        runs = (self.report, self.drug, self.reaction, self.pair, self.reporter)
        return [term for run in runs for term, _ in run]


def holder_columns(w: Writer) -> HolderColumns:
    """Return the columns of sheet 持有人报告表, in the form's order (docs/holder-form.md)."""
    form, fields, holder, staff = (
        vocab.HOLDER_FORM,
        vocab.FIELDS,
        vocab.HOLDER_FIELDS,
        vocab.STAFF_FIELDS,
    )

    def causality(name: str) -> PairCell:
        return lambda pair: w.term(vocab.CAUSALITY, getattr(pair, name))

    return HolderColumns(
        report=[
            (REFERENCE, lambda h: h.report.reference),
            (form["serious_report"], lambda h: w.yes_no(h.serious)),
            (form["overseas_report"], lambda h: w.yes_no(is_overseas(h.case))),
            (REPORT_KIND, lambda h: w.report_kind(h.report)),
            (form["case_number"], lambda h: h.report.first_reference),
            (
                form["report_source"],
                lambda h: w.term(
                    vocab.HOLDER_REPORT_SOURCE,
                    vocab.holder_report_source(
                        h.report.source, h.report.reporter_organization_type
                    ),
                ),
            ),
            (form["patient_name"], lambda h: h.report.patient_name),
            (fields["patient-sex"], lambda h: w.term(vocab.SEX, h.report.patient_sex)),
            (fields["patient-birth_date"], lambda h: h.report.patient_birth_date),
            (fields["patient-age"], lambda h: w.age(h.report)),
            (holder["patient_nationality"], lambda h: w.country(h.case.patient_nationality)),
            (form["ethnicity"], lambda h: h.report.patient_ethnicity),
            (holder["patient_height_cm"], lambda h: h.case.patient_height_cm),
            (fields["patient-weight_kg"], lambda h: h.report.patient_weight_kg),
            (form["patient_phone"], lambda h: h.report.patient_phone),
            (
                fields["patient-pregnant"],
                lambda h: w.term(vocab.PREGNANT, h.report.patient_pregnant),
            ),
            (
                form["diseases"],
                lambda h: "\n".join(w.disease_line(d) for d in h.case.diseases) or None,
            ),
        ],
        drug=[
            (fields["drug-approval_number"], lambda d, _: d.approval_number),
            (form["brand_name"], lambda d, _: d.brand_name),
            (form["generic_name"], lambda d, _: d.generic_name),
            (holder["drug-dosage_form"], lambda _, details: details.dosage_form),
            (holder["drug-strength"], lambda _, details: details.strength),
            (form["holder"], lambda d, _: d.manufacturer),
            (form["batch_number"], lambda d, _: d.batch_number),
            (holder["drug-expiry_date"], lambda _, details: details.expiry_date),
            (form["dosage"], lambda d, _: w.dosage(d)),
            (form["period"], lambda d, _: w.period(d)),
            (holder["drug-duration"], lambda _, details: w.duration(details)),
            (fields["drug-indication"], lambda d, _: d.indication),
            (
                holder["drug-action_taken"],
                lambda _, details: w.term(vocab.ACTION_TAKEN, details.action_taken),
            ),
        ],
        reaction=[
            (form["reaction_name"], lambda r, f, case: r.reported_term),
            (form["llt"], lambda r, f, case: w.coding(case, r, "llt")),
            (form["pt"], lambda r, f, case: w.coding(case, r, "pt")),
            (form["onset"], lambda r, f, case: f.onset_date),
            (form["end"], lambda r, f, case: f.end_date),
            (form["serious"], lambda r, f, case: w.yes_no(bool(f.serious))),
            (form["criteria"], lambda r, f, case: w.joined(vocab.SERIOUSNESS, f.serious) or None),
            (form["outcome"], lambda r, f, case: w.term(vocab.OUTCOME, f.outcome)),
        ],
        pair=[
            (staff["event-causality"], causality("reporter_causality")),
            (form["holder_causality"], causality("company_causality")),
        ],
        reporter=[
            (fields["event-province"], lambda h: h.report.event_province),
            (fields["event-city"], lambda h: h.report.event_city),
            (
                form["labs"],
                lambda h: "\n".join(w.lab_line(lab) for lab in h.case.lab_results) or None,
            ),
            (staff["reporter-name"], lambda h: h.report.reporter_name),
            (staff["reporter-kind"], lambda h: w.term(vocab.REPORTER_KIND, h.report.reporter_kind)),
            (staff["reporter-phone"], lambda h: h.report.reporter_phone),
            (staff["reporter-email"], lambda h: h.report.reporter_email),
            (staff["reporter-organization"], lambda h: h.report.reporter_organization),
            (fields["case-awareness_date"], lambda h: h.report.aware_on),
        ],
    )


def holder_rows(
    sheet: WriteOnlyWorksheet, h: HolderReport, columns: HolderColumns
) -> Iterator[list[Any]]:
    """Yield a report's rows on sheet 持有人报告表, ready for `append` (as `row_of` makes them):
    one per reaction and suspect drug.

    A report naming no reaction or no suspect drug still has a row, those columns empty. Each
    run of a row is worked out and its text checked once, for all the rows that share it.
    """
    report, report_formula = checked([cell(h) for _, cell in columns.report])
    reporter, reporter_formula = checked([cell(h) for _, cell in columns.reporter])
    shared_formula = report_formula or reporter_formula
    drugs = [
        (drug, *checked([cell(drug, details) for _, cell in columns.drug]))
        for drug, details in h.suspects
    ] or [(None, [None] * len(columns.drug), False)]
    named = [
        (reaction, *checked([cell(reaction, facts, h.case) for _, cell in columns.reaction]))
        for reaction, facts in h.reactions
    ] or [(None, [None] * len(columns.reaction), False)]
    unjudged: tuple[list[Any], bool] = ([None] * len(columns.pair), False)
    for reaction, reaction_cells, reaction_formula in named:
        for drug, drug_cells, drug_formula in drugs:
            pair_cells, pair_formula = unjudged
            if reaction is not None and drug is not None:
                pair = reactions.pair_facts(reaction, drug, h.case, h.report)
                pair_cells, pair_formula = checked([cell(pair) for _, cell in columns.pair])
            row = [*report, *drug_cells, *reaction_cells, *pair_cells, *reporter]
            formula = shared_formula or drug_formula or reaction_formula or pair_formula
            yield text_cells(sheet, row) if formula else row


def holder_cases(case_ids: set[int], language: str) -> dict[int, Any]:
    """Return what the holder's form adds to the reports of each case, read for many at once.

    Plain rows, in a few queries for the whole batch (so the session keeps none of them): the
    case's own columns, the order of its reports (`order`), its reactions and what is judged of
    each drug and reaction, related diseases, lab results, each drug's details, and the MedDRA
    names of its coded reactions (`meddra`).
    """
    tables = db.metadata.tables
    cases_t, reports = tables["safety_case"], tables["report"]
    reaction_t, judged = tables["reaction"], tables["drug_reaction"]
    ids = padded(case_ids)
    found: dict[int, Any] = {}
    columns = [
        cases_t.c[name]
        for name in (
            "id",
            "occurrence_country",
            "patient_nationality",
            "patient_height_cm",
            "assessed_serious",
            "assessed_outcome",
            "company_causality",
            "death",
        )
    ]
    for row in db.session.execute(sa.select(*columns).where(cases_t.c.id.in_(ids))):
        found[row.id] = SimpleNamespace(
            **row._asdict(),
            reports=[],
            order={},
            reactions=[],
            diseases=[],
            lab_results=[],
            drug_details=[],
            meddra={},
        )
    ordered = sa.select(
        reports.c.id, reports.c.case_id, reports.c.event_onset_date, reports.c.event_serious
    ).order_by(
        reports.c.case_id, reports.c.follow_up_of_id.is_not(None), reports.c.added_at, reports.c.id
    )
    for row in db.session.execute(ordered.where(reports.c.case_id.in_(ids))):
        case = found[row.case_id]
        case.order[row.id] = len(case.reports)
        case.reports.append(row)
    by_id = {}
    for row in db.session.execute(
        sa.select(reaction_t)
        .where(reaction_t.c.case_id.in_(ids))
        .order_by(reaction_t.c.case_id, reaction_t.c.position, reaction_t.c.id)
    ):
        by_id[row.id] = reaction = SimpleNamespace(**row._asdict(), assessments=[])
        found[row.case_id].reactions.append(reaction)
    for row in db.session.execute(
        sa.select(judged)
        .join(reaction_t, reaction_t.c.id == judged.c.reaction_id)
        .where(reaction_t.c.case_id.in_(ids))
        .order_by(judged.c.id)
    ):
        by_id[row.reaction_id].assessments.append(row)
    for table, attribute in (
        ("case_disease", "diseases"),
        ("lab_result", "lab_results"),
        ("case_drug", "drug_details"),
    ):
        rows = tables[table]
        order = [rows.c.position] if "position" in rows.c else []
        query = sa.select(rows).where(rows.c.case_id.in_(ids)).order_by(*order, rows.c.id)
        for row in db.session.execute(query):
            getattr(found[row.case_id], attribute).append(row)
    add_meddra_names(found, "en" if language.startswith("en") else "zh")
    return found


def padded(ids: set[int]) -> list[int]:
    """Return the ids, the last repeated up to a batch's size.

    Every batch's `IN (…)` then has as many parameters, so it is one statement the driver
    prepares once and keeps, not one more kept in its cache a batch (12 MB in 10,000 reports).
    """
    ordered = sorted(ids)
    return ordered + ordered[-1:] * (BATCH_SIZE - len(ordered))


def add_meddra_names(cases: dict[int, Any], language: str) -> None:
    """Give each case the MedDRA names of its coded reactions, by (version, LLT code)."""
    coded: dict[str, set[int]] = {}
    for case in cases.values():
        for reaction in case.reactions:
            if reaction.llt_code is not None and reaction.meddra_version:
                coded.setdefault(reaction.meddra_version, set()).add(reaction.llt_code)
    hits = {
        (version, hit.llt_code): hit
        for version, codes in coded.items()
        for hit in meddra.described(sorted(codes), version, language)
    }
    for case in cases.values():
        case.meddra = {
            key: hits[key]
            for key in ((r.meddra_version, r.llt_code) for r in case.reactions)
            if key in hits
        }


def reports_in(
    first_day: date, next_day: date, language: str
) -> Iterator[tuple[Any, list[Any], Any]]:
    """Yield the reports the company first knew of in [first_day, next_day), oldest first,
    with their drugs and what the holder's form adds of their case, loaded a batch at a time.

    Each row also holds its case's status, reasons, assessment and national number, and the
    reference of the case's first report (`first_reference`). A follow-up comes as the case
    stood once it was added (`as_added`): every field of the form filled, the reporter the
    case's.
    """
    tables = db.metadata.tables
    reports, drugs, cases = tables["report"], tables["drug"], tables["safety_case"]
    head = reports.alias("first_report")
    first_reference = (
        sa.select(head.c.reference)
        .where(head.c.case_id == reports.c.case_id, head.c.follow_up_of_id.is_(None))
        .scalar_subquery()
    )
    query = (
        sa.select(
            reports,
            first_reference.label("first_reference"),
            cases.c.status,
            cases.c.status_reason,
            cases.c.invalid_reason,
            cases.c.national_case_number,
            cases.c.company_causality,
        )
        .join(cases, cases.c.id == reports.c.case_id)
        .where(reports.c.aware_on >= first_day, reports.c.aware_on < next_day)
        .order_by(reports.c.aware_on, reports.c.received_at, reports.c.id)
        .execution_options(yield_per=BATCH_SIZE)
    )
    for batch in db.session.execute(query).partitions():
        drugs_of: dict[int, list[Row[Any]]] = {row.id: [] for row in batch}
        batch_drugs = (
            sa.select(drugs)
            .where(drugs.c.report_id.in_(list(drugs_of)))
            .order_by(drugs.c.report_id, drugs.c.position)
        )
        for drug in db.session.execute(batch_drugs):
            drugs_of[drug.report_id].append(drug)
        earlier = earlier_reports([row.case_id for row in batch if row.follow_up_of_id])
        holder = holder_cases({row.case_id for row in batch}, language)
        for row in batch:
            if row.follow_up_of_id and row.case_id in earlier:
                yield *as_added(row, earlier[row.case_id]), holder[row.case_id]
            else:
                yield row, drugs_of[row.id], holder[row.case_id]
        del batch, drugs_of, earlier, holder  # before the next batch is read, not after


def earlier_reports(case_ids: list[int]) -> dict[int, list[Any]]:
    """Return the reports of the cases, in each case's order, with their drugs: plain rows,
    so that the session keeps none of them and memory stays flat over the month."""
    if not case_ids:
        return {}
    tables = db.metadata.tables
    reports, drugs = tables["report"], tables["drug"]
    rows = db.session.execute(
        sa.select(reports)
        .where(reports.c.case_id.in_(set(case_ids)))
        .order_by(
            reports.c.case_id,
            reports.c.follow_up_of_id.is_not(None),
            reports.c.added_at,
            reports.c.id,
        )
    ).all()
    drugs_of: dict[int, list[Row[Any]]] = {}
    for drug in db.session.execute(
        sa.select(drugs)
        .where(drugs.c.report_id.in_([row.id for row in rows]))
        .order_by(drugs.c.report_id, drugs.c.position)
    ):
        drugs_of.setdefault(drug.report_id, []).append(drug)
    found: dict[int, list[Any]] = {}
    for row in rows:
        values = row._asdict() | {name: getattr(row, name) or [] for name in LISTS}
        report = SimpleNamespace(**values, drugs=drugs_of.get(row.id, []))
        found.setdefault(row.case_id, []).append(report)
    return found


class AsAdded:
    """A follow-up's row with the case's view as it stood once the follow-up was added."""

    def __init__(self, row: Row[Any], view: CurrentView) -> None:
        self._row, self._view = row, view

    def __getattr__(self, name: str) -> Any:
        if name in VIEW_COLUMNS:
            return self._view.values.get(name, [] if name in LISTS else None)
        return getattr(self._row, name)


LISTS = ("patient_history", "event_serious")  # ticked codes: none is an empty list


def as_added(row: Row[Any], reports: list[Any]) -> tuple[AsAdded, list[Any]]:
    """Return the row of a follow-up as the case stood with it, and the case's drugs then."""
    upto = next((index for index, r in enumerate(reports) if r.id == row.id), len(reports) - 1)
    view = current_view(reports[: upto + 1])
    return AsAdded(row, view), view.drugs


def month_days(month: str) -> tuple[date, date]:
    """Return the first China day of `month` (YYYY-MM) and that of the month after."""
    start, end = parse_month(month)
    return regulatory.china_date(start), regulatory.china_date(end)


def checked(values: list[Any]) -> tuple[list[Any], bool]:
    """Return the values with what XML cannot hold removed from their text, and whether any of
    that text could be read as a formula (its row then needs `text_cells`)."""
    texts = [v for v in values if v.__class__ is str]
    if not texts:
        return values, False
    if _FORBIDDEN.search("".join(texts)):  # one search a row, not one a cell
        values = [clean(v) if isinstance(v, str) else v for v in values]
        texts = [clean(text) for text in texts]
    # NUL, removed by `clean`, parts the texts: one search for a trigger at the start of any.
    return values, _TRIGGERED.search("\x00".join(texts)) is not None


def text_cells(sheet: WriteOnlyWorksheet, values: list[Any]) -> list[Any]:
    """Return a row as cells whose text is text, a formula-like value kept as typed."""
    cells = []
    for value in values:  # openpyxl reuses a styled cell for the rest of the row: make each one
        cell = WriteOnlyCell(sheet, value)
        if isinstance(value, str):
            cell.data_type = "s"
            cell.quotePrefix = value.startswith(_TRIGGERS)
        cells.append(cell)
    return cells


def row_of(sheet: WriteOnlyWorksheet, values: list[Any]) -> list[Any]:
    """Return a row for `append`: text that could be read as a formula forced to text cells."""
    values, formula_like = checked(values)
    return text_cells(sheet, values) if formula_like else values


def start_sheet(sheet: WriteOnlyWorksheet, terms: list[Term], language: str) -> None:
    """Write the bold, frozen header row; widths and panes must come before any row."""
    headers = [term.text(language) for term in terms]
    for index, (term, header) in enumerate(zip(terms, headers, strict=True), 1):
        sheet.column_dimensions[get_column_letter(index)].width = width_for(term, header)
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(sheet, header)
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    plain_rows(sheet)


def end_sheet(sheet: WriteOnlyWorksheet, columns: int, rows: int) -> None:
    """Set the auto-filter over the header and the `rows` written under it."""
    sheet.auto_filter.ref = f"A1:{get_column_letter(columns)}{rows + 1}"


WIDE = {
    "怀疑药品",
    "并用药品",
    "过程描述及处理情况",
    "结果",
    "相关重要信息",
    "备注",
    "原因",
    "相关疾病信息",
    "相关实验室检查信息",
}
# Columns of references such as ADR-202611-7K3QD9 (17 characters) and national numbers.
REFERENCES = {"报告编码", "原始报告编码", "国家系统报告编号", "病例编号"}


def width_for(term: Term, header: str) -> int:
    """Return a width that fits the header (two units a Chinese character) and the column's text."""
    units = sum(2 if ord(char) > 0x2E7F else 1 for char in header) + 2
    least = 40 if term.zh in WIDE else 20 if term.zh in REFERENCES else 12
    return max(units, least)


@contextmanager
def small_page_cache() -> Iterator[None]:
    """Keep SQLite's page cache at its default 2 MiB, not the app's 32 MiB, while the month is read.

    The export reads its pages once, in order: a large cache would only hold memory (some 30 MB
    at 100,000 reports). The setting is the connection's own, so it is put back before the
    connection serves anything else.
    """
    connection = db.session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    kept = connection.exec_driver_sql("PRAGMA cache_size").scalar_one()
    connection.exec_driver_sql("PRAGMA cache_size=-2000")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={int(kept)}")


def write_workbook(month: str, target: str | Path | IO[bytes], language: str = "zh") -> Summary:
    """Write the workbook of `month` (YYYY-MM, China time) to a path or binary stream.

    The month is that of each report's 首次获知日期 (`aware_on`). Reports of invalid cases and
    copies of what a case held already go to sheet 不予上报 only.
    """
    first_day, next_day = month_days(month)
    w = Writer("en" if language == "en" else "zh_CN", datetime.now(UTC))
    columns, drug_cols, excluded_cols = w.columns, drug_columns(w), not_reported_columns(w)
    holder_cols = holder_columns(w)
    workbook = Workbook(write_only=True)
    reports_sheet, drugs_sheet, summary_sheet, excluded_sheet, holder_sheet = (
        workbook.create_sheet(term.text(w.language)) for term in SHEETS
    )
    start_sheet(reports_sheet, [term for term, _ in columns] + MEDDRA_COLUMNS, w.language)
    start_sheet(drugs_sheet, [term for term, _ in drug_cols], w.language)
    start_sheet(excluded_sheet, [term for term, _ in excluded_cols], w.language)
    start_sheet(holder_sheet, holder_cols.terms(), w.language)

    summary = Summary()
    with small_page_cache():
        names = db.session.execute(sa.select(Product.id, Product.generic_name))
        catalogue = {product_id: name for product_id, name in names}
        for report, drugs, case in reports_in(first_day, next_day, w.language):
            if report.status in regulatory.NOT_FOR_REGULATOR or report.duplicate_copy:
                excluded = [value(report) for _, value in excluded_cols]
                excluded_sheet.append(row_of(excluded_sheet, excluded))
                summary.not_reported += 1
                continue
            w.drugs_of_report = drugs
            holder = holder_report(report, drugs, case)
            cells = [value(report) for _, value in columns] + pt_and_soc(holder)
            reports_sheet.append(row_of(reports_sheet, cells))
            for drug in drugs:
                drugs_sheet.append(
                    row_of(drugs_sheet, [value(report, drug) for _, value in drug_cols])
                )
            for row in holder_rows(holder_sheet, holder, holder_cols):
                holder_sheet.append(row)
                summary.holder_rows += 1
            count(summary, report, drugs, w, catalogue)
    end_sheet(reports_sheet, len(columns) + len(MEDDRA_COLUMNS), summary.reports)
    end_sheet(drugs_sheet, len(drug_cols), summary.drugs)
    end_sheet(excluded_sheet, len(excluded_cols), summary.not_reported)
    end_sheet(holder_sheet, len(holder_cols.terms()), summary.holder_rows)
    write_summary(summary_sheet, summary, w, reporting_unit(current_app.config, w, month))
    workbook.save(target)
    db.session.rollback()  # end the long read
    return summary


def count(
    summary: Summary, report: Record, drugs: list[Record], w: Writer, catalogue: dict[int, str]
) -> None:
    """Count a report for the regulator in the month's summary.

    A drug of the company's counts under the catalogue's name of its product (`catalogue`),
    whatever name was typed: Amoxicillin capsules and 阿莫西林胶囊 are one product.
    """
    summary.reports += 1
    summary.drugs += len(drugs)
    summary.serious += report.serious
    summary.deaths += w.death(report)
    summary.new += report.report_category in ("new", "new_serious")
    summary.follow_ups += report.follow_up_of_id is not None
    summary.overdue += w.overdue(report)
    summary.outcomes[w.term(vocab.OUTCOME, report.event_outcome) or "—"] += 1
    for drug in (d for d in drugs if d.role == "suspect"):
        typed = drug.generic_name or drug.brand_name or "—"
        product = clean(catalogue.get(drug.product_id) or typed)
        summary.products[product] += 1
        if drug.batch_number:  # the same batch number of two products is two lines
            summary.batches[f"{product} {clean(drug.batch_number)}"] += 1


SUMMARY_TITLES = {
    "unit": Term("报告单位", "Reporting organisation"),
    "unit_name": Term("单位名称", "Name"),
    "unit_type": Term("报告单位类别", "Type of organisation"),
    "contact": Term("联系人", "Contact person"),
    "phone": Term("联系电话", "Phone"),
    "email": Term("电子邮箱", "E-mail"),
    "period": Term("报告期间", "Reporting period"),
    "totals": Term("本月报告", "Reports this month"),
    "reports": Term("报告总数", "Reports"),
    "serious": Term("严重", "Serious"),
    "deaths": Term("死亡", "Deaths"),
    "new": Term("新的", "New"),
    "follow_ups": Term("跟踪报告", "Follow-ups"),
    "overdue": Term("逾期", "Past their due date"),
    "not_reported": SHEETS[3],
    "outcomes": Term("按结果", "By outcome"),
    "products": Term("按产品(怀疑药品)", "By product (suspected drugs)"),
    "batches": Term("按产品和批号(怀疑药品)", "By product and batch (suspected drugs)"),
    "item": Term("项目", "Item"),
    "count": Term("数量", "Count"),
}
MANUFACTURER = Term("生产企业", "Manufacturer")  # 报告单位类别 of a marketing authorisation holder


def reporting_unit(config: Mapping[str, Any], w: Writer, month: str) -> list[tuple[str, Any]]:
    """Return the 报告单位 block's (item, value) rows from the app's settings."""

    def listed(value: Any) -> str | None:
        items = value if isinstance(value, list | tuple) else [value]
        return w.words["list"].join(str(item) for item in items if item) or None

    title = {key: term.text(w.language) for key, term in SUMMARY_TITLES.items()}
    return [
        (title["unit_name"], config["COMPANY_NAME_EN" if w.english else "COMPANY_NAME"]),
        (title["unit_type"], MANUFACTURER.text(w.language)),
        (title["contact"], listed(config.get("COMPANY_CONTACT"))),
        (title["phone"], listed(config.get("COMPANY_PHONES"))),
        (title["email"], listed(config.get("SAFETY_INBOX"))),
        (title["period"], month),
    ]


def heading(sheet: WriteOnlyWorksheet, text: str) -> None:
    """Append a row of one bold cell: a block's title."""
    cell = WriteOnlyCell(sheet, text)
    cell.font = Font(bold=True)
    sheet.append([cell])


def write_summary(
    sheet: WriteOnlyWorksheet, summary: Summary, w: Writer, unit: list[tuple[str, Any]]
) -> None:
    """Write the 报告单位 block, then the month's counts as blocks of (item, count) rows."""
    title = {key: term.text(w.language) for key, term in SUMMARY_TITLES.items()}
    sheet.column_dimensions["A"].width = 40
    sheet.column_dimensions["B"].width = 40
    heading(sheet, title["unit"])
    for item, value in unit:
        sheet.append(row_of(sheet, [item, value]))
    totals = ("reports", "serious", "deaths", "new", "follow_ups", "overdue", "not_reported")
    blocks = [
        ("totals", [(title[key], getattr(summary, key)) for key in totals]),
        ("outcomes", sorted(summary.outcomes.items(), key=lambda kv: (-kv[1], kv[0]))),
        ("products", sorted(summary.products.items(), key=lambda kv: (-kv[1], kv[0]))),
        ("batches", sorted(summary.batches.items(), key=lambda kv: (-kv[1], kv[0]))),
    ]
    for key, rows in blocks:
        sheet.append([])
        heading(sheet, title[key])
        sheet.append([title["item"], title["count"]])
        for item, number in rows:
            sheet.append(row_of(sheet, [item, number]))


def default_path(instance: Path, month: str) -> Path:
    return instance / "exports" / f"ADR-{month}.xlsx"
