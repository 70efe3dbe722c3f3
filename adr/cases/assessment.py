"""Staff assessment of a case: each change checked, audited, and the deadlines kept right.

Seriousness, outcome and expectedness become decisions in force from a report on
(`adr.cases.decisions`). A step that can hide a reportable case or move a legal date waits for a
second person when four-eyes is on (`adr.cases.approvals`): marking a case invalid or a
duplicate, closing it, recording the date it was sent, and a decision that says an earlier one
was wrong (a correction of a report's category, or a deadline relaxed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from adr import audit, regulatory, vocab
from adr.cases import approvals, clock, merges
from adr.cases.decisions import CaseWide, DecisionLike
from adr.cases.view import current_view
from adr.extensions import db
from adr.i18n import current_language
from adr.models import Case, CaseNote, Decision, Report, write_transaction

# Statuses that end what the case owes the regulator, or its clock: a second person approves.
GATED_STATUSES = ("invalid", "duplicate", "closed")
# Set once on the assessment form; changed only by a correction, with a reason.
RECORDED_ONCE = ("national_case_number", "investigation_reported_on")


@dataclass
class Assessment:
    """What a member of staff set on the assessment form."""

    status: str
    status_reason: str | None
    duplicate_of: Report | None
    assessed_serious: list[str]
    assessed_outcome: str | None
    expectedness: str | None
    company_causality: str | None
    naranjo_answers: list[str] | None
    submitted_to_regulator_on: date | None
    national_case_number: str | None
    investigation_reported_on: date | None
    note: str | None
    invalid_reason: str | None = None
    effective_from: Report | None = None  # the report the decisions rest on; None: the latest
    decision_reason: str | None = None  # why, when the decisions say an earlier one was wrong

    @classmethod
    def of(cls, case: Case, **changes: Any) -> Assessment:
        """Return the case's stored assessment, with `changes`."""
        kept = cls(
            status=case.status,
            status_reason=case.status_reason,
            duplicate_of=None,
            assessed_serious=case.assessed_serious or [],
            assessed_outcome=case.assessed_outcome,
            expectedness=case.expectedness,
            company_causality=case.company_causality,
            naranjo_answers=case.naranjo_answers,
            submitted_to_regulator_on=None,
            national_case_number=case.national_case_number,
            investigation_reported_on=case.investigation_reported_on,
            note=None,
            invalid_reason=case.invalid_reason,
        )
        return replace(kept, **changes)

    def gated(self, case: Case) -> bool:
        """Tell whether the status step waits for a second person (under four-eyes)."""
        moving = self.status != case.status and self.status in GATED_STATUSES
        return moving or bool(self.submitted_to_regulator_on)

    def investigation_recorded(self, case: Case) -> bool:
        """Tell whether the change records the death investigation's report date."""
        return bool(self.investigation_reported_on) and case.investigation_reported_on is None


@dataclass
class Reassessment:
    """The decisions a change makes, and what they do to the reports' deadlines and the case."""

    values: dict[str, Any]
    effective_from: Report
    correction: bool  # rests on an earlier report than the latest: says it was misjudged
    # (report, deadline before, deadline after) of each report whose deadline moves.
    moved: list[tuple[Report, datetime | None, datetime | None]] = field(default_factory=list)
    relaxed: bool = False  # a deadline later or gone, a sent report's changed, a death withdrawn

    @property
    def needs_reason(self) -> bool:
        return self.correction or self.relaxed

    @property
    def needs_approval(self) -> bool:
        return bool(self.moved) or self.relaxed


def reassessment(case: Case, change: Assessment) -> Reassessment | None:
    """Return the decisions the change makes, and the deadlines they move; None if none."""
    values = {
        name: value
        for name, value in (
            ("assessed_serious", change.assessed_serious or None),
            ("assessed_outcome", change.assessed_outcome),
            ("expectedness", change.expectedness),
        )
        if audit.nothing_as_none(value) != audit.nothing_as_none(getattr(case, name))
    }
    if not values:
        return None
    reports = case.reports
    effective = change.effective_from or reports[-1]
    correction = effective is not reports[-1]
    proposed = [
        CaseWide(effective.id, name, value, datetime.now(UTC), correction)
        for name, value in values.items()
    ]
    decided: list[DecisionLike] = [*clock.decisions_of(reports), *proposed]
    result = Reassessment(values, effective, correction)
    before, after = clock.clocks(reports, case), clock.clocks(reports, case, decided)
    for report, old, new in zip(reports, before, after, strict=True):
        if old.due_at != new.due_at:
            result.moved.append((report, old.due_at, new.due_at))
            later = new.due_at is None or (old.due_at is not None and new.due_at > old.due_at)
            result.relaxed |= later or report.submitted_to_regulator_on is not None
    # The case as it stands now (a sent report's deadline stays, the case's seriousness and
    # death investigation do not): withdrawing either needs a reason and a second person.
    was, will = (
        clock.clocks(reports, case, frozen=False),
        clock.clocks(reports, case, decided, frozen=False),
    )
    result.relaxed |= (was[-1].serious and not will[-1].serious) or (
        any(c.death for c in was) and not any(c.death for c in will)
    )
    return result


