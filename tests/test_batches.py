"""Batch clusters: the safety inbox hears once as cases pile up on a batch; staff see them."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import date, timedelta
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from adr import accounts, batch_tally, batches, regulatory
from adr.batches import alert_level
from adr.extensions import db
from adr.models import BatchAlert, Product, Report, lock_products, write_transaction
from tests.conftest import (
    BATCH,
    amoxicillin,
    hidden_inputs,
    reference_of,
    send_report,
    valid_report,
)
from tests.smtp import SMTPServer, body
from tests.test_mailer import PERSONAL, make_app
from tests.test_review import PASSWORD, REVIEWER, assess, signed_in

TODAY = regulatory.china_today()
DEATH = {
    "event-outcome": "death",
    "event-death_cause": "过敏性休克",
    "event-death_date": "2026-11-22",
    "event-serious": ["death"],
}


@pytest.fixture
def smtp():
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


def catalogued(app, registered: bool = True):
    """Put the company's amoxicillin in the catalogue, its batch in the register if asked."""
    with app.app_context():
        db.session.add(amoxicillin(registered))
        accounts.create_user(REVIEWER, "审核员", "reviewer", PASSWORD, "test")
        db.session.commit()
    return app


def mail_app(tmp_path, monkeypatch, smtp, **settings):
    """Return an app mailing `smtp`, in English (whichever catalogue the build carries)."""
    return make_app(tmp_path, monkeypatch, smtp.port, MAIL_LANGUAGE="en", **settings)


@pytest.fixture
def alerting(tmp_path, monkeypatch, smtp):
    return catalogued(mail_app(tmp_path, monkeypatch, smtp))


# A batch's cases in the window are counted from their copies until the day's first reader of
# the batch table moves the tally's window to today; from then on, from the tally's row.
WINDOWS = ["window not moved today", "window moved today"]


def move_window_today(app, window, monkeypatch) -> None:
    """Move the tally's window to today if asked, as the batch table's first reader does; the
    alert then reads the tally's count only (the count by copies, unset, would fail)."""
    if window == "window moved today":
        with app.app_context():
            batches.count_window(batches.window_start(batches.alert_settings()[1]))
        monkeypatch.setattr(batches, "COUNTED", None)


def submit(app, **fields) -> str:
    return reference_of(send_report(app, valid_report() | fields))


def phone_call(client, aware_on: date, batch: str = BATCH) -> str:
    """Enter a report heard of by phone on `aware_on` (staff type it later)."""
    page = client.get("/staff/reports/new").get_data(as_text=True)
    fields = {
        "case-source": "phone",
        "case-awareness_date": aware_on.isoformat(),
        "reporter-kind": "patient",
        "reporter-name": "李四",
        "patient-name": "李四",
        "patient-sex": "male",
        "patient-age": "45",
        "drugs-0-role": "suspect",
        "drugs-0-generic_name": "阿莫西林胶囊",
        "drugs-0-batch_number": batch,
        "event-name": "皮疹",
        "event-onset_date": (aware_on - timedelta(days=2)).isoformat(),
    }
    response = client.post("/staff/reports/new", data={**hidden_inputs(page), **fields})
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return response.location.rsplit("/", 1)[1]


def alerts(app) -> list[tuple[str, int]]:
    with app.app_context():
        return [
            (a.batch_number, a.level)
            for a in db.session.scalars(sa.select(BatchAlert).order_by(BatchAlert.id))
        ]


def alert_mails(app, smtp) -> list:
    from adr import mailer

    with app.app_context():
        mailer.deliver_pending_mail()
    return [m for m in smtp.inbox.messages if m["Subject"].startswith("Batch alert")]


@pytest.mark.parametrize(
    ("count", "level"), [(0, None), (2, None), (3, 3), (5, 3), (6, 6), (11, 6), (12, 12)]
)
def test_the_alert_level_doubles(count, level):
    assert alert_level(count, 3) == level


