"""The funded-projects reference: real projects a programme funded, imported from open data.

The default columns are those of the Fonds vert open data (``nom_demarche_ds`` is the measure, i.e.
the programme's title); ``mapping`` renames any of them for another file. A row's identity is its
source's own file number when there is one (``numero_dossier_ds``), else a hash of its values, so an
import run twice, or a file that grew, adds only what is new. Rows that cannot be read are
reported with their line and reason; nothing of a bad row is kept.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.core import audit
from marketplace.projects.models import FundedProject
from marketplace.projects.models import ProjectEvent as E

FIELDS = {  # our field → the default column
    "commune_insee": "code_commune",
    "departement": "code_departement",
    "measure": "nom_demarche_ds",
    "title": "nom_du_projet",
    "beneficiary": "nom_beneficiaire_principal",
    "siren": "siren",
    "amount": "montant_engage",
    "file_number": "numero_dossier_ds",
}
REQUIRED = ("commune_insee", "measure", "title")
MAX_ROWS = 200_000


@dataclass
class Report:
    created: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return (f"{self.created} projet(s) financé(s) ajouté(s), {self.unchanged} déjà connu(s), "
                f"{len(self.rejected)} ligne(s) rejetée(s)")


_AMOUNT = re.compile(r"[^\d,.-]")


def parse_amount(text: str) -> int | None:
    """'713 361,00 €' → 71336100 cents; '' → None; anything else raises ValueError."""
    text = _AMOUNT.sub("", (text or "").replace("\u202f", "").replace("\xa0", ""))
    if not text:
        return None
    if "," in text:
        text = text.replace(".", "").replace(",", ".")
    value = round(float(text) * 100)
    if value < 0 or value > 10**15:
        raise ValueError("montant hors limites")
    return value


def insee_code(text: str) -> str:
    """The open data loses leading zeros ('1053' for 01053); Corsica is 2A/2B."""
    code = (text or "").strip().upper()
    if not re.fullmatch(r"\d{4,5}|2[AB]\d{3}", code):
        raise ValueError(f"code commune « {text} » invalide")
    return code.zfill(5)


def read_rows(stream: Iterable[str], mapping: dict[str, str] | None = None, delimiter: str = ";"):
    """(line, our fields) for each data row; the header decides which columns are used."""
    columns = {**FIELDS, **(mapping or {})}
    reader = csv.DictReader(stream, delimiter=delimiter)
    missing = [columns[f] for f in REQUIRED if columns[f] not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"colonnes absentes : {', '.join(missing)} (colonnes lues : {', '.join(reader.fieldnames or [])})")
    for n, row in enumerate(reader, start=2):
        if n > MAX_ROWS + 1:
            raise ValueError(f"plus de {MAX_ROWS} lignes : découpez le fichier")
        yield n, {ours: (row.get(theirs) or "").strip() for ours, theirs in columns.items()}


def row_key(source: str, row: dict[str, str], commune: str, amount: int | None) -> str:
    """A funded project's identity: its national file number with its commune and amount when the
    data has one (the same project in two files is one), else its values."""
    # A dossier of several communes has one line per commune, each with its amount.
    identity = (f"{row['file_number']}|{commune}|{amount}" if row.get("file_number")
                else "|".join([commune, row["measure"], row["title"], row["beneficiary"], str(amount)]))
    return hashlib.sha256(identity.encode()).hexdigest()


def import_csv(session: Session, stream: Iterable[str], *, source: str, mapping: dict[str, str] | None = None,
               actor_id: int | None = None) -> Report:
    report = Report()
    known = set(session.scalars(select(FundedProject.key)))
    batch: list[FundedProject] = []
    for line, row in read_rows(stream, mapping):
        try:
            # A project of an EPCI or a département has no commune (the open data says NULL): its
            # département is enough for the reference.
            missing = row["commune_insee"].strip().upper() in ("", "NULL", "NA", "-")
            commune = "" if missing and row["departement"].strip() else insee_code(row["commune_insee"])
            if not row["measure"] or not row["title"]:
                raise ValueError("mesure ou intitulé vide")
            amount = parse_amount(row["amount"])
            siren = re.sub(r"\D", "", row["siren"])[:9]
        except ValueError as exc:
            report.rejected.append((line, str(exc)))
            continue
        key = row_key(source, row, commune, amount)
        if key in known:
            report.unchanged += 1
            continue
        known.add(key)
        departement = (row["departement"] or (commune[:3] if commune.startswith("97") else commune[:2])).strip().upper()
        departement = departement.zfill(2) if departement.isdigit() and len(departement) < 2 else departement
        batch.append(FundedProject(key=key, source=source[:200], commune_insee=commune, departement=departement[:3],
                                   measure=row["measure"][:300], title=row["title"], beneficiary=row["beneficiary"][:300],
                                   siren=siren, amount_cents=amount))
        report.created += 1
        if len(batch) >= 1000:
            session.add_all(batch)
            session.flush()
            batch = []
    session.add_all(batch)
    session.flush()
    audit.record(session, E.funded_imported, actor_id=actor_id, tenant_id=None, object_type="funded_projects",
                 object_id=source[:60], created=report.created, unchanged=report.unchanged,
                 rejected=len(report.rejected))
    return report


def import_text(session: Session, text: str, **kw) -> Report:
    return import_csv(session, io.StringIO(text), **kw)
