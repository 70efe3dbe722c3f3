"""Staff sessions that end, and the second factor: each test a small story of a staff member."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from adr import accounts, config, create_app
from adr.extensions import db
from adr.models import AuditEntry, OutboxMail, Report, User
from tests.conftest import app_config, hidden_inputs

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"
ANNA, BOSS = "anna@tianning.example", "boss@tianning.example"
ENDED = "会话已结束，请重新登录。"


@pytest.fixture
def staff(app):
    with app.app_context():
        accounts.create_user(ANNA, "安娜", "reviewer", PASSWORD, "test")
        accounts.create_user(BOSS, "主管", "admin", PASSWORD, "test")
    return app


def staff_app(tmp_path, monkeypatch, **settings):
    """Return an app with its own settings, holding Anna's account."""
    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    app = create_app(app_config(tmp_path, **settings))
    with app.app_context():
        accounts.create_user(ANNA, "安娜", "reviewer", PASSWORD, "test")
    return app


def csrf(client, path: str = "/login") -> str:
    return hidden_inputs(client.get(path).get_data(as_text=True))["csrf_token"]


def login(client, email: str = ANNA, password: str = PASSWORD, **extra: str):
    data = {"email": email, "password": password, "csrf_token": csrf(client), **extra}
    return client.post("/login", data=data)


def signed_in(app, email: str = ANNA):
    client = app.test_client()
    assert login(client, email).location == "/staff/"
    return client