@pytest.mark.parametrize("window", WINDOWS)
def test_the_third_case_on_a_batch_alerts_once_and_the_sixth_again(
    alerting, smtp, window, monkeypatch
):
    move_window_today(alerting, window, monkeypatch)
    references = [submit(alerting) for _ in range(2)]
    assert alerts(alerting) == []
    references.append(submit(alerting, **{"event-serious": ["hospitalization"]}))
    assert alerts(alerting) == [(BATCH, 3)]
    [mail] = alert_mails(alerting, smtp)
    assert "阿莫西林胶囊" in mail["Subject"] and BATCH in mail["Subject"]
    text, html = body(mail, "plain"), body(mail, "html")
    for part in (text, html):
        for reference in references:
            assert reference in part
        assert "国药准字H61020123" in part
        assert "2026-03-15" in part and "2028-02-29" in part
        assert f"https://adr.tianning.example/staff/reports?batch={BATCH}" in part
        for personal in PERSONAL:
            assert personal not in part
    assert "Serious: 1" in text and "Deaths: 0" in text and "last 90 days" in text
    for _ in range(2):
        submit(alerting)
    assert alerts(alerting) == [(BATCH, 3)]
    submit(alerting)
    assert alerts(alerting) == [(BATCH, 3), (BATCH, 6)]
    assert len(alert_mails(alerting, smtp)) == 2


def test_an_unregistered_batch_is_said_to_be_so(tmp_path, monkeypatch, smtp):
    app = catalogued(mail_app(tmp_path, monkeypatch, smtp), registered=False)
    for _ in range(3):
        submit(app)
    [mail] = alert_mails(app, smtp)
    assert "not in the register" in body(mail, "plain")


def test_cases_on_other_batches_or_other_makers_do_not_add_up(alerting, smtp):
    submit(alerting)
    submit(alerting, **{"drugs-0-batch_number": "20260316A"})
    submit(alerting, **{"drugs-0-manufacturer": "华北制药股份有限公司"})  # not ours
    submit(alerting, **{"drugs-0-role": "concomitant", "drugs-1-role": "suspect"})
    assert alerts(alerting) == [] and alert_mails(alerting, smtp) == []


@pytest.mark.parametrize("window", WINDOWS)
def test_only_cases_known_within_the_window_count(alerting, smtp, window, monkeypatch):
    move_window_today(alerting, window, monkeypatch)
    client = signed_in(alerting, REVIEWER)
    phone_call(client, TODAY - timedelta(days=90))  # the window is the last 90 days, today in
    phone_call(client, TODAY - timedelta(days=90))
    submit(alerting)
    phone_call(client, TODAY - timedelta(days=89))
    assert alerts(alerting) == []
    submit(alerting)
    assert alerts(alerting) == [(BATCH, 3)]


@pytest.mark.parametrize("window", WINDOWS)
def test_a_follow_up_is_the_same_case(alerting, smtp, window, monkeypatch):
    move_window_today(alerting, window, monkeypatch)
    first = submit(alerting)
    submit(alerting)
    submit(alerting, follow_up_of=first)
    assert alerts(alerting) == []
    submit(alerting)
    assert alerts(alerting) == [(BATCH, 3)]


@pytest.mark.parametrize(
    "marking",
    [
        {"status": "duplicate"},
        {"status": "invalid", "invalid_reason": "other", "status_reason": "测试提交"},
    ],
)
@pytest.mark.parametrize("window", WINDOWS)
def test_a_case_marked_duplicate_or_invalid_does_not_count(
    alerting, smtp, marking, window, monkeypatch
):
    move_window_today(alerting, window, monkeypatch)
    first, second = submit(alerting), submit(alerting)
    client = signed_in(alerting, REVIEWER)
    fields = marking | ({"duplicate_of": first} if marking["status"] == "duplicate" else {})
    assert assess(client, second, **fields).status_code == 303
    submit(alerting)
    assert alerts(alerting) == []
    submit(alerting)
    assert alerts(alerting) == [(BATCH, 3)]


