"""Compliance with the deadlines: a hand-built month on the page and in the workbook, and the
tally the figures are read from checked against the reports themselves."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from adr import accounts, regulatory
from adr.extensions import db
from adr.models import ComplianceTally, Report
from adr.regulator import compliance
from adr.regulator.workbook import parse_month
from tests import test_integrity
from tests.conftest import hidden_inputs, reference_of, send_report, valid_report
from tests.test_cases import enter, entered
from tests.test_review import stored

PASSWORD = "correct horse battery"
REVIEWER = "reviewer@tianning.example"
TODAY = regulatory.china_today()
# A month whose deadlines have all passed: three months back.
FIRST = (TODAY.replace(day=1) - timedelta(days=70)).replace(day=1)
MONTH = f"{FIRST:%Y-%m}"


def due_day(day: int) -> date:
    return FIRST + timedelta(days=day - 1)


@pytest.fixture
def staff(app):
    with app.app_context():
        accounts.create_user(REVIEWER, "审核员", "reviewer", PASSWORD, "test")
    client = app.test_client()
    token = hidden_inputs(client.get("/login").get_data(as_text=True))["csrf_token"]
    client.post("/login", data={"email": REVIEWER, "password": PASSWORD, "csrf_token": token})
    return client


def heard(client, day_zero: date, serious: bool = False, death: bool = False) -> str:
    """Enter a phone report heard of on `day_zero`: serious (a hospitalisation), or a death."""
    fields = {
        "case-source": "phone",
        "case-awareness_date": day_zero.isoformat(),
        "reporter-kind": "patient",
        "reporter-name": "李四",
        "patient-name": "李四",
        "patient-sex": "male",
        "patient-age": "45",
        "drugs-0-role": "suspect",
        "drugs-0-generic_name": "阿莫西林胶囊",
        "event-name": "皮疹",
        "event-onset_date": (day_zero - timedelta(days=2)).isoformat(),
        "event-outcome": "recovered",
    }
    if serious:
        fields["event-serious"] = ["hospitalization"]
    if death:
        fields |= {
            "event-serious": ["death"],
            "event-outcome": "death",
            "event-death_cause": "过敏性休克",
            "event-death_date": (day_zero - timedelta(days=1)).isoformat(),
        }
    return entered(enter(client, fields))


def assess(client, reference: str, **fields):
    page = client.get(f"/staff/reports/{reference}").get_data(as_text=True)
    data = {"csrf_token": hidden_inputs(page)["csrf_token"], **fields}
    response = client.post(f"/staff/reports/{reference}/assessment", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]


def sent(client, reference: str, on: date) -> None:
    """Take the case through review to the national system, sent on `on`."""
    assess(client, reference, status="in_review")
    assess(client, reference, status="assessed")
    assess(
        client,
        reference,
        status="submitted",
        submitted_to_regulator_on=on.isoformat(),
        national_case_number="2026610000000001",
    )


@pytest.fixture
def month(app, staff):
    """A month of deadlines as a PV team leaves it, and one report not due yet."""
    refs = {
        "serious on time": heard(staff, due_day(10) - timedelta(days=15), serious=True),
        "serious late": heard(staff, due_day(12) - timedelta(days=15), serious=True),
        "other on time": heard(staff, due_day(20) - timedelta(days=30)),
        "other open": heard(staff, due_day(15) - timedelta(days=30)),
        "death late": heard(staff, due_day(5) - timedelta(days=1), death=True),
        # The same report again (a copy): merged, it owes nothing.
        "duplicate": heard(staff, due_day(10) - timedelta(days=15), serious=True),
        "not yet due": heard(staff, TODAY, serious=True),
    }
    sent(staff, refs["serious on time"], due_day(10))  # on the due date itself: on time
    sent(staff, refs["serious late"], due_day(13))  # one day late
    sent(staff, refs["other on time"], due_day(20) - timedelta(days=5))
    sent(staff, refs["death late"], due_day(7))  # due the day after day 0; two days late
    assess(staff, refs["duplicate"], status="duplicate", duplicate_of=refs["serious on time"])
    return refs


def test_the_clocks_and_due_dates_are_the_app_s(app, month):
    for name, days in (("serious late", 15), ("other open", 30), ("death late", 1)):
        report = stored(app, month[name])
        assert regulatory.china_date(report.due_at) - report.day_zero == timedelta(days=days)
    assert stored(app, month["duplicate"]).due_at is None


def figures_on_page(html: str) -> dict[tuple[str, str], dict[str, str]]:
    rows = re.findall(r'<tr data-month="([^"]+)" data-clock="([^"]+)"[^>]*>(.*?)</tr>', html, re.S)
    result = {}
    for row_month, clock, cells in rows:
        counts = re.findall(r'data-count="(\w+)">(?:<strong[^>]*>)?([^<]*)', cells)
        result[(row_month, clock)] = dict(counts)
    return result


def test_a_hand_built_month_is_counted_by_clock(app, staff, month):
    later = f"{TODAY + timedelta(days=15):%Y-%m}"
    response = staff.get(f"/staff/compliance?from={MONTH}&to={later}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    figures = figures_on_page(page)
    expected = {
        "death": {"due": "1", "on_time": "0", "late": "1", "open_past_due": "0", "rate": "0.0%"},
        "serious_new": {"due": "2", "on_time": "1", "late": "1", "open_past_due": "0"},
        "other": {"due": "2", "on_time": "1", "late": "0", "open_past_due": "1"},
        "all": {"due": "5", "on_time": "2", "late": "2", "open_past_due": "1", "rate": "40.0%"},
    }
    for clock, counts in expected.items():
        assert figures[(MONTH, clock)].items() >= counts.items(), (clock, figures[(MONTH, clock)])
    assert figures[(MONTH, "serious_new")]["rate"] == "50.0%"
    assert figures[(later, "serious_new")]["not_yet_due"] == "1"
    assert figures[(later, "serious_new")]["rate"] == "—"  # nothing owed yet

    late = dict(re.findall(r'data-reference="([^"]+)" data-days-late="(-?\d+)"', page))
    overdue_so_far = (TODAY - due_day(15)).days
    assert late == {
        month["serious late"]: "1",
        month["death late"]: "2",
        month["other open"]: str(overdue_so_far),
    }
    assert f'href="/staff/reports/{month["serious late"]}"' in page
    assert month["duplicate"] not in page


def test_the_workbook_holds_the_page_s_figures_and_late_reports(app, staff, month):
    later = f"{TODAY + timedelta(days=15):%Y-%m}"
    page = staff.get(f"/staff/compliance?from={MONTH}&to={later}&lang=en")
    figures = figures_on_page(page.get_data(as_text=True))
    response = staff.get(f"/staff/compliance.xlsx?from={MONTH}&to={later}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].endswith(f"compliance-{MONTH}-{later}.xlsx")
    book = load_workbook(io.BytesIO(response.data))
    response.close()
    assert book.sheetnames == ["Compliance", "Late reports", "Definitions"]
    rows = list(book["Compliance"].iter_rows(values_only=True))
    assert rows[0] == (
        "Month due", "Clock", "Due", "Sent on time", "Sent late", "Open past due",
        "Not yet due", "Found invalid after the deadline", "On-time rate",
    )  # fmt: skip
    labels = {term.en: code for code, term in compliance.CLOCKS.items()} | {"All": "all"}
    month_of_row = None
    checked = 0
    for row in rows[1:]:
        month_of_row = row[0] if row[0] != "All months" else "all"
        on_page = figures[(month_of_row, labels[row[1]])]
        counted = ("due", "on_time", "late", "open_past_due", "not_yet_due", "closed_invalid")
        assert [str(n) for n in row[2:8]] == [on_page[k] for k in counted]
        shown = "—" if row[8] is None else f"{row[8] * 100:.1f}%"
        assert shown == on_page["rate"]
        checked += 1
    assert checked == len(figures)
    late = {row[0]: row for row in book["Late reports"].iter_rows(min_row=2, values_only=True)}
    assert set(late) == {month["serious late"], month["death late"], month["other open"]}
    assert late[month["death late"]][2:8] == (
        "Death (at once)",
        datetime.combine(due_day(5) - timedelta(days=1), datetime.min.time()),
        datetime.combine(due_day(5), datetime.min.time()),
        datetime.combine(due_day(7), datetime.min.time()),
        2,
        "Sent late",
    )
    assert late[month["other open"]][5] is None and late[month["other open"]][7] == (
        "Not sent, past due"
    )


@pytest.mark.parametrize(
    "query", ["from=2026-13&to=2027-01", "from=2027-02&to=2027-01", "from=2000-01&to=2027-01"]
)
def test_bad_months_are_a_400_with_the_months_kept(staff, query):
    for path in ("/staff/compliance", "/staff/compliance.xlsx"):
        response = staff.get(f"{path}?{query}")
        response.close()
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert 'id="months-error"' in page and query.split("&")[0].split("=")[1] in page


def test_the_default_is_the_last_twelve_months(staff):
    page = staff.get("/staff/compliance").get_data(as_text=True)
    first, last = compliance.last_months(datetime.now(UTC))
    assert f'value="{first}"' in page and f'value="{last}"' in page
    assert len(compliance.months_between(first, last)) == 12
    assert page.count('data-clock="all"') == 13  # twelve months and the total


def test_compliance_is_for_staff(client, app):
    assert client.get("/staff/compliance").status_code == 302
    response = client.get("/staff/compliance.xlsx")
    response.close()
    assert response.status_code == 302


def test_sending_is_judged_by_the_china_date_of_the_deadline():
    due = regulatory.due_at(date(2026, 3, 1), "serious", death=False)  # 2026-03-16 23:59:59 China
    after = due + timedelta(seconds=1)
    assert compliance.timeliness(due, date(2026, 3, 16), after) == "on_time"
    assert compliance.timeliness(due, date(2026, 3, 17), after) == "late"
    assert compliance.timeliness(due, None, after) == "open_past_due"
    assert compliance.timeliness(due, None, due) == "not_yet_due"
    assert compliance.days_late(due, None, after) == 1  # the first day past the due date
    assert compliance.days_late(due, None, after + timedelta(days=3)) == 4
    death = regulatory.due_at(date(2026, 3, 1), "serious", death=True)
    assert compliance.clock_of("serious", date(2026, 3, 1), death) == "death"
    assert compliance.clock_of("new", date(2026, 3, 1), due) == "serious_new"
    assert compliance.clock_of("general", date(2026, 3, 1), due) == "other"


def counted_from_reports(first: str, last: str, now: datetime) -> compliance.Compliance:
    """Count as the page did before the tally: every report due in the range, grouped."""
    months = compliance.months_between(first, last)
    start, end = parse_month(months[0])[0], parse_month(months[-1])[1]
    result = compliance.Compliance(months, now)
    groups = (
        sa.select(
            Report.due_at,
            Report.day_zero,
            Report.report_category,
            Report.submitted_to_regulator_on,
            sa.func.count(),
        )
        .where(Report.due_at >= start, Report.due_at < end)
        .group_by(
            Report.due_at, Report.day_zero, Report.report_category, Report.submitted_to_regulator_on
        )
    )
    for due, day_zero, category, sent_on, count in db.session.execute(groups):
        key = (
            f"{due.astimezone(regulatory.CHINA):%Y-%m}",
            compliance.clock_of(category, day_zero, due),
        )
        outcome = compliance.timeliness(due, sent_on, now)
        result.cells.setdefault(key, compliance.Figures()).add(outcome, count)
        if outcome in ("late", "open_past_due"):
            result.late_due.add(due)
    lapsed = sa.select(Report.lapsed_due_at, Report.day_zero, Report.report_category).where(
        Report.lapsed_due_at >= start, Report.lapsed_due_at < end
    )
    for due, day_zero, category in db.session.execute(lapsed):
        key = (
            f"{due.astimezone(regulatory.CHINA):%Y-%m}",
            compliance.clock_of(category, day_zero, due),
        )
        result.cells.setdefault(key, compliance.Figures()).add("closed_invalid", 1)
        result.lapsed_due.add(due)
    return result


def tally_matches_reports() -> None:
    """Assert that the tally's sums are the reports' own count, key by key."""
    now = datetime.now(UTC)
    tallied: dict[tuple[object, ...], int] = {}
    for due, category, outcome, day_zero, count in db.session.execute(
        sa.select(
            ComplianceTally.due_at,
            ComplianceTally.report_category,
            ComplianceTally.outcome,
            ComplianceTally.day_zero,
            ComplianceTally.reports,
        )
    ):
        key = (due, category, outcome, day_zero)
        tallied[key] = tallied.get(key, 0) + count
    reports: dict[tuple[object, ...], int] = {}
    rows = sa.select(
        Report.due_at, Report.report_category, Report.submitted_to_regulator_on, Report.day_zero
    ).where(Report.due_at.is_not(None))
    for due, category, sent_on, day_zero in db.session.execute(rows):
        outcome = "open" if sent_on is None else compliance.timeliness(due, sent_on, now)
        key = (due, category, outcome, day_zero)
        reports[key] = reports.get(key, 0) + 1
    assert {key: count for key, count in tallied.items() if count} == reports


def assert_the_tally_holds(app) -> None:
    """The tally is the reports' own count, and the figures and late list are the old ones."""
    now = datetime.now(UTC)
    with app.app_context():
        tally_matches_reports()
        dues = db.session.execute(
            sa.select(sa.func.min(Report.due_at), sa.func.max(Report.due_at))
        ).one()
        first, last = (f"{moment.astimezone(regulatory.CHINA):%Y-%m}" for moment in dues)
        fast, slow = compliance.measure(first, last, now), counted_from_reports(first, last, now)
        assert fast.cells == slow.cells and fast.cells
        assert (fast.late_due, fast.lapsed_due) == (slow.late_due, slow.lapsed_due)
        assert list(compliance.late_reports(fast)) == list(compliance.late_reports(slow))


