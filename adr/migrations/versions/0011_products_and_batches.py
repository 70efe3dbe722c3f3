"""Products, batches and the batch check (issue 11, part A): to be written.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29

"""


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
