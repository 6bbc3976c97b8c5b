"""Import funding programmes from a CSV or XLSX file (Aides-territoires exports first). No Flask.

A file is read into rows with their line numbers (as a spreadsheet numbers them: the header is
line 1), its columns are recognised by their headers, each row is mapped to Passerelle's
vocabularies and validated by the programme form's own schema, then:

- a **new source id** (the "Identifiant" column, else the link's address) creates a programme, as a
  **draft** of the importing operator: the file gives no territory, and a programme cannot be
  submitted to ANCT without one (``services._check_publishable``); its funder completes the
  territory and the themes, then submits it as any other;
- a **known source id** is compared with what the source gave last time (``source_content``, not
  the live programme, which its funder may have edited since):
  identical → unchanged; only dates differ → applied at once (a new version, audited, re-indexed:
  ``services.update_programme``), a date is a fact, not an editorial choice; anything else
  differs → **held** in ``pending_changes`` until a curator accepts or discards it, the published
  version staying online meanwhile;
- a row that cannot make a programme (no title, no valid link, no funder level, nothing of its
  beneficiaries or aid types known to Passerelle, an unreadable date) is **rejected** with its
  line number and the reasons; the same source id twice in one file: the second is rejected.

Values the source has and Passerelle has not (the beneficiaries "Particuliers", the aid type
"Autre aide financière"…) are listed in the report, never silently dropped.

The whole file is one transaction: the caller commits once. A file that cannot be read (neither CSV
nor XLSX, empty, too big, a required column missing) raises ``ImportFileError`` in French before
anything is written. Running the same file twice changes nothing and reports every line unchanged.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from marshmallow import EXCLUDE, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.core import audit
from marketplace.core.clock import today, utcnow
from marketplace.core.errors import NotFound, ServiceError
from marketplace.core.text import decode_upload, fold
from marketplace.funding import access, services, versions
from marketplace.funding.eligibility import lower_first
from marketplace.funding.models import (
    AID_TYPES,
    BENEFICIARY_KINDS,
    FIELD_LABELS,
    FUNDER_LEVELS,
    Programme,
    ProgrammeImport,
    ProgrammeStatus,
    Recurrence,
)
from marketplace.funding.models import (
    FundingEvent as E,
)
from marketplace.funding.schemas import ProgrammeFormSchema, consistency_errors
from tenants.models import Tenant, User

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
# Lines read, blank ones included, and columns: a tiny workbook can declare a sheet of a million
# rows by 16 384 columns, which openpyxl would pad cell by cell.
MAX_LINES = MAX_ROWS + 1000
MAX_COLUMNS = 100
EXTENSIONS = (".csv", ".txt", ".xlsx")


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
_COLUMN_FIELDS = {  # a field is compared only when the file has the column it comes from
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
    """Bytes of an upload → rows with their line numbers. Raises ImportFileError (French)."""
    name = (filename or "").strip().lower()
    if not data:
        raise ImportFileError("Le fichier est vide.")
    if len(data) > MAX_FILE_BYTES:
        raise ImportFileError(f"Fichier trop volumineux : {MAX_FILE_BYTES // (1024 * 1024)} Mo au plus.")
    if name.endswith(".xls") or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ImportFileError("Le format Excel 97-2003 (.xls) n'est pas lu : enregistrez le classeur en .xlsx ou en CSV.")
    if data[:4] == b"PK\x03\x04" or name.endswith(".xlsx"):
        headers, rows = _read_xlsx(data)
        source = SourceFile("XLSX", headers, {}, [], rows)
    else:
        if name and not name.endswith(EXTENSIONS):
            raise ImportFileError("Format non pris en charge : envoyez un fichier CSV (.csv) ou un classeur Excel (.xlsx).")
        text, encoding = _decode(data)
        headers, rows, delimiter = _read_csv(text)
        source = SourceFile("CSV", headers, {}, [], rows, delimiter, encoding)
    _map_headers(source)
    if not source.rows:
        raise ImportFileError("Le fichier ne contient aucune ligne de données sous l'en-tête.")
    return source


def _decode(data: bytes) -> tuple[str, str]:
    if b"\x00" in data[:4096]:
        raise ImportFileError("Ce fichier n'est ni un CSV ni un classeur XLSX (contenu binaire).")
    return decode_upload(data)


def _read_csv(text: str) -> tuple[list[str], list[tuple[int, list[str]]], str]:
    first = next((line for line in text.splitlines() if line.strip()), "")
    if not first:
        raise ImportFileError("Le fichier est vide.")
    # The header line tells the separator: French spreadsheets write ";", exports often ",".
    delimiter = max((";", ",", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        headers, rows = _table(enumerate(reader, start=1))
    except csv.Error as exc:
        raise ImportFileError(f"CSV illisible (ligne {reader.line_num}) : {exc}.") from None
    return headers, rows, delimiter


def _table(numbered) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(line number, cells) → the header and the numbered rows; blank lines skipped, rows capped."""
    headers: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for number, cells in numbered:
        if number > MAX_LINES:
            raise ImportFileError(f"Trop de lignes : {MAX_ROWS} au plus par fichier (lignes vides comprises, "
                                  f"{MAX_LINES} au plus). Découpez-le.")
        if not any(c.strip() for c in cells):
            continue
        if headers is None:
            headers = cells
            continue
        if len(rows) >= MAX_ROWS:
            raise ImportFileError(f"Trop de lignes : {MAX_ROWS} au plus par fichier. Découpez-le.")
        rows.append((number, cells))
    return headers or [], rows