def test_the_tally_follows_every_change_to_a_report_s_deadline(app, staff, month):
    """Sent, corrected, found invalid late, merged and unmerged, followed up, sent from the
    public form: after each, the tally is the reports' own count."""
    assert_the_tally_holds(app)
    correct = test_integrity.correct
    first, other = month["serious on time"], month["other open"]
    later = due_day(11).isoformat()
    response = correct(staff, first, report=first, field="submitted_to_regulator_on",
                       value=later, reason="核对国家系统记录")  # fmt: skip
    assert response.status_code == 303  # on time to late
    earlier = (due_day(14) - timedelta(days=30)).isoformat()
    response = correct(staff, other, report=other, field="case-awareness_date",
                       value=earlier, reason="来电记录显示更早获知")  # fmt: skip
    assert response.status_code == 303  # a day 0 and a deadline moved
    assert_the_tally_holds(app)
    invalid = test_integrity.assess(
        staff, other, status="invalid", invalid_reason="not_our_product"
    )
    assert invalid.status_code == 303  # found invalid after its deadline
    (merge,) = test_integrity.merge_ids(app)
    undone = test_integrity.undo_merge(staff, month["serious on time"], merge)
    assert undone.status_code == 303  # the copy owes again
    web = send_report(app, valid_report())
    assert web.status_code == 303  # from the public form; then a follow-up makes it serious
    again = {"follow_up_of": reference_of(web), "event-serious": ["hospitalization"]}
    assert send_report(app, valid_report() | again).status_code == 303
    with app.app_context():
        assert db.session.scalar(sa.select(Report.lapsed_due_at).where(
            Report.reference == month["other open"])) is not None  # fmt: skip
    assert_the_tally_holds(app)
