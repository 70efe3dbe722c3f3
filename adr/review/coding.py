"""The case page's reactions: MedDRA coding, each reaction's own values, judgements per drug.

Each form of the section posts here; a refused one gives the case page back (422) with what was
typed and why, and every change is audited in the transaction that makes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from adr import audit, cases, meddra, products, reactions, regulatory, vocab
from adr.auth.views import role_required
from adr.i18n import current_language
from adr.intake.forms import clean_text
from adr.models import (
    Case,
    CaseDisease,
    Drug,
    DrugReaction,
    LabResult,
    Reaction,
    Report,
    TermCoding,
    write_transaction,
)
from adr.review import bp
from adr.review.queries import find_report

SUGGESTIONS = 10
# Suggestions are searched for this many uncoded terms when the page opens (a public report may
# name fifty); the others search when their form asks.
AUTO_SUGGESTED = 10
TERM_KINDS = ("indication", "history")
REACTION_FACTS = ("onset_date", "end_date", "outcome", "serious")
PAIR_CODES = {
    "reporter_causality": vocab.CAUSALITY,
    "company_causality": vocab.CAUSALITY,
    "dechallenge": vocab.DECHALLENGE,
    "rechallenge": vocab.RECHALLENGE,
}
EARLIEST_YEAR = 1900  # as the report form's dates
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class Refusal:
    """A refused form of the section: which one (its anchor), what was typed, and why."""

    anchor: str
    typed: MultiDict[str, str]
    errors: dict[str, str]  # by input name


@dataclass
class Coding:
    """One text to code (a reaction, an indication, a history) as its coding form shows it."""

    anchor: str  # the element id of its form, and what the search box's `for` names
    text: str
    coded: meddra.Hit | None
    stored: str  # the stored code and version, shown when the release no longer holds it
    coded_by: str | None
    coded_at: datetime | None
    query: str  # what the suggestions were searched for: the text, or the search box's
    suggestions: list[meddra.Hit]
    hidden: dict[str, str]  # the inputs that name the text to the route
    action: str
    typed: str = ""
    error: str | None = None
    searched: bool = True  # False: no search ran for it (coded, or past AUTO_SUGGESTED)

    @property
    def target(self) -> str:
        """Return what the search box's `for` names: a reaction's id, or indication-0."""
        return self.anchor.removeprefix("coding-")


@dataclass
class ReactionRow:
    reaction: Reaction
    coding: Coding
    facts: reactions.ReactionFacts
    inherited: reactions.ReactionFacts  # what "as the case" means for this reaction
    typed: MultiDict[str, str] | None = None  # the values form, as refused
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DrugColumn:
    index: int
    key: str
    name: str
    role: str | None


@dataclass
class PairRow:
    drug: DrugColumn
    reaction: Reaction
    facts: reactions.PairFacts


@dataclass
class ReactionSection:
    """What the case page's reactions section shows."""

    version: str | None  # the MedDRA version coded to; None: no release imported
    rows: list[ReactionRow]
    excluded: list[Reaction]  # terms staff judged not reactions
    terms: list[Coding]
    case_facts: reactions.ReactionFacts  # what "as the case" means for a reaction
    drugs: list[DrugColumn]
    pairs: list[PairRow]
    case_pair: reactions.PairFacts  # what "as the case" means for a drug and a reaction
    refused: Refusal | None
    opened: str  # the anchor a search or a refusal is about: its details are open


def meddra_language() -> str:
    return "en" if current_language() == "en" else "zh"


def shown_coding(code: int, version: str) -> str:
    """Return a coding as the audit trail keeps it: 10037087 Pruritus (27.1)."""
    hit = meddra.describe(code, version, "en")
    return f"{code} {hit.llt_name if hit else ''} ({version})".replace("  ", " ")


