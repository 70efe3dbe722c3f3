"""The audit trail: one chain under concurrency, keyed hashes, checkpoints off the database."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from adr import accounts, audit, meddra
from adr.extensions import db
from adr.models import AuditEntry, write_transaction


def append(app, count: int, actor: str = "reviewer@tianning.example") -> None:
    with app.app_context():
        for number in range(count):
            with write_transaction() as session:
                audit.record(session, actor, "case viewed", field=str(number))


def verify(runner):
    return runner.invoke(args=["audit", "verify"])


def test_concurrent_writers_keep_one_unbroken_chain(app, runner):
    """Eight writers at once: every append waits for the one before, so the chain never forks."""
    writers = [
        threading.Thread(target=append, args=(app, 15, f"writer{number}@tianning.example"))
        for number in range(8)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    result = verify(runner)
    assert result.exit_code == 0, result.output
    assert "120 entries" in result.output
    with app.app_context():
        parents = db.session.scalars(sa.select(AuditEntry.prev_hash)).all()
        assert len(set(parents)) == 120  # no two entries share a parent


def test_entries_join_the_chain_at_commit_in_their_order_and_a_rollback_keeps_none(app, runner):
    with app.app_context():
        with pytest.raises(RuntimeError), write_transaction() as session:
            audit.record(session, "reviewer@tianning.example", "case viewed", field="undone")
            raise RuntimeError
        with write_transaction() as session:
            for number in range(3):
                audit.record(session, "reviewer@tianning.example", "case viewed", field=str(number))
            assert not db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
        fields = db.session.scalars(sa.select(AuditEntry.field).order_by(AuditEntry.id)).all()
        assert fields == ["0", "1", "2"]
    assert verify(runner).exit_code == 0


def read_own_trail(session, reads: str | None) -> None:
    """Read, as the app does, the trail a transaction is writing: its entries count unchained."""
    if reads == "listed coding":  # a product saved or a MedDRA release imported
        audit.record(session, "first@tianning.example", meddra.LISTED_ACTION, field="#1 皮疹")
        assert meddra.listed_coders(session, 1) == {"#1 皮疹": "first@tianning.example"}
    elif reads == "failed sign-in":  # the third failure alerts
        for _ in range(3):
            audit.record(session, "first@tianning.example", "login failed")
        accounts.alert_on_repeated_failures(session, "first@tianning.example")
        assert [entry.action for entry in audit.pending(session)][-1] == "login alert"


@pytest.mark.postgresql_only
@pytest.mark.parametrize("reads", [None, "listed coding", "failed sign-in"])
def test_a_transaction_still_working_does_not_hold_the_chain(app, runner, reads):
    """A report's transaction records its entry early and goes on working; another writer's
    entry meanwhile is not kept waiting for it (the chain is locked from the commit on), and the
    first one's entry follows it in the chain. So does one that reads the trail it writes: the
    chain is the last lock a transaction takes (held earlier, a transaction holding products
    and waiting for the chain could wait for one waiting for those products)."""
    recorded, other_committed = threading.Event(), threading.Event()
    app.config["LOGIN_ALERT_THRESHOLD"] = 3

    def first() -> None:
        with app.app_context(), write_transaction() as session:
            audit.record(session, "first@tianning.example", "case viewed")
            read_own_trail(session, reads)
            recorded.set()
            other_committed.wait(30)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert recorded.wait(30)
        with app.app_context(), write_transaction() as session:
            session.execute(sa.text("SET LOCAL lock_timeout = '5s'"))  # waiting would fail
            audit.record(session, "second@tianning.example", "case viewed")
    finally:
        other_committed.set()
        thread.join()
    with app.app_context():
        actors = db.session.scalars(sa.select(AuditEntry.actor).order_by(AuditEntry.id)).all()
        assert actors[0] == "second@tianning.example"
        assert set(actors[1:]) == {"first@tianning.example"}
    assert verify(runner).exit_code == 0


def test_an_edit_with_recomputed_hashes_is_found_without_the_key(app, runner):
    """Someone with write access to the database, but not the key, rewrites a row and the chain."""
    append(app, 5)
    with app.app_context():
        entries = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).all()
        entries[2].actor = "someone else"
        previous = audit.GENESIS
        for entry in entries:  # recompute every hash as the old unkeyed chain did
            entry.prev_hash = previous
            content = [entry.prev_hash, entry.at.astimezone(UTC).isoformat(), entry.actor,
                       entry.action, entry.report_id, entry.field, entry.old_value,
                       entry.new_value]  # fmt: skip
            entry.hash = hashlib.sha256(
                json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()
            ).hexdigest()
            previous = entry.hash
        db.session.commit()
        first = entries[0].id
    result = verify(runner)
    assert result.exit_code == 1
    assert f"audit entry {first} " in result.output and "edited" in result.output


def test_the_chain_is_keyed_by_the_audit_key(tmp_path, monkeypatch):
    """The same trail read with another key does not verify: the key is what proves it."""
    from adr import create_app
    from tests.conftest import app_config

    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    writer = create_app(app_config(tmp_path, AUDIT_KEY="the deployment's audit key"))
    append(writer, 3)
    assert verify(writer.test_cli_runner()).exit_code == 0
    reader = create_app(app_config(tmp_path, AUDIT_KEY="another key"))
    result = verify(reader.test_cli_runner())
    assert result.exit_code == 1 and "edited" in result.output
    for app in (writer, reader):
        with app.app_context():
            db.engine.dispose()


def test_removing_the_last_entries_is_found_after_a_checkpoint(app, runner):
    append(app, 6)
    checkpoint = runner.invoke(args=["audit", "checkpoint"])
    assert checkpoint.exit_code == 0 and "6 entries" in checkpoint.output
    assert verify(runner).exit_code == 0
    assert "1 checkpoints matched" in verify(runner).output
    append(app, 2)  # entries after the checkpoint are fine
    assert verify(runner).exit_code == 0
    with app.app_context():
        last_six = sa.select(AuditEntry.id).order_by(AuditEntry.id).limit(6).subquery()
        tail = db.session.scalars(sa.select(AuditEntry.id).order_by(AuditEntry.id.desc())).all()
        db.session.execute(sa.delete(AuditEntry).where(AuditEntry.id.in_(tail[:3])))
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(last_six)) == 5
    result = verify(runner)
    assert result.exit_code == 1
    assert "is missing: entries were removed" in result.output


def test_emptying_the_trail_is_found_after_a_checkpoint(app, runner):
    append(app, 3)
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    with app.app_context():
        db.session.execute(sa.delete(AuditEntry))
        db.session.commit()
    result = verify(runner)
    assert result.exit_code == 1 and "entries were removed" in result.output


def test_a_checkpoint_file_is_append_only_signed_and_private(app, runner):
    append(app, 2)
    runner.invoke(args=["audit", "checkpoint"])
    append(app, 1)
    runner.invoke(args=["audit", "checkpoint"])
    with app.app_context():
        path = audit.checkpoint_path()
    lines = path.read_text().splitlines()
    assert [json.loads(line)["count"] for line in lines] == [2, 3]
    assert path.stat().st_mode & 0o077 == 0
    forged = json.loads(lines[1]) | {"count": 2}
    path.write_text(lines[0] + "\n" + json.dumps(forged) + "\n")
    result = verify(runner)
    assert result.exit_code == 1 and "checkpoint line 2" in result.output


def test_verify_lists_every_break_not_only_the_first(app, runner):
    append(app, 6)
    with app.app_context():
        ids = db.session.scalars(sa.select(AuditEntry.id).order_by(AuditEntry.id)).all()
        for victim in (ids[1], ids[4]):
            db.session.execute(
                sa.update(AuditEntry).where(AuditEntry.id == victim).values(new_value="changed")
            )
        db.session.commit()
    result = verify(runner)
    assert result.exit_code == 1
    assert f"audit entry {ids[1]} " in result.output and f"audit entry {ids[4]} " in result.output


@pytest.mark.parametrize("broken", [False, True])
def test_the_upgrade_re_signs_an_intact_old_chain_and_refuses_a_broken_one(app, runner, broken):
    """A database from before the keyed hash keeps its trail, now keyed; a changed one stops."""
    with app.app_context():
        db.drop_all()
        db.session.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
    assert runner.invoke(args=["db", "upgrade", "0006"]).exit_code == 0
    with app.app_context():
        previous = audit.GENESIS
        for number in range(1, 4):
            content = [previous, f"2026-11-0{number}T02:00:00+00:00", "old@tianning.example",
                       "login", None, None, None, None]  # fmt: skip
            digest = hashlib.sha256(
                json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()
            ).hexdigest()
            db.session.execute(
                sa.insert(AuditEntry.__table__).values(
                    id=number, at=datetime(2026, 11, number, 2, tzinfo=UTC),
                    actor="old@tianning.example", action="login", prev_hash=previous,
                    hash=digest,
                )
            )  # fmt: skip
            previous = digest
        if broken:
            db.session.execute(
                sa.update(AuditEntry.__table__).where(AuditEntry.id == 2).values(actor="x")
            )
        db.session.commit()
    upgraded = runner.invoke(args=["db", "upgrade"])
    if broken:
        assert upgraded.exit_code != 0
        assert "audit entry 2 was changed" in upgraded.output, upgraded.output
        return
    assert upgraded.exit_code == 0, upgraded.output
    result = verify(runner)
    assert result.exit_code == 0 and "3 entries" in result.output, result.output
