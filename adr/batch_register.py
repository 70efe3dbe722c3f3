"""The batch register, read from the company's batch records: a CSV or XLSX file, one batch a row.

Header row `approval_number, generic_name, batch_number, manufactured_on, expires_on`; dates
YYYY-MM-DD (or date cells). Rows are upserted: a batch already registered gets the file's
dates, so the same file can be imported again. A row that cannot be read is refused with its
line number and reason, and the good rows are imported all the same: the register is
upserted, so the refused rows can be corrected and the file imported again.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice
from typing import Any
from xml.etree.ElementTree import ParseError

import sqlalchemy as sa
from flask_babel import gettext as _
from openpyxl import load_workbook

from adr import audit, products
from adr.extensions import db
from adr.intake.forms import BATCH_RE, NOT_A_BATCH, normalize_batch
from adr.models import Batch, Product, write_transaction

COLUMNS = ("approval_number", "generic_name", "batch_number", "manufactured_on", "expires_on")
XLSX_MAGIC = b"PK\x03\x04"
MAX_ROWS = 100_000  # batches in one file; a register is a few thousand


class RegisterError(ValueError):
    """The file as a whole cannot be read: nothing was imported."""


@dataclass
class ImportResult:
    """What one import did: batches added and updated, and each refused row with its reason."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)  # line number, reason
    encoding: str = "utf-8"


def read_rows(content: bytes) -> Iterator[tuple[int, list[Any]]]:
    """Yield (line number, cells) of the file after its header row, which must be ours.

    XLSX is recognised by its content; anything else is read as CSV, in UTF-8 (with or
    without a byte order mark) or, failing that, GB18030, which reads the GBK that Excel on
    a Chinese Windows saves as "CSV".
    """
    rows = xlsx_rows(content) if content.startswith(XLSX_MAGIC) else csv_rows(content)
    header = next(rows, None)
    names = tuple(str(cell or "").strip().lower() for cell in header or [])
    while names and not names[-1]:
        names = names[:-1]
    if names != COLUMNS:
        raise RegisterError(
            _(
                "Line 1 must be the header %(expected)s; it is %(found)s.",
                expected=", ".join(COLUMNS),
                found=", ".join(names) or _("empty"),
            )
        )
    for number, cells in enumerate(rows, 2):
        if any(str(cell or "").strip() for cell in cells):
            yield number, list(cells)


