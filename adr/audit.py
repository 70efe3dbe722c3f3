"""The audit trail: append-only rows, each chained to the one before by a keyed hash (HMAC).

Nothing in the app updates or deletes them. Appends are serialised on every engine, so the
chain never forks. The key lives outside the database, so a row edited in the database and
its hashes recomputed is still found; `checkpoint` writes the chain head, signed, to an
append-only file, so rows removed from the end before that checkpoint are found too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from adr.models import AuditEntry, advisory_lock, transaction_notes

PUBLIC_FORM = "public form"
GENESIS = "0" * 64
CHAIN_LOCK = 0x41445241  # "ADRA": the advisory lock that serialises appends on PostgreSQL
CHECKPOINT_FILE = "audit-checkpoints.jsonl"
PENDING = "audit_entries"  # transaction_notes: the entries recorded, not yet chained


def chain_key() -> bytes:
    """Return the HMAC key: `AUDIT_KEY`, or one derived from the secret key."""
    configured = current_app.config.get("AUDIT_KEY")
    if configured:
        return str(configured).encode()
    return derived_key(str(current_app.config["SECRET_KEY"]))


@cache
def derived_key(secret: str) -> bytes:
    """Return the key derived from a secret key, computed once: every write chains entries."""
    return hmac.new(secret.encode(), b"adr audit chain", hashlib.sha256).digest()


def entry_hash(entry: AuditEntry, key: bytes) -> str:
    """Return the HMAC over an entry's content and the previous entry's hash."""
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
    return hmac.new(key, encoded, hashlib.sha256).hexdigest()


# Built once, and run on the session's connection: an intake runs them at every commit, where the
# ORM's execution of a statement cost more than the statement (about 50 µs each).
LOCK_CHAIN = sa.select(sa.func.pg_advisory_xact_lock(CHAIN_LOCK))
LAST_HASH = sa.select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
APPEND = sa.insert(AuditEntry)


def lock_chain(session: Session) -> None:
    """Hold the chain until the transaction ends, so that two appends never share a parent."""
    advisory_lock(session, LOCK_CHAIN)


def record(
    session: Session,
    actor: str,
    action: str,
    report_id: int | None = None,
    field: str | None = None,
    old: object = None,
    new: object = None,
) -> None:
    """Add one entry to the trail; call it inside the write transaction of the change it records.

    The entry joins the chain when the transaction commits (`append_pending`), so that the chain
    is held for the commit only, not for the rest of a report's intake; it is stamped then.
    """
    entry = AuditEntry(
        actor=actor,
        action=action,
        report_id=report_id,
        field=field,
        old_value=as_text(old),
        new_value=as_text(new),
    )
    transaction_notes(session).setdefault(PENDING, []).append(entry)
    session.flush()  # the change recorded is stored (and numbered) before what comes next


def pending(session: Session) -> list[AuditEntry]:
    """Return the entries the transaction recorded, not yet chained: code that reads the trail
    in the transaction that writes it counts them from here."""
    return transaction_notes(session).get(PENDING, [])


@sa.event.listens_for(Session, "before_commit")
def append_pending(session: Session) -> None:
    """Chain and store the transaction's entries, in the order they were recorded.

    At the commit only, after the other hooks (the batch tally's product locks): the chain is
    the last lock a transaction takes, so no two transactions wait for each other through it.
    """
    entries = transaction_notes(session).pop(PENDING, None)
    if not entries:
        return
    lock_chain(session)
    connection = session.connection()
    last = connection.scalar(LAST_HASH)
    key, at = chain_key(), datetime.now(UTC)
    for entry in entries:
        entry.at, entry.prev_hash = at, last or GENESIS
        entry.hash = last = entry_hash(entry, key)
    # Inserted as rows, in the order recorded (their ids follow it): no unit of work to sort.
    # Each row holds the values set, so a column left unset would take its default.
    columns = [column.key for column in AuditEntry.__table__.columns]
    rows = [
        {name: getattr(entry, name) for name in columns if name in vars(entry)} for entry in entries
    ]
    connection.execute(APPEND, rows)


def record_change(
    session: Session,
    actor: str,
    action: str,
    report_id: int | None,
    field: str,
    old: object,
    new: object,
) -> bool:
    """Append an entry for a field that really changed; return whether it did.

    None, "" and [] all mean "nothing": going from one to another is no change.
    """
    if nothing_as_none(old) == nothing_as_none(new):
        return False
    record(session, actor, action, report_id, field, old, new)
    return True


def nothing_as_none(value: object) -> object:
    return None if value == "" or value == [] else value


def as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def all_entries(session: Session) -> Iterator[AuditEntry]:
    """Yield the whole trail in order, in batches."""
    query = sa.select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000)
    yield from session.scalars(query)


# Checkpoints: the chain head, signed, appended to a file that should also leave the machine.


@dataclass(frozen=True)
class Checkpoint:
    """The chain as it stood: how many entries, the last one's id and hash."""

    at: str
    count: int
    last_id: int
    head: str

    def signature(self, key: bytes) -> str:
        content = f"{self.at}|{self.count}|{self.last_id}|{self.head}".encode()
        return hmac.new(key, content, hashlib.sha256).hexdigest()


def checkpoint_path() -> Path:
    return Path(current_app.instance_path) / CHECKPOINT_FILE


def write_checkpoint(session: Session) -> Checkpoint:
    """Append the current chain head, signed, to the checkpoint file."""
    lock_chain(session)  # no append may slip between the count and the head
    count = session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) or 0
    last = session.execute(
        sa.select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    point = Checkpoint(
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        count=count,
        last_id=last.id if last else 0,
        head=last.hash if last else GENESIS,
    )
    line = json.dumps(point.__dict__ | {"signature": point.signature(chain_key())})
    descriptor = os.open(checkpoint_path(), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a") as file:
        file.write(line + "\n")
        file.flush()
        os.fsync(file.fileno())
    return point


def read_checkpoints() -> tuple[list[Checkpoint], list[str]]:
    """Return the checkpoints whose signature holds, and a problem for each line that does not."""
    path = checkpoint_path()
    if not path.exists():
        return [], []
    key = chain_key()
    good: list[Checkpoint] = []
    problems: list[str] = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        try:
            fields = json.loads(line)
            signature = fields.pop("signature")
            point = Checkpoint(**fields)
        except (ValueError, TypeError, KeyError):
            problems.append(f"checkpoint line {number} cannot be read")
            continue
        if not hmac.compare_digest(point.signature(key), str(signature)):
            problems.append(f"checkpoint line {number} ({point.at}) is not signed by our key")
        else:
            good.append(point)
    return good, problems


# Verification.


@dataclass
class Verification:
    """What `verify` found: entries walked, checkpoints compared, and every problem."""

    entries: int
    checkpoints: int
    problems: list[str] = field(default_factory=list)


def describe(entry: AuditEntry, why: str) -> str:
    return f"audit entry {entry.id} ({entry.at:%Y-%m-%d %H:%M:%S} UTC, {entry.action}): {why}"


def verify(entries: Iterable[AuditEntry], checkpoints: list[Checkpoint]) -> Verification:
    """Walk the chain and compare it with the checkpoints; list every problem found."""
    key = chain_key()
    wanted = {point.last_id: point for point in checkpoints}
    seen: set[int] = set()
    problems: list[str] = []
    previous = GENESIS
    count = 0
    for entry in entries:
        count += 1
        if entry.prev_hash != previous:
            problems.append(
                describe(entry, "does not follow the entry before it (one was removed or inserted)")
            )
        if not hmac.compare_digest(entry_hash(entry, key), entry.hash):
            problems.append(
                describe(entry, "its content no longer matches its hash (it was edited)")
            )
        point = wanted.get(entry.id)
        if point is not None:
            seen.add(entry.id)
            if point.head != entry.hash or point.count != count:
                problems.append(
                    describe(
                        entry,
                        f"differs from the checkpoint of {point.at} "
                        f"({point.count} entries then, {count} now up to it)",
                    )
                )
        previous = entry.hash
    for point in checkpoints:
        if point.last_id and point.last_id not in seen:
            problems.append(
                f"audit entry {point.last_id}, the last of the checkpoint of {point.at} "
                f"({point.count} entries), is missing: entries were removed"
            )
    return Verification(entries=count, checkpoints=len(checkpoints), problems=problems)
