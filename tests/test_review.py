"""The staff workspace: sign-in, access, the case list and page, assessment, audit trail."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from adr import accounts, regulatory
from adr.extensions import db
from adr.models import AuditEntry, Case, Report, User
from adr.review.queries import OWES, Filters, report_query
from tests.conftest import hidden_inputs, reference_of, send_report, valid_report

PASSWORD = "correct horse battery"
REVIEWER, ADMIN, RETIRED = (
    "reviewer@tianning.example",
    "admin@tianning.example",
    "old@tianning.example",
)


@pytest.fixture
def staff(app):
    with app.app_context():
        accounts.create_user(REVIEWER, "审核员", "reviewer", PASSWORD, "test")
        accounts.create_user(ADMIN, "管理员", "admin", PASSWORD, "test")
        accounts.create_user(RETIRED, "离职", "reviewer", PASSWORD, "test")
    return app


def login(client, email: str, password: str = PASSWORD, next_path: str | None = None):
    token = hidden_inputs(client.get("/login").get_data(as_text=True))["csrf_token"]
    path = f"/login?next={next_path}" if next_path else "/login"
    return client.post(path, data={"email": email, "password": password, "csrf_token": token})


def signed_in(app, email: str):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def csrf(client) -> str:
    return hidden_inputs(client.get("/login").get_data(as_text=True))["csrf_token"]


def submit(app, fields=None) -> str:
    return reference_of(send_report(app, valid_report() | (fields or {})))


def stored(app, reference: str) -> Report:
    """Return the report, its case and the case's reports, loaded."""
    with app.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        report.case.reports  # noqa: B018 - load them before the session ends
        db.session.expunge_all()
        return report


def case_of(app, reference: str) -> Case:
    return stored(app, reference).case


def trail(app, reference: str | None = None) -> list[AuditEntry]:
    with app.app_context():
        query = sa.select(AuditEntry).order_by(AuditEntry.id)
        if reference:
            query = query.join(Report, Report.id == AuditEntry.report_id).where(
                Report.reference == reference
            )
        entries = db.session.scalars(query).all()
        db.session.expunge_all()
        return list(entries)


# Access.

ROUTES = [
    ("get", "/staff/", None),
    ("get", "/staff/reports", None),
    ("get", "/staff/reports/{ref}", None),
    ("post", "/staff/reports/{ref}/assessment", {"status": "in_review"}),
    ("get", "/staff/reports/new", None),
    ("post", "/staff/reports/new", {"event-name": "皮疹"}),
    ("get", "/staff/exports/2026-11.xlsx", None),
    ("get", "/staff/exports?month=2026-10", None),
    ("get", "/staff/users", None),
    ("post", "/staff/users", {"action": "none"}),
]
EXPECTED = {  # who: status for each route above
    "anonymous": [302] * 10,
    "reviewer": [200, 200, 200, 303, 200, 422, 200, 303, 403, 403],
    "admin": [200, 200, 200, 303, 200, 422, 200, 303, 200, 303],
    "deactivated": [302] * 10,
}


@pytest.mark.parametrize("who", list(EXPECTED))
def test_access_to_every_staff_route(staff, who):
    reference = submit(staff)
    client = staff.test_client()
    if who in ("reviewer", "admin"):
        login(client, REVIEWER if who == "reviewer" else ADMIN)
    if who == "deactivated":
        login(client, RETIRED)
        with staff.app_context():
            accounts.set_active(RETIRED, False, "test")
    statuses = []
    for method, path, data in ROUTES:
        path = path.format(ref=reference)
        if method == "post":
            response = client.post(path, data={**data, "csrf_token": csrf(client)})
        else:
            response = client.get(path)
        response.close()
        statuses.append(response.status_code)
        if response.status_code == 302:
            assert response.location.startswith("/login?next=/staff"), response.location
        if path.startswith("/staff") and response.status_code in (200, 303, 403):
            assert response.headers["Cache-Control"] == "no-store"
    assert statuses == EXPECTED[who]


def test_a_login_leads_to_the_page_asked_for_and_renews_the_session(staff):
    client = staff.test_client()
    response = client.get("/staff/reports?status=received")
    assert response.location == "/login?next=/staff/reports?status%3Dreceived"
    client.get("/login")
    before = client.get_cookie("session").value
    response = login(client, REVIEWER, next_path="/staff/reports?status=received")
    assert response.status_code == 302 and response.location == "/staff/reports?status=received"
    assert client.get_cookie("session").value != before
    assert client.get("/staff/reports").status_code == 200


@pytest.mark.parametrize(
    "target", ["https://evil.example/x", "//evil.example", "/\\evil.example", "javascript:alert(1)"]
)
def test_a_next_pointing_off_site_is_ignored(staff, target):
    response = login(staff.test_client(), REVIEWER, next_path=target)
    assert response.location == "/staff/"