def test_the_settings_are_honoured(tmp_path, monkeypatch, smtp):
    app = catalogued(
        mail_app(tmp_path, monkeypatch, smtp, BATCH_ALERT_COUNT=2, BATCH_ALERT_DAYS=10)
    )
    client = signed_in(app, REVIEWER)
    phone_call(client, TODAY - timedelta(days=10))
    submit(app)
    assert alerts(app) == []
    submit(app)
    assert alerts(app) == [(BATCH, 2)]
    submit(app)
    submit(app)
    assert alerts(app) == [(BATCH, 2), (BATCH, 4)]
    [first, _second] = alert_mails(app, smtp)
    assert "last 10 days" in body(first, "plain")


@pytest.mark.parametrize("setting", ["BATCH_ALERT_COUNT", "BATCH_ALERT_DAYS"])
def test_a_threshold_or_window_below_one_is_refused_at_start(tmp_path, monkeypatch, setting):
    with pytest.raises(ValueError, match=setting):
        make_app(tmp_path, monkeypatch, 25, **{setting: 0})


@pytest.mark.postgresql_only
def test_two_reports_arriving_together_do_not_both_miss_the_threshold(alerting, smtp):
    """Both flush their report before either counts; the second counts once the first commits.

    The product row is locked FOR NO KEY UPDATE (FOR UPDATE deadlocked against the key-share
    locks of the drugs' foreign keys); the audit chain's advisory lock serialises too.
    """
    submit(alerting)
    both_flushed = threading.Barrier(2, timeout=10)

    def wait_for_the_other(session, _context):
        if any(isinstance(row, Report) for row in session.new):
            both_flushed.wait()

    sa.event.listen(Session, "after_flush", wait_for_the_other)
    try:
        references: list[str] = []
        threads = [
            threading.Thread(target=lambda: references.append(submit(alerting))) for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sa.event.remove(Session, "after_flush", wait_for_the_other)
    assert len(references) == 2
    assert alerts(alerting) == [(BATCH, 3)]
    assert len(alert_mails(alerting, smtp)) == 1


def test_a_transaction_locks_a_product_once_and_again_after_its_savepoint_rolled_back(alerting):
    """The batch alert and the group events both lock the products they count; the second asks
    nothing more. A savepoint rolled back frees the locks taken within it: asked again after it,
    the lock is taken again. SQLite's writers take no row lock: they are serialised already."""
    with alerting.app_context():
        product_id = db.session.scalar(sa.select(Product.id))
        locking = int(db.engine.dialect.name == "postgresql")
        locks: list[str] = []

        def spy(_conn, _cursor, statement, *_args) -> None:
            if statement.startswith("SELECT product.id \nFROM product"):
                locks.append(statement)

        sa.event.listen(db.engine, "before_cursor_execute", spy)
        try:
            with write_transaction() as session:
                lock_products(session, [product_id])
                lock_products(session, [product_id])
                assert len(locks) == locking
                session.begin_nested().rollback()
                lock_products(session, [product_id])
                assert len(locks) == 2 * locking
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", spy)
        assert all("FOR NO KEY UPDATE" in statement for statement in locks)


# What a stored report's transaction might read again: its catalogued product (read once, as
# it is matched, before the write begins), its case's batch copies, its case's products, its
# day known and death.
READ_AGAIN = (
    "FROM product WHERE product.id = ",
    "SELECT batch_case.product_id, batch_case.batch_number FROM batch_case WHERE",
    "SELECT DISTINCT drug.product_id FROM drug",
    "safety_case.duplicate_of_id IS NULL AND safety_case.id = ",
)


def test_a_new_case_is_counted_from_what_its_report_holds(alerting):
    """A report that opens a case reads its product once, as it is matched, and then neither
    its product again (its drug holds it, without a persisted relationship), nor its case's
    products, batch copies or day known, which are its own drugs, none yet and its own. A
    follow-up's case may hold more: it reads them."""
    with alerting.app_context():
        engine = db.engine
    seen: list[str] = []

    def spy(_conn, _cursor, statement, *_args) -> None:
        seen.append(" ".join(statement.split()))

    def read() -> Counter[str]:
        return Counter(part for part in READ_AGAIN for statement in seen if part in statement)

    sa.event.listen(engine, "before_cursor_execute", spy)
    try:
        first = submit(alerting)
        assert read() == {READ_AGAIN[0]: 1}
        seen.clear()
        submit(alerting, follow_up_of=first)
        assert set(read()) == set(READ_AGAIN) and read()[READ_AGAIN[0]] == 1
    finally:
        sa.event.remove(engine, "before_cursor_execute", spy)
    assert alerts(alerting) == []
    submit(alerting)
    submit(alerting)
    assert alerts(alerting) == [(BATCH, 3)]  # counted all the same


def ibuprofen() -> Product:
    """Return a second product of the company's, its maker as staff typed it: to add."""
    return Product(
        generic_name="布洛芬缓释胶囊", approval_number="国药准字H20000001", manufacturer="天宁"
    )


def ibuprofen_drug(row: int) -> dict[str, str]:
    """Return the form's fields of ibuprofen of batch 20260501A in drug row `row`."""
    fields = {
        "generic_name": "布洛芬缓释胶囊",
        "brand_name": "",
        "approval_number": "国药准字H20000001",
        "batch_number": "20260501A",
    }
    return {f"drugs-{row}-{name}": value for name, value in fields.items()}


TWO_PRODUCTS = {  # amoxicillin (product 1) without its batch, then ibuprofen with one
    "drugs-0-batch_number": "",
    "drugs-1-role": "suspect",
    "drugs-1-manufacturer": "天宁",
    **ibuprofen_drug(1),
}


def lock_waiters() -> int:
    """Return how many PostgreSQL backends wait for a lock now (read afresh: the statistics are
    read once a transaction)."""
    with db.engine.connect() as connection:
        query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        return connection.execute(sa.text(query)).scalar_one()


def wait_for(writers: int) -> None:
    """Wait until `writers` PostgreSQL backends wait for a lock."""
    deadline = time.monotonic() + 10
    while lock_waiters() < writers:
        assert time.monotonic() < deadline, f"{writers} writers never waited"
        time.sleep(0.02)


@pytest.mark.postgresql_only
@pytest.mark.parametrize("report", ["locking both", "stored"])
def test_products_are_locked_in_id_order_whatever_the_tables_order(alerting, report):
    """A report naming two products waits for the lower one without holding the higher, so the
    day's first reader, locking every product in id order to move the window, never deadlocks
    with it: the products' rows locked by one IN list in id order (editing product 1 moved its
    row after product 2 in the table), and a stored report's locked at once, before the batch
    alert locks the one with a batch and the group events the other."""
    with alerting.app_context():
        with write_transaction() as session:
            session.add(ibuprofen())
        with write_transaction() as session:
            ids = sorted(session.scalars(sa.select(Product.id)))
            session.execute(sa.update(Product).where(Product.id == ids[0]).values(brand_name="新"))

        errors: list[Exception] = []

        def writer(work) -> threading.Thread:
            def run() -> None:
                with alerting.app_context():
                    try:
                        with write_transaction() as session:
                            work(session)
                    except sa.exc.DBAPIError as error:
                        errors.append(error)

            thread = threading.Thread(target=run)
            thread.start()
            return thread

        storing = db.engine.connect()  # another report of product 1 being counted
        first = sa.select(Product.id).where(Product.id == ids[0])
        storing.execute(first.with_for_update(key_share=True)).all()
        threads = [writer(lambda s: batch_tally.move_window(s.connection(), TODAY))]
        wait_for(1)
        if report == "stored":
            stored: list[str] = []
            threads.append(
                threading.Thread(target=lambda: stored.append(submit(alerting, **TWO_PRODUCTS)))
            )
            threads[-1].start()
        else:
            threads.append(writer(lambda s: lock_products(s, ids)))
        wait_for(2)
        storing.commit()
        storing.close()
        for thread in threads:
            thread.join(10)
        assert errors == []
        if report == "stored":
            assert len(stored) == 1


@pytest.mark.postgresql_only
def test_a_follow_up_locks_its_case_s_products_with_its_own(alerting):
    """A follow-up naming product 2, of a case whose first report named product 1, locks both
    at once: locked as its own report's alone, it would hold 2, then wait for 1 to count its
    case, while a new report naming both held 1 and waited for 2. PostgreSQL would end that
    deadlock by refusing one of the two reporters."""
    with alerting.app_context():
        with write_transaction() as session:
            session.add(ibuprofen())
        engine = db.engine
    first = submit(alerting)  # product 1 with its batch
    locked, go_on = threading.Event(), threading.Event()

    def pause_the_follow_up(conn, cursor, statement, *args) -> None:
        follow_up = threading.current_thread().name == "follow-up"
        products = "FROM product" in statement and "FOR NO KEY UPDATE" in statement
        if follow_up and products and not locked.is_set():
            locked.set()  # its first products locked
            go_on.wait(10)

    stored: dict[str, str] = {}

    def store(name: str, **fields: str) -> threading.Thread:
        thread = threading.Thread(
            name=name, target=lambda: stored.setdefault(name, submit(alerting, **fields))
        )
        thread.start()
        return thread

    sa.event.listen(engine, "after_cursor_execute", pause_the_follow_up)
    try:
        follow_up = store(
            "follow-up", follow_up_of=first, **{"drugs-0-manufacturer": "天宁"}, **ibuprofen_drug(0)
        )
        assert locked.wait(10)
        new = store("new", **TWO_PRODUCTS, **{"patient-name": "李四", "patient-sex": "male"})
        with alerting.app_context():
            wait_for(1)  # the new report waits for a product the follow-up holds
        go_on.set()
        follow_up.join(20)
        new.join(20)
    finally:
        go_on.set()
        sa.event.remove(engine, "after_cursor_execute", pause_the_follow_up)
    assert set(stored) == {"follow-up", "new"}


@pytest.mark.postgresql_only
def test_a_report_undone_to_end_a_deadlock_is_stored_once_more(alerting):
    """A staff action holding product 2 that then waits for product 1, held by a report
    waiting for 2: PostgreSQL ends the cycle by undoing the report, which is stored again once
    the action commits, instead of coming back to its reporter to be sent again."""
    with alerting.app_context():
        with write_transaction() as session:
            session.add(ibuprofen())
        ids = sorted(db.session.scalars(sa.select(Product.id)))
        db.session.rollback()
        action = db.engine.connect()
        action.execute(sa.text("SET LOCAL deadlock_timeout = '10s'"))  # the report finds the cycle
        chosen = sa.select(Product.id).with_for_update(key_share=True)
        action.execute(chosen.where(Product.id == ids[1])).all()
        stored: list[str] = []
        report = threading.Thread(target=lambda: stored.append(submit(alerting, **TWO_PRODUCTS)))
        report.start()
        try:
            wait_for(1)  # the report holds product 1 and waits for 2
            action.execute(chosen.where(Product.id == ids[0])).all()  # once the report is undone
        finally:
            action.commit()
            action.close()
            report.join(20)
    assert len(stored) == 1
    with alerting.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Report)) == 1


