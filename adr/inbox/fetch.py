"""The safety inbox read over IMAP: each new message stored whole, then flagged on the server.

`fetch_mail` takes the messages of the folder that lack the keyword `$AdrStored`, oldest first.
The server keeps that mark with each message, so a restored database, a new UIDVALIDITY (the
folder rebuilt, its UIDs renumbered) and a second fetcher all find the same list, and a message
put back into the folder is looked at again. For each message:

1. its INTERNALDATE, size and header are read (BODY.PEEK: reading never sets \\Seen);
2. one whose Message-ID is stored already (a crash after the commit, before the flag; a copy of
   a message stored) is only flagged; one larger than `IMAP_MAX_MESSAGE_MB` stays on the server
   and gets a triage row of its header alone (`too_large`), so staff read it in the mailbox;
3. any other is downloaded whole, alone (one message in memory at a time), and stored with its
   triage row and its automatic reconciliation (`adr.inbox.reconcile`) in one transaction,
   INTERNALDATE as the time it was received;
4. and only once that committed, \\Seen and $AdrStored are added to it on the server.

A message without a Message-ID that the server could not mark is downloaded again on the next
run and found stored by its bytes. Nothing is deleted or expunged: the folder is never closed
(CLOSE expunges what a person marked deleted), only logged out of.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from adr.extensions import db
from adr.inbox.messages import Headers, already_stored, parse_header, same_message, store
from adr.inbox.reconcile import reconcile
from adr.mailer import is_unreachable, without_addresses
from adr.models import write_transaction

KEYWORD = "$AdrStored"
FLAGS = [b"\\Seen", KEYWORD.encode()]
HEADERS_AT_ONCE = 50  # messages whose headers one FETCH reads
SECURITY = ("ssl", "starttls", "none")


class SettingsError(ValueError):
    """The IMAP settings are missing or refused."""


class FetchError(Exception):
    """The mailbox could not be read: the connection, TLS, the login, the folder, a command."""


def setting_text(value: object) -> str:
    """Return a setting as typed: `ADR_*` variables holding 123456 or true arrive as JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def is_loopback(host: str) -> bool:
    """Tell whether a host is this machine: 127.0.0.0/8, ::1 or `localhost` (never resolved:
    `localhost.` or `localhost.localdomain` go to DNS, which may answer anything)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    """Where the safety inbox is and how to reach it (`ADR_IMAP_*`)."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    folder: str
    security: str
    ca_file: str | None
    timeout: float
    max_bytes: int

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Settings:
        """Read and check the app's settings; SettingsError says what is wrong."""
        host = setting_text(config["IMAP_HOST"]).strip()
        user = setting_text(config["IMAP_USER"])
        if not host or not user:
            raise SettingsError("set ADR_IMAP_HOST, ADR_IMAP_USER and ADR_IMAP_PASSWORD")
        security = setting_text(config["IMAP_SECURITY"]).strip().lower()
        if security not in SECURITY:
            raise SettingsError("ADR_IMAP_SECURITY must be ssl, starttls or none")
        if security == "none" and not is_loopback(host):
            raise SettingsError(
                "ADR_IMAP_SECURITY=none would send the password unencrypted: it is refused "
                "unless ADR_IMAP_HOST is this machine (127.0.0.1, ::1 or localhost); "
                "use ssl or starttls"
            )
        try:
            port = int(config["IMAP_PORT"] or (993 if security == "ssl" else 143))
            timeout = float(config["IMAP_TIMEOUT"])
            max_bytes = int(float(config["IMAP_MAX_MESSAGE_MB"]) * 1024 * 1024)
        except (TypeError, ValueError):
            raise SettingsError(
                "ADR_IMAP_PORT, ADR_IMAP_TIMEOUT and ADR_IMAP_MAX_MESSAGE_MB must be numbers"
            ) from None
        return cls(
            host=host,
            port=port,
            user=user,
            password=setting_text(config["IMAP_PASSWORD"]),
            folder=setting_text(config["IMAP_FOLDER"]) or "INBOX",
            security=security,
            ca_file=setting_text(config["IMAP_CA_FILE"]) or None,
            timeout=timeout,
            max_bytes=max_bytes,
        )


@dataclass
class Fetched:
    """What one pass over the folder did."""

    stored: list[int] = field(default_factory=list)  # inbox_message ids, too large ones too
    too_large: list[int] = field(default_factory=list)
    reconciled: list[int] = field(default_factory=list)
    proposed: list[int] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # refused by the database: left unflagged
    flagged_only: int = 0  # stored before (a crash before the flag, a copy): only flagged
    keyword_kept: bool = True  # False: the server keeps no $AdrStored here; only \Seen is set


@contextmanager
def talking(what: str) -> Iterator[None]:
    """Turn the server's or the network's failure into a FetchError saying what was under way."""
    try:
        yield
    except (IMAPClientError, OSError) as error:  # refused, timed out, TLS, login, BAD/NO
        said = error.args[0] if len(error.args) == 1 else None
        detail = said.decode(errors="replace") if isinstance(said, bytes) else str(error)
        raise FetchError(f"{what}: {type(error).__name__}: {without_addresses(detail)}") from None


