"""Case integrity: decisions effective from a report, corrections, merges and four-eyes.

Each case's assessment (seriousness, outcome, expectedness) becomes decisions in force from the
latest report of the case when it was made (the audit trail has the time); duplicates already
marked are merged into their original, their reports as received and with their own day 0 (a
report adding nothing to the original is a copy, owing nothing); then every deadline is
derived again by the holder's clock, and each change is audited. No report, note or audit line
is lost; a downgrade puts merged reports back in their own case.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05

"""
from datetime import UTC, datetime
from itertools import groupby
from types import SimpleNamespace

from alembic import op
import sqlalchemy as sa

import adr.models
from adr import audit, cases, reactions, regulatory
from adr.cases import merges
from adr.models import UTCDateTime

ACTOR = "migration 0016"
BATCH = 500
DECIDED = ("assessed_serious", "assessed_outcome", "expectedness")
JSON_COLUMNS = {"event_serious", "patient_history", "decided_serious"}
DATE_COLUMNS = {"patient_birth_date", "event_onset_date", "event_death_date", "aware_on", "day_zero",
                "submitted_to_regulator_on"}
# The report form's columns as this revision knew them (the app's own list grows later).
FORM_COLUMNS = (
    "reporter_kind", "reporter_organization_type", "reporter_organization", "reporter_name",
    "reporter_phone", "reporter_email", "reporter_consent_contact", "reporter_consent_privacy",
    "patient_name", "patient_sex", "patient_birth_date", "patient_age", "patient_age_unit",
    "patient_ethnicity", "patient_weight_kg", "patient_phone", "patient_disease",
    "patient_hospital", "patient_record_number", "patient_past_adr", "patient_past_adr_detail",
    "patient_family_adr", "patient_family_adr_detail", "patient_history", "patient_history_detail",
    "event_name", "event_onset_date", "event_description", "event_outcome",
    "event_sequelae_detail", "event_death_cause", "event_death_date", "event_dechallenge",
    "event_rechallenge", "event_disease_impact", "event_serious", "event_causality", "remarks",
)
REPORT_COLUMNS = (
    "id", "case_id", "reference", "received_at", "added_at", "follow_up_of_id", "aware_on",
    "serious", "report_category", "valid_case", "completeness", "day_zero", "due_at",
    "submitted_to_regulator_on", "sent_recorded_at", "merge_id", "duplicate_copy",
    "lapsed_due_at", "decided_serious", "decided_outcome", *FORM_COLUMNS,
)
DRUG_COLUMNS = (
    "id", "report_id", "position", "role", "approval_number", "brand_name", "generic_name",
    "manufacturer", "batch_number", "product_id", "dose", "dose_unit", "route", "frequency",
    "start_date", "end_date", "indication",
)


def table(name, columns, **types):
    return sa.table(name, *(sa.column(c, types.get(c)) for c in columns))