@pytest.mark.parametrize(
    ("email", "password"),
    [(REVIEWER, "wrong password!"), ("nobody@tianning.example", PASSWORD), (RETIRED.upper(), "x")],
)
def test_every_failed_login_gets_the_same_answer(staff, email, password):
    response = login(staff.test_client(), email, password)
    assert response.status_code == 401
    assert "电子邮箱或密码错误，或账户未启用。" in response.get_data(as_text=True)


def test_a_deactivated_account_cannot_sign_in(staff):
    with staff.app_context():
        accounts.set_active(RETIRED, False, "test")
    assert login(staff.test_client(), RETIRED).status_code == 401


def test_failed_logins_are_limited_per_address_and_per_client(tmp_path, monkeypatch):
    from adr import create_app
    from tests.conftest import app_config

    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    app = create_app(
        app_config(tmp_path, RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT_CLIENT="8 per minute")
    )
    with app.app_context():
        accounts.create_user(REVIEWER, "审核员", "reviewer", PASSWORD, "test")
        accounts.create_user(ADMIN, "管理员", "admin", PASSWORD, "test")
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    statuses = [login(client, REVIEWER, "wrong password!").status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    assert login(client, REVIEWER).status_code == 429  # even the right password, for now
    assert login(client, ADMIN).status_code == 302  # another address still signs in
    holder = app.test_client()
    holder.environ_base["REMOTE_ADDR"] = "198.51.100.4"
    assert login(holder, REVIEWER).status_code == 302  # the guessing does not lock her out
    statuses = [login(client, f"u{n}@tianning.example", "x").status_code for n in range(4)]
    assert statuses == [401, 401, 401, 429]  # the ninth failure from this client is refused


def test_many_failed_logins_for_an_account_alert_its_holder_once(staff):
    from adr.models import OutboxMail

    for number in range(12):  # from many clients, each under its own limit
        client = staff.test_client()
        client.environ_base["REMOTE_ADDR"] = f"203.0.113.{number}"
        assert login(client, REVIEWER, "wrong password!").status_code == 401
    assert login(staff.test_client(), REVIEWER).status_code == 302  # never locked out
    with staff.app_context():
        alerts = db.session.scalars(sa.select(OutboxMail).where(OutboxMail.kind == "login_alert"))
        (alert,) = alerts.all()
        assert alert.recipients == [REVIEWER] and "10" in alert.body_text
        assert "/staff/account" in alert.body_text and "203.0.113" not in alert.body_text
        actions = db.session.scalars(
            sa.select(AuditEntry.action).where(AuditEntry.actor == REVIEWER)
        )
        assert list(actions).count("login alert") == 1


@pytest.mark.postgresql_only
def test_two_failed_logins_at_once_are_counted_one_after_the_other(staff):
    """The second failure at the threshold sees the first, committed meanwhile: counted side by
    side, each would see itself alone and neither alert (or, past it, both)."""
    import threading
    import time

    from adr import audit
    from adr.models import write_transaction
    from tests.test_batches import lock_waiters

    staff.config["LOGIN_ALERT_THRESHOLD"] = 2
    counted, second_done = threading.Event(), threading.Event()

    def fail(then=lambda: None) -> None:
        with staff.app_context(), write_transaction() as session:
            audit.record(session, REVIEWER, "login failed")
            accounts.alert_on_repeated_failures(session, REVIEWER)
            then()

    def hold_until_the_second_waits_or_ends() -> None:
        counted.set()
        deadline = time.monotonic() + 10
        while not (second_done.is_set() or lock_waiters()) and time.monotonic() < deadline:
            time.sleep(0.02)

    first = threading.Thread(target=fail, args=(hold_until_the_second_waits_or_ends,))
    first.start()
    assert counted.wait(20)
    fail()  # the second: waits for the first to commit
    second_done.set()
    first.join(20)
    with staff.app_context():
        actions = db.session.scalars(
            sa.select(AuditEntry.action).where(AuditEntry.actor == REVIEWER)
        )
        assert sorted(actions) == ["login alert", "login failed", "login failed"]


def test_logout_ends_the_session(staff):
    client = signed_in(staff, REVIEWER)
    assert client.post("/logout", data={"csrf_token": csrf(client)}).status_code == 302
    assert client.get("/staff/").status_code == 302


def test_logins_and_failures_are_audited(staff):
    signed_in(staff, REVIEWER)
    login(staff.test_client(), REVIEWER, "wrong password!")
    actions = [(e.actor, e.action) for e in trail(staff)]
    assert (REVIEWER, "login") in actions and (REVIEWER, "login failed") in actions


# Dashboard and list.


def test_the_dashboard_counts_link_to_the_list(staff):
    submit(staff)
    serious = submit(staff, {"event-serious": ["hospitalization"]})
    with staff.app_context():
        db.session.execute(
            sa.update(Report)
            .where(Report.reference == serious)
            .values(due_at=datetime.now(UTC) - timedelta(hours=1))
        )
        db.session.commit()
    page = signed_in(staff, REVIEWER).get("/staff/").get_data(as_text=True)
    assert "<strong>2</strong> 今日收到报告" in page
    assert "<strong>1</strong> 逾期未报" in page
    assert "/staff/reports?overdue=1" in page


def test_the_list_filters_and_searches(staff):
    first = submit(staff)
    second = submit(
        staff, {"drugs-0-batch_number": "B9", "patient-name": "李四", "event-name": "头痛"}
    )
    client = signed_in(staff, REVIEWER)

    def listed(query: str) -> set[str]:
        page = client.get(f"/staff/reports?{query}").get_data(as_text=True)
        return {ref for ref in (first, second) if ref in page}

    assert listed("") == {first, second}
    assert listed("batch=b9") == {second}
    assert listed("q=B9") == {second}
    assert listed("q=李四") == {second}
    assert listed("q=头痛") == {second}
    assert listed("q=阿莫西林") == {first, second}
    assert listed(f"q={first.lower()}") == {first}
    assert listed("status=received") == {first, second}
    assert listed("status=closed") == set()
    assert listed("serious=1") == set()
    month = f"{datetime.now(regulatory.CHINA):%Y-%m}"
    assert listed(f"month={month}") == {first, second}
    assert listed("month=2020-01") == set()
    assert listed("month=bogus") == set()


def test_the_list_pages_by_50_in_the_due_order(staff):
    # A past month and a seed: the same reports every run, some still owed to the regulator.
    demo = ["demo-data", "--reports", "120", "--month", "2026-10", "--seed", "5"]
    assert staff.test_cli_runner().invoke(args=demo).exit_code == 0
    client = signed_in(staff, REVIEWER)
    pages = [client.get(f"/staff/reports?page={n}").get_data(as_text=True) for n in (1, 2, 3)]
    assert "第 1 页，共 3 页" in pages[0]
    listed = [re.findall(r'href="/staff/reports/(ADR-[^"#]+)"', page) for page in pages]
    assert [len(references) for references in listed] == [50, 50, 20]
    in_order = [reference for references in listed for reference in references]
    with staff.app_context():  # the same order as one query sorting every report
        query = report_query(Filters(sort="due"), datetime.now(UTC))
        assert in_order == [report.reference for report in db.session.scalars(query)]
        owing = db.session.scalar(sa.select(sa.func.count()).where(OWES))
    assert owing % 50 and 0 < owing < 100, owing  # what owes ends inside page 1 or 2


# The case page.


def test_the_case_page_shows_the_report_escaped_and_audits_the_view(staff):
    reference = submit(staff, {"event-description": "<script>alert('x')</script> 皮疹加重"})
    page = signed_in(staff, REVIEWER).get(f"/staff/reports/{reference}").get_data(as_text=True)
    assert "&lt;script&gt;alert(" in page and "<script>alert(" not in page
    for shown in (
        "王丽",
        "阿莫西林胶囊",
        "20260315A",
        "好转",
        "药师",
        "吸烟史、过敏史",
        "完整度" if False else "100%",
    ):
        assert shown in page
    assert "有效病例" in page and "收到报告" in page
    assert "<dd>是</dd>" in page and "True" not in page  # consents, in the page's language
    assert [e.action for e in trail(staff, reference)][-1] == "case viewed"


def test_the_case_page_shows_the_chain_and_the_mails(staff):
    first = submit(staff)
    follow_up = submit(staff, {"follow_up_of": first})
    page = signed_in(staff, REVIEWER).get(f"/staff/reports/{follow_up}").get_data(as_text=True)
    assert f'href="/staff/reports/{first}"' in page and "本病例的报告" in page
    assert "待发送" in page  # its mails, not yet sent


def test_an_unknown_case_is_404(staff):
    assert signed_in(staff, REVIEWER).get("/staff/reports/ADR-202611-ZZZZZZ").status_code == 404


# Assessment.


def assess(client, reference: str, **fields):
    data = {
        "status": fields.pop("status", None) or "received",
        "csrf_token": csrf(client),
        **fields,
    }
    return client.post(f"/staff/reports/{reference}/assessment", data=data)


def test_the_workflow_moves_only_along_its_transitions(staff):
    reference = submit(staff)
    client = signed_in(staff, REVIEWER)
    assert assess(client, reference, status="submitted").status_code == 422  # received → submitted
    assert assess(client, reference, status="in_review").status_code == 303
    assert assess(client, reference, status="assessed").status_code == 303
    refused = assess(client, reference, status="submitted")
    assert refused.status_code == 422 and "请填写上报国家系统的日期" in refused.get_data(
        as_text=True
    )
    sent = assess(
        client,
        reference,
        status="submitted",
        submitted_to_regulator_on=regulatory.china_today().isoformat(),
        national_case_number="202661000123",
    )
    assert sent.status_code == 303
    case = case_of(staff, reference)
    assert (case.status, case.national_case_number) == ("submitted", "202661000123")
    assert case.reports[0].submitted_to_regulator_on == regulatory.china_today()
    assert (
        assess(
            client,
            reference,
            status="closed",
            national_case_number="202661000123",
            submitted_to_regulator_on=regulatory.china_today().isoformat(),
        ).status_code
        == 303
    )
    assert assess(client, reference, status="assessed").status_code == 422  # closed → assessed


@pytest.mark.parametrize(
    ("old", "new", "allowed"),
    [
        ("received", "in_review", True),
        ("received", "assessed", True),  # when the assessment is complete (issue 21)
        ("received", "submitted", False),
        ("in_review", "assessed", True),
        ("assessed", "submitted", True),
        ("submitted", "closed", True),
        ("closed", "received", False),
        ("invalid", "in_review", True),
        ("duplicate", "submitted", False),
        ("received", "received", True),
    ],
)
def test_transitions(old, new, allowed):
    assert regulatory.can_move(old, new) is allowed


def test_invalid_needs_a_reason_and_duplicate_an_original(staff):
    first = submit(staff)
    second = submit(staff)
    client = signed_in(staff, REVIEWER)
    assert "请选择病例无效的原因" in assess(client, second, status="invalid").get_data(as_text=True)
    other = assess(client, second, status="invalid", invalid_reason="other")
    assert other.status_code == 422 and "请说明病例无效的原因" in other.get_data(as_text=True)
    assert (
        assess(client, second, status="duplicate", duplicate_of="ADR-202611-ZZZZZZ").status_code
        == 422
    )
    assert assess(client, second, status="duplicate", duplicate_of=second).status_code == 422
    assert assess(client, second, status="duplicate", duplicate_of=first.lower()).status_code == 303
    assert case_of(staff, second).id == case_of(staff, first).id  # merged into the original


def test_expectedness_and_seriousness_recompute_the_deadline_from_day_0(staff):
    reference = submit(staff)
    received = stored(staff, reference).received_at
    client = signed_in(staff, REVIEWER)

    def day(report: Report) -> timedelta:
        return regulatory.china_date(report.due_at) - regulatory.china_date(received)

    assert day(stored(staff, reference)) == timedelta(days=30)
    assess(client, reference, expectedness="new")
    report = stored(staff, reference)  # the holder's clock: a new non-serious reaction, 30 days
    assert (report.report_category, day(report)) == ("new", timedelta(days=30))
    assess(client, reference, expectedness="new", assessed_serious=["hospitalization"])
    report = stored(staff, reference)
    assert (report.report_category, report.serious, day(report)) == (
        "new_serious",
        True,
        timedelta(days=15),
    )
    assert assess(client, reference, expectedness="listed").status_code == 422  # a later deadline
    assess(client, reference, expectedness="listed", decision_reason="说明书已载明,未住院")
    report = stored(staff, reference)
    assert (report.report_category, report.serious, day(report)) == (
        "general",
        False,
        timedelta(days=30),
    )
    assert report.received_at == received


def test_a_death_stays_due_at_once(staff):
    reference = submit(
        staff,
        {"event-outcome": "death", "event-death_cause": "休克", "event-death_date": "2026-11-22"},
    )
    client = signed_in(staff, REVIEWER)
    assess(client, reference, expectedness="listed")
    report = stored(staff, reference)
    assert report.due_at.astimezone(regulatory.CHINA).date() - report.received_at.astimezone(
        regulatory.CHINA
    ).date() == timedelta(days=1)


def test_causality_naranjo_and_notes_are_kept_and_audited(staff):
    reference = submit(staff)
    client = signed_in(staff, REVIEWER)
    answers = {
        f"naranjo_{i}": a
        for i, a in enumerate(
            ["yes", "yes", "yes", "unknown", "no", "unknown", "unknown", "unknown", "no", "yes"]
        )
    }
    assert (
        assess(
            client, reference, company_causality="probable", note="已电话联系报告人。", **answers
        ).status_code
        == 303
    )
    assess(client, reference, company_causality="probable", note="第二条备注", **answers)
    case = case_of(staff, reference)
    assert case.company_causality == "probable"
    assert case.naranjo_score == 1 + 2 + 1 + 0 + 2 + 0 + 0 + 0 + 0 + 1
    entries = [
        (e.actor, e.action, e.field, e.old_value, e.new_value) for e in trail(staff, reference)
    ]
    assert (REVIEWER, "assessment", "company_causality", None, "probable") in entries
    assert (REVIEWER, "assessment", "naranjo_score", None, "7") in entries
    assert [e[4] for e in entries if e[1] == "note added"] == ["已电话联系报告人。", "第二条备注"]
    page = client.get(f"/staff/reports/{reference}").get_data(as_text=True)
    assert (
        "7 — 很可能(5–8分)；建议评价为“很可能”" in page
        and "已电话联系报告人。" in page
        and "第二条备注" in page
    )


@pytest.mark.parametrize(
    ("score", "band", "level"),
    [
        (9, "definite", "certain"),
        (13, "definite", "certain"),
        (5, "probable", "probable"),
        (8, "probable", "probable"),
        (1, "possible", "possible"),
        (4, "possible", "possible"),
        (0, "doubtful", "unlikely"),
        (-4, "doubtful", "unlikely"),
    ],
)
def test_naranjo_bands(score, band, level):
    assert regulatory.naranjo_band(score) == band
    assert regulatory.SUGGESTED_CAUSALITY[band] == level


def test_naranjo_scores_each_answer():
    assert regulatory.naranjo_score(["yes"] * 10) == 8
    assert regulatory.naranjo_score(["no"] * 10) == -1 + -1 + 2 + 1
    assert regulatory.naranjo_score(["unknown"] * 10) == 0
    with pytest.raises(ValueError):
        regulatory.naranjo_score(["yes"] * 9)


# The audit trail.


def test_adr_audit_verify_finds_an_edited_or_removed_row(staff):
    reference = submit(staff)
    client = signed_in(staff, REVIEWER)
    assess(client, reference, status="in_review")
    runner = staff.test_cli_runner()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "the audit trail holds" in result.output
    entries = trail(staff)
    victim = entries[len(entries) // 2]
    with staff.app_context():
        db.session.execute(
            sa.update(AuditEntry).where(AuditEntry.id == victim.id).values(actor="someone else")
        )
        db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert (
        result.exit_code == 1
        and f"audit entry {victim.id}" in result.output
        and "edited" in result.output
    )
    with staff.app_context():
        db.session.execute(
            sa.update(AuditEntry).where(AuditEntry.id == victim.id).values(actor=victim.actor)
        )
        db.session.execute(sa.delete(AuditEntry).where(AuditEntry.id == entries[2].id))
        db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert (
        result.exit_code == 1
        and f"audit entry {entries[3].id}" in result.output
        and "removed" in result.output
    )


# Export download and accounts.


def test_the_month_workbook_downloads_and_is_audited(staff):
    submit(staff)
    month = f"{datetime.now(regulatory.CHINA):%Y-%m}"
    with signed_in(staff, REVIEWER).get(f"/staff/exports/{month}.xlsx") as response:
        assert response.status_code == 200
        content = response.data
    assert response.headers["Content-Disposition"].endswith(f"ADR-{month}.xlsx")
    workbook = load_workbook(io.BytesIO(content))
    assert workbook["个例报告"].max_row == 2
    assert any(e.action == "export downloaded" and e.field == month for e in trail(staff))
    assert signed_in(staff, REVIEWER).get("/staff/exports/2026-13.xlsx").status_code == 404


def test_admins_add_and_deactivate_accounts(staff):
    client = signed_in(staff, ADMIN)
    token = csrf(client)
    client.post(
        "/staff/users",
        data={
            "action": "create",
            "email": "New@Tianning.example",
            "name": "新人",
            "role": "reviewer",
            "password": "long enough password",
            "csrf_token": token,
        },
    )
    client.post(
        "/staff/users",
        data={
            "action": "create",
            "email": "short@tianning.example",
            "name": "x",
            "role": "reviewer",
            "password": "short",
            "csrf_token": token,
        },
    )
    client.post(
        "/staff/users", data={"action": "deactivate", "email": REVIEWER, "csrf_token": token}
    )
    with staff.app_context():
        users = {u.email: u.active for u in db.session.scalars(sa.select(User))}
    assert users["new@tianning.example"] is True and "short@tianning.example" not in users
    assert users[REVIEWER] is False
    assert (
        login(staff.test_client(), "new@tianning.example", "long enough password").status_code
        == 302
    )


def test_adr_create_user_set_password_and_deactivate(app):
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=["create-user", "Ops@Tianning.example", "--role", "admin", "--password-stdin"],
        input="a very long password\n",
    )
    assert created.exit_code == 0, created.output
    assert (
        runner.invoke(
            args=["create-user", "x@tianning.example", "--role", "reviewer", "--password-stdin"],
            input="short\n",
        ).exit_code
        == 1
    )
    assert (
        runner.invoke(
            args=["create-user", "ops@tianning.example", "--role", "admin", "--password-stdin"],
            input="a very long password\n",
        ).exit_code
        == 1
    )
    assert (
        runner.invoke(
            args=["set-password", "ops@tianning.example", "--password-stdin"],
            input="another long password\n",
        ).exit_code
        == 0
    )
    assert (
        login(app.test_client(), "ops@tianning.example", "another long password").status_code == 302
    )
    assert runner.invoke(args=["deactivate-user", "ops@tianning.example"]).exit_code == 0
    assert (
        login(app.test_client(), "ops@tianning.example", "another long password").status_code == 401
    )
    prompted = runner.invoke(
        args=["create-user", "p@tianning.example", "--role", "reviewer"],
        input="a very long password\na very long password\n",
    )
    assert prompted.exit_code == 0, prompted.output


@pytest.mark.parametrize("typed", [ADMIN, f" {ADMIN}", ADMIN.upper(), f"\t{ADMIN.title()} "])
def test_an_admin_cannot_deactivate_their_own_account_however_it_is_typed(staff, typed):
    client = signed_in(staff, ADMIN)
    response = client.post(
        "/staff/users", data={"action": "deactivate", "email": typed, "csrf_token": csrf(client)}
    )
    assert response.status_code == 303
    assert "不能停用自己的账户。" in client.get("/staff/users").get_data(as_text=True)
    with staff.app_context():
        assert accounts.find_user(ADMIN).active
    assert "account deactivated" not in [entry.action for entry in trail(staff)]


def test_adr_reactivate_user_lets_a_deactivated_account_sign_in_again(staff):
    runner = staff.test_cli_runner()
    assert runner.invoke(args=["deactivate-user", RETIRED]).exit_code == 0
    assert login(staff.test_client(), RETIRED).status_code == 401
    result = runner.invoke(args=["reactivate-user", f" {RETIRED.upper()}"])
    assert result.exit_code == 0, result.output
    assert f"reactivated {RETIRED}" in result.output
    assert login(staff.test_client(), RETIRED).status_code == 302
    entries = [(e.actor, e.action, e.field) for e in trail(staff)]
    assert ("adr reactivate-user", "account reactivated", RETIRED) in entries
    unknown = runner.invoke(args=["reactivate-user", "nobody@tianning.example"])
    assert unknown.exit_code == 1 and "no account for nobody@tianning.example" in unknown.output


def test_the_staff_pages_in_chinese_show_no_english(staff):
    from tests.test_i18n import LATIN_ON_CHINESE_PAGES, latin_words

    reference = submit(staff)
    client = signed_in(staff, REVIEWER)
    assess(client, reference, status="in_review", note="备注")
    allowed = LATIN_ON_CHINESE_PAGES | {"WHO-UMC", "Naranjo", "MZ", "Ctrl", "Enter"}  # MZ: typed
    # The E2B section: the standard's and MedDRA's names, and the settings it names.
    allowed |= {"MedDRA", "LLT", "ADR", "SENDER", "RECEIVER", "ID", "MAH"}
    allowed |= {"PT", "SOC", "adr", "import-meddra", "DIR"}  # the reactions section
    allowed |= {"cm", "PDF"}  # the holder form: 身高(cm), the case as a PDF
    allowed |= {"DOI"}  # a literature report's citation
    allowed |= {"JPEG", "PNG", "eml"}  # the source documents staff may add
    for path in ("/staff/", "/staff/reports", f"/staff/reports/{reference}", "/staff/reports/new"):
        words = latin_words(client.get(path).get_data(as_text=True))
        assert {w for w in words - allowed if w not in reference} == set(), path


def test_the_case_pages_read_in_english(staff):
    first = submit(staff)
    follow_up = submit(staff, {"follow_up_of": first})
    client = signed_in(staff, REVIEWER)
    page = client.get(f"/staff/reports/{follow_up}?lang=en").get_data(as_text=True)
    for shown in (
        "Reports of this case",
        "Day 0",
        "Web form",
        "Follow-up",
        "The case as it stands",
    ):
        assert shown in page
    form = client.get(f"/staff/reports/new?follow_up_of={first}").get_data(as_text=True)
    assert "Date we first knew" in form and "Post-marketing study" in form


def test_the_failed_mail_tile_lists_the_reports_whose_mail_failed(staff):
    from adr.models import OutboxMail

    failed, fine = submit(staff), submit(staff)
    with staff.app_context():
        report_id = db.session.scalar(sa.select(Report.id).where(Report.reference == failed))
        db.session.execute(
            sa.update(OutboxMail).where(OutboxMail.report_id == report_id).values(status="failed")
        )
        db.session.commit()
    client = signed_in(staff, REVIEWER)
    assert "<strong>1</strong> 邮件发送失败的报告" in client.get("/staff/").get_data(as_text=True)
    page = client.get("/staff/reports?mail_failed=1").get_data(as_text=True)
    assert failed in page and fine not in page


# A refused assessment, the status choices and the audit rows of a move.


def options_of(page: str, name: str) -> list[tuple[str, str]]:
    """Return the (value, label) pairs a select offers, in order."""
    select = re.search(rf'<select[^>]* name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select, name
    return re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', select[1])


def test_a_refused_assessment_opens_with_its_errors_at_the_top_in_page_order(staff):
    from tests.test_form_rules import Page

    reference = submit(staff)
    client = signed_in(staff, REVIEWER)
    refused = assess(client, reference, status="submitted", assessed_serious=["death"])
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    top = html.index('id="error-summary"')
    assert html.index("</h1>") < top < html.index('id="assessment"')  # at the top, not below
    summary = Page(html).ids["error-summary"]
    assert (summary["role"], summary["tabindex"]) == ("alert", "-1")
    assert "error-summary.js" in html  # moves the focus there
    assert Page(html).links == [
        "#status",
        "#assessed_outcome",
        "#submitted_to_regulator_on",
        "#national_case_number",
    ]
    assert "处理状态：病例不能从“已接收”转为“已上报”。" in html  # labels, not codes
    assert "received" not in html.split('id="error-summary"')[1].split("</div>")[0]
    status = Page(html).ids["status"]
    assert (status["aria-invalid"], status["aria-describedby"]) == (
        "true",
        "status-error status-hint",
    )
    assert 'id="status-error">病例不能从' in html  # and the message beside the field

    invalid = assess(client, reference, naranjo_3="perhaps").get_data(as_text=True)
    assert Page(invalid).links == ["#naranjo_3"]
    assert '<details class="more" open>' in invalid  # the question in error is shown


def test_the_status_offers_the_legal_moves_only_in_the_page_language(staff):
    reference = submit(staff)
    client = signed_in(staff, REVIEWER)
    page = client.get(f"/staff/reports/{reference}").get_data(as_text=True)
    assert options_of(page, "status") == [
        ("received", "已接收"),
        ("in_review", "审核中"),
        ("assessed", "已评价"),  # in one step when the assessment is complete
        ("invalid", "无效"),
        ("duplicate", "重复"),
    ]
    assess(client, reference, status="in_review")
    page = client.get(f"/staff/reports/{reference}?lang=en").get_data(as_text=True)
    assert options_of(page, "status") == [
        ("in_review", "In review"),
        ("assessed", "Assessed"),
        ("invalid", "Invalid"),
        ("duplicate", "Duplicate"),
    ]
    refused = assess(client, reference, status="closed").get_data(as_text=True)
    assert "A case cannot go from In review to Closed." in refused


def test_a_move_audits_what_changed_and_nothing_else(staff):
    reference = submit(staff)
    client = signed_in(staff, REVIEWER)

    def assessed() -> list[tuple[str | None, str | None, str | None]]:
        entries = trail(staff, reference)
        return [(e.field, e.old_value, e.new_value) for e in entries if e.action == "assessment"]

    assess(client, reference, status="in_review")
    assert assessed() == [("status", "received", "in_review")]
    assess(client, reference, status="in_review")  # the same again: no row
    assert len(assessed()) == 1
    with staff.app_context():  # an assessment saved before: "no criteria" kept as []
        db.session.execute(sa.update(Case).values(assessed_serious=[]))
        db.session.commit()
    assess(client, reference, status="in_review")
    assess(client, reference, status="in_review", assessed_serious=["hospitalization"])
    # Withdrawing it gives a later deadline: refused without a reason.
    assert assess(client, reference, status="in_review").status_code == 422
    assess(client, reference, status="in_review", decision_reason="住院与本品无关")
    assert assessed()[1:] == [
        ("assessed_serious", None, '["hospitalization"]'),
        ("assessed_serious", '["hospitalization"]', None),
    ]
    assert all(old != new for _, old, new in assessed())


def test_record_change_skips_what_did_not_change(app):
    from adr import audit
    from adr.models import write_transaction

    with app.app_context(), write_transaction() as session:
        assert not audit.record_change(session, "t", "assessment", None, "x", None, [])
        assert not audit.record_change(session, "t", "assessment", None, "x", "", None)
        assert not audit.record_change(session, "t", "assessment", None, "x", "a", "a")
        assert audit.record_change(session, "t", "assessment", None, "x", 0, None)
        assert audit.record_change(session, "t", "assessment", None, "x", None, "a")
    assert [(e.old_value, e.new_value) for e in trail(app)] == [("0", None), (None, "a")]


# Numbers, roles, the month picker, mail trouble.


def test_numbers_show_as_typed(staff):
    reference = submit(
        staff, {"drugs-0-dose": "3", "drugs-1-dose": "2.50", "patient-weight_kg": "10"}
    )
    page = signed_in(staff, REVIEWER).get(f"/staff/reports/{reference}").get_data(as_text=True)
    for shown in ("<dt>每次剂量</dt><dd>3</dd>", "<dd>2.5</dd>", "<dt>体重(kg)</dt><dd>10</dd>"):
        assert shown in page
    assert "3.0" not in page and "E+" not in page


@pytest.mark.parametrize(
    ("number", "shown"),
    [(3.0, "3"), (2.5, "2.5"), (10.0, "10"), (100000.0, "100000"), (0.0001, "0.0001")],
)
def test_plain_number(number, shown):
    from adr.intake.forms import plain_number

    assert plain_number(number) == shown


def test_the_users_page_names_roles_in_the_page_language_and_reflows(staff):
    client = signed_in(staff, ADMIN)
    page = client.get("/staff/users").get_data(as_text=True)
    for label in ("审核员", "管理员"):
        assert f'<td data-label="角色">{label}</td>' in page
    assert ">reviewer<" not in page and ">admin<" not in page
    assert options_of(page, "role") == [("reviewer", "审核员"), ("admin", "管理员")]
    assert 'class="cases reflow"' in page
    english = client.get("/staff/users?lang=en").get_data(as_text=True)
    assert options_of(english, "role") == [("reviewer", "Reviewer"), ("admin", "Administrator")]


def test_the_month_picker_leads_to_last_months_workbook(staff):
    from adr.regulator.workbook import previous_month

    client = signed_in(staff, REVIEWER)
    page = client.get("/staff/?lang=en").get_data(as_text=True)
    last = previous_month(datetime.now(UTC))
    assert 'action="/staff/exports"' in page
    assert f'name="month" value="{last}"' in page
    response = client.get(f"/staff/exports?month={last}")
    assert response.status_code == 303 and response.location == f"/staff/exports/{last}.xlsx"
    with client.get(response.location) as workbook:
        assert workbook.status_code == 200


@pytest.mark.parametrize("month", ["", "2026-13", "bogus", "0001-01", "9999-12", "2026-1"])
def test_a_bad_month_gets_a_message(staff, month):
    client = signed_in(staff, REVIEWER)
    response = client.get("/staff/exports", query_string={"month": month, "lang": "en"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="export-month-error">Choose a month, written like' in page
    assert 'aria-invalid="true"' in page
    assert client.get(f"/staff/exports/{month or 'x'}.xlsx").status_code == 404
    assert client.get("/staff/reports", query_string={"month": month}).status_code == 200


@pytest.mark.parametrize(
    ("now", "month"),
    [
        (datetime(2026, 1, 15, tzinfo=UTC), "2025-12"),
        (datetime(2026, 10, 31, 17, 0, tzinfo=UTC), "2026-10"),  # 1 November in China
        (datetime(2026, 3, 1, 0, 0, tzinfo=UTC), "2026-02"),
    ],
)
def test_previous_month_is_counted_in_china(now, month):
    from adr.regulator.workbook import previous_month

    assert previous_month(now) == month


def test_mail_trouble_is_summed_up_once_on_the_dashboard(staff):
    from adr.models import OutboxMail

    first = submit(staff)
    submit(staff, {"follow_up_of": first})
    refused = "ConnectionRefusedError: [Errno 111] Connection refused"
    with staff.app_context():
        mails = db.session.scalars(sa.select(OutboxMail).order_by(OutboxMail.id)).all()
        for mail in mails:
            mail.attempts, mail.last_error = 2, refused
        mails[-1].status = "failed"
        mails[-1].last_error = "550 5.1.1 <wangli@example.com>: Recipient address rejected"
        oldest = mails[0].created_at
        db.session.commit()
    client = signed_in(staff, REVIEWER)
    page = client.get("/staff/?lang=en").get_data(as_text=True)
    summary = page.split('id="mail-trouble"')[1].split("</div>")[0]
    assert "Mails not delivered: 4" in summary
    assert f"{oldest.astimezone(regulatory.CHINA):%Y-%m-%d %H:%M}" in summary
    assert "550 5.1.1 &lt;&lt;address&gt;&gt;: Recipient address rejected" in summary
    assert "wangli" not in summary and first not in summary
    case = client.get(f"/staff/reports/{first}?lang=en").get_data(as_text=True)
    assert case.count(refused) == 1 and case.count('href="#mail-error-1"') == 3
    assert case.count('href="#mail-error-2"') == 1


def test_no_mail_trouble_no_summary(staff):
    submit(staff)  # its mails wait for their first attempt
    page = signed_in(staff, REVIEWER).get("/staff/").get_data(as_text=True)
    assert 'id="mail-trouble"' not in page
