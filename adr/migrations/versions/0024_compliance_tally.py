"""The compliance figures' tally: reports by deadline, day 0, category and how they stand, kept
by triggers on `report` so that every path that writes a report keeps it, in its transaction.

The table is filled from the reports in one grouped INSERT; the triggers follow. A report counts
in the row of its deadline (when it has one), day 0, category and outcome: `on_time` or `late`
when sent (the date sent against the China date of the deadline: China keeps UTC+8 all year,
as `regulatory.CHINA` does since 1991), `open` when not. Each change is an upsert of +1 or -1,
so a report with a deadline and no day 0 (a NULL no unique key matches) gets rows of its own
whose sums still hold. A SQLite migration that rebuilds `report` (batch mode) drops its
triggers: such a migration must create them again (`create_triggers`).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

COLUMNS = 'due_at, report_category, outcome, day_zero'
# What changes a report's row of the tally.
WATCHED = ('due_at', 'day_zero', 'report_category', 'submitted_to_regulator_on')


def outcome(row: str, dialect: str) -> str:
    """Return the SQL judging a report (`row`: NEW, OLD or report) sent on time, late, or open."""
    sent = f'{row}.submitted_to_regulator_on'
    if dialect == 'sqlite':  # whole seconds: SQLite rounds 23:59:59.999999 up to the next day
        due_day = f"date(substr({row}.due_at, 1, 19), '+8 hours')"
    else:
        due_day = f"CAST({row}.due_at + INTERVAL '8 hours' AS DATE)"
    return (
        f"CASE WHEN {sent} IS NULL THEN 'open' WHEN {sent} <= {due_day} THEN 'on_time'"
        " ELSE 'late' END"
    )


def upsert(row: str, step: int, dialect: str) -> str:
    """Return the statement adding `step` (1 or -1) for the report `row` (NEW or OLD)."""
    values = f"{row}.due_at, {row}.report_category, {outcome(row, dialect)}, {row}.day_zero"
    return (
        f'INSERT INTO compliance_tally ({COLUMNS}, reports) SELECT {values}, {step}'
        f' WHERE {row}.due_at IS NOT NULL ON CONFLICT ({COLUMNS})'
        ' DO UPDATE SET reports = compliance_tally.reports + excluded.reports'
    )


def create_triggers() -> None:
    """Create the triggers on `report` that keep the tally."""
    dialect = op.get_bind().dialect.name
    watched = ', '.join(WATCHED)
    if dialect == 'sqlite':
        changed = ' OR '.join(f'OLD.{c} IS NOT NEW.{c}' for c in WATCHED)
        statements = [
            'CREATE TRIGGER report_tally_insert AFTER INSERT ON report'
            f" BEGIN {upsert('NEW', 1, dialect)}; END",
            'CREATE TRIGGER report_tally_delete AFTER DELETE ON report'
            f" BEGIN {upsert('OLD', -1, dialect)}; END",
            f'CREATE TRIGGER report_tally_update AFTER UPDATE OF {watched} ON report'
            f" WHEN {changed} BEGIN {upsert('OLD', -1, dialect)}; {upsert('NEW', 1, dialect)}; END",
        ]
    else:
        changed = ' OR '.join(f'OLD.{c} IS DISTINCT FROM NEW.{c}' for c in WATCHED)
        statements = [
            "CREATE OR REPLACE FUNCTION report_tally() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN"
            f" IF TG_OP <> 'INSERT' THEN {upsert('OLD', -1, dialect)}; END IF;"
            f" IF TG_OP <> 'DELETE' THEN {upsert('NEW', 1, dialect)}; END IF;"
            ' RETURN NULL;'
            ' END $$',
            # Deferred to the commit: a row of the tally is shared by the reports of a day and
            # category, and its lock is then held for the commit only, not for the rest of each
            # report's transaction (two intakes would wait for each other from their insert on).
            'CREATE CONSTRAINT TRIGGER report_tally AFTER INSERT OR DELETE ON report'
            ' DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION report_tally()',
            f'CREATE CONSTRAINT TRIGGER report_tally_update AFTER UPDATE OF {watched} ON report'
            ' DEFERRABLE INITIALLY DEFERRED'
            f' FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION report_tally()',
        ]
    for statement in statements:
        op.execute(statement)


def upgrade():
    op.create_table('compliance_tally',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=False),
    sa.Column('report_category', sa.String(length=12), nullable=False),
    sa.Column('outcome', sa.String(length=8), nullable=False),
    sa.Column('day_zero', sa.Date(), nullable=True),
    sa.Column('reports', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_compliance_tally')),
    sa.UniqueConstraint('due_at', 'report_category', 'outcome', 'day_zero', name=op.f('uq_compliance_tally_due_at'))
    )
    judged = outcome('report', op.get_bind().dialect.name)
    op.execute(
        f'INSERT INTO compliance_tally ({COLUMNS}, reports)'
        f' SELECT due_at, report_category, {judged}, day_zero, count(*) FROM report'
        f' WHERE due_at IS NOT NULL GROUP BY due_at, report_category, {judged}, day_zero'
    )
    create_triggers()


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        for name in ('report_tally_insert', 'report_tally_delete', 'report_tally_update'):
            op.execute(f'DROP TRIGGER {name}')
    else:
        op.execute('DROP TRIGGER report_tally ON report')
        op.execute('DROP TRIGGER report_tally_update ON report')
        op.execute('DROP FUNCTION report_tally()')
    op.drop_table('compliance_tally')
