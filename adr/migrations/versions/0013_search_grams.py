"""The search index: each report's characters and pairs of characters (adr.search).

The reports a database already holds are indexed here, a few thousand at a time.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29

"""
from alembic import op
import sqlalchemy as sa

from adr import search
from adr.models import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

CHUNK = 5000
report = sa.table(
    'report',
    sa.column('id', sa.Integer),
    sa.column('received_at', UTCDateTime),
    sa.column('patient_name', sa.String),
    sa.column('reporter_name', sa.String),
    sa.column('event_name', sa.String),
)
drug = sa.table(
    'drug',
    sa.column('report_id', sa.Integer),
    sa.column('generic_name', sa.String),
    sa.column('brand_name', sa.String),
)


def upgrade():
    op.create_table('search_gram',
    sa.Column('gram', sa.String(length=2), nullable=False),
    sa.Column('received_key', sa.BigInteger(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_search_gram_report_id_report')),
    sa.PrimaryKeyConstraint('gram', 'received_key', 'report_id', name=op.f('pk_search_gram')),
    sqlite_with_rowid=False
    )
    connection = op.get_bind()
    last = 0
    while True:
        reports = connection.execute(
            sa.select(report).where(report.c.id > last).order_by(report.c.id).limit(CHUNK)
        ).all()
        if not reports:
            break
        last = reports[-1].id
        names = {}
        for row in connection.execute(
            sa.select(drug).where(drug.c.report_id.in_([row.id for row in reports]))
        ):
            names.setdefault(row.report_id, []).extend((row.generic_name, row.brand_name))
        rows = [
            gram
            for row in reports
            for gram in search.index_rows(
                row.id,
                row.received_at,
                [row.patient_name, row.reporter_name, row.event_name, *names.get(row.id, [])],
            )
        ]
        search.insert_rows(connection, rows)


def downgrade():
    op.drop_table('search_gram')