def drug_columns(view: cases.CurrentView) -> list[DrugColumn]:
    """Return the drugs judged per reaction: suspect and interacting, each key once."""
    columns: dict[str, DrugColumn] = {}
    for drug in reactions.assessed_drugs(view):
        key = reactions.drug_key(drug)
        if key and key not in columns:
            name = drug.generic_name or drug.brand_name or ""
            columns[key] = DrugColumn(len(columns), key, name, drug.role)
    return list(columns.values())


def drug_of(view: cases.CurrentView, key: str) -> Drug:
    return next(drug for drug in reactions.assessed_drugs(view) if reactions.drug_key(drug) == key)


def reaction_section(
    report: Report, view: cases.CurrentView, refused: Refusal | None = None
) -> ReactionSection:
    """Return the reactions section of a case page, with suggestions and any refused form."""
    case = report.case
    reference = report.reference
    language = meddra_language()
    version = meddra.current_version()
    wanted = request.args.get("for", "")[:40]
    asked = " ".join(request.args.get("meddra_q", "").split())[:100]
    opened = refused.anchor if refused else (f"coding-{wanted}" if wanted else "")
    automatic: list[str] = []  # the uncoded terms searched without being asked

    def coding(
        anchor: str,
        text: str,
        coded: Reaction | TermCoding | CaseDisease | LabResult | None,
        hidden: dict[str, str],
        action: str | None = None,
    ) -> Coding:
        code = coded.llt_code if coded else None
        code_version = coded.meddra_version if coded else None
        searching = bool(asked) and anchor == f"coding-{wanted}"
        query = asked if searching else text
        searched = bool(version) and (searching or (not code and len(automatic) < AUTO_SUGGESTED))
        if searched and not searching:
            automatic.append(anchor)
        item = Coding(
            anchor=anchor,
            text=text,
            coded=meddra.describe(code, code_version, language) if code and code_version else None,
            stored=f"{code} ({code_version})" if code else "",
            coded_by=getattr(coded, "coded_by", None),
            coded_at=getattr(coded, "coded_at", None),
            query=query,
            suggestions=meddra.search(query, language, SUGGESTIONS, version) if searched else [],
            searched=searched,
            hidden=hidden,
            action=action
            or url_for(
                "review.code_term" if "kind" in hidden else "review.code_reaction",
                reference=reference,
            ),
        )
        if refused and refused.anchor == anchor:
            item.typed = refused.typed.get("llt_code", "")[:20]
            item.error = refused.errors.get("llt_code")
        return item

    rows = []
    sent = reactions.sent(case)
    for reaction in sent:
        item = coding(
            f"coding-{reaction.id}",
            reaction.reported_term,
            reaction,
            {"reaction": str(reaction.id)},
        )
        row = ReactionRow(
            reaction,
            item,
            reactions.reaction_facts(reaction, case, view),
            reactions.reaction_facts(Reaction(report_id=reaction.report_id), case, view),
        )
        if refused and refused.anchor == f"reaction-{reaction.id}":
            row.typed, row.errors = refused.typed, refused.errors
        rows.append(row)
    codings = {(c.kind, c.text): c for c in case.term_codings}
    terms = []
    counts = {kind: 0 for kind in TERM_KINDS}
    for kind, text in reactions.term_texts(view):
        stored = codings.get((kind, text))
        hidden = {"kind": kind, "text": text}
        terms.append(coding(f"coding-{kind}-{counts[kind]}", text, stored, hidden))
        counts[kind] += 1
    for kind, held, title in (
        ("diseases", case.diseases, "name"),
        ("labs", case.lab_results, "test_name"),
    ):
        for entry in held:
            action = url_for("review.code_row", reference=reference, kind=kind, row_id=entry.id)
            anchor = f"coding-{kind}-{entry.id}"
            terms.append(coding(anchor, getattr(entry, title), entry, {}, action))
    drugs = drug_columns(view)
    pairs = [
        PairRow(drug, reaction, reactions.pair_facts(reaction, drug_of(view, drug.key), case, view))
        for drug in drugs
        for reaction in sent
    ]
    blank = Reaction()  # a reaction nobody set apart: the case's own values
    return ReactionSection(
        version=version,
        rows=rows,
        excluded=[reaction for reaction in case.reactions if reaction.excluded_reason],
        terms=terms,
        case_facts=reactions.reaction_facts(blank, case, view),
        drugs=drugs,
        pairs=pairs,
        case_pair=reactions.pair_facts(blank, Drug(), case, view),
        refused=refused,
        opened=opened,
    )


