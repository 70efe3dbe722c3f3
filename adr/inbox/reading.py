"""A stored message read safely for staff: its text, never its HTML, and its attachments.

The text/plain part is preferred; a mail in HTML only is turned into text (scripts, styles and
the head dropped, block elements kept as lines, images never fetched). Bodies are decoded from
the charset they declare, else UTF-8, else GB18030 (which reads GB2312 and GBK too), else the
declared charset with a replacement character for each byte it cannot read. A message whose
structure cannot be read, or of too many parts, is `readable=False` and has no attachment: staff
download it whole instead. Nothing here raises on a stranger's message.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import errors, message_from_bytes, policy
from email.message import EmailMessage, Message
from html.parser import HTMLParser

from adr.inbox.documents import plain_name

MAX_TEXT = 50_000  # characters shown on the page; the download holds the rest
MAX_HTML = 2_000_000  # characters of HTML turned into text, at most
# The Chinese charsets mails declare: GB18030 reads them all (GBK's characters beyond GB2312
# are common in mails labelled gb2312).
CHINESE = {"gb2312", "gb_2312-80", "euc-cn", "gbk", "x-gbk", "cp936", "ms936", "gb18030"}
# Structures whose parts cannot be told apart: the message is not shown, only downloaded.
BROKEN = (
    errors.NoBoundaryInMultipartDefect,
    errors.StartBoundaryNotFoundDefect,
    errors.MultipartInvariantViolationDefect,
)
# A message of thousands of parts takes seconds to parse, and its page parses it at each view: one
# with more lines that may start a part (a boundary "--…" or a Content-Type header; a part
# usually has both) than this, about 500 parts, is not parsed but downloaded.
MAX_PART_LINES = 1000
PART_LINE = re.compile(rb"^(?:--|content-type:)", re.IGNORECASE | re.MULTILINE)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Attachment:
    """A file of a message, as its sender declared it (its type is not checked here)."""

    number: int  # 1, 2, …: its place among the message's attachments
    filename: str  # safe: no path, no control characters
    content_type: str  # as declared
    size: int  # bytes, decoded


@dataclass(frozen=True)
class Reading:
    """What the message page shows of a message."""

    readable: bool
    text: str = ""
    truncated: bool = False
    attachments: list[Attachment] = field(default_factory=list)


def parse(raw: bytes) -> EmailMessage:
    """Return the message parsed with the modern policy; parsing itself never raises."""
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def structure(raw: bytes) -> EmailMessage | None:
    """Return the message parsed; None when it has too many parts to parse, or parts that
    cannot be told apart."""
    if len(PART_LINE.findall(raw)) > MAX_PART_LINES:
        return None
    message = parse(raw)
    if any(isinstance(d, BROKEN) for part in message.walk() for d in part.defects):
        return None
    return message


def opened(raw: bytes) -> tuple[EmailMessage, Message | None] | None:
    """Return the message parsed and its body (text, else HTML); None when it cannot be read."""
    message = structure(raw)
    if message is None:
        return None
    return message, message.get_body(preferencelist=("plain", "html"))


def read(raw: bytes) -> Reading:
    """Return the message's text and its attachments; `readable` False when it cannot be shown."""
    try:
        found = opened(raw)
        if found is None:
            return Reading(readable=False)
        message, body = found
        text = body_text(body) if body is not None else ""
        attachments = [attachment for attachment, _ in decoded(message, body)]
    except Exception:  # a stranger's message: whatever it breaks, it is downloaded instead
        return Reading(readable=False)
    return Reading(True, text[:MAX_TEXT], len(text) > MAX_TEXT, attachments)


def files(raw: bytes) -> list[tuple[Attachment, bytes]]:
    """Return the message's attachments with their bytes; none when it cannot be read."""
    try:
        found = opened(raw)
        return [] if found is None else decoded(*found)
    except Exception:  # as `read`: a message that breaks the parser has no attachment to give
        return []


def attachment(raw: bytes, number: int) -> tuple[Attachment, bytes] | None:
    """Return the message's attachment `number` and its bytes, or None when there is none."""
    return next((found for found in files(raw) if found[0].number == number), None)


def attachment_count(raw: bytes) -> int | None:
    """Return how many attachments the message carries, without decoding them; None when it
    cannot be read."""
    try:
        found = opened(raw)
        return None if found is None else sum(1 for _ in attached(*found))
    except Exception:  # as `read`
        return None


