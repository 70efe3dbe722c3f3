"""The company's products and batch register, and what intake and review derive from them.

A drug of a report may be matched to one of the company's products; a case keeps the
expectedness its reaction suggests against the product's label beside the staff's decision;
batch alerts record each mail sent for a batch that many reports name. Reports received
before have no product: nothing is matched for them here.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('product',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('generic_name', sa.String(length=200), nullable=False),
    sa.Column('brand_name', sa.String(length=200), nullable=True),
    sa.Column('approval_number', sa.String(length=35), nullable=False),
    sa.Column('manufacturer', sa.String(length=200), nullable=False),
    sa.Column('listed_reactions', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product')),
    sa.UniqueConstraint('approval_number', name=op.f('uq_product_approval_number'))
    )
    op.create_table('batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('batch_number', sa.String(length=35), nullable=False),
    sa.Column('manufactured_on', sa.Date(), nullable=True),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_batch_product_id_product')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_batch')),
    sa.UniqueConstraint('product_id', 'batch_number', name=op.f('uq_batch_product_id'))
    )
    with op.batch_alter_table('batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_batch_batch_number'), ['batch_number'], unique=False)

    op.create_table('batch_alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('batch_number', sa.String(length=35), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('outbox_mail_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['outbox_mail_id'], ['outbox_mail.id'], name=op.f('fk_batch_alert_outbox_mail_id_outbox_mail')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_batch_alert_product_id_product')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_batch_alert')),
    sa.UniqueConstraint('product_id', 'batch_number', 'level', name=op.f('uq_batch_alert_product_id'))
    )
    with op.batch_alter_table('drug', schema=None) as batch_op:
        batch_op.add_column(sa.Column('product_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_drug_product_id'), ['product_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_drug_product_id_product'), 'product', ['product_id'], ['id'])

    with op.batch_alter_table('safety_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suggested_expectedness', sa.String(length=24), nullable=True))



def downgrade():
    with op.batch_alter_table('safety_case', schema=None) as batch_op:
        batch_op.drop_column('suggested_expectedness')

    with op.batch_alter_table('drug', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_drug_product_id_product'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_drug_product_id'))
        batch_op.drop_column('product_id')

    op.drop_table('batch_alert')
    with op.batch_alter_table('batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_batch_batch_number'))

    op.drop_table('batch')
    op.drop_table('product')
