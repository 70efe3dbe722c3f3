"""The acknowledgement's private link: a form tied to the case, showing nothing personal."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from adr import follow_up_links
from adr.cases import merges
from adr.extensions import db
from adr.models import FollowUpLink, Report, write_transaction
from tests import test_mailer
from tests.conftest import ReportSender, hidden_inputs, reference_of, valid_report
from tests.smtp import body
from tests.test_mailer import PERSONAL, by_kind, deliver, make_app, outbox, submit

# test_mailer's fixtures: an SMTP server on 127.0.0.1, and an app that mails through it
smtp = test_mailer.smtp
mail_app = test_mailer.mail_app
stop_background_senders = test_mailer.stop_background_senders

LINK = re.compile(r"https://adr\.tianning\.example(/report/follow-up/[\w-]+)")
# What the earlier report told: the reporter, the patient, the drug, the reaction.
EARLIER = [p for p in PERSONAL if p != "0912-5647197"] + [  # that is the company's number too
    "阿莫西林", "20260315A", "国药准字H61020123", "皮疹、瘙痒", "服药第二天", "急性支气管炎",
    "患者自行停药",
]  # fmt: skip
FOLLOW_UP = valid_report() | {
    "event-outcome": "recovered",
    "remarks": "随访：皮疹已完全消退。",
}


def mailed_link(app, smtp) -> str:
    """Deliver the outbox and return the path of the acknowledgement's follow-up link."""
    deliver(app)
    message = by_kind(smtp, app)["acknowledgement"]
    [text_link] = LINK.findall(body(message, "plain"))
    assert LINK.findall(body(message, "html")) == [text_link]
    return text_link


def stored(app, reference: str) -> Report:
    with app.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        db.session.expunge(report)
        return report


def report_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Report))


def post(client, path: str, fields: dict[str, object]):
    """Open the page at `path` as a browser would, then send its form with `fields`."""
    page = client.get(path)
    assert page.status_code == 200
    return client.post(path, data=hidden_inputs(page.get_data(as_text=True)) | fields)


def test_the_mailed_link_opens_a_form_for_the_case_showing_nothing_personal(mail_app, smtp):
    reference = submit(mail_app)
    path = mailed_link(mail_app, smtp)
    assert reference not in path
    response = mail_app.test_client().get(path)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert re.search(rf'id="follow-up-to">.*{reference}', page)
    assert hidden_inputs(page)["follow_up_of"] == reference
    assert f'action="{path}"' in page
    page = re.sub(r'data-rules="[^"]*"', "", page)  # the phone rule's example is 139 1234 5678
    for earlier in EARLIER:
        assert earlier not in page


def test_the_token_is_kept_only_as_its_hash_and_never_logged(mail_app, smtp, caplog):
    submit(mail_app)
    path = mailed_link(mail_app, smtp)
    token = path.rsplit("/", 1)[1]
    with caplog.at_level(logging.INFO):
        assert mail_app.test_client().get(path).status_code == 200
    assert token not in caplog.text and "/report/follow-up/<token>" in caplog.text
    with mail_app.app_context():
        [link] = db.session.scalars(sa.select(FollowUpLink)).all()
        assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
        expected = datetime.now(UTC) + timedelta(days=180)
        assert abs(link.expires_at - expected) < timedelta(minutes=1)
    for mail in outbox(mail_app):
        assert token not in mail.body_text and token not in mail.body_html


def test_an_unexpected_error_on_the_link_logs_no_token(tmp_path, monkeypatch, smtp, caplog):
    app = make_app(tmp_path, monkeypatch, smtp.port, PROPAGATE_EXCEPTIONS=False)
    submit(app)
    path = mailed_link(app, smtp)
    monkeypatch.setattr(follow_up_links, "find", lambda token: 1 / 0)
    with caplog.at_level(logging.INFO):
        assert app.test_client().get(path).status_code == 500
    assert "ZeroDivisionError" in caplog.text and "/report/follow-up/<token>" in caplog.text
    assert path.rsplit("/", 1)[1] not in caplog.text


def test_sending_the_link_form_stores_a_follow_up_on_its_case(mail_app, smtp):
    first = submit(mail_app)
    other = submit(mail_app, {"reporter-email": ""})
    path = mailed_link(mail_app, smtp)
    response = post(mail_app.test_client(), path, FOLLOW_UP | {"follow_up_of": other})
    follow_up = stored(mail_app, reference_of(response))
    assert follow_up.follow_up_of_id == stored(mail_app, first).id  # the link's, not the posted
    assert follow_up.case_id == stored(mail_app, first).case_id
    assert follow_up.remarks == "随访：皮疹已完全消退。"