def decoded(message: EmailMessage, body: Message | None) -> list[tuple[Attachment, bytes]]:
    """Return each file of the message with its decoded bytes, numbered from 1."""
    found = []
    for number, (filename, part) in enumerate(attached(message, body), 1):
        data = payload(part)
        found.append((Attachment(number, filename, part.get_content_type(), len(data)), data))
    return found


def attached(message: EmailMessage, body: Message | None) -> Iterator[tuple[str, Message]]:
    """Yield each file of the message (a forwarded mail as one file) with a safe filename."""
    for part in leaves(message):
        if part is body:
            continue
        name = part.get_filename()
        inline_text = part.get_content_type() in ("text/plain", "text/html")
        if not name and inline_text and part.get_content_disposition() != "attachment":
            continue  # the body's other version (HTML beside the text)
        yield safe_filename(name or "", fallback=f"attachment{extension_for(part)}"), part


def leaves(part: Message) -> Iterator[Message]:
    """Yield the parts that are not containers, in order; a forwarded message is one part."""
    if part.get_content_maintype() == "multipart" and isinstance(part.get_payload(), list):
        for child in part.get_payload():
            if isinstance(child, Message):
                yield from leaves(child)
    else:
        yield part


def extension_for(part: Message) -> str:
    """Return a filename extension for a part that names no file."""
    return {
        "message/rfc822": ".eml",
        "application/pdf": ".pdf",
        "image/jpeg": ".jpg",
        "image/png": ".png",
        "text/plain": ".txt",
        "text/html": ".html",
    }.get(part.get_content_type(), ".bin")


def payload(part: Message) -> bytes:
    """Return a part's bytes, its transfer encoding undone; a forwarded message as sent."""
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return inner[0].as_bytes()
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def safe_filename(name: str, fallback: str = "attachment") -> str:
    """Return a filename without a path, control or format characters, at most 255 long."""
    name = plain_name(name).strip(" .")
    if not name:
        return fallback
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension) > 10:
        return name[:255]
    return f"{stem[: 254 - len(extension)]}.{extension}"


def body_text(part: Message) -> str:
    """Return the body part as text (HTML rendered as text)."""
    text = decode(payload(part), part.get_content_charset())
    if part.get_content_subtype() == "html":
        text = html_to_text(text[:MAX_HTML])
    return tidy(text)


def decode(data: bytes, declared: str | None) -> str:
    """Return the bytes decoded by the declared charset, else UTF-8, else GB18030; else (a wrong
    label, a character cut) by the declared charset or UTF-8, each byte it cannot read replaced."""
    candidates = []
    if declared:
        declared = declared.strip().lower()
        candidates.append("gb18030" if declared in CHINESE else declared)
    for charset in [*candidates, "utf-8", "gb18030"]:
        try:
            codecs.lookup(charset)
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    try:
        return data.decode(candidates[0] if candidates else "utf-8", errors="replace")
    except (LookupError, ValueError):  # no such charset, or not one of text
        return data.decode("utf-8", errors="replace")


def tidy(text: str) -> str:
    """Return the text with one kind of line end, no control characters, at most one empty line
    in a row and no trailing spaces."""
    text = CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


HIDDEN = frozenset(
    {"script", "style", "head", "title", "template", "noscript", "svg", "math", "iframe"}
    | {"object", "select"}
)
BLOCKS = frozenset(
    {"p", "div", "br", "li", "tr", "table", "blockquote", "pre", "hr", "ul", "ol", "h1", "h2"}
    | {"h3", "h4", "h5", "h6", "section", "article", "header", "footer", "address", "dl", "dt"}
    | {"dd", "figure", "figcaption", "main", "nav", "aside", "center", "form", "fieldset"}
    | {"caption"}
)


class TextOfHtml(HTMLParser):
    """The text a reader sees in an HTML mail, as lines; nothing of the markup survives."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.preformatted = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self.hidden = 0  # a head never closed ends where the body starts
        elif tag in HIDDEN:
            self.hidden += 1
        elif tag in BLOCKS:
            self.parts.append("\n")
            if tag == "li":
                self.parts.append("• ")
            self.preformatted += tag == "pre"
        elif tag in ("td", "th"):
            self.parts.append("\t")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in BLOCKS:
            self.parts.append("\n")
            if tag == "pre":
                self.preformatted = max(0, self.preformatted - 1)

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        self.parts.append(data if self.preformatted else re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Return what an HTML mail says, as plain text."""
    parser = TextOfHtml()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    return "\n".join(line.strip(" ") for line in text.split("\n"))
