"""The mail outbox: enqueue inside the caller's transaction; deliver later, once, with retries.

A report and its mails commit together. Delivery claims a batch of rows with a conditional
UPDATE, so two senders (the background thread, `adr send-mail`, other processes) never send
a row twice; a claim left by a sender that died mid-send is released after
`MAIL_CLAIM_TIMEOUT_SECONDS` and retried with the same Message-ID.
"""

from __future__ import annotations

import logging
import re
import secrets
import smtplib
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.utils import make_msgid
from functools import cache, partial
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_mail import BadHeaderError, Connection, Message
from sqlalchemy.exc import DBAPIError, OperationalError

from adr import follow_up_links, products, regulatory, vocab
from adr.extensions import db
from adr.models import OutboxMail, Report, write_transaction

log = logging.getLogger(__name__)
ADDRESS = re.compile(r"[^\s<>@;,]+@[^\s<>@;,]+")
EXTENSION = "adr_mail_sender"
RECORD_FIRST_PAUSE_SECONDS = 0.1  # doubled between tries to record an outcome…
RECORD_MAX_PAUSE_SECONDS = 2.0  # …up to this, until MAIL_RECORD_RETRY_SECONDS have passed
# What a mail is and which report it is about, for the inbox to recognise our mails (adr.inbox).
KIND_HEADER = "X-ADR-Kind"
REFERENCE_HEADER = "X-ADR-Reference"


# Writing mails.


def attach_report_mails(report: Report, files: int = 0) -> None:
    """Give a new report its mails, so that they commit with it.

    The safety inbox always gets one, saying how many files came with the report (`files`; a
    mail never carries them); a reporter who used the web form gets an acknowledgement, in the
    language they used, with a private follow-up link, when they gave an address (one heard of
    by phone or letter is not mailed unasked).
    """
    config = current_app.config
    inbox = _mail(report, "safety_inbox", config["SAFETY_INBOX"], config["MAIL_LANGUAGE"], files)
    report.mails = [inbox]
    report.follow_up_links = []
    if report.reporter_email and report.source == "web":
        acknowledgement = _mail(report, "acknowledgement", [report.reporter_email], report.language)
        report.mails.append(acknowledgement)
        report.follow_up_links.append(follow_up_links.new_link(acknowledgement.message_id))


def _mail(
    report: Report, kind: str, recipients: list[str], language: str, files: int = 0
) -> OutboxMail:
    with force_locale(language):
        context = mail_context(report, kind, "en" if language == "en" else "zh_CN", files)
        return rendered_mail(kind, recipients, context)


def login_alert(email: str, failures: int, minutes: int) -> OutboxMail:
    """Return a mail telling a staff member that sign-ins to their account keep failing."""
    config = current_app.config
    with force_locale(config["MAIL_LANGUAGE"]):
        context = {
            "failures": failures,
            "minutes": minutes,
            "account_url": config["BASE_URL"].rstrip("/") + "/staff/account",
            "subject": _("Repeated failed sign-ins to your drug safety account"),
        }
        return rendered_mail("login_alert", [email], context)


def second_factor_notice(email: str, added: bool, at: datetime) -> OutboxMail:
    """Return a mail telling a staff member that their account's second factor was added or
    removed, and what to do if it was not them."""
    config = current_app.config
    with force_locale(config["MAIL_LANGUAGE"]):
        subject = (
            _("A second factor was added to your drug safety account")
            if added
            else _("The second factor of your drug safety account was removed")
        )
        context = {
            "added": added,
            "at": f"{at.astimezone(regulatory.CHINA):%Y-%m-%d %H:%M}",
            "account_url": config["BASE_URL"].rstrip("/") + "/staff/account",
            "subject": subject,
        }
        return rendered_mail("second_factor", [email], context)


def rendered_mail(kind: str, recipients: list[str], context: dict[str, Any]) -> OutboxMail:
    """Return an outbox row holding `mail/<kind>.txt` and `.html` rendered with `context`."""
    now = datetime.now(UTC)
    return OutboxMail(
        kind=kind,
        recipients=[one_line(address) for address in recipients],
        subject=one_line(str(context["subject"])),
        body_text=render_mail(f"mail/{kind}.txt", context),
        body_html=render_mail(f"mail/{kind}.html", context),
        # Unguessable: the inbox trusts it as the proof a returning mail is ours (adr.inbox).
        message_id=make_msgid(
            f"adr.{secrets.token_hex(12)}", domain=current_app.config["MAIL_MESSAGE_ID_DOMAIN"]
        ),
        created_at=now,
        next_attempt_at=now,
    )


