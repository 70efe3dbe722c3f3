"""Group adverse events: several cases of one product in one city within a week, or two deaths,
open an event the safety inbox hears of at once; staff report, investigate and close it."""

from __future__ import annotations

import io
import threading
import time
from datetime import date, timedelta

import openpyxl
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from adr import mailer, products, regulatory, vocab
from adr.cases import merges
from adr.extensions import db
from adr.models import AuditEntry, GroupEvent, Product, Report, write_transaction
from adr.signals import group_events
from tests.conftest import hidden_inputs
from tests.smtp import SMTPServer, body
from tests.test_batches import DEATH, catalogued, lock_waiters, submit, table_rows
from tests.test_integrity import correct
from tests.test_mailer import PERSONAL, make_app
from tests.test_review import REVIEWER, assess, signed_in

TODAY = regulatory.china_today()
YULIN = {"event-province": "陕西省", "event-city": "榆林市"}
XIAN = {"event-province": "陕西省", "event-city": "西安市"}
YANAN = {"event-province": "陕西省", "event-city": "延安市"}
PRODUCT = "阿莫西林胶囊 [天宁] 国药准字H61020123"
NOT_REPORTED = "未记录向监管部门的报告：应立即报告"


@pytest.fixture
def smtp():
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app(tmp_path, monkeypatch, smtp):
    return catalogued(make_app(tmp_path, monkeypatch, smtp.port))  # mails in Chinese


def events(app) -> list[tuple[str, str | None, str | None, date, int]]:
    with app.app_context():
        return [
            (e.kind, e.province, e.city, e.known_on, len(e.cases))
            for e in db.session.scalars(sa.select(GroupEvent).order_by(GroupEvent.id))
        ]


def trail(app, action: str) -> list[tuple[str, str | None]]:
    with app.app_context():
        query = sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return [(e.actor, e.new_value) for e in db.session.scalars(query)]


def delivered(app, smtp, ignore_backoff: bool = False) -> list:
    with app.app_context():
        mailer.deliver_pending_mail(ignore_backoff=ignore_backoff)
    return smtp.inbox.messages


def phone_call(client, aware_on: date, **fields) -> str:
    """Enter a report heard of by phone on `aware_on` through the staff form."""
    page = client.get("/staff/reports/new").get_data(as_text=True)
    typed = {
        "case-source": "phone",
        "case-awareness_date": aware_on.isoformat(),
        "reporter-kind": "physician",
        "reporter-name": "张某某",
        "patient-name": "王丽",
        "patient-sex": "female",
        "patient-age": "45",
        "drugs-0-role": "suspect",
        "drugs-0-generic_name": "阿莫西林胶囊",
        "drugs-0-batch_number": "20260401B",
        "event-name": "皮疹",
        "event-onset_date": (aware_on - timedelta(days=1)).isoformat(),
    }
    response = client.post("/staff/reports/new", data={**hidden_inputs(page), **typed, **fields})
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return response.location.rsplit("/", 1)[1]


