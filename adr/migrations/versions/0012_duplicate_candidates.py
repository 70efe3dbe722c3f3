"""Duplicate candidates (issue 11, part B): to be written.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29

"""


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
