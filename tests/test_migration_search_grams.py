"""Migration 0013: the search index is built for the reports a database already holds."""

from __future__ import annotations

import sqlalchemy as sa

from adr.extensions import db
from adr.models import SearchGram
from adr.review.queries import Filters
from tests import test_migration_cases
from tests.test_migration_cases import fill_0008, upgrade
from tests.test_migration_follow_up_links import downgrade, snapshot
from tests.test_search import found, scanned

app = test_migration_cases.app  # a fixture: an app on an empty database, no schema yet
pytestmark = test_migration_cases.pytestmark  # the test makes the schema


def test_the_migration_indexes_the_reports_already_held(app):
    upgrade(app, "0008")
    fill_0008(app)
    upgrade(app, "0012")
    with app.app_context():
        before = snapshot()
    upgrade(app, "0013")
    with app.app_context():
        assert snapshot() == before
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SearchGram)) > 0
        for term in ("刘某", "过敏性休克", "李明", "阿莫西林", "休"):
            expected = scanned(Filters(q=term))
            assert expected and found(Filters(q=term)) == expected, term
    downgrade(app, "0012")
    with app.app_context():
        assert snapshot() == before
        assert not sa.inspect(db.engine).has_table("search_gram")
