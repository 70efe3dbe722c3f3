"""Each member of staff's open cases counted in a table; a batch's reports by one index.

The dashboard's workloads read `open_case_count` (the unassigned under 0) instead of counting
every open case; from here on every flush that adds a case or changes its status or assignee
adds to it (`adr.models.count_open_cases`). The drug index on (batch_number, report_id), which
replaces the one on batch_number, lists and counts a batch's reports without reading the drug rows.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

OPEN_STATUSES = "'received', 'in_review', 'assessed', 'submitted'"  # regulatory.OPEN_STATUSES


def upgrade():
    op.create_table(
        'open_case_count',
        sa.Column('assignee_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('cases', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('assignee_id', name=op.f('pk_open_case_count')),
    )
    op.execute(
        'INSERT INTO open_case_count (assignee_id, cases)'
        ' SELECT coalesce(assigned_to_id, 0), count(*) FROM safety_case'
        f' WHERE status IN ({OPEN_STATUSES}) GROUP BY coalesce(assigned_to_id, 0)'
    )
    op.create_index('ix_drug_batch_report', 'drug', ['batch_number', 'report_id'])
    op.drop_index('ix_drug_batch_number', table_name='drug')


def downgrade():
    op.create_index('ix_drug_batch_number', 'drug', ['batch_number'])
    op.drop_index('ix_drug_batch_report', table_name='drug')
    op.drop_table('open_case_count')
