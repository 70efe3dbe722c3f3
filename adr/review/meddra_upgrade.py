"""After a MedDRA upgrade: the codings a coder recodes, and the designated medical events.

Importing a newer release moves every coding whose LLT is still current to it (`adr.meddra`);
the others keep their version and are listed here, each with a form to recode it as the case
page codes it. Admins keep here the PTs detection always raises (designated medical events).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from adr import audit, cases, meddra
from adr.auth.views import role_required
from adr.extensions import db
from adr.models import (
    FIRST_REPORT_ORDER,
    CaseDisease,
    DesignatedMedicalEvent,
    LabResult,
    MeddraTerm,
    Product,
    Reaction,
    Report,
    TermCoding,
    write_transaction,
)
from adr.review import bp
from adr.review.coding import (
    AUTO_SUGGESTED,
    SUGGESTIONS,
    chosen_llt,
    coding_text,
    meddra_language,
    posted_id,
)

SHOWN = 200  # codings listed at once; the rest once these are recoded
# Each kind of coding: its table, and the audit action the case page records it with.
KINDS: dict[str, tuple[Any, str]] = {
    "reaction": (Reaction, "reaction coded"),
    "indication": (TermCoding, "term coded"),
    "history": (TermCoding, "term coded"),
    "diseases": (CaseDisease, "disease coded"),
    "labs": (LabResult, "lab result coded"),
}
# The usual designated medical events, by English PT name: the core of the EMA's Designated
# Medical Events list (EMA, "Designated Medical Event (DME) list", published with the EMA's
# signal management guidance, GVP Module IX), the serious reactions most often drug-caused.
USUAL_EVENTS = (
    "Anaphylactic shock",
    "Anaphylactic reaction",
    "Anaphylactoid reaction",
    "Anaphylactoid shock",
    "Angioedema",
    "Stevens-Johnson syndrome",
    "Toxic epidermal necrolysis",
    "Drug reaction with eosinophilia and systemic symptoms",
    "Acute generalised exanthematous pustulosis",
    "Acute hepatic failure",
    "Hepatic failure",
    "Hepatitis fulminant",
    "Hepatic necrosis",
    "Agranulocytosis",
    "Aplastic anaemia",
    "Pancytopenia",
    "Thrombotic thrombocytopenic purpura",
    "Haemolytic uraemic syndrome",
    "Torsade de pointes",
    "Ventricular fibrillation",
    "Sudden death",
    "Acute kidney injury",
    "Interstitial lung disease",
    "Pulmonary fibrosis",
    "Pulmonary arterial hypertension",
    "Rhabdomyolysis",
    "Neuroleptic malignant syndrome",
    "Progressive multifocal leukoencephalopathy",
    "Guillain-Barre syndrome",
    "Optic neuritis",
    "Pancreatitis acute",
    "Deafness",
)


@dataclass
class UpgradeRow:
    """An outdated coding as the upgrade page shows it, with its recoding form."""

    coding: meddra.OutdatedCoding
    reference: str  # the case's first report
    old: meddra.Hit | None  # the LLT and PT it is coded to, in its own version
    in_newest: bool  # its LLT is in the newest version, no longer current; else gone
    suggestions: list[meddra.Hit]
    query: str
    searched: bool
    typed: str = ""
    error: str | None = None

    @property
    def anchor(self) -> str:
        return f"upgrade-{self.coding.kind}-{self.coding.row_id}"


@dataclass(frozen=True)
class ListedRow:
    """A product's listed term coded to a code that is not a PT of the newest version."""

    product: Product
    term: str
    pt_code: int


def first_references(case_ids: set[int]) -> dict[int, str]:
    """Return each case's first report's reference."""
    rows = db.session.execute(
        sa.select(Report.case_id, Report.reference)
        .where(Report.case_id.in_(case_ids))
        .order_by(Report.case_id, *FIRST_REPORT_ORDER)
    )
    found: dict[int, str] = {}
    for case_id, reference in rows:
        found.setdefault(case_id, reference)
    return found


def pt_codes(version: str) -> set[int]:
    return set(
        db.session.scalars(
            sa.select(MeddraTerm.code).where(
                MeddraTerm.version == version, MeddraTerm.level == "pt"
            )
        )
    )


def outdated_listed(version: str) -> list[ListedRow]:
    """Return the catalogue's listed terms coded to a code no longer a PT of `version`."""
    current = pt_codes(version)
    return [
        ListedRow(product, term, code)
        for product in db.session.scalars(sa.select(Product).order_by(Product.generic_name))
        for term, code in (product.listed_pt_codes or {}).items()
        if code not in current
    ]


