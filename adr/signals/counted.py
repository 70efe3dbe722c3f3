"""The cases that count for signals and periodic tabulations, and what each names.

A case counts when it is valid and neither invalid nor a duplicate (its reports were merged into
the original, which counts them). It is dated by the day the company first knew of it (its
earliest report's `aware_on`), names the catalogue's products among its suspected and
interacting drugs, and the PTs of its coded reactions (those set aside as not reactions left
out) as of the newest MedDRA version: a reaction coded in an older version whose LLT is not in
the newest keeps the PT of its own version until a coder recodes it (`/staff/coding/upgrade`).
A PT's seriousness is its reactions' own where staff set it (`Reaction.serious`: a list of
criteria, empty for a reaction that is not serious), else the case's.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from adr.models import Case, Drug, MeddraTerm, Reaction, Report

ASSESSED_ROLES = ("suspect", "interacting")  # the drugs a reaction is counted against


def case_counts() -> sa.ColumnElement[bool]:
    """Tell whether a case counts: valid, neither invalid nor a duplicate. Needs `Case`."""
    return sa.and_(
        Case.valid_case.is_(True),
        Case.status.not_in(("invalid", "duplicate")),
        Case.duplicate_of_id.is_(None),
    )


def counted_cases(among: sa.Select[tuple[int]] | None = None) -> sa.Subquery:
    """Return (case_id, aware_on, serious, death) of every case that counts, or of those
    `among` a selection of case ids (grouping only those)."""
    query = (
        sa.select(
            Case.id.label("case_id"),
            sa.func.min(Report.aware_on).label("aware_on"),
            Case.serious.label("serious"),
            Case.death.label("death"),
        )
        .join(Report, Report.case_id == Case.id)
        .where(case_counts())
        .group_by(Case.id, Case.serious, Case.death)
    )
    if among is not None:
        query = query.where(Case.id.in_(among))
    return query.subquery("counted_case")


def case_products() -> sa.Subquery:
    """Return the distinct (case_id, product_id): the catalogue's products a case suspects."""
    return (
        sa.select(Report.case_id.label("case_id"), Drug.product_id.label("product_id"))
        .join(Drug, Drug.report_id == Report.id)
        .where(Drug.product_id.is_not(None), Drug.role.in_(ASSESSED_ROLES))
        .distinct()
        .subquery("case_product")
    )


def reaction_serious() -> sa.ColumnElement[bool]:
    """Tell whether a reaction is serious: its own criteria where staff set them (`[]`: not
    serious), else its case's seriousness (as `adr.reactions.reaction_facts`, except that a case
    serious only by death counts every reaction serious). Needs `Case` joined."""
    own = sa.cast(Reaction.serious, sa.Text)
    return sa.case(
        (sa.or_(Reaction.serious.is_(None), own == "null"), Case.serious.is_(True)),
        else_=own != "[]",
    )


def case_pts(version: str | None) -> sa.Subquery:
    """Return the distinct (case_id, pt_code), the soc_code and whether the PT is serious in
    the case (any of its reactions reaching the PT is: `reaction_serious`), of the cases' coded
    reactions.

    The PT and its primary SOC are the `version`'s (the newest), or the reaction's own version's
    where its LLT is not in `version`. One row per case and PT, even where two reactions of a
    case reach the PT through versions that give it different primary SOCs (the highest code is
    kept), so that counting rows counts cases.
    """
    newest_llt, own_llt = aliased(MeddraTerm), aliased(MeddraTerm)
    newest_pt, own_pt = aliased(MeddraTerm), aliased(MeddraTerm)
    pt_code = sa.func.coalesce(newest_llt.pt_code, own_llt.pt_code)
    return (
        sa.select(
            Reaction.case_id.label("case_id"),
            pt_code.label("pt_code"),
            sa.func.max(sa.func.coalesce(newest_pt.soc_code, own_pt.soc_code)).label("soc_code"),
            sa.func.max(sa.case((reaction_serious(), 1), else_=0)).label("serious"),
        )
        .join(Case, Case.id == Reaction.case_id)
        .outerjoin(
            newest_llt,
            sa.and_(
                newest_llt.version == sa.literal(version or ""),
                newest_llt.level == "llt",
                newest_llt.code == Reaction.llt_code,
            ),
        )
        .outerjoin(
            own_llt,
            sa.and_(
                own_llt.version == Reaction.meddra_version,
                own_llt.level == "llt",
                own_llt.code == Reaction.llt_code,
            ),
        )
        .outerjoin(
            newest_pt,
            sa.and_(
                newest_pt.version == sa.literal(version or ""),
                newest_pt.level == "pt",
                newest_pt.code == pt_code,
            ),
        )
        .outerjoin(
            own_pt,
            sa.and_(
                own_pt.version == Reaction.meddra_version,
                own_pt.level == "pt",
                own_pt.code == pt_code,
            ),
        )
        .where(Reaction.llt_code.is_not(None), Reaction.excluded_reason.is_(None))
        .where(pt_code.is_not(None))
        .group_by(Reaction.case_id, pt_code)
        .subquery("case_pt")
    )
