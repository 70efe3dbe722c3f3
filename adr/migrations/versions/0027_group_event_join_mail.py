"""A group event's last notice of cases joining it: later joins are added to it until a sender
tries it (`adr.signals.group_events.join`), one notice a sender's pass in a product's scare.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('group_event') as batch_op:
        batch_op.add_column(sa.Column('join_mail_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_group_event_join_mail_id_outbox_mail'),
            'outbox_mail', ['join_mail_id'], ['id'],
        )


def downgrade():
    with op.batch_alter_table('group_event') as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_group_event_join_mail_id_outbox_mail'), type_='foreignkey'
        )
        batch_op.drop_column('join_mail_id')
