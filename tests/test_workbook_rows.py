"""The rows `adr.regulator.rows` writes are openpyxl's own, byte for byte."""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from io import BytesIO

import pytest
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils.exceptions import IllegalCharacterError

from adr.regulator.rows import plain_rows

ROWS = [
    ["A-1", date(2026, 10, 3), 42, 1.5, None, "皮疹、瘙痒", " leading and trailing ", "two\nlines"],
    [None, None, "after gaps", date(1900, 1, 15), date(2099, 12, 31), -7, 0.1 + 0.2, "&<>\"'"],
    ["", "text after an empty one"],  # an empty text: openpyxl writes it
    ["=1+1", "a formula", "="],  # openpyxl makes the first a formula
    ["#N/A", True, False, datetime(2026, 10, 3, 8, 30), float("nan"), float("inf")],
    ["x" * 40_000],  # cut to what a cell holds
    ["a\rb", "c\r\nd", "tab\there", "&amp; as typed", "<b>x</b>", "]]>", "😀 \u2028 \x85", "\t"],
    [],
    [None, None],
    ["after the empty rows", date(2026, 1, 1)],
]


def sheets_of(plain: bool) -> dict[str, bytes]:
    """Write the rows with a bold header, then a styled row, into one sheet of each of two
    workbooks' sheets; return the files that differ between writings (the sheets, the styles)."""
    workbook = Workbook(write_only=True)
    for title in ("one", "two"):
        sheet = workbook.create_sheet(title)
        sheet.column_dimensions["A"].width = 20
        sheet.freeze_panes = "A2"
        header = WriteOnlyCell(sheet, "header")
        header.font = Font(bold=True)
        sheet.append([header, "plain header"])
        if plain:
            plain_rows(sheet)
        for row in ROWS:
            sheet.append(row)
        quoted = WriteOnlyCell(sheet, "=not a formula")
        quoted.data_type, quoted.quotePrefix = "s", True
        sheet.append([quoted, "beside a styled cell", date(2026, 2, 2)])
        sheet.append(ROWS[0])
        sheet.append(tuple(ROWS[1]))
        sheet.append(value for value in ROWS[0])
        sheet.append(value for value in ROWS[3])  # a formula: to openpyxl, whole
    stream = BytesIO()
    workbook.save(stream)
    with zipfile.ZipFile(stream) as files:
        return {name: files.read(name) for name in files.namelist() if name.startswith("xl/")}


def test_plain_rows_are_openpyxls_bytes():
    assert sheets_of(plain=True) == sheets_of(plain=False)


@pytest.mark.parametrize(
    ("text", "refused"),
    [("bell \x07", IllegalCharacterError), ("not a character \ufffe", ValueError)],
)
def test_a_character_openpyxl_refuses_is_refused_as_before(text, refused):
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("one")
    plain_rows(sheet)
    with pytest.raises(refused):
        sheet.append(["fine", date(2026, 1, 1)])
        sheet.append(["before", text])
