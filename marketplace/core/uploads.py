"""One reader for every uploaded table (CSV or the first sheet of an XLSX): programme imports, label
lists of communes, and whatever comes next.

A file becomes rows with their line numbers, as a spreadsheet numbers them (blank lines skipped but
counted). Everything that could hurt is refused in French before anything is read: an empty file,
a file too big, binary data that is not a workbook, an Excel 97 file, a workbook whose unpacked size
or whose single part is far larger than its download (a "zip bomb": 209 KB holding a 200 MB cell),
too many lines, a cell longer than Excel itself allows.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from typing import Any

from marketplace.core.errors import ServiceError
from marketplace.core.text import clean_text, decode_upload, format_int_fr

EXTENSIONS = (".csv", ".txt", ".xlsx")
# Excel's own limit for a cell; a longer one was not typed by a person.
MAX_CELL = 32_767
# An XLSX is a zip of XML: its parts, unpacked, may weigh this much at most (all together, and one).
MAX_UNPACKED = 60 * 1024 * 1024
MAX_PART = 40 * 1024 * 1024


class UploadError(ServiceError):
    """The file as a whole cannot be read; nothing was written. Its message is for the person who sent it."""

    def __init__(self, message: str):
        super().__init__(message, "file")


@dataclass
class Table:
    format: str  # "CSV" or "XLSX"
    rows: list[tuple[int, list[str]]]  # (line number, cells), blank lines left out
    delimiter: str | None = None
    encoding: str | None = None


def read_table(filename: str, data: bytes, *, max_bytes: int, max_rows: int, max_columns: int = 100) -> Table:
    """The non-blank rows of an uploaded CSV or XLSX, numbered from 1. Raises UploadError."""
    name = (filename or "").strip().lower()
    if not data:
        raise UploadError("Le fichier est vide.")
    if len(data) > max_bytes:
        raise UploadError(f"Fichier trop volumineux : {_size(max_bytes)} au plus.")
    if name.endswith(".xls") or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise UploadError("Le format Excel 97-2003 (.xls) n'est pas lu : enregistrez le classeur en .xlsx ou en CSV.")
    # A lot of blank lines count too: a tiny workbook can declare a sheet of a million rows.
    max_lines = max_rows + 1000
    if data[:4] == b"PK\x03\x04" or name.endswith(".xlsx"):
        return Table("XLSX", _xlsx_rows(data, max_lines, max_rows, max_columns))
    if name and not name.endswith(EXTENSIONS):
        raise UploadError("Format non pris en charge : envoyez un fichier CSV (.csv) ou un classeur Excel (.xlsx).")
    if b"\x00" in data[:4096]:
        raise UploadError("Ce fichier n'est ni un CSV ni un classeur XLSX (contenu binaire).")
    text, encoding = decode_upload(data)
    first = next((line for line in text.splitlines() if line.strip()), "")
    if not first:
        raise UploadError("Le fichier est vide.")
    # The first line tells the separator: French spreadsheets write ";", exports often ",".
    delimiter = max((";", ",", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows = _numbered(enumerate(reader, start=1), max_lines, max_rows, max_columns)
    except csv.Error as exc:
        raise UploadError(f"CSV illisible (ligne {reader.line_num}) : {exc}.") from None
    return Table("CSV", rows, delimiter, encoding)


def _numbered(numbered, max_lines: int, max_rows: int, max_columns: int) -> list[tuple[int, list[str]]]:
    rows: list[tuple[int, list[str]]] = []
    for number, cells in numbered:
        if number > max_lines:
            raise UploadError(f"Trop de lignes : {format_int_fr(max_rows)} au plus par fichier (lignes vides "
                              f"comprises, {format_int_fr(max_lines)} au plus). Découpez-le.")
        if not any(c.strip() for c in cells):
            continue
        if len(rows) > max_rows:  # the header and max_rows rows of data
            raise UploadError(f"Trop de lignes : {format_int_fr(max_rows)} au plus par fichier. Découpez-le.")
        long = next((c for c in cells if len(c) > MAX_CELL), None)
        if long is not None:
            raise UploadError(f"Ligne {number} : une cellule dépasse {format_int_fr(MAX_CELL)} caractères.")
        rows.append((number, [clean_text(c) for c in cells[:max_columns]]))
    return rows


def _xlsx_rows(data: bytes, max_lines: int, max_rows: int, max_columns: int) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    _check_archive(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        # A damaged or foreign archive fails in many ways (BadZipFile, openpyxl's InvalidFileException,
        # a missing part's KeyError, an XML parse error): all of them mean the same to the person.
        raise UploadError("Classeur illisible : ce fichier n'est pas un classeur Excel (.xlsx) valide.") from exc
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise UploadError("Le classeur n'a aucune feuille.")
        return _numbered(((number, [_cell_text(v) for v in values])
                          for number, values in enumerate(sheet.iter_rows(values_only=True, max_col=max_columns),
                                                          start=1)), max_lines, max_rows, max_columns)
    finally:
        workbook.close()


def _check_archive(data: bytes) -> None:
    """Refuse a workbook whose parts would unpack far beyond its size, before any part is read."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            sizes = [info.file_size for info in archive.infolist()]
    except (zipfile.BadZipFile, ValueError):
        raise UploadError("Classeur illisible : ce fichier n'est pas un classeur Excel (.xlsx) valide.") from None
    if sum(sizes) > MAX_UNPACKED or max(sizes, default=0) > MAX_PART:
        raise UploadError("Classeur refusé : une fois décompressé, il dépasserait "
                          f"{_size(MAX_UNPACKED)}. Enregistrez-le en CSV, ou allégez-le.")


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _size(n: int) -> str:
    return f"{format_int_fr(n // (1024 * 1024))} Mo"
