"""A case's reactions as rows (E2B E.i) and what is judged of each drug and reaction (G.k.9.i).

A report names its reactions in one field (皮疹、瘙痒); each term becomes a reaction of the case
the first time a report names it, for staff to code to MedDRA. A reaction's onset, outcome and
seriousness, and a drug and reaction's causality, dechallenge and rechallenge, are the case's
single values (its reports, newest first, and the assessment) until staff set them apart:
so a follow-up's news reaches every reaction no one has set by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from itertools import groupby
from typing import Any

import sqlalchemy as sa

from adr import products, regulatory, vocab
from adr.models import Case, Drug, DrugReaction, Reaction, Report

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# The drugs a causality is judged for (G.k.9.i applies to suspect and interacting drugs).
ASSESSED_ROLES = ("suspect", "interacting")


def term_texts(view: Any) -> list[tuple[str, str]]:
    """Return the case's indication and history texts staff may code, each once, by kind (the
    related diseases are coded as rows of the holder form)."""
    found = [("indication", drug.indication or "") for drug in view.drugs]
    found.append(("history", view.patient_history_detail or ""))
    return list(dict.fromkeys((kind, text[:500]) for kind, text in found if text))


def language_of(text: str) -> str:
    """Return the ISO 639-2 code of a reported term's language: Chinese or English."""
    return "chi" if CJK.search(text) else "eng"


def drug_key(drug: Drug) -> str:
    """Return what knows one drug across a case's reports: its name, as the current view does."""
    return (drug.generic_name or drug.brand_name or "").casefold()[:200]


def split_terms(event_name: str) -> list[str]:
    """Return the terms a reaction name lists, as typed: 皮疹、过敏性休克(死亡) is two."""
    terms = (term.strip(" \t。.") for term in products.TERM_SEPARATORS.split(event_name))
    return [term for term in terms if term]


def new_terms(known: Iterable[str], event_name: str | None) -> list[str]:
    """Return the terms of a reaction name not among the `known` terms, in order."""
    if not regulatory.identifies(event_name):
        return []
    seen = {products.term_key(term) for term in known}
    terms = []
    for term in split_terms(event_name or ""):
        key = products.term_key(term)
        if key and key not in seen:
            seen.add(key)
            terms.append(term[:250])
    return terms


def add_reported(case: Case, report: Report) -> list[Reaction]:
    """Add to `case` a reaction for each term `report` names that the case does not hold yet."""
    held = list(case.reactions)
    added = [
        Reaction(
            report=report,
            position=len(held) + number,
            reported_term=term,
            language=language_of(term),
        )
        for number, term in enumerate(
            new_terms((reaction.reported_term for reaction in held), report.event_name), 1
        )
    ]
    case.reactions.extend(added)  # inserted with the case (a new report's: with the report too)
    return added


@dataclass(frozen=True)
class ReactionFacts:
    """A reaction's onset, outcome and seriousness as they stand, and which staff set apart."""

    onset_date: date | None
    end_date: date | None
    outcome: str | None
    serious: list[str]
    own: frozenset[str]  # the fields set on the reaction itself


def sent(case: Case) -> list[Reaction]:
    """Return the case's reactions, those staff judged not to be one left out."""
    return [reaction for reaction in case.reactions if reaction.excluded_reason is None]


def case_criteria(case: Case) -> list[str]:
    """Return the seriousness criteria of the case as its clock counts them: every report's,
    the assessment's, and death when the patient died (staff may add, never take away)."""
    chosen = {code for report in case.reports for code in report.event_serious or []}
    chosen |= set(case.assessed_serious or [])
    if case.death:
        chosen.add("death")
    return [code for code in vocab.SERIOUSNESS if code in chosen]


def reaction_facts(reaction: Reaction, case: Case, view: Any) -> ReactionFacts:
    """Return the reaction's values: its own where set, else the case's (`view`: current view).

    The onset is the one reported with the reaction (a follow-up's onset is its own news); the
    outcome is the case's latest; a reaction staff gave an outcome other than death does not
    take the case's death as a criterion.
    """
    own = {
        name
        for name in ("onset_date", "end_date", "outcome", "serious")
        if getattr(reaction, name) is not None
    }
    named = next((report for report in case.reports if report.id == reaction.report_id), None)
    outcome = reaction.outcome or case.assessed_outcome or view.event_outcome
    serious = reaction.serious
    if serious is None:
        serious = [c for c in case_criteria(case) if c != "death" or outcome == "death"]
    return ReactionFacts(
        onset_date=reaction.onset_date
        or (named.event_onset_date if named else None)
        or view.event_onset_date,
        end_date=reaction.end_date,
        outcome=outcome,
        serious=list(serious),
        own=frozenset(own),
    )


@dataclass(frozen=True)
class PairFacts:
    """What is judged of one drug and one reaction, and which values staff set on the pair."""

    reporter_causality: str | None
    company_causality: str | None
    dechallenge: str | None
    rechallenge: str | None
    own: frozenset[str]


PAIR_FIELDS = ("reporter_causality", "company_causality", "dechallenge", "rechallenge")


def pair(reaction: Reaction, drug: Drug) -> DrugReaction | None:
    """Return the stored judgement of `drug` and `reaction`, if staff made one."""
    key = drug_key(drug)
    return next((row for row in reaction.assessments if row.drug_key == key), None)


def pair_facts(reaction: Reaction, drug: Drug, case: Case, view: Any) -> PairFacts:
    """Return the pair's values: its own where set, else the case's single values."""
    row = pair(reaction, drug)
    case_values = {
        "reporter_causality": view.event_causality,
        "company_causality": case.company_causality,
        "dechallenge": view.event_dechallenge,
        "rechallenge": view.event_rechallenge,
    }
    own = {name for name in PAIR_FIELDS if row is not None and getattr(row, name) is not None}
    values = {
        name: getattr(row, name) if name in own else case_values[name] for name in PAIR_FIELDS
    }
    return PairFacts(**values, own=frozenset(own))


def assessed_drugs(view: Any) -> list[Drug]:
    """Return the case's drugs whose causality is judged: suspect and interacting."""
    return [drug for drug in view.drugs if drug.role in ASSESSED_ROLES]


def insert_reported(connection: Any, case_ids: list[int]) -> int:
    """Give the cases (holding no reaction yet) a reaction for each term their reports name.

    In bulk, for a migration or demo data; `add_reported` does the same for one new report.
    """
    report = sa.table(
        "report",
        *(sa.column(name) for name in ("id", "case_id", "received_at", "event_name")),
    )
    reaction = sa.table(
        "reaction",
        *(sa.column(name) for name in ("case_id", "report_id", "position", "reported_term")),
        sa.column("language"),
    )
    rows = []
    reports = connection.execute(
        sa.select(report)
        .where(report.c.case_id.in_(case_ids))
        .order_by(report.c.case_id, report.c.received_at, report.c.id)
    )
    for case_id, case_reports in groupby(reports, key=lambda row: row.case_id):
        terms: list[str] = []
        for row in case_reports:
            for term in new_terms(terms, row.event_name):
                terms.append(term)
                rows.append(
                    {
                        "case_id": case_id,
                        "report_id": row.id,
                        "position": len(terms),
                        "reported_term": term,
                        "language": language_of(term),
                    }
                )
    if rows:
        connection.execute(sa.insert(reaction), rows)
    return len(rows)
