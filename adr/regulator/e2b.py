"""ICH E2B(R3) ICSRs: one case as it stands, as a batch of one message, checked before it is kept.

The builder follows ../shared/e2b-r3/mapping.md section by section (the element IDs in the
comments are ICH's). Every file passes the ICH schemas and `rule_errors` (what the schemas do not
check) before it is returned; a case that cannot give a valid file yet gets `problems` instead,
each saying where to put it right.

The holder's form (what staff complete per case: related diseases, lab results, pregnancy, the
parent, the autopsy, each drug's details, the country) is built by `e2b_holder`; its elements,
sources and readings are in docs/e2b-mapping.md.

Readings made here, where ICH and NMPA leave the choice (mapping.md ⚠):
- G.k.8 action taken: staff's (the holder's form) where set; else 4 not changed when the
  reporter says the drug was not stopped or reduced (未停药或未减量); otherwise 0 unknown. An end
  date is not read as "withdrawn" (a course may end by itself); `holder.drug_details` decides,
  so the PDF and the workbook say the same.
- G.k.9.i.4 rechallenge: 不明 is omitted (ICH: omit when it is unknown whether a rechallenge
  happened), 未再使用 → 4 no rechallenge.
- G.k.4.r: one dosage row per distinct mention of the drug (same role and `drug_key`) across
  the case's reports, so a first report's batch and dates stay when a follow-up names another.
- H.1 holds every report's description in order, each headed with its kind and the day the
  company knew of it; past 100,000 characters the end is cut, and the cut is said.
- G.k.3.3 holder: the reported manufacturer, cut to ICH's 60 characters (an organisation's
  name, not clinical data); every other over-long value is a problem, never cut.
- Text loses only the characters XML 1.0 cannot carry (C0 controls other than tab and LF).
- The regional elements whose placement mapping.md §4 marks "(XSLT)" (C.1.CN.1–3) are always
  sent; those it marks as a guess go only with `E2B_UNVERIFIED_REGIONAL`.
- Privacy: the patient's phone (D.CN.5), and a patient reporter's phone and e-mail, go only with
  `E2B_PATIENT_PHONE`; `masked` sends no name (MSK), no record number, birth date, hospital,
  ethnicity, e-mail or patient reporter's phone, and the age instead of the birth date.
- C.4.r: each report's citation once (Vancouver), with its article (the first PDF staff attached
  to that report) while the articles stay within `E2B_MAX_ATTACHMENT_MB`; C.1.6.1.r.1 names each
  source document of the case (its description, else its name; its kind and date when `masked`),
  and C.1.6.1.r.2 is never sent: the documents hold what the file's privacy settings leave out.
"""

from __future__ import annotations

import base64
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
from flask import current_app, has_request_context
from flask_babel import force_locale
from flask_babel import gettext as _
from lxml import etree
from sqlalchemy.orm import Session

from adr import audit, cases, reactions, regulatory, vocab
from adr.cases import holder, literature
from adr.extensions import db
from adr.i18n import current_language
from adr.models import (
    Case,
    Document,
    Drug,
    MeddraRelease,
    MeddraTerm,
    Reaction,
    Report,
    Submission,
    TermCoding,
)
from adr.regulator import e2b_holder
from adr.regulator.e2b_xml import (
    CL19,
    COUNTRY,
    HL7,
    ICH_CODES,
    ICH_ID,
    MEDDRA,
    NS,
    SEX,
    XSI,
    add_name,
    boolean,
    clean,
    code,
    day,
    el,
    moment,
    number,
    observation,
    quantity,
)

SCHEMA = Path(__file__).parent.parent / "schemas/e2b-r3/multicacheschemas/MCCI_IN200100UV01.xsd"
EDQM_ROUTE = "0.4.0.127.0.16.1.1.2.6"
ID_NAMESPACE = uuid.UUID("0b8f3b0e-7a51-4d0c-9a3e-5e2b2b3e1201")  # drugs' and reactions' UUIDs

KINDS = ("report", "amendment", "nullification")
CORRECTION_CODE = {"nullification": "1", "amendment": "2"}  # C.1.11.1
PATIENT_NAME_MODES = ("initials", "name", "masked")
REASON_MAX = 200

QUALIFICATION = {  # C.2.r.4
    "physician": "1",
    "pharmacist": "2",
    "nurse": "3",
    "other_hcp": "3",
    "patient": "5",
    "relative": "5",
    "other": "5",
}
AGE_UNIT = {"year": "a", "month": "mo", "day": "d"}  # D.2.2b, UCUM
ROLE = {"suspect": "1", "concomitant": "2", "interacting": "3"}  # G.k.1
DOSE_UNIT = {"mg": "mg", "g": "g", "ug": "ug", "ml": "mL", "iu": "[iU]", "drop": "[drp]"}
ROUTE = {  # G.k.4.r.10.2b, EDQM routes of administration
    "oral": "20053000",
    "iv": "20045000",
    "im": "20035000",
    "sc": "20066000",
    "topical": "20003000",
    "inhalation": "20020000",
    "rectal": "20061000",
    "sublingual": "20067000",
}
OUTCOME = {  # E.i.7
    "unknown": "0",
    "recovered": "1",
    "improving": "2",
    "not_recovered": "3",
    "sequelae": "4",
    "death": "5",
}
SERIOUSNESS = {  # E.i.3.2a–f (致癌 has no slot of its own: it is with congenital anomaly)
    "death": "34",
    "life_threatening": "21",
    "hospitalization": "33",
    "disability": "35",
    "congenital_anomaly": "12",
    "other_important": "26",
}
RECHALLENGE = {"yes": "1", "no": "2", "not_applicable": "4"}  # G.k.9.i.4; 不明: omitted
CAUSALITY_METHOD = "国家药品不良反应监测中心关联性评价（六级）"
REPORTER_SOURCE, COMPANY_SOURCE = "报告人", "上市许可持有人"  # G.k.9.i.2.r.1

# ICH maximum lengths of what we send (mapping.md; FDA's element sheet).
MAX_LENGTH = {
    "patient_name": 60,
    "record_number": 20,
    "reporter_name": 60,
    "reporter_organization": 60,
    "reporter_phone": 33,
    "batch_number": 35,
    "approval_number": 35,
    "holder": 60,
    "product_name": 250,
    "indication": 250,
    "reported_term": 250,
    "death_cause": 250,
    "dose": 8,
}

# Scripts pinyin cannot spell (Hangul, kana): a name in them keeps its first character only.
NO_PINYIN = re.compile("[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\uac00-\ud7af]")
NARRATIVE_MAX = 100_000  # H.1
CUT_NOTE = "……（叙述超过E2B的100000字符上限，以下从略）"
# Report sources whose E2B needs what the builder does not send yet (C.5 study) or that are the
# regulator's own case: entered in the national system by hand.
HAND_ENTERED_SOURCES = ("study", "regulator")
DOCUMENT_TYPE = ICH_CODES + "27"  # C.1.6.1.r and C.4.r: 1 held by the sender, 2 literature
ARTICLE_TYPE = "application/pdf"
ARTICLE_ORIGINS = ("upload", "attachment")  # staff's upload, or a file of an inbox message


class E2BError(Exception):
    """A built file failed the schemas or the rules: a bug in the builder, never sent."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors[:20]))
        self.errors = errors

    @property
    def rules(self) -> list[str]:
        """Return which schema lines or rules failed, without the values that failed them."""
        names = []
        for error in self.errors:
            if error.startswith("XSD line"):
                names.append(error.split(":", 1)[0])
            else:
                names.append(error.split(" ", 1)[0].rstrip(":"))
        return list(dict.fromkeys(names))


class NotReady(Exception):
    """The case cannot give a valid file yet: `problems` says what is missing and where."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(problem.text for problem in problems))
        self.problems = problems


@dataclass(frozen=True)
class Problem:
    """What stops a file, and where to put it right.

    `where`: an anchor of the case page (#reactions, #assessment), "follow-up" (a follow-up
    report corrects what was received) or the name of a setting (ADR_E2B_SENDER_ID).
    """

    text: str
    where: str


@dataclass
class CaseData:
    """What a file carries: the case, its reports, their current view, reactions and drugs."""

    case: Case
    view: cases.CurrentView
    reactions: list[Reaction]
    drugs: list[Drug]

    @property
    def first(self) -> Any:
        return self.case.reports[0]

    @property
    def latest(self) -> Any:
        return self.case.reports[-1]


def where_text(where: str) -> str:
    """Return where a problem is put right, as the command prints it."""
    if where.startswith("#"):
        return _("case page, section %(anchor)s", anchor=where)
    if where == "follow-up":
        return _("a follow-up report on the case page")
    return _("setting %(name)s", name=f"ADR_{where}")


def gather(case: Case) -> CaseData:
    view = cases.current_view(case.reports)
    return CaseData(case, view, reactions.sent(case), list(view.drugs))


def setting(name: str) -> str | None:
    """Return an identifier setting as text (ADR_* values may arrive as numbers), or None."""
    value = current_app.config.get(name)
    return None if value is None or str(value).strip() == "" else str(value).strip()


def safety_report_id(case: Case) -> str:
    """Return C.1.1 (= C.1.8.1): the one the case's first file kept, else
    CN-<MAH id>-<first report's reference>; so a later correction of MAH_ID is no new case."""
    kept = next((s.safety_report_id for s in case.submissions if s.safety_report_id), None)
    return kept or f"CN-{setting('MAH_ID')}-{case.reports[0].reference}"


# What stops a file.


def problems(case: Case, kind: str = "report", reason: str | None = None) -> list[Problem]:
    """Return what stops a valid file of `kind` for the case; empty when one can be made.

    In the page's language; outside a request (the command), in the default language.
    """
    if has_request_context():
        return case_problems(case, kind, reason)
    with force_locale(str(current_app.config["BABEL_DEFAULT_LOCALE"])):
        return case_problems(case, kind, reason)