def _read_xlsx(data: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        # A damaged or foreign archive fails in many ways (BadZipFile, openpyxl's InvalidFileException,
        # a missing part's KeyError, an XML parse error): all of them mean the same to the operator.
        raise ImportFileError("Classeur illisible : ce fichier n'est pas un classeur Excel (.xlsx) valide.") from exc
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise ImportFileError("Le classeur n'a aucune feuille.")
        return _table((number, [_cell_text(v) for v in values])
                      for number, values in enumerate(sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS), start=1))
    finally:
        workbook.close()


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


# Vocabularies ----------------------------------------------------------------------------------
# Aides-territoires words (folded) → Passerelle slugs; Passerelle's own slugs and labels work too.

def _own(vocabulary: dict[str, str]) -> dict[str, str]:
    return {**{fold(slug): slug for slug in vocabulary}, **{fold(label): slug for slug, label in vocabulary.items()}}


_AID_TYPES = {
    **_own(AID_TYPES),
    "subvention": "subvention", "pret": "pret", "pret bonifie": "pret", "avance recuperable": "avance_remboursable",
    "avance remboursable": "avance_remboursable", "ingenierie technique": "ingenierie",
    "ingenierie financiere": "ingenierie", "ingenierie juridique administrative": "ingenierie",
    "garantie": "garantie", "fonds propres": "fonds_propres", "investissement en fonds propres": "fonds_propres",
}

# Beneficiaries: first matching prefix wins ("entreprises publiques locales" before "entreprises").
_BENEFICIARY_PREFIXES = (
    ("commune", "commune"), ("intercommunalite", "epci"), ("epci", "epci"), ("departement", "departement"),
    ("region", "region"), ("entreprises publiques locales", "epl"), ("entreprise publique locale", "epl"),
    ("etablissements publics", "etablissement_public"), ("etablissement public", "etablissement_public"),
    ("syndicat", "syndicat"), ("groupement", "syndicat"), ("association", "association"),
    ("entreprise", "entreprise"),
)
_BENEFICIARIES = _own(BENEFICIARY_KINDS)

_RECURRENCES = {
    "permanente": Recurrence.permanent, "permanent": Recurrence.permanent, "ponctuelle": Recurrence.one_off,
    "ponctuel": Recurrence.one_off, "recurrente": Recurrence.recurring, "recurrent": Recurrence.recurring,
    **{fold(r.value): r for r in Recurrence}, **{fold(r.label): r for r in Recurrence},
}

_FUNDER_LEVELS = _own(FUNDER_LEVELS) | {"etat": "state", "ue": "eu", "europe": "eu", "bdt": "banque_des_territoires"}

