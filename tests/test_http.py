"""What every request passes through: logs without health data, clean input, safe headers."""

from __future__ import annotations

import json
import logging
import os
import re

import pytest
from flask import url_for

from adr import create_app
from adr.http import UNVERSIONED_STATIC, VERSIONED_STATIC
from tests.conftest import ReportSender, app_config, reference_of, valid_report
from tests.test_review import REVIEWER, assess, signed_in, staff  # noqa: F401 - fixture

PERSONAL = ["王丽", "139 1234 5678", "13912345678", "wangli@example.com", "张某某",
            "0912-5647197", "MZ20261120", "急性支气管炎", "绥德县医院", "青霉素皮疹",
            "榆林市天宁大药房"]  # fmt: skip


def request_lines(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "adr.request"]


def test_logs_hold_one_line_per_request_and_no_personal_data(staff, caplog):  # noqa: F811
    caplog.set_level(logging.INFO)
    reference = reference_of(ReportSender(staff.test_client()).send(valid_report()))
    client = signed_in(staff, REVIEWER)
    client.get("/staff/reports?q=张某某&batch=20260315A")
    client.get(f"/staff/reports/{reference}")
    assert (
        assess(client, reference, status="in_review", notes="患者王丽已电话随访").status_code == 303
    )
    client.get("/staff/users?email=wangli@example.com")
    text = caplog.text
    assert not [value for value in PERSONAL if value in text]
    assert "?" not in "".join(line["path"] for line in request_lines(caplog))
    lines = request_lines(caplog)
    assert {"request_id", "method", "path", "status", "ms"} <= set(lines[0])
    assert ("POST", "/report", 303) in {(x["method"], x["path"], x["status"]) for x in lines}
    assert ("GET", "/staff/users", 403) in {(x["method"], x["path"], x["status"]) for x in lines}


def test_a_request_id_from_the_proxy_is_kept_and_a_bad_one_replaced(client, caplog):
    caplog.set_level(logging.INFO)
    assert client.get("/healthz", headers={"X-Request-ID": "req-42"}).headers["X-Request-ID"] == (
        "req-42"
    )
    replaced = client.get("/healthz", headers={"X-Request-ID": "bad id;"}).headers["X-Request-ID"]
    assert replaced != "bad id;" and len(replaced) == 32
    assert [line["request_id"] for line in request_lines(caplog)] == ["req-42", replaced]


def test_errors_are_logged_with_their_traceback_but_without_values(app, caplog):
    caplog.set_level(logging.INFO)
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boom")
    def boom():
        raise RuntimeError("the view broke")

    assert app.test_client().get("/boom?name=张某某").status_code == 500
    assert "Traceback" in caplog.text and "the view broke" in caplog.text
    assert "张某某" not in caplog.text
    assert request_lines(caplog)[-1]["status"] == 500


@pytest.mark.parametrize(
    "path",
    ["/staff/reports?q=%00", "/staff/reports?batch=A%00B", "/staff/reports?month=2026-1%00",
     "/staff/reports?page=100000000000000000000", "/staff/reports?page=-1",
     "/staff/reports?page=999", "/staff/reports/ADR-202611-%00ABCDE"],
)  # fmt: skip
def test_hostile_list_parameters_answer_without_a_server_error(staff, path):  # noqa: F811
    status = signed_in(staff, REVIEWER).get(path).status_code
    assert status in (200, 400, 404), status


def test_a_nul_in_the_login_email_is_an_ordinary_failed_login(client):
    from tests.conftest import hidden_inputs

    token = hidden_inputs(client.get("/login").get_data(as_text=True))["csrf_token"]
    response = client.post(
        "/login", data={"email": "a\x00@tianning.example", "password": "x", "csrf_token": token}
    )
    assert response.status_code == 401


def test_control_characters_are_removed_from_what_the_form_stores(app, sender):
    from tests.test_intake import stored

    fields = valid_report() | {
        "event-name": "皮疹\x00\x1b、瘙痒",
        "remarks": "第一行\r\n第二行\x7f",
    }
    report = stored(app, reference_of(sender.send(fields)))
    assert (report.event_name, report.remarks) == ("皮疹、瘙痒", "第一行\n第二行")


@pytest.mark.parametrize("path", ["/report", "/", "/staff/reports", "/privacy"])
def test_a_query_string_that_is_not_utf8_is_no_server_error(client, path):
    response = client.get(path, environ_overrides={"QUERY_STRING": "q=\xff\xfe&lang=en"})
    assert response.status_code in (200, 302), response.status_code


def test_invisible_formatting_characters_never_reach_a_staff_page(staff):  # noqa: F811
    """A right-to-left override in a name would reorder it, and what follows, for staff."""
    from tests.test_intake import stored

    fields = valid_report() | {
        "patient-name": "张\u202e某某",
        "reporter-name": "\u2066王\u00ad丽\u2069\u200b\U000e0041\U000e007f",  # soft hyphen, tags
        "event-name": "\ufeff皮疹\u200f、瘙痒\u061c",
        "event-description": "服药后\t30分钟\r\n出现皮疹\u2060👩\u200d⚕️",
    }
    reference = reference_of(ReportSender(staff.test_client()).send(fields))
    report = stored(staff, reference)
    assert (report.patient_name, report.reporter_name, report.event_name) == (
        "张某某",
        "王丽",
        "皮疹、瘙痒",
    )
    assert report.event_description == "服药后\t30分钟\n出现皮疹👩⚕️"  # tab and line feed kept
    client = signed_in(staff, REVIEWER)
    page = client.get(f"/staff/reports/{reference}").get_data(as_text=True)
    assert "张某某" in page and "\u202e" not in page
    found = client.get("/staff/reports?q=张\u202e某某").get_data(as_text=True)
    assert reference in found  # a search is cleaned the same way
    assert client.get(f"/staff/reports/{reference}\u202e").status_code == 404


