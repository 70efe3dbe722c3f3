"""One case as the holder's form (上市许可持有人药品不良反应报告表(试行)), printed as a PDF.

`form_of` gathers the case as it stands, section by section in the form's order, ready for
templates/review/holder_form.html; `render_pdf` makes the PDF with WeasyPrint, imported only
when a PDF is asked for, so that a server without Pango still serves every other page.

Privacy: the PDF goes to a provincial centre or an inspector, as the E2B file goes to the
national system, so it prints of the patient what the E2B file sends (`e2b`): the name as
`E2B_PATIENT_NAME` lets it out (pinyin initials by default), the patient's own phone and a
patient reporter's phone and e-mail only with `E2B_PATIENT_PHONE`; `masked` also withholds the
birth date (the age stays), ethnicity, hospital and record number. A value withheld prints as
(已隐去), never as an empty box that would read as unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import ClassVar

from flask import current_app

from adr import meddra, reactions, regulatory, vocab
from adr.cases.holder import drug_details, is_overseas, packs
from adr.cases.view import CurrentView, current_view
from adr.intake.forms import plain_number
from adr.models import Case, Drug, Reaction
from adr.regulator import e2b
from adr.regulator.workbook import Writer

# What WeasyPrint needs from Debian (bookworm) besides its Python package, and the fonts the
# stylesheet names.
DEBIAN_PACKAGES = ("libpango-1.0-0", "libpangoft2-1.0-0", "fonts-noto-cjk")


class PdfUnavailable(Exception):
    """WeasyPrint, or the Pango it sets text with, cannot be loaded on this server."""


@dataclass(frozen=True)
class Item:
    """A labelled value of the form; None is left blank."""

    label: str
    value: str | None


@dataclass(frozen=True)
class Box:
    """A tick box of the form and whether it is ticked."""

    label: str
    ticked: bool


DRUG_HEADERS = (
    "drug-approval_number",
    "brand_name",
    "generic_name",
    "drug-dosage_form",
    "drug-strength",
    "holder",
    "batch_number",
    "drug-expiry_date",
    "dosage",
    "period",
    "drug-duration",
    "drug-indication",
    "drug-action_taken",
)
DISEASE_HEADERS = (
    "number",
    "disease-name",
    "meddra",
    "disease-start_date",
    "disease-end_date",
    "disease-continuing",
    "disease-note",
)
LAB_HEADERS = (
    "number",
    "lab-test_name",
    "lab-test_date",
    "lab-result",
    "lab-unit",
    "lab-normal_low",
    "lab-normal_high",
    "lab-more_info",
)
PAIR_HEADERS = (
    "suspect",
    "event-dechallenge",
    "event-rechallenge",
    "event-causality",
    "holder_causality",
)


@dataclass(frozen=True)
class ReactionBlock:
    """One reaction of 不良反应信息: its values, its death details, its drugs' judgements."""

    name: str
    items: list[Item]
    serious: list[Box]
    death: list[Item]
    pairs: list[list[str | None]]  # a suspect drug, dechallenge, rechallenge, causalities


@dataclass(frozen=True)
class HolderForm:
    """The holder's form of one case, every section's values as printed, in one language."""

    language: str
    labels: dict[str, str]
    reference: str
    printed: date
    company: str
    basics: list[Box]
    sources: list[Box]
    basics_items: list[Item]
    patient: list[Item]
    diseases: list[list[str | None]]
    past_adr: list[Item]
    history: list[Item]
    suspects: list[list[Item]]
    concomitants: list[list[Item]]
    reactions: list[ReactionBlock]
    descriptions: list[Item]
    labs: list[list[str | None]]
    pregnancy: list[Item]
    parent: list[Item]
    reporter: list[Item]
    remarks: str | None
    disease_headers: ClassVar[tuple[str, ...]] = DISEASE_HEADERS
    lab_headers: ClassVar[tuple[str, ...]] = LAB_HEADERS
    pair_headers: ClassVar[tuple[str, ...]] = PAIR_HEADERS


def labels(language: str) -> dict[str, str]:
    """Return every label the form prints, by key, in `language`."""
    terms = {
        **vocab.FIELDS,
        **vocab.STAFF_FIELDS,
        **vocab.RECORD_FIELDS,
        **vocab.HOLDER_FIELDS,
        **vocab.HOLDER_FORM,
        "meddra": vocab.Term("MedDRA", "MedDRA"),
        "source": vocab.FIELDS["case-source"],
    }
    return {key: term.text(language) for key, term in terms.items()}