# Guessing a funder's level from its name (folded). Order matters: the first rule that matches
# wins, so the specific names come before the words they contain.
_LEVEL_RULES: tuple[tuple[str, re.Pattern], ...] = tuple((level, re.compile(pattern)) for level, pattern in (
    ("departement", r"\bcollectivite europeenne d alsace\b"),  # a département despite its name
    ("banque_des_territoires", r"\bbanque des territoires\b|\bcaisse des depots\b"),
    ("eu", r"\b(union europeenne|commission europeenne|feder|feader|fse|fonds europeens?|europe)\b"),
    ("region", r"\bconseil regional\b|^(la )?region\b|\bcollectivite territoriale de (corse|guyane|martinique)\b"),
    ("departement", r"\bconseil (departemental|general)\b|^(le )?departement\b"),
    ("state", r"\betat\b|\bprefecture\b|\bprefet\b|\bministere\b|\bddtm?\b|\bdreal\b|\bdrac\b|\bdrieat\b|\bdgfip\b"
              r"|\bdirection (departementale|regionale|generale)\b|\binterministeriel(le)?\b|\bgouvernement\b|\bsgar\b"),
    # Agencies and other public operators: national agencies, établissements publics (EPF, chambres
    # consulaires), departmental agencies, syndicats of communes, parks, CAUE, PETR.
    ("agency", r"\bademe\b|\banct\b|\banah\b|\bcerema\b|\bagences?\b|\betablissements? publics?\b|\bepfl?\b"
               r"|\bofb\b|\bcaisse nationale\b|\bcnsa\b|\bbpifrance\b|\batd\b|\bcaue\b|\bparc naturel\b"
               r"|\bsyndicats?\b|\bpetr\b|\bchambres? (de|des|d|regionale)\b|\boffice francais\b|\bsafer\b"),
))


def guess_funder_level(funders: list[str]) -> str | None:
    """The level of the first funder (the main one, in the source's order) whose name says it."""
    for name in funders:
        folded = fold(name)
        for level, pattern in _LEVEL_RULES:
            if pattern.search(folded):
                return level
    return None


# One row → a programme's content ---------------------------------------------------------------

@dataclass
class MappedRow:
    line: int
    source_id: str
    title: str
    data: dict[str, Any] = field(default_factory=dict)  # validated, as services.create_programme takes it
    compared: dict[str, Any] = field(default_factory=dict)  # the imported fields, as JSON
    notes: list[str] = field(default_factory=list)  # source values Passerelle does not keep
    errors: list[str] = field(default_factory=list)


def _split(value: str) -> list[str]:
    return [part.strip() for part in re.split(r"[;\n]", value or "") if part.strip()]


def _date(value: str) -> dt.date:
    text = value.strip()
    for pattern in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%y"):
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    # "2023-06-30 00:00:00" or "2023-06-30T00:00:00" (a spreadsheet's date-time)
    try:
        return dt.datetime.fromisoformat(text).date()
    except ValueError:
        raise ValueError(text) from None


def source_id_of(url: str) -> str | None:
    """A link's stable part: host and path, without scheme, query, "www." or the last "/"."""
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = parts.netloc.lower().removeprefix("www.")
    return (host + parts.path.rstrip("/"))[:300]


def summary_of(description: str, title: str) -> str:
    """The first sentences of the description, 400 characters at most; the title if none."""
    text = re.sub(r"\s+", " ", description or "").strip()
    if len(text) < 10:
        return title
    if len(text) <= 400:
        return text
    cut = text[:399]
    end = max(cut.rfind(". "), cut.rfind(" ; "))
    if end >= 100:
        return cut[:end + 1].strip()
    return cut[:cut.rfind(" ")].rstrip(" ,;:") + "…"


def _known(values: list[str], mapping, what: str, notes: list[str]) -> list[str]:
    slugs, unknown = [], []
    for value in values:
        slug = mapping(fold(value))
        if slug is None:
            unknown.append(value)
        elif slug not in slugs:
            slugs.append(slug)
    if unknown:
        notes.append(f"{what} non repris : " + ", ".join(f"« {v} »" for v in unknown))
    return slugs


def _beneficiary(folded: str) -> str | None:
    if folded in _BENEFICIARIES:
        return _BENEFICIARIES[folded]
    return next((slug for prefix, slug in _BENEFICIARY_PREFIXES if folded.startswith(prefix)), None)


