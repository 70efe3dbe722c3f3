"""Periodic figures: a year's cases per month by product, as last computed, with when, by whom
and the newest report then, for the periodic page and its chart.

Nothing existing changes: the tables start empty (`adr periodic figures`, or the page's
"Compute them now", fills them).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('periodic_figures',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.Column('computed_by', sa.String(length=254), nullable=False),
    sa.Column('newest_report_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_periodic_figures'))
    )
    op.create_table('periodic_month',
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('cases', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_periodic_month_product_id_product')),
    sa.ForeignKeyConstraint(['year'], ['periodic_figures.year'], name=op.f('fk_periodic_month_year_periodic_figures'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('year', 'product_id', 'month', name=op.f('pk_periodic_month'))
    )


def downgrade():
    op.drop_table('periodic_month')
    op.drop_table('periodic_figures')
