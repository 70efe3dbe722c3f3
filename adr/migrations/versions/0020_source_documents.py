"""Source documents and the safety inbox: files kept with cases and reports, each message of the
inbox stored whole with its triage, and a literature report's citation.

Nothing existing changes: the new tables start empty and the citation columns unset.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('source_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('origin', sa.String(length=12), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('added_at', sa.DateTime(), nullable=False),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['added_by_id'], ['staff_user.id'], name=op.f('fk_source_document_added_by_id_staff_user')),
    sa.ForeignKeyConstraint(['case_id'], ['safety_case.id'], name=op.f('fk_source_document_case_id_safety_case')),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_source_document_report_id_report')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source_document'))
    )
    with op.batch_alter_table('source_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_source_document_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_source_document_report_id'), ['report_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_source_document_sha256'), ['sha256'], unique=False)

    op.create_table('inbox_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=250), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('folder', sa.String(length=200), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=True),
    sa.Column('uid', sa.BigInteger(), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('fetched_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('sender', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('too_large', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('attachments', sa.Integer(), nullable=True),
    sa.Column('proposed_case_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=12), nullable=True),
    sa.Column('reason', sa.String(length=24), nullable=True),
    sa.Column('reason_text', sa.String(length=500), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('triaged_at', sa.DateTime(), nullable=True),
    sa.Column('triaged_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['safety_case.id'], name=op.f('fk_inbox_message_case_id_safety_case')),
    sa.ForeignKeyConstraint(['document_id'], ['source_document.id'], name=op.f('fk_inbox_message_document_id_source_document')),
    sa.ForeignKeyConstraint(['proposed_case_id'], ['safety_case.id'], name=op.f('fk_inbox_message_proposed_case_id_safety_case')),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_inbox_message_report_id_report')),
    sa.ForeignKeyConstraint(['triaged_by_id'], ['staff_user.id'], name=op.f('fk_inbox_message_triaged_by_id_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox_message')),
    sa.UniqueConstraint('message_id', name=op.f('uq_inbox_message_message_id')),
    sa.UniqueConstraint('sha256', name=op.f('uq_inbox_message_sha256'))
    )
    with op.batch_alter_table('inbox_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbox_message_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbox_message_received_at'), ['received_at'], unique=False)
        batch_op.create_index('ix_inbox_message_untriaged', ['outcome', 'received_at'], unique=False)

    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.add_column(sa.Column('literature_authors', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('literature_title', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('literature_journal', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('literature_year', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('literature_volume', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('literature_pages', sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column('literature_doi', sa.String(length=200), nullable=True))



def downgrade():
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_column('literature_doi')
        batch_op.drop_column('literature_pages')
        batch_op.drop_column('literature_volume')
        batch_op.drop_column('literature_year')
        batch_op.drop_column('literature_journal')
        batch_op.drop_column('literature_title')
        batch_op.drop_column('literature_authors')

    with op.batch_alter_table('inbox_message', schema=None) as batch_op:
        batch_op.drop_index('ix_inbox_message_untriaged')
        batch_op.drop_index(batch_op.f('ix_inbox_message_received_at'))
        batch_op.drop_index(batch_op.f('ix_inbox_message_case_id'))

    op.drop_table('inbox_message')
    with op.batch_alter_table('source_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_source_document_sha256'))
        batch_op.drop_index(batch_op.f('ix_source_document_report_id'))
        batch_op.drop_index(batch_op.f('ix_source_document_case_id'))

    op.drop_table('source_document')