def map_row(source: SourceFile, line: int, cells: list[str], *, provenance: str, licence: str,
            source_id: str | None, default_level: str | None = None) -> MappedRow:
    """A row of the file → the content of a programme, validated; or the reasons it cannot be one."""
    def cell(key: str) -> str:
        index = source.columns.get(key)
        return (cells[index] if index is not None and index < len(cells) else "").strip()

    title, url = cell("title"), cell("url")
    row = MappedRow(line, source_id or "", title)
    errors, notes = row.errors, row.notes
    if not title:
        errors.append("nom de l'aide manquant")
    if not url:
        errors.append("lien manquant")
    elif source_id_of(url) is None:
        errors.append(f"lien invalide « {url[:80]} » (adresse web en https:// attendue)")
    funders = _split(cell("funders"))
    if not funders:
        errors.append("financeur manquant")
    level_text = cell("funder_level")
    # The "Échelon" cell, else the funder's name, else the operator's default for the file.
    level = _FUNDER_LEVELS.get(fold(level_text)) if level_text else (guess_funder_level(funders) or default_level)
    if level_text and level is None:
        errors.append(f"échelon « {level_text} » inconnu (attendu : {', '.join(FUNDER_LEVELS.values())})")
    elif funders and level is None:
        errors.append("échelon du financeur impossible à déduire de « " + " ; ".join(funders)[:120] + " » : ajoutez "
                      "une colonne « Échelon » (Union européenne, État, Région, Département, Banque des Territoires, "
                      "Agence ou opérateur public), ou choisissez un échelon par défaut pour le fichier")
    beneficiaries = _split(cell("beneficiaries"))
    kinds = _known(beneficiaries, _beneficiary, "Bénéficiaires", notes)
    if not beneficiaries:
        errors.append("bénéficiaire manquant")
    elif not kinds:
        errors.append("aucun bénéficiaire connu de Passerelle (" + ", ".join(beneficiaries)[:120] + ")")
    aid_values = _split(cell("aid_types"))
    aid_types = _known(aid_values, _AID_TYPES.get, "Types d'aide", notes)
    if not aid_values:
        errors.append("type d'aide manquant")
    elif not aid_types:
        errors.append("aucun type d'aide connu de Passerelle (" + ", ".join(aid_values)[:120] + ")")
    recurrence_text = cell("recurrence")
    recurrence = _RECURRENCES.get(fold(recurrence_text))
    if not recurrence_text:
        errors.append("récurrence manquante")
    elif recurrence is None:
        errors.append(f"récurrence « {recurrence_text[:40]} » inconnue (attendu : Permanente, Ponctuelle ou Récurrente)")
    dates: dict[str, dt.date | None] = {}
    for key in DATE_FIELDS:
        if key in source.columns:
            text = cell(key)
            try:
                dates[key] = _date(text) if text else None
            except ValueError:
                errors.append(f"{COLUMNS[key][0].lower()} illisible « {text[:30]} » (attendu : JJ/MM/AAAA)")
    call = fold(cell("call"))
    if errors:
        return row

    description = cell("description")
    form = {"title": title, "summary": summary_of(description, title), "description": description,
            "funders": funders, "funder_level": level, "aid_types": aid_types, "beneficiary_kinds": kinds,
            "recurrence": recurrence.value, "source_url": url, "provenance": provenance[:500], "licence": licence[:120],
            "how_to_apply": ("Candidature dans le cadre d'un appel à projets ou à manifestation d'intérêt : "
                             "voir la page source." if call in ("oui", "x", "1", "vrai", "true", "yes") else ""),
            **{key: value.isoformat() for key, value in dates.items() if value is not None}}
    try:
        data = ProgrammeFormSchema().load(form, unknown=EXCLUDE)
    except ValidationError as exc:
        for name, messages in exc.normalized_messages().items():
            message = messages[0] if isinstance(messages, list) else next(iter(messages.values()))[0]
            errors.append(f"{FIELD_LABELS.get(name, COLUMNS.get(name, (name,))[0]).lower()} : {message}")
        return row
    compared_fields = [name for name in IMPORTED_FIELDS
                       if name not in _COLUMN_FIELDS or _COLUMN_FIELDS[name] in source.columns]
    # A new programme gets everything (a summary made of the title when the file has no description);
    # a known one is compared on the fields the file has.
    row.data = {name: data[name] for name in IMPORTED_FIELDS if name in data}
    row.data.update(provenance=data["provenance"], licence=data["licence"])
    if notes:
        row.data["curation_note"] = "⚠ Valeurs de la source non reprises. " + " ; ".join(notes) + "."
    row.compared = {name: versions.json_value(data[name]) for name in compared_fields}
    return row