def render_mail(template: str, context: dict[str, Any]) -> str:
    """Render a mail's template with its context alone.

    Not Flask's `render_template`: its context processors serve the web pages (the signed-in
    user, the staff menu's helpers), which no mail shows, and took 30% of a mail's rendering.
    """
    return current_app.jinja_env.get_template(template).render(context)


def acknowledgement_on_its_way(reference: str) -> bool:
    """Tell whether the reporter of this report is mailed its reference (queued or sent)."""
    query = (
        sa.select(OutboxMail.id)
        .join(Report)
        .where(
            Report.reference == reference,
            OutboxMail.kind == "acknowledgement",
            OutboxMail.status != "failed",
        )
    )
    return db.session.scalar(query.limit(1)) is not None


def one_line(text: str) -> str:
    """Return text fit for a mail header: no line breaks, however it was typed."""
    return " ".join(text.split())


def mail_context(report: Report, kind: str, language: str, files: int = 0) -> dict[str, Any]:
    """Return what the mail templates show (`files`: how many came with the report); interface
    text follows the forced locale. The acknowledgement shows the reference and what comes
    next; the safety inbox's mail the report's facts as well (`inbox_context`)."""
    config = current_app.config
    base = config["BASE_URL"].rstrip("/")
    colon = ": " if language == "en" else "："
    context = {
        "language": language,
        "colon": colon,
        "reference": report.reference,
        "serious": report.serious,
        "follow_up_url": f"{base}/report/follow-up/{follow_up_links.STAND_IN}",
        "follow_up_days": config["FOLLOW_UP_LINK_DAYS"],
        "company": config["COMPANY_NAME_EN" if language == "en" else "COMPANY_NAME"],
    }
    if kind != "safety_inbox":
        return context | {
            "subject": _("We have received your report %(reference)s", reference=report.reference)
        }
    return (
        context
        | inbox_context(report, language, colon, files)
        | {"case_url": f"{base}/staff/reports/{report.reference}"}
    )


