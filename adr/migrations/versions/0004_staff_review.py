"""Staff accounts, the audit trail, case notes and the assessment.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('staff_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_user')),
    sa.UniqueConstraint('email', name=op.f('uq_staff_user_email'))
    )
    op.create_table('audit_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=254), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('field', sa.String(length=60), nullable=True),
    sa.Column('old_value', sa.Text(), nullable=True),
    sa.Column('new_value', sa.Text(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_audit_entry_report_id_report')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entry')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_entry_hash'))
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entry_report_id'), ['report_id'], unique=False)

    op.create_table('case_note',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('author', sa.String(length=254), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_case_note_report_id_report')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_note'))
    )
    with op.batch_alter_table('case_note', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_note_report_id'), ['report_id'], unique=False)

    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assessed_serious', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('expectedness', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('naranjo_answers', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('naranjo_score', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('status_reason', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('duplicate_of_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_report_duplicate_of_id_report'), 'report', ['duplicate_of_id'], ['id'])



def downgrade():
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_report_duplicate_of_id_report'), type_='foreignkey')
        batch_op.drop_column('duplicate_of_id')
        batch_op.drop_column('status_reason')
        batch_op.drop_column('naranjo_score')
        batch_op.drop_column('naranjo_answers')
        batch_op.drop_column('expectedness')
        batch_op.drop_column('assessed_serious')

    with op.batch_alter_table('case_note', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_note_report_id'))

    op.drop_table('case_note')
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entry_report_id'))

    op.drop_table('audit_entry')
    op.drop_table('staff_user')