def case_problems(case: Case, kind: str, reason: str | None) -> list[Problem]:
    data = gather(case)
    view = data.view
    found: list[Problem] = []
    for name in ("E2B_SENDER_ID", "E2B_RECEIVER_ID", "MAH_ID"):
        if setting(name) is None:
            found.append(Problem(_("Setting %(name)s is not set.", name=f"ADR_{name}"), name))
    if current_app.config.get("E2B_PATIENT_NAME", "initials") not in PATIENT_NAME_MODES:
        found.append(
            Problem(
                _("Setting ADR_E2B_PATIENT_NAME must be initials, name or masked."),
                "E2B_PATIENT_NAME",
            )
        )
    if kind in CORRECTION_CODE:
        if not any(s.kind == "report" for s in case.submissions):
            found.append(
                Problem(_("An amendment or nullification needs a report sent first."), "#e2b")
            )
        if not (reason or "").strip():
            found.append(Problem(_("Give the reason for the amendment or nullification."), "#e2b"))
        elif len(reason or "") > REASON_MAX:
            found.append(
                Problem(_("The reason is longer than %(n)s characters.", n=REASON_MAX), "#e2b")
            )
    found.extend(source_problems(data.first))
    found.extend(literature_problems(case))
    if kind != "nullification" and case.status in regulatory.NOT_FOR_REGULATOR:
        found.append(
            Problem(
                _(
                    "The case is marked %(status)s: only a nullification can be sent.",
                    status=vocab.label(vocab.STATUS, case.status, current_language()),
                ),
                "#assessment",
            )
        )
    if not regulatory.is_valid_case(view):
        missing = [
            vocab.label(vocab.MINIMUM_ELEMENT, name, current_language())
            for name, present in regulatory.minimum_elements(view).items()
            if not present
        ]
        found.append(
            Problem(
                _("Not a valid case: missing %(items)s.", items="、".join(missing)), "follow-up"
            )
        )
    if not any(drug.role in ("suspect", "interacting") for drug in data.drugs):
        found.append(Problem(_("No suspect or interacting drug."), "follow-up"))
    if not data.reactions:
        found.append(Problem(_("No reaction."), "follow-up"))
    if not narrative(case, view).strip():  # H.1 is required: a staff entry may have none
        found.append(Problem(_("No description of the reaction (H.1)."), "follow-up"))
    found.extend(coding_problems(data.reactions))
    found.extend(term_coding_problems(data.case))
    found.extend(version_problems(data))
    found.extend(consistency_problems(data))
    found.extend(length_problems(data))
    found.extend(
        Problem(text, where)
        for text, where in e2b_holder.holder_problems(
            data.case, view, earliest_onset(data), died(data.case, view)
        )
    )
    return found


def earliest_onset(data: CaseData) -> date | None:
    """Return the earliest onset of the reactions sent (E.i.4), or the reported one."""
    days = [
        reactions.reaction_facts(reaction, data.case, data.view).onset_date
        for reaction in data.reactions
    ]
    return min((day_ for day_ in days if day_), default=data.view.event_onset_date)


def died(case: Case, view: Any) -> bool:
    """Tell whether the patient died, as D.9 says it."""
    return bool(case.death or view.event_death_date)


def source_problems(first: Report) -> list[Problem]:
    """Return why a case from a study or the regulator gets no file."""
    if first.source == "study":
        text = _(
            "The case comes from a study: its E2B file needs the study's identification (C.5), "
            "which cannot be sent yet. Enter it in the national system by hand."
        )
    elif first.source == "regulator":
        text = _(
            "The case is the regulator's feedback, the regulator's own case: its E2B file "
            "cannot be made here. Enter it in the national system by hand."
        )
    else:
        return []
    return [Problem(text, "#e2b")]


def literature_problems(case: Case) -> list[Problem]:
    """Return what a report from the literature lacks for C.4.r.1: its citation, within ICH's
    500 characters."""
    found = []
    language = current_language()
    for report in case.reports:
        if report.source != "literature" and not literature.cites(report):
            continue
        missing = literature.missing(report)
        if missing:
            parts = "、".join(vocab.field_label(f"literature-{name}", language) for name in missing)
            text = _(
                "%(reference)s comes from the literature: its citation (C.4.r.1) lacks %(parts)s.",
                reference=report.reference,
                parts=parts,
            )
            found.append(Problem(text, "#corrections"))
        elif len(literature.vancouver(report)) > literature.REFERENCE_MAX:
            text = _(
                "The citation of %(reference)s is %(length)s characters; ICH allows %(limit)s "
                "(C.4.r.1): shorten the authors (the first six, then et al.) or the title.",
                reference=report.reference,
                length=len(literature.vancouver(report)),
                limit=literature.REFERENCE_MAX,
            )
            found.append(Problem(text, "#corrections"))
    return found


# Source documents and the literature (C.1.6.1, C.4.r).


@dataclass(frozen=True)
class Citation:
    """An article the case's reports cite (C.4.r), with the article itself when the file carries
    it (`article`) or the one left out for its size (`too_large`)."""

    text: str  # C.4.r.1, Vancouver style
    reports: list[Report]
    article: Document | None
    too_large: Document | None


def source_documents(case: Case) -> list[Document]:
    """Return the source documents of the case and of its reports, oldest first; their bytes
    are not loaded."""
    report_ids = [report.id for report in case.reports]
    return list(
        db.session.scalars(
            sa.select(Document)
            .where(sa.or_(Document.case_id == case.id, Document.report_id.in_(report_ids)))
            .order_by(Document.id)
        )
    )


def max_attachment_bytes() -> int:
    """Return how many bytes of articles one file may carry (before base64 adds a third)."""
    return int(float(current_app.config["E2B_MAX_ATTACHMENT_MB"]) * 1024 * 1024)


def citations(case: Case, documents: list[Document]) -> list[Citation]:
    """Return the articles the case's reports cite, each once, with the article a report of it
    has attached (its first PDF, uploaded by staff or taken from a message), while the articles
    fit the limit."""
    cited: dict[str, list[Report]] = {}
    for report in case.reports:
        if literature.cites(report) and not literature.missing(report):
            cited.setdefault(literature.vancouver(report), []).append(report)
    room = max_attachment_bytes()
    found = []
    for text, reports in cited.items():
        ids = {report.id for report in reports}
        article = next(
            (
                d
                for d in documents
                if d.report_id in ids
                and d.origin in ARTICLE_ORIGINS
                and d.content_type == ARTICLE_TYPE
            ),
            None,
        )
        fits = article is not None and article.size <= room
        room -= article.size if fits and article else 0
        found.append(Citation(text, reports, article if fits else None, None if fits else article))
    return found


def document_title(document: Document) -> str:
    """Return C.1.6.1.r.1 for a document: its description, else its name; when patients are
    masked, only its kind and date (a name or description may name the patient)."""
    if masked():
        kind = vocab.label(vocab.DOCUMENT_ORIGIN, document.origin, "zh")
        return f"{kind}（{document.content_type}，{regulatory.china_date(document.added_at)}）"
    return document.description or document.filename


def add_documents(event: Any, documents: list[Document], cited: list[Citation]) -> None:
    """Add C.1.6.1.r, the documents the company holds, then C.4.r, the literature."""

    def reference_to(kind: str, display: str) -> Any:
        wrapper = el(event, "reference", typeCode="REFR")
        referred = el(wrapper, "document", classCode="DOC", moodCode="EVN")
        code(referred, kind, DOCUMENT_TYPE, display)
        return referred

    for document in documents:
        held = reference_to("1", "documentsHeldBySender")
        el(held, "title", document_title(document))  # C.1.6.1.r.1
    for citation in cited:
        paper = reference_to("2", "literatureReference")
        if citation.article is not None:  # C.4.r.2
            content = base64.b64encode(citation.article.data).decode("ascii")
            el(paper, "text", content, mediaType=ARTICLE_TYPE, representation="B64")
        el(paper, "bibliographicDesignationText", citation.text)  # C.4.r.1


def attachment_notes(case: Case) -> list[str]:
    """Return what the case's file leaves out of the literature, and why (shown, not a
    problem): an article above the size limit, or a citation with no article attached."""
    if not any(map(literature.cites, case.reports)):
        return []
    notes = []
    limit = float(current_app.config["E2B_MAX_ATTACHMENT_MB"])
    for citation in citations(case, source_documents(case)):
        reference = citation.reports[0].reference
        if citation.too_large is not None:
            notes.append(
                _(
                    "The article of %(reference)s (%(size).1f MB) is beyond what a file carries "
                    "(%(limit)s MB of articles, setting ADR_E2B_MAX_ATTACHMENT_MB): the file "
                    "cites it (C.4.r.1) without the text. Send the article by other means.",
                    reference=reference,
                    size=citation.too_large.size / 1024 / 1024,
                    limit=f"{limit:g}",
                )
            )
        elif citation.article is None:
            notes.append(
                _(
                    "No article (PDF) is attached to %(reference)s: the file cites it (C.4.r.1) "
                    "without the text (C.4.r.2).",
                    reference=reference,
                )
            )
    return notes


def consistency_problems(data: CaseData) -> list[Problem]:
    """Return where the reactions, the case's seriousness and the assessment disagree."""
    case, view = data.case, data.view
    facts = {r.id: reactions.reaction_facts(r, case, view) for r in data.reactions}
    found = []
    if data.reactions and case.death:
        if not any(f.outcome == "death" for f in facts.values()):
            found.append(
                Problem(
                    _("The patient died, but no reaction has death as its outcome."), "#reactions"
                )
            )
        elif len(data.reactions) > 1 and not any("outcome" in f.own for f in facts.values()):
            found.append(
                Problem(
                    _(
                        "The patient died: say which reaction(s) led to death, "
                        "by giving each reaction its own outcome."
                    ),
                    "#reactions",
                )
            )
    if (
        data.reactions
        and case.serious
        and not any(f.serious or f.outcome == "death" for f in facts.values())
    ):
        found.append(
            Problem(
                _("The case is serious, but no reaction has a seriousness criterion."),
                "#reactions",
            )
        )
    criteria = set(reactions.case_criteria(case))
    for reaction in data.reactions:
        beyond = set(reaction.serious or []) - criteria
        if reaction.serious is not None and beyond:
            found.append(
                Problem(
                    _(
                        "Reaction “%(term)s” is serious by %(criteria)s, which the case no "
                        "longer is: change the reaction or the assessment.",
                        term=reaction.reported_term,
                        criteria="、".join(
                            vocab.label(vocab.SERIOUSNESS, code, current_language())
                            for code in vocab.SERIOUSNESS
                            if code in beyond
                        ),
                    ),
                    "#reactions",
                )
            )
    for drug in reactions.assessed_drugs(view):
        for reaction in data.reactions:
            judged = reactions.pair_facts(reaction, drug, case, view)
            if judged.company_causality not in vocab.CAUSALITY:
                found.append(
                    Problem(
                        _(
                            "The company has not assessed causality of %(drug)s and %(reaction)s.",
                            drug=product_name(drug),
                            reaction=reaction.reported_term,
                        ),
                        "#assessment",
                    )
                )
    return found