# The import ------------------------------------------------------------------------------------

OUTCOMES = {
    "created": "Créée",
    "dates": "Dates mises à jour",
    "held": "Modification en attente",
    "unchanged": "Inchangée",
    "rejected": "Rejetée",
}


@dataclass
class Entry:
    line: int
    outcome: str
    title: str
    message: str = ""
    programme_id: int | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "outcome": self.outcome, "title": self.title[:200], "message": self.message,
                "programme_id": self.programme_id, "notes": self.notes}


def _source_of(source: SourceFile, filename: str) -> tuple[str, str]:
    index = source.columns["url"]
    hosts = {urlsplit(cells[index].strip()).netloc.lower().removeprefix("www.")
             for _, cells in source.rows[:200] if index < len(cells) and cells[index].strip()}
    known = [SOURCES[h] for h in hosts if h in SOURCES]
    if known:
        return known[0]
    return f"fichier {filename}"[:120], ""


def _words(fields: list[str]) -> str:
    return ", ".join(FIELD_LABELS.get(f, f).lower() for f in fields)


def _date_words(changes: dict[str, Any], before: dict[str, Any]) -> str:
    def fr(value):
        return dt.date.fromisoformat(value).strftime("%d/%m/%Y") if value else "aucune"
    return " ; ".join(f"{FIELD_LABELS[k].lower()} : {fr(before.get(k))} → {fr(v)}" for k, v in changes.items())


def import_programmes(session: Session, actor: User, tenant: Tenant, filename: str, data: bytes, *,
                      licence: str = "", default_level: str | None = None) -> ProgrammeImport:
    """Import a file for ``tenant`` (an active operator): see the module docstring. Flushes; the
    caller commits once. Raises ImportFileError (nothing written) or ServiceError."""
    access.check_owner(tenant)
    # The name the browser sent, without any folder: shown in reports and provenance only.
    filename = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:255] or "fichier"
    source = read_file(filename, data)
    source_name, source_licence = _source_of(source, filename)
    licence = (licence or "").strip() or source_licence
    day = today()
    run = ProgrammeImport(tenant_id=tenant.id, actor_id=actor.id, filename=filename, source=source_name,
                          licence=licence[:120], rows=len(source.rows), report={})
    session.add(run)
    session.flush()

    # Source ids first: duplicates are known before any row is written, existing programmes read at once.
    id_column = source.columns.get("source_id")
    url_column = source.columns["url"]
    ids: list[str | None] = []
    for _, cells in source.rows:
        explicit = cells[id_column].strip()[:300] if id_column is not None and id_column < len(cells) else ""
        ids.append(explicit or source_id_of(cells[url_column] if url_column < len(cells) else ""))
    existing: dict[str, Programme] = {}
    wanted = sorted({i for i in ids if i})
    for start in range(0, len(wanted), 500):
        for programme in session.scalars(select(Programme).where(Programme.owner_tenant_id == tenant.id,
                                                                 Programme.source_id.in_(wanted[start:start + 500]))):
            existing[programme.source_id] = programme

    entries: list[Entry] = []
    first_line: dict[str, int] = {}
    for (line, cells), source_id in zip(source.rows, ids):
        origin = f"import {source_name}, {filename}, ligne {line}"
        provenance = f"Import {source_name} du {day:%d/%m/%Y} ({filename}, ligne {line})"
        if source_id and source_id in first_line:
            title = _cell(source, cells, "title")
            entries.append(Entry(line, "rejected", title, f"même identifiant que la ligne {first_line[source_id]} "
                                                          f"(« {source_id[:80]} »)"))
            continue
        if source_id:
            first_line[source_id] = line
        row = map_row(source, line, cells, provenance=provenance, licence=licence, source_id=source_id,
                      default_level=default_level)
        if row.errors:
            entries.append(Entry(line, "rejected", row.title, " ; ".join(row.errors), notes=row.notes))
            continue
        programme = existing.get(row.source_id)
        if programme is None:
            programme = services.create_programme(session, actor, tenant, row.data, origin=origin,
                                                  source_id=row.source_id)
            programme.source_content = row.compared
            existing[row.source_id] = programme
            entries.append(Entry(line, "created", row.title, "brouillon créé : périmètre et thématiques à compléter",
                                 programme.id, row.notes))
            continue
        entries.append(_update(session, actor, run, programme, row, origin, filename))

    counts = {outcome: sum(1 for e in entries if e.outcome == outcome) for outcome in OUTCOMES}
    run.created_count, run.dates_count, run.held_count = counts["created"], counts["dates"], counts["held"]
    run.unchanged_count, run.rejected_count = counts["unchanged"], counts["rejected"]
    run.report = {"entries": [e.as_dict() for e in entries], "format": source.format, "encoding": source.encoding,
                  "delimiter": source.delimiter, "columns": {k: source.headers[i] for k, i in source.columns.items()},
                  "ignored_columns": source.ignored}
    audit.record(session, E.programmes_imported, actor_id=actor.id, tenant_id=tenant.id, obj=run,
                 filename=filename, source=source_name, **{f"{k}_count": v for k, v in counts.items()})
    session.flush()
    return run


