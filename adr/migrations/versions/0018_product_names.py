"""The company's products in both languages: an English name and other names each is known by.

Products already in the catalogue get no English name and no alias; no drug is matched
again here (an admin's change to a product matches its drugs again).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.add_column(sa.Column('english_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('aliases', sa.JSON(), server_default='[]', nullable=False))


def downgrade():
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.drop_column('aliases')
        batch_op.drop_column('english_name')
