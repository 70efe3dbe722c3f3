"""Migration 0020: source documents, the safety inbox and a literature report's citation. Every
row is kept; the new tables hold files byte for byte; a downgrade takes them away."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime

import sqlalchemy as sa

from adr.extensions import db
from tests import test_migration_cases
from tests.test_migration_cases import fill_0008, upgrade, verify_chain
from tests.test_migration_follow_up_links import downgrade
from tests.test_migration_holder_form import snapshot as holder_snapshot

app = test_migration_cases.app  # a fixture: an app on an empty database, no schema yet
pytestmark = test_migration_cases.pytestmark  # the test makes the schema

CITATION = {
    "literature_authors", "literature_title", "literature_journal", "literature_year",
    "literature_volume", "literature_pages", "literature_doi",
}  # fmt: skip
NEW_TABLES = {"source_document", "inbox_message"}


def snapshot() -> dict[str, list[tuple[object, ...]]]:
    """Every row of the tables 0019 holds, with the columns 0019 has."""
    rows = holder_snapshot()
    columns = [c["name"] for c in sa.inspect(db.engine).get_columns("report")]
    kept = [i for i, name in enumerate(columns) if name not in CITATION]
    query = sa.text(f"SELECT {', '.join(columns)} FROM report ORDER BY id")  # noqa: S608
    rows["report"] = [tuple(row[i] for i in kept) for row in db.session.execute(query)]
    return rows


def test_the_upgrade_keeps_every_row_and_stores_files_byte_for_byte(app):
    upgrade(app, "0008")
    fill_0008(app)
    upgrade(app, "0019")
    with app.app_context():
        before = snapshot()
        assert before["report"] and before["drug"]
    upgrade(app, "0020")
    with app.app_context():
        assert snapshot() == before
        citations = db.session.execute(sa.text("SELECT literature_title FROM report")).all()
        assert {title for (title,) in citations} == {None}
        case_id = db.session.execute(sa.text("SELECT min(id) FROM safety_case")).scalar_one()
        data = os.urandom(3 * 1024 * 1024) + b"\x00\xff"  # every byte value, larger than a page
        now = datetime.now(UTC).replace(tzinfo=None)
        document = sa.table(
            "source_document", *(sa.column(name) for name in (
                "id", "case_id", "origin", "filename", "content_type", "size", "sha256", "data",
                "added_at",
            ))
        )  # fmt: skip
        db.session.execute(
            sa.insert(document).values(
                id=1, case_id=case_id, origin="upload", filename="信函.pdf",
                content_type="application/pdf", size=len(data),
                sha256=hashlib.sha256(data).hexdigest(), data=data, added_at=now,
            )
        )  # fmt: skip
        db.session.execute(
            sa.text(
                "INSERT INTO inbox_message (id, message_id, sha256, document_id, folder,"
                " received_at, fetched_at, sender, subject, size, too_large)"
                " VALUES (1, '<a@b>', :sha, 1, 'INBOX', :now, :now, 'a@b', '报告', 5, :no)"
            ),
            {"sha": "0" * 64, "now": now, "no": False},
        )
        db.session.execute(sa.text("UPDATE report SET literature_year = 2024"))
        db.session.commit()
        stored = db.session.execute(sa.text("SELECT data FROM source_document")).scalar_one()
        assert bytes(stored) == data
    verify_chain(app)
    downgrade(app, "0019")
    with app.app_context():
        assert snapshot() == before
        inspector = sa.inspect(db.engine)
        assert not NEW_TABLES & set(inspector.get_table_names())
        assert not CITATION & {c["name"] for c in inspector.get_columns("report")}
    upgrade(app)  # and up again: empty new tables
    with app.app_context():
        count = db.session.execute(sa.text("SELECT count(*) FROM source_document")).scalar_one()
        assert count == 0