def test_three_cases_in_one_city_open_one_event_mailed_at_once_and_the_fourth_joins(app, smtp):
    references = [submit(app, **YULIN), submit(app, **YULIN)]
    assert events(app) == []
    references.append(submit(app, **YULIN))
    due = TODAY + timedelta(days=7)
    assert events(app) == [("cluster", "陕西省", "榆林市", TODAY, 3)]
    group_mails = [m for m in delivered(app, smtp) if "群体不良事件" in m["Subject"]]
    [mail] = group_mails
    assert "阿莫西林胶囊" in mail["Subject"] and "榆林市" in mail["Subject"]
    for part in (body(mail, "plain"), body(mail, "html")):
        assert all(reference in part for reference in references)
        assert "国药准字H61020123" in part and str(due) in part
        assert "https://adr.tianning.example/staff/group-events/1" in part
        assert not any(personal in part for personal in PERSONAL)
    assert [actor for actor, _new in trail(app, "group event opened")] == ["public form"]
    # The batch alert the same three cases raised is a batch cluster, never a group event.
    [batch_mail] = [m for m in smtp.inbox.messages if m["Subject"].startswith("批号聚集")]
    assert all("群体" not in part for part in (batch_mail["Subject"], body(batch_mail, "plain")))
    client = signed_in(app, REVIEWER)
    page = client.get("/staff/").get_data(as_text=True)
    [row] = table_rows(page, "group-events")
    assert row[1:6] == [PRODUCT, "陕西省 榆林市", "同一地区短期内多例", str(TODAY), str(due)]
    assert row[6:] == [NOT_REPORTED, "3"]
    batch_section = page[page.index('id="batch-clusters"') :]
    assert "批号聚集" in batch_section and "群体" not in batch_section
    fourth = submit(app, **YULIN)
    assert events(app) == [("cluster", "陕西省", "榆林市", TODAY, 4)]
    [_opened, joined] = [m for m in delivered(app, smtp) if "群体不良事件" in m["Subject"]]
    assert joined["Subject"] == "群体不良事件 #1：新增 1 例，现共 4 例（阿莫西林胶囊）"
    assert fourth in body(joined, "plain") and not any(p in body(joined, "html") for p in PERSONAL)
    [row] = table_rows(client.get("/staff/").get_data(as_text=True), "group-events")
    assert row[7] == "4 (开启后加入 1 例)"


def joined_mails(app, smtp, ignore_backoff: bool = False) -> list[tuple[str, str]]:
    """Run a sender's pass; return each notice of joins received so far: subject, text."""
    return [
        (m["Subject"], body(m, "plain"))
        for m in delivered(app, smtp, ignore_backoff)
        if m["Subject"].startswith("群体不良事件 #")
    ]


def opened_in_yulin(app, smtp) -> list[str]:
    """Open a cluster event with three cases in 榆林, its opening mailed; return them."""
    founders = [submit(app, **YULIN) for _ in range(3)]
    joined_mails(app, smtp)
    return founders


def test_the_cases_that_join_between_two_sender_passes_make_one_notice(app, smtp):
    opened_in_yulin(app, smtp)
    assert joined_mails(app, smtp) == []  # the opening mail only
    fourth, fifth = submit(app, **YULIN), submit(app, **YULIN)  # no sender pass between them
    [(subject, text)] = joined_mails(app, smtp)
    assert subject == "群体不良事件 #1：新增 2 例，现共 5 例（阿莫西林胶囊）"
    assert text.startswith("2 例病例加入了未结束的群体不良事件")
    assert fourth in text and fifth in text and text.index(fourth) < text.index(fifth)
    assert not any(personal in text for personal in PERSONAL)
    assert joined_mails(app, smtp)[1:] == []  # a pass with no join: no notice
    sixth = submit(app, **YULIN)
    subject, text = joined_mails(app, smtp)[-1]
    assert subject == "群体不良事件 #1：新增 1 例，现共 6 例（阿莫西林胶囊）"
    assert sixth in text and fifth not in text
    smtp.stop()  # a notice queued is mailed as it was, however long the server is away
    seventh = submit(app, **YULIN)
    with app.app_context():
        assert mailer.deliver_pending_mail().retrying
    eighth = submit(app, **YULIN)
    smtp.start()
    tried, new = joined_mails(app, smtp, ignore_backoff=True)[-2:]
    assert tried[0].endswith("新增 1 例，现共 7 例（阿莫西林胶囊）") and seventh in tried[1]
    assert new[0].endswith("新增 1 例，现共 8 例（阿莫西林胶囊）") and eighth in new[1]
    assert seventh not in new[1]
    assert [value for _actor, value in trail(app, "group event changed")] == [
        f"1: {reference}" for reference in (fourth, fifth, sixth, seventh, eighth)
    ]


def test_more_cases_than_a_notice_lists_make_more_notices_in_the_same_pass(app, smtp, monkeypatch):
    monkeypatch.setattr(group_events, "JOINS_A_NOTICE", 2)
    for _ in range(3):
        submit(app, **YULIN)
    joined = [submit(app, **YULIN) for _ in range(3)]
    first, second = joined_mails(app, smtp)
    assert first[0].endswith("新增 2 例，现共 6 例（阿莫西林胶囊）")
    assert second[0].endswith("新增 1 例，现共 6 例（阿莫西林胶囊）")
    assert all(r in first[1] for r in joined[:2]) and joined[2] not in first[1]
    assert joined[2] in second[1]


