"""The company's assessment and the way to the national system.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('company_causality', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('submitted_to_regulator_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('national_case_number', sa.String(length=50), nullable=True))



def downgrade():
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_column('national_case_number')
        batch_op.drop_column('submitted_to_regulator_on')
        batch_op.drop_column('company_causality')