def test_a_follow_up_to_a_duplicate_joins_the_original_case(mail_app, smtp):
    original = submit(mail_app, {"reporter-email": ""})
    duplicate = submit(mail_app)
    with mail_app.app_context(), write_transaction() as session:
        cases = {r.reference: r.case for r in session.scalars(sa.select(Report))}
        merges.merge(session, cases[duplicate], cases[original], "reviewer@tianning.example")
    response = post(mail_app.test_client(), mailed_link(mail_app, smtp), FOLLOW_UP)
    assert stored(mail_app, reference_of(response)).case_id == stored(mail_app, original).case_id


@pytest.mark.parametrize(
    "token",
    [secrets.token_urlsafe(32), "x" * 43, "short", "ADR-202611-7K3QD9", "a" * 300],
    ids=["random", "x" * 43, "short", "ADR-202611-7K3QD9", "a" * 300],  # the same in each worker
)
def test_a_wrong_token_is_not_found(mail_app, token):
    client = mail_app.test_client()
    assert client.get(f"/report/follow-up/{token}").status_code == 404
    form = hidden_inputs(client.get("/report").get_data(as_text=True))
    assert client.post(f"/report/follow-up/{token}", data=form | FOLLOW_UP).status_code == 404
    assert report_count(mail_app) == 0


def expire_links(app, ago: timedelta = timedelta(seconds=1)) -> None:
    with app.app_context():
        db.session.execute(sa.update(FollowUpLink).values(expires_at=datetime.now(UTC) - ago))
        db.session.commit()


def test_an_expired_link_says_how_to_send_a_follow_up_anyway(mail_app, smtp):
    reference = submit(mail_app)
    path = mailed_link(mail_app, smtp)
    expire_links(mail_app)
    response = mail_app.test_client().get(path)
    assert response.status_code == 410
    page = response.get_data(as_text=True)
    assert reference in page and f"/report?follow_up_of={reference}" in page
    for earlier in EARLIER:
        assert earlier not in page


def test_a_form_sent_once_its_link_expired_comes_back_for_the_public_form(mail_app, smtp):
    first = submit(mail_app)
    path = mailed_link(mail_app, smtp)
    client = mail_app.test_client()
    fields = hidden_inputs(client.get(path).get_data(as_text=True)) | FOLLOW_UP
    expire_links(mail_app, follow_up_links.SEND_GRACE + timedelta(minutes=1))
    response = client.post(path, data=fields)
    assert response.status_code == 410
    page = response.get_data(as_text=True)
    assert 'action="/report"' in page and f'value="{first}"' in page
    assert "随访：皮疹已完全消退。" in page and "王丽" in page
    refilled = hidden_inputs(page) | {k: v for k, v in FOLLOW_UP.items() if k != "follow_up_of"}
    follow_up = reference_of(client.post("/report", data=refilled | {"follow_up_of": first}))
    # Without the link, the reference is a claim for staff to confirm: a case of its own.
    claimed = stored(mail_app, follow_up)
    assert (claimed.claimed_follow_up_of, claimed.follow_up_of_id) == (first, None)
    assert claimed.case_id != stored(mail_app, first).case_id


def test_a_form_opened_in_time_may_be_sent_a_little_after_its_link_expired(mail_app, smtp):
    first = submit(mail_app)
    path = mailed_link(mail_app, smtp)
    client = mail_app.test_client()
    fields = hidden_inputs(client.get(path).get_data(as_text=True))
    expire_links(mail_app, follow_up_links.SEND_GRACE - timedelta(minutes=5))
    news = {"reporter-consent_privacy": "y", "event-outcome": "recovered"}
    follow_up = stored(mail_app, reference_of(client.post(path, data=fields | news)))
    assert follow_up.follow_up_of_id == stored(mail_app, first).id
    assert client.get(path).status_code == 410  # but the link no longer opens


