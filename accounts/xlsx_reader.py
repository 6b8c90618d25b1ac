"""Reading an uploaded .xlsx safely.

An upload is untrusted: it may be a CSV or a macro workbook renamed
``.xlsx``, a zip bomb (a few kilobytes that inflate to gigabytes), XML with
entity expansion ("billion laughs") or external entities, or cells with
formulas. This reader opens only what it needs (the workbook, its
relations, the shared strings and the first sheet) with :mod:`zipfile`,
never inflates more than a fixed number of bytes per part (whatever the
zip's directory claims), parses the XML with :mod:`defusedxml` (DTDs and
entities refused), streams the sheet row by row, stops at the row limit,
and refuses formulas rather than evaluating them or trusting the cached
value a tool other than Excel may have left. Every refusal is a
:class:`SpreadsheetError` whose message the admin can act on.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse
from django.utils.translation import gettext as _

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 10_000
# What any one part may inflate to: a 10,000-row sheet of this product is
# a few megabytes of XML.
MAX_PART_BYTES = 64 * 1024 * 1024
MAX_COLUMNS = 50
MAX_CELL_CHARS = 1000

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_CELL_REF = re.compile(r"([A-Z]{1,3})(\d+)")

Cell = str | int | float | bool | None


class SpreadsheetError(Exception):
    """The file cannot be read as the product's spreadsheet; the message
    says why in words an admin can act on."""


@dataclass
class Sheet:
    header: list[Cell]
    # (row number in the sheet, the cells) for every row after the header
    # that holds anything.
    rows: list[tuple[int, list[Cell]]]


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _column_index(letters: str) -> int:
    index = 0
    for char in letters:
        index = index * 26 + ord(char) - 64
    return index - 1


class _CappedReader(io.RawIOBase):
    """A zip member that refuses to inflate past ``limit`` bytes, whatever
    its header declared."""

    def __init__(self, raw: IO[bytes], limit: int, name: str):
        self.raw, self.left, self.name = raw, limit, name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(min(len(buffer), 64 * 1024))
        self.left -= len(data)
        if self.left < 0:
            raise SpreadsheetError(_too_big_message())
        buffer[: len(data)] = data
        return len(data)


def _too_big_message() -> str:
    return _(
        "The file unpacks to far more data than a list of accounts holds "
        "(it may be damaged or a “zip bomb”). Save the list again in Excel as .xlsx."
    )


def _not_xlsx_message() -> str:
    return _(
        "This is not an Excel workbook (.xlsx). A CSV or text file renamed to .xlsx "
        "cannot be read: open it in Excel and save it as “Excel Workbook (.xlsx)”."
    )


def check_name(filename: str) -> None:
    lower = (filename or "").lower()
    if lower.endswith((".xlsm", ".xltm", ".xlsb")):
        raise SpreadsheetError(
            _("Workbooks with macros are not accepted. Save the list as “Excel Workbook (.xlsx)”.")
        )
    if not lower.endswith(".xlsx"):
        raise SpreadsheetError(
            _("Only Excel workbooks (.xlsx) can be uploaded; “%(name)s” is not one.")
            % {"name": filename[-60:]}
        )


def _parse(part: IO[bytes]) -> Iterator[tuple[str, Any]]:
    try:
        yield from iterparse(part, events=("start", "end"), forbid_dtd=True)
    except DefusedXmlException:
        raise SpreadsheetError(
            _(
                "The file contains XML declarations (entities or a DTD) that an Excel "
                "workbook never has; it was not read. Save the list again in Excel as .xlsx."
            )
        ) from None
    except SpreadsheetError:
        raise
    except Exception:  # ParseError and friends: the XML is broken
        raise SpreadsheetError(
            _("The workbook is damaged and cannot be read. Save it again in Excel as .xlsx.")
        ) from None


class _Workbook:
    def __init__(self, archive: zipfile.ZipFile):
        self.archive = archive
        self.names = {info.filename: info for info in archive.infolist()}

    def open(self, name: str) -> IO[bytes]:
        info = self.names.get(name)
        if info is None:
            raise SpreadsheetError(_not_xlsx_message())
        if info.file_size > MAX_PART_BYTES:
            raise SpreadsheetError(_too_big_message())
        try:
            raw = self.archive.open(info)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError):
            raise SpreadsheetError(
                _("The workbook is damaged or protected with a password and cannot be read.")
            ) from None
        return io.BufferedReader(_CappedReader(raw, MAX_PART_BYTES, name))

    def check_macros(self) -> None:
        if any(name.lower().endswith("vbaproject.bin") for name in self.names):
            raise SpreadsheetError(
                _(
                    "Workbooks with macros are not accepted. "
                    "Save the list as “Excel Workbook (.xlsx)”."
                )
            )
        for event, element in _parse(self.open("[Content_Types].xml")):
            if event == "end" and "macroEnabled" in (element.get("ContentType") or ""):
                raise SpreadsheetError(
                    _(
                        "Workbooks with macros are not accepted. "
                        "Save the list as “Excel Workbook (.xlsx)”."
                    )
                )

    def first_sheet_path(self) -> str:
        first_id = None
        for event, element in _parse(self.open("xl/workbook.xml")):
            if event == "end" and element.tag == f"{_MAIN}sheet":
                first_id = element.get(f"{_REL}id")
                break
        if not first_id:
            raise SpreadsheetError(_("The workbook has no sheet."))
        for event, element in _parse(self.open("xl/_rels/workbook.xml.rels")):
            if (
                event == "end"
                and element.tag == f"{_PKG_REL}Relationship"
                and element.get("Id") == first_id
            ):
                target = element.get("Target") or ""
                if target.startswith("/"):
                    return target.lstrip("/")
                return posixpath.normpath(posixpath.join("xl", target))
        raise SpreadsheetError(_not_xlsx_message())

    def shared_strings(self) -> list[str]:
        if "xl/sharedStrings.xml" not in self.names:
            return []
        strings: list[str] = []
        parts: list[str] = []
        phonetic = 0
        for event, element in _parse(self.open("xl/sharedStrings.xml")):
            tag = element.tag
            if tag == f"{_MAIN}rPh":  # phonetic guides are not the text
                phonetic += 1 if event == "start" else -1
            elif event == "end" and tag == f"{_MAIN}t" and not phonetic:
                parts.append(element.text or "")
            elif event == "end" and tag == f"{_MAIN}si":
                strings.append("".join(parts))
                parts = []
                element.clear()
        return strings


def _cell_value(element, strings: list[str], ref: str) -> Cell:
    kind = element.get("t") or "n"
    if element.find(f"{_MAIN}f") is not None:
        raise SpreadsheetError(
            _(
                "Cell %(cell)s holds a formula. Formulas are not read: "
                "copy the cells and paste them as values, then upload again."
            )
            % {"cell": ref}
        )
    if kind == "inlineStr":
        return "".join(t.text or "" for t in element.iter(f"{_MAIN}t"))
    value_element = element.find(f"{_MAIN}v")
    text = value_element.text if value_element is not None else None
    if text is None:
        return None
    if kind == "s":
        try:
            return strings[int(text)]
        except (ValueError, IndexError):
            raise SpreadsheetError(
                _("The workbook is damaged and cannot be read. Save it again in Excel as .xlsx.")
            ) from None
    if kind == "b":
        return text == "1"
    if kind == "e":
        raise SpreadsheetError(
            _("Cell %(cell)s holds an error value (%(value)s). Correct it and upload again.")
            % {"cell": ref, "value": text[:20]}
        )
    if kind == "str":
        return text
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def read_sheet(upload: IO[bytes], *, filename: str, size: int | None = None) -> Sheet:
    """The first sheet of an uploaded workbook: its header row and the
    rows below it that hold anything. Raises :class:`SpreadsheetError`."""
    check_name(filename)
    if size is not None and size > MAX_FILE_BYTES:
        raise SpreadsheetError(
            _("The file is larger than 10 MB. Upload at most 10,000 rows at a time.")
        )
    head = upload.read(8)
    upload.seek(0)
    if head.startswith(bytes.fromhex("d0cf11e0a1b11ae1")):
        raise SpreadsheetError(
            _(
                "This is an old Excel file (.xls), or a workbook protected with a "
                "password. Save it as “Excel Workbook (.xlsx)” without a password."
            )
        )
    if not head.startswith(b"PK\x03\x04"):
        raise SpreadsheetError(_not_xlsx_message())
    try:
        archive = zipfile.ZipFile(upload)
    except (zipfile.BadZipFile, OSError):
        raise SpreadsheetError(_not_xlsx_message()) from None
    with archive:
        book = _Workbook(archive)
        if sum(info.file_size for info in book.names.values()) > 4 * MAX_PART_BYTES:
            raise SpreadsheetError(_too_big_message())
        if "[Content_Types].xml" not in book.names or "xl/workbook.xml" not in book.names:
            raise SpreadsheetError(_not_xlsx_message())
        book.check_macros()
        strings = book.shared_strings()
        return _read_rows(book.open(book.first_sheet_path()), strings)


def _read_rows(part: IO[bytes], strings: list[str]) -> Sheet:
    header: list[Cell] | None = None
    rows: list[tuple[int, list[Cell]]] = []
    row_number = 0
    for event, element in _parse(part):
        if event != "end" or element.tag != f"{_MAIN}row":
            continue
        row_number = int(element.get("r") or row_number + 1)
        cells: list[Cell] = []
        for position, cell in enumerate(element.iter(f"{_MAIN}c")):
            ref = cell.get("r") or f"{column_letter(position)}{row_number}"
            match = _CELL_REF.fullmatch(ref)
            index = _column_index(match.group(1)) if match else position
            value = _cell_value(cell, strings, ref)
            if index >= MAX_COLUMNS:
                if value not in (None, ""):
                    raise SpreadsheetError(
                        _("The sheet has more than %(limit)d columns; use the template's columns.")
                        % {"limit": MAX_COLUMNS}
                    )
                continue
            if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
                value = value[:MAX_CELL_CHARS]
            cells.extend([None] * (index + 1 - len(cells)))
            cells[index] = value
        element.clear()
        if not any(value not in (None, "") for value in cells):
            continue
        if header is None:
            header = cells
            continue
        rows.append((row_number, cells))
        if len(rows) > MAX_ROWS:
            raise SpreadsheetError(
                _(
                    "The sheet has more than %(limit)s rows. Upload at most %(limit)s "
                    "accounts at a time: split the list into several files."
                )
                % {"limit": f"{MAX_ROWS:,}"}
            )
    if header is None:
        raise SpreadsheetError(_("The sheet is empty: fill in the template's rows and try again."))
    return Sheet(header=header, rows=rows)