# The forms' routes.


def refuse(report: Report, refusal: Refusal) -> tuple[str, int]:
    """Give the case page back with the refused form: what was typed, and why."""
    from adr.review.views import render_case, stored_assessment  # views imports this module

    return render_case(report, stored_assessment(report.case), refusal), 422


def back_to(report: Report, anchor: str) -> Response:
    return redirect(url_for("review.case", reference=report.reference) + f"#{anchor}", 303)


def posted_id(value: str | None) -> int:
    """Return an id from the request; 404 for anything else."""
    if not value or not (value.isascii() and value.isdigit()) or int(value) > MAX_ID:
        abort(404)
    return int(value)


def reaction_of(case: Case, reaction_id: int) -> Reaction:
    """Return the case's reaction of that id; 404 for another case's, or none."""
    found = next((reaction for reaction in case.reactions if reaction.id == reaction_id), None)
    return found or abort(404)


def chosen_llt(form: MultiDict[str, str]) -> tuple[meddra.Hit | None, str | None]:
    """Return the current LLT a coding form chose (a suggestion or a typed code), or why not."""
    typed = (form.get("chosen_llt") or form.get("llt_code") or "").strip()
    version = meddra.current_version()
    if version is None:
        return None, _(
            "No MedDRA release is imported: an administrator imports one with adr import-meddra."
        )
    if not typed:
        return None, _("Give an LLT code, or choose a suggestion.")
    if not (typed.isascii() and typed.isdigit()) or len(typed) > 9:
        return None, _(
            "%(typed)s is not a MedDRA code: an LLT code is a number of 8 digits.",
            typed=typed[:20],
        )
    hit = meddra.describe(int(typed), version, meddra_language())
    if hit is None:
        return None, _("%(code)s is not an LLT of MedDRA %(version)s.", code=typed, version=version)
    if not hit.current:
        return None, _(
            "LLT %(code)s %(name)s is no longer current in MedDRA %(version)s: "
            "choose a current LLT.",
            code=hit.llt_code,
            name=hit.llt_name,
            version=version,
        )
    return hit, None


def coding_text(code: int | None, version: str | None) -> str | None:
    return shown_coding(code, version) if code and version else None


@bp.post("/reports/<reference>/coding")
@role_required("reviewer", "admin")
def code_reaction(reference: str) -> Response | tuple[str, int]:
    """Code a reaction to a current LLT of the imported MedDRA, or remove its coding."""
    report = find_report(reference)
    reaction_id = reaction_of(report.case, posted_id(request.form.get("reaction"))).id
    anchor = f"coding-{reaction_id}"
    hit = None
    if "uncode" not in request.form:
        hit, problem = chosen_llt(request.form)
        if problem:
            return refuse(report, Refusal(anchor, request.form.copy(), {"llt_code": problem}))
    with write_transaction() as session:
        case = cases.lock(session, report.case_id)
        reaction = reaction_of(case, reaction_id)
        old = coding_text(reaction.llt_code, reaction.meddra_version)
        new = coding_text(hit.llt_code, hit.version) if hit else None
        changed = audit.record_change(
            session,
            current_user.email,
            "reaction coded",
            case.first_report.id,
            f"meddra: {reaction.reported_term}"[:60],
            old,
            new,
        )
        if changed:
            reaction.meddra_version = hit.version if hit else None
            reaction.llt_code = hit.llt_code if hit else None
            reaction.coded_by = current_user.email if hit else None
            reaction.coded_at = datetime.now(UTC) if hit else None
    flash(_("Saved.") if changed else _("Nothing changed."))
    return back_to(report, f"reaction-{reaction_id}")