def unsent(case: Case) -> list[Report]:
    """Return the case's reports that have not gone to the national system yet."""
    return [report for report in case.reports if report.submitted_to_regulator_on is None]


def problems(
    case: Case, change: Assessment, duplicate_typed: str | None, awaiting_allowed: bool = False
) -> dict[str, str]:
    """Return what stops the change, by form field; empty when it can be saved.

    `awaiting_allowed`: the change is the one awaiting approval, being carried out.
    """
    found: dict[str, str] = {}
    today = regulatory.china_today()
    if not regulatory.can_move(case.status, change.status):
        language = current_language()
        found["status"] = _(
            "A case cannot go from %(old)s to %(new)s.",
            old=vocab.label(vocab.STATUS, case.status, language),
            new=vocab.label(vocab.STATUS, change.status, language),
        )
    elif (case.status, change.status) == ("received", "assessed") and not (
        change.expectedness and change.company_causality
    ):
        found["status"] = _(
            "To go from received straight to assessed, give the expectedness and the company's "
            "causality; or choose in review."
        )
    elif change.gated(case) and not awaiting_allowed and awaiting_status(case):
        found["status"] = _(
            "A change of status or of the date sent awaits approval already: "
            "approve or refuse it first."
        )
    if change.status == "invalid" and change.status != case.status:
        found.update(invalid_problems(case, change))
    if change.status == "duplicate":
        if change.duplicate_of is None:
            found["duplicate_of"] = (
                _("No report has this reference.")
                if duplicate_typed
                else _("Give the original report's reference.")
            )
        elif change.duplicate_of.case_id == case.id:
            found["duplicate_of"] = _("A report cannot duplicate its own case.")
        elif change.duplicate_of.case.status == "duplicate":
            found["duplicate_of"] = _(
                "That case is itself a duplicate: give the reference of its original."
            )
    pending = unsent(case)
    if change.status == "submitted":
        if pending and not change.submitted_to_regulator_on:
            found["submitted_to_regulator_on"] = _(
                "Give the date the case went to the national system."
            )
        if not change.national_case_number:
            found["national_case_number"] = _("Give the national system's case number.")
    sent = change.submitted_to_regulator_on
    if sent and (sent > today or any(sent < report.aware_on for report in pending)):
        found["submitted_to_regulator_on"] = _(
            "This date is before the report arrived, or in the future."
        )
    outcome = change.assessed_outcome or current_view(case.reports).event_outcome
    if "death" in change.assessed_serious and outcome != "death":
        found["assessed_outcome"] = _(
            "'Lead to death' needs the outcome 'death': correct the outcome here, or untick it."
        )
    investigated = change.investigation_reported_on
    if investigated and (investigated > today or investigated < case.first_report.aware_on):
        found["investigation_reported_on"] = _(
            "This date is before we knew of the case, or in the future."
        )
    for name in RECORDED_ONCE:  # once recorded, a legal date or number is corrected with a reason
        kept, typed = getattr(case, name), getattr(change, name)
        if kept is not None and audit.nothing_as_none(typed) != kept:
            found[name] = _("Correct this on the correction form below, saying why.")
    if not found:
        decided = reassessment(case, change)
        shortcut = (case.status, change.status) == ("received", "assessed")
        if shortcut and decided and decided.needs_approval and four_eyes():
            found["status"] = _(
                "Part of this assessment waits for a second person's approval: save it as in "
                "review, and mark it assessed once the approval is given."
            )
        elif decided and decided.needs_reason and not change.decision_reason:
            found["decision_reason"] = (
                _("Say why the earlier report was misjudged: this corrects its assessment.")
                if decided.correction
                else _("Say why: this withdraws an earlier decision and gives a later deadline.")
            )
    return found