def copy_of(app, client):
    """Return another browser holding a copy of `client`'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def opens_staff_pages(client) -> bool:
    response = client.get("/staff/reports")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def post_form(client, path: str, **fields: str):
    return client.post(path, data={"csrf_token": csrf(client, path="/staff/account"), **fields})


def actions(app) -> list[tuple[str, str, str | None]]:
    with app.app_context():
        entries = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).all()
        return [(e.actor, e.action, e.field) for e in entries]


def audit_text(app) -> str:
    with app.app_context():
        entries = db.session.scalars(sa.select(AuditEntry)).all()
        return " ".join(
            f"{e.actor} {e.action} {e.field} {e.old_value} {e.new_value}" for e in entries
        )


# Sessions that end.


def test_a_cookie_copied_before_logout_opens_nothing_after_it(staff):
    laptop = signed_in(staff)
    thief = copy_of(staff, laptop)
    assert opens_staff_pages(thief)
    laptop.post("/logout", data={"csrf_token": csrf(laptop)})
    response = thief.get("/staff/reports")
    assert response.status_code == 302 and response.location.startswith("/login?next=/staff")
    assert ENDED in thief.get(response.location).get_data(as_text=True)
    assert (ANNA, "logout", None) in actions(staff)


def test_signing_out_on_one_device_signs_out_the_others(staff):
    laptop, phone = signed_in(staff), signed_in(staff)
    phone.post("/logout", data={"csrf_token": csrf(phone)})
    assert not opens_staff_pages(laptop)


def test_a_new_password_ends_every_older_session_but_the_one_that_set_it(staff):
    laptop, phone = signed_in(staff), signed_in(staff)
    thief = copy_of(staff, laptop)
    response = post_form(
        laptop,
        "/staff/account/password",
        current_password=PASSWORD,
        new_password=NEW_PASSWORD,
        repeated=NEW_PASSWORD,
    )
    assert response.status_code == 303
    assert opens_staff_pages(laptop)
    assert not opens_staff_pages(thief) and not opens_staff_pages(phone)
    assert login(staff.test_client()).status_code == 401
    assert login(staff.test_client(), password=NEW_PASSWORD).status_code == 302
    assert (ANNA, "password set", ANNA) in actions(staff)
    assert PASSWORD not in audit_text(staff) and NEW_PASSWORD not in audit_text(staff)


def test_a_password_change_needs_the_current_password_and_a_long_new_one(staff):
    laptop = signed_in(staff)
    wrong = post_form(
        laptop,
        "/staff/account/password",
        current_password="not my password",
        new_password=NEW_PASSWORD,
        repeated=NEW_PASSWORD,
    )
    assert wrong.status_code == 422 and "当前密码错误。" in wrong.get_data(as_text=True)
    short = post_form(
        laptop,
        "/staff/account/password",
        current_password=PASSWORD,
        new_password="too short",
        repeated="too short",
    )
    assert short.status_code == 422
    assert login(staff.test_client()).status_code == 302  # the old password still holds


def test_passwords_are_hashed_with_the_deployment_s_method(tmp_path, monkeypatch, runner):
    """Scrypt at its own cost unless the deployment says otherwise; a new method applies to each
    password set from then on, and the older hashes still open their accounts."""
    assert config.PASSWORD_HASH_METHOD == "scrypt"  # the default
    app = staff_app(tmp_path, monkeypatch, PASSWORD_HASH_METHOD="scrypt:2048:8:1")
    with app.app_context():
        assert accounts.find_user(ANNA).password_hash.startswith("scrypt:2048:8:1$")
    app.config["PASSWORD_HASH_METHOD"] = "pbkdf2:sha256:1000"
    assert login(app.test_client()).location == "/staff/"
    with app.app_context():
        accounts.set_password(ANNA, NEW_PASSWORD, "test")
        assert accounts.find_user(ANNA).password_hash.startswith("pbkdf2:sha256:1000$")
    assert login(app.test_client(), password=NEW_PASSWORD).location == "/staff/"
    assert login(app.test_client(), "nobody@tianning.example").status_code == 401


def test_adr_set_password_ends_the_sessions_of_the_account(staff, runner):
    laptop = signed_in(staff)
    result = runner.invoke(
        args=["set-password", ANNA, "--password-stdin"], input=NEW_PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    assert not opens_staff_pages(laptop)


def test_a_deactivated_account_is_signed_out_at_once(staff):
    anna, boss = signed_in(staff), signed_in(staff, BOSS)
    response = post_form(boss, "/staff/users", action="deactivate", email=ANNA)
    assert response.status_code == 303
    assert not opens_staff_pages(anna)


def test_an_idle_session_ends_after_30_minutes(staff):
    laptop = signed_in(staff)
    with laptop.session_transaction() as session:
        session["staff_seen_at"] -= 29 * 60
    assert opens_staff_pages(laptop)  # and the request counts as activity
    with laptop.session_transaction() as session:
        assert session["staff_seen_at"] >= time.time() - 5
        session["staff_seen_at"] -= 31 * 60
    response = laptop.get("/staff/reports")
    assert response.status_code == 302
    assert ENDED in laptop.get(response.location).get_data(as_text=True)


def test_a_busy_session_still_ends_12_hours_after_signing_in(staff):
    laptop = signed_in(staff)
    with laptop.session_transaction() as session:
        session["staff_signed_in_at"] -= 11 * 3600
    assert opens_staff_pages(laptop)
    with laptop.session_transaction() as session:
        session["staff_signed_in_at"] -= 3600 + 1
    assert not opens_staff_pages(laptop)


def test_the_timeouts_and_the_cookie_lifetime_follow_the_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("ADR_STAFF_SESSION_HOURS", "2")
    app = staff_app(tmp_path, monkeypatch, STAFF_IDLE_TIMEOUT_MINUTES=5)
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=2)
    laptop = signed_in(app)
    with laptop.session_transaction() as session:
        session["staff_seen_at"] -= 6 * 60
    assert not opens_staff_pages(laptop)
    phone = signed_in(app)
    with phone.session_transaction() as session:
        session["staff_signed_in_at"] -= 2 * 3600 + 1
    assert not opens_staff_pages(phone)


def test_there_is_no_remember_me_cookie(staff):
    client = staff.test_client()
    login(client, remember="y")
    assert client.get_cookie("remember_token") is None
    assert client.get_cookie("session").expires is None  # gone when the browser closes


# The second factor.


def enrol(client) -> tuple[str, list[str]]:
    """Set up the second factor as a person does with a phone; return the secret and codes."""
    page = client.get("/staff/account/totp").get_data(as_text=True)
    assert '<img src="data:image/svg+xml' in page
    secret = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', page).group(1)
    secret = secret.replace(" ", "")
    token = hidden_inputs(page)["csrf_token"]
    response = client.post(
        "/staff/account/totp",
        data={"password": PASSWORD, "code": pyotp.TOTP(secret).now(), "csrf_token": token},
    )
    assert response.status_code == 200
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", response.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def next_code(secret: str) -> str:
    """Return the code of the next time step: the current one was spent on enrolment."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def wrong_code(secret: str) -> str:
    totp = pyotp.TOTP(secret)
    near = {totp.at(time.time() + seconds) for seconds in (-60, -30, 0, 30, 60)}
    return next(f"{n:06d}" for n in range(10**6) if f"{n:06d}" not in near)