def inbox_context(report: Report, language: str, colon: str, files: int) -> dict[str, Any]:
    """Return what the safety inbox's mail shows besides: its subject's markers, the report's
    facts, the batch check."""
    config = current_app.config
    term = partial(vocab.label, language=language)

    def label(name: str) -> str:
        return vocab.field_label(name, language)

    death = report.event_outcome == "death" or bool(
        report.day_zero
        and report.due_at
        and regulatory.is_death_clock(report.day_zero, report.due_at)
    )  # a follow-up of a death is due at once too
    due = (
        report.due_at.astimezone(regulatory.CHINA).date().isoformat()
        if report.due_at
        else vocab.NO_DEADLINE["periodic" if report.day_zero else "incomplete"].text(language)
    )
    first = (
        db.session.scalar(sa.select(Report.reference).where(Report.id == report.follow_up_of_id))
        if report.follow_up_of_id
        else None
    )
    facts: list[tuple[str, str | None]] = [
        (_("Reference"), report.reference),
        (
            _("Report"),
            f"{term(vocab.REPORT_KIND, 'follow_up' if first else 'initial')} {first or ''}",
        ),
        (
            _("Received (China time)"),
            f"{report.received_at.astimezone(regulatory.CHINA):%Y-%m-%d %H:%M}",
        ),
        (_("Category"), term(vocab.REPORT_CATEGORY, report.report_category)),
        (
            label("event-serious"),
            "、".join(term(vocab.SERIOUSNESS, c) for c in report.event_serious),
        ),
        (_("Reporting deadline"), due),
    ]
    for drug in regulatory.suspect_drugs(report):
        brand = f"[{drug.brand_name}]" if drug.brand_name else ""
        printed = [
            f"{label('drug-' + name)}{colon}{value}"
            for name in ("strength", "batch_number", "expiry_date")
            if (value := getattr(drug, name))
        ]
        name = " ".join(part for part in (drug.generic_name or "", brand, *printed) if part)
        facts.append((term(vocab.DRUG_ROLE, "suspect"), name))
    completeness = regulatory.completeness(report)
    place = " ".join(part for part in (report.event_province, report.event_city) if part)
    facts += [
        (label("event-name"), report.event_name),
        (label("event-onset_date"), f"{report.event_onset_date or ''}"),
        (_("Where it happened"), place),
        (label("event-outcome"), term(vocab.OUTCOME, report.event_outcome)),
        (label("reporter-kind"), term(vocab.REPORTER_KIND, report.reporter_kind)),
        (label("patient-pregnant"), term(vocab.PREGNANT, report.patient_pregnant)),
        (_("Completeness"), f"{completeness.score}%"),
        (_("Missing"), "、".join(label(name) for name in completeness.missing)),
    ]
    if config["MAIL_INCLUDE_PERSONAL_DATA"]:
        for name in (
            "reporter-name",
            "reporter-phone",
            "reporter-email",
            "patient-name",
            "patient-phone",
        ):
            facts.append((label(name), getattr(report, name.replace("-", "_"))))
    # The batch check, from the drugs' products that `products.link` set before this mail.
    batch_check = products.check_batches(report.drugs, report.event_onset_date)
    unregistered = any(d.batch_number and not d.batch for d in batch_check.drugs)
    markers = ([_("[Death]")] if death else []) + ([_("[Serious]")] if report.serious else [])
    markers += [_("[Unknown batch]")] if unregistered else []
    return {
        "subject": _(
            "%(markers)s ADR report %(reference)s, due %(due)s",
            markers="".join(markers),
            reference=report.reference,
            due=due,
        ),
        "facts": [(name, value.strip()) for name, value in facts if value and value.strip()],
        "death": death,
        "pregnant": report.patient_pregnant == "yes",
        "batch_check": batch_check,
        "files": files,
    }


# Delivering mails.


@dataclass
class Delivery:
    """What one pass over the outbox did."""

    sent: list[OutboxMail] = field(default_factory=list)
    retrying: list[OutboxMail] = field(default_factory=list)
    failed: list[OutboxMail] = field(default_factory=list)
    unrecorded: list[OutboxMail] = field(default_factory=list)  # tried, outcome not written