# The batch table and the dashboard.


def test_the_batch_table_ranks_batches_by_cases_with_the_register_and_the_alerts(alerting):
    client = signed_in(alerting, REVIEWER)
    phone_call(client, TODAY - timedelta(days=200))
    submit(alerting, **DEATH)
    submit(alerting)
    submit(alerting)
    submit(alerting, **{"drugs-0-batch_number": "20260401B"})
    for _ in range(2):
        phone_call(client, TODAY - timedelta(days=300), batch="20250101C")
    page = client.get("/staff/batches?lang=en").get_data(as_text=True)
    rows = table_rows(page, "batches")
    assert rows == [
        [
            "阿莫西林胶囊 [天宁] 国药准字H61020123",
            BATCH,
            "3",
            "4",
            "1",
            "1",
            "2026-03-15",
            "2028-02-29",
            str(TODAY),
            "3",
        ],
        [
            "阿莫西林胶囊 [天宁] 国药准字H61020123",
            "20260401B",
            "1",
            "1",
            "0",
            "0",
            "Not in the register",
            str(TODAY),
            "—",
        ],
    ]  # 20250101C: no case in the window
    assert f'href="/staff/reports?batch={BATCH}"' in page
    assert 'href="/staff/batches"' in client.get("/staff/").get_data(as_text=True)
    ranked = table_rows(client.get("/staff/batches?period=all").get_data(as_text=True), "batches")
    assert [(row[1], row[2], row[3]) for row in ranked] == [
        (BATCH, "3", "4"),
        ("20250101C", "0", "2"),
        ("20260401B", "1", "1"),
    ]
    listed = client.get(f"/staff/reports?batch={BATCH}").get_data(as_text=True)
    assert listed.count('href="/staff/reports/ADR-') == 4


