"""Issue 11's story end to end: a register imported, a batch flagged, a cluster, a duplicate.

An admin enters the product and imports the batch register; a report on a batch not in it is
flagged on its case page and in the safety mail; the third report on one batch within 90 days
sends one alert; a phone report of a patient gets the earlier web report proposed as its
duplicate; the compliance page shows the month's on-time rate.
"""

from __future__ import annotations

import re
from datetime import timedelta

from adr import accounts, mailer, regulatory
from tests.conftest import COMPANY, hidden_inputs
from tests.smtp import body
from tests.test_batches import mail_app, smtp  # noqa: F401 - smtp is a fixture
from tests.test_cases import enter, entered, phone_call, submit
from tests.test_duplicates import (
    phone_report_of_the_same_patient,
    proposed,
    web_report_of_a_patient,
)
from tests.test_review import ADMIN, PASSWORD, assess, signed_in

TODAY = regulatory.china_today()
REGISTER = (
    "approval_number,generic_name,batch_number,manufactured_on,expires_on\n"
    "国药准字H61020123,阿莫西林胶囊,20260315A,2026-03-15,2028-02-29\n"
    "国药准字H61020123,阿莫西林胶囊,20261101B,2026-11-01,2028-10-31\n"
)


def delivered(app, smtp) -> list:  # noqa: F811 - the fixture's value
    with app.app_context():
        mailer.deliver_pending_mail()
    return smtp.inbox.messages


def test_the_safety_team_sees_what_single_cases_cannot_show(tmp_path, monkeypatch, smtp):  # noqa: F811
    app = mail_app(tmp_path, monkeypatch, smtp)
    with app.app_context():
        accounts.create_user(ADMIN, "管理员", "admin", PASSWORD, "test")
    admin = signed_in(app, ADMIN)

    # The admin enters the product, then imports the batch register.
    page = admin.get("/staff/products").get_data(as_text=True)
    added = admin.post(
        "/staff/products",
        data=hidden_inputs(page)
        | {
            "generic_name": "阿莫西林胶囊",
            "brand_name": "天宁",
            "approval_number": "国药准字H61020123",
            "manufacturer": COMPANY,
            "listed_reactions": "皮疹\n瘙痒\n腹泻",
        },
    )
    assert added.status_code == 303, added.get_data(as_text=True)[:2000]
    (tmp_path / "register.csv").write_text(REGISTER, encoding="utf-8-sig")
    imported = app.test_cli_runner().invoke(args=["import-batches", str(tmp_path / "register.csv")])
    assert imported.exit_code == 0, imported.output

    # A report on a batch the register lacks is flagged on its case page and in the mail.
    stray = submit(app, {"drugs-0-batch_number": "20269999Z"})
    case_page = admin.get(f"/staff/reports/{stray}").get_data(as_text=True)
    assert re.search(r'id="batch-check"[^>]*data-result="unknown"', case_page)
    safety_mail = next(m for m in delivered(app, smtp) if stray in m["Subject"])
    assert "[Unknown batch]" in safety_mail["Subject"]
    assert "20269999Z is NOT in the batch register" in body(safety_mail, "plain")
    known = submit(app)  # batch 20260315A, registered
    assert re.search(
        r'id="batch-check"[^>]*data-result="known"',
        admin.get(f"/staff/reports/{known}").get_data(as_text=True),
    )

    # The third case on one batch within 90 days sends one alert, and a fourth none.
    for _ in range(3):
        entered(enter(admin, phone_call(**{"drugs-0-batch_number": "20261101B"})))
    alerts = [m for m in delivered(app, smtp) if m["Subject"].startswith("Batch alert")]
    assert len(alerts) == 1 and "20261101B" in alerts[0]["Subject"]
    assert "3" in alerts[0]["Subject"] and "李四" not in body(alerts[0], "plain")  # no names

    # A phone report of a patient: the earlier web report is proposed as its duplicate.
    web = submit(app, web_report_of_a_patient())
    phone = entered(enter(admin, phone_report_of_the_same_patient()))
    assert web in proposed(admin.get(f"/staff/reports/{phone}").get_data(as_text=True))

    # Sent to the national system today, before its deadline: the month's on-time rate.
    for status in ("in_review", "assessed", "submitted"):
        moved = assess(
            admin,
            known,
            status=status,
            submitted_to_regulator_on=TODAY.isoformat() if status == "submitted" else "",
            national_case_number="202661000123" if status == "submitted" else "",
        )
        assert moved.status_code == 303, moved.get_data(as_text=True)[:2000]
    month = f"{TODAY + timedelta(days=30):%Y-%m}"  # a general report: due within 30 days
    compliance = admin.get(f"/staff/compliance?from={TODAY:%Y-%m}&to={month}")
    assert compliance.status_code == 200
    rates = re.findall(
        r'<tr data-month="all" data-clock="all"[^>]*>.*?data-count="rate">([^<]+)<',
        compliance.get_data(as_text=True),
        re.S,
    )
    assert rates == ["100.0%"], rates