@bp.post("/reports/<reference>/coding/terms")
@role_required("reviewer", "admin")
def code_term(reference: str) -> Response | tuple[str, int]:
    """Code a drug's indication or the patient's history, as the case gives its text."""
    report = find_report(reference)
    kind = request.form.get("kind", "")
    text = request.form.get("text", "").replace("\r\n", "\n")
    view = cases.current_view(report.case.reports)
    texts = [given for of_kind, given in reactions.term_texts(view) if of_kind == kind]
    if kind not in TERM_KINDS or text not in texts:
        flash(_("This text is no longer the case's: it changed since the page was loaded."))
        return back_to(report, "reactions")
    anchor = f"coding-{kind}-{texts.index(text)}"
    hit = None
    if "uncode" not in request.form:
        hit, problem = chosen_llt(request.form)
        if problem:
            return refuse(report, Refusal(anchor, request.form.copy(), {"llt_code": problem}))
    with write_transaction() as session:
        case = cases.lock(session, report.case_id)
        stored = next((c for c in case.term_codings if (c.kind, c.text) == (kind, text)), None)
        old = coding_text(stored.llt_code, stored.meddra_version) if stored else None
        new = coding_text(hit.llt_code, hit.version) if hit else None
        changed = audit.record_change(
            session,
            current_user.email,
            "term coded",
            case.first_report.id,
            f"{kind}: {text}"[:60],
            old,
            new,
        )
        if changed and hit is None and stored is not None:
            session.delete(stored)
        elif changed and hit is not None:
            stored = stored or TermCoding(case_id=case.id, kind=kind, text=text)
            stored.meddra_version, stored.llt_code = hit.version, hit.llt_code
            stored.coded_by, stored.coded_at = current_user.email, datetime.now(UTC)
            session.add(stored)
    flash(_("Saved.") if changed else _("Nothing changed."))
    return back_to(report, anchor)


def posted_day(form: MultiDict[str, str], name: str, errors: dict[str, str]) -> date | None:
    typed = form.get(name, "").strip()
    try:
        day = date.fromisoformat(typed) if typed else None
    except ValueError:
        day = None
    if typed and (day is None or len(typed) != 10):
        errors[name] = _("Write the date as YYYY-MM-DD, e.g. 2026-03-01.")
        return None
    if day and day > regulatory.china_today():
        errors[name] = _("This date is in the future.")
    elif day and day.year < EARLIEST_YEAR:
        errors[name] = _("This date is too long ago.")
    return day


def reaction_values(
    form: MultiDict[str, str], case_facts: reactions.ReactionFacts
) -> tuple[dict[str, Any], dict[str, str]]:
    """Return a reaction's own values as posted (None: the case's), and what is wrong."""
    errors: dict[str, str] = {}
    onset = posted_day(form, "onset_date", errors)
    end = posted_day(form, "end_date", errors)
    outcome = form.get("outcome") or None
    if outcome is not None and outcome not in vocab.OUTCOME:
        errors["outcome"] = _("Choose an outcome from the list.")
    ticked = list(dict.fromkeys(form.getlist("serious")))
    mode = form.get("serious_mode", "case")
    if mode not in ("case", "own") or any(code not in vocab.SERIOUSNESS for code in ticked):
        errors["serious"] = _("Choose seriousness criteria from the list.")
    elif mode == "case" and ticked:
        errors["serious"] = _(
            "Choose 'set for this reaction' to tick criteria, or untick them to keep the case's."
        )
    serious = ticked if mode == "own" else None
    begun = onset or case_facts.onset_date
    if end and begun and end < begun:
        errors["end_date"] = _(
            "The reaction cannot end before its onset (%(onset)s).", onset=begun.isoformat()
        )
    if "death" in (serious or []) and (outcome or case_facts.outcome) != "death":
        errors["serious"] = _(
            "'Lead to death' needs the outcome 'death': correct the outcome here, or untick it."
        )
    # The case's seriousness and outcome set its deadline: a reaction may be less than its case,
    # never more, or the file sent would contradict the clock the case was reported on.
    beyond = [code for code in serious or [] if code not in case_facts.serious]
    if beyond and "serious" not in errors:
        errors["serious"] = _(
            "The case is not judged %(criteria)s: confirm it in the case's assessment first "
            "(a reaction cannot be more serious than its case).",
            criteria="、".join(
                vocab.label(vocab.SERIOUSNESS, code, current_language()) for code in beyond
            ),
        )
    if outcome == "death" and case_facts.outcome != "death":
        errors["outcome"] = _(
            "The case's outcome is not death: record the death in the case's assessment first."
        )
    values = {"onset_date": onset, "end_date": end, "outcome": outcome, "serious": serious}
    return values, errors


