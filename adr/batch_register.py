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
import posixpath
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from xml.etree.ElementTree import ParseError

import sqlalchemy as sa
from flask_babel import gettext as _
from lxml import etree
from openpyxl import load_workbook
from openpyxl.utils.cell import range_boundaries

from adr import audit, products
from adr.extensions import db
from adr.intake.forms import BATCH_RE, NOT_A_BATCH, normalize_batch
from adr.models import Batch, Product, write_transaction

COLUMNS = ("approval_number", "generic_name", "batch_number", "manufactured_on", "expires_on")
XLSX_MAGIC = b"PK\x03\x04"
MAX_ROWS = 100_000  # rows in one file, blank ones too; a register is a few thousand batches
# A workbook is a zip file, read only within these bounds (a register of MAX_ROWS rows is
# some 30 MB of sheet XML, compressed about tenfold):
MAX_ZIP_ENTRIES = 1_000
MAX_UNCOMPRESSED_BYTES = 64 * 1024 * 1024
MAX_COMPRESSION_RATIO = 100  # an entry's, once it is over 100 KB: rows of nothing
# openpyxl reads the whole table of shared strings before the first row (and before the time
# budget is checked): a register's, its names and batch numbers, is well under this.
MAX_SHARED_STRINGS_BYTES = 8 * 1024 * 1024
MAX_COLUMNS = 50  # the sheet's declared width: five read, room for notes beside them
READ_SECONDS = 20.0  # reading the rows, well within the web worker's timeout
RELATIONSHIPS = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
SHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}sheet"
DIMENSION = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}dimension"
SHEET_DATA = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}sheetData"
RELATIONSHIP_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


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
    a Chinese Windows saves as "CSV". Blank rows are skipped but count toward `MAX_ROWS`, and
    reading stops at `READ_SECONDS`.
    """
    deadline = time.monotonic() + READ_SECONDS
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
        if number - 1 > MAX_ROWS:
            raise too_many_rows()
        if time.monotonic() > deadline:
            raise RegisterError(
                _(
                    "Reading the file took longer than %(seconds)s seconds: "
                    "save only the register's five columns in a new file.",
                    seconds=f"{READ_SECONDS:.0f}",
                )
            )
        if any(str(cell or "").strip() for cell in cells):
            yield number, list(cells)


def too_many_rows() -> RegisterError:
    return RegisterError(
        _("The file holds more than %(count)s rows: split it.", count=f"{MAX_ROWS:,}")
    )


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
    """Yield the first sheet's rows, their first five cells, once the file is seen to be sane."""
    unreadable = _("The workbook cannot be read: save it again as XLSX.")
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            check_archive(archive)
            sheet_name, sheet_path = first_sheet(archive)
            check_dimension(archive, sheet_path)
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        sheet = workbook[sheet_name]
    except RegisterError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, etree.LxmlError) as error:
        raise RegisterError(unreadable) from error
    try:
        for row in sheet.iter_rows(max_col=len(COLUMNS), values_only=True):
            yield list(row)
    finally:
        workbook.close()


def check_archive(archive: zipfile.ZipFile) -> None:
    """Refuse a zip file of too many entries, too much content, or content packed too tightly."""
    entries = archive.infolist()
    too_big = _("The workbook is too big to be a batch register: save it again as XLSX.")
    if len(entries) > MAX_ZIP_ENTRIES:
        raise RegisterError(too_big)
    if sum(entry.file_size for entry in entries) > MAX_UNCOMPRESSED_BYTES:
        raise RegisterError(too_big)
    for entry in entries:
        packed_tight = entry.file_size > MAX_COMPRESSION_RATIO * max(entry.compress_size, 1)
        if entry.file_size > 100 * 1024 and packed_tight:
            raise RegisterError(too_big)
        shared_strings = entry.filename.lower().endswith("sharedstrings.xml")
        if shared_strings and entry.file_size > MAX_SHARED_STRINGS_BYTES:
            raise RegisterError(too_big)