def _cell(source: SourceFile, cells: list[str], key: str) -> str:
    index = source.columns.get(key)
    return cells[index].strip() if index is not None and index < len(cells) else ""


def _update(session: Session, actor: User, run: ProgrammeImport, programme: Programme, row: MappedRow,
            origin: str, filename: str) -> Entry:
    """A known programme: unchanged, its dates applied, or the rest held for a curator."""
    if programme.status is ProgrammeStatus.archived:
        return Entry(row.line, "rejected", row.title, f"le programme n° {programme.id} est archivé : remettez-le en "
                     "brouillon pour le mettre à jour par import", programme.id)
    # What the source gave last time; a programme imported before source_content existed: itself.
    known = dict(programme.source_content or versions.snapshot(programme))
    changed = [name for name, value in row.compared.items() if known.get(name) != value]
    dates = {name: row.compared[name] for name in changed if name in DATE_FIELDS}
    content = [name for name in changed if name not in DATE_FIELDS]
    if "recurrence" in content or (dates and consistency_errors(
            {**programme.content(), **{name: row.data[name] for name in dates}})):
        # "Permanent" and a closing date go together or not at all; dates that would contradict the
        # programme's other dates (a closing before the opening its funder typed): reviewed, not applied.
        content += list(dates)
        dates = {}
    held_before = (programme.pending_changes or {}).get("fields") or {}
    messages = []
    if dates:
        live = {name: versions.json_value(getattr(programme, name)) for name in dates}
        if services.update_programme(session, actor, programme, {name: row.data[name] for name in dates},
                                     origin=origin):
            messages.append(_date_words(dates, live))
            if programme.status is ProgrammeStatus.closed and (programme.closes_on is None
                                                               or programme.closes_on >= today()):
                # Reopening is a curation step (its funder or ANCT): said, not done.
                messages.append("le programme est clos : rouvrez-le pour qu'il soit de nouveau proposé")
        else:  # its funder had already typed them in
            messages.append("dates de la source déjà en place")
            dates = {}
        programme.source_content = {**known, **{name: row.compared[name] for name in changed if name in DATE_FIELDS}}
    if content and {name: row.compared[name] for name in content} != held_before:
        fields = {name: row.compared[name] for name in content}
        programme.pending_changes = {"fields": fields, "import_id": run.id, "line": row.line, "filename": filename}
        programme.pending_since = utcnow()
        audit.record(session, E.programme_changes_held, actor_id=actor.id, tenant_id=programme.owner_tenant_id,
                     obj=programme, fields=content, import_id=run.id, line=row.line)
        message = "modification en attente de relecture : " + _words(content)
        if messages:
            message += " ; dates appliquées (" + messages[0] + ")"
        return Entry(row.line, "held", row.title, message, programme.id, row.notes)
    if not content and held_before:
        # The source is back to what was known: the held change no longer says anything.
        programme.pending_changes = programme.pending_since = None
        audit.record(session, E.programme_changes_discarded, actor_id=actor.id,
                     tenant_id=programme.owner_tenant_id, obj=programme, automatic=True, import_id=run.id)
        messages.append("la modification en attente est retirée : la source est revenue à la version connue")
    if dates:
        return Entry(row.line, "dates", row.title, " ; ".join(messages), programme.id, row.notes)
    note = "modification déjà en attente de relecture" if content else ""
    return Entry(row.line, "unchanged", row.title, " ; ".join(messages) or note, programme.id, row.notes)


