"""Duplicate candidates: the pairs the matcher proposes, and the keys it finds them by.

Every report already stored gets its blocking keys (the initials of each reading of the
patient's name; sex and age in years; each with the onset), so that new reports find the
earlier ones; the birth date gets an index. No earlier report is matched here: candidates are found as reports arrive.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29

"""
from alembic import op
import sqlalchemy as sa

from adr import duplicates
from adr.models import Report, UTCDateTime


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade():
    op.create_index("ix_report_patient_birth_date", "report", ["patient_birth_date"])
    keys = op.create_table(
        "duplicate_key",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "report_id",
            sa.Integer(),
            sa.ForeignKey("report.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("key", sa.String(12), nullable=False),
        sa.Column("onset", sa.Date(), nullable=True),
    )
    op.create_index("ix_duplicate_key_report_id", "duplicate_key", ["report_id"])
    op.create_index("ix_duplicate_key_key_onset", "duplicate_key", ["key", "onset"])
    op.create_table(
        "duplicate_candidate",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("safety_case.id"), nullable=False),
        sa.Column(
            "candidate_case_id", sa.Integer(), sa.ForeignKey("safety_case.id"), nullable=False
        ),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("matched", sa.JSON(), nullable=False),
        sa.Column("found_at", UTCDateTime(), nullable=False),
        sa.Column("decision", sa.String(14), nullable=False),
        sa.Column("decided_by", sa.String(254), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("case_id", "candidate_case_id"),
    )
    op.create_index("ix_duplicate_candidate_case_id", "duplicate_candidate", ["case_id"])
    op.create_index(
        "ix_duplicate_candidate_candidate_case_id", "duplicate_candidate", ["candidate_case_id"]
    )
    op.create_index("ix_duplicate_candidate_decision", "duplicate_candidate", ["decision"])

    connection = op.get_bind()
    report = sa.table(
        "report",
        sa.column("id", sa.Integer()),
        *(sa.column(name, Report.__table__.c[name].type) for name in duplicates.KEYED_COLUMNS),
    )
    last = 0
    while True:
        rows = connection.execute(
            sa.select(report)
            .where(report.c.id > last)
            .order_by(report.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        last = rows[-1].id
        found = [key for row in rows for key in duplicates.key_rows(row.id, row._mapping)]
        if found:
            connection.execute(sa.insert(keys), found)


def downgrade():
    op.drop_table("duplicate_candidate")
    op.drop_table("duplicate_key")
    op.drop_index("ix_report_patient_birth_date", table_name="report")