class Printer:
    """Turns a case into the values of its holder's form, in one language."""

    def __init__(self, case: Case, language: str, now: datetime) -> None:
        self.case = case
        self.language = language
        self.w = Writer(language, now)
        self.label = labels(language)
        self.view: CurrentView = current_view(case.reports)
        self.withheld = self.label["withheld"]

    def term(self, codes: vocab.CodeList, code: str | None) -> str | None:
        return self.w.term(codes, code)

    def day(self, value: date | None) -> str | None:
        return value.isoformat() if value else None

    def number(self, value: float | None) -> str | None:
        return plain_number(value) if value is not None else None

    def shown(self, value: str | None, allowed: bool) -> str | None:
        """Return a value the privacy settings let out, (已隐去) for one given but withheld."""
        if not value:
            return None
        return value if allowed else self.withheld

    def coded(self, code: int | None, version: str | None) -> str | None:
        """Return a MedDRA coding as `10037087 皮疹`, or the code alone when not imported."""
        if code is None or not version:
            return None
        hit = meddra.describe(code, version, "en" if self.language == "en" else "zh")
        return f"{code} {hit.llt_name}" if hit else str(code)

    def boxes(self, codes: vocab.CodeList, chosen: set[str]) -> list[Box]:
        return [Box(term.text(self.language), code in chosen) for code, term in codes.items()]

    def basics(self) -> tuple[list[Box], list[Box], list[Item]]:
        """Return 报告基本情况: the report's boxes, 报告来源, and the items beside them."""
        case, view, label = self.case, self.view, self.label
        facts = [reactions.reaction_facts(r, case, view) for r in reactions.sent(case)]
        serious = case.serious or any(fact.serious for fact in facts)
        # 首次报告 is the first the holder submits to the national system (填表说明 一.3): a
        # report is 跟踪 once an earlier one of the case went, as a date sent or an E2B file.
        latest = case.reports[-1]
        follow_up = any(r.submitted_to_regulator_on for r in case.reports[:-1]) or any(
            s.latest_report_id != latest.id for s in case.submissions if s.kind == "report"
        )
        boxes = [
            Box(label["serious_report"], serious),
            Box(label["overseas_report"], is_overseas(case)),
            Box(vocab.REPORT_KIND["initial"].text(self.language), not follow_up),
            Box(vocab.REPORT_KIND["follow_up"].text(self.language), follow_up),
        ]
        first = case.first_report
        source = vocab.holder_report_source(first.source, view.reporter_organization_type)
        items = [
            Item(label["case_number"], first.reference),
            Item(
                label["occurrence_country"], self.w.country(case.occurrence_country or vocab.CHINA)
            ),
            Item(label["case-awareness_date"], self.day(first.aware_on)),
            Item(label["national_case_number"], case.national_case_number),
        ]
        return boxes, self.boxes(vocab.HOLDER_REPORT_SOURCE, {source}), items

    def patient(self) -> list[Item]:
        """Return 患者信息, what the privacy settings let out (see the module's docstring)."""
        case, view, label = self.case, self.view, self.label
        masked = e2b.masked()
        name = view.patient_name
        if regulatory.identifies(name):
            name = e2b.shown_name(name) or self.withheld
        return [
            Item(label["patient_name"], name),
            Item(label["patient-sex"], self.term(vocab.SEX, view.patient_sex)),
            Item(
                label["patient-birth_date"],
                self.shown(self.day(view.patient_birth_date), not masked),
            ),
            Item(label["patient-age"], self.w.age(view)),
            Item(label["patient_nationality"], self.w.country(case.patient_nationality)),
            Item(label["ethnicity"], self.shown(view.patient_ethnicity, not masked)),
            Item(label["patient_height_cm"], self.number(case.patient_height_cm)),
            Item(label["patient-weight_kg"], self.number(view.patient_weight_kg)),
            Item(
                label["patient_phone"],
                self.shown(view.patient_phone, e2b.patient_contact_allowed()),
            ),
            Item(label["patient-pregnant"], self.term(vocab.PREGNANT, view.patient_pregnant)),
            Item(label["hospital"], self.shown(view.patient_hospital, not masked)),
            Item(
                label["patient-record_number"], self.shown(view.patient_record_number, not masked)
            ),
        ]

    def diseases(self) -> list[list[str | None]]:
        return [
            [
                str(number),
                disease.name,
                self.coded(disease.llt_code, disease.meddra_version),
                self.day(disease.start_date),
                self.day(disease.end_date),
                self.term(vocab.CONTINUING, disease.continuing),
                disease.note,
            ]
            for number, disease in enumerate(self.case.diseases, 1)
        ]

    def past_and_history(self) -> tuple[list[Item], list[Item]]:
        """Return 既往药品不良反应/过敏史 and 相关重要信息 (the history ticked, the family's)."""
        view, label, w = self.view, self.label, self.w
        past = [
            Item(
                label["patient-past_adr"],
                w.with_detail(
                    self.term(vocab.YES_NO_UNKNOWN, view.patient_past_adr),
                    view.patient_past_adr_detail,
                ),
            )
        ]
        history = [
            Item(
                label["patient-history"],
                w.with_detail(
                    w.joined(vocab.HISTORY, view.patient_history or []) or None,
                    view.patient_history_detail,
                ),
            ),
            Item(
                label["patient-family_adr"],
                w.with_detail(
                    self.term(vocab.YES_NO_UNKNOWN, view.patient_family_adr),
                    view.patient_family_adr_detail,
                ),
            ),
        ]
        return past, history

    def drug(self, drug: Drug) -> list[Item]:
        """Return a drug of 怀疑用药 or 合并用药, its items in the form's order."""
        details = drug_details(self.case, drug, self.view.event_dechallenge)
        name = drug.generic_name
        if drug.role == "interacting":
            name = f"{name or ''} ({self.label['interacting']})"
        values = [
            drug.approval_number,
            drug.brand_name,
            name,
            details.dosage_form,
            details.strength,
            drug.manufacturer,
            drug.batch_number,
            self.day(details.expiry_date),
            self.w.dosage(drug),
            self.w.period(drug),
            self.w.duration(details),
            drug.indication,
            self.term(vocab.ACTION_TAKEN, details.action_taken),
        ]
        return [
            Item(self.label[key], value) for key, value in zip(DRUG_HEADERS, values, strict=True)
        ]

    def reaction(self, reaction: Reaction) -> ReactionBlock:
        """Return one reaction of 不良反应信息: its values, death details and judgements."""
        case, view, label = self.case, self.view, self.label
        facts = reactions.reaction_facts(reaction, case, view)
        llt = pt = None
        if reaction.llt_code is not None and reaction.meddra_version:
            language = "en" if self.language == "en" else "zh"
            hit = meddra.describe(reaction.llt_code, reaction.meddra_version, language)
            llt = f"{reaction.llt_code} {hit.llt_name if hit else ''}".strip()
            pt = f"{hit.pt_code} {hit.pt_name}" if hit else None
        place = " ".join(part for part in (view.event_province, view.event_city) if part)
        items = [
            Item(label["llt"], llt),
            Item(label["pt"], pt),
            Item(label["onset"], self.day(facts.onset_date)),
            Item(label["end"], self.day(facts.end_date)),
            Item(label["criteria"], self.w.joined(vocab.SERIOUSNESS, facts.serious) or None),
            Item(label["outcome"], self.term(vocab.OUTCOME, facts.outcome)),
            Item(label["area"], place or None),
        ]
        serious = [Box(label["yes"], bool(facts.serious)), Box(label["no"], not facts.serious)]
        death = []
        if facts.outcome == "death":
            death = [
                Item(label["event-death_cause"], view.event_death_cause),
                Item(label["event-death_date"], self.day(view.event_death_date)),
                Item(label["autopsy"], self.term(vocab.YES_NO_UNKNOWN, case.autopsy)),
                Item(label["autopsy_findings"], case.autopsy_findings),
            ]
        pairs = []
        for drug in reactions.assessed_drugs(view):
            pair = reactions.pair_facts(reaction, drug, case, view)
            pairs.append(
                [
                    drug.generic_name or drug.brand_name,
                    self.term(vocab.DECHALLENGE, pair.dechallenge),
                    self.term(vocab.RECHALLENGE, pair.rechallenge),
                    self.term(vocab.CAUSALITY, pair.reporter_causality),
                    self.term(vocab.CAUSALITY, pair.company_causality),
                ]
            )
        return ReactionBlock(reaction.reported_term, items, serious, death, pairs)

    def descriptions(self) -> list[Item]:
        """Return every report's description in order, each headed with its kind and day."""
        return [
            Item(
                f"{self.w.report_kind(report)} {report.aware_on.isoformat()} {report.reference}",
                report.event_description,
            )
            for report in self.case.reports
            if report.event_description and not report.duplicate_copy
        ]

    def labs(self) -> list[list[str | None]]:
        rows = []
        for number, lab in enumerate(self.case.lab_results, 1):
            result = self.number(lab.result_value) if lab.result_value is not None else None
            rows.append(
                [
                    str(number),
                    " ".join(
                        part
                        for part in (lab.test_name, self.coded(lab.llt_code, lab.meddra_version))
                        if part
                    ),
                    self.day(lab.test_date),
                    result or lab.result_text,
                    lab.unit,
                    lab.normal_low,
                    lab.normal_high,
                    lab.more_info,
                ]
            )
        return rows

    def pregnancy(self) -> tuple[list[Item], list[Item]]:
        """Return 妊娠报告有关信息 and, for a parent-child report, the parent."""
        case, label = self.case, self.label
        pregnancy = [
            Item(label["patient-pregnant"], self.term(vocab.PREGNANT, self.view.patient_pregnant)),
            Item(label["pregnancy_lmp"], self.day(case.pregnancy_lmp)),
            Item(label["gestation_exposure_weeks"], self.number(case.gestation_exposure_weeks)),
            Item(label["gestation_reaction_weeks"], self.number(case.gestation_reaction_weeks)),
            Item(
                label["pregnancy_outcome"],
                self.term(vocab.PREGNANCY_OUTCOME, case.pregnancy_outcome),
            ),
            Item(label["pregnancy_detail"], case.pregnancy_detail),
            Item(label["parent_child"], self.w.yes_no(case.parent_child)),
        ]
        parent = []
        if case.parent_child:
            parent = [
                Item(label["parent_initials"], case.parent_initials),
                Item(label["parent_age_years"], self.number(case.parent_age_years)),
                Item(label["parent_sex"], self.term(vocab.SEX, case.parent_sex)),
                Item(label["parent_weight_kg"], self.number(case.parent_weight_kg)),
                Item(label["parent_height_cm"], self.number(case.parent_height_cm)),
                Item(label["parent_history"], case.parent_history),
            ]
        return pregnancy, parent

    def reporter(self) -> list[Item]:
        """Return 报告人/报告来源信息: the case's reporter, how the company heard, the holder."""
        view, label, config = self.view, self.label, current_app.config
        patient = view.reporter_kind == "patient"  # the patient's own contact: as D.1, D.CN.5
        contact = not patient or e2b.patient_contact_allowed()
        name = view.reporter_name
        if patient and regulatory.identifies(name):
            name = e2b.shown_name(name) or self.withheld
        first = self.case.first_report
        phones = config.get("COMPANY_PHONES") or []
        return [
            Item(label["reporter-name"], name),
            Item(label["reporter-kind"], self.term(vocab.REPORTER_KIND, view.reporter_kind)),
            Item(label["reporter-phone"], self.shown(view.reporter_phone, contact)),
            Item(label["reporter-email"], self.shown(view.reporter_email, contact)),
            Item(label["reporter-organization"], view.reporter_organization),
            Item(
                label["reporter-organization_type"],
                self.term(vocab.ORGANIZATION_TYPE, view.reporter_organization_type),
            ),
            Item(label["source"], self.term(vocab.SOURCE, first.source)),
            Item(label["company"], self.company()),
            Item(label["contact"], config.get("COMPANY_CONTACT") or None),
            Item(label["company_phone"], "、".join(phones) if phones else None),
        ]

    def company(self) -> str:
        config = current_app.config
        return str(config["COMPANY_NAME_EN" if self.language == "en" else "COMPANY_NAME"])