@contextmanager
def connected(settings: Settings) -> Iterator[IMAPClient]:
    """Yield a logged-in connection; log out at the end (which expunges nothing)."""
    context = None
    if settings.security != "none":
        context = ssl.create_default_context(cafile=settings.ca_file)  # verifies the host
    with talking(f"connecting to the IMAP server (port {settings.port}, {settings.security})"):
        client = IMAPClient(
            settings.host,
            port=settings.port,
            ssl=settings.security == "ssl",
            ssl_context=context,
            timeout=settings.timeout,
        )
    with client:  # LOGOUT at the end, or the socket closed if that fails
        if settings.security == "starttls":
            with talking("starting TLS"):
                client.starttls(context)
        with talking("logging in (are the user and the password right?)"):
            client.login(settings.user, settings.password)
        client.normalise_times = False  # INTERNALDATE with the server's offset, not local time
        yield client


def fetch_mail(
    settings: Settings, fetched: Fetched | None = None, stop: threading.Event | None = None
) -> Fetched:
    """Store every message of the folder not yet stored, then flag it on the server.

    `fetched` is filled as messages are stored, so it tells what was done before an error;
    the pass ends between two messages once `stop` is set.
    """
    fetched = Fetched() if fetched is None else fetched
    with connected(settings) as client:
        with talking(f"opening the folder {settings.folder}"):
            folder = client.select_folder(settings.folder)
            uids = sorted(client.search(["UNKEYWORD", KEYWORD]))
        place = {"folder": settings.folder, "uidvalidity": int(folder[b"UIDVALIDITY"])}
        permanent = folder.get(b"PERMANENTFLAGS", (b"\\*",))  # absent: every flag is kept
        fetched.keyword_kept = b"\\*" in permanent or KEYWORD.encode() in permanent
        flags = FLAGS if fetched.keyword_kept else FLAGS[:1]
        for start in range(0, len(uids), HEADERS_AT_ONCE):
            batch = uids[start : start + HEADERS_AT_ONCE]
            with talking("reading the messages' headers"):
                heads = client.fetch(batch, ["INTERNALDATE", "RFC822.SIZE", "BODY.PEEK[HEADER]"])
            for uid in batch:
                if stop is not None and stop.is_set():
                    return fetched
                if uid in heads and stored(
                    client, settings, place | {"uid": uid}, heads[uid], fetched
                ):
                    with talking("flagging a stored message"):
                        client.add_flags([uid], flags, silent=True)
    return fetched


def stored(
    client: IMAPClient,
    settings: Settings,
    place: dict[str, Any],
    head: dict[bytes, Any],
    fetched: Fetched,
) -> bool:
    """Take one message; True once it is in the database, to be flagged.

    A message the database refuses, or that the app cannot take, is left unflagged on the
    server, said in `fetched.failed`, and tried again next time, without holding up the
    messages after it; a server or a database that cannot be reached ends the pass.
    """
    try:
        return take(client, settings, place, head, fetched)
    except FetchError:
        raise
    except sa.exc.DBAPIError as error:
        db.session.rollback()
        if is_unreachable(error):
            raise
        fetched.failed.append(f"UID {place['uid']}: {str(error).splitlines()[0]}")
    except Exception as error:  # a stranger's message the app cannot take: the next one can be
        db.session.rollback()
        fetched.failed.append(f"UID {place['uid']}: {type(error).__name__}")
    return False


def take(
    client: IMAPClient,
    settings: Settings,
    place: dict[str, Any],
    head: dict[bytes, Any],
    fetched: Fetched,
) -> bool:
    """Store one message unless it is stored already; False if it vanished from the folder."""
    header = bytes(head.get(b"BODY[HEADER]") or b"")
    size = int(head[b"RFC822.SIZE"])
    received_at = head[b"INTERNALDATE"]
    if received_at.tzinfo is None:  # a server that gave no offset: read as UTC
        received_at = received_at.replace(tzinfo=UTC)
    parsed = parse_header(header)
    known = same_message(db.session(), Headers.of(parsed)) is True
    db.session.rollback()  # end the read: no transaction stays open while the server talks
    if known:
        fetched.flagged_only += 1
        return True
    if size > settings.max_bytes:
        keep(header, parsed, received_at, place, size, fetched)
        return True
    with talking("downloading a message"):
        raw = client.fetch([place["uid"]], ["BODY.PEEK[]"]).get(place["uid"], {}).get(b"BODY[]")
    if raw is None:
        return False  # expunged by someone since its header was read
    keep(raw, parsed, received_at, place, None, fetched)
    return True


def keep(
    raw: bytes,
    parsed: EmailMessage,
    received_at: datetime,
    place: dict[str, Any],
    too_large: int | None,
    fetched: Fetched,
) -> None:
    """Store a message (its header alone when `too_large`) and reconcile it, in one transaction.

    A second fetcher that stored it first makes the insert fail on a unique constraint (the
    Message-ID or the hash): then it is stored, once, by the other.
    """
    try:
        with write_transaction() as session:
            message = store(session, raw, received_at=received_at, too_large=too_large, **place)
            done = reconcile(session, message, parsed) if message else None
            message_id = message.id if message else None
    except sa.exc.IntegrityError:
        stored = already_stored(db.session(), hashlib.sha256(raw).hexdigest(), Headers.of(parsed))
        db.session.rollback()
        if not stored:
            raise
        message_id = None
    if message_id is None:
        fetched.flagged_only += 1
        return
    fetched.stored.append(message_id)
    if too_large is not None:
        fetched.too_large.append(message_id)
    if done == "reconciled":
        fetched.reconciled.append(message_id)
    elif done == "proposed":
        fetched.proposed.append(message_id)