def csv_rows(content: bytes) -> Iterator[list[Any]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("gb18030")
        except UnicodeDecodeError as error:
            raise RegisterError(
                _("The file is neither UTF-8 nor GBK text: save it as CSV (UTF-8) or XLSX.")
            ) from error
    yield from csv.reader(io.StringIO(text, newline=""))


def xlsx_rows(content: bytes) -> Iterator[list[Any]]:
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise RegisterError(_("The workbook cannot be read: save it again as XLSX.")) from error
    try:
        for row in workbook.worksheets[0].iter_rows(values_only=True):
            yield list(row)
    finally:
        workbook.close()


def as_date(value: Any) -> date | None:
    """Return a date cell, or a YYYY-MM-DD text, as a date; None if it is neither."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip()[:10]) if value else None
    except ValueError:
        return None


def cell_text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def import_register(content: bytes, actor: str, source: str) -> ImportResult:
    """Upsert the batches of a register file; refused rows are counted, the rest imported.

    Raises `RegisterError` when the file as a whole cannot be read (nothing is imported).
    """
    result = ImportResult()
    if not content.startswith(XLSX_MAGIC):
        try:
            content.decode("utf-8-sig")
        except UnicodeDecodeError:
            result.encoding = "gb18030"
    try:
        rows = list(islice(read_rows(content), MAX_ROWS + 1))  # one row too many tells
    except (csv.Error, ParseError, zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise RegisterError(_("The file cannot be read: save it again as CSV or XLSX.")) from error
    if len(rows) > MAX_ROWS:
        raise RegisterError(
            _("The file holds more than %(count)s batches: split it.", count=f"{MAX_ROWS:,}")
        )
    catalogue = {
        products.approval_key(p.approval_number): p for p in db.session.scalars(sa.select(Product))
    }
    seen: dict[tuple[int, str], int] = {}
    wanted: dict[tuple[int, str], tuple[date, date]] = {}
    for number, cells in rows:
        cells = (cells + [None] * len(COLUMNS))[: len(COLUMNS)]
        approval, generic, typed_batch, made_cell, expires_cell = cells
        product = catalogue.get(products.approval_key(cell_text(approval)))
        batch_number = normalize_batch(cell_text(typed_batch)) or ""
        made, expires = as_date(made_cell), as_date(expires_cell)
        problem = None
        if not cell_text(approval):
            problem = _("no approval number")
        elif product is None:
            problem = _(
                "approval number %(number)s is not in the product catalogue: add the product first",
                number=cell_text(approval),
            )
        elif cell_text(generic) and products.name_key(cell_text(generic)) != products.name_key(
            product.generic_name
        ):
            problem = _(
                "generic name %(typed)s is not the catalogue's %(name)s for this approval number",
                typed=cell_text(generic),
                name=product.generic_name,
            )
        elif not batch_number:
            problem = _("no batch number")
        elif not BATCH_RE.fullmatch(batch_number) or NOT_A_BATCH.search(batch_number):
            problem = _(
                "batch number %(batch)s is not a batch number: up to 35 letters and digits",
                batch=cell_text(typed_batch),
            )
        elif made is None or expires is None:
            problem = _(
                "%(column)s is not a date written YYYY-MM-DD",
                column="manufactured_on" if made is None else "expires_on",
            )
        elif expires <= made:
            problem = _("the batch expires before it was made")
        elif (product.id, batch_number) in seen:
            problem = _(
                "batch %(batch)s is on line %(line)s already",
                batch=batch_number,
                line=seen[(product.id, batch_number)],
            )
        if problem or product is None or made is None or expires is None:
            result.refused.append((number, problem or ""))
            continue
        seen[(product.id, batch_number)] = number
        wanted[(product.id, batch_number)] = (made, expires)
    with write_transaction() as session:
        store(session, wanted, catalogue, actor, result)
        audit.record(
            session,
            actor,
            "batches imported",
            field=source[:60],
            new=f"added {len(result.added)}, updated {len(result.updated)}, "
            f"unchanged {result.unchanged}, refused {len(result.refused)}",
        )
    return result


def store(
    session: sa.orm.Session,
    wanted: dict[tuple[int, str], tuple[date, date]],
    catalogue: dict[str, Product],
    actor: str,
    result: ImportResult,
) -> None:
    """Insert the batches not registered yet; give those registered the file's dates."""
    approval_of = {product.id: product.approval_number for product in catalogue.values()}
    registered: dict[tuple[int, str], Batch] = {}
    for product_id in {product_id for product_id, _batch in wanted}:
        numbers = [batch for pid, batch in wanted if pid == product_id]
        for start in range(0, len(numbers), 500):
            query = sa.select(Batch).where(
                Batch.product_id == product_id, Batch.batch_number.in_(numbers[start : start + 500])
            )
            registered |= {(b.product_id, b.batch_number): b for b in session.scalars(query)}
    for (product_id, batch_number), (made, expires) in wanted.items():
        name = f"{approval_of[product_id]} {batch_number}"
        batch = registered.get((product_id, batch_number))
        if batch is None:
            session.add(
                Batch(
                    product_id=product_id,
                    batch_number=batch_number,
                    manufactured_on=made,
                    expires_on=expires,
                )
            )
            result.added.append(name)
        elif (batch.manufactured_on, batch.expires_on) != (made, expires):
            old = f"{batch.manufactured_on} - {batch.expires_on}"
            batch.manufactured_on, batch.expires_on = made, expires
            audit.record(
                session, actor, "batch updated", None, name[:60], old, f"{made} - {expires}"
            )
            result.updated.append(name)
        else:
            result.unchanged += 1
