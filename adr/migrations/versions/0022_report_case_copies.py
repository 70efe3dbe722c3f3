"""Each report holds a copy of its case's status, seriousness, death and assignee, indexed.

The dashboard's serious and death counts and its workloads, and the list's filters on them and
on status, read the copies off the report's own indexes instead of looking up each report's
case; two case indexes count open cases by assignee and pending death investigations. The copies
are filled from the cases in one statement; from then on every flush that changes a case or
moves a report writes them (`adr.models.copy_case_values`).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

COPIES = {
    'case_status': 'status',
    'case_serious': 'serious',
    'case_death': 'death',
    'case_assigned_to_id': 'assigned_to_id',
}


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
        batch_op.add_column(sa.Column('case_assigned_to_id', sa.Integer(), nullable=True))
    # Set-based: one pass joining each report to its case, writing only the reports whose
    # case differs from the defaults.
    values = ', '.join(f'{copy} = c.{name}' for copy, name in COPIES.items())
    differs = ' OR '.join(
        f'c.{name} IS NOT NULL' if copy == 'case_assigned_to_id'  # the new column is NULL
        else f'report.{copy} <> c.{name}'
        for copy, name in COPIES.items()
    )
    op.execute(
        f'UPDATE report SET {values} FROM safety_case AS c'
        f' WHERE c.id = report.case_id AND ({differs})'
    )
    op.create_index(
        'ix_report_case_serious', 'report', ['case_serious', 'received_at', 'case_status']
    )
    op.create_index('ix_report_case_death', 'report', ['case_death', 'received_at', 'case_status'])
    op.create_index('ix_report_case_status', 'report', ['case_status', 'received_at'])
    op.create_index(
        'ix_report_case_assignee_due',
        'report',
        ['case_assigned_to_id', 'submitted_to_regulator_on', 'due_at'],
    )
    op.create_index(
        'ix_safety_case_status_assignee', 'safety_case', ['status', 'assigned_to_id']
    )
    op.drop_index('ix_safety_case_status', table_name='safety_case')
    op.create_index(
        'ix_safety_case_investigation_pending',
        'safety_case',
        ['investigation_reported_on', 'investigation_due_at'],
    )


def downgrade():
    op.drop_index('ix_safety_case_investigation_pending', table_name='safety_case')
    op.create_index('ix_safety_case_status', 'safety_case', ['status'])
    op.drop_index('ix_safety_case_status_assignee', table_name='safety_case')
    op.drop_index('ix_report_case_assignee_due', table_name='report')
    op.drop_index('ix_report_case_status', table_name='report')
    op.drop_index('ix_report_case_death', table_name='report')
    op.drop_index('ix_report_case_serious', table_name='report')
    with op.batch_alter_table('report') as batch_op:
        batch_op.drop_column('case_assigned_to_id')
        batch_op.drop_column('case_death')
        batch_op.drop_column('case_serious')
        batch_op.drop_column('case_status')