def coding_problems(case_reactions: list[Reaction]) -> list[Problem]:
    """Return the reactions not coded to a current LLT of an imported MedDRA version."""
    versions = set(db.session.scalars(sa.select(MeddraRelease.version)))
    found = []
    for reaction in case_reactions:
        term = reaction.reported_term
        if reaction.llt_code is None or not reaction.meddra_version:
            found.append(
                Problem(_("Reaction “%(term)s” is not coded to MedDRA.", term=term), "#reactions")
            )
        elif reaction.meddra_version not in versions:
            found.append(
                Problem(
                    _(
                        "Reaction “%(term)s” is coded in MedDRA %(version)s, "
                        "which is not imported.",
                        term=term,
                        version=reaction.meddra_version,
                    ),
                    "#reactions",
                )
            )
        else:
            llt = db.session.get(MeddraTerm, (reaction.meddra_version, "llt", reaction.llt_code))
            if llt is None or not llt.current:
                found.append(
                    Problem(
                        _(
                            "Reaction “%(term)s” is coded to LLT %(code)s, "
                            "not a current LLT of MedDRA %(version)s.",
                            term=term,
                            code=reaction.llt_code,
                            version=reaction.meddra_version,
                        ),
                        "#reactions",
                    )
                )
    return found


def term_coding_problems(case: Case) -> list[Problem]:
    """Return the related diseases and lab tests staff coded to no current LLT of an imported
    MedDRA version."""
    versions = set(db.session.scalars(sa.select(MeddraRelease.version)))
    coded = [
        (row.name, row.meddra_version, row.llt_code, e2b_holder.SECTION["diseases"])
        for row in case.diseases
        if row.llt_code is not None
    ] + [
        (result.test_name, result.meddra_version, result.llt_code, e2b_holder.SECTION["lab"])
        for result in case.lab_results
        if result.llt_code is not None
    ]
    found = []
    for term, version, llt_code, where in coded:
        if version not in versions:
            text = _(
                "“%(term)s” is coded in MedDRA %(version)s, which is not imported.",
                term=term,
                version=version or "—",
            )
            found.append(Problem(text, where))
            continue
        llt = db.session.get(MeddraTerm, (version, "llt", llt_code))
        if llt is None or not llt.current:
            text = _(
                "“%(term)s” is coded to LLT %(code)s, not a current LLT of MedDRA %(version)s.",
                term=term,
                code=llt_code,
                version=version,
            )
            found.append(Problem(text, where))
    return found


def version_problems(data: CaseData) -> list[Problem]:
    """Return a problem when the file would carry more than one MedDRA version (ICH: one)."""
    versions = {r.meddra_version for r in data.reactions if r.llt_code is not None}
    versions |= {c.meddra_version for c in sent_codings(data.case, data.view)}
    versions |= {row.meddra_version for row in data.case.diseases if row.llt_code is not None}
    versions |= {row.meddra_version for row in data.case.lab_results if row.llt_code is not None}
    versions.discard(None)
    if len(versions) < 2:
        return []
    text = _(
        "The case is coded in more than one MedDRA version (%(versions)s); E2B allows one: "
        "code it again in one version.",
        versions="、".join(sorted(v for v in versions if v)),
    )
    return [Problem(text, "#reactions")]


def length_problems(data: CaseData) -> list[Problem]:
    """Return the values longer than ICH allows: each named, none cut."""
    view = data.view
    found = []

    def check(value: str | None, limit_name: str, label: str) -> None:
        limit = MAX_LENGTH[limit_name]
        if value and len(value) > limit:
            found.append(
                Problem(
                    _(
                        "%(field)s is longer than the %(n)s characters E2B allows.",
                        field=label,
                        n=limit,
                    ),
                    "follow-up",
                )
            )

    if current_app.config.get("E2B_PATIENT_NAME", "initials") == "name":
        check(view.patient_name, "patient_name", _("Patient name"))
    check(view.patient_record_number, "record_number", _("Medical record number"))
    check(reporter_name(view), "reporter_name", _("Reporter name"))
    check(view.reporter_organization, "reporter_organization", _("Reporter organisation"))
    check(view.reporter_phone, "reporter_phone", _("Reporter phone"))
    check(view.event_death_cause, "death_cause", _("Cause of death"))
    for drug in data.drugs:
        name = product_name(drug)
        for row in dosages(data.case, drug):
            check(row.batch_number, "batch_number", _("Batch number of %(drug)s", drug=name))
        check(drug.approval_number, "approval_number", _("Approval number of %(drug)s", drug=name))
        check(name, "product_name", _("Name of %(drug)s", drug=name[:40]))
        check(drug.indication, "indication", _("Indication of %(drug)s", drug=name))
        if drug.dose is not None:
            check(number(drug.dose), "dose", _("Dose of %(drug)s", drug=name))
    for reaction in data.reactions:
        check(reaction.reported_term, "reported_term", _("Reaction as reported"))
    return found


# Values as sent.


def product_name(drug: Drug) -> str:
    """Return G.k.2.2: the brand name if given, else the generic name."""
    return (drug.brand_name or drug.generic_name or "").strip()


def reporter_name(view: Any) -> str | None:
    name = view.reporter_name
    return name if regulatory.identifies(name) else None


def patient_initials(name: str) -> str:
    """Return a name's initials: 王晓明 → WXM (pinyin), Wang Xiaoming → WX, WXM → WXM, 김민수 → 김.

    Full-width letters are folded first; only 2–3 capitals pass as they are (already initials);
    a name in a script pinyin cannot spell keeps its first character only.
    """
    name = unicodedata.normalize("NFKC", name).strip()
    if re.fullmatch("[A-Z]{2,3}", name):
        return name
    chinese = "".join(c for c in name if "\u3400" <= c <= "\u9fff" and c != "某")  # 张某某: Z
    if chinese:
        from pypinyin import Style, lazy_pinyin  # loaded when first needed: 0.3 s of start-up

        return "".join(lazy_pinyin(chinese, style=Style.FIRST_LETTER)).upper()
    if NO_PINYIN.search(name):
        return name[:1]
    words = [word for word in re.split(r"[\s.·]+", name) if word[:1].isalpha()]
    return "".join(word[0] for word in words).upper()


def masked() -> bool:
    return current_app.config.get("E2B_PATIENT_NAME", "initials") == "masked"


def patient_contact_allowed() -> bool:
    """Return whether a patient's own phone (or e-mail) may go: `E2B_PATIENT_PHONE`, not masked."""
    return bool(current_app.config.get("E2B_PATIENT_PHONE")) and not masked()


def shown_name(name: str | None) -> str | None:
    """Return a patient's name as `E2B_PATIENT_NAME` lets it out: initials, whole, or None."""
    mode = current_app.config.get("E2B_PATIENT_NAME", "initials")
    if mode == "masked" or not name or not regulatory.identifies(name):
        return None
    return clean(name) if mode == "name" else (patient_initials(name) or None)


def narrative(case: Case, view: Any) -> str:
    """Return H.1: each report's description in order under its kind and the day the company
    knew of it (【首次报告 2026-11-07】), then what ICH has no element for (§2.6)."""
    described = []
    for position, report in enumerate(case.reports):
        if report.event_description:
            kind = vocab.label(vocab.REPORT_KIND, "follow_up" if position else "initial", "zh")
            described.append(f"【{kind} {report.aware_on.isoformat()}】{report.event_description}")
    extra = []
    if view.reporter_kind:
        extra.append(f"报告人身份：{vocab.label(vocab.REPORTER_KIND, view.reporter_kind, 'zh')}")
    if view.event_sequelae_detail:
        extra.append(f"后遗症表现：{view.event_sequelae_detail}")
    if view.event_disease_impact:
        impact = vocab.label(vocab.DISEASE_IMPACT, view.event_disease_impact, "zh")
        extra.append(f"对原患疾病的影响：{impact}")
    if view.event_dechallenge:
        answer = vocab.label(vocab.DECHALLENGE, view.event_dechallenge, "zh")
        extra.append(f"停药或减量后反应是否消失或减轻：{answer}")
    pregnancy = e2b_holder.pregnancy_text(case, view)
    if pregnancy:  # also D.CN.6, which a receiver may not read
        extra.append(f"妊娠报告有关信息：{pregnancy}")
    text = clean("\n".join([*described, *extra]))
    if len(text) > NARRATIVE_MAX:
        return text[: NARRATIVE_MAX - len(CUT_NOTE)] + CUT_NOTE
    return text


class Dosage(NamedTuple):
    """One G.k.4.r row: a mention of the drug as one report gave it."""

    batch_number: str | None
    start_date: date | None
    end_date: date | None
    dose: float | None
    dose_unit: str | None
    route: str | None
    frequency: str | None
    expiry_date: date | None


def dosages(case: Case, drug: Drug) -> list[Dosage]:
    """Return the distinct mentions of a drug of the current view across the case's reports.

    A drug is the same across reports by its role and `reactions.drug_key`, as the current view
    merges it; mentions giving nothing of the dosage are left out unless no other is left.
    """
    key = (drug.role, reactions.drug_key(drug))
    rows = [
        Dosage(
            *(None if getattr(mention, f) == "" else getattr(mention, f) for f in Dosage._fields)
        )
        for report in case.reports
        for mention in report.drugs
        if (mention.role, reactions.drug_key(mention)) == key
    ]
    given = list(dict.fromkeys(row for row in rows if any(value is not None for value in row)))
    return given or [Dosage(*(getattr(drug, field) for field in Dosage._fields))]


def object_id(case: Case, *parts: object) -> str:
    """Return a UUID for a drug or reaction of the case, the same in every version."""
    return str(uuid.uuid5(ID_NAMESPACE, "/".join(map(str, (case.reports[0].reference, *parts)))))


def drug_id(case: Case, drug: Drug) -> str:
    return object_id(case, "drug", drug.role, reactions.drug_key(drug))


def reaction_id(case: Case, reaction: Reaction) -> str:
    return object_id(case, "reaction", reaction.id)


# The XML.


def device(parent: Any, relation: str, type_code: str, root: str, extension: str) -> None:
    wrapper = el(parent, relation, typeCode=type_code)
    dev = el(wrapper, "device", classCode="DEV", determinerCode="INSTANCE")
    el(dev, "id", root=root, extension=extension)


@dataclass(frozen=True)
class Built:
    """A file built and checked, with the identifiers it carries."""

    xml: bytes
    message_id: str
    batch_id: str
    safety_report_id: str
    version: int