def upgrade_page(refused: tuple[str, MultiDict[str, str], str] | None = None) -> str:
    """Render the outdated codings; `refused`: a form's anchor, what it posted, and why."""
    version = meddra.current_version()
    language = meddra_language()
    if version is None:
        return render_template("review/coding_upgrade.html", version=None)
    codings, total = meddra.outdated_codings(version, SHOWN)
    references = first_references({coding.case_id for coding in codings})
    wanted = request.args.get("for", "")[:60]
    asked = " ".join(request.args.get("meddra_q", "").split())[:100]
    rows = []
    for index, coding in enumerate(codings):
        row = UpgradeRow(
            coding,
            references.get(coding.case_id, ""),
            meddra.describe(coding.llt_code, coding.version, language),
            meddra.describe(coding.llt_code, version, language) is not None,
            [],
            coding.text,
            False,
        )
        asked_here = bool(asked) and row.anchor == wanted
        row.query = asked if asked_here else coding.text
        row.searched = asked_here or index < AUTO_SUGGESTED
        if row.searched:
            row.suggestions = meddra.search(row.query, language, SUGGESTIONS, version)
        if refused and refused[0] == row.anchor:
            row.typed, row.error = refused[1].get("llt_code", "")[:20], refused[2]
        rows.append(row)
    return render_template(
        "review/coding_upgrade.html",
        version=version,
        rows=rows,
        total=total,
        listed=outdated_listed(version),
        opened=refused[0] if refused else (wanted if asked else ""),
    )


@bp.get("/coding/upgrade")
@role_required("reviewer", "admin")
def coding_upgrade() -> str:
    """List the codings a MedDRA upgrade could not move: their LLT is no longer current."""
    return upgrade_page()


@bp.post("/coding/upgrade")
@role_required("reviewer", "admin")
def recode_outdated() -> Response | tuple[str, int]:
    """Recode an outdated coding to a current LLT of the newest version, audited as the case
    page audits it."""
    kind = request.form.get("kind", "")
    if kind not in KINDS:
        abort(404)
    model, action = KINDS[kind]
    row_id = posted_id(request.form.get("row"))
    row = db.session.get(model, row_id) or abort(404)
    if isinstance(row, TermCoding) and row.kind != kind:
        abort(404)
    anchor = f"upgrade-{kind}-{row_id}"
    hit, problem = chosen_llt(request.form)
    if problem or hit is None:
        return upgrade_page((anchor, request.form.copy(), problem or "")), 422
    with write_transaction() as session:
        case = cases.lock(session, row.case_id)
        row = session.get(model, row_id) or abort(404)
        if row.meddra_version == hit.version:  # recoded meanwhile (another coder), or never old
            flash(
                _(
                    "This coding is already in MedDRA %(version)s: nothing changed.",
                    version=hit.version,
                )
            )
            return redirect(url_for("review.coding_upgrade") + "#outdated", 303)
        text = f"{row.kind}: {row.text}" if isinstance(row, TermCoding) else f"meddra: {title(row)}"
        changed = audit.record_change(
            session,
            current_user.email,
            action,
            case.first_report.id,
            text[:60],
            coding_text(row.llt_code, row.meddra_version),
            coding_text(hit.llt_code, hit.version),
        )
        row.meddra_version, row.llt_code = hit.version, hit.llt_code
        if isinstance(row, Reaction | TermCoding):
            row.coded_by, row.coded_at = current_user.email, datetime.now(UTC)
    flash(_("Saved.") if changed else _("Nothing changed."))
    return redirect(url_for("review.coding_upgrade") + "#outdated", 303)


def title(row: Reaction | CaseDisease | LabResult) -> str:
    """Return what names a coded row in the audit trail, as the case page's forms do."""
    if isinstance(row, Reaction):
        return row.reported_term
    return row.name if isinstance(row, CaseDisease) else row.test_name


# The designated medical events.


@dataclass(frozen=True)
class EventRow:
    event: DesignatedMedicalEvent
    pt: MeddraTerm | None  # the PT in the newest version; None: not a PT there
    soc: MeddraTerm | None


def term_name(term: MeddraTerm | None, language: str) -> str:
    if term is None:
        return ""
    first, second = (
        (term.name_zh, term.name_en) if language == "zh" else (term.name_en, term.name_zh)
    )
    return first or second or ""