def first_sheet(archive: zipfile.ZipFile) -> tuple[str, str]:
    """Return the name of the workbook's first sheet and the path of its XML in the archive."""
    workbook_path = related(archive, "", "/officeDocument")
    workbook = etree.fromstring(archive.read(workbook_path), safe_parser())
    sheet = workbook.find(f".//{SHEET}")
    if sheet is None:
        raise KeyError("no sheet")
    return sheet.get("name", ""), related(archive, workbook_path, "", sheet.get(RELATIONSHIP_ID))


def safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def related(archive: zipfile.ZipFile, part: str, kind: str, wanted_id: str | None = None) -> str:
    """Return the archive path of the relationship of `part` of that kind (or that id)."""
    folder, name = posixpath.split(part)
    relationships = etree.fromstring(
        archive.read(posixpath.join(folder, "_rels", f"{name}.rels")), safe_parser()
    )
    for relationship in relationships.iter(RELATIONSHIPS):
        if (wanted_id is None and relationship.get("Type", "").endswith(kind)) or (
            wanted_id is not None and relationship.get("Id") == wanted_id
        ):
            target = relationship.get("Target", "")
            path = target[1:] if target.startswith("/") else posixpath.join(folder, target)
            return posixpath.normpath(path)
    raise KeyError(kind or wanted_id)


def check_dimension(archive: zipfile.ZipFile, sheet_path: str) -> None:
    """Refuse a sheet that declares itself far wider than a register, or longer than allowed.

    openpyxl pads every row it reads to the declared width, so a small file that declares
    the whole grid (A1:XFD1048576) would hold a worker for minutes.
    """
    ref = declared_dimension(archive, sheet_path)
    if ref is None:
        return  # none declared: the rows are read five cells wide all the same
    _min_column, _min_row, columns, rows = range_boundaries(ref)
    if columns is not None and columns > MAX_COLUMNS:
        raise RegisterError(
            _(
                "The sheet is declared %(columns)s columns wide, far more than the register's "
                "five: copy the five columns into a new workbook.",
                columns=f"{columns:,}",
            )
        )
    if rows is not None and rows - 1 > MAX_ROWS:
        raise too_many_rows()


def declared_dimension(archive: zipfile.ZipFile, sheet_path: str) -> str | None:
    """Return the range the sheet's XML declares before its rows (`A1:E2001`), if it does."""
    with archive.open(sheet_path) as source:
        parts = etree.iterparse(
            source, events=("start",), resolve_entities=False, no_network=True, load_dtd=False
        )
        for _event, element in parts:
            if element.tag == DIMENSION:
                return element.get("ref", "")
            if element.tag == SHEET_DATA:
                break
    return None


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
        rows = list(read_rows(content))
    except RegisterError:
        raise
    except (csv.Error, ParseError, zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise RegisterError(_("The file cannot be read: save it again as CSV or XLSX.")) from error
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
        given_batches = store(session, wanted, catalogue, actor, result)
        audit.record(
            session,
            actor,
            "batches imported",
            field=source[:60],
            new=f"added {len(result.added)}, updated {len(result.updated)}, "
            f"unchanged {result.unchanged}, refused {len(result.refused)}",
        )
        for product_id in sorted(given_batches):  # a reported drug may be one by its batch now
            products.relink(product_id, actor)
    return result


def store(
    session: sa.orm.Session,
    wanted: dict[tuple[int, str], tuple[date, date]],
    catalogue: dict[str, Product],
    actor: str,
    result: ImportResult,
) -> set[int]:
    """Insert the batches not registered yet; give those registered the file's dates.

    Return the products given new batches.
    """
    given: set[int] = set()
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
            given.add(product_id)
        elif (batch.manufactured_on, batch.expires_on) != (made, expires):
            old = f"{batch.manufactured_on} - {batch.expires_on}"
            batch.manufactured_on, batch.expires_on = made, expires
            audit.record(
                session, actor, "batch updated", None, name[:60], old, f"{made} - {expires}"
            )
            result.updated.append(name)
        else:
            result.unchanged += 1
    return given
