"""Spreadsheets people open in French Excel: CSV in UTF-8 with a BOM (else accents break), ';'
separators, and no cell that would run as a formula."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any


def safe_cell(value: Any) -> str:
    """A cell written by someone else never runs as a formula (OWASP "CSV injection"): a text
    starting with = + - @ (or a tab, a return) is prefixed with an apostrophe."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


def csv_text(header: list[str], rows: Iterable[Iterable[Any]]) -> str:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()
