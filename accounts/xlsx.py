"""A safe, streaming .xlsx writer shared by every download.

Rows come from an iterator and go through openpyxl's write-only mode (lxml
makes it fast), so memory stays flat however many rows there are. Every
string is stored as a text cell: a value such as ``=HYPERLINK(...)``,
``+1`` or ``@SUM(A1)`` can never become a formula, and characters that XML
cannot hold are dropped instead of breaking the file.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Iterable, Sequence
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# XML 1.0 cannot hold U+FFFE, U+FFFF or lone surrogates either, and lxml
# refuses them (openpyxl's pattern covers only the control characters).
NON_XML_CHARACTERS_RE = re.compile("[\ud800-\udfff\ufffe\uffff]")


def clean_text(value: str) -> str:
    return NON_XML_CHARACTERS_RE.sub("", ILLEGAL_CHARACTERS_RE.sub("", value))


def _cell(sheet, value: Any, *, bold: bool = False, number_format: str | None = None):
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=None)
        cell.value = clean_text(value)
        # openpyxl guesses "formula" for a leading '='; a user's text is text.
        cell.data_type = "s"
    else:
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            raise ValueError("convert datetimes to naive office-local time before writing")
        cell = WriteOnlyCell(sheet, value=value)
    if bold:
        cell.font = Font(bold=True)
    if number_format:
        cell.number_format = number_format
    return cell


def write_xlsx(
    target: IO[bytes],
    *,
    title: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    number_formats: dict[int, str] | None = None,
    column_widths: Sequence[float] | None = None,
) -> int:
    """Write one sheet to ``target``; returns the number of data rows."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=clean_text(title)[:31] or "Sheet")
    if column_widths:
        from openpyxl.utils import get_column_letter

        for index, width in enumerate(column_widths, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.append([_cell(sheet, label, bold=True) for label in header])
    formats = number_formats or {}
    count = 0
    for row in rows:
        sheet.append(
            [_cell(sheet, value, number_format=formats.get(i)) for i, value in enumerate(row)]
        )
        count += 1
    workbook.save(target)
    return count


def spooled_file() -> IO[bytes]:
    """A temporary file for a workbook: in memory while small, on disk after."""
    return tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