def test_a_notice_that_cannot_be_queued_holds_back_no_other_mail(app, smtp, monkeypatch):
    opened_in_yulin(app, smtp)
    render = group_events.joined_mail

    def broken(*args):
        raise RuntimeError("a template that does not render")

    monkeypatch.setattr(group_events, "joined_mail", broken)
    fourth = submit(app, **YULIN)
    assert joined_mails(app, smtp) == []
    assert any(fourth in m["Subject"] for m in smtp.inbox.messages)  # its own mails went out
    monkeypatch.setattr(group_events, "joined_mail", render)
    [(_subject, text)] = joined_mails(app, smtp)  # the next pass
    assert fourth in text


def test_a_notice_names_a_case_merged_away_since_it_joined(app, smtp):
    founders = opened_in_yulin(app, smtp)
    fourth = submit(app, **YULIN)
    merge(app, fourth, founders[0])  # before the sender's pass
    [(subject, text)] = joined_mails(app, smtp)
    assert subject.endswith("新增 1 例，现共 3 例（阿莫西林胶囊）") and fourth in text


def test_an_event_opened_without_a_marker_mails_only_the_cases_that_joined_after(app, smtp):
    """An event opened by code older than migration 0027, while it ran: its opening mail named
    its first cases."""
    opened_in_yulin(app, smtp)
    with app.app_context():
        db.session.execute(sa.update(GroupEvent).values(mailed_through=None))
        db.session.commit()
    assert joined_mails(app, smtp) == []
    fourth = submit(app, **YULIN)
    [(subject, text)] = joined_mails(app, smtp)
    assert subject.endswith("新增 1 例，现共 4 例（阿莫西林胶囊）") and fourth in text


def test_an_event_whose_notice_fails_holds_back_no_other_event_s(app, smtp, monkeypatch):
    for _ in range(3):
        submit(app, **YULIN)
        submit(app, **XIAN)
    joined_mails(app, smtp)
    render = group_events.joined_mail

    def broken_for_yulin(event, references, count):
        if event.city == "榆林市":
            raise RuntimeError("a template that does not render")
        return render(event, references, count)

    monkeypatch.setattr(group_events, "joined_mail", broken_for_yulin)
    in_yulin, in_xian = submit(app, **YULIN), submit(app, **XIAN)
    [(_subject, text)] = joined_mails(app, smtp)
    assert in_xian in text
    monkeypatch.setattr(group_events, "joined_mail", render)
    [(_subject, text)] = joined_mails(app, smtp)[1:]  # the next pass
    assert in_yulin in text


@pytest.mark.postgresql_only  # SQLite has one writer: two senders never queue at once
def test_two_senders_queue_one_notice(app, smtp, monkeypatch):
    opened_in_yulin(app, smtp)
    fourth = submit(app, **YULIN)
    render = group_events.joined_mail
    other = threading.Thread(target=lambda: joined_mails(app, smtp))

    def while_another_sender_starts(event, references, count):
        if not other.is_alive() and not other.ident:  # the first sender, its event locked
            other.start()
            with app.app_context():  # the other sender waits for the event's lock (or ends)
                while other.is_alive() and not lock_waiters():
                    time.sleep(0.02)
        return render(event, references, count)

    monkeypatch.setattr(group_events, "joined_mail", while_another_sender_starts)
    joined_mails(app, smtp)
    other.join(10)
    [(_subject, text)] = joined_mails(app, smtp)
    assert fourth in text


