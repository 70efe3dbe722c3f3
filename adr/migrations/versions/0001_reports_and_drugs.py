"""Reports and the drugs they name.

Revision ID: 0001
Create Date: 2026-11-29

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=17), nullable=False),
    sa.Column('submission_token', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('follow_up_of_id', sa.Integer(), nullable=True),
    sa.Column('remarks', sa.String(length=2000), nullable=True),
    sa.Column('reporter_kind', sa.String(length=24), nullable=True),
    sa.Column('reporter_organization_type', sa.String(length=24), nullable=True),
    sa.Column('reporter_organization', sa.String(length=60), nullable=True),
    sa.Column('reporter_name', sa.String(length=100), nullable=True),
    sa.Column('reporter_phone', sa.String(length=30), nullable=True),
    sa.Column('reporter_phone_e164', sa.String(length=16), nullable=True),
    sa.Column('reporter_email', sa.String(length=254), nullable=True),
    sa.Column('reporter_consent_contact', sa.Boolean(), nullable=False),
    sa.Column('reporter_consent_privacy', sa.Boolean(), nullable=False),
    sa.Column('patient_name', sa.String(length=60), nullable=True),
    sa.Column('patient_sex', sa.String(length=24), nullable=True),
    sa.Column('patient_birth_date', sa.Date(), nullable=True),
    sa.Column('patient_age', sa.Integer(), nullable=True),
    sa.Column('patient_age_unit', sa.String(length=24), nullable=True),
    sa.Column('patient_ethnicity', sa.String(length=20), nullable=True),
    sa.Column('patient_weight_kg', sa.Double(), nullable=True),
    sa.Column('patient_phone', sa.String(length=30), nullable=True),
    sa.Column('patient_phone_e164', sa.String(length=16), nullable=True),
    sa.Column('patient_disease', sa.String(length=500), nullable=True),
    sa.Column('patient_hospital', sa.String(length=200), nullable=True),
    sa.Column('patient_record_number', sa.String(length=20), nullable=True),
    sa.Column('patient_past_adr', sa.String(length=24), nullable=True),
    sa.Column('patient_past_adr_detail', sa.String(length=500), nullable=True),
    sa.Column('patient_family_adr', sa.String(length=24), nullable=True),
    sa.Column('patient_family_adr_detail', sa.String(length=500), nullable=True),
    sa.Column('patient_history', sa.JSON(), nullable=False),
    sa.Column('patient_history_detail', sa.String(length=500), nullable=True),
    sa.Column('event_name', sa.String(length=250), nullable=True),
    sa.Column('event_onset_date', sa.Date(), nullable=True),
    sa.Column('event_description', sa.String(length=5000), nullable=True),
    sa.Column('event_outcome', sa.String(length=24), nullable=True),
    sa.Column('event_sequelae_detail', sa.String(length=500), nullable=True),
    sa.Column('event_death_cause', sa.String(length=200), nullable=True),
    sa.Column('event_death_date', sa.Date(), nullable=True),
    sa.Column('event_dechallenge', sa.String(length=24), nullable=True),
    sa.Column('event_rechallenge', sa.String(length=24), nullable=True),
    sa.Column('event_disease_impact', sa.String(length=24), nullable=True),
    sa.Column('event_serious', sa.JSON(), nullable=False),
    sa.Column('event_causality', sa.String(length=24), nullable=True),
    sa.Column('serious', sa.Boolean(), nullable=False),
    sa.Column('report_category', sa.String(length=12), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=False),
    sa.Column('valid_case', sa.Boolean(), nullable=False),
    sa.Column('completeness', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['follow_up_of_id'], ['report.id'], name=op.f('fk_report_follow_up_of_id_report')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report')),
    sa.UniqueConstraint('reference', name=op.f('uq_report_reference')),
    sa.UniqueConstraint('submission_token', name=op.f('uq_report_submission_token'))
    )
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_follow_up_of_id'), ['follow_up_of_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_reporter_phone_e164'), ['reporter_phone_e164'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_status'), ['status'], unique=False)

    op.create_table('drug',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=12), nullable=False),
    sa.Column('approval_number', sa.String(length=35), nullable=True),
    sa.Column('brand_name', sa.String(length=200), nullable=True),
    sa.Column('generic_name', sa.String(length=200), nullable=True),
    sa.Column('manufacturer', sa.String(length=200), nullable=True),
    sa.Column('batch_number', sa.String(length=35), nullable=True),
    sa.Column('dose', sa.Double(), nullable=True),
    sa.Column('dose_unit', sa.String(length=24), nullable=True),
    sa.Column('route', sa.String(length=24), nullable=True),
    sa.Column('frequency', sa.String(length=50), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('indication', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_drug_report_id_report'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drug'))
    )
    with op.batch_alter_table('drug', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_drug_batch_number'), ['batch_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_drug_report_id'), ['report_id'], unique=False)



def downgrade():
    with op.batch_alter_table('drug', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_drug_report_id'))
        batch_op.drop_index(batch_op.f('ix_drug_batch_number'))

    op.drop_table('drug')
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_status'))
        batch_op.drop_index(batch_op.f('ix_report_reporter_phone_e164'))
        batch_op.drop_index(batch_op.f('ix_report_received_at'))
        batch_op.drop_index(batch_op.f('ix_report_follow_up_of_id'))
        batch_op.drop_index(batch_op.f('ix_report_due_at'))

    op.drop_table('report')