def send_code(client, code: str):
    return client.post(
        "/login/code", data={"code": code, "csrf_token": csrf(client, "/login/code")}
    )


def test_enrolment_needs_a_real_code_and_shows_recovery_codes_once(staff):
    laptop = signed_in(staff)
    assert "/staff/account" in laptop.get("/staff/").get_data(as_text=True)  # in the nav
    page = laptop.get("/staff/account/totp").get_data(as_text=True)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', page).group(1)
    refused = laptop.post(
        "/staff/account/totp",
        data={
            "password": PASSWORD,
            "code": wrong_code(secret.replace(" ", "")),
            "csrf_token": hidden_inputs(page)["csrf_token"],
        },
    )
    assert refused.status_code == 422
    secret, codes = enrol(laptop)
    assert laptop.get("/staff/account/totp").status_code == 303  # once on, no second enrolment
    assert "已启用" in laptop.get("/staff/account").get_data(as_text=True)
    assert (ANNA, "second factor enabled", ANNA) in actions(staff)
    logged = audit_text(staff)
    assert secret not in logged and not any(code in logged for code in codes)
    with staff.app_context():
        stored = db.session.scalar(sa.select(User).where(User.email == ANNA))
        assert not set(codes) & set(stored.recovery_code_hashes)


def shown_secret(client) -> tuple[str, str]:
    """Open the enrolment page; return the secret it shows and its form's CSRF token."""
    page = client.get("/staff/account/totp").get_data(as_text=True)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', page).group(1)
    return secret.replace(" ", ""), hidden_inputs(page)["csrf_token"]


def second_factor_mails(app) -> list[OutboxMail]:
    with app.app_context():
        query = sa.select(OutboxMail).where(OutboxMail.kind == "second_factor")
        mails = db.session.scalars(query.order_by(OutboxMail.id)).all()
        db.session.expunge_all()
        return list(mails)