def form_of(case: Case, language: str, now: datetime) -> HolderForm:
    """Return the holder's form of `case` as it stands, in `language` (`zh_CN` or `en`)."""
    printer = Printer(case, language, now)
    view = printer.view
    basics, sources, basics_items = printer.basics()
    past, history = printer.past_and_history()
    pregnancy, parent = printer.pregnancy()
    drugs = [pack for drug in view.drugs for pack in packs(case, drug)]
    suspects = [d for d in drugs if d.role in reactions.ASSESSED_ROLES]
    others = [d for d in drugs if d.role not in reactions.ASSESSED_ROLES]
    return HolderForm(
        language=language,
        labels=printer.label,
        reference=case.first_report.reference,
        printed=regulatory.china_date(now),
        company=printer.company(),
        basics=basics,
        sources=sources,
        basics_items=basics_items,
        patient=printer.patient(),
        diseases=printer.diseases(),
        past_adr=past,
        history=history,
        suspects=[printer.drug(drug) for drug in suspects],
        concomitants=[printer.drug(drug) for drug in others],
        reactions=[printer.reaction(r) for r in reactions.sent(case)],
        descriptions=printer.descriptions(),
        labs=printer.labs(),
        pregnancy=pregnancy,
        parent=parent,
        reporter=printer.reporter(),
        remarks=view.remarks,
    )


def render_pdf(html: str) -> bytes:
    """Return the PDF of a page of ours; raise PdfUnavailable when WeasyPrint cannot load.

    The page loads nothing: its stylesheet is inline and every URL is refused.
    """
    try:
        from weasyprint import HTML, URLFetcher
    except (ImportError, OSError) as error:  # OSError: Pango's libraries are missing
        raise PdfUnavailable(str(error)) from error
    nothing = URLFetcher(allowed_protocols=())
    return bytes(HTML(string=html, url_fetcher=nothing).write_pdf())
