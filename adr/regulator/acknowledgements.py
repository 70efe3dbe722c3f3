"""The national system's acknowledgements of our E2B(R3) files: read, checked and recorded.

An acknowledgement is an ICH E2B(R3) batch acknowledgement, HL7 `MCCI_IN200101UV01`, holding
one message acknowledgement (`MCCI_IN000002UV01`) per ICSR of the batch it answers. The
elements read, as ICH's element list and FDA's and the ICH reference instances place them
(namespace urn:hl7-org:v3, `B` = the root, `M` = one `B/MCCI_IN000002UV01`):

- ACK.M.4 date of the acknowledgement: `B/creationTime/@value` (becomes `ack_at`)
- ACK.A.1 our batch number (N.1.2): `B/acknowledgement/targetBatch/id/@extension`
- ACK.A.4 batch code: `B/acknowledgement/@typeCode`: AA all loaded, AE not all, AR none read
- ACK.A.5 batch validation error: `B/acknowledgement/acknowledgementDetail/text`
- ACK.B.r.1 our message id (N.2.r.1): `M/acknowledgement/targetMessage/id/@extension`
- ACK.B.r.2 the receiver's local report number, i.e. the national case number:
  `M/id[@root='2.16.840.1.113883.3.989.2.1.3.19']/@extension`
- ACK.B.r.6 message code: `M/acknowledgement/@typeCode`: CA accepted, CR rejected
- ACK.B.r.7 error, warning or comment: `M/acknowledgement/acknowledgementDetail/text`

The file is parsed without network, DTD or entity expansion (a DOCTYPE is refused outright)
and must validate against the vendored ICH schema before anything is recorded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from lxml import etree
from sqlalchemy.orm import Session

from adr import audit, cases, regulatory
from adr.models import Report, Submission, write_transaction

SCHEMA = Path(__file__).parent.parent / "schemas/e2b-r3/multicacheschemas/MCCI_IN200101UV01.xsd"
HL7 = "urn:hl7-org:v3"
NS = {"hl7": HL7}
ROOT_TAG = f"{{{HL7}}}MCCI_IN200101UV01"
LOCAL_REPORT_NUMBER_OID = "2.16.840.1.113883.3.989.2.1.3.19"  # ACK.B.r.2
MAX_BYTES = 512 * 1024  # an acknowledgement of our one-message batches is a few KB
MAX_TEXTS = 20  # error and warning texts kept per message
MAX_TEXT_CHARS = 2000  # characters kept of each text
NATIONAL_NUMBER_CHARS = 50  # Case.national_case_number's column
SCHEMA_ERRORS_SHOWN = 3

ACCEPTED, REJECTED = "accepted", "rejected"
# C0 controls but tab and line feed, DEL and C1, and the bidirectional overrides that could
# make a text read differently on a page or a terminal.
HOSTILE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
TS = re.compile(r"(\d{8})(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?(?:([+-])(\d{2})(\d{2})?)?")


class AcknowledgementError(ValueError):
    """The file as a whole cannot be read as an acknowledgement: nothing was recorded."""


@dataclass(frozen=True)
class MessageAck:
    """One ICSR's acknowledgement (ACK.B.r), or the batch's alone when it holds none."""

    message_id: str | None  # ACK.B.r.1
    national_number: str | None  # ACK.B.r.2
    status: str  # accepted or rejected
    texts: list[str]  # ACK.B.r.7 (ACK.A.5 when the batch holds no message acknowledgement)


@dataclass(frozen=True)
class Acknowledgement:
    """What an acknowledgement file says."""

    batch_id: str | None  # ACK.A.1
    batch_code: str  # ACK.A.4
    acknowledged_at: datetime | None  # ACK.M.4
    messages: list[MessageAck]


@dataclass
class Outcome:
    """What importing one message acknowledgement did to our records."""

    ack: MessageAck
    reference: str | None = None  # the case's reference; None: no submission matched
    version: int | None = None
    kind: str | None = None
    matched_by_batch: bool = False
    already_recorded: bool = False
    previous_number: str | None = None  # the case's national number it replaced
    number_refused: str | None = None  # a national number not filled in, and why

    @property
    def known(self) -> bool:
        return self.reference is not None


@dataclass
class ImportResult:
    """Every message acknowledgement of a file and what became of it."""

    batch_id: str | None
    batch_code: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def unknown(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if not outcome.known]


@cache
def schema() -> etree.XMLSchema:
    """Return the ICH acknowledgement schema, loaded once from the vendored files."""
    return etree.XMLSchema(etree.parse(str(SCHEMA), safe_parser()))


def safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def clean(text: str | None, limit: int = MAX_TEXT_CHARS) -> str | None:
    """Return a received text without controls or bidi overrides, trimmed and capped."""
    if text is None:
        return None
    text = HOSTILE.sub("", text.replace("\r\n", "\n")).strip()
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text or None


def parse_time(value: str | None) -> datetime | None:
    """Return an HL7 TS to the second as an aware datetime (China time when no zone is given)."""
    match = TS.fullmatch(value or "")
    if not match:
        return None
    day, hour, minute, second, sign, zone_hours, zone_minutes = match.groups()
    try:
        moment = datetime.strptime(
            f"{day}{hour or '00'}{minute or '00'}{second or '00'}", "%Y%m%d%H%M%S"
        )
        if sign:
            zone = datetime.strptime(f"{sign}{zone_hours}{zone_minutes or '00'}", "%z").tzinfo
            return moment.replace(tzinfo=zone).astimezone(UTC)
    except ValueError:
        return None
    return moment.replace(tzinfo=regulatory.CHINA).astimezone(UTC)


def read_acknowledgement(content: bytes) -> Acknowledgement:
    """Parse and validate an acknowledgement file; raise AcknowledgementError saying why not."""
    if len(content) > MAX_BYTES:
        raise AcknowledgementError(
            _(
                "The file is larger than %(limit)s KB: no acknowledgement of ours is that long.",
                limit=MAX_BYTES // 1024,
            )
        )
    try:
        root = etree.fromstring(content, safe_parser())
    except (etree.XMLSyntaxError, ValueError) as error:
        reason = error.msg if isinstance(error, etree.XMLSyntaxError) else str(error)
        raise AcknowledgementError(
            _("The file is not XML: %(reason)s", reason=clean(reason, 200))
        ) from None
    if root.getroottree().docinfo.doctype:
        raise AcknowledgementError(
            _("The file declares a DOCTYPE, which acknowledgements never do: refused unread.")
        )
    if root.tag != ROOT_TAG:
        name = etree.QName(root).localname if isinstance(root.tag, str) else "?"
        raise AcknowledgementError(
            _(
                "The file is XML of another kind (%(kind)s), not an acknowledgement "
                "(MCCI_IN200101UV01).",
                kind=clean(name, 60),
            )
        )
    checker = schema()
    if not checker.validate(root.getroottree()):
        problems = [
            f"line {error.line}: {clean(error.message.replace(f'{{{HL7}}}', ''), 300)}"
            for error in list(checker.error_log)[:SCHEMA_ERRORS_SHOWN]
        ]
        raise AcknowledgementError(
            _(
                "The file does not follow the ICH acknowledgement schema: %(problems)s",
                problems="; ".join(problems),
            )
        )
    return acknowledgement_of(root)


def first(element: Any, path: str) -> str | None:
    found = element.xpath(path, namespaces=NS)
    return clean(str(found[0]), 100) if found else None


def texts_of(acknowledgement: Any) -> list[str]:
    """Return the detail texts (ACK.A.5 or ACK.B.r.7), cleaned and capped."""
    found = [
        text
        for text in (
            clean("".join(node.itertext()))
            for node in acknowledgement.xpath("hl7:acknowledgementDetail/hl7:text", namespaces=NS)
        )
        if text
    ]
    if len(found) > MAX_TEXTS:
        found = [*found[: MAX_TEXTS - 1], f"… ({len(found) - MAX_TEXTS + 1} more)"]
    return found


def acknowledgement_of(root: Any) -> Acknowledgement:
    """Read the elements of a schema-valid acknowledgement (see the module's docstring)."""
    batch = root.find("hl7:acknowledgement", NS)
    batch_code = (batch.get("typeCode") if batch is not None else None) or ""
    messages = []
    for message in root.iterfind("hl7:MCCI_IN000002UV01", NS):
        for ack in message.iterfind("hl7:acknowledgement", NS):
            code = ack.get("typeCode")
            accepted = code in ("CA", "AA") and batch_code != "AR"
            messages.append(
                MessageAck(
                    message_id=first(ack, "hl7:targetMessage/hl7:id/@extension"),
                    national_number=first(
                        message, f"hl7:id[@root='{LOCAL_REPORT_NUMBER_OID}']/@extension"
                    ),
                    status=ACCEPTED if accepted else REJECTED,
                    texts=texts_of(ack),
                )
            )
    if not messages and batch is not None:  # e.g. AR: the batch could not be read at all
        messages.append(
            MessageAck(
                message_id=None,
                national_number=None,
                status=ACCEPTED if batch_code == "AA" else REJECTED,
                texts=texts_of(batch),
            )
        )
    return Acknowledgement(
        batch_id=first(root, "hl7:acknowledgement/hl7:targetBatch/hl7:id/@extension"),
        batch_code=batch_code,
        acknowledged_at=parse_time(first(root, "hl7:creationTime/@value")),
        messages=messages,
    )


def find_submission(
    session: Session, ack: MessageAck, batch_id: str | None, alone: bool
) -> tuple[Submission | None, bool]:
    """Return the submission a message acknowledgement answers, and whether by batch id.

    By message id (ACK.B.r.1 = N.2.r.1); failing that, when the file acknowledges a single
    message, by the batch number (ACK.A.1 = N.1.2): our batches hold one message each.
    """
    if ack.message_id:
        found = session.scalar(sa.select(Submission).where(Submission.message_id == ack.message_id))
        if found is not None:
            return found, False
    if alone and batch_id:
        found = session.scalar(sa.select(Submission).where(Submission.batch_id == batch_id))
        if found is not None:
            return found, True
    return None, False


def import_acknowledgement(content: bytes, actor: str) -> ImportResult:
    """Record an acknowledgement file's verdicts and national numbers, audited, in one go.

    Raise AcknowledgementError (nothing recorded) when the file cannot be read. Unknown
    message ids are returned as outcomes without a reference; the known ones are recorded.
    """
    parsed = read_acknowledgement(content)
    result = ImportResult(batch_id=parsed.batch_id, batch_code=parsed.batch_code)
    with write_transaction() as session:
        for ack in parsed.messages:
            outcome = Outcome(ack)
            result.outcomes.append(outcome)
            submission, by_batch = find_submission(
                session, ack, parsed.batch_id, alone=len(parsed.messages) == 1
            )
            if submission is not None:
                record(session, submission, outcome, parsed.acknowledged_at, actor)
                outcome.matched_by_batch = by_batch
    return result


def record(
    session: Session,
    submission: Submission,
    outcome: Outcome,
    acknowledged_at: datetime | None,
    actor: str,
) -> None:
    """Write one acknowledgement onto its submission and its case, with audit entries.

    The same acknowledgement again (same verdict, texts and date) changes nothing, not even
    a national number staff corrected since.
    """
    ack = outcome.ack
    case = cases.lock(session, submission.case_id)
    # A duplicate merged into its original holds no report: its file's report is the anchor.
    first_report = (
        case.first_report if case.reports else session.get(Report, submission.latest_report_id)
    )
    assert first_report is not None
    outcome.reference = first_report.reference
    outcome.version = submission.version
    outcome.kind = submission.kind
    if (
        submission.ack_status == ack.status
        and (submission.ack_messages or []) == ack.texts
        and (acknowledged_at is None or submission.ack_at == acknowledged_at)
    ):
        outcome.already_recorded = True
        return
    at = acknowledged_at or datetime.now(UTC)
    audit.record(
        session,
        actor,
        "acknowledgement",
        first_report.id,
        "acknowledgement",
        verdict(
            submission.message_id, submission.ack_status, submission.ack_at, submission.ack_messages
        )
        if submission.ack_status
        else None,
        verdict(submission.message_id, ack.status, at, ack.texts),
    )
    submission.ack_status = ack.status
    submission.ack_at = at
    submission.ack_messages = ack.texts
    number = ack.national_number if ack.status == ACCEPTED else None
    if number and len(number) > NATIONAL_NUMBER_CHARS:
        outcome.number_refused = number
    elif number and case.national_case_number != number:
        outcome.previous_number = case.national_case_number
        audit.record_change(
            session,
            actor,
            "acknowledgement",
            first_report.id,
            "national_case_number",
            case.national_case_number,
            number,
        )
        case.national_case_number = number


def verdict(
    message_id: str, status: str | None, at: datetime | None, texts: list[str] | None
) -> dict[str, object]:
    """Return an acknowledgement as the audit trail keeps it."""
    return {
        "message_id": message_id,
        "status": status,
        "at": at.astimezone(UTC).isoformat(timespec="seconds") if at else None,
        "messages": texts or [],
    }


def one_line(texts: list[str]) -> str:
    return " | ".join(" / ".join(text.splitlines()) for text in texts)


def describe(outcome: Outcome) -> str:
    """Return what became of one message acknowledgement, in one line (the command's output)."""
    ack = outcome.ack
    message = f"message {ack.message_id}" if ack.message_id else "the batch"
    if not outcome.known:
        line = f"unknown {message}: no E2B file of ours has this message id or batch number"
        return f"{line} ({ack.status}{'; ' + one_line(ack.texts) if ack.texts else ''})"
    kind = "" if outcome.kind == "report" else f" {outcome.kind}"
    parts = [f"{outcome.reference} v{outcome.version}{kind} ({message}): {ack.status}"]
    if ack.national_number and not outcome.number_refused and ack.status == ACCEPTED:
        changed = f" (was {outcome.previous_number})" if outcome.previous_number else ""
        parts.append(f"national case number {ack.national_number}{changed}")
    if outcome.number_refused:
        parts.append(
            f"national case number not filled in: longer than {NATIONAL_NUMBER_CHARS} characters"
        )
    if ack.texts:
        parts.append(f"messages: {one_line(ack.texts)}")
    if outcome.matched_by_batch and ack.message_id:
        parts.append("found by its batch number")
    if outcome.already_recorded:
        parts.append("already recorded")
    return "; ".join(parts)
