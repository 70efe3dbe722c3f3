"""Cases: each first report and its follow-ups become one case; every deadline recomputed.

The status and the assessment move from the report to its case (a follow-up's own values,
its duplicate mark included, where they differed from its first report's, are kept in the
audit trail, as is the mark of a first report called a duplicate of its own follow-up: no case
duplicates itself); notes move to the case. A follow-up of a follow-up joins the case of the
first report at the head of its chain. Each report gets its source (`web`), the date the
company first knew of it (the China date of receipt), its day 0 and its deadline by the rules
of `adr.cases`; every deadline or category that moves is audited.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29

"""
from datetime import UTC, datetime
from itertools import groupby
from types import SimpleNamespace

from alembic import op
import sqlalchemy as sa

from adr import audit, cases, regulatory
from adr.models import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

ACTOR = "migration 0009"
OWING = ("received", "in_review", "assessed")  # a report in these had not gone to the regulator
BATCH = 1000
MOVED = (
    "status", "status_reason", "assessed_serious", "expectedness", "company_causality",
    "naranjo_answers", "naranjo_score", "national_case_number",
)
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
DRUG_COLUMNS = (
    "report_id", "position", "role", "approval_number", "brand_name", "generic_name",
    "manufacturer", "batch_number", "dose", "dose_unit", "route", "frequency", "start_date",
    "end_date", "indication",
)
JSON_COLUMNS = {"event_serious", "patient_history", "assessed_serious", "naranjo_answers"}
DATE_COLUMNS = {"patient_birth_date", "event_onset_date", "event_death_date", "aware_on", "day_zero",
                "submitted_to_regulator_on"}
REPORT_COLUMNS = (
    "id", "case_id", "received_at", "follow_up_of_id", "serious", "report_category", "due_at",
    "valid_case", "completeness", *FORM_COLUMNS,
)


def table(name, columns, **types):
    return sa.table(name, *(sa.column(c, types.get(c)) for c in columns))


report = table(
    "report",
    (*REPORT_COLUMNS, *MOVED, "duplicate_of_id", "aware_on", "day_zero",
     "submitted_to_regulator_on"),
    **{c: sa.JSON() for c in JSON_COLUMNS},
    **{c: sa.Date() for c in DATE_COLUMNS},
    received_at=UTCDateTime(), due_at=UTCDateTime(), serious=sa.Boolean(),
    valid_case=sa.Boolean(),
)
drug = table("drug", DRUG_COLUMNS, start_date=sa.Date(), end_date=sa.Date())
safety_case = table(
    "safety_case",
    ("id", *MOVED, "duplicate_of_id", "serious", "death", "report_category", "valid_case",
     "investigation_due_at"),
    assessed_serious=sa.JSON(), naranjo_answers=sa.JSON(), serious=sa.Boolean(),
    death=sa.Boolean(), valid_case=sa.Boolean(), investigation_due_at=UTCDateTime(),
)
audit_entry = table(
    "audit_entry",
    ("id", "at", "actor", "action", "report_id", "field", "old_value", "new_value",
     "prev_hash", "hash"),
    at=UTCDateTime(),
)


