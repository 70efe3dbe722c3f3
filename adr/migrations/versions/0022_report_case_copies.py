"""Each report holds a copy of its case's status, seriousness and death, indexed for the counts.

The dashboard's serious and death counts, and the list's filters on them and on status, read
the copies off the report's own indexes instead of looking up each report's case. The copies
are filled from the cases in one statement; from then on every flush that changes a case or
moves a report writes them (`adr.models.copy_case_values`).

Revision ID: 0022_report_case_copies
Revises: 0021_signals
Create Date: 2026-12-05

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022_report_case_copies'
down_revision = '0021'
branch_labels = None
depends_on = None

COPIES = {'case_status': 'status', 'case_serious': 'serious', 'case_death': 'death'}


def upgrade():
    with op.batch_alter_table('report') as batch_op:
        batch_op.add_column(
            sa.Column('case_status', sa.String(length=12), server_default='received', nullable=False)
        )
        batch_op.add_column(
            sa.Column('case_serious', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column('case_death', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    # Set-based: one pass joining each report to its case, writing only the reports whose
    # case differs from the defaults.
    values = ', '.join(f'{copy} = c.{name}' for copy, name in COPIES.items())
    differs = ' OR '.join(f'report.{copy} <> c.{name}' for copy, name in COPIES.items())
    op.execute(
        f'UPDATE report SET {values} FROM safety_case AS c'
        f' WHERE c.id = report.case_id AND ({differs})'
    )
    op.create_index(
        'ix_report_case_serious', 'report', ['case_serious', 'received_at', 'case_status']
    )
    op.create_index('ix_report_case_death', 'report', ['case_death', 'received_at', 'case_status'])
    op.create_index('ix_report_case_status', 'report', ['case_status', 'received_at'])


def downgrade():
    op.drop_index('ix_report_case_status', table_name='report')
    op.drop_index('ix_report_case_death', table_name='report')
    op.drop_index('ix_report_case_serious', table_name='report')
    with op.batch_alter_table('report') as batch_op:
        batch_op.drop_column('case_death')
        batch_op.drop_column('case_serious')
        batch_op.drop_column('case_status')
