"""The audit trail: append-only rows, each chained to the one before by a SHA-256 hash.

Nothing in the app updates or deletes them; `adr audit verify` walks the chain, so an
edit made in the database behind the app's back is found.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from adr.models import AuditEntry

PUBLIC_FORM = "public form"
GENESIS = "0" * 64


def entry_hash(entry: AuditEntry) -> str:
    """Return the hash over an entry's content and the previous entry's hash."""
    content = [
        entry.prev_hash,
        entry.at.astimezone(UTC).isoformat(),
        entry.actor,
        entry.action,
        entry.report_id,
        entry.field,
        entry.old_value,
        entry.new_value,
    ]
    encoded = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def record(
    session: Session,
    actor: str,
    action: str,
    report_id: int | None = None,
    field: str | None = None,
    old: object = None,
    new: object = None,
) -> AuditEntry:
    """Append one entry; call it inside the write transaction of the change it records."""
    last = session.scalar(sa.select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1))
    entry = AuditEntry(
        at=datetime.now(UTC),
        actor=actor,
        action=action,
        report_id=report_id,
        field=field,
        old_value=_text(old),
        new_value=_text(new),
        prev_hash=last or GENESIS,
    )
    entry.hash = entry_hash(entry)
    session.add(entry)
    session.flush()  # the next entry of this transaction chains to this one
    return entry


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def first_broken_link(entries: Iterable[AuditEntry]) -> tuple[AuditEntry, str] | None:
    """Return the first entry whose chain is broken, and why; None when the chain holds."""
    previous = GENESIS
    for entry in entries:
        if entry.prev_hash != previous:
            return entry, "does not follow the entry before it (one was removed or inserted)"
        if entry_hash(entry) != entry.hash:
            return entry, "its content no longer matches its hash (it was edited)"
        previous = entry.hash
    return None


def all_entries(session: Session) -> Iterable[AuditEntry]:
    """Yield the whole trail in order, in batches."""
    query = sa.select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000)
    yield from session.scalars(query)
