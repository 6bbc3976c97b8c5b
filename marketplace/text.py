"""Small text helpers shared by the registry, the search and the forms."""
from __future__ import annotations

import re
import unicodedata

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
