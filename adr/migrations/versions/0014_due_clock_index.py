"""The reports' deadline index also holds what judges their timeliness (compliance figures).

`ix_report_due_clock` (due_at, report_category, day_zero, submitted_to_regulator_on) replaces
`ix_report_due_at`, which it serves as well: the compliance page counts a year of deadlines
from the index alone instead of reading every report row.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        'ix_report_due_clock',
        'report',
        ['due_at', 'report_category', 'day_zero', 'submitted_to_regulator_on'],
        unique=False,
    )
    op.drop_index('ix_report_due_at', table_name='report')


def downgrade():
    op.create_index('ix_report_due_at', 'report', ['due_at'], unique=False)
    op.drop_index('ix_report_due_clock', table_name='report')
