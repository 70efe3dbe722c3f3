"""The month's reconciliation of the safety inbox against the case list, on a page or a sheet.

Every message received in the month (China time) with its outcome, its reason, the case and
report it became, who triaged it and when. A month reconciles when every message has an outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from openpyxl import Workbook
from sqlalchemy.orm import Session, selectinload

from adr import regulatory, vocab
from adr.models import Case, InboxMessage
from adr.regulator.workbook import end_sheet, parse_month, row_of, start_sheet
from adr.vocab import Term

APP = Term("系统自动核对", "The app, automatically")
COLUMNS = (
    Term("收到时间（北京时间）", "Received (China time)"),
    Term("发件人", "Sender"),
    Term("主题", "Subject"),
    Term("分拣结果", "Outcome"),
    Term("原因", "Reason"),
    Term("病例编号", "Case"),
    Term("报告编码", "Report"),
    Term("分拣人", "Triaged by"),
    Term("分拣时间（北京时间）", "Triaged (China time)"),
    Term("邮件编号", "Message number"),
    # Day 0 of the report it became: the day it arrived, unless staff entered another day.
    Term("报告的首次获知日期", "The report's awareness date"),
)
NOT_ARRIVAL = Term("与邮件到达日期不同", "not the day the message arrived")
SHEET = Term("安全邮箱核对", "Safety inbox reconciliation")
SUMMARY = Term("小结", "Summary")
SUMMARY_ROWS = (
    Term("月份", "Month"),
    Term("收到邮件", "Messages received"),
    Term("未分拣", "Not triaged"),
    Term("核对完毕", "Reconciled"),
)


@dataclass(frozen=True)
class Month:
    """The messages a month received, oldest first, and how many still wait for triage."""

    month: str
    messages: list[InboxMessage]

    @property
    def untriaged(self) -> int:
        return sum(1 for m in self.messages if m.outcome is None)

    @property
    def reconciles(self) -> bool:
        return self.untriaged == 0


def month_of(session: Session, month: str) -> Month:
    """Return the messages received in `month` (YYYY-MM, China time); ValueError if malformed."""
    start, end = parse_month(month)
    query = (
        sa.select(InboxMessage)
        .where(InboxMessage.received_at >= start, InboxMessage.received_at < end)
        .order_by(InboxMessage.received_at, InboxMessage.id)
        .options(
            selectinload(InboxMessage.case).selectinload(Case.reports),
            selectinload(InboxMessage.report),
            selectinload(InboxMessage.triaged_by),
        )
    )
    return Month(month, list(session.scalars(query)))


def row(message: InboxMessage, language: str) -> list[Any]:
    """Return a message's row of the sheet, in `language`."""

    def china(moment: Any) -> str:
        return f"{moment.astimezone(regulatory.CHINA):%Y-%m-%d %H:%M}" if moment else ""

    reason = vocab.label(vocab.INBOX_REASON, message.reason, language)
    if message.reason_text:
        reason = f"{reason}: {message.reason_text}" if reason else message.reason_text
    if message.triaged_by:
        by = message.triaged_by.email
    else:
        by = APP.text(language) if message.outcome else ""
    return [
        china(message.received_at),
        message.sender,
        message.subject,
        vocab.label(vocab.INBOX_OUTCOME, message.outcome, language),
        reason,
        message.case.first_report.reference if message.case else "",
        message.report.reference if message.report else "",
        by,
        china(message.triaged_at),
        message.id,
        awareness(message, language),
    ]


def awareness(message: InboxMessage, language: str) -> str:
    """Return the awareness date of the report a message became, saying when it is not the day
    the message arrived (the day 0 the message itself gives)."""
    if message.report is None or message.outcome not in ("new_report", "follow_up"):
        return ""
    aware_on = message.report.aware_on
    if aware_on == regulatory.china_date(message.received_at):
        return aware_on.isoformat()
    return f"{aware_on.isoformat()} ({NOT_ARRIVAL.text(language)})"


def write_sheet(found: Month, target: str | Path | IO[bytes], language: str) -> None:
    """Write the month's reconciliation as a workbook to a path or binary stream."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET.text(language))
    start_sheet(sheet, list(COLUMNS), language)
    for message in found.messages:
        sheet.append(row_of(sheet, row(message, language)))
    end_sheet(sheet, len(COLUMNS), len(found.messages))
    summary = workbook.create_sheet(SUMMARY.text(language))
    reconciled = vocab.YES_NO["yes" if found.reconciles else "no"].text(language)
    values = (found.month, len(found.messages), found.untriaged, reconciled)
    for term, value in zip(SUMMARY_ROWS, values, strict=True):
        summary.append([term.text(language), value])
    workbook.save(target)
