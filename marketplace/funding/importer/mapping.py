"""Aides-territoires words → Passerelle's vocabularies; one row of the file → a programme's content."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from marshmallow import EXCLUDE, ValidationError

from marketplace.core.text import fold
from marketplace.funding import versions
from marketplace.funding.importer.source import COLUMN_FIELDS, COLUMNS, DATE_FIELDS, IMPORTED_FIELDS, SourceFile
from marketplace.funding.models import (
    AID_TYPES,
    BENEFICIARY_KINDS,
    FIELD_LABELS,
    FUNDER_LEVELS,
    Recurrence,
)
from marketplace.funding.schemas import ProgrammeFormSchema

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
                       if name not in COLUMN_FIELDS or COLUMN_FIELDS[name] in source.columns]
    # A new programme gets everything (a summary made of the title when the file has no description);
    # a known one is compared on the fields the file has.
    row.data = {name: data[name] for name in IMPORTED_FIELDS if name in data}
    row.data.update(provenance=data["provenance"], licence=data["licence"])
    if notes:
        row.data["curation_note"] = "⚠ Valeurs de la source non reprises. " + " ; ".join(notes) + "."
    row.compared = {name: versions.json_value(data[name]) for name in compared_fields}
    return row