def invalid_problems(case: Case, change: Assessment) -> dict[str, str]:
    """Return what stops marking the case invalid: a coded reason that fits the case."""
    if change.invalid_reason not in vocab.INVALID_REASON:
        return {"invalid_reason": _("Choose why the case is invalid.")}
    if change.invalid_reason == "missing_element":
        facts: Any = current_view(case.reports)
        if regulatory.is_valid_case(facts):
            return {
                "invalid_reason": _(
                    "The case holds all four minimum elements: it cannot be invalid for "
                    "lacking one."
                )
            }
    if change.invalid_reason == "other" and not change.status_reason:
        return {"status_reason": _("Say why the case is invalid.")}
    return {}


def awaiting_status(case: Case) -> bool:
    return any(request.kind in approvals.STATUS_KINDS for request in approvals.pending(case.id))


@dataclass
class Applied:
    """What a saved assessment changed, and what waits for a second person."""

    changed: list[str] = field(default_factory=list)
    awaiting: list[str] = field(default_factory=list)  # approval request kinds


def four_eyes() -> bool:
    return bool(current_app.config["FOUR_EYES"])


def apply(
    case: Case, change: Assessment, actor: str, also: Callable[[Session], None] | None = None
) -> Applied:
    """Save the change, the deadlines it moves and its audit rows in one transaction.

    Under four-eyes, the status step and a decision that needs approval become requests; the
    rest takes effect. `also` writes what goes with the change, in its transaction.
    """
    result = Applied()
    with write_transaction() as session:
        case = clock.lock(session, case.id)
        first = case.first_report
        own: dict[str, Any] = {
            "company_causality": change.company_causality,
            "naranjo_answers": change.naranjo_answers,
            "naranjo_score": regulatory.naranjo_score(change.naranjo_answers)
            if change.naranjo_answers
            else None,
        }
        if not change.gated(case) and case.national_case_number is None:
            own["national_case_number"] = change.national_case_number
        investigated = change.investigation_reported_on
        if investigated and change.investigation_recorded(case):
            recorded = {"investigation_reported_on": investigated.isoformat()}
            if four_eyes():
                approvals.request(session, case, actor, "investigation", recorded, None)
                result.awaiting.append("investigation")
            else:
                own["investigation_reported_on"] = investigated
        for name, value in own.items():
            if audit.record_change(
                session, actor, "assessment", first.id, name, getattr(case, name), value
            ):
                setattr(case, name, value)
                result.changed.append(name)
        decided = reassessment(case, change)
        if decided and decided.needs_approval and four_eyes():
            approvals.request(
                session, case, actor, "reassessment", reassessment_payload(case, decided),
                change.decision_reason,
            )  # fmt: skip
            result.awaiting.append("reassessment")
        elif decided:
            decide(session, case, decided, actor, change.decision_reason)
            result.changed.extend(decided.values)
        step = status_payload(case, change)
        if step and change.gated(case) and four_eyes():
            kind = approvals.status_kind(step)
            approvals.request(session, case, actor, kind, step, change.status_reason)
            result.awaiting.append(kind)
        elif step:
            result.changed.extend(apply_status(session, case, step, actor))
        clock.recompute(session, case, actor)
        if change.note:
            session.add(
                CaseNote(case_id=case.id, at=datetime.now(UTC), author=actor, text=change.note)
            )
            audit.record(session, actor, "note added", first.id, "note", None, change.note)
            result.changed.append("note")
        if also:
            also(session)
    result.changed = list(dict.fromkeys(result.changed))
    return result


def reassessment_payload(case: Case, decided: Reassessment) -> dict[str, Any]:
    """Return what an approver is asked: the decisions, what they replace, the deadlines moved."""
    return {
        "values": decided.values,
        "before": {name: getattr(case, name) for name in decided.values},
        "effective_from": decided.effective_from.reference,
        "correction": decided.correction,
        "moves": clock.stored_moves(
            (r.reference, "due", old, new) for r, old, new in decided.moved
        ),
    }


def decide(
    session: Session, case: Case, decided: Reassessment, actor: str, reason: str | None
) -> None:
    """Store the decisions, in force from their report on, and audit each."""
    now = datetime.now(UTC)
    for name, value in decided.values.items():
        report = decided.effective_from
        decision = Decision(
            report_id=report.id,
            field=name,
            value=value,
            made_at=now,
            made_by=actor,
            correction=decided.correction,
            reason=reason,
        )
        session.add(decision)
        report.decisions.append(decision)
        action = "assessment corrected" if decided.correction else "assessment"
        audit.record(session, actor, action, report.id, name, getattr(case, name), value)
        if reason:
            audit.record(session, actor, "reason", report.id, name, None, reason)


