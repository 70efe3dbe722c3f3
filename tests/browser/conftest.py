"""Fixtures for tests in a real browser: Debian's chromium on the app served over HTTP.

`live_server` serves the app on 127.0.0.1 from a thread, on the test's own empty database,
its mail going to a real SMTP server (`live_server.inbox`); `send_report()`, `add_staff()` and
`stored(reference)` reach its database directly. `phone` (WeChat on an iPhone, Chinese),
`desktop` (English) and `nojs` (a phone without JavaScript) are pages in fresh browser contexts
whose relative URLs go to it. `axe_check(page)` fails on any serious or critical accessibility
violation; `sign_in(page, live_server)` and `fill_form(page, fields)` act as a person would.

Browser tests run on SQLite only (mark each module `sqlite_only`): they check what people see,
and the rest of the suite checks both engines. Without chromium they are skipped, and the
summary says so.

    pytestmark = pytest.mark.sqlite_only

    def test_the_form_opens(phone, axe_check):
        phone.goto("/report")
        axe_check(phone)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import selectinload

from adr import accounts, create_app, mailer
from adr.extensions import db
from adr.models import Report
from tests.browser.live import CHROMIUM, DESKTOP, MISSING, PHONE, chromium, serving
from tests.conftest import ReportSender, app_config, reference_of, valid_report
from tests.smtp import Inbox, SMTPServer

STAFF, STAFF_PASSWORD = "reviewer@tianning.example", "correct horse battery"


def pytest_terminal_summary(terminalreporter, config):
    if not CHROMIUM:
        terminalreporter.write_line(
            f"SKIPPED: browser tests ({MISSING})",
            yellow=True,
        )


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, headless, driven by Playwright (never Playwright's own download)."""
    if not CHROMIUM:
        pytest.skip(MISSING)
    with chromium() as browser:
        yield browser


@dataclass
class LiveServer:
    url: str
    app: Flask
    inbox: Inbox  # what the app's SMTP server received

    def send_report(self, **fields: object) -> str:
        """Store a complete report through the form (no browser); return its reference."""
        sender = ReportSender(self.app.test_client())
        return reference_of(sender.send(valid_report() | fields))

    def add_staff(self, email: str = STAFF, role: str = "reviewer") -> str:
        """Create an active staff account; return its password."""
        with self.app.app_context():
            accounts.create_user(email, "审核员", role, STAFF_PASSWORD, "test")
        return STAFF_PASSWORD

    def stored(self, reference: str) -> Report | None:
        """Return the stored report with its drugs, or None."""
        with self.app.app_context():
            query = sa.select(Report).where(Report.reference == reference)
            report = db.session.scalar(query.options(selectinload(Report.drugs)))
            db.session.expunge_all()
            return report


@pytest.fixture
def live_server(database, tmp_path, monkeypatch) -> Iterator[LiveServer]:
    """The app served on a free port of 127.0.0.1, its mail going to a real SMTP server."""
    smtp = SMTPServer()
    smtp.start()
    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    mail = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port}
    # Flask-Mail would suppress sending under TESTING; the web process delivers, as deployed.
    mail |= {"MAIL_SUPPRESS_SEND": False, "MAIL_BACKGROUND": True}
    app = create_app(app_config(tmp_path, **mail))
    with serving(app) as url:
        yield LiveServer(url, app, smtp.inbox)
    app.extensions[mailer.EXTENSION].stop()
    smtp.stop()
    with app.app_context():
        db.engine.dispose()


def new_page(browser, live_server: LiveServer, **options):
    context = browser.new_context(base_url=live_server.url, **options)
    return context, context.new_page()


@pytest.fixture
def phone(browser, live_server):
    """A phone in WeChat's browser, in Chinese."""
    context, page = new_page(browser, live_server, **PHONE)
    yield page
    context.close()


@pytest.fixture
def desktop(browser, live_server):
    """A desktop browser, switched to English with `?lang=en` (remembered in a cookie)."""
    context, page = new_page(browser, live_server, **DESKTOP)
    page.goto("/?lang=en")
    yield page
    context.close()


@pytest.fixture
def nojs(browser, live_server):
    """A phone whose browser runs no JavaScript."""
    context, page = new_page(browser, live_server, **PHONE, java_script_enabled=False)
    yield page
    context.close()


def sign_in(page, live_server: LiveServer, email: str = STAFF) -> None:
    """Make a staff account and sign in with it at /login, as a person would."""
    password = live_server.add_staff(email)
    page.goto("/login")
    page.fill("[name=email]", email)
    page.fill("[name=password]", password)
    page.click("form button[type=submit]")
    page.wait_for_url("**/staff/")


def send_as_is(page):
    """Send the form as it stands, past the steps' own checks; return the server's answer
    once its page has loaded."""
    with page.expect_navigation() as answer:
        page.evaluate("setTimeout(() => document.getElementById('report-form').submit())")
    return answer.value


def fill_form(page, fields: dict[str, object]) -> None:
    """Type, tick and choose `fields` by their names, opening a closed <details> on the way."""
    for name, value in fields.items():
        if page.locator(f'[name="{name}-year"]').count():  # a date asked as three boxes
            parts = str(value).split("-") if value else ["", "", ""]
            for part, text in zip(("year", "month", "day"), parts, strict=True):
                page.fill(f'[name="{name}-{part}"]', text if part == "year" else text.lstrip("0"))
            continue
        controls = page.locator(f'[name="{name}"]')
        first = controls.first
        if not first.is_visible():
            page.locator(f'details:has([name="{name}"]) > summary').click()
        kind = first.get_attribute("type") or first.evaluate("e => e.tagName.toLowerCase()")
        if kind in ("radio", "checkbox"):
            for one in value if isinstance(value, list) else [value]:
                page.check(f'[name="{name}"][value="{one}"]')
        elif kind == "select":
            first.select_option(str(value))
        else:
            first.fill(str(value))


SEVERE = ("serious", "critical")


def describe_violations(violations: list[dict]) -> str:
    """Return axe's violations as lines a person can read: rule, impact, help, then each node."""
    lines = []
    for violation in violations:
        lines.append(
            f"{violation['id']} ({violation['impact']}): {violation['help']}"
            f" <{violation['helpUrl']}>"
        )
        for node in violation["nodes"]:
            lines.append(f"  at {' '.join(map(str, node['target']))}: {node['html'][:200]}")
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            lines.append(f"    {summary}")
    return "\n".join(lines)


@pytest.fixture(scope="session")
def axe_check():
    """Return a check that runs axe-core on a page and fails on serious or critical violations."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()

    def check(page) -> None:
        violations = axe.run(page).response["violations"]
        severe = [violation for violation in violations if violation["impact"] in SEVERE]
        assert not severe, f"axe on {page.url}:\n{describe_violations(severe)}"

    return check
