"""Private follow-up links: the SHA-256 of each acknowledgement's token, with its expiry.

Reports received before get no link: their acknowledgements were mailed without one.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('follow_up_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_follow_up_link_report_id_report')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_up_link')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_follow_up_link_token_hash'))
    )
    with op.batch_alter_table('follow_up_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_up_link_report_id'), ['report_id'], unique=False)


def downgrade():
    with op.batch_alter_table('follow_up_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follow_up_link_report_id'))

    op.drop_table('follow_up_link')