@pytest.mark.parametrize("password", ["not my password", ""])
def test_a_stolen_session_cannot_bind_a_second_factor_without_the_password(staff, password):
    laptop = signed_in(staff)
    thief = copy_of(staff, laptop)
    secret, token = shown_secret(thief)  # the thief's authenticator scans this
    refused = thief.post(
        "/staff/account/totp",
        data={"password": password, "code": pyotp.TOTP(secret).now(), "csrf_token": token},
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert 'id="password-error"' in page and ("密码错误。" in page) is bool(password)
    assert opens_staff_pages(laptop)  # nothing bound: the owner's sessions go on
    with staff.app_context():
        assert accounts.find_user(ANNA).totp_secret is None
    assert login(staff.test_client()).location == "/staff/"  # the password alone, still
    failures = [entry for entry in actions(staff) if entry[1] == "password check failed"]
    assert failures == ([(ANNA, "password check failed", ANNA)] if password else [])
    assert "second factor enabled" not in audit_text(staff)
    assert second_factor_mails(staff) == []


def test_wrong_passwords_at_enrolment_are_limited_with_the_other_password_checks(
    tmp_path, monkeypatch
):
    app = staff_app(
        tmp_path, monkeypatch, RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT_ADDRESS="3 per 10 minutes"
    )
    thief = signed_in(app)
    secret, token = shown_secret(thief)

    def enrol_with(password: str) -> int:
        data = {"password": password, "code": pyotp.TOTP(secret).now(), "csrf_token": token}
        return thief.post("/staff/account/totp", data=data).status_code

    wrong_change = post_form(
        thief,
        "/staff/account/password",
        current_password="guess one",
        new_password=NEW_PASSWORD,
        repeated=NEW_PASSWORD,
    )
    assert wrong_change.status_code == 422
    short = post_form(
        thief,
        "/staff/account/password",
        current_password=PASSWORD,
        new_password="too short",
        repeated="too short",
    )
    assert short.status_code == 422  # not a guess at the password: not counted
    assert [enrol_with(guess) for guess in ("guess two", "guess three")] == [422, 422]
    assert enrol_with(PASSWORD) == 429  # even the right one, for now
    with app.app_context():
        assert accounts.find_user(ANNA).totp_secret is None
    failed = [entry[1] for entry in actions(app)].count("password check failed")
    assert failed == 3


def test_the_holder_is_mailed_when_a_second_factor_is_added_and_removed(staff):
    laptop = signed_in(staff)
    secret, codes = enrol(laptop)
    assert post_form(laptop, "/staff/account/totp/remove", password=PASSWORD).status_code == 303
    added, removed = second_factor_mails(staff)
    assert added.recipients == removed.recipients == [ANNA]
    assert "添加" in added.subject and "移除" in removed.subject
    china_now = datetime.now(UTC) + timedelta(hours=8)
    for mail in (added, removed):
        assert china_now.strftime("%Y-%m-%d") in mail.body_text
        assert "/staff/account" in mail.body_text and "管理员" in mail.body_text
        assert secret not in mail.body_text + mail.body_html
        assert not any(code in mail.body_text for code in codes)


def test_the_second_factor_mails_go_through_the_outbox(tmp_path, monkeypatch):
    from tests.smtp import SMTPServer, body
    from tests.test_mailer import deliver, make_app

    server = SMTPServer()
    server.start()
    try:
        app = make_app(tmp_path, monkeypatch, server.port, MAIL_LANGUAGE="en")
        with app.app_context():
            accounts.create_user(ANNA, "安娜", "reviewer", PASSWORD, "test")
        enrol(signed_in(app))
        assert len(deliver(app).sent) == 1
        [message] = server.inbox.wait_for(1)
        assert message["To"] == ANNA
        assert message["Subject"] == "A second factor was added to your drug safety account"
        text = body(message, "plain")
        assert "China time" in text and "tell your administrator at once" in text
        assert "https://adr.tianning.example/staff/account" in body(message, "html")
    finally:
        server.stop()


def test_with_the_second_factor_a_login_takes_the_password_then_a_code(staff):
    secret, _codes = enrol(signed_in(staff))
    client = staff.test_client()
    response = login(client)
    assert response.status_code == 302 and response.location == "/login/code"
    assert not opens_staff_pages(client)  # not signed in between the two steps
    response = send_code(client, next_code(secret))
    assert response.status_code == 302 and response.location == "/staff/"
    assert opens_staff_pages(client)


def test_a_wrong_code_is_refused_and_audited_like_a_wrong_password(staff):
    secret, _codes = enrol(signed_in(staff))
    client = staff.test_client()
    login(client)
    response = send_code(client, wrong_code(secret))
    assert response.status_code == 401
    assert "验证码错误或已被使用。" in response.get_data(as_text=True)
    assert not opens_staff_pages(client)
    assert actions(staff)[-1] == (ANNA, "login failed", None)


def test_a_code_once_accepted_is_refused_the_second_time(staff):
    secret, _codes = enrol(signed_in(staff))
    code = next_code(secret)
    first, second = staff.test_client(), staff.test_client()
    login(first)
    assert send_code(first, code).status_code == 302
    login(second)
    assert send_code(second, code).status_code == 401


def test_a_recovery_code_signs_in_once_in_place_of_a_code(staff):
    _secret, codes = enrol(signed_in(staff))
    phone_lost = staff.test_client()
    login(phone_lost)
    typed = codes[0].upper().replace("-", " ")  # read aloud from paper, typed loosely
    assert send_code(phone_lost, typed).status_code == 302
    assert opens_staff_pages(phone_lost)
    assert (ANNA, "recovery code used", ANNA) in actions(staff)
    again = staff.test_client()
    login(again)
    assert send_code(again, codes[0]).status_code == 401


def test_wrong_codes_count_against_the_login_rate_limit(tmp_path, monkeypatch):
    app = staff_app(
        tmp_path, monkeypatch, RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT_ADDRESS="3 per 10 minutes"
    )
    secret, _codes = enrol(signed_in(app))
    client = app.test_client()
    assert login(client).status_code == 302
    statuses = [send_code(client, wrong_code(secret)).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert login(app.test_client()).status_code == 429  # the password step shares the count


def test_a_code_step_without_a_password_leads_back_to_the_login(staff):
    enrol(signed_in(staff))
    assert staff.test_client().get("/login/code").location == "/login"


def test_a_code_step_left_too_long_must_start_again(staff):
    _secret, _codes = enrol(signed_in(staff))
    client = staff.test_client()
    login(client)
    with client.session_transaction() as session:
        session["staff_pending_login"] = {**session["staff_pending_login"], "at": 0}
    assert client.get("/login/code").location == "/login"


def test_removing_the_second_factor_needs_the_password(staff):
    laptop = signed_in(staff)
    enrol(laptop)
    wrong = post_form(laptop, "/staff/account/totp/remove", password="not my password")
    assert wrong.status_code == 422
    assert post_form(laptop, "/staff/account/totp/remove", password=PASSWORD).status_code == 303
    assert opens_staff_pages(laptop)
    assert login(staff.test_client()).location == "/staff/"  # the password alone again
    assert (ANNA, "second factor removed", ANNA) in actions(staff)


def test_a_required_second_factor_must_be_set_up_before_anything_else(tmp_path, monkeypatch):
    app = staff_app(tmp_path, monkeypatch, STAFF_TOTP="required")
    laptop = signed_in(app)
    for path in ("/staff/", "/staff/reports", "/staff/account"):
        assert laptop.get(path).location == "/staff/account/totp", path
    secret, _codes = enrol(laptop)
    assert opens_staff_pages(laptop)
    client = app.test_client()
    assert login(client).location == "/login/code"
    assert send_code(client, next_code(secret)).status_code == 302


def test_adr_reset_totp_removes_the_factor_and_ends_the_sessions(staff, runner):
    laptop = signed_in(staff)
    enrol(laptop)
    result = runner.invoke(args=["reset-totp", ANNA.upper()])
    assert result.exit_code == 0, result.output
    assert not opens_staff_pages(laptop)
    assert login(staff.test_client()).location == "/staff/"
    assert ("adr reset-totp", "second factor removed", ANNA) in actions(staff)
    [_added, removed] = second_factor_mails(staff)
    assert removed.recipients == [ANNA] and "移除" in removed.subject
    assert runner.invoke(args=["reset-totp", ANNA]).exit_code == 1  # nothing left to remove
    assert runner.invoke(args=["reset-totp", "nobody@tianning.example"]).exit_code == 1


# An older database.


@pytest.mark.empty_database
def test_upgrading_a_database_from_0005_keeps_its_reports_and_staff(tmp_path, monkeypatch):
    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    app = create_app(app_config(tmp_path))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "0005"]).exit_code == 0
    now = datetime(2026, 11, 1, 2, 0)
    report = {
        "id": 1, "reference": "ADR-202611-OLD001", "submission_token": "old-token-1234567890",
        "received_at": now, "language": "zh_CN", "reporter_kind": "patient",
        "reporter_consent_contact": False, "reporter_consent_privacy": True,
        "patient_history": [], "event_serious": [], "serious": False,
        "report_category": "general", "due_at": now + timedelta(days=30), "valid_case": True,
        "completeness": 50, "status": "received",
    }  # fmt: skip
    user = {
        "id": 1, "email": ANNA, "name": "安娜", "role": "reviewer", "active": True,
        "password_hash": generate_password_hash(PASSWORD), "created_at": now,
    }  # fmt: skip
    types = {bool: sa.Boolean, int: sa.Integer, list: sa.JSON, datetime: sa.DateTime}

    def old_table(name: str, row: dict[str, object]) -> sa.TableClause:
        """Return the table as 0005 made it: only the columns it had then."""
        return sa.table(
            name, *(sa.column(k, types.get(type(v), sa.String)()) for k, v in row.items())
        )

    with app.app_context():
        db.session.execute(sa.insert(old_table("report", report)).values(**report))
        db.session.execute(sa.insert(old_table("staff_user", user)).values(**user))
        db.session.commit()
    upgraded = runner.invoke(args=["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    with app.app_context():
        assert db.session.scalar(sa.select(Report.reference)) == "ADR-202611-OLD001"
        anna = db.session.scalar(sa.select(User))
        assert (anna.email, anna.session_epoch, anna.totp_secret) == (ANNA, 0, None)
        assert anna.recovery_code_hashes == [] and anna.created_at == now.replace(tzinfo=UTC)
    assert login(app.test_client()).location == "/staff/"