@bp.post("/reports/<reference>/reactions/<reaction_id>")
@role_required("reviewer", "admin")
def change_reaction(reference: str, reaction_id: str) -> Response | tuple[str, int]:
    """Set a reaction's own onset, end, outcome and seriousness, or give them back to the case."""
    report = find_report(reference)
    reaction = reaction_of(report.case, posted_id(reaction_id))
    view = cases.current_view(report.case.reports)
    case_facts = reactions.reaction_facts(Reaction(), report.case, view)
    values, errors = reaction_values(request.form, case_facts)
    if errors:
        return refuse(report, Refusal(f"reaction-{reaction.id}", request.form.copy(), errors))
    changed = False
    with write_transaction() as session:
        case = cases.lock(session, report.case_id)
        reaction = reaction_of(case, reaction.id)
        for name, value in values.items():
            old = getattr(reaction, name)
            if old != value:  # [] (not serious) differs from None (the case's)
                audit.record(
                    session,
                    current_user.email,
                    "reaction changed",
                    case.first_report.id,
                    f"{name}: {reaction.reported_term}"[:60],
                    old,
                    value,
                )
                setattr(reaction, name, value)
                changed = True
    flash(_("Saved.") if changed else _("Nothing changed."))
    return back_to(report, f"reaction-{reaction.id}")


def new_reaction_problem(case: Case, term: str | None) -> str | None:
    if not term:
        return _("Give the reaction as it was reported.")
    if len(term) > 250:
        return _("At most 250 characters.")
    key = products.term_key(term)
    if not key:
        return _("Give the reaction in words.")
    if any(products.term_key(reaction.reported_term) == key for reaction in case.reactions):
        return _("This case has this reaction already.")
    return None


@bp.post("/reports/<reference>/reactions")
@role_required("reviewer", "admin")
def add_reaction(reference: str) -> Response | tuple[str, int]:
    """Add a reaction the reports did not name as a term (from the narrative, say)."""
    report = find_report(reference)
    term = clean_text(request.form.get("reported_term"))
    with write_transaction() as session:
        case = cases.lock(session, report.case_id)
        problem = new_reaction_problem(case, term)
        if problem is None:
            position = max((reaction.position for reaction in case.reactions), default=0) + 1
            reaction = Reaction(
                case_id=case.id,
                position=position,
                reported_term=term,
                language=reactions.language_of(term),
            )
            session.add(reaction)
            audit.record(
                session,
                current_user.email,
                "reaction added",
                case.first_report.id,
                f"reported_term: {term}"[:60],
                None,
                term,
            )
    if problem:
        errors = {"reported_term": problem}
        return refuse(report, Refusal("add-reaction", request.form.copy(), errors))
    flash(_("The reaction is added: code it to MedDRA below."))
    return back_to(report, f"reaction-{reaction.id}")


