"""The staff search: the gram index finds exactly what a substring scan of the reports finds."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from adr import accounts, search
from adr.extensions import db
from adr.models import Drug, Report
from adr.review.queries import Filters, report_query
from tests.conftest import ReportSender, reference_of, valid_report
from tests.test_cases import enter, entered, phone_call
from tests.test_review import PASSWORD, REVIEWER, signed_in

LATIN = {  # Latin text in mixed case, wildcards, and pairs that meet only across two texts
    "patient-name": "Bob",
    "reporter-name": "Li_Wei 100%",
    "event-name": "obi Rash",
    "drugs-0-brand_name": "TianNing",
    "drugs-0-generic_name": "Amoxicillin Capsules",
    "drugs-0-batch_number": "ab-77",
}


def found(filters: Filters) -> list[str]:
    now = datetime.now(UTC)
    return list(db.session.scalars(report_query(filters, now).with_only_columns(Report.reference)))


def scanned(filters: Filters) -> list[str]:
    now = datetime.now(UTC)
    query = report_query(replace(filters, q=""), now).where(search.like_scan(filters.q.strip()))
    return list(db.session.scalars(query.with_only_columns(Report.reference)))


@pytest.fixture
def corpus(app):
    """Demo reports over two months (the later month stored first), and a few typed ones."""
    runner = app.test_cli_runner()
    for month, seed in (("2026-10", 1), ("2026-09", 2)):
        args = ["demo-data", "--reports", "150", "--month", month, "--seed", str(seed)]
        assert runner.invoke(args=args).exit_code == 0
    sender = ReportSender(app.test_client())
    typed = [
        reference_of(sender.send(valid_report() | LATIN)),
        reference_of(sender.send(valid_report())),
    ]
    with app.app_context():
        accounts.create_user(REVIEWER, "审核员", "reviewer", PASSWORD, "test")
    return typed


def terms(app) -> list[str]:
    """Return search terms of every kind, some taken from the corpus."""
    with app.app_context():
        latest = db.session.scalars(sa.select(Report).order_by(Report.id.desc()).limit(40)).all()
        names = [r.patient_name for r in latest if r.patient_name and len(r.patient_name) == 2]
        reference = latest[5].reference
        batch = db.session.scalar(sa.select(Drug.batch_number).where(Drug.batch_number.like("2%")))
    return [
        "皮疹", "王", "天宁", names[0], names[1][1], "阿莫西林胶囊", "、", "疹、瘙痒", "休克",
        "tianning", "TIANNING", "amoxicillin caps", "obi", "bob", "bobi", "li_wei", "100%",
        "%", "_", "%%王", "\\", "  王 ", "没有这种反应", "zzz", "=hyperlink(", "http://",
        reference.lower(), batch.lower(), batch, "AB-77", "ab-7", "20",
    ]  # fmt: skip


def test_a_search_finds_what_a_substring_scan_finds(app, corpus):
    for term in terms(app):
        with app.app_context():
            expected = scanned(Filters(q=term))
            assert found(Filters(q=term)) == expected, term
    with app.app_context():
        assert found(Filters(q="bobi")) == []  # its pairs meet only across two texts
        assert found(Filters(q="tianning")) == [corpus[0]]
        long = "阿莫西林胶囊天宁" * 40  # more pairs than are counted
        assert found(Filters(q=long)) == scanned(Filters(q=long)) == []
        assert found(Filters(q="Amoxicillin Capsules")) == [corpus[0]]


@pytest.mark.parametrize(
    "filters",
    [
        Filters(status="closed"),
        Filters(source="web"),
        Filters(month="2026-09"),
        Filters(serious=True),
        Filters(batch="ab-77"),
    ],
)
def test_a_search_combines_with_the_other_filters(app, corpus, filters):
    for term in ("王", "皮疹", "天宁", "阿莫西林", "没有", "Rash", corpus[1].lower()):
        with app.app_context():
            combined = replace(filters, q=term)
            assert found(combined) == scanned(combined), (term, filters)


def test_a_search_pages_newest_first_and_says_more_than_past_its_limit(app, corpus, monkeypatch):
    monkeypatch.setattr(search, "COUNT_LIMIT", 60)
    with app.app_context():
        everyone = scanned(Filters(q="、"))
    assert len(everyone) > 120
    client = signed_in(app, REVIEWER)
    pages = [client.get(f"/staff/reports?q=、&page={n}").get_data(as_text=True) for n in (1, 2, 3)]
    for number, page in enumerate(pages):
        shown = [ref for ref in everyone if f'href="/staff/reports/{ref}"' in page]
        assert shown == everyone[number * 50 : number * 50 + 50]
        assert f"?page={number + 2}&amp;q=%E3%80%81" in page  # an older page follows
    assert 'id="report-count">(超过 60 份)' in pages[0]
    assert 'id="report-count">(超过 150 份)' in pages[2]  # counted to this page's end
    few = client.get("/staff/reports?q=bob").get_data(as_text=True)
    assert 'id="report-count">(1)' in few


def test_a_report_sent_by_the_form_or_entered_by_staff_is_found(app):
    with app.app_context():
        accounts.create_user(REVIEWER, "审核员", "reviewer", PASSWORD, "test")
    web = reference_of(ReportSender(app.test_client()).send(valid_report()))
    staff = signed_in(app, REVIEWER)
    phoned = entered(enter(staff, phone_call(**{"patient-name": "欧阳", "event-name": "心悸"})))

    def listed(term: str) -> set[str]:
        page = staff.get(f"/staff/reports?q={term}").get_data(as_text=True)
        return {ref for ref in (web, phoned) if f'href="/staff/reports/{ref}"' in page}

    assert listed("张某某") == {web}
    assert listed("瘙") == {web}
    assert listed("欧阳") == {phoned}
    assert listed("心悸") == {phoned}
    assert listed("阿莫西林") == {web, phoned}
    assert listed("ouyang") == set()
