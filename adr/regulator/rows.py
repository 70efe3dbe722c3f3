"""A write-only sheet's rows of plain values written as openpyxl writes them, at a fraction of
the cost.

openpyxl turns every value into a cell object, gives a date a style of its own, and writes each
cell through four nested lxml contexts: three quarters of the export's time. A row of text,
numbers and dates is written here as one lxml element parsed from its text, holding the same
XML (the same elements, attributes and style id, checked byte for byte in
tests/test_workbook_rows.py); any other row (cells already styled, a formula, an error value, a
boolean, an empty text, a character openpyxl refuses, no value at all) goes through openpyxl
itself, unchanged.
"""

from __future__ import annotations

import math
from datetime import date
from functools import lru_cache
from typing import Any

from lxml.etree import XMLSyntaxError, _Element, fromstring
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

TEXT_LIMIT = 32767  # openpyxl cuts a text to what a cell holds
PRESERVE = ' xml:space="preserve"'
letter = lru_cache(maxsize=None)(get_column_letter)


def escaped(text: str) -> str:
    """Return text as XML element content that parses back to it (a bare CR would become LF)."""
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


class PlainRows:
    """Writes the rows appended to a write-only sheet after `install`."""

    def __init__(self, sheet: WriteOnlyWorksheet) -> None:
        sheet._get_writer()  # its head (widths, panes) is written: they must be set before
        self.sheet = sheet
        self.to_cells = sheet._values_to_row
        self.write_cells = sheet._writer.write_row
        self.epoch = sheet.parent.epoch
        self.date_style: str | None = None  # the style id openpyxl gives a date, once asked

    def install(self) -> None:
        """Take over the sheet's rows: `append` hands this the values as they are."""
        self.sheet._values_to_row = lambda values, row_index: values
        self.sheet._writer.write_row = self.write_row

    def write_row(self, xf: Any, values: Any, row_index: int) -> None:
        values = values if values.__class__ is list else list(values)  # a generator read once
        row = None if row_index in self.sheet.row_dimensions else self.element(values, row_index)
        if row is None:
            self.write_cells(xf, self.to_cells(values, row_index), row_index)
        else:
            xf.write(row)

    def element(self, values: list[Any], row_index: int) -> _Element | None:
        """Return the row's element, or None when openpyxl must write it.

        The row is written as XML text and parsed (one call into lxml, not three a cell): the
        text escaped so that it parses back to itself, a carriage return included.
        """
        parts = [f'<row r="{row_index}">']
        for column, value in enumerate(values, 1):
            kind = value.__class__
            if value is None:
                continue
            if kind is str:
                text = value[:TEXT_LIMIT]
                if (
                    not text
                    or (text[0] == "=" and len(text) > 1)
                    or text in ERROR_CODES
                    or ILLEGAL_CHARACTERS_RE.search(text)
                ):
                    return None
                space = PRESERVE if text != text.strip() else ""
                parts.append(
                    f'<c r="{letter(column)}{row_index}" t="inlineStr"><is><t{space}>'
                    f"{escaped(text)}</t></is></c>"
                )
            elif kind is int or (kind is float and math.isfinite(value)):
                # as openpyxl's safe_string
                parts.append(f'<c r="{letter(column)}{row_index}" t="n"><v>{value:.16g}</v></c>')
            elif kind is date and not self.sheet.parent.iso_dates:
                style, number = self.style_of(value), to_excel(value, self.epoch)
                parts.append(
                    f'<c r="{letter(column)}{row_index}" s="{style}" t="n"><v>{number:.16g}</v></c>'
                )
            else:
                return None
        if len(parts) == 1:
            return None  # a row of no cells: openpyxl's own tags
        parts.append("</row>")
        try:
            return fromstring("".join(parts))
        except XMLSyntaxError:  # a character XML cannot hold: openpyxl refuses it as before
            return None

    def style_of(self, day: date) -> str:
        """Return the style id of a date cell, made by openpyxl when the first date is written
        (so the workbook's styles come in the order openpyxl itself gives them)."""
        if self.date_style is None:
            self.date_style = str(WriteOnlyCell(self.sheet, day).style_id)
        return self.date_style


def plain_rows(sheet: WriteOnlyWorksheet) -> None:
    """Write the sheet's rows from now on through `PlainRows`."""
    PlainRows(sheet).install()
