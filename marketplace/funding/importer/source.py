"""An import file: read by the shared upload reader, its columns recognised by their headers."""
from __future__ import annotations

from dataclasses import dataclass

from marketplace.core.errors import ServiceError
from marketplace.core.text import fold
from marketplace.core.uploads import UploadError, read_table

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
# Columns read: a tiny workbook can declare a sheet of 16 384 columns, which openpyxl would pad.
MAX_COLUMNS = 100


class ImportFileError(ServiceError):
    """The file as a whole cannot be imported; nothing was written."""

    def __init__(self, message: str):
        super().__init__(message, "file")


# Columns ---------------------------------------------------------------------------------------
# key → (the header shown in messages, accepted headers as ``fold`` writes them).

COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "title": ("Nom", ("nom", "nom de l aide", "titre", "intitule")),
    "url": ("Lien", ("lien", "url", "adresse", "lien vers l aide")),
    "funders": ("Financeurs", ("financeurs", "financeur", "porteurs d aides", "porteur d aide")),
    "beneficiaries": ("Bénéficiaire", ("beneficiaire", "beneficiaires", "beneficiaires de l aide")),
    "aid_types": ("Types d'aides", ("types d aides", "type d aide", "types d aide", "type d aides")),
    "call": ("AAP/AMI", ("aap ami", "appel a projets", "aap")),
    "recurrence": ("Récurrence", ("recurrence",)),
    "description": ("Descriptif", ("descriptif", "description")),
    "closes_on": ("Date Clôture", ("date cloture", "date de cloture", "date limite", "date de fin", "cloture")),
    "opens_on": ("Date d'ouverture", ("date d ouverture", "date ouverture", "date de debut", "date debut")),
    "source_id": ("Identifiant", ("identifiant", "id", "source id", "identifiant source")),
    "funder_level": ("Échelon", ("echelon", "echelon du financeur", "niveau du financeur")),
}
REQUIRED_COLUMNS = ("title", "url", "funders", "beneficiaries", "aid_types", "recurrence")
_HEADER_KEYS = {alias: key for key, (_, aliases) in COLUMNS.items() for alias in aliases}

# The programme fields an import writes and compares. Dates are applied without review.
DATE_FIELDS = ("opens_on", "closes_on")
COLUMN_FIELDS = {  # a field is compared only when the file has the column it comes from
    "description": "description", "summary": "description", "closes_on": "closes_on", "opens_on": "opens_on",
    "how_to_apply": "call",
}
IMPORTED_FIELDS = ("title", "summary", "description", "funders", "funder_level", "aid_types",
                   "beneficiary_kinds", "recurrence", "opens_on", "closes_on", "how_to_apply", "source_url")

# Sources known by the host of their links: name and licence of their data.
SOURCES = {
    "aides-territoires.beta.gouv.fr": ("Aides-territoires", "ISC (Aides-territoires) ; textes des financeurs"),
}


# Reading the file ------------------------------------------------------------------------------

@dataclass
class SourceFile:
    format: str  # "CSV" or "XLSX"
    headers: list[str]
    columns: dict[str, int]  # key → index
    ignored: list[str]  # headers not recognised
    rows: list[tuple[int, list[str]]]  # (line number, cells)
    delimiter: str | None = None
    encoding: str | None = None


def read_file(filename: str, data: bytes) -> SourceFile:
    """Bytes of an upload → rows with their line numbers, columns recognised. Raises ImportFileError."""
    try:
        table = read_table(filename, data, max_bytes=MAX_FILE_BYTES, max_rows=MAX_ROWS, max_columns=MAX_COLUMNS)
    except UploadError as exc:
        raise ImportFileError(exc.message) from None
    if not table.rows:
        raise ImportFileError("Le fichier est vide.")
    (_, headers), *rows = table.rows
    source = SourceFile(table.format, headers, {}, [], rows, table.delimiter, table.encoding)
    _map_headers(source)
    if not source.rows:
        raise ImportFileError("Le fichier ne contient aucune ligne de données sous l'en-tête.")
    return source


def _map_headers(source: SourceFile) -> None:
    if not source.headers:
        raise ImportFileError("Le fichier est vide.")
    for index, header in enumerate(source.headers):
        key = _HEADER_KEYS.get(fold(header or ""))
        if key and key not in source.columns:
            source.columns[key] = index
        elif (header or "").strip():
            source.ignored.append(header.strip())
    missing = [COLUMNS[key][0] for key in REQUIRED_COLUMNS if key not in source.columns]
    if missing:
        raise ImportFileError(
            f"Colonne{'s' if len(missing) > 1 else ''} obligatoire{'s' if len(missing) > 1 else ''} "
            f"absente{'s' if len(missing) > 1 else ''} : {', '.join(missing)}. La première ligne doit nommer les "
            "colonnes comme un export Aides-territoires : " + ", ".join(COLUMNS[k][0] for k in REQUIRED_COLUMNS) + ".")
