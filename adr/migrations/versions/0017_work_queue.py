"""The reviewer's queue: each case assigned to a member of staff, and filters each one saves.

Every case starts unassigned; no row of a report, case or audit line changes.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('safety_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assigned_to_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_safety_case_assigned_to_id'), ['assigned_to_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_safety_case_assigned_to_id_staff_user'), 'staff_user', ['assigned_to_id'], ['id'])

    op.create_table('saved_filter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('query', sa.String(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['staff_user.id'], name=op.f('fk_saved_filter_user_id_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_filter')),
    sa.UniqueConstraint('user_id', 'name', name=op.f('uq_saved_filter_user_id'))
    )
    with op.batch_alter_table('saved_filter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saved_filter_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('saved_filter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_saved_filter_user_id'))
    op.drop_table('saved_filter')

    with op.batch_alter_table('safety_case', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_safety_case_assigned_to_id_staff_user'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_safety_case_assigned_to_id'))
        batch_op.drop_column('assigned_to_id')