def designated_rows(version: str | None) -> list[EventRow]:
    events = db.session.scalars(
        sa.select(DesignatedMedicalEvent).order_by(DesignatedMedicalEvent.added_at)
    ).all()
    rows = []
    for event in events:
        pt = db.session.get(MeddraTerm, (version, "pt", event.pt_code)) if version else None
        soc = (
            db.session.get(MeddraTerm, (version, "soc", pt.soc_code))
            if pt and pt.soc_code
            else None
        )
        rows.append(EventRow(event, pt, soc))
    return rows


def events_page(typed: str = "", error: str | None = None) -> str:
    version = meddra.current_version()
    language = meddra_language()
    asked = " ".join(request.args.get("q", "").split())[:100]
    found: list[meddra.Hit] = []
    if asked and version:
        seen: set[int] = set()
        for hit in meddra.search(asked, language, SUGGESTIONS * 2, version):
            if hit.pt_code not in seen:
                seen.add(hit.pt_code)
                found.append(hit)
    return render_template(
        "review/designated_events.html",
        version=version,
        rows=designated_rows(version),
        asked=asked,
        found=found[:SUGGESTIONS],
        typed=typed,
        error=error,
        term_name=lambda term: term_name(term, language),
        usual=USUAL_EVENTS,
    )


@bp.get("/coding/designated-events")
@role_required("reviewer", "admin")
def designated_events() -> str:
    """Show the designated medical events; admins change them here."""
    return events_page()


def event_text(pt_code: int, version: str | None) -> str:
    return meddra.shown_pt(pt_code, version) or str(pt_code)


@bp.post("/coding/designated-events")
@role_required("admin")
def change_designated_events() -> Response | tuple[str, int]:
    """Add a PT (typed or chosen), the usual ones, or remove one; each change audited."""
    version = meddra.current_version()
    form = request.form
    adding = "remove" not in form and "usual" not in form
    typed = (form.get("chosen_pt") or form.get("pt_code") or "").strip()
    if version is None:
        return events_page(error=_("No MedDRA release is imported.")), 422
    held = set(db.session.scalars(sa.select(DesignatedMedicalEvent.pt_code)))
    problem = pt_problem(typed, version, held) if adding else None
    if problem:
        return events_page(form.get("pt_code", "")[:20], problem), 422
    with write_transaction() as session:
        if "remove" in form:
            code = posted_id(form.get("remove"))
            event = session.get(DesignatedMedicalEvent, code) or abort(404)
            session.delete(event)
            record_event(session, event_text(code, version), None)
            message = _("Removed.")
        elif "usual" in form:
            wanted = {name.casefold() for name in USUAL_EVENTS}
            named = session.execute(
                sa.select(MeddraTerm.code, MeddraTerm.name_en).where(
                    MeddraTerm.version == version, MeddraTerm.level == "pt"
                )
            )
            held = set(session.scalars(sa.select(DesignatedMedicalEvent.pt_code)))
            added = sorted(
                code
                for code, name in named
                if (name or "").casefold() in wanted and code not in held
            )
            for code in added:
                add_event(session, code, version)
            message = _("%(count)s designated medical events added.", count=len(added))
        elif session.get(DesignatedMedicalEvent, int(typed)) is None:
            add_event(session, int(typed), version)
            message = _("Added.")
        else:
            message = _("Nothing changed.")
    flash(message)
    return redirect(url_for("review.designated_events"), 303)


def pt_problem(typed: str, version: str, held: set[int]) -> str | None:
    """Return why a typed code cannot be added as a designated event, or None."""
    if not typed:
        return _("Give a PT code, or search for one.")
    if not (typed.isascii() and typed.isdigit()) or len(typed) > 9:
        return _(
            "%(typed)s is not a MedDRA code: a PT code is a number of 8 digits.", typed=typed[:20]
        )
    if db.session.get(MeddraTerm, (version, "pt", int(typed))) is None:
        return _("%(code)s is not a PT of MedDRA %(version)s.", code=typed, version=version)
    if int(typed) in held:
        return _("This PT is on the list already.")
    return None


def add_event(session: Session, code: int, version: str) -> None:
    session.add(
        DesignatedMedicalEvent(
            pt_code=code, added_at=datetime.now(UTC), added_by=current_user.email
        )
    )
    record_event(session, None, event_text(code, version))


def record_event(session: Session, old: str | None, new: str | None) -> None:
    audit.record(
        session,
        current_user.email,
        "designated events changed",
        None,
        "designated_event",
        old,
        new,
    )
