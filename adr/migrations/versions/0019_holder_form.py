"""The holder's form: related diseases and lab results as rows, pregnancy, autopsy, the country
of the reaction, each drug's dosage form, strength, expiry and action taken, where it happened.

Each case's 原患疾病 (a report's patient_disease) becomes its first related-disease row: each
text its reports give, the first report's first, once; a placeholder (不详, 无) names no disease.
Nothing else is filled in: what the reports did not say stays unknown.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05

"""
from alembic import op
import sqlalchemy as sa

from adr.cases import holder


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('case_drug',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('drug_key', sa.String(length=200), nullable=False),
    sa.Column('dosage_form', sa.String(length=60), nullable=True),
    sa.Column('strength', sa.String(length=60), nullable=True),
    sa.Column('expiry_date', sa.Date(), nullable=True),
    sa.Column('duration_value', sa.Integer(), nullable=True),
    sa.Column('duration_unit', sa.String(length=24), nullable=True),
    sa.Column('action_taken', sa.String(length=24), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['safety_case.id'], name=op.f('fk_case_drug_case_id_safety_case')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_drug')),
    sa.UniqueConstraint('case_id', 'drug_key', name=op.f('uq_case_drug_case_id'))
    )
    with op.batch_alter_table('case_drug', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_drug_case_id'), ['case_id'], unique=False)

    op.create_table('lab_result',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('test_name', sa.String(length=250), nullable=False),
    sa.Column('meddra_version', sa.String(length=10), nullable=True),
    sa.Column('llt_code', sa.Integer(), nullable=True),
    sa.Column('test_date', sa.Date(), nullable=True),
    sa.Column('result_value', sa.Double(), nullable=True),
    sa.Column('result_text', sa.String(length=2000), nullable=True),
    sa.Column('unit', sa.String(length=50), nullable=True),
    sa.Column('normal_low', sa.String(length=50), nullable=True),
    sa.Column('normal_high', sa.String(length=50), nullable=True),
    sa.Column('more_info', sa.String(length=2000), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['safety_case.id'], name=op.f('fk_lab_result_case_id_safety_case')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lab_result'))
    )
    with op.batch_alter_table('lab_result', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lab_result_case_id'), ['case_id'], unique=False)

    op.create_table('case_disease',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('meddra_version', sa.String(length=10), nullable=True),
    sa.Column('llt_code', sa.Integer(), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('continuing', sa.String(length=24), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['safety_case.id'], name=op.f('fk_case_disease_case_id_safety_case')),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_case_disease_report_id_report')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_disease'))
    )
    with op.batch_alter_table('case_disease', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_disease_case_id'), ['case_id'], unique=False)

    with op.batch_alter_table('drug', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expiry_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('dosage_form', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('strength', sa.String(length=60), nullable=True))

    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dosage_form', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('strengths', sa.JSON(), server_default='[]', nullable=False))

    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('patient_pregnant', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('event_province', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('event_city', sa.String(length=50), nullable=True))

    with op.batch_alter_table('safety_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('occurrence_country', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('patient_nationality', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('patient_height_cm', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('autopsy', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('autopsy_findings', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('pregnancy_lmp', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('gestation_exposure_weeks', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('gestation_reaction_weeks', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('pregnancy_outcome', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('pregnancy_detail', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('parent_child', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('parent_initials', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('parent_age_years', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('parent_sex', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('parent_weight_kg', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('parent_height_cm', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('parent_history', sa.String(length=500), nullable=True))

    add_diseases(op.get_bind())


def add_diseases(connection):
    """Give each case a related-disease row for each 原患疾病 its reports give."""
    query = sa.text("SELECT id FROM safety_case ORDER BY id")
    case_ids = [row[0] for row in connection.execute(query)]
    for first in range(0, len(case_ids), 5000):
        holder.insert_reported_diseases(connection, case_ids[first : first + 5000])


def downgrade():
    with op.batch_alter_table('safety_case', schema=None) as batch_op:
        batch_op.drop_column('parent_history')
        batch_op.drop_column('parent_height_cm')
        batch_op.drop_column('parent_weight_kg')
        batch_op.drop_column('parent_sex')
        batch_op.drop_column('parent_age_years')
        batch_op.drop_column('parent_initials')
        batch_op.drop_column('parent_child')
        batch_op.drop_column('pregnancy_detail')
        batch_op.drop_column('pregnancy_outcome')
        batch_op.drop_column('gestation_reaction_weeks')
        batch_op.drop_column('gestation_exposure_weeks')
        batch_op.drop_column('pregnancy_lmp')
        batch_op.drop_column('autopsy_findings')
        batch_op.drop_column('autopsy')
        batch_op.drop_column('patient_height_cm')
        batch_op.drop_column('patient_nationality')
        batch_op.drop_column('occurrence_country')

    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_column('event_city')
        batch_op.drop_column('event_province')
        batch_op.drop_column('patient_pregnant')

    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.drop_column('strengths')
        batch_op.drop_column('dosage_form')

    with op.batch_alter_table('drug', schema=None) as batch_op:
        batch_op.drop_column('strength')
        batch_op.drop_column('dosage_form')
        batch_op.drop_column('expiry_date')

    with op.batch_alter_table('case_disease', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_disease_case_id'))

    op.drop_table('case_disease')
    with op.batch_alter_table('lab_result', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lab_result_case_id'))

    op.drop_table('lab_result')
    with op.batch_alter_table('case_drug', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_drug_case_id'))

    op.drop_table('case_drug')
