"""Signals, group events and periodic reports: detection runs and their figures, the signal
tracking log with its cases, steps and actions, the designated medical events, group adverse
events with their cases, products' exposure, and the listed reactions coded to PTs.

Nothing existing changes: the new tables start empty, and every product's coded listed
reactions start empty beside their text (coded when staff or a MedDRA import code them).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('designated_medical_event',
    sa.Column('pt_code', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('added_at', sa.DateTime(), nullable=False),
    sa.Column('added_by', sa.String(length=254), nullable=False),
    sa.PrimaryKeyConstraint('pt_code', name=op.f('pk_designated_medical_event'))
    )
    op.create_table('signal_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('meddra_version', sa.String(length=10), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('run_by', sa.String(length=254), nullable=False),
    sa.Column('cases', sa.Integer(), nullable=False),
    sa.Column('pairs', sa.Integer(), nullable=False),
    sa.Column('raised', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signal_run'))
    )
    op.create_table('product_exposure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('unit', sa.String(length=12), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('entered_at', sa.DateTime(), nullable=False),
    sa.Column('entered_by', sa.String(length=254), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_product_exposure_product_id_product')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_exposure')),
    sa.UniqueConstraint('product_id', 'period_start', 'unit', name=op.f('uq_product_exposure_product_id'))
    )
    op.create_table('signal_figure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('pt_code', sa.Integer(), nullable=False),
    sa.Column('soc_code', sa.Integer(), nullable=True),
    sa.Column('a', sa.Integer(), nullable=False),
    sa.Column('b', sa.Integer(), nullable=False),
    sa.Column('c', sa.Integer(), nullable=False),
    sa.Column('d', sa.Integer(), nullable=False),
    sa.Column('prr', sa.Float(), nullable=True),
    sa.Column('chi2', sa.Float(), nullable=True),
    sa.Column('ror', sa.Float(), nullable=True),
    sa.Column('ror_lower', sa.Float(), nullable=True),
    sa.Column('ror_upper', sa.Float(), nullable=True),
    sa.Column('ic', sa.Float(), nullable=True),
    sa.Column('ic025', sa.Float(), nullable=True),
    sa.Column('period_count', sa.Integer(), nullable=False),
    sa.Column('baseline', sa.Float(), nullable=True),
    sa.Column('poisson_p', sa.Float(), nullable=True),
    sa.Column('triggers', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_signal_figure_product_id_product')),
    sa.ForeignKeyConstraint(['run_id'], ['signal_run.id'], name=op.f('fk_signal_figure_run_id_signal_run'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signal_figure')),
    sa.UniqueConstraint('run_id', 'product_id', 'pt_code', name=op.f('uq_signal_figure_run_id'))
    )
    with op.batch_alter_table('signal_figure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signal_figure_product_id'), ['product_id'], unique=False)

    op.create_table('safety_signal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('pt_code', sa.Integer(), nullable=False),
    sa.Column('soc_code', sa.Integer(), nullable=True),
    sa.Column('meddra_version', sa.String(length=10), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('triggers', sa.JSON(), nullable=False),
    sa.Column('detected_at', sa.DateTime(), nullable=False),
    sa.Column('detected_by_run_id', sa.Integer(), nullable=True),
    sa.Column('latest_figure_id', sa.Integer(), nullable=True),
    sa.Column('validation_due_on', sa.Date(), nullable=False),
    sa.Column('validated_at', sa.DateTime(), nullable=True),
    sa.Column('validated_by', sa.String(length=254), nullable=True),
    sa.Column('validation_rationale', sa.String(length=2000), nullable=True),
    sa.Column('priority', sa.String(length=24), nullable=True),
    sa.Column('prioritised_at', sa.DateTime(), nullable=True),
    sa.Column('prioritised_by', sa.String(length=254), nullable=True),
    sa.Column('priority_rationale', sa.String(length=2000), nullable=True),
    sa.Column('evaluation_due_on', sa.Date(), nullable=True),
    sa.Column('evaluated_at', sa.DateTime(), nullable=True),
    sa.Column('evaluated_by', sa.String(length=254), nullable=True),
    sa.Column('conclusion', sa.String(length=24), nullable=True),
    sa.Column('assessment', sa.String(length=5000), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('closed_by', sa.String(length=254), nullable=True),
    sa.ForeignKeyConstraint(['detected_by_run_id'], ['signal_run.id'], name=op.f('fk_safety_signal_detected_by_run_id_signal_run')),
    sa.ForeignKeyConstraint(['latest_figure_id'], ['signal_figure.id'], name=op.f('fk_safety_signal_latest_figure_id_signal_figure')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_safety_signal_product_id_product')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_safety_signal'))
    )
    with op.batch_alter_table('safety_signal', schema=None) as batch_op:
        batch_op.create_index('ix_safety_signal_pair', ['product_id', 'pt_code', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_safety_signal_status'), ['status'], unique=False)

    op.create_table('signal_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signal_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=254), nullable=False),
    sa.Column('completed_on', sa.Date(), nullable=True),
    sa.Column('completed_by', sa.String(length=254), nullable=True),
    sa.Column('completion_note', sa.String(length=2000), nullable=True),
    sa.ForeignKeyConstraint(['signal_id'], ['safety_signal.id'], name=op.f('fk_signal_action_signal_id_safety_signal')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signal_action'))
    )
    with op.batch_alter_table('signal_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signal_action_signal_id'), ['signal_id'], unique=False)

    op.create_table('signal_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signal_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=12), nullable=False),
    sa.Column('added_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['safety_case.id'], name=op.f('fk_signal_case_case_id_safety_case')),
    sa.ForeignKeyConstraint(['signal_id'], ['safety_signal.id'], name=op.f('fk_signal_case_signal_id_safety_signal')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signal_case')),
    sa.UniqueConstraint('signal_id', 'case_id', name=op.f('uq_signal_case_signal_id'))
    )
    with op.batch_alter_table('signal_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signal_case_case_id'), ['case_id'], unique=False)

    op.create_table('signal_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signal_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('by', sa.String(length=254), nullable=False),
    sa.Column('rationale', sa.String(length=5000), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['signal_id'], ['safety_signal.id'], name=op.f('fk_signal_step_signal_id_safety_signal')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signal_step'))
    )
    with op.batch_alter_table('signal_step', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signal_step_signal_id'), ['signal_id'], unique=False)

    op.create_table('group_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('province', sa.String(length=50), nullable=True),
    sa.Column('city', sa.String(length=50), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('known_on', sa.Date(), nullable=False),
    sa.Column('investigation_due_on', sa.Date(), nullable=False),
    sa.Column('outbox_mail_id', sa.Integer(), nullable=True),
    sa.Column('reported_at', sa.DateTime(), nullable=True),
    sa.Column('reported_how', sa.String(length=100), nullable=True),
    sa.Column('reported_to', sa.String(length=200), nullable=True),
    sa.Column('reported_by', sa.String(length=254), nullable=True),
    sa.Column('investigation_done_on', sa.Date(), nullable=True),
    sa.Column('investigation_findings', sa.String(length=5000), nullable=True),
    sa.Column('actions_taken', sa.String(length=5000), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('closed_by', sa.String(length=254), nullable=True),
    sa.Column('close_note', sa.String(length=2000), nullable=True),
    sa.ForeignKeyConstraint(['outbox_mail_id'], ['outbox_mail.id'], name=op.f('fk_group_event_outbox_mail_id_outbox_mail')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_group_event_product_id_product')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_event'))
    )
    with op.batch_alter_table('group_event', schema=None) as batch_op:
        batch_op.create_index('ix_group_event_open', ['closed_at', 'investigation_due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_group_event_product_id'), ['product_id'], unique=False)

    op.create_table('group_event_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_event_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('added_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['safety_case.id'], name=op.f('fk_group_event_case_case_id_safety_case')),
    sa.ForeignKeyConstraint(['group_event_id'], ['group_event.id'], name=op.f('fk_group_event_case_group_event_id_group_event')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_event_case')),
    sa.UniqueConstraint('group_event_id', 'case_id', name=op.f('uq_group_event_case_group_event_id'))
    )
    with op.batch_alter_table('group_event_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_event_case_case_id'), ['case_id'], unique=False)

    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.add_column(sa.Column('listed_pt_codes', sa.JSON(), server_default='{}', nullable=False))



def downgrade():
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.drop_column('listed_pt_codes')

    with op.batch_alter_table('group_event_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_event_case_case_id'))

    op.drop_table('group_event_case')
    with op.batch_alter_table('group_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_event_product_id'))
        batch_op.drop_index('ix_group_event_open')

    op.drop_table('group_event')
    with op.batch_alter_table('signal_step', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signal_step_signal_id'))

    op.drop_table('signal_step')
    with op.batch_alter_table('signal_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signal_case_case_id'))

    op.drop_table('signal_case')
    with op.batch_alter_table('signal_action', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signal_action_signal_id'))

    op.drop_table('signal_action')
    with op.batch_alter_table('safety_signal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_safety_signal_status'))
        batch_op.drop_index('ix_safety_signal_pair')

    op.drop_table('safety_signal')
    with op.batch_alter_table('signal_figure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signal_figure_product_id'))

    op.drop_table('signal_figure')
    op.drop_table('product_exposure')
    op.drop_table('signal_run')
    op.drop_table('designated_medical_event')
