"""A case's reactions as rows: one per term its reports name, each value the case's until set."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from adr import cases, reactions
from adr.extensions import db
from adr.models import DrugReaction, Reaction, Report
from tests.test_cases import submit


def case_of(reference: str):
    report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
    return report.case


def test_each_term_reported_becomes_a_reaction_once(app):
    first = submit(app, {"event-name": "皮疹、瘙痒"})
    submit(app, {"follow_up_of": first, "event-name": "瘙痒伴头痛", "event-outcome": "recovered"})
    submit(app, {"follow_up_of": first, "event-name": "皮疹"})  # names no new reaction
    with app.app_context():
        case = case_of(first)
        assert [(r.position, r.reported_term, r.language) for r in case.reactions] == [
            (1, "皮疹", "chi"),
            (2, "瘙痒", "chi"),
            (3, "头痛", "chi"),
        ]
        first_id, follow_up_id = (report.id for report in case.reports[:2])
        assert [r.report_id for r in case.reactions] == [first_id, first_id, follow_up_id]


def test_a_reaction_and_a_pair_take_the_case_values_until_staff_set_their_own(app):
    first = submit(app, {"event-name": "Rash; nausea", "event-causality": "possible"})
    with app.app_context():
        case = case_of(first)
        view = cases.current_view(case.reports)
        rash, nausea = case.reactions
        assert (rash.language, nausea.reported_term) == ("eng", "nausea")
        drug = reactions.assessed_drugs(view)[0]
        assert reactions.reaction_facts(rash, case, view).outcome == view.event_outcome
        assert reactions.pair_facts(rash, drug, case, view).reporter_causality == "possible"
        nausea.outcome = "recovered"
        nausea.serious = []
        db.session.add(
            DrugReaction(reaction=nausea, drug_key=reactions.drug_key(drug), rechallenge="yes")
        )
        db.session.commit()
    died = {"event-outcome": "death", "event-serious": ["death"], "event-death_cause": "休克"}
    submit(app, {"follow_up_of": first, **died, "event-death_date": date.today().isoformat()})
    with app.app_context():
        case = case_of(first)
        view = cases.current_view(case.reports)
        rash, nausea = db.session.scalars(
            sa.select(Reaction).where(Reaction.case_id == case.id).order_by(Reaction.position)
        ).all()[:2]  # and the follow-up's own term (valid_report's) after them
        facts = reactions.reaction_facts(rash, case, view)  # the follow-up's news reaches it
        assert (facts.outcome, facts.serious, facts.own) == ("death", ["death"], frozenset())
        facts = reactions.reaction_facts(nausea, case, view)  # set apart by staff: kept
        assert (facts.outcome, facts.serious) == ("recovered", [])
        assert facts.own == {"outcome", "serious"}
        drug = reactions.assessed_drugs(view)[0]
        pair = reactions.pair_facts(nausea, drug, case, view)
        assert (pair.rechallenge, pair.own) == ("yes", {"rechallenge"})
        assert pair.reporter_causality == "probable"  # the follow-up's (valid_report's) view