@bp.post("/reports/<reference>/reactions/<reaction_id>/exclusion")
@role_required("reviewer", "admin")
def exclude_reaction(reference: str, reaction_id: str) -> Response | tuple[str, int]:
    """Judge a term not a reaction (停药后好转, or the same as another), with why; or undo it.

    The reaction is kept, so that a later report naming the term does not add it again, but it
    is neither shown among the reactions nor sent.
    """
    report = find_report(reference)
    restore = "restore" in request.form
    reason = None if restore else clean_text(request.form.get("reason"))
    anchor = f"reaction-{posted_id(reaction_id)}-exclusion"
    if not restore and not reason:
        errors = {"reason": _("Say why this is not a reaction (e.g. “the same as 皮疹”).")}
        return refuse(report, Refusal(anchor, request.form.copy(), errors))
    if reason and len(reason) > 200:
        return refuse(
            report, Refusal(anchor, request.form.copy(), {"reason": _("At most 200 characters.")})
        )
    with write_transaction() as session:
        case = cases.lock(session, report.case_id)
        reaction = reaction_of(case, posted_id(reaction_id))
        old = reaction.excluded_reason
        if old != reason:
            reaction.excluded_reason = reason
            audit.record(
                session,
                current_user.email,
                "reaction restored" if restore else "reaction excluded",
                case.first_report.id,
                f"excluded: {reaction.reported_term}"[:60],
                old,
                reason,
            )
    flash(
        _("The term is a reaction again.")
        if restore
        else _("The term is set aside: not a reaction.")
    )
    return back_to(report, "reactions")


@bp.post("/reports/<reference>/judgements")
@role_required("reviewer", "admin")
def judge_pairs(reference: str) -> Response | tuple[str, int]:
    """Set causality, dechallenge and rechallenge per drug and reaction, or give them back."""
    report = find_report(reference)
    case = report.case
    columns = drug_columns(cases.current_view(case.reports))
    # One form per drug (a case may hold many reactions): the drugs it posts, by column.
    posted = {
        column.index: request.form[f"drug-{column.index}"]
        for column in columns
        if f"drug-{column.index}" in request.form
    }
    errors: dict[str, str] = {}
    if not posted or any(columns[index].key != key for index, key in posted.items()):
        errors["pairs"] = _(
            "The case's drugs changed since the page was loaded: check the judgements again."
        )
    wanted: dict[tuple[int, str], dict[str, str | None]] = {}
    for reaction in case.reactions:
        for index in posted:
            values: dict[str, str | None] = {}
            for name, codes in PAIR_CODES.items():
                field_name = f"pair-{reaction.id}-{index}-{name}"
                if field_name not in request.form:  # a reaction added since the page was loaded
                    continue
                value = request.form[field_name] or None
                if value is not None and value not in codes:
                    errors[field_name] = _("Choose from the list.")
                values[name] = value
            wanted[(reaction.id, columns[index].key)] = values
    if errors:
        return refuse(report, Refusal("pairs", request.form.copy(), errors))
    changed = False
    with write_transaction() as session:
        case = cases.lock(session, report.case_id)
        for reaction in case.reactions:
            for column in columns:
                changed |= judge(
                    session, case, reaction, column, wanted.get((reaction.id, column.key))
                )
    flash(_("Saved.") if changed else _("Nothing changed."))
    return back_to(report, "pairs")


def judge(
    session: Session,
    case: Case,
    reaction: Reaction,
    drug: DrugColumn,
    values: dict[str, str | None] | None,
) -> bool:
    """Store one drug and reaction's judgements, audited; a row holding none is removed."""
    row = next((row for row in reaction.assessments if row.drug_key == drug.key), None)
    changed = False
    for name, value in (values or {}).items():
        old = getattr(row, name) if row else None
        if old == value:
            continue
        if row is None:
            row = DrugReaction(drug_key=drug.key)
            reaction.assessments.append(row)
        setattr(row, name, value)
        audit.record(
            session,
            current_user.email,
            "judgement changed",
            case.first_report.id,
            f"{name}: {drug.name} × {reaction.reported_term}"[:60],
            old,
            value,
        )
        changed = True
    if row is not None and all(getattr(row, name) is None for name in reactions.PAIR_FIELDS):
        reaction.assessments.remove(row)
    return changed