def build(
    case: Case, kind: str = "report", reason: str | None = None, now: datetime | None = None
) -> Built:
    """Build and check the file of the case as it stands; raise NotReady or E2BError."""
    found = problems(case, kind, reason)
    if found:
        raise NotReady(found)
    now = now or datetime.now(UTC)
    data = gather(case)
    batch_id, message_id = str(uuid.uuid4()), str(uuid.uuid4())
    sender, receiver = setting("E2B_SENDER_ID") or "", setting("E2B_RECEIVER_ID") or ""
    c11 = safety_report_id(case)
    created = moment(now)

    batch = etree.Element(f"{{{HL7}}}MCCI_IN200100UV01", nsmap={None: HL7, "xsi": XSI})
    batch.set("ITSVersion", "XML_1.0")
    el(batch, "id", root=ICH_ID + "22", extension=batch_id)  # N.1.2
    el(batch, "creationTime", value=created)  # N.1.5
    el(batch, "responseModeCode", code="D")
    el(batch, "interactionId", root="2.16.840.1.113883.1.6", extension="MCCI_IN200100UV01")
    el(
        batch,
        "name",
        code="1",
        codeSystem=ICH_CODES + "1",
        codeSystemVersion="2.0",
        displayName="ichicsr",
    )
    message = el(batch, "PORR_IN049016UV")
    el(message, "id", root=ICH_ID + "1", extension=message_id)  # N.2.r.1
    el(message, "creationTime", value=created)  # N.2.r.4
    el(message, "interactionId", root="2.16.840.1.113883.1.6", extension="PORR_IN049016UV")
    el(message, "processingCode", code="P")
    el(message, "processingModeCode", code="T")
    el(message, "acceptAckCode", code="AL")
    device(message, "receiver", "RCV", ICH_ID + "12", receiver)  # N.2.r.3
    device(message, "sender", "SND", ICH_ID + "11", sender)  # N.2.r.2
    act = el(message, "controlActProcess", classCode="CACT", moodCode="EVN")
    code(act, "PORR_TE049016UV", "2.16.840.1.113883.1.18")
    el(act, "effectiveTime", value=created)  # C.1.2
    subject = el(act, "subject", typeCode="SUBJ")
    event = el(subject, "investigationEvent", classCode="INVSTG", moodCode="EVN")
    el(event, "id", root=ICH_ID + "1", extension=c11)  # C.1.1
    el(event, "id", root=ICH_ID + "2", extension=c11)  # C.1.8.1
    code(event, "PAT_ADV_EVNT", "2.16.840.1.113883.5.4")
    el(event, "text", narrative(case, data.view))  # H.1
    el(event, "statusCode", code="active")
    low = el(event, "effectiveTime")
    el(low, "low", value=day(data.first.aware_on))  # C.1.4
    el(event, "availabilityTime", value=day(data.latest.aware_on))  # C.1.5
    documents = source_documents(case)
    add_documents(event, documents, citations(case, documents))  # C.1.6.1.r, C.4.r
    assessment_component = el(event, "component", typeCode="COMP")
    add_assessment(assessment_component, data)
    additional = observation(event, "component", "1", "observationEvent", typeCode="COMP")
    boolean(additional, bool(documents))  # C.1.6.1
    expedited = observation(event, "component", "23", "observationEvent", typeCode="COMP")
    boolean(expedited, case.report_category != "general")  # C.1.7
    add_case_regional(event, data)
    first_sender = el(event, "outboundRelationship", typeCode="SPRT")
    related = el(first_sender, "relatedInvestigation", classCode="INVSTG", moodCode="EVN")
    code(related, "1", ICH_CODES + "22", "initialReport")
    author = el(
        el(
            el(related, "subjectOf2", typeCode="SUBJ"),
            "controlActEvent",
            classCode="CACT",
            moodCode="EVN",
        ),
        "author",
        typeCode="AUT",
    )
    entity = el(author, "assignedEntity", classCode="ASSIGNED")
    code(entity, "2", ICH_CODES + "3", "other")  # C.1.8.2
    add_primary_source(event, data)
    add_sender(event)
    characteristic = observation(
        event, "subjectOf2", "1", "investigationCharacteristic", typeCode="SUBJ"
    )
    characteristic.find("h:code", NS).set("codeSystem", ICH_CODES + "23")
    el(characteristic, "value", type_="CE", code="1", codeSystem=ICH_CODES + "2")  # C.1.3
    other_ids = observation(
        event, "subjectOf2", "2", "investigationCharacteristic", typeCode="SUBJ"
    )
    other_ids.find("h:code", NS).set("codeSystem", ICH_CODES + "23")
    boolean(other_ids, None)  # C.1.9.1
    if kind in CORRECTION_CODE:
        correction = observation(
            event, "subjectOf2", "3", "investigationCharacteristic", typeCode="SUBJ"
        )
        correction.find("h:code", NS).set("codeSystem", ICH_CODES + "23")
        el(correction, "value", type_="CE", code=CORRECTION_CODE[kind], codeSystem=ICH_CODES + "5")
        why = observation(event, "subjectOf2", "4", "investigationCharacteristic", typeCode="SUBJ")
        why.find("h:code", NS).set("codeSystem", ICH_CODES + "23")
        el(el(why, "value", type_="CE"), "originalText", (reason or "").strip())  # C.1.11.2
    device(batch, "receiver", "RCV", ICH_ID + "14", receiver)  # N.1.4
    device(batch, "sender", "SND", ICH_ID + "13", sender)  # N.1.3

    xml = etree.tostring(batch, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    errors = check(xml)
    if errors:
        raise E2BError(errors)
    return Built(xml, message_id, batch_id, c11, len(case.reports))


def unverified() -> bool:
    return bool(current_app.config.get("E2B_UNVERIFIED_REGIONAL", True))


def country(case: Case) -> str:
    """Return where the reaction happened (E.i.9): the case's country, China mainland if none."""
    return case.occurrence_country or vocab.CHINA


def add_case_regional(event: Any, data: CaseData) -> None:
    """Add C.1.CN.1–3 (NMPA; codes and placement from a vendor XSLT, mapping.md §4): the
    report's source, its category (12 post-marketing in China, 22 overseas) and the MAH."""
    source = e2b_holder.report_source(data.first.source, data.view.reporter_organization_type)
    category = "22" if holder.is_overseas(data.case) else "12"
    for cn_code, value in (
        ("CN-6", source),
        ("CN-11", category),
        ("CN-12", setting("MAH_ID") or ""),
    ):
        obs = observation(event, "component", cn_code, "observationEvent", typeCode="COMP")
        el(obs, "value", type_="CE", code=value)


def add_primary_source(event: Any, data: CaseData) -> None:
    """Add C.2.r: the latest reporter, the one primary source (C.2.r.5 = 1)."""
    view = data.view
    relation = el(event, "outboundRelationship", typeCode="SPRT")
    el(relation, "priorityNumber", value="1")
    related = el(relation, "relatedInvestigation", classCode="INVSTG", moodCode="EVN")
    code(related, "2", ICH_CODES + "22", "sourceReport")
    control = el(
        el(related, "subjectOf2", typeCode="SUBJ"),
        "controlActEvent",
        classCode="CACT",
        moodCode="EVN",
    )
    entity = el(el(control, "author", typeCode="AUT"), "assignedEntity", classCode="ASSIGNED")
    patient = view.reporter_kind == "patient"  # the patient's own contact: as D.1, D.CN.5 go
    if view.reporter_phone and (patient_contact_allowed() or not patient):  # C.2.r.2.7
        source = view.sources.get("reporter_phone")
        e164 = source.reporter_phone_e164 if source is not None else None
        el(entity, "telecom", value="tel:" + (e164 or re.sub(r"[^0-9+-]", "", view.reporter_phone)))
    if (
        view.reporter_email
        and unverified()
        and not masked()
        and (patient_contact_allowed() or not patient)
    ):  # C.2.r.CN.1: encoding a guess
        el(entity, "telecom", value="mailto:" + view.reporter_email)
    person = el(entity, "assignedPerson", classCode="PSN", determinerCode="INSTANCE")
    name = reporter_name(view)
    # C.2.r.1.4: the whole name, never split; the patient's own name as D.1 is sent.
    add_name(person, name, shown_name(name) if patient else name, "family")
    qualified = el(person, "asQualifiedEntity", classCode="QUAL")
    if view.reporter_kind in QUALIFICATION:
        code(qualified, QUALIFICATION[view.reporter_kind], ICH_CODES + "6")  # C.2.r.4
    else:
        el(qualified, "code", nullFlavor="UNK")
    located = el(person, "asLocatedEntity", classCode="LOCE")
    place = el(located, "location", classCode="COUNTRY", determinerCode="INSTANCE")
    code(place, country(data.case), COUNTRY)  # C.2.r.3: overseas, where it happened
    if view.reporter_organization:
        outer = el(entity, "representedOrganization", classCode="ORG", determinerCode="INSTANCE")
        inner = el(outer, "assignedEntity", classCode="ASSIGNED")
        org = el(inner, "representedOrganization", classCode="ORG", determinerCode="INSTANCE")
        el(org, "name", view.reporter_organization)  # C.2.r.2.1


def add_sender(event: Any) -> None:
    """Add C.3: the company, a pharmaceutical company (C.3.1 = 1)."""
    subject = el(event, "subjectOf1", typeCode="SUBJ")
    control = el(subject, "controlActEvent", classCode="CACT", moodCode="EVN")
    entity = el(el(control, "author", typeCode="AUT"), "assignedEntity", classCode="ASSIGNED")
    code(entity, "1", ICH_CODES + "7")
    outer = el(entity, "representedOrganization", classCode="ORG", determinerCode="INSTANCE")
    inner = el(outer, "assignedEntity", classCode="ASSIGNED")
    org = el(inner, "representedOrganization", classCode="ORG", determinerCode="INSTANCE")
    el(org, "name", str(current_app.config["COMPANY_NAME"])[:100])  # C.3.2


def add_assessment(component: Any, data: CaseData) -> None:
    """Add the adverse event assessment: patient, reactions, drugs, causality, comments."""
    case, view = data.case, data.view
    assessment = el(component, "adverseEventAssessment", classCode="INVSTG", moodCode="EVN")
    role = el(el(assessment, "subject1", typeCode="SBJ"), "primaryRole", classCode="INVSBJ")
    add_patient(role, data)
    reaction_ids = {reaction.id: reaction_id(case, reaction) for reaction in data.reactions}
    facts = {r.id: reactions.reaction_facts(r, case, view) for r in data.reactions}
    for reaction in data.reactions:
        add_reaction(role, reaction, reaction_ids[reaction.id], facts[reaction.id], country(case))
    e2b_holder.add_lab_results(role, case.lab_results)  # F.r
    add_drugs(role, data, reaction_ids)
    for drug in data.drugs:  # G.k.1
        ca = causality_assessment(assessment, "20")
        el(ca, "value", type_="CE", code=ROLE[drug.role], codeSystem=ICH_CODES + "13")
        reference(ca, "subject2", "productUseReference", "SBADM", drug_id(case, drug))
    for drug in reactions.assessed_drugs(view):  # G.k.9.i.2.r
        for reaction in data.reactions:
            judged = reactions.pair_facts(reaction, drug, case, view)
            for source, value in (
                (REPORTER_SOURCE, judged.reporter_causality),
                (COMPANY_SOURCE, judged.company_causality),
            ):
                if value not in vocab.CAUSALITY:
                    continue
                ca = causality_assessment(assessment, "39")
                el(ca, "value", vocab.label(vocab.CAUSALITY, value, "zh"), type_="ST")
                el(el(ca, "methodCode"), "originalText", CAUSALITY_METHOD)
                author = el(
                    el(ca, "author", typeCode="AUT"), "assignedEntity", classCode="ASSIGNED"
                )
                el(el(author, "code"), "originalText", source)
                reference(
                    ca, "subject1", "adverseEffectReference", "OBS", reaction_ids[reaction.id]
                )
                reference(ca, "subject2", "productUseReference", "SBADM", drug_id(case, drug))
    if view.remarks:  # H.2
        comment = observation(
            assessment, "component1", "10", "observationEvent", "comment", typeCode="COMP"
        )
        el(comment, "value", view.remarks, type_="ED")
        author = el(el(comment, "author", typeCode="AUT"), "assignedEntity", classCode="ASSIGNED")
        code(author, "3", ICH_CODES + "21", "sourceReporter")


def causality_assessment(assessment: Any, kind: str) -> Any:
    """Add a causalityAssessment: the drug's role (CL19 20) or a causality (CL19 39)."""
    return observation(assessment, "component", kind, "causalityAssessment", typeCode="COMP")


def reference(parent: Any, relation: str, tag: str, class_code: str, root: str) -> None:
    target = el(el(parent, relation, typeCode="SUBJ"), tag, classCode=class_code, moodCode="EVN")
    el(target, "id", root=root)


def add_patient(role: Any, data: CaseData) -> None:
    """Add D: the patient as `E2B_PATIENT_NAME` allows, the parent of a parent-child report,
    measurements, pregnancy, history, death."""
    case, view = data.case, data.view
    person = el(role, "player1", classCode="PSN", determinerCode="INSTANCE")
    add_name(person, view.patient_name, shown_name(view.patient_name))  # D.1
    if view.patient_sex in SEX:
        el(person, "administrativeGenderCode", code=SEX[view.patient_sex], codeSystem="1.0.5218")
    else:
        el(person, "administrativeGenderCode", nullFlavor="UNK")  # D.5
    foetus = foetal_gestation(case)
    if view.patient_birth_date and not masked() and foetus is None:
        el(person, "birthTime", value=day(view.patient_birth_date))  # D.2.1
    if died(case, view):
        if view.event_death_date:
            el(person, "deceasedTime", value=day(view.event_death_date))  # D.9.1
        else:
            el(person, "deceasedTime", nullFlavor="UNK")
    if view.patient_record_number and not masked():  # D.1.1.3
        identified = el(person, "asIdentifiedEntity", classCode="IDENT")
        el(identified, "id", root=ICH_ID + "9", extension=clean(view.patient_record_number))
        code(identified, "3", ICH_CODES + "4", "hospitalRecordNumber", codeSystemVersion="2.0")
    if case.parent_child:  # D.10
        e2b_holder.add_parent(person, case, shown_name(case.parent_initials))
    age = patient_age(data)
    if foetus is not None:  # D.2.2.1a/b: the foetus's age is its gestation
        quantity(observation(role, "subjectOf2", "16", display="gestationPeriod"), foetus, "wk")
    elif age is not None:  # D.2.2a/b
        el(observation(role, "subjectOf2", "3"), "value", type_="PQ", value=age[0], unit=age[1])
    if view.patient_weight_kg:  # D.3
        obs = observation(role, "subjectOf2", "7")
        el(obs, "value", type_="PQ", value=number(view.patient_weight_kg), unit="kg")
    if case.patient_height_cm:  # D.4, a whole number
        obs = observation(role, "subjectOf2", "17", display="height")
        quantity(obs, round(case.patient_height_cm), "cm")
    if case.pregnancy_lmp and not case.parent_child:  # D.6; a parent's is D.10.3
        obs = observation(role, "subjectOf2", "22", display="lastMenstrualPeriodDate")
        el(obs, "value", type_="TS", value=day(case.pregnancy_lmp))
    if unverified():
        add_patient_regional(role, case, view)
    add_history(role, case, view)
    if died(case, view):
        if view.event_death_cause:  # D.9.2.r.2
            obs = observation(role, "subjectOf2", "32")
            el(
                el(obs, "value", type_="CE", codeSystem=MEDDRA),
                "originalText",
                view.event_death_cause,
            )
        autopsy = observation(role, "subjectOf2", "5", display="autopsy")  # D.9.3
        boolean(autopsy, {"yes": True, "no": False}.get(case.autopsy or ""), "UNK")
        if case.autopsy == "yes" and case.autopsy_findings:  # D.9.4.r.2
            cause = observation(autopsy, "outboundRelationship2", "8", typeCode="DRIV")
            el(
                el(cause, "value", type_="CE", codeSystem=MEDDRA),
                "originalText",
                case.autopsy_findings,
            )


def foetal_gestation(case: Case) -> int | None:
    """Return D.2.2.1: the weeks of gestation at the reaction when the patient is a foetus (a
    parent-child report giving them); then the patient's age and birth date are not sent."""
    return case.gestation_reaction_weeks if case.parent_child else None


def patient_age(data: CaseData) -> tuple[str, str] | None:
    """Return D.2.2a/b as reported; masked, a birth date alone gives the age in years at onset."""
    view = data.view
    if view.patient_age is not None and view.patient_age_unit in AGE_UNIT:
        return str(view.patient_age), AGE_UNIT[view.patient_age_unit]
    born = view.patient_birth_date
    if born is None or not masked():
        return None
    on = view.event_onset_date or data.first.aware_on
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return (str(years), "a") if years >= 0 else None


def add_patient_regional(role: Any, case: Case, view: Any) -> None:
    """Add D.CN.1, D.CN.3, D.CN.4, D.CN.5 and D.CN.6 (NMPA; placement a guess, mapping.md §4)."""
    if view.patient_ethnicity and not masked():
        el(
            el(observation(role, "subjectOf2", "CN-1"), "value", type_="CE"),
            "originalText",
            view.patient_ethnicity,
        )
    if view.patient_hospital and not masked():
        el(observation(role, "subjectOf2", "CN-3"), "value", view.patient_hospital, type_="ST")
    if case.patient_nationality and not masked():
        nationality = observation(role, "subjectOf2", "CN-9")
        el(nationality, "value", type_="CE", code=case.patient_nationality, codeSystem=COUNTRY)
    if view.patient_phone and patient_contact_allowed():
        el(observation(role, "subjectOf2", "CN-10"), "value", view.patient_phone, type_="ST")
    pregnancy = e2b_holder.pregnancy_text(case, view)
    if pregnancy:
        el(observation(role, "subjectOf2", "CN-13"), "value", pregnancy, type_="ST")


def add_history(role: Any, case: Case, view: Any) -> None:
    """Add D.7.1.r and D.7.2: the related diseases and the history texts staff coded."""
    codings = [c for c in sent_codings(case, view) if c.kind == "history"]
    e2b_holder.add_history(role, case, view, codings)


def sent_codings(case: Case, view: Any) -> list[TermCoding]:
    """Return the codings of the texts the case holds now: indications and history staff code,
    and a disease's text as staff coded it before the diseases were rows."""
    current = {*reactions.term_texts(view), *(("history", row.name) for row in case.diseases)}
    return [c for c in case.term_codings if (c.kind, c.text) in current]


def add_reaction(
    role: Any, reaction: Reaction, rid: str, facts: reactions.ReactionFacts, where: str
) -> None:
    """Add one E.i: as reported, its LLT, when, where, seriousness and outcome."""
    obs = el(el(role, "subjectOf2", typeCode="SBJ"), "observation", classCode="OBS", moodCode="EVN")
    el(obs, "id", root=rid)  # before its code, as HL7 orders an act's elements
    code(obs, "29", CL19, "reaction")
    if facts.onset_date or facts.end_date:
        period = el(obs, "effectiveTime", type_="IVL_TS")
        if facts.onset_date:
            el(period, "low", value=day(facts.onset_date))  # E.i.4
        if facts.end_date:
            el(period, "high", value=day(facts.end_date))  # E.i.5
    value = el(
        obs,
        "value",
        type_="CE",
        code=str(reaction.llt_code),
        codeSystem=MEDDRA,
        codeSystemVersion=reaction.meddra_version,
    )
    el(value, "originalText", reaction.reported_term, language=reaction.language)  # E.i.1.1a/b
    located = el(el(obs, "location", typeCode="LOC"), "locatedEntity", classCode="LOCE")
    place = el(located, "locatedPlace", classCode="COUNTRY", determinerCode="INSTANCE")
    code(place, where, COUNTRY)  # E.i.9
    serious = set(facts.serious) | ({"death"} if facts.outcome == "death" else set())
    for criterion, obs_code in SERIOUSNESS.items():  # E.i.3.2a–f: true or NI, never false
        boolean(
            observation(obs, "outboundRelationship2", obs_code, typeCode="PERT"),
            True if criterion in serious else None,
        )
    outcome = observation(obs, "outboundRelationship2", "27", typeCode="PERT")
    el(
        outcome,
        "value",
        type_="CE",
        code=OUTCOME.get(facts.outcome or "unknown", "0"),
        codeSystem=ICH_CODES + "11",
    )


def add_drugs(role: Any, data: CaseData, reaction_ids: dict[int, str]) -> None:
    """Add G.k: one substance administration per drug of the current view."""
    case, view = data.case, data.view
    organizer = el(
        el(role, "subjectOf2", typeCode="SBJ"), "organizer", classCode="CATEGORY", moodCode="EVN"
    )
    code(organizer, "4", ICH_CODES + "20", "drugInformation")
    assessed = {id(drug) for drug in reactions.assessed_drugs(view)}
    for drug in data.drugs:
        details = holder.drug_details(case, drug, view.event_dechallenge)
        sba = el(
            el(organizer, "component", typeCode="COMP"),
            "substanceAdministration",
            classCode="SBADM",
            moodCode="EVN",
        )
        el(sba, "id", root=drug_id(case, drug))
        kind = el(
            el(el(sba, "consumable", typeCode="CSM"), "instanceOfKind", classCode="INST"),
            "kindOfProduct",
            classCode="MMAT",
            determinerCode="KIND",
        )
        el(kind, "name", product_name(drug))  # G.k.2.2
        if drug.approval_number or drug.manufacturer:
            made = el(kind, "asManufacturedProduct", classCode="MANU")
            approval = el(
                el(made, "subjectOf", typeCode="SBJ"),
                "approval",
                classCode="CNTRCT",
                moodCode="EVN",
            )
            if drug.approval_number:
                el(
                    approval, "id", root=ICH_ID + "4", extension=clean(drug.approval_number)
                )  # G.k.3.1
            if drug.manufacturer:
                holding = el(el(approval, "holder", typeCode="HLD"), "role", classCode="HLD")
                org = el(holding, "playingOrganization", classCode="ORG", determinerCode="INSTANCE")
                el(org, "name", drug.manufacturer[: MAX_LENGTH["holder"]])  # G.k.3.3
            if drug.approval_number:
                territory = el(
                    el(
                        el(approval, "author", typeCode="AUT"),
                        "territorialAuthority",
                        classCode="TERR",
                    ),
                    "territory",
                    classCode="NAT",
                    determinerCode="INSTANCE",
                )
                code(territory, "CN", COUNTRY)  # G.k.3.2
        amount = e2b_holder.strength(details.strength)
        if amount and drug.generic_name:
            e2b_holder.add_strength(kind, drug.generic_name, amount)  # G.k.2.3.r
        rows = dosages(case, drug)
        duration = total_duration(details)
        for row in rows:
            expiry = details.expiry_date if "expiry_date" in details.own else row.expiry_date
            add_dosage(sba, row, details.dosage_form, duration if len(rows) == 1 else None, expiry)
        weeks = case.gestation_exposure_weeks
        if weeks is not None and drug.role in ("suspect", "interacting"):  # G.k.6a/b
            quantity(observation(sba, "outboundRelationship2", "16", typeCode="PERT"), weeks, "wk")
        information = e2b_holder.drug_information(
            None if amount and drug.generic_name else details.strength,
            duration_text(duration) if duration and len(rows) > 1 else None,
        )
        if information:  # G.k.11
            obs = observation(
                sba, "outboundRelationship2", "2", display="additionalInformation", typeCode="REFR"
            )
            el(obs, "value", information, type_="ST")
        if id(drug) in assessed:
            for reaction in data.reactions:
                judged = reactions.pair_facts(reaction, drug, case, view)
                if judged.rechallenge in RECHALLENGE:  # G.k.9.i.4
                    obs = observation(sba, "outboundRelationship2", "31", typeCode="PERT")
                    el(
                        obs,
                        "value",
                        type_="CE",
                        code=RECHALLENGE[judged.rechallenge],
                        codeSystem=ICH_CODES + "16",
                    )
                    refer(obs, reaction_ids[reaction.id])
                if unverified():
                    add_pair_regional(sba, case, judged, reaction_ids[reaction.id])
        if unverified():
            add_drug_regional(sba, drug)
        if drug.indication:  # G.k.7.r
            indication = observation(
                sba, "inboundRelationship", "19", display="indication", typeCode="RSON"
            )
            coding = next(
                (
                    c
                    for c in case.term_codings
                    if c.kind == "indication" and c.text == drug.indication
                ),
                None,
            )
            value = el(
                indication,
                "value",
                type_="CE",
                codeSystem=MEDDRA,
                code=str(coding.llt_code) if coding else None,
                codeSystemVersion=coding.meddra_version if coding else None,
            )
            el(value, "originalText", drug.indication)
            performer = el(
                el(indication, "performer", typeCode="PRF"), "assignedEntity", classCode="ASSIGNED"
            )
            code(performer, "3", ICH_CODES + "21", "sourceReporter")
        action = el(
            el(sba, "inboundRelationship", typeCode="CAUS"), "act", classCode="ACT", moodCode="EVN"
        )
        code(action, e2b_holder.ACTION_CODE[details.action_taken], ICH_CODES + "15")  # G.k.8


def refer(obs: Any, rid: str) -> None:
    target = el(
        el(obs, "outboundRelationship1", typeCode="REFR"),
        "actReference",
        classCode="OBS",
        moodCode="EVN",
    )
    el(target, "id", root=rid)


def total_duration(details: holder.DrugDetails) -> tuple[int, str] | None:
    """Return G.k.4.r.6a/b: the duration staff gave; the one derived from the start and end
    dates is not sent, the dates (G.k.4.r.4, G.k.4.r.5) say it already."""
    if "duration_value" not in details.own or details.duration_value is None:
        return None
    return details.duration_value, details.duration_unit or "d"


def duration_text(duration: tuple[int, str]) -> str:
    """Return a duration in Chinese: 7天."""
    return f"{duration[0]}{vocab.label(vocab.DURATION_UNIT, duration[1], 'zh')}"


def add_dosage(
    sba: Any,
    drug: Dosage,
    form: str | None,
    duration: tuple[int, str] | None,
    expiry: date | None,
) -> None:
    """Add G.k.4.r: dose, dates and duration, route, batch, dose form, the dosage as text, and
    the expiry date (G.k.4.r.CN.1)."""
    dosage = el(
        el(sba, "outboundRelationship2", typeCode="COMP"),
        "substanceAdministration",
        classCode="SBADM",
        moodCode="EVN",
    )
    text = dosage_text(drug)
    if text:
        el(dosage, "text", text)  # G.k.4.r.8
    add_period(dosage, drug.start_date, drug.end_date, duration)
    if drug.route:
        route = el(
            dosage,
            "routeCode",
            code=ROUTE.get(drug.route),
            codeSystem=EDQM_ROUTE if drug.route in ROUTE else None,
        )
        el(route, "originalText", vocab.label(vocab.ROUTE, drug.route, "zh"))  # G.k.4.r.10.1
    if drug.dose is not None and drug.dose_unit:
        el(
            dosage,
            "doseQuantity",
            value=number(drug.dose),
            unit=DOSE_UNIT.get(drug.dose_unit, "{DF}"),
        )
    if drug.batch_number or form:
        instance = el(el(dosage, "consumable", typeCode="CSM"), "instanceOfKind", classCode="INST")
        if drug.batch_number:
            product = el(
                instance, "productInstanceInstance", classCode="MMAT", determinerCode="INSTANCE"
            )
            el(product, "lotNumberText", drug.batch_number)  # G.k.4.r.7
        kind = el(instance, "kindOfProduct", classCode="MMAT", determinerCode="KIND")
        if form:
            el(el(kind, "formCode"), "originalText", form)  # G.k.4.r.9.1
    if expiry and unverified():  # G.k.4.r.CN.1: encoding a guess
        obs = observation(dosage, "outboundRelationship2", "CN-8", typeCode="PERT")
        el(obs, "value", type_="TS", value=day(expiry))


def add_period(
    dosage: Any, start: date | None, end: date | None, duration: tuple[int, str] | None
) -> None:
    """Add G.k.4.r.4–6: an interval from the start to the end, or of a duration from the start
    or to the end; with all three, the interval and the duration as two parts (HL7 allows no
    interval of a start, an end and a width)."""
    if not (start or end or duration):
        return
    if start and end and duration:
        both = el(dosage, "effectiveTime", type_="SXPR_TS")
        period = el(both, "comp", type_="IVL_TS")
        el(period, "low", value=day(start))
        el(period, "high", value=day(end))
        quantity(el(both, "comp", type_="IVL_TS", operator="A"), *duration, tag="width")
        return
    period = el(dosage, "effectiveTime", type_="IVL_TS")
    if start:
        el(period, "low", value=day(start))  # G.k.4.r.4
    if duration:
        quantity(period, *duration, tag="width")  # G.k.4.r.6a/b
    if end:
        el(period, "high", value=day(end))  # G.k.4.r.5


def dosage_text(drug: Dosage) -> str:
    """Return G.k.4.r.8: the dose with its unit as reported, the route and the frequency."""
    parts = []
    if drug.dose is not None and drug.dose_unit:
        parts.append(f"{number(drug.dose)} {vocab.label(vocab.DOSE_UNIT, drug.dose_unit, 'zh')}")
    if drug.route:
        parts.append(vocab.label(vocab.ROUTE, drug.route, "zh"))
    if drug.frequency:
        parts.append(drug.frequency)
    return clean("，".join(parts))


def add_drug_regional(sba: Any, drug: Drug) -> None:
    """Add G.k.CN.1, G.k.CN.3, G.k.CN.4 (NMPA; placement a guess, mapping.md §4)."""
    if drug.generic_name:
        el(
            observation(sba, "outboundRelationship2", "CN-7", typeCode="PERT"),
            "value",
            drug.generic_name,
            type_="ST",
        )
    boolean(
        observation(sba, "outboundRelationship2", "CN-15", typeCode="PERT"),
        drug.product_id is not None,
    )
    if drug.approval_number:
        el(
            observation(sba, "outboundRelationship2", "CN-16", typeCode="PERT"),
            "value",
            drug.approval_number,
            type_="ST",
        )


def add_pair_regional(sba: Any, case: Case, judged: reactions.PairFacts, rid: str) -> None:
    """Add G.k.9.i.CN.1 (unexpected) and G.k.9.i.CN.2 (dechallenge) for one reaction."""
    if case.expectedness in ("new", "listed"):
        obs = observation(sba, "outboundRelationship2", "CN-4", typeCode="PERT")
        el(obs, "value", type_="CE", code="1" if case.expectedness == "new" else "0")
        refer(obs, rid)
    if judged.dechallenge in vocab.DECHALLENGE:
        obs = observation(sba, "outboundRelationship2", "CN-5", typeCode="PERT")
        el(
            el(obs, "value", type_="CE"),
            "originalText",
            vocab.label(vocab.DECHALLENGE, judged.dechallenge, "zh"),
        )
        refer(obs, rid)


# Checking.


@lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    """Return the ICH batch schema, loaded once from the vendored files (no network)."""
    parser = etree.XMLParser(no_network=True)
    return etree.XMLSchema(etree.parse(str(SCHEMA), parser))


def check(xml: bytes) -> list[str]:
    """Return what is wrong with a file: the schemas' errors, then the rules'."""
    document = etree.fromstring(xml, etree.XMLParser(no_network=True, huge_tree=True))
    validator = schema()
    if not validator.validate(document):
        return [f"XSD line {e.line}: {e.message}" for e in validator.error_log]
    return rule_errors(document)


M = "/h:MCCI_IN200100UV01/h:PORR_IN049016UV"
IE = M + "/h:controlActProcess/h:subject/h:investigationEvent"
AEA = IE + "/h:component/h:adverseEventAssessment"
PR = AEA + "/h:subject1/h:primaryRole"
RX = PR + "/h:subjectOf2/h:observation[h:code/@code='29']"
DRG = PR + "/h:subjectOf2/h:organizer[h:code/@code='4']/h:component/h:substanceAdministration"
DOS = DRG + "/h:outboundRelationship2[@typeCode='COMP']/h:substanceAdministration"
FR = PR + "/h:subjectOf2/h:organizer[h:code/@code='3']/h:component/h:observation"
HISTORY = (
    PR + "/h:subjectOf2/h:organizer[h:code/@code='1']/h:component"
    f"/h:observation[h:code/@codeSystem='{MEDDRA}']"
)
PARENT = PR + "/h:player1/h:role[h:code/@code='PRN']"
CN = IE + "/h:component/h:observationEvent[h:code/@code='{}']/h:value/@code"
REQUIRED = {
    "N.1.2": f"/h:MCCI_IN200100UV01/h:id[@root='{ICH_ID}22']/@extension",
    "N.1.3": f"/h:MCCI_IN200100UV01/h:sender/h:device/h:id[@root='{ICH_ID}13']/@extension",
    "N.1.4": f"/h:MCCI_IN200100UV01/h:receiver/h:device/h:id[@root='{ICH_ID}14']/@extension",
    "N.1.5": "/h:MCCI_IN200100UV01/h:creationTime/@value",
    "N.2.r.1": f"/h:MCCI_IN200100UV01/h:PORR_IN049016UV/h:id[@root='{ICH_ID}1']/@extension",
    "N.2.r.2": f"{M}/h:sender/h:device/h:id[@root='{ICH_ID}11']/@extension",
    "N.2.r.3": f"{M}/h:receiver/h:device/h:id[@root='{ICH_ID}12']/@extension",
    "C.1.1": f"{IE}/h:id[@root='{ICH_ID}1']/@extension",
    "C.1.2": "/h:MCCI_IN200100UV01/h:PORR_IN049016UV/h:controlActProcess/h:effectiveTime/@value",
    "C.1.3": f"{IE}/h:subjectOf2/h:investigationCharacteristic[h:code/@code='1']/h:value/@code",
    "C.1.4": f"{IE}/h:effectiveTime/h:low/@value",
    "C.1.5": f"{IE}/h:availabilityTime/@value",
    "C.1.6.1": f"{IE}/h:component/h:observationEvent[h:code/@code='1']/h:value/@value",
    "C.1.7": f"{IE}/h:component/h:observationEvent[h:code/@code='23']/h:value/@value",
    "C.1.8.1": f"{IE}/h:id[@root='{ICH_ID}2']/@extension",
    "C.1.8.2": f"{IE}/h:outboundRelationship/h:relatedInvestigation[h:code/@code='1']"
    "//h:assignedEntity/h:code/@code",
    "C.1.9.1": f"{IE}/h:subjectOf2/h:investigationCharacteristic[h:code/@code='2']"
    "/h:value/@nullFlavor",
    "C.3.1": f"{IE}/h:subjectOf1/h:controlActEvent/h:author/h:assignedEntity/h:code/@code",
    "C.3.2": f"{IE}/h:subjectOf1//h:representedOrganization/h:assignedEntity"
    "/h:representedOrganization/h:name/text()",
    "H.1": f"{IE}/h:text/text()",
}
LENGTHS = {  # element: (XPath of its values, ICH maximum)
    "N.1.2": (REQUIRED["N.1.2"], 100),
    "N.2.r.1": (REQUIRED["N.2.r.1"], 100),
    "N.1.3": (REQUIRED["N.1.3"], 60),
    "N.1.4": (REQUIRED["N.1.4"], 60),
    "C.1.1": (REQUIRED["C.1.1"], 100),
    "C.1.11.2": (
        f"{IE}/h:subjectOf2/h:investigationCharacteristic[h:code/@code='4']/h:value/h:originalText/text()",
        2000,
    ),
    "C.2.r.1.4": (
        f"{IE}/h:outboundRelationship/h:relatedInvestigation[h:code/@code='2']//h:assignedPerson/h:name/h:family/text()",
        60,
    ),
    "C.2.r.2.1": (
        f"{IE}/h:outboundRelationship/h:relatedInvestigation[h:code/@code='2']//h:representedOrganization/h:assignedEntity/h:representedOrganization/h:name/text()",
        60,
    ),
    "C.3.2": (REQUIRED["C.3.2"], 100),
    "D.1": (f"{PR}/h:player1/h:name/text()", 60),
    "D.1.1.3": (f"{PR}/h:player1/h:asIdentifiedEntity/h:id/@extension", 20),
    "D.7.2": (
        f"{PR}/h:subjectOf2/h:organizer[h:code/@code='1']/h:component/h:observation[h:code/@code='18']/h:value/text()",
        10000,
    ),
    "E.i.1.1a": (f"{RX}/h:value/h:originalText/text()", 250),
    "G.k.2.2": (f"{DRG}/h:consumable/h:instanceOfKind/h:kindOfProduct/h:name/text()", 250),
    "G.k.3.1": (f"{DRG}//h:approval/h:id/@extension", 35),
    "G.k.3.3": (f"{DRG}//h:approval/h:holder/h:role/h:playingOrganization/h:name/text()", 60),
    "G.k.4.r.7": (f"{DRG}//h:lotNumberText/text()", 35),
    "G.k.4.r.8": (f"{DRG}/h:outboundRelationship2/h:substanceAdministration/h:text/text()", 2000),
    "G.k.7.r.1": (
        f"{DRG}/h:inboundRelationship[@typeCode='RSON']/h:observation/h:value/h:originalText/text()",
        250,
    ),
    "G.k.2.3.r.1": (f"{DRG}//h:ingredient/h:ingredientSubstance/h:name/text()", 250),
    "G.k.4.r.9.1": (f"{DOS}//h:formCode/h:originalText/text()", 60),
    "G.k.11": (
        f"{DRG}/h:outboundRelationship2/h:observation[h:code/@code='2']/h:value/text()",
        2000,
    ),
    "D.7.1.r.5": (
        f"{HISTORY}/h:outboundRelationship2/h:observation[h:code/@code='10']/h:value/text()",
        2000,
    ),
    "D.9.4.r.2": (
        f"{PR}/h:subjectOf2/h:observation[h:code/@code='5']/h:outboundRelationship2"
        "/h:observation[h:code/@code='8']/h:value/h:originalText/text()",
        250,
    ),
    "D.10.1": (f"{PARENT}/h:associatedPerson/h:name/text()", 60),
    "D.10.7.2": (
        f"{PARENT}/h:subjectOf2/h:organizer/h:component/h:observation[h:code/@code='18']"
        "/h:value/text()",
        10000,
    ),
    "F.r.2.1": (f"{FR}/h:code/h:originalText/text()", 250),
    "F.r.3.4": (f"{FR}/h:value[@xsi:type='ED']/text()", 2000),
    "F.r.6": (
        f"{FR}/h:outboundRelationship2/h:observation[h:code/@code='10']/h:value/text()",
        2000,
    ),
    "H.1": (REQUIRED["H.1"], 100000),
    "C.1.6.1.r.1": (f"{IE}/h:reference/h:document[h:code/@code='1']/h:title/text()", 2000),
    "C.4.r.1": (
        f"{IE}/h:reference/h:document[h:code/@code='2']/h:bibliographicDesignationText/text()",
        500,
    ),
    "H.2": (f"{AEA}/h:component1/h:observationEvent[h:code/@code='10']/h:value/text()", 20000),
}
CODE_LISTS = {  # element: (XPath of its codes, allowed)
    "E.i.7": (
        f"{RX}/h:outboundRelationship2/h:observation[h:code/@code='27']/h:value/@code",
        set("012345"),
    ),
    "D.5": (f"{PR}/h:player1/h:administrativeGenderCode/@code", {"1", "2"}),
    "C.2.r.4": (f"{IE}//h:asQualifiedEntity/h:code/@code", set("12345")),
    "G.k.1": (
        f"{AEA}/h:component/h:causalityAssessment[h:code/@code='20']/h:value/@code",
        set("1234"),
    ),
    "G.k.9.i.4": (
        f"{DRG}/h:outboundRelationship2/h:observation[h:code/@code='31']/h:value/@code",
        set("1234"),
    ),
    "G.k.8": (f"{DRG}/h:inboundRelationship[@typeCode='CAUS']/h:act/h:code/@code", set("012349")),
    "C.1.3": (REQUIRED["C.1.3"], set("1234")),
    "C.1.6.1.r/C.4.r": (f"{IE}/h:reference/h:document/h:code/@code", {"1", "2"}),
    "C.1.8.2": (REQUIRED["C.1.8.2"], {"1", "2"}),
    "C.3.1": (REQUIRED["C.3.1"], set("1234567")),
    "C.1.11.1": (
        f"{IE}/h:subjectOf2/h:investigationCharacteristic[h:code/@code='3']/h:value/@code",
        {"1", "2"},
    ),
    "C.1.CN.1": (CN.format("CN-6"), set("12345678")),
    "C.1.CN.2": (CN.format("CN-11"), {"11", "12", "21", "22"}),
    "D.10.6": (f"{PARENT}/h:associatedPerson/h:administrativeGenderCode/@code", {"1", "2"}),
    "D.9.3": (
        f"{PR}/h:subjectOf2/h:observation[h:code/@code='5']/h:value/@value",
        {"true", "false"},
    ),
    "D.7.1.r.3": (
        f"{HISTORY}/h:inboundRelationship/h:observation[h:code/@code='13']/h:value/@value",
        {"true", "false"},
    ),
    "F.r.7": (
        f"{FR}/h:outboundRelationship2/h:observation[h:code/@code='25']/h:value/@value",
        {"true", "false"},
    ),
}
# Whole numbers of at most three digits (D.4, D.10.5: "provide rounded number").
HEIGHTS = (
    f"{PR}/h:subjectOf2/h:observation[h:code/@code='17']/h:value/@value"
    f" | {PARENT}/h:subjectOf2/h:observation[h:code/@code='17']/h:value/@value"
)
# Gestation in weeks: at the reaction in the foetus (D.2.2.1), at exposure (G.k.6).
GESTATION = (
    f"{PR}/h:subjectOf2/h:observation[h:code/@code='16']/h:value"
    f" | {DRG}/h:outboundRelationship2/h:observation[h:code/@code='16']/h:value"
)
LMP = (
    f"{PR}/h:subjectOf2/h:observation[h:code/@code='22']/h:value/@value"
    f" | {PARENT}/h:subjectOf2/h:observation[h:code/@code='22']/h:value/@value"
)
SERIOUS_CODES = tuple(SERIOUSNESS.values())
# Every TS the builder writes: CCYYMMDD, or to the second with the zone; a year 1900–2100.
TIMES = (
    "//h:creationTime/@value | //h:effectiveTime/@value | //h:availabilityTime/@value"
    " | //h:low/@value | //h:high/@value | //h:birthTime/@value | //h:deceasedTime/@value"
    " | //h:value[@xsi:type='TS']/@value"
)
TS = re.compile(r"(19\d\d|20\d\d|2100)(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(\d{6}[+-]\d{4})?")
TRUE_OR_NI = (("true", None), (None, "NI"))  # E.i.3.2: never false, never both
NUMBER = re.compile(r"-?\d+(\.\d+)?")


def rule_errors(document: Any) -> list[str]:
    """Return the ICH rules a schema-valid file breaks: required elements, codes, lengths, links."""

    def values(path: str) -> list[str]:
        return [str(v) for v in document.xpath(path, namespaces=NS)]

    errors = [
        f"{name} missing" for name, path in REQUIRED.items() if not "".join(values(path)).strip()
    ]
    for name, (path, limit) in LENGTHS.items():
        errors += [f"{name} longer than {limit}" for value in values(path) if len(value) > limit]
    for name, (path, allowed) in CODE_LISTS.items():
        errors += [
            f"{name} code {value!r} not allowed" for value in values(path) if value not in allowed
        ]
    errors += [
        f"TS {value!r} not a date of 1900-2100"
        for value in values(TIMES)
        if not TS.fullmatch(value)
    ]
    if not values(f"{PR}/h:player1/h:name/text()") and not values(
        f"{PR}/h:player1/h:name/@nullFlavor"
    ):
        errors.append("D.1 missing")
    if not values(
        f"{PR}/h:player1/h:administrativeGenderCode/@code"
        f" | {PR}/h:player1/h:administrativeGenderCode/@nullFlavor"
    ):
        errors.append("D.5 missing")
    held = values(f"{IE}/h:reference/h:document[h:code/@code='1']/h:title/text()")
    if values(REQUIRED["C.1.6.1"]) != (["true"] if held else ["false"]):
        errors.append("C.1.6.1: not true exactly when C.1.6.1.r lists documents")
    articles = f"{IE}/h:reference/h:document[h:code/@code='2']/h:text"
    for article in document.xpath(articles, namespaces=NS):
        if not article.get("mediaType") or article.get("representation") != "B64":
            errors.append("C.4.r.2: without its media type or not base64")
    if len(values(f"{IE}/h:outboundRelationship/h:priorityNumber[@value='1']/@value")) != 1:
        errors.append("C.2.r.5: not exactly one primary source")
    reaction_ids = values(f"{RX}/h:id/@root")
    drug_ids = values(f"{DRG}/h:id/@root")
    if not reaction_ids:
        errors.append("E.i missing")
    if not drug_ids:
        errors.append("G.k missing")
    if len(set(reaction_ids)) != len(reaction_ids) or len(set(drug_ids)) != len(drug_ids):
        errors.append("E.i/G.k ids not unique")
    for rx in document.xpath(RX, namespaces=NS):
        llt = rx.xpath("h:value/@code", namespaces=NS)
        if (
            not llt
            or not re.fullmatch(r"\d{8}", llt[0])
            or not rx.xpath("h:value/@codeSystemVersion", namespaces=NS)
        ):
            errors.append("E.i.2.1a/b: MedDRA LLT or version missing")
        for obs_code in SERIOUS_CODES:
            found = rx.xpath(
                f"h:outboundRelationship2/h:observation[h:code/@code='{obs_code}']/h:value",
                namespaces=NS,
            )
            if len(found) != 1 or (
                (found[0].get("value"), found[0].get("nullFlavor")) not in TRUE_OR_NI
            ):
                errors.append(f"E.i.3.2 ({obs_code}): true or NI required")
        if (
            len(rx.xpath("h:outboundRelationship2/h:observation[h:code/@code='27']", namespaces=NS))
            != 1
        ):
            errors.append("E.i.7 missing")
    if not set(values(CODE_LISTS["G.k.1"][0])) & {"1", "3", "4"}:
        errors.append("G.k.1: no suspect, interacting or not-administered drug")
    drugs, reactions_ = set(drug_ids), set(reaction_ids)
    for ref in values(
        f"{AEA}/h:component/h:causalityAssessment/h:subject2/h:productUseReference/h:id/@root"
    ):
        if ref not in drugs:
            errors.append(f"productUseReference {ref} points at no drug")
    for ref in values(
        f"{AEA}/h:component/h:causalityAssessment/h:subject1/h:adverseEffectReference/h:id/@root"
    ) + values(
        f"{DRG}/h:outboundRelationship2/h:observation/h:outboundRelationship1/h:actReference/h:id/@root"
    ):
        if ref not in reactions_:
            errors.append(f"adverseEffectReference {ref} points at no reaction")
    roles = document.xpath(
        f"{AEA}/h:component/h:causalityAssessment[h:code/@code='20']", namespaces=NS
    )
    if len(roles) != len(drug_ids):
        errors.append("G.k.1: not one role per drug")
    if values(
        f"{PR}/h:player1/h:deceasedTime/@value | {PR}/h:player1/h:deceasedTime/@nullFlavor"
    ) and not document.xpath(f"{PR}/h:subjectOf2/h:observation[h:code/@code='5']", namespaces=NS):
        errors.append("D.9.3 missing beside D.9.1")
    return errors + holder_rule_errors(document, values)


def holder_rule_errors(document: Any, values: Any) -> list[str]:
    """Return the rules of the holder form's elements: D.4, D.6, D.7.1.r, D.10, E.i.9, F.r,
    G.k.2.3.r, G.k.4.r.6, G.k.6."""
    errors = [
        f"D.4/D.10.5 {height!r} not a whole number of 1-999"
        for height in values(HEIGHTS)
        if not re.fullmatch(r"[1-9]\d{0,2}", height)
    ]
    low, high = e2b_holder.GESTATION_WEEKS
    for value in document.xpath(GESTATION, namespaces=NS):
        weeks = value.get("value", "")
        if (
            value.get("unit") != "wk"
            or not NUMBER.fullmatch(weeks)
            or not low <= float(weeks) <= high
        ):
            errors.append(f"D.2.2.1/G.k.6 {weeks!r} {value.get('unit')!r} not {low}-{high} wk")
    onsets = sorted(value[:8] for value in values(f"{RX}/h:effectiveTime/h:low/@value"))
    errors += [
        f"D.6/D.10.3 {lmp!r} after the onset"
        for lmp in values(LMP)
        if onsets and lmp[:8] > onsets[0]
    ]
    errors += [
        f"E.i.9 {place!r} not a country code"
        for place in values(f"{RX}/h:location/h:locatedEntity/h:locatedPlace/h:code/@code")
        if not re.fullmatch("[A-Z]{2}", place)
    ]
    if len(set(values(f"//*[@codeSystem='{MEDDRA}']/@codeSystemVersion"))) > 1:
        errors.append("MedDRA: more than one version")
    for row in document.xpath(HISTORY + "/h:code", namespaces=NS):
        if not re.fullmatch(r"\d{8}", row.get("code", "")) or not row.get("codeSystemVersion"):
            errors.append("D.7.1.r.1a/b: MedDRA LLT or version missing")
    for parent in document.xpath(PARENT, namespaces=NS):
        if not parent.xpath(
            "h:associatedPerson/h:administrativeGenderCode[@code or @nullFlavor]", namespaces=NS
        ):
            errors.append("D.10.6 missing in D.10")
    for test in document.xpath(FR, namespaces=NS):
        if not test.xpath("h:code/h:originalText/text() | h:code/@code", namespaces=NS):
            errors.append("F.r.2: no test name")
        if not test.xpath("h:effectiveTime[@value or @nullFlavor]", namespaces=NS):
            errors.append("F.r.1 missing")
        numbers = test.xpath("h:value[@xsi:type='IVL_PQ']/h:center", namespaces=NS)
        if not numbers and not test.xpath("h:value[@xsi:type='ED']/text()", namespaces=NS):
            errors.append("F.r.3: no result")
        if any(not NUMBER.fullmatch(c.get("value", "")) or not c.get("unit") for c in numbers):
            errors.append("F.r.3.2/F.r.3.3: a result without its number or unit")
    for strength in document.xpath(f"{DRG}//h:ingredient/h:quantity/h:numerator", namespaces=NS):
        if not NUMBER.fullmatch(strength.get("value", "")) or not strength.get("unit"):
            errors.append("G.k.2.3.r.3a/b: a strength without its number or unit")
    for width in document.xpath(f"{DOS}/h:effectiveTime//h:width", namespaces=NS):
        if (
            not re.fullmatch(r"\d{1,5}", width.get("value", ""))
            or width.get("unit") not in vocab.DURATION_UNIT
        ):
            errors.append("G.k.4.r.6a/b: a duration not a number of min, h, d, wk, mo or a")
    return errors


# Keeping what was built.


def submit(
    session: Session, case: Case, actor: str, kind: str = "report", reason: str | None = None
) -> Submission:
    """Build the case's file, keep it as a submission and audit it, in the caller's transaction."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    built = build(case, kind, reason)
    why = (reason or "").strip() or None if kind != "report" else None
    submission = Submission(
        case=case,
        version=built.version,
        latest_report_id=case.reports[-1].id,
        kind=kind,
        reason=why,
        safety_report_id=built.safety_report_id,
        message_id=built.message_id,
        batch_id=built.batch_id,
        created_at=datetime.now(UTC),
        created_by=actor,
        xml=built.xml.decode("utf-8"),
    )
    session.add(submission)
    session.flush()
    audit.record(
        session,
        actor,
        "E2B generated",
        case.reports[0].id,
        "e2b",
        None,
        f"{kind} v{built.version} {built.message_id}" + (f": {why}" if why else ""),
    )
    return submission


def file_name(submission: Submission) -> str:
    """Return the download's name: C.1.1 and the version (and the kind, if not a report)."""
    kind = "" if submission.kind == "report" else f"-{submission.kind}"
    return f"{submission.safety_report_id}-v{submission.version}{kind}.xml"