def test_the_batch_table_pages_by_50_and_refuses_pages_that_do_not_exist(alerting):
    client = signed_in(alerting, REVIEWER)
    for number in range(51):
        submit(alerting, **{"drugs-0-batch_number": f"2026{number:04d}"})
    first = client.get("/staff/batches")
    assert len(table_rows(first.get_data(as_text=True), "batches")) == 50
    assert 'href="/staff/batches?page=2"' in first.get_data(as_text=True)
    second = client.get("/staff/batches?page=2").get_data(as_text=True)
    assert len(table_rows(second, "batches")) == 1 and "page=3" not in second
    for page in ("3", "0", "-1", "99999999999999999999"):
        assert client.get(f"/staff/batches?page={page}").status_code == 404, page
    assert client.get("/staff/batches?page=x&period=bogus").status_code == 200


def test_the_batch_table_is_for_staff_only(alerting):
    anonymous = alerting.test_client().get("/staff/batches")
    assert anonymous.status_code == 302 and anonymous.location.startswith("/login")
    with alerting.app_context():
        accounts.create_user("admin@tianning.example", "管理员", "admin", PASSWORD, "test")
    assert signed_in(alerting, "admin@tianning.example").get("/staff/batches").status_code == 200


def test_the_dashboard_lists_the_batches_above_the_threshold(alerting):
    client = signed_in(alerting, REVIEWER)
    for _ in range(2):
        submit(alerting)
    submit(alerting, **{"drugs-0-batch_number": "20260401B"})
    page = client.get("/staff/?lang=en").get_data(as_text=True)
    assert table_rows(page, "batch-clusters") == []
    assert "No batch is named by 3 cases or more within 90 days." in page
    submit(alerting)
    page = client.get("/staff/").get_data(as_text=True)
    [row] = table_rows(page, "batch-clusters")
    assert row[1:3] == [BATCH, "3"]
    section = page[page.index('id="batch-clusters"') :]
    assert f'href="/staff/reports?batch={BATCH}"' in section
    assert 'href="/staff/batches"' in section