class TimeoutConnection(Connection):
    """Flask-Mail's connection, with a timeout on every socket operation of the attempt."""

    def configure_host(self) -> smtplib.SMTP | smtplib.SMTP_SSL:
        config = current_app.config
        timeout = float(config["MAIL_TIMEOUT"])
        smtp = smtplib.SMTP_SSL if self.mail.use_ssl else smtplib.SMTP
        host = smtp(self.mail.server, self.mail.port, timeout=timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host

    def __exit__(self, *exc_info: object) -> None:
        if self.host is not None:
            try:
                self.host.quit()
            except (smtplib.SMTPException, OSError):
                self.host.close()


def deliver_pending_mail(
    *,
    ignore_backoff: bool = False,
    retry_failed: bool = False,
    now: datetime | None = None,
    smtp: SMTPSession | None = None,
) -> Delivery:
    """Try each mail that is due (or every undelivered one) once; return what happened.

    First the notices of the cases that joined group events since the last pass are queued
    (`adr.signals.group_events.queue_join_notices`).
    Mails go a batch at a time: claimed in one write transaction, sent over one SMTP
    connection (`smtp`, kept by the caller across passes, or one for this pass), their
    outcomes written in another. A mail queued during the pass is taken too.
    """
    from adr.signals.group_events import queue_join_notices  # which imports this module

    queue_join_notices()
    delivery = Delivery()
    session = smtp or SMTPSession()
    session.start_pass()
    after = 0  # each mail is tried once a pass: a batch takes ids above the last one's
    try:
        while True:
            moment = now or datetime.now(UTC)
            ids = _candidates(moment, ignore_backoff, retry_failed, after)
            if not ids:
                break
            after = ids[-1]
            batch = _claim(ids, moment, ignore_backoff, retry_failed)
            tried: list[tuple[OutboxMail, Exception | None]] = []
            for mail, reference in batch:
                if tried and claim_running_out(mail):
                    break
                tried.append((mail, session.send(mail, reference)))
            untried = [mail for mail, _reference in batch[len(tried) :]]
            if untried:  # given back, to be claimed again in this pass
                after = tried[-1][0].id
            _record(tried, delivery, untried)
    finally:
        if smtp is None:
            session.close()
    return delivery


def claim_running_out(mail: OutboxMail) -> bool:
    """Tell whether a batch's claim has run half its timeout: past it, another sender would
    take the batch's mails, those already sent too. A slow server (each reply up to
    MAIL_TIMEOUT) can hold a batch that long; the mails not yet tried are given back instead."""
    half = timedelta(seconds=current_app.config["MAIL_CLAIM_TIMEOUT_SECONDS"] / 2)
    return mail.claimed_at is not None and datetime.now(UTC) - mail.claimed_at > half


def claimable(ignore_backoff: bool, retry_failed: bool) -> sa.ColumnElement[bool]:
    """Return which mails a pass may take: due ones (at `now`, bound), and those whose claim
    was taken before `stale` and never released (built once, in the statements below)."""
    statuses = ["pending", "failed"] if retry_failed else ["pending"]
    waiting: sa.ColumnElement[bool] = OutboxMail.status.in_(statuses)
    if not ignore_backoff:
        waiting = sa.and_(waiting, OutboxMail.next_attempt_at <= sa.bindparam("now"))
    stale = OutboxMail.claimed_at < sa.bindparam("stale")
    return sa.or_(waiting, sa.and_(OutboxMail.status == "sending", stale))


def moments(now: datetime) -> dict[str, datetime]:
    """Return the values `claimable` takes at `now`."""
    timeout = timedelta(seconds=current_app.config["MAIL_CLAIM_TIMEOUT_SECONDS"])
    return {"now": now, "stale": now - timeout}


# The sender's statements, built once (`claimable`'s two choices make four of each of the
# first two).
IDS: sa.BindParameter[list[int]] = sa.bindparam("ids", expanding=True)


@cache
def candidates(ignore_backoff: bool, retry_failed: bool) -> sa.Select[int]:
    """Return the statement of a batch of claimable mails' ids above `after`, `size` at most."""
    return (
        sa.select(OutboxMail.id)
        .where(claimable(ignore_backoff, retry_failed), OutboxMail.id > sa.bindparam("after"))
        .order_by(OutboxMail.id)
        .limit(sa.bindparam("size"))
    )


@cache
def claiming(ignore_backoff: bool, retry_failed: bool) -> sa.Update:
    """Return the statement that claims those of the mails `ids` still claimable."""
    return (
        sa.update(OutboxMail)
        .where(OutboxMail.id.in_(IDS), claimable(ignore_backoff, retry_failed))
        .values(
            status="sending", claimed_at=sa.bindparam("claimed"), attempts=OutboxMail.attempts + 1
        )
        .returning(OutboxMail.id)
    )


CLAIMED = (  # the mails claimed, with their report's reference
    sa.select(OutboxMail, Report.reference)
    .outerjoin(Report, Report.id == OutboxMail.report_id)
    .where(OutboxMail.id.in_(IDS))
    .order_by(OutboxMail.id)
    .execution_options(populate_existing=True)
)
# Rows still holding the claim they were sent under (a batch's rows share it); the values
# given with it are what the UPDATE sets.
STILL_CLAIMED = sa.update(OutboxMail).where(
    OutboxMail.id.in_(IDS), OutboxMail.claimed_at == sa.bindparam("claimed")
)
GIVEN_BACK = STILL_CLAIMED.values(  # a claimed mail not tried: as it was before the claim
    status="pending", claimed_at=None, attempts=OutboxMail.attempts - 1
)


def _candidates(now: datetime, ignore_backoff: bool, retry_failed: bool, after: int) -> list[int]:
    """Return the ids of the next batch of claimable mails above `after`."""
    size = current_app.config["MAIL_BATCH_SIZE"]
    query = candidates(ignore_backoff, retry_failed)
    ids = list(db.session.scalars(query, moments(now) | {"after": after, "size": size}))
    db.session.rollback()  # end the read, so the claim opens its own write transaction
    return ids


def _claim(
    ids: list[int], now: datetime, ignore_backoff: bool, retry_failed: bool
) -> list[tuple[OutboxMail, str | None]]:
    """Take for this sender, atomically, those of these rows still claimable (another sender
    may have taken some first); return them with their report's reference."""
    claimed_at = datetime.now(UTC)
    with write_transaction() as session:
        claim = claiming(ignore_backoff, retry_failed)
        claimed = list(
            session.connection().scalars(claim, moments(now) | {"ids": ids, "claimed": claimed_at})
        )
        if not claimed:
            return []
        rows = session.execute(CLAIMED, {"ids": claimed})
        batch = [(row.OutboxMail, row.reference) for row in rows]
        for outbox_mail, _reference in batch:
            session.expunge(outbox_mail)  # keep what was read once the transaction ends
    return batch


# How a mail goes on the wire: the email package's compat32 policy, with SMTP's CRLF line ends.
# Flask-Mail puts policy.SMTP on the finished message instead, which parses every header again
# through the header registry as it is written out: most of the sender's CPU. The parts are the
# same either way (UTF-8 text, 8bit, as Flask-Mail registers the charset), and so are the
# headers: Flask-Mail writes a non-ASCII subject or name as RFC 2047 words folded at 76; the
# others are folded only past RFC 5322's limit of 998 characters (at 78, compat32 would move a
# Message-ID, which has no space to fold at, to a line of its own).
class WirePolicy(policy.Compat32):
    """compat32, but a header that is one ASCII line within the limit is written as it stands:
    the bytes compat32's Header encoder makes of it too, without the encoder (a fifth of the
    time a mail takes to write)."""

    def fold_binary(self, name: str, value: Any) -> bytes:
        if isinstance(value, str):
            line = f"{name}: {value}"
            fits = self.max_line_length is None or len(line) <= self.max_line_length
            if fits and line.isascii() and value.splitlines() in ([], [value]):
                return f"{line}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


WIRE_POLICY = WirePolicy(linesep="\r\n", max_line_length=998)


class WireMessage(Message):
    """A Flask-Mail message written out by `WIRE_POLICY`, its boundaries drawn at random.

    Left unset, each boundary is checked against the text by a regular expression compiled
    for it. Ours are 128 random bits drawn at each sending, which no text written before it
    can hold: keep them unpredictable.
    """

    def _message(self) -> Any:
        message = super()._message()
        message.policy = WIRE_POLICY
        for part in message.walk():
            if part.is_multipart():
                part.set_boundary(f"=_{secrets.token_hex(16)}")
        return message


def wire_message(outbox_mail: OutboxMail, reference: str | None) -> WireMessage:
    """Return a stored mail (about the report of `reference`, if any) as it goes on the wire."""
    named = {REFERENCE_HEADER: reference} if reference else {}
    message = WireMessage(
        subject=outbox_mail.subject,
        recipients=list(outbox_mail.recipients),
        body=follow_up_links.with_token(outbox_mail.body_text, outbox_mail.message_id),
        html=follow_up_links.with_token(outbox_mail.body_html, outbox_mail.message_id),
        sender=current_app.config["MAIL_DEFAULT_SENDER"],
        extra_headers={KIND_HEADER: outbox_mail.kind} | named,
    )
    message.msgId = outbox_mail.message_id  # the inbox knows our mails by it (adr.inbox)
    return message


class SMTPSession:
    """One SMTP connection, opened when first needed, dropped after any error; a background
    sender keeps it from pass to pass, checked once a pass before it carries a mail.

    A server that cannot be reached (refused, silent past MAIL_TIMEOUT, refusing the login) is
    tried once a pass: the pass's later mails get its error without a connection each, or a
    timeout each while it hangs (`unreachable`), and are retried as any failed attempt is.
    """

    def __init__(self) -> None:
        self.connection: TimeoutConnection | None = None
        self.unchecked = False
        self.unreachable: Exception | None = None

    def start_pass(self) -> None:
        """Start a pass: check a kept connection (NOOP) before the next mail, as the server may
        have dropped it, and try a server the last pass could not reach again."""
        self.unchecked = self.connection is not None
        self.unreachable = None

    def send(self, outbox_mail: OutboxMail, reference: str | None = None) -> Exception | None:
        """Send one mail (about the report of `reference`, if any); return the error, if any.

        Whatever the error, the batch's other outcomes are still written, and this mail is tried
        again as any failed attempt is: none is left claimed, to be sent again unrecorded.
        """
        if self.unreachable is not None:
            return self.unreachable
        try:
            message = wire_message(outbox_mail, reference)
            self.check_kept()
            if self.connection is None:
                try:
                    self.connection = TimeoutConnection(current_app.extensions["mail"]).__enter__()
                except Exception as error:  # refused, silent, the login refused or unwritable
                    self.unreachable = error
                    return error
            self.connection.send(message)
        except UnicodeError as error:  # an address Flask-Mail cannot write (王丽@…): none sent
            return error
        except Exception as error:  # refused, dropped, or a mail this code cannot write
            self.close()
            return error
        return None

    def check_kept(self) -> None:
        """NOOP a kept connection before the pass's first mail: one the server closed while idle
        is dropped, and a fresh one opened, nothing sent on the old."""
        if self.unchecked and self.connection is not None and self.connection.host is not None:
            self.unchecked = False
            try:
                self.connection.host.noop()
            except (smtplib.SMTPException, OSError):
                self.close()

    def close(self) -> None:
        if self.connection is not None:
            self.connection.__exit__(None, None, None)
            self.connection = None


def is_permanent(error: Exception) -> bool:
    """Tell whether the mail is refused for good (a 5xx, or an address or header it cannot
    carry), rather than for now."""
    if isinstance(error, BadHeaderError | UnicodeError):
        return True
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _reply in error.recipients.values())
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return False  # the deployment's password, not the mail: retry once it is fixed
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code >= 500