def status_payload(case: Case, change: Assessment) -> dict[str, Any] | None:
    """Return the status step of a change as stored for an approval; None if nothing moves."""
    step: dict[str, Any] = {}
    if change.status != case.status:
        step["status"] = change.status
        if change.status == "invalid":
            step |= {"invalid_reason": change.invalid_reason, "reason": change.status_reason}
        if change.status == "duplicate" and change.duplicate_of:
            step |= {"duplicate_of": change.duplicate_of.reference, "reason": change.status_reason}
    if change.submitted_to_regulator_on:  # the reports it dates: those not sent by now
        step["submitted_to_regulator_on"] = change.submitted_to_regulator_on.isoformat()
        step["reports"] = [report.reference for report in unsent(case)]
    if step and change.gated(case):
        step["national_case_number"] = change.national_case_number
    return step or None


def apply_status(
    session: Session, case: Case, step: dict[str, Any], actor: str, approved_by: str | None = None
) -> list[str]:  # approved_by: the second person, named in a merge's record
    """Carry out a status step (of `status_payload`) on the locked case; return what changed."""
    first = case.first_report
    changed = []
    status = step.get("status", case.status)
    if status == "duplicate":
        original = merges.find_report(session, step["duplicate_of"])
        if original is None:
            raise LookupError(f"no report {step['duplicate_of']}")
        merges.merge(session, case, original.case, actor, approved_by, step.get("reason"))
        return ["status", "duplicate_of_id"]
    values: dict[str, Any] = {"status": status}
    if status == "invalid":
        values |= {
            "invalid_reason": step.get("invalid_reason"),
            "status_reason": step.get("reason"),
            "invalid_since": datetime.now(UTC),
        }
    elif case.status == "invalid":
        values |= {"invalid_reason": None, "status_reason": None, "invalid_since": None}
    if "national_case_number" in step:
        values["national_case_number"] = step["national_case_number"]
    for name, value in values.items():
        if name == "invalid_since":
            setattr(case, name, value)
        elif audit.record_change(
            session, actor, "assessment", first.id, name, getattr(case, name), value
        ):
            setattr(case, name, value)
            changed.append(name)
    sent = step.get("submitted_to_regulator_on")
    if sent:
        for report in unsent(case):
            if report.reference not in step["reports"]:
                continue  # arrived since the date was asked for: not sent with it
            report.submitted_to_regulator_on = date.fromisoformat(sent)
            report.sent_recorded_at = datetime.now(UTC)
            audit.record(
                session, actor, "assessment", report.id, "submitted_to_regulator_on", None, sent
            )
            changed.append("submitted_to_regulator_on")
    return changed


def record_investigation(session: Session, case: Case, payload: dict[str, Any], actor: str) -> None:
    """Record an approved date of the death investigation's report."""
    day = date.fromisoformat(payload["investigation_reported_on"])
    audit.record(
        session, actor, "assessment", case.first_report.id, "investigation_reported_on", None, day
    )
    case.investigation_reported_on = day


def decide_again(
    session: Session, case: Case, payload: dict[str, Any], actor: str, reason: str | None
) -> None:
    """Store an approved reassessment's decisions as its requester made them."""
    report = merges.find_report(session, payload["effective_from"])
    if report is None:
        raise LookupError(payload["effective_from"])
    decided = Reassessment(payload["values"], report, payload["correction"])
    decide(session, case, decided, actor, reason)


def still_fits(case: Case, request: Any) -> str | None:
    """Return why an approved request can no longer be carried out on the case, or None."""
    payload = request.payload
    if request.kind == "reassessment":
        if not any(r.reference == payload["effective_from"] for r in case.reports):
            return _("The report this decision rests on is no longer in the case.")
        return None
    if request.kind in ("correction", "unmerge"):
        return None  # checked where it is carried out
    if request.kind == "investigation":
        if case.investigation_reported_on is not None:
            return _("The investigation's date was recorded since.")
        return None
    status = payload.get("status", case.status)
    change = Assessment.of(
        case,
        status=status,
        invalid_reason=payload.get("invalid_reason"),
        status_reason=payload.get("reason"),
        national_case_number=payload.get("national_case_number"),
    )
    if status == "duplicate":
        original = merges.find_report(db.session(), payload["duplicate_of"])
        change.duplicate_of = original
    sent = payload.get("submitted_to_regulator_on")
    change.submitted_to_regulator_on = date.fromisoformat(sent) if sent else None
    found = problems(case, change, payload.get("duplicate_of"), awaiting_allowed=True)
    return next(iter(found.values()), None)
