"""Migration 0018: products get an English name and aliases, empty; every row is kept, and a
downgrade takes both columns away."""

from __future__ import annotations

import json

import sqlalchemy as sa

from adr.extensions import db
from tests import test_migration_cases
from tests.test_migration_cases import fill_0008, upgrade, verify_chain
from tests.test_migration_follow_up_links import downgrade

app = test_migration_cases.app  # a fixture: an app on an empty database, no schema yet
pytestmark = test_migration_cases.pytestmark  # the test makes the schema

KEPT = ("product", "batch", "safety_case", "report", "drug", "audit_entry")
NEW_COLUMNS = ("english_name", "aliases")


def snapshot() -> dict[str, list[tuple[object, ...]]]:
    """Every row of the tables 0017 holds products and reports in; the columns 0017 has."""
    tables = sa.MetaData()
    tables.reflect(db.engine, only=KEPT)
    result = {}
    for name, table in tables.tables.items():
        columns = [c for c in table.c if c.name not in NEW_COLUMNS]
        query = sa.select(*columns).order_by(table.c.id)
        result[name] = [tuple(row) for row in db.session.execute(query)]
    return result


def fill_products() -> None:
    """Two products, a batch of each, and every drug linked to the first."""
    columns = ("id", "generic_name", "brand_name", "approval_number", "manufacturer")
    product = sa.table("product", *map(sa.column, (*columns, "listed_reactions")))
    db.session.execute(
        sa.insert(product),
        [
            {
                "id": 1,
                "generic_name": "阿莫西林胶囊",
                "brand_name": "天宁",
                "approval_number": "国药准字H61020123",
                "manufacturer": "天宁",
                "listed_reactions": json.dumps(["皮疹"]),
            },
            {
                "id": 2,
                "generic_name": "板蓝根颗粒",
                "brand_name": None,
                "approval_number": "国药准字Z61021234",
                "manufacturer": "天宁",
                "listed_reactions": "[]",
            },
        ],
    )
    batch = sa.table("batch", *map(sa.column, ("product_id", "batch_number", "expires_on")))
    db.session.execute(
        sa.insert(batch),
        [
            {"product_id": 1, "batch_number": "20260315A", "expires_on": None},
            {"product_id": 2, "batch_number": "20260401B", "expires_on": None},
        ],
    )
    db.session.execute(sa.text("UPDATE drug SET product_id = 1"))
    if db.engine.dialect.name == "postgresql":  # ids given: move the sequence past them
        db.session.execute(sa.text("SELECT setval('product_id_seq', 2)"))
    db.session.commit()


def test_the_upgrade_gives_products_no_english_name_and_no_alias_and_keeps_every_row(app):
    upgrade(app, "0008")
    fill_0008(app)
    upgrade(app, "0017")
    with app.app_context():
        fill_products()
        before = snapshot()
        assert before["report"] and before["drug"] and len(before["batch"]) == 2
    upgrade(app, "0018")
    with app.app_context():
        assert snapshot() == before
        names = db.session.execute(
            sa.text("SELECT english_name, aliases FROM product ORDER BY id")
        ).all()
        stored = [(english, json.loads(aliases) if isinstance(aliases, str) else aliases)
                  for english, aliases in names]  # fmt: skip
        assert stored == [(None, []), (None, [])]
        # A product added after the upgrade without aliases gets the empty list too.
        db.session.execute(
            sa.text(
                "INSERT INTO product (generic_name, approval_number, manufacturer,"
                " listed_reactions) VALUES ('甲硝唑片', '国药准字H61020777', '天宁', '[]')"
            )
        )
        db.session.execute(
            sa.text(
                "UPDATE product SET english_name = 'Amoxicillin Capsules',"
                " aliases = '[\"Amoxycillin\"]' WHERE id = 1"
            )
        )
        db.session.commit()
        after = snapshot()
    verify_chain(app)
    downgrade(app, "0017")
    with app.app_context():
        assert snapshot() == after
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("product")}
        assert not columns & set(NEW_COLUMNS)
    upgrade(app)  # and up again