def describe(error: Exception) -> str:
    """Return the server's reply, or the kind of failure, as staff read it."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        replies = [
            f"{code} {reply.decode(errors='replace')}" for code, reply in error.recipients.values()
        ]
        return "; ".join(replies)
    if isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        return f"{error.smtp_code} {text}"
    return f"{type(error).__name__}: {error}"[:1000]


def without_addresses(text: str) -> str:
    """Return an error with its e-mail addresses hidden (servers quote the recipient)."""
    return ADDRESS.sub("<address>", text)


def retry_delay(attempts: int) -> timedelta:
    """Return the wait before the next attempt: doubling from the base, up to the cap."""
    config = current_app.config
    seconds = config["MAIL_RETRY_BASE_SECONDS"] * 2 ** min(attempts - 1, 30)
    return timedelta(seconds=min(seconds, config["MAIL_RETRY_MAX_SECONDS"]))


def _record(
    tried: list[tuple[OutboxMail, Exception | None]],
    delivery: Delivery,
    untried: list[OutboxMail],
) -> None:
    """Write what became of a batch of mails, and give back those `untried` (their claim
    released, its attempt taken back), in one write transaction."""
    now = datetime.now(UTC)
    window = timedelta(hours=current_app.config["MAIL_RETRY_WINDOW_HOURS"])
    outcomes: list[tuple[OutboxMail, dict[str, Any]]] = []
    for outbox_mail, error in tried:
        values: dict[str, Any] = {"claimed_at": None}
        if error is None:
            values |= {"status": "sent", "sent_at": now, "last_error": None}
        else:
            values["last_error"] = describe(error)
            if is_permanent(error) or now - outbox_mail.created_at > window:
                values["status"] = "failed"
            else:
                values |= {
                    "status": "pending",
                    "next_attempt_at": now + retry_delay(outbox_mail.attempts),
                }
            log.warning(
                "mail %s to the %s: %s",
                outbox_mail.id,
                outbox_mail.kind,
                without_addresses(values["last_error"]),
            )
        outcomes.append((outbox_mail, values))
    if not outcomes:
        return
    try:
        _write_outcomes(outcomes, untried)
    except DBAPIError:
        log.exception(
            "mails %s: could not record what became of them; their claims will be released",
            ", ".join(str(outbox_mail.id) for outbox_mail, _values in outcomes),
        )
        delivery.unrecorded += [outbox_mail for outbox_mail, _values in outcomes]
        return
    lists = {"sent": delivery.sent, "failed": delivery.failed, "pending": delivery.retrying}
    for outbox_mail, values in outcomes:
        for name, value in values.items():
            setattr(outbox_mail, name, value)
        lists[values["status"]].append(outbox_mail)


def _write_outcomes(
    outcomes: list[tuple[OutboxMail, dict[str, Any]]], untried: list[OutboxMail]
) -> None:
    """Write what became of a batch, trying again while the database is briefly unreachable.

    The server has the sent mails by now: giving up leaves their rows claimed, and they are
    sent again once the claim times out. A restarting database is usually back within seconds.
    """
    # One UPDATE for each set of values: the mails sent share theirs, and so do the mails that
    # met a server that could not be reached.
    alike: dict[tuple[tuple[str, Any], ...], list[OutboxMail]] = {}
    for outbox_mail, values in outcomes:
        alike.setdefault(tuple(sorted(values.items())), []).append(outbox_mail)
    deadline = time.monotonic() + current_app.config["MAIL_RECORD_RETRY_SECONDS"]
    pause = RECORD_FIRST_PAUSE_SECONDS
    while True:
        try:
            with write_transaction() as session:
                connection = session.connection()
                for shared, mails in alike.items():
                    connection.execute(STILL_CLAIMED, still_claimed(mails) | dict(shared))
                if untried:
                    connection.execute(GIVEN_BACK, still_claimed(untried))
            return
        except DBAPIError as error:
            db.session.rollback()  # the BEGIN may have failed before write_transaction's own
            if not is_unreachable(error) or time.monotonic() + pause > deadline:
                raise
            log.warning("mails: the database is unreachable; trying again to record them")
            time.sleep(pause)
            pause = min(pause * 2, RECORD_MAX_PAUSE_SECONDS)


def still_claimed(mails: list[OutboxMail]) -> dict[str, Any]:
    """Return the values `STILL_CLAIMED` takes for these rows (a batch's)."""
    return {"ids": [mail.id for mail in mails], "claimed": mails[0].claimed_at}


def is_unreachable(error: DBAPIError) -> bool:
    """Tell whether a database error is about reaching the database, not about the write."""
    return isinstance(error, OperationalError) or error.connection_invalidated


# The background sender of a web process.


def delivery_pass(app: Flask, smtp: SMTPSession, retry_failed: bool = False) -> Delivery | None:
    """Deliver due mail once, in an app context of its own, for a sender that keeps running
    (the background thread, `adr send-mail --loop`); a pass that fails (the database restarting)
    is logged and its connection dropped, and None says so."""
    try:
        with app.app_context():
            return deliver_pending_mail(retry_failed=retry_failed, smtp=smtp)
    except Exception:
        log.exception("mail delivery pass failed; trying again later")
        smtp.close()
        return None


class BackgroundSender:
    """One thread per web process that delivers due mail, woken by a new report: at once, or
    within MAIL_PASS_SECONDS of its previous pass."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.wake_up = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def ensure_running(self) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self.run, name="adr-mail", daemon=True)
                self.thread.start()

    def run(self) -> None:
        config = self.app.config
        smtp = SMTPSession()  # kept while mail keeps coming; dropped after a quiet poll
        while not self.stopping.is_set():
            self.wake_up.clear()  # a report committed from now on wakes the next pass
            started = time.monotonic()
            delivery_pass(self.app, smtp)
            if not self.wake_up.wait(config["MAIL_POLL_SECONDS"]):
                smtp.close()
            # Under load, one pass every MAIL_PASS_SECONDS takes the mails of many reports;
            # the first report after a quiet spell is mailed at once.
            self.stopping.wait(max(0.0, started + config["MAIL_PASS_SECONDS"] - time.monotonic()))
        smtp.close()

    def stop(self) -> None:
        """Finish the pass under way, then end the thread."""
        self.stopping.set()
        self.wake_up.set()
        if self.thread is not None:
            self.thread.join()


def init_background_sender(app: Flask) -> None:
    """Start the sender lazily, on the web process's first request (never for CLI commands)."""
    sender = app.extensions[EXTENSION] = BackgroundSender(app)
    if app.config["MAIL_BACKGROUND"]:
        app.before_request(sender.ensure_running)


def wake_sender() -> None:
    """Ask this process's background sender to look at the outbox now."""
    current_app.extensions[EXTENSION].wake_up.set()