def test_every_page_forbids_framing_and_https_adds_hsts(tmp_path, monkeypatch):
    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    plain = create_app(app_config(tmp_path)).test_client().get("/")
    assert plain.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in plain.headers["Content-Security-Policy"]
    assert "Strict-Transport-Security" not in plain.headers
    secure = create_app(app_config(tmp_path, PREFERRED_URL_SCHEME="https"))
    assert secure.config["SESSION_COOKIE_SECURE"] is True
    response = secure.test_client().get("/report", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Secure" in response.headers["Set-Cookie"]


def test_behind_a_proxy_each_reporter_has_a_limit_of_their_own(tmp_path, monkeypatch):
    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))

    app = create_app(
        app_config(tmp_path, RATELIMIT_ENABLED=True, REPORT_RATE_LIMIT="2 per minute",
                   PROXY_FIX_X_FOR=1)
    )  # fmt: skip
    sender = ReportSender(app.test_client())

    def send_from(address: str) -> int:
        headers = {"X-Forwarded-For": address}
        return sender.send(valid_report(), **headers).status_code

    assert [send_from("203.0.113.7") for _ in range(3)] == [303, 303, 429]
    assert send_from("198.51.100.23") == 303  # another reporter behind the same proxy


def test_the_server_refuses_to_start_with_a_development_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    production = app_config(tmp_path, TESTING=False)
    for secret in ("dev", "test secret", "short"):
        with pytest.raises(RuntimeError, match="SECRET_KEY"):
            create_app(production | {"SECRET_KEY": secret})
    assert create_app(production | {"SECRET_KEY": "k" * 40}).config["SECRET_KEY"] == "k" * 40
    assert create_app(production | {"SECRET_KEY": None}).config["SECRET_KEY"]  # instance key


def test_a_nul_in_the_accounts_form_is_refused_or_cleaned(staff):  # noqa: F811
    from tests.test_review import ADMIN, csrf

    client = signed_in(staff, ADMIN)
    fields = {"action": "create", "email": "new\x00@tianning.example", "name": "新\x00人",
              "role": "reviewer", "password": "a long enough password",
              "csrf_token": csrf(client)}  # fmt: skip
    assert client.post("/staff/users", data=fields).status_code in (200, 303)
    assert "new@tianning.example" in client.get("/staff/users").get_data(as_text=True)


@pytest.mark.sqlite_only
@pytest.mark.empty_database
def test_the_database_file_is_readable_by_its_owner_only(app):
    from adr.extensions import db

    with app.app_context():
        path = db.engine.url.database
    assert os.stat(path).st_mode & 0o077 == 0


def static_answer(client, url: str) -> tuple[str, bytes]:
    """Fetch a static file; return its Cache-Control and its content."""
    with client.get(url) as response:
        assert response.status_code == 200, url
        return response.headers["Cache-Control"], response.get_data()


def test_a_static_file_is_named_by_its_content_and_kept_a_year(tmp_path, monkeypatch):
    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    static = tmp_path / "static"
    static.mkdir()
    (static / "site.css").write_text("body { color: black; }")

    def started():  # a worker starting, over the files as they are now
        app = create_app(app_config(tmp_path))
        app.static_folder = str(static)
        return app

    def static_url(app) -> str:
        with app.test_request_context():
            return url_for("static", filename="site.css")

    running = started()
    first = static_url(running)
    assert re.fullmatch(r"/static/site\.css\?v=[0-9a-f]{12}", first)
    assert VERSIONED_STATIC == "public, max-age=31536000, immutable"
    assert static_answer(running.test_client(), first)[0] == VERSIONED_STATIC
    assert static_answer(running.test_client(), "/static/site.css")[0] == UNVERSIONED_STATIC

    (static / "site.css").write_text("body { color: navy; }")
    assert static_url(running) == first  # read once per process
    restarted = started()
    second = static_url(restarted)
    assert second != first
    assert static_answer(restarted.test_client(), second)[0] == VERSIONED_STATIC
    # An old page's link gets the new file, kept briefly.
    assert static_answer(restarted.test_client(), first) == (
        UNVERSIONED_STATIC,
        b"body { color: navy; }",
    )


def test_pages_name_their_files_by_version_and_the_policy_allows_them(client, sender):
    reference = reference_of(sender.send(valid_report()))
    for path in ("/", "/report", f"/report/submitted/{reference}", "/favicon.ico"):
        response = client.get(path)
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        page = response.get_data(as_text=True)
        files = re.findall(r'(?:src|href)="(/static/[^"]+)"', page) or [response.location]
        for url in files:
            assert re.search(r"\?v=[0-9a-f]{12}$", url), url
            assert static_answer(client, url)[0] == VERSIONED_STATIC