@pytest.mark.postgresql_only
def test_a_sender_s_pass_does_not_wait_for_a_case_joining_meanwhile(app, smtp):
    """The pass locks the event FOR NO KEY UPDATE: a case joining holds the event's key only
    (its foreign key's KEY SHARE). Locked FOR UPDATE, the pass waited for every report joining
    the event, and could deadlock with one joining two events in the other order."""
    opened_in_yulin(app, smtp)
    fourth = submit(app, **YULIN)  # joined, not mailed yet
    outsider = submit(app, **YANAN)
    with app.app_context():
        case = db.session.scalar(sa.select(Report.case_id).where(Report.reference == outsider))
        db.session.rollback()
        with db.engine.connect() as joining:  # a report's transaction, joining as `join` does
            joining.execute(
                sa.text(
                    "INSERT INTO group_event_case (group_event_id, case_id, added_at, reference)"
                    " VALUES (1, :case, now(), :reference)"
                ),
                {"case": case, "reference": outsider},
            )
            sender = threading.Thread(target=lambda: joined_mails(app, smtp))
            sender.start()
            sender.join(10)
            assert not sender.is_alive()
            joining.commit()
    [(_subject, text)] = joined_mails(app, smtp)[:1]
    assert fourth in text and outsider not in text
    assert outsider in joined_mails(app, smtp)[1][1]  # the next pass


def test_cases_in_three_cities_do_not_and_a_case_without_area_counts_for_every_area(app):
    for area in (YULIN, XIAN, YANAN):
        submit(app, **area)
    assert events(app) == []
    nowhere = submit(app)
    assert events(app) == []  # two in each city
    submit(app, **YULIN)
    assert events(app) == [("cluster", "陕西省", "榆林市", TODAY, 3)]
    client = signed_in(app, REVIEWER)
    [row] = table_rows(client.get("/staff/group-events").get_data(as_text=True), "group-events")
    assert row[1:3] == [PRODUCT, "陕西省 榆林市"] and row[6:] == ["3", "未结束", NOT_REPORTED]
    page = client.get("/staff/group-events/1").get_data(as_text=True)
    [arealess] = [row for row in table_rows(page, "group-event-cases") if row[0] == nowhere]
    assert arealess[2] == "地区不详，计入各地区"
    english = client.get("/staff/group-events/1?lang=en").get_data(as_text=True)
    assert "Area not known: counted for every area" in english and "Several cases in one" in english


def test_two_deaths_within_a_week_open_a_deaths_event_wherever_they_happened(app):
    client = signed_in(app, REVIEWER)
    submit(app, **DEATH, **YULIN)
    second = phone_call(client, TODAY - timedelta(days=6), **XIAN)
    assert events(app) == []
    # The second becomes fatal through the assessment: the event opens then.
    assert assess(client, second, status="in_review", assessed_outcome="death").status_code == 303
    assert events(app) == [("deaths", "陕西省", None, TODAY, 2)]
    assert [actor for actor, _new in trail(app, "group event opened")] == [REVIEWER]
    submit(app, **DEATH, **YANAN)
    assert events(app) == [("deaths", "陕西省", None, TODAY, 3)]


def test_cases_spread_over_more_than_a_week_do_not_count_together(app):
    client = signed_in(app, REVIEWER)
    phone_call(client, TODAY - timedelta(days=7), **YULIN)
    phone_call(client, TODAY - timedelta(days=1), **YULIN)
    submit(app, **YULIN)
    assert events(app) == []  # 8 days from the first to the last
    phone_call(client, TODAY - timedelta(days=2), **YULIN)  # three from the 7th day back on
    assert events(app) == [("cluster", "陕西省", "榆林市", TODAY - timedelta(days=1), 4)]


@pytest.mark.parametrize(
    "marking",
    [
        {"status": "duplicate"},
        {"status": "invalid", "invalid_reason": "other", "status_reason": "测试提交"},
    ],
)
def test_invalid_and_duplicate_cases_do_not_count(app, marking):
    first, second = submit(app, **YULIN), submit(app, **YULIN)
    client = signed_in(app, REVIEWER)
    fields = marking | ({"duplicate_of": first} if marking["status"] == "duplicate" else {})
    assert assess(client, second, **fields).status_code == 303
    submit(app, **YULIN)
    assert events(app) == []
    submit(app, **YULIN)
    assert events(app) == [("cluster", "陕西省", "榆林市", TODAY, 3)]