# Held changes: a curator accepts or discards them -------------------------------------------------

@dataclass
class FieldChange:
    name: str
    label: str
    before: Any  # the live programme's value, as JSON
    after: Any  # the source's

    @property
    def long_text(self) -> bool:
        # Shown whole: the history's short form would cut a long title where the change may be.
        return self.name in ("title", "summary", "description", "how_to_apply", "source_url")


def pending_diff(programme: Programme) -> list[FieldChange]:
    """The held change, field by field: the live value and the source's."""
    fields = (programme.pending_changes or {}).get("fields") or {}
    return [FieldChange(name, FIELD_LABELS.get(name, name), versions.json_value(getattr(programme, name)), value)
            for name, value in fields.items()]


def in_words(change: FieldChange, value: Any) -> str:
    if change.long_text:
        return value or ""
    return versions.value_in_words(change.name, value) or ""


def _require_pending(programme: Programme) -> dict[str, Any]:
    fields = (programme.pending_changes or {}).get("fields")
    if not fields:
        raise ServiceError("Aucune modification importée n'attend de relecture pour ce programme.")
    return fields


def _content_from_json(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: (dt.date.fromisoformat(value) if name in DATE_FIELDS and value else value)
            for name, value in fields.items()}


def accept_pending(session: Session, curator: User, programme: Programme) -> list[str]:
    """Apply the held change as an edit (a new version, audited, re-indexed when public)."""
    fields = _require_pending(programme)
    pending = programme.pending_changes
    problems = consistency_errors({**programme.content(), **_content_from_json(fields)})
    if problems:
        raise ServiceError("Cette modification rendrait la fiche incohérente (" + " ; ".join(
            lower_first(m).rstrip(".") for m in problems.values()) + ") : corrigez la fiche, ou écartez la modification.")
    changed = services.update_programme(
        session, curator, programme, _content_from_json(fields),
        origin=f"import {pending.get('filename', '')}, ligne {pending.get('line')}, accepté après relecture")
    programme.source_content = {**(programme.source_content or {}), **fields}
    programme.pending_changes = programme.pending_since = None
    audit.record(session, E.programme_changes_accepted, actor_id=curator.id, tenant_id=programme.owner_tenant_id,
                 obj=programme, fields=list(fields), import_id=pending.get("import_id"))
    session.flush()
    return changed


def discard_pending(session: Session, curator: User, programme: Programme) -> None:
    """Keep the programme as it is. The source's values are remembered as seen: importing the same
    file again will not hold them a second time."""
    fields = _require_pending(programme)
    pending = programme.pending_changes
    programme.source_content = {**(programme.source_content or {}), **fields}
    programme.pending_changes = programme.pending_since = None
    audit.record(session, E.programme_changes_discarded, actor_id=curator.id, tenant_id=programme.owner_tenant_id,
                 obj=programme, fields=list(fields), import_id=pending.get("import_id"))
    session.flush()


# Lists --------------------------------------------------------------------------------------------

def imports_of(session: Session, tenant: Tenant, limit: int = 50) -> list[ProgrammeImport]:
    return list(session.scalars(select(ProgrammeImport).where(ProgrammeImport.tenant_id == tenant.id)
                                .order_by(ProgrammeImport.created_at.desc(), ProgrammeImport.id.desc()).limit(limit)))


def get_import(session: Session, import_id: int, tenant: Tenant | None) -> ProgrammeImport:
    """An import report, for the operator that ran it only (the tenant guard says so too)."""
    run = session.get(ProgrammeImport, import_id)
    if run is None or tenant is None or run.tenant_id != tenant.id:
        raise NotFound()
    return run


def held_programmes(session: Session, viewer: access.Viewer) -> list[Programme]:
    """Programmes with a held change: all of them for ANCT, its own for a funder; oldest first."""
    stmt = select(Programme).where(Programme.pending_since.is_not(None)).order_by(Programme.pending_since,
                                                                                    Programme.id)
    if not viewer.is_curator:
        if not viewer.is_funder:
            return []
        stmt = stmt.where(Programme.owner_tenant_id == viewer.tenant_id)
    return list(session.scalars(stmt))
