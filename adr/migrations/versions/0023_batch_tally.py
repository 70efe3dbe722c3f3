"""The batch tally: each case that counts for a batch of a product (batch_case), each batch's
counts ever and in the alert window (batch_tally), and the window's first day (batch_window);
and the register's batch numbers with up to two characters left out (batch_variant), which find
the batches a mistyped number may have meant.

Filled from the reports' suspect drugs by two INSERT ... SELECT; the window is counted by the
first page that reads it (batch_window's one row starts with no day).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

FILL_CASES = """
INSERT INTO batch_case (product_id, batch_number, case_id, known_on, serious, death)
SELECT drug.product_id, drug.batch_number, report.case_id, max(report.aware_on),
       safety_case.serious, safety_case.death
FROM report
JOIN drug ON drug.report_id = report.id
JOIN safety_case ON safety_case.id = report.case_id
WHERE drug.role = 'suspect' AND drug.product_id IS NOT NULL AND drug.batch_number IS NOT NULL
  AND safety_case.status NOT IN ('invalid', 'duplicate')
GROUP BY drug.product_id, drug.batch_number, report.case_id, safety_case.serious,
         safety_case.death
"""
FILL_TALLY = """
INSERT INTO batch_tally (product_id, batch_number, cases, serious, deaths, last_known_on,
                         window_cases, window_serious, window_deaths, window_last_known_on)
SELECT product_id, batch_number, count(*), sum(CASE WHEN serious THEN 1 ELSE 0 END),
       sum(CASE WHEN death THEN 1 ELSE 0 END), max(known_on), 0, 0, 0, NULL
FROM batch_case
GROUP BY product_id, batch_number
"""


FILL_VARIANTS = """
WITH RECURSIVE positions(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM positions WHERE i < 35)
INSERT INTO batch_variant (product_id, variant, batch_id)
SELECT product_id, batch_number, id FROM batch
UNION
SELECT product_id, substr(batch_number, 1, first.i - 1) || substr(batch_number, first.i + 1), id
FROM batch JOIN positions AS first ON first.i <= length(batch_number)
UNION
SELECT product_id, substr(batch_number, 1, first.i - 1)
       || substr(batch_number, first.i + 1, second.i - first.i - 1)
       || substr(batch_number, second.i + 1), id
FROM batch JOIN positions AS first ON first.i <= length(batch_number)
JOIN positions AS second ON second.i > first.i AND second.i <= length(batch_number)
"""


def upgrade():
    op.create_table('batch_case',
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('batch_number', sa.String(length=35), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('known_on', sa.Date(), nullable=False),
    sa.Column('serious', sa.Boolean(), nullable=False),
    sa.Column('death', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['safety_case.id'], name=op.f('fk_batch_case_case_id_safety_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_batch_case_product_id_product')),
    sa.PrimaryKeyConstraint('product_id', 'batch_number', 'case_id', name=op.f('pk_batch_case'))
    )
    op.create_table('batch_tally',
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('batch_number', sa.String(length=35), nullable=False),
    sa.Column('cases', sa.Integer(), nullable=False),
    sa.Column('serious', sa.Integer(), nullable=False),
    sa.Column('deaths', sa.Integer(), nullable=False),
    sa.Column('last_known_on', sa.Date(), nullable=False),
    sa.Column('window_cases', sa.Integer(), nullable=False),
    sa.Column('window_serious', sa.Integer(), nullable=False),
    sa.Column('window_deaths', sa.Integer(), nullable=False),
    sa.Column('window_last_known_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_batch_tally_product_id_product')),
    sa.PrimaryKeyConstraint('product_id', 'batch_number', name=op.f('pk_batch_tally'))
    )
    op.create_table('batch_window',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('since', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_batch_window'))
    )
    op.create_table('batch_variant',
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('variant', sa.String(length=35), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['batch.id'], name=op.f('fk_batch_variant_batch_id_batch'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_batch_variant_product_id_product')),
    sa.PrimaryKeyConstraint('product_id', 'variant', 'batch_id', name=op.f('pk_batch_variant'))
    )
    op.execute(FILL_VARIANTS)
    op.create_index('ix_batch_variant_batch_id', 'batch_variant', ['batch_id'], unique=False)
    op.execute("INSERT INTO batch_window (id, since) VALUES (1, NULL)")
    op.execute(FILL_CASES)
    op.execute(FILL_TALLY)
    op.create_index('ix_batch_case_case_id', 'batch_case', ['case_id'], unique=False)
    op.create_index('ix_batch_case_known_on', 'batch_case', ['known_on'], unique=False)
    op.create_index('ix_batch_tally_ranked', 'batch_tally', ['cases', 'last_known_on', 'batch_number'], unique=False)
    op.create_index('ix_batch_tally_window', 'batch_tally', ['window_cases', 'window_last_known_on', 'batch_number'], unique=False)


def downgrade():
    op.drop_table('batch_variant')
    op.drop_table('batch_window')
    op.drop_table('batch_tally')
    op.drop_table('batch_case')