def test_a_refused_form_comes_back_on_the_link_with_every_value(mail_app, smtp):
    reference = submit(mail_app)
    path = mailed_link(mail_app, smtp)
    client = mail_app.test_client()
    invalid = post(client, path, FOLLOW_UP | {"patient-name": "", "reporter-email": "not mail"})
    assert 'id="patient-name-error"' not in invalid.get_data(as_text=True)  # known already
    forged = post(client, path, FOLLOW_UP | {"csrf_token": "forged"})
    for response, status in ((invalid, 422), (forged, 400)):
        assert response.status_code == status
        page = response.get_data(as_text=True)
        assert f'action="{path}"' in page and re.search(rf'id="follow-up-to">.*{reference}', page)
        assert "随访：皮疹已完全消退。" in page and "王丽" in page
    assert 'id="reporter-email-error"' in invalid.get_data(as_text=True)
    assert report_count(mail_app) == 1


def test_a_follow_up_on_the_link_needs_only_what_is_new(mail_app, smtp):
    first = submit(mail_app)
    path = mailed_link(mail_app, smtp)
    client = mail_app.test_client()
    page = client.get(path).get_data(as_text=True)
    assert "只需告诉我们新的或有变化的情况" in page and 'name="event-name" required' not in page
    consent = {"reporter-consent_privacy": "y"}
    empty = post(client, path, consent)
    assert empty.status_code == 422
    assert "请填写跟踪报告补充的内容" in empty.get_data(as_text=True)
    unconsented = post(client, path, {"event-outcome": "recovered"})
    assert 'id="reporter-consent_privacy-error"' in unconsented.get_data(as_text=True)
    only_contact = post(client, path, consent | {"reporter-consent_contact": "y"})
    assert only_contact.status_code == 422  # agreeing to be contacted is no news of the case
    news = post(client, path, consent | {"event-outcome": "recovered"})
    follow_up = stored(mail_app, reference_of(news))
    earlier = stored(mail_app, first)
    assert follow_up.case_id == earlier.case_id
    assert (follow_up.event_outcome, follow_up.patient_name) == ("recovered", None)
    # the reporter is the one the link was mailed to: the case keeps them whole
    assert (follow_up.reporter_name, follow_up.reporter_email, follow_up.reporter_kind) == (
        earlier.reporter_name,
        earlier.reporter_email,
        earlier.reporter_kind,
    )
    assert report_count(mail_app) == 2
    assert client.get(path).headers["Referrer-Policy"] == "no-referrer"


def test_the_link_is_rate_limited_like_the_form(tmp_path, monkeypatch, smtp):
    app = make_app(
        tmp_path, monkeypatch, smtp.port, RATELIMIT_ENABLED=True, REPORT_RATE_LIMIT="2 per minute"
    )
    reference = submit(app)  # the public form's own limit counts apart
    path = mailed_link(app, smtp)
    client = app.test_client()
    opened = [client.get(path) for _ in range(3)]
    assert [response.status_code for response in opened] == [200, 200, 429]
    assert client.get(f"/report/follow-up/{'x' * 43}").status_code == 429  # guesses too
    too_many = client.post(path, data=hidden_inputs(opened[0].get_data(as_text=True)) | FOLLOW_UP)
    assert too_many.status_code == 429
    page = too_many.get_data(as_text=True)
    assert "随访：皮疹已完全消退。" in page and re.search(rf'id="follow-up-to">.*{reference}', page)
    assert report_count(app) == 1


@pytest.mark.parametrize(("fields", "said"), [({}, True), ({"reporter-email": ""}, False)])
def test_the_confirmation_says_whether_the_reference_was_mailed(mail_app, fields, said):
    """Only to the one who sent it: the page says nothing of a reference someone else holds."""
    client = mail_app.test_client()
    reference = reference_of(ReportSender(client).send(valid_report() | fields))
    page = client.get(f"/report/submitted/{reference}").get_data(as_text=True)
    assert ('id="acknowledgement-sent"' in page) is said
    assert reference in page
    for personal in EARLIER:
        assert personal not in page
    other = mail_app.test_client().get(f"/report/submitted/{reference}").get_data(as_text=True)
    assert 'id="acknowledgement-sent"' not in other
    unknown = mail_app.test_client().get("/report/submitted/ADR-202611-ZZZZZZ")
    assert unknown.status_code == 200  # whether a reference exists is not said either


def test_only_the_web_reporters_acknowledgement_carries_a_link(mail_app):
    submit(mail_app, {"reporter-email": ""})
    with mail_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FollowUpLink)) == 0


def test_the_link_works_in_english(mail_app, smtp):
    reference = submit(mail_app, path="/report?lang=en")
    path = mailed_link(mail_app, smtp)
    page = mail_app.test_client().get(f"{path}?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in page and "Follow-up to" in page and reference in page