def test_names_from_the_catalogue_are_escaped(alerting):
    with alerting.app_context():
        product = db.session.scalar(sa.select(Product))
        product.brand_name = "<script>天宁</script>"
        db.session.commit()
    for _ in range(3):
        submit(alerting, **{"drugs-0-brand_name": ""})
    client = signed_in(alerting, REVIEWER)
    for path in ("/staff/batches", "/staff/"):
        page = client.get(path).get_data(as_text=True)
        assert "&lt;script&gt;天宁" in page and "<script>天宁" not in page


class Cells(HTMLParser):
    """Collect the text of each body row's cells of the table inside the element `id`."""

    def __init__(self, id_: str) -> None:
        super().__init__()
        self.id, self.depth, self.rows, self.cell = id_, 0, [], None
        self.in_body = False

    def handle_starttag(self, tag, attrs):
        if self.depth:
            self.depth += tag not in VOID
        elif dict(attrs).get("id") == self.id:
            self.depth = 1
        if not self.depth:
            return
        if tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body:
            self.rows.append([])
        elif tag == "td" and self.in_body:
            self.cell = []
        elif tag == "br" and self.cell is not None:
            self.cell.append(" ")

    def handle_endtag(self, tag):
        if not self.depth:
            return
        self.depth -= tag not in VOID
        if tag == "td" and self.cell is not None:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "tbody":
            self.in_body = False

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data if data.strip() else " ")


VOID = {"br", "input", "img", "meta", "link", "hr"}


def table_rows(page: str, id_: str) -> list[list[str]]:
    parser = Cells(id_)
    parser.feed(page)
    return [row for row in parser.rows if len(row) > 1]
