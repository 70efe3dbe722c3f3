"""The cases that join a group event are told to the safety inbox by the sender, a notice a pass
for all that joined since the last (`adr.signals.group_events.queue_join_notices`), instead of
a mail queued by each join: each event keeps the last member it mailed (`mailed_through`), and
each member that joins keeps its reference, which its notice names.

Every member of an event already here was mailed (by its opening, or by its join's own mail), so
each event starts from its last member; an index finds the members after it. Code older than
this revision, still serving while it runs, mails its joins itself: those are mailed again by
the next pass (twice, never lost); the events it opens have no marker, and their members after
the opening are the ones mailed. Before a downgrade, let the sender run a pass (`adr send-mail`):
the cases that joined since its last pass would be mailed by neither version.

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
        batch_op.add_column(sa.Column('mailed_through', sa.Integer(), nullable=True))
    with op.batch_alter_table('group_event_case') as batch_op:
        batch_op.add_column(sa.Column('reference', sa.String(length=17), nullable=True))
    op.execute(
        'UPDATE group_event SET mailed_through = (SELECT max(id) FROM group_event_case'
        ' WHERE group_event_case.group_event_id = group_event.id)'
    )
    op.create_index('ix_group_event_case_joined', 'group_event_case', ['group_event_id', 'id'])


def downgrade():
    op.drop_index('ix_group_event_case_joined', table_name='group_event_case')
    with op.batch_alter_table('group_event_case') as batch_op:
        batch_op.drop_column('reference')
    with op.batch_alter_table('group_event') as batch_op:
        batch_op.drop_column('mailed_through')
