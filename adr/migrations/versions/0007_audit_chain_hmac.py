"""Re-sign the audit trail with the keyed hash (HMAC), after checking its plain SHA-256 chain.

An entry that no longer matches its old hash stops the upgrade: re-signing it would hide the
change. Run `adr audit verify` with the previous version to see what was changed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

"""
import hashlib
import json
from datetime import UTC
from types import SimpleNamespace

from alembic import op
import sqlalchemy as sa

from adr import audit
from adr.models import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

BATCH = 1000
COLUMNS = ("prev_hash", "at", "actor", "action", "report_id", "field", "old_value", "new_value")
entries = sa.table(
    "audit_entry",
    sa.column("id", sa.Integer),
    sa.column("at", UTCDateTime),
    *(sa.column(name) for name in COLUMNS if name != "at"),
    sa.column("hash"),
)


def plain_hash(row) -> str:
    content = [row.prev_hash, row.at.astimezone(UTC).isoformat(), *(getattr(row, name) for name in COLUMNS[2:])]
    return hashlib.sha256(json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def upgrade():
    connection = op.get_bind()
    key = audit.chain_key()
    old_previous = new_previous = audit.GENESIS
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(entries).where(entries.c.id > last_id).order_by(entries.c.id).limit(BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            if row.prev_hash != old_previous or plain_hash(row) != row.hash:
                raise RuntimeError(
                    f"audit entry {row.id} was changed or removed before this upgrade; "
                    "it is not re-signed. Find out what happened (adr audit verify on the "
                    "previous version) before upgrading."
                )
            old_previous = row.hash
            signed = SimpleNamespace(**row._asdict())
            signed.prev_hash = new_previous
            new_previous = audit.entry_hash(signed, key)
            connection.execute(
                sa.update(entries)
                .where(entries.c.id == row.id)
                .values(prev_hash=signed.prev_hash, hash=new_previous)
            )
        last_id = rows[-1].id


def downgrade():
    raise RuntimeError("the audit trail cannot go back to unkeyed hashes")
