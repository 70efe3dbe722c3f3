"""A message of the safety inbox stored once, whole: its raw bytes and the headers staff triage by.

`store` is the one way a message enters the database, for `adr fetch-mail` and the tests alike:
the raw RFC 822 bytes become a source document (origin `email`) and the triage row is added
beside it, in the caller's transaction. A message already stored (the same Message-ID, or the
same bytes) is not stored again. A message too large to download keeps only its header here
(`too_large`): staff read it in the mailbox, where it stays. Nothing here trusts the message: a
header that cannot be decoded is kept as its raw text, one written in raw 8-bit bytes (as some
Chinese mail clients send them) is read as UTF-8 or GB18030, and a message that does not parse
is still stored.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from adr import audit
from adr.inbox import reading
from adr.models import Document, InboxMessage
from adr.regulatory import china_date

APP = "fetch-mail"  # the audit trail's actor for what the app does with the inbox by itself
HIDDEN = ("Cc", "Cf", "Cs")  # controls, format characters (bidi overrides), stray surrogates
MESSAGE_ID = re.compile(r"<[^<>\s]+>")
EIGHT_BIT = re.compile("[\udc80-\udcff]")  # a raw byte above 127, as the parser keeps it


def parse_header(raw: bytes) -> EmailMessage:
    """Return a message's header parsed (the body is not read: cheap for a large message)."""
    message = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
    assert isinstance(message, EmailMessage)
    return message


def header(message: EmailMessage, name: str) -> str:
    """Return a header's decoded text on one line, without control or invisible characters (a
    NUL PostgreSQL refuses, a right-to-left override that disguises a name), or its raw text
    when it cannot be decoded."""
    raw = next((v for k, v in message.raw_items() if k.lower() == name.lower()), None)
    if raw is not None and EIGHT_BIT.search(raw):
        value: object = eight_bit(raw)
    else:
        try:
            value = message.get(name)
        except Exception:  # a malformed header of a stranger's message: keep it raw
            value = raw
    text = "".join(" " if unicodedata.category(c) in HIDDEN else c for c in str(value or ""))
    return " ".join(text.split())


def eight_bit(raw: str) -> str:
    """Return a header sent as raw 8-bit bytes, not encoded words: UTF-8, else GB18030."""
    data = raw.encode("utf-8", "surrogateescape")
    for charset in ("utf-8", "gb18030"):
        try:
            return data.decode(charset)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", "replace")


def message_ids(value: str) -> list[str]:
    """Return the Message-IDs a header names (Message-ID, In-Reply-To, References), in order."""
    return MESSAGE_ID.findall(value)


@dataclass(frozen=True)
class Headers:
    """What triage reads of a message before its body."""

    message_id: str | None
    sender: str
    subject: str
    sent_at: datetime | None
    in_reply_to: list[str]  # In-Reply-To, then References: the mails it answers

    @classmethod
    def of(cls, message: EmailMessage) -> Headers:
        ids = message_ids(header(message, "Message-ID"))
        answered = message_ids(header(message, "In-Reply-To"))
        answered += [i for i in message_ids(header(message, "References")) if i not in answered]
        return cls(
            message_id=ids[0] if ids and len(ids[0]) <= 250 else None,
            sender=header(message, "From")[:320],
            subject=header(message, "Subject")[:500],
            sent_at=sent_at(header(message, "Date")),
            in_reply_to=answered,
        )


def sent_at(value: str) -> datetime | None:
    """Return a Date header as an aware time, or None when it is missing or malformed."""
    try:
        moment = parsedate_to_datetime(value)
    except Exception:  # a stranger's header: TypeError, ValueError, OverflowError (+99999999999)
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def already_stored(session: Session, sha256: str, headers: Headers) -> bool:
    """Return whether this message is in the database: the same bytes, or the same message."""
    if session.scalar(sa.select(sa.exists().where(InboxMessage.sha256 == sha256))):
        return True
    return same_message(session, headers) is True


def same_message(session: Session, headers: Headers) -> bool | None:
    """Return whether the stored message holding this Message-ID is this one (the same sender,
    subject and date); None when no message holds it.

    The same message delivered twice (copied to two addresses, say) differs only in its
    transport headers; a different message reusing a Message-ID (a careless device, a forger)
    is a message of its own, stored as one.
    """
    if headers.message_id is None:
        return None
    holder = session.execute(
        sa.select(InboxMessage.sender, InboxMessage.subject, InboxMessage.sent_at).where(
            InboxMessage.message_id == headers.message_id
        )
    ).first()
    if holder is None:
        return None
    return tuple(holder) == (headers.sender, headers.subject, headers.sent_at)


def store(
    session: Session,
    raw: bytes,
    *,
    received_at: datetime,
    folder: str = "INBOX",
    uidvalidity: int | None = None,
    uid: int | None = None,
    too_large: int | None = None,
) -> InboxMessage | None:
    """Add a message and its raw bytes to the session; None when it was stored before.

    `too_large`: the size of a message left on the server, of which `raw` is the header only
    (then no document, and the header's hash stands for the bytes never downloaded). The
    caller commits (a unique constraint settles two fetchers racing for one message).
    """
    headers = Headers.of(parse_header(raw))
    sha256 = hashlib.sha256(raw).hexdigest()
    if session.scalar(sa.select(sa.exists().where(InboxMessage.sha256 == sha256))):
        return None
    same = same_message(session, headers)
    if same:
        return None
    now = datetime.now(UTC)
    document = None
    if too_large is None:
        document = Document(
            origin="email",
            filename=f"message-{china_date(received_at):%Y%m%d}-{uid or 0}.eml",
            content_type="message/rfc822",
            size=len(raw),
            sha256=sha256,
            data=raw,
            added_at=now,
        )
    message = InboxMessage(
        message_id=None if same is False else headers.message_id,  # its bytes keep it
        sha256=sha256,
        document=document,
        folder=folder,
        uidvalidity=uidvalidity,
        uid=uid,
        received_at=received_at,
        fetched_at=now,
        sent_at=headers.sent_at,
        sender=headers.sender,
        subject=headers.subject,
        size=len(raw) if too_large is None else too_large,
        too_large=too_large is not None,
        attachments=None if document is None else reading.attachment_count(raw),
    )
    session.add(message)
    session.flush()
    audit.record(session, APP, "message stored", field="message", new=message.id)
    return message