def test_staff_report_investigate_and_close_an_event_and_download_its_form(app):
    references = [submit(app, **YULIN, **({"event-serious": ["hospitalization"]} if i else {}))
                  for i in range(3)]  # fmt: skip
    client = signed_in(app, REVIEWER)
    url = "/staff/group-events/1"

    def post(step: str, **fields):
        token = hidden_inputs(client.get(url).get_data(as_text=True))["csrf_token"]
        return client.post(url, data={"csrf_token": token, "step": step, **fields})

    assert client.post(url, data={"step": "close", "close_note": "x"}).status_code == 400  # CSRF
    refused = post("close", close_note="已处理")
    assert refused.status_code == 422 and "已处理" in refused.get_data(as_text=True)
    future = f"{TODAY + timedelta(days=2)}T09:30"
    refused = post(
        "report", reported_at=future, reported_how="电话", reported_to="陕西省药品不良反应监测中心"
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "陕西省药品不良反应监测中心" in page and future in page
    assert post("report", reported_at="yesterday", reported_how="电话").status_code == 422
    assert post("report", reported_at=f"{TODAY}T00:05", reported_how="电话",
                reported_to="陕西省药品不良反应监测中心").status_code == 303  # fmt: skip
    assert post("investigation", investigation_done_on=str(TODAY + timedelta(days=1)),
                findings="同批次").status_code == 422  # fmt: skip
    assert post("investigation", investigation_done_on=str(TODAY),
                findings="=HYPERLINK(\"x\") 同一医院同日输注").status_code == 303  # fmt: skip
    assert post("actions", actions_taken="暂停该批次发货").status_code == 303
    with client.get(f"{url}.xlsx") as sheet:
        assert sheet.status_code == 200
        book = openpyxl.load_workbook(io.BytesIO(sheet.data))
    items = {row[0]: row[1] for row in book["基本信息表"].iter_rows(min_row=2, values_only=True)}
    assert (
        items["发生地区"] == "陕西省 榆林市"
        and items["使用单位/发生单位"] == "绥德县医院；榆林市天宁大药房"
    )
    assert (items["发生不良事件人数"], items["严重不良事件人数"], items["死亡人数"]) == (3, 2, 0)
    assert (
        items["怀疑药品：批准文号"] == "国药准字H61020123"
        and items["怀疑药品：批号"] == "20260315A"
    )
    assert items["用药人数"] is None and items["报告人及联系方式"] is None
    assert items["群体不良事件过程描述及处理情况"].startswith("调查结果：=HYPERLINK")
    cells = [c for row in book["基本信息表"].iter_rows() for c in row]
    assert not any(c.data_type == "f" for c in cells)
    header, *rows = book["病例"].iter_rows(values_only=True)
    assert sorted(row[0] for row in rows) == sorted(references)
    assert header[-2:] == ("转归", "严重性")  # the reaction's outcome, not its seriousness
    outcomes = {term.zh for term in vocab.OUTCOME.values()}
    assert {row[-2] for row in rows} <= outcomes and {row[-1] for row in rows} <= {"严重", "一般"}
    assert trail(app, "group event downloaded") == [(REVIEWER, "1")]
    assert post("close", close_note="调查完毕").status_code == 303
    changed = [new for _actor, new in trail(app, "group event changed")]
    assert [new.split(":")[0] for new in changed] == [
        f"1 {name}"
        for name in (
            "reported_at", "reported_how", "reported_to", "reported_by",
            "investigation_done_on", "investigation_findings", "actions_taken",
            "close_note", "closed_by", "closed_at",
        )
    ]  # fmt: skip
    assert table_rows(client.get("/staff/").get_data(as_text=True), "group-events") == []
    assert post("actions", actions_taken="再次").status_code == 422  # closed
    for bad in ("/staff/group-events/99", "/staff/group-events/x", "/staff/group-events/1x.xlsx"):
        assert client.get(bad).status_code == 404


@pytest.mark.postgresql_only
def test_two_reports_arriving_together_open_one_event(app):
    submit(app, **YULIN)
    submit(app, **YULIN)
    both_flushed = threading.Barrier(2, timeout=10)

    def wait_for_the_other(session, _context):
        if any(isinstance(row, Report) for row in session.new):
            both_flushed.wait()

    sa.event.listen(Session, "after_flush", wait_for_the_other)
    try:
        threads = [threading.Thread(target=lambda: submit(app, **YULIN)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sa.event.remove(Session, "after_flush", wait_for_the_other)
    assert events(app) == [("cluster", "陕西省", "榆林市", TODAY, 4)]


def group_mails(app, smtp) -> list:
    return [m for m in delivered(app, smtp) if "群体不良事件" in m["Subject"]]


def test_areas_are_compared_however_they_are_spelled():
    for spelling in ("陕西", " 陕西省 ", "Shaanxi", "shaanxi province", "ＳＨＡＡＮＸＩ"):
        assert group_events.province_key(spelling) == "陕西省", spelling
    for spelling in ("广西", "广西壮族自治区", "Guangxi"):
        assert group_events.province_key(spelling) == "广西壮族自治区"
    assert group_events.province_key("新疆") == "新疆维吾尔自治区"
    assert group_events.province_key("Hong Kong SAR") == "香港特别行政区"
    assert group_events.city_key("榆林市") == group_events.city_key(" 榆林 ") == "榆林"
    assert group_events.city_key("Yulin") != group_events.city_key("榆林")  # no city table


def test_one_city_spelled_three_ways_opens_one_event_named_as_the_list_and_first_case_say(app):
    submit(app, **{"event-province": "陕西", "event-city": "榆林市"})
    submit(app, **{"event-province": "Shaanxi", "event-city": "榆林"})
    submit(app, **{"event-province": "陕西省", "event-city": " 榆林 "})
    assert events(app) == [("cluster", "陕西省", "榆林市", TODAY, 3)]


def test_an_open_event_takes_no_case_beyond_its_window(app, smtp):
    client = signed_in(app, REVIEWER)
    for _ in range(3):
        phone_call(client, TODAY - timedelta(days=60), **YULIN)
    for _ in range(3):
        submit(app, **YULIN)
    assert [e[3:] for e in events(app)] == [(TODAY - timedelta(days=60), 3), (TODAY, 3)]
    assert len(group_mails(app, smtp)) == 2  # two openings, nothing joined


def test_a_case_joining_an_open_cluster_reads_only_itself(app, smtp, monkeypatch):
    """A product's scare: each case that joins the open cluster is read alone, not with the
    scare's every case (which made storing a report slower with each one)."""
    for _ in range(3):
        submit(app, **YULIN)
    read: list[tuple[date, date]] = []
    cases_of_product = group_events.cases_of_product

    def spied(session, product_id, since, until):
        read.append((since, until))
        return cases_of_product(session, product_id, since, until)

    monkeypatch.setattr(group_events, "cases_of_product", spied)
    for _ in range(2):
        submit(app, **YULIN)
    assert read == []  # no other case read
    assert events(app) == [("cluster", "陕西省", "榆林市", TODAY, 5)]
    submit(app, **XIAN)  # another city: the window is read, and makes no cluster there
    assert read == [(TODAY - timedelta(days=6), TODAY + timedelta(days=6))]
    assert events(app) == [("cluster", "陕西省", "榆林市", TODAY, 5)]


def merge(app, duplicate: str, original: str) -> None:
    """Merge the case of one report into the case of another, as a reviewer does."""
    with app.app_context(), write_transaction() as session:
        case_of = {
            reference: session.scalar(sa.select(Report).where(Report.reference == reference))
            for reference in (duplicate, original)
        }
        merges.merge(session, case_of[duplicate].case, case_of[original].case, REVIEWER)


def test_a_case_merged_away_counts_for_no_window_and_no_count(app, smtp):
    """A duplicate merged into its original keeps its place in the event, without reports: it
    is known on no day, so it neither widens the event's window nor adds to its count."""
    client = signed_in(app, REVIEWER)
    weeks_ago = [phone_call(client, TODAY - timedelta(days=20), **YULIN) for _ in range(3)]
    merge(app, weeks_ago[2], weeks_ago[0])
    today = [submit(app, **YULIN) for _ in range(3)]  # the old event's window is over
    assert events(app) == [
        ("cluster", "陕西省", "榆林市", TODAY - timedelta(days=20), 3),  # the merged one kept
        ("cluster", "陕西省", "榆林市", TODAY, 3),
    ]
    merge(app, today[2], today[0])
    submit(app, **YULIN)
    joined = group_mails(app, smtp)[-1]
    assert joined["Subject"].startswith("群体不良事件 #2：新增 1 例，现共 3 例")


def test_cases_without_area_complete_one_cluster_only_and_the_subject_cuts_what_was_typed(
    app, smtp
):
    submit(app)
    submit(app)
    long_city = "很长的城市名称" * 7
    submit(app, **{"event-province": "<b>某地</b>", "event-city": long_city})
    for i in range(3):
        submit(app, **{"event-province": f"某省{i}", "event-city": f"某市{i}"})
    submit(app, **{"event-province": "陕西省"})  # a province only: no case placed in a city
    assert events(app) == [("cluster", "<b>某地</b>", long_city, TODAY, 3)]
    [mail] = group_mails(app, smtp)
    assert mail["Subject"].endswith("“<b>某地</b>” 很长的城市名称很长的城市名称很长的城市…")


def test_three_deaths_in_one_city_make_one_event_which_staff_may_dismiss(app, smtp):
    for batch in ("B1", "B2", "B3"):
        submit(app, **DEATH, **YULIN, **{"drugs-0-batch_number": batch})
    assert events(app) == [("deaths", "陕西省", "榆林市", TODAY, 3)]
    opening, joined = group_mails(app, smtp)  # one opening; the third joins
    assert opening["Subject"].startswith("药品群体不良事件：阿莫西林胶囊，2 例")
    assert joined["Subject"].startswith("群体不良事件 #1：新增 1 例，现共 3 例")
    client = signed_in(app, REVIEWER)
    url = "/staff/group-events/1"
    token = hidden_inputs(client.get(url).get_data(as_text=True))["csrf_token"]
    refused = client.post(url, data={"csrf_token": token, "step": "dismiss", "dismiss_note": " "})
    assert refused.status_code == 422 and 'id="dismiss_note"' in refused.get_data(as_text=True)
    note = "三例为不同医院的独立过敏，非同一事件"
    dismissed = client.post(
        url, data={"csrf_token": token, "step": "dismiss", "dismiss_note": note}
    )
    assert dismissed.status_code == 303
    assert note in client.get(url).get_data(as_text=True)
    [row] = table_rows(client.get("/staff/group-events").get_data(as_text=True), "group-events")
    assert row[7:] == ["已排除：非群体不良事件", "—"]
    assert (REVIEWER, "1 dismissed: not a group event") in trail(app, "group event changed")
    with client.get(f"{url}.xlsx") as sheet:
        book = openpyxl.load_workbook(io.BytesIO(sheet.data))
    items = {row[0]: row[1] for row in book["基本信息表"].iter_rows(min_row=2, values_only=True)}
    assert items["事件状态"] == f"已排除，非群体不良事件：{note}"


def test_a_corrected_city_makes_the_case_count(app):
    submit(app, **YULIN)
    submit(app, **YULIN)
    xian = submit(app, **XIAN)
    assert events(app) == []
    client = signed_in(app, REVIEWER)
    corrected = correct(client, xian, report=xian, field="event-city", value="榆林市",
                        reason="来电更正地点")  # fmt: skip
    assert corrected.status_code == 303
    assert events(app) == [("cluster", "陕西省", "榆林市", TODAY, 3)]


def test_cases_the_catalogue_links_later_are_counted_then(tmp_path, monkeypatch, smtp):
    app = make_app(tmp_path, monkeypatch, smtp.port)
    for _ in range(3):
        submit(app, **YULIN)
    with app.app_context(), write_transaction():
        product = Product(
            generic_name="阿莫西林胶囊", approval_number="国药准字H61020123", manufacturer="天宁"
        )
        db.session.add(product)
        db.session.flush()
        assert products.relink(product.id, "admin@tianning.example") == 3
    assert events(app) == [("cluster", "陕西省", "榆林市", TODAY, 3)]
    assert [actor for actor, _new in trail(app, "group event opened")] == ["admin@tianning.example"]