report = table(
    "report", REPORT_COLUMNS,
    **{c: sa.JSON() for c in JSON_COLUMNS}, **{c: sa.Date() for c in DATE_COLUMNS},
    received_at=UTCDateTime(), added_at=UTCDateTime(), due_at=UTCDateTime(),
    lapsed_due_at=UTCDateTime(), sent_recorded_at=UTCDateTime(), serious=sa.Boolean(),
    valid_case=sa.Boolean(), duplicate_copy=sa.Boolean(),
)  # fmt: skip
drug = table("drug", DRUG_COLUMNS, start_date=sa.Date(), end_date=sa.Date())
safety_case = table(
    "safety_case",
    ("id", "status", "status_reason", "duplicate_of_id", *DECIDED, "serious", "death",
     "report_category", "valid_case", "investigation_due_at", "invalid_since"),
    assessed_serious=sa.JSON(), serious=sa.Boolean(), death=sa.Boolean(),
    valid_case=sa.Boolean(), investigation_due_at=UTCDateTime(), invalid_since=UTCDateTime(),
)  # fmt: skip
case_merge = table(
    "case_merge",
    ("id", "duplicate_case_id", "original_case_id", "status_before", "original_status_before",
     "moved", "reason", "merged_at", "merged_by", "undone_at"),
    merged_at=UTCDateTime(), undone_at=UTCDateTime(), moved=sa.JSON(),
)  # fmt: skip
decision = table(
    "assessment_decision",
    ("id", "report_id", "field", "value", "made_at", "made_by", "correction", "reason"),
    value=sa.JSON(), made_at=UTCDateTime(), correction=sa.Boolean(),
)  # fmt: skip
reaction = table(
    "reaction", ("id", "case_id", "report_id", "position", "reported_term", "language")
)
candidate = table(
    "duplicate_candidate",
    ("id", "case_id", "candidate_case_id", "decision", "decided_by", "decided_at"),
    decided_at=UTCDateTime(),
)  # fmt: skip
audit_entry = table(
    "audit_entry",
    ("id", "at", "actor", "action", "report_id", "field", "old_value", "new_value",
     "prev_hash", "hash"),
    at=UTCDateTime(),
)  # fmt: skip
IN_CASE_ORDER = (report.c.follow_up_of_id.is_not(None), report.c.added_at, report.c.id)


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('case_merge',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('duplicate_case_id', sa.Integer(), nullable=False),
    sa.Column('original_case_id', sa.Integer(), nullable=False),
    sa.Column('status_before', sa.String(length=12), nullable=False),
    sa.Column('original_status_before', sa.String(length=12), nullable=True),
    sa.Column('moved', sa.JSON(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('merged_at', adr.models.UTCDateTime(), nullable=False),
    sa.Column('merged_by', sa.String(length=254), nullable=False),
    sa.Column('approved_by', sa.String(length=254), nullable=True),
    sa.Column('undone_at', adr.models.UTCDateTime(), nullable=True),
    sa.Column('undone_by', sa.String(length=254), nullable=True),
    sa.Column('undo_reason', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['duplicate_case_id'], ['safety_case.id'], name=op.f('fk_case_merge_duplicate_case_id_safety_case')),
    sa.ForeignKeyConstraint(['original_case_id'], ['safety_case.id'], name=op.f('fk_case_merge_original_case_id_safety_case')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_merge'))
    )
    with op.batch_alter_table('case_merge', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_merge_duplicate_case_id'), ['duplicate_case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_merge_original_case_id'), ['original_case_id'], unique=False)

    op.create_table('approval_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('requested_at', adr.models.UTCDateTime(), nullable=False),
    sa.Column('requested_by', sa.String(length=254), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('decided_at', adr.models.UTCDateTime(), nullable=True),
    sa.Column('decided_by', sa.String(length=254), nullable=True),
    sa.Column('decision_note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['safety_case.id'], name=op.f('fk_approval_request_case_id_safety_case')),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_approval_request_report_id_report')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_request'))
    )
    with op.batch_alter_table('approval_request', schema=None) as batch_op:
        batch_op.create_index('ix_approval_request_status_case', ['status', 'case_id'], unique=False)

    op.create_table('assessment_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=20), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('made_at', adr.models.UTCDateTime(), nullable=False),
    sa.Column('made_by', sa.String(length=254), nullable=False),
    sa.Column('correction', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_assessment_decision_report_id_report')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_decision'))
    )
    with op.batch_alter_table('assessment_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessment_decision_report_id'), ['report_id'], unique=False)

    op.create_table('correction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=60), nullable=False),
    sa.Column('original', sa.JSON(), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('made_at', adr.models.UTCDateTime(), nullable=False),
    sa.Column('made_by', sa.String(length=254), nullable=False),
    sa.Column('approved_by', sa.String(length=254), nullable=True),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_correction_report_id_report')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_correction'))
    )
    with op.batch_alter_table('correction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_correction_report_id'), ['report_id'], unique=False)

    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_follow_up_of', sa.String(length=17), nullable=True))
        batch_op.add_column(sa.Column('merge_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('duplicate_copy', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('lapsed_due_at', adr.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('added_at', adr.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('decided_serious', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('decided_outcome', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('sent_recorded_at', adr.models.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_report_aware_on'), ['aware_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_claimed_follow_up_of'), ['claimed_follow_up_of'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_lapsed_due_at'), ['lapsed_due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_merge_id'), ['merge_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_report_merge_id_case_merge'), 'case_merge', ['merge_id'], ['id'])

    with op.batch_alter_table('safety_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invalid_reason', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('invalid_since', adr.models.UTCDateTime(), nullable=True))

    # ### end Alembic commands ###
    connection = op.get_bind()
    record = audit_recorder(connection)
    times_from_the_trail(connection)
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.alter_column('added_at', existing_type=adr.models.UTCDateTime(), nullable=False)
    decisions_from_assessments(connection)
    merge_duplicates(connection, record)
    recompute_deadlines(connection, record)


def audit_recorder(connection):
    """Return a function appending audit entries to the chain, as the app's audit does."""
    key = audit.chain_key()
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(audit.CHAIN_LOCK)))
    previous = connection.scalar(
        sa.select(audit_entry.c.hash).order_by(audit_entry.c.id.desc()).limit(1)
    ) or audit.GENESIS
    now = datetime.now(UTC)

    def record(report_id, action, field, old, new):
        nonlocal previous
        entry = SimpleNamespace(
            prev_hash=previous, at=now, actor=ACTOR, action=action, report_id=report_id,
            field=field, old_value=audit.as_text(old), new_value=audit.as_text(new),
        )
        entry.hash = previous = audit.entry_hash(entry, key)
        connection.execute(audit_entry.insert().values(**vars(entry)))

    return record


def times_from_the_trail(connection):
    """Date what the old schema did not: each report joined its case when received; a date
    sent was recorded when the trail says (else by the end of that day); a case was marked
    invalid when the trail says."""
    connection.execute(sa.update(report).values(added_at=report.c.received_at))
    for report_id, sent_on in connection.execute(
        sa.select(report.c.id, report.c.submitted_to_regulator_on).where(
            report.c.submitted_to_regulator_on.is_not(None)
        )
    ).all():
        at = connection.scalar(
            sa.select(audit_entry.c.at).where(
                audit_entry.c.report_id == report_id,
                audit_entry.c.field == "submitted_to_regulator_on",
            ).order_by(audit_entry.c.id.desc()).limit(1)
        )
        connection.execute(sa.update(report).where(report.c.id == report_id).values(
            sent_recorded_at=at or regulatory.end_of_china_day(sent_on)
        ))
    invalid = [row[0] for row in connection.execute(
        sa.select(safety_case.c.id).where(safety_case.c.status == "invalid")
    )]
    for case_id in invalid:
        at = connection.scalar(
            sa.select(audit_entry.c.at).where(
                audit_entry.c.action == "assessment", audit_entry.c.field == "status",
                audit_entry.c.new_value == "invalid",
                audit_entry.c.report_id.in_(sa.select(report.c.id).where(report.c.case_id == case_id)),
            ).order_by(audit_entry.c.id.desc()).limit(1)
        )
        connection.execute(
            sa.update(safety_case).where(safety_case.c.id == case_id).values(invalid_since=at)
        )


def loaded(connection, case_ids):
    """Return the reports of the cases, in each case's order, with their drugs, by case."""
    rows = connection.execute(
        sa.select(report).where(report.c.case_id.in_(case_ids))
        .order_by(report.c.case_id, *IN_CASE_ORDER)
    ).all()
    drugs = {}
    for row in connection.execute(
        sa.select(drug).where(drug.c.report_id.in_([r.id for r in rows]))
        .order_by(drug.c.report_id, drug.c.position)
    ):
        drugs.setdefault(row.report_id, []).append(SimpleNamespace(**row._asdict()))
    by_case = {}
    for row in rows:
        values = row._asdict() | {
            "drugs": drugs.get(row.id, []),
            "event_serious": row.event_serious or [],
            "patient_history": row.patient_history or [],
        }
        by_case.setdefault(row.case_id, []).append(SimpleNamespace(**values))
    return by_case


def merge_duplicates(connection, record):
    """Merge each case marked a duplicate into its original (through a chain of duplicates)."""
    marked = dict(connection.execute(
        sa.select(safety_case.c.id, safety_case.c.duplicate_of_id).where(
            safety_case.c.status == "duplicate", safety_case.c.duplicate_of_id.is_not(None)
        )
    ).all())
    now = datetime.now(UTC)
    for duplicate_id in sorted(marked):
        original_id, seen = marked[duplicate_id], {duplicate_id}
        while original_id in marked and original_id not in seen:
            seen.add(original_id)
            original_id = marked[original_id]
        if original_id in seen:
            continue  # a ring of duplicates: left for staff
        reports = loaded(connection, [duplicate_id, original_id])
        moved, held = reports.get(duplicate_id, []), reports.get(original_id, [])
        if not moved or not held:
            continue
        before = connection.scalar(
            sa.select(audit_entry.c.old_value).where(
                audit_entry.c.action == "assessment", audit_entry.c.field == "status",
                audit_entry.c.new_value == "duplicate",
                audit_entry.c.report_id.in_([r.id for r in moved]),
            ).order_by(audit_entry.c.id.desc()).limit(1)
        )
        connection.execute(
            case_merge.insert().values(
                duplicate_case_id=duplicate_id, original_case_id=original_id,
                status_before=before or "in_review", merged_at=now, merged_by=ACTOR,
                moved=[merges.snapshot(row) for row in moved],
                reason=connection.scalar(
                    sa.select(safety_case.c.status_reason).where(safety_case.c.id == duplicate_id)
                ),
            )
        )
        merge_id = connection.scalar(
            sa.select(sa.func.max(case_merge.c.id)).where(
                case_merge.c.duplicate_case_id == duplicate_id
            )
        )
        head, terms = held[0], [
            row.reported_term for row in connection.execute(
                sa.select(reaction.c.reported_term).where(reaction.c.case_id == original_id)
            )
        ]
        for row in moved:
            copy = merges.is_copy(row, held)
            held.append(row)
            connection.execute(
                sa.update(report).where(report.c.id == row.id).values(
                    case_id=original_id, merge_id=merge_id, duplicate_copy=copy,
                    follow_up_of_id=row.follow_up_of_id or head.id, added_at=now,
                )
            )
            record(row.id, "merged", "case", moved[0].reference, head.reference)
            for term in [] if copy else reactions.new_terms(terms, row.event_name):
                terms.append(term)
                connection.execute(reaction.insert().values(
                    case_id=original_id, report_id=row.id, position=len(terms),
                    reported_term=term, language=reactions.language_of(term),
                ))
        carry_pairs(connection, duplicate_id, original_id)


def carry_pairs(connection, duplicate_id, original_id):
    """Decide the merged pair; give the original the duplicate's other undecided pairs (as
    `merges.merge` does)."""
    pairs = connection.execute(sa.select(candidate).where(
        candidate.c.decision == "none",
        sa.or_(candidate.c.case_id == duplicate_id, candidate.c.candidate_case_id == duplicate_id),
    )).all()
    for row in pairs:
        mine = row.case_id == duplicate_id
        other = row.candidate_case_id if mine else row.case_id
        held = connection.scalar(sa.select(sa.func.count()).select_from(candidate).where(sa.or_(
            sa.and_(candidate.c.case_id == original_id, candidate.c.candidate_case_id == other),
            sa.and_(candidate.c.case_id == other, candidate.c.candidate_case_id == original_id),
        )))
        if other == original_id:  # the pair staff marked: decided
            connection.execute(candidate.update().where(candidate.c.id == row.id).values(
                decision="duplicate", decided_by=ACTOR, decided_at=datetime.now(UTC)
            ))
        elif held:
            connection.execute(candidate.delete().where(candidate.c.id == row.id))
        else:
            side = "case_id" if mine else "candidate_case_id"
            connection.execute(
                candidate.update().where(candidate.c.id == row.id).values({side: original_id})
            )


def decisions_from_assessments(connection):
    """Make each case's assessment decisions in force from the latest report of the case at the
    time it was made (the audit trail's), or from the first report when the trail says none."""
    assessed = connection.execute(
        sa.select(safety_case).where(sa.or_(*(safety_case.c[n].is_not(None) for n in DECIDED)))
    ).all()
    for start in range(0, len(assessed), BATCH):
        chunk = assessed[start:start + BATCH]
        reports = loaded(connection, [case.id for case in chunk])
        for case in chunk:
            held = reports.get(case.id, [])
            if not held:
                continue
            for name in DECIDED:
                value = getattr(case, name)
                if value in (None, []):
                    continue
                made = connection.execute(
                    sa.select(audit_entry.c.at, audit_entry.c.actor).where(
                        audit_entry.c.action == "assessment", audit_entry.c.field == name,
                        audit_entry.c.report_id.in_([r.id for r in held]),
                    ).order_by(audit_entry.c.id.desc()).limit(1)
                ).first()
                at = made.at if made else held[0].received_at
                resting_on = [r for r in held if r.received_at <= at] or held[:1]
                connection.execute(decision.insert().values(
                    report_id=resting_on[-1].id, field=name, value=value, made_at=at,
                    made_by=made.actor if made else ACTOR, correction=False,
                ))


def recompute_deadlines(connection, record):
    """Derive every report's clock again by the decisions and the holder's clock, auditing it."""
    case_ids = [row[0] for row in connection.execute(
        sa.select(report.c.case_id).distinct().order_by(report.c.case_id)
    )]
    for start in range(0, len(case_ids), BATCH):
        chunk = case_ids[start:start + BATCH]
        reports = loaded(connection, chunk)
        stored = {row.id: row for row in connection.execute(
            sa.select(safety_case).where(safety_case.c.id.in_(chunk))
        )}
        decided = {}
        for row in connection.execute(
            sa.select(decision).where(
                decision.c.report_id.in_([r.id for rs in reports.values() for r in rs])
            ).order_by(decision.c.id)
        ):
            decided.setdefault(row.report_id, []).append(SimpleNamespace(**row._asdict()))
        for case_id in chunk:
            held = reports[case_id]
            case = SimpleNamespace(**stored[case_id]._asdict())
            changes = cases.derive(held, case, [d for r in held for d in decided.get(r.id, [])])
            for item in held:
                connection.execute(sa.update(report).where(report.c.id == item.id).values(
                    **{name: getattr(item, name) for name in cases.REPORT_DERIVED}
                ))
            connection.execute(sa.update(safety_case).where(safety_case.c.id == case_id).values(
                **{name: getattr(case, name) for name in (
                    "serious", "death", "report_category", "valid_case", "investigation_due_at",
                    *DECIDED,
                )}
            ))
            for target, name, old, new in changes:
                if target is case and name in cases.AUDITED_CASE_FIELDS:
                    record(held[0].id, "deadline", name, old, new)
                elif target is not case and name in ("report_category", "day_zero", "due_at"):
                    record(target.id, "deadline", name, old, new)


def downgrade():
    connection = op.get_bind()
    for duplicate_id, moved in connection.execute(  # the latest first, as undoing them does
        sa.select(case_merge.c.duplicate_case_id, case_merge.c.moved)
        .where(case_merge.c.undone_at.is_(None)).order_by(case_merge.c.id.desc())
    ).all():
        for item in moved:
            connection.execute(sa.update(report).where(report.c.id == item["id"]).values(
                case_id=duplicate_id, follow_up_of_id=item["follow_up_of_id"]
            ))
        ids = [item["id"] for item in moved]
        connection.execute(
            reaction.delete().where(reaction.c.report_id.in_(ids), reaction.c.case_id != duplicate_id)
        )
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('safety_case', schema=None) as batch_op:
        batch_op.drop_column('invalid_since')
        batch_op.drop_column('invalid_reason')

    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_report_merge_id_case_merge'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_report_merge_id'))
        batch_op.drop_index(batch_op.f('ix_report_lapsed_due_at'))
        batch_op.drop_index(batch_op.f('ix_report_claimed_follow_up_of'))
        batch_op.drop_index(batch_op.f('ix_report_aware_on'))
        batch_op.drop_column('sent_recorded_at')
        batch_op.drop_column('decided_outcome')
        batch_op.drop_column('decided_serious')
        batch_op.drop_column('added_at')
        batch_op.drop_column('lapsed_due_at')
        batch_op.drop_column('duplicate_copy')
        batch_op.drop_column('merge_id')
        batch_op.drop_column('claimed_follow_up_of')

    with op.batch_alter_table('correction', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_correction_report_id'))

    op.drop_table('correction')
    with op.batch_alter_table('assessment_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assessment_decision_report_id'))

    op.drop_table('assessment_decision')
    with op.batch_alter_table('approval_request', schema=None) as batch_op:
        batch_op.drop_index('ix_approval_request_status_case')

    op.drop_table('approval_request')
    with op.batch_alter_table('case_merge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_merge_original_case_id'))
        batch_op.drop_index(batch_op.f('ix_case_merge_duplicate_case_id'))

    op.drop_table('case_merge')
    # ### end Alembic commands ###
