"""Small text helpers shared by the registry, the search and the forms."""
from __future__ import annotations

import re
import unicodedata

from marketplace.core.clock import PARIS

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "’": "'", "ß": "ss"})
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Lower-case, accent-free, punctuation as single spaces: 'Châteauroux' → 'chateauroux'."""
    text = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return _NOT_ALNUM.sub(" ", text).strip()


def slugify(text: str) -> str:
    return fold(text).replace(" ", "-")[:100] or "organisation"


def format_int_fr(value: int | None) -> str:
    """42963 → '42 963' with a narrow no-break space, as French typography wants."""
    if value is None:
        return ""
    return f"{value:,}".replace(",", "\u202f")


def decode_upload(data: bytes) -> tuple[str, str]:
    """An uploaded text file (CSV) → (text, encoding name): UTF-8 with or without BOM, else
    Windows-1252, which spreadsheets on French Windows use unless told otherwise."""
    try:
        return data.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "Windows-1252"


MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre"]


def date_fr(value, with_time: bool = False) -> str:
    """A date (or an instant, shown in Paris time) the French way: '1er décembre 2026 à 07 h 05'."""
    if value is None:
        return ""
    local = value.astimezone(PARIS) if getattr(value, "tzinfo", None) else value
    day = "1er" if local.day == 1 else str(local.day)
    text = f"{day} {MONTHS[local.month - 1]} {local.year}"
    if with_time and hasattr(local, "hour"):
        text += f" à {local.hour:02d} h {local.minute:02d}"
    return text


def clean_text(text: str) -> str:
    """Typed text as it may be stored: no control characters (a NUL breaks exports and PostgreSQL),
    no lone surrogates, line ends as \\n."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def one_line(text: str) -> str:
    """Text for a header, a subject or a name: one line, single spaces, no control characters."""
    return " ".join(_CONTROL.sub("", text).split())