def upgrade():
    op.create_table('safety_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('status_reason', sa.String(length=500), nullable=True),
    sa.Column('duplicate_of_id', sa.Integer(), nullable=True),
    sa.Column('assessed_serious', sa.JSON(), nullable=True),
    sa.Column('assessed_outcome', sa.String(length=24), nullable=True),
    sa.Column('expectedness', sa.String(length=24), nullable=True),
    sa.Column('company_causality', sa.String(length=24), nullable=True),
    sa.Column('naranjo_answers', sa.JSON(), nullable=True),
    sa.Column('naranjo_score', sa.Integer(), nullable=True),
    sa.Column('national_case_number', sa.String(length=50), nullable=True),
    sa.Column('investigation_reported_on', sa.Date(), nullable=True),
    sa.Column('serious', sa.Boolean(), nullable=False),
    sa.Column('death', sa.Boolean(), nullable=False),
    sa.Column('report_category', sa.String(length=12), nullable=False),
    sa.Column('valid_case', sa.Boolean(), nullable=False),
    sa.Column('investigation_due_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['duplicate_of_id'], ['safety_case.id'], name=op.f('fk_safety_case_duplicate_of_id_safety_case')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_safety_case'))
    )
    with op.batch_alter_table('safety_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_safety_case_investigation_due_at'), ['investigation_due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_safety_case_status'), ['status'], unique=False)
        batch_op.create_index('ix_safety_case_valid_status', ['valid_case', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_safety_case_duplicate_of_id'), ['duplicate_of_id'], unique=False)

    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('case_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('source', sa.String(length=12), nullable=False, server_default='web'))
        batch_op.add_column(sa.Column('aware_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('day_zero', sa.Date(), nullable=True))
        batch_op.alter_column('due_at', existing_type=UTCDateTime(), nullable=True)

    with op.batch_alter_table('case_note', schema=None) as batch_op:
        batch_op.add_column(sa.Column('case_id', sa.Integer(), nullable=True))

    connection = op.get_bind()
    open_cases(connection)
    recompute_deadlines(connection)

    with op.batch_alter_table('case_note', schema=None) as batch_op:
        batch_op.alter_column('case_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_index(batch_op.f('ix_case_note_report_id'))
        batch_op.create_index(batch_op.f('ix_case_note_case_id'), ['case_id'], unique=False)
        batch_op.drop_constraint(batch_op.f('fk_case_note_report_id_report'), type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_case_note_case_id_safety_case'), 'safety_case', ['case_id'], ['id'])
        batch_op.drop_column('report_id')

    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.alter_column('case_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('aware_on', existing_type=sa.Date(), nullable=False)
        batch_op.alter_column('source', existing_type=sa.String(length=12), server_default=None)
        batch_op.drop_index(batch_op.f('ix_report_status_due'))
        batch_op.create_index(batch_op.f('ix_report_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_source'), ['source'], unique=False)
        batch_op.create_index('ix_report_unsent_due', ['submitted_to_regulator_on', 'due_at'], unique=False)
        batch_op.drop_constraint(batch_op.f('fk_report_duplicate_of_id_report'), type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_report_case_id_safety_case'), 'safety_case', ['case_id'], ['id'])
        for column in (*MOVED, 'duplicate_of_id'):
            batch_op.drop_column(column)


def open_cases(connection):
    """Make each first report a case of the same id, holding its status and assessment."""
    connection.execute(
        sa.update(report).values(case_id=sa.func.coalesce(report.c.follow_up_of_id, report.c.id))
    )
    # A follow-up of a follow-up (0008's demo data linked follow-ups to any earlier report)
    # joins the case of the first report at the head of its chain.
    parent = report.alias("parent")
    parents_first = (
        sa.select(parent.c.follow_up_of_id).where(parent.c.id == report.c.case_id).scalar_subquery()
    )
    while connection.execute(
        sa.update(report).where(parents_first.is_not(None)).values(case_id=parents_first)
    ).rowcount:
        pass
    original = report.alias("original")
    duplicate_case = (
        sa.select(original.c.case_id)
        .where(original.c.id == report.c.duplicate_of_id)
        .scalar_subquery()
    )
    connection.execute(
        safety_case.insert().from_select(
            ["id", *MOVED, "duplicate_of_id", "serious", "death", "report_category", "valid_case"],
            sa.select(
                report.c.id, *(report.c[name] for name in MOVED), duplicate_case,
                report.c.serious, sa.false(), report.c.report_category, report.c.valid_case,
            ).where(report.c.follow_up_of_id.is_(None)),
        )
    )
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text(
            "SELECT setval(pg_get_serial_sequence('safety_case', 'id'), "
            "coalesce((SELECT max(id) FROM safety_case), 0) + 1, false)"
        ))
    connection.execute(sa.text(
        "UPDATE case_note SET case_id = (SELECT case_id FROM report WHERE report.id = case_note.report_id)"
    ))


def recompute_deadlines(connection):
    """Give each report its day 0 and deadline by the new rules, auditing what moved."""
    key = audit.chain_key()
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(audit.CHAIN_LOCK)))
    previous = connection.scalar(
        sa.select(audit_entry.c.hash).order_by(audit_entry.c.id.desc()).limit(1)
    ) or audit.GENESIS
    now = datetime.now(UTC)

    def record(report_id, field, old, new, action="migrated"):
        nonlocal previous
        entry = SimpleNamespace(
            prev_hash=previous, at=now, actor=ACTOR, action=action,
            report_id=report_id, field=field, old_value=audit.as_text(old),
            new_value=audit.as_text(new),
        )
        entry.hash = previous = audit.entry_hash(entry, key)
        connection.execute(audit_entry.insert().values(**vars(entry)))

    case_ids = [row[0] for row in connection.execute(sa.select(safety_case.c.id).order_by(safety_case.c.id))]
    for start in range(0, len(case_ids), BATCH):
        chunk = case_ids[start:start + BATCH]
        rows = connection.execute(
            sa.select(report).where(report.c.case_id.in_(chunk))
            .order_by(report.c.case_id, report.c.received_at, report.c.id)
        ).all()
        drugs = {}
        for row in connection.execute(
            sa.select(drug).where(drug.c.report_id.in_([r.id for r in rows]))
            .order_by(drug.c.report_id, drug.c.position)
        ):
            drugs.setdefault(row.report_id, []).append(SimpleNamespace(**row._asdict()))
        stored = {
            row.id: row for row in connection.execute(
                sa.select(safety_case).where(safety_case.c.id.in_(chunk))
            )
        }
        for case_id, group in groupby(rows, key=lambda r: r.case_id):
            recompute_case(connection, stored[case_id], list(group), drugs, record)


def recompute_case(connection, stored, rows, drugs, record):
    case = SimpleNamespace(
        status=stored.status, assessed_serious=stored.assessed_serious, assessed_outcome=None,
        expectedness=stored.expectedness, serious=stored.serious, death=False,
        report_category=stored.report_category, valid_case=stored.valid_case,
        investigation_due_at=None,
    )
    first = next(row for row in rows if row.id == stored.id)
    duplicate_of_id = stored.duplicate_of_id
    if duplicate_of_id == stored.id:  # of its own follow-up: no case duplicates itself
        record(first.id, "duplicate_of_id", first.duplicate_of_id, None)
        duplicate_of_id = None
    reports = []
    for row in rows:
        values = row._asdict()
        values |= {
            "aware_on": regulatory.china_date(row.received_at),
            "drugs": drugs.get(row.id, []),
            "event_serious": row.event_serious or [],
            "patient_history": row.patient_history or [],
        }
        reports.append(SimpleNamespace(**values))
        if row.follow_up_of_id is not None:  # a follow-up's own assessment, now the case's
            for name in MOVED:
                own, kept = getattr(row, name), getattr(stored, name)
                if own not in (None, [], "") and own != kept:
                    record(row.id, name, own, kept)
            if row.duplicate_of_id not in (None, first.duplicate_of_id):  # report ids, both
                record(row.id, "duplicate_of_id", row.duplicate_of_id, first.duplicate_of_id)
    status = stored.status
    unsent = [
        row for row in rows
        if row.follow_up_of_id is not None and row.status in OWING and not row.submitted_to_regulator_on
    ]
    if status in ("submitted", "closed") and unsent:  # a follow-up still owed: the case is open
        record(first.id, "status", status, "in_review")
        status = case.status = "in_review"
    changes = cases.derive(reports, case)
    for item in reports:
        connection.execute(
            sa.update(report).where(report.c.id == item.id).values(
                aware_on=item.aware_on, day_zero=item.day_zero, due_at=item.due_at,
                serious=item.serious, report_category=item.report_category,
                valid_case=item.valid_case, completeness=item.completeness,
            )
        )
    connection.execute(
        sa.update(safety_case).where(safety_case.c.id == stored.id).values(
            serious=case.serious, death=case.death, report_category=case.report_category,
            valid_case=case.valid_case, investigation_due_at=case.investigation_due_at,
            duplicate_of_id=duplicate_of_id, status=status,
        )
    )
    for target, name, old, new in changes:
        if target is case and name in cases.AUDITED_CASE_FIELDS:
            record(reports[0].id, name, old, new, "deadline")
        elif target is not case and name in ("report_category", "due_at"):
            record(target.id, name, old, new, "deadline")


def downgrade():
    raise RuntimeError("cases cannot be split back into reports; restore a backup instead")
