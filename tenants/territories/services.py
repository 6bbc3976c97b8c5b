"""Territory registry: lookups, autocomplete and the idempotent import."""
from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Row, delete, func, or_, select, update
from sqlalchemy.orm import Session

from marketplace.core.text import fold, format_int_fr
from tenants.territories.models import Commune, Departement, Epci, Region

SNAPSHOT = Path(__file__).parent / "data" / "territoires.json.gz"


# Lookups ------------------------------------------------------------------------------------

def get_commune(session: Session, insee: str) -> Commune | None:
    return session.get(Commune, insee)


def commune_names(session: Session, codes: Iterable[str | None]) -> dict[str, str]:
    """INSEE code → commune name, for many codes in one query (unknown codes are left out): columns,
    not communes loaded with their département and région, for a page that only names them."""
    wanted = sorted({c for c in codes if c})
    if not wanted:
        return {}
    return {insee: name for insee, name in session.execute(select(Commune.insee, Commune.name)
                                                           .where(Commune.insee.in_(wanted)))}


def get_epci(session: Session, siren: str) -> Epci | None:
    return session.get(Epci, siren)


def get_region(session: Session, code: str) -> Region | None:
    return session.get(Region, code)


def get_departement(session: Session, code: str) -> Departement | None:
    return session.get(Departement, code)


# The lists of the forms' <select>s, as (code, name) rows rather than mapped objects (each département
# came with its région joined): the operators' desk shows both on every visit (p50 55.5 → 52.2 ms of CPU).
def regions(session: Session) -> list[Row]:
    return list(session.execute(select(Region.code, Region.name).order_by(Region.name)))


def departements(session: Session) -> list[Row]:
    return list(session.execute(select(Departement.code, Departement.name).order_by(Departement.code)))


def search_communes(session: Session, query: str, limit: int = 10) -> list[Commune]:
    """Accent-insensitive autocomplete by name (any word start) or postal code, largest first."""
    query = query.strip()
    if not query:
        return []
    if query.isdigit():
        # Postal codes are a space-separated list: match a code start at the list start or after a space.
        stmt = select(Commune).where(
            or_(Commune.postal_codes.startswith(query), Commune.postal_codes.contains(" " + query),
                Commune.insee == query)
        )
    else:
        key = fold(query)
        if not key:
            return []
        stmt = select(Commune).where(
            or_(Commune.search_key.startswith(key), Commune.search_key.contains(" " + key))
        )
    stmt = stmt.order_by(Commune.search_key.startswith(fold(query)).desc(), Commune.population.desc()).limit(limit)
    return list(session.scalars(stmt))


def communes_named(session: Session, name: str, limit: int = 50) -> list[Commune]:
    """Communes whose name is exactly this one (accents and punctuation aside), largest first."""
    key = fold(name)
    if not key:
        return []
    stmt = select(Commune).where(Commune.search_key == key).order_by(Commune.population.desc()).limit(limit)
    return list(session.scalars(stmt))


def search_epcis(session: Session, query: str, limit: int = 10) -> list[Epci]:
    key = fold(query)
    if not key:
        return []
    stmt = (
        select(Epci)
        .where(or_(Epci.search_key.startswith(key), Epci.search_key.contains(" " + key), Epci.siren == query.strip()))
        .order_by(Epci.population.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def commune_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Commune)) or 0


# Resolving what a person typed ----------------------------------------------------------------

# How people name a territory in a form: the autocomplete writes "Châteauroux (36000) — 36044"
# for a commune; an EPCI is written "Châteauroux Métropole — 243600327" (its SIREN).
_INSEE_AT_END = re.compile(r"—\s*(\d[\dAB]\d{3})\s*$")
_SIREN_AT_END = re.compile(r"(?:^|—)\s*(\d{9})\s*$")
_CODE = re.compile(r"(?<![\dA-Za-z])(\d{5}|2[ABab]\d{3})(?![\dA-Za-z])")


@dataclass
class TerritoryChoice:
    commune: Commune | None = None
    epci: Epci | None = None
    error: str | None = None
    # (value for the form, label for the person) when the text names several territories
    candidates: list[tuple[str, str]] = field(default_factory=list)


def commune_value(commune: Commune) -> str:
    postal = commune.postal_code_list[0] if commune.postal_code_list else commune.departement_code
    return f"{commune.name} ({postal}) — {commune.insee}"


def epci_value(epci: Epci) -> str:
    return f"{epci.name} — {epci.siren}"


def resolve_territory(session: Session, text: str | None, *, communes_only: bool = False) -> TerritoryChoice:
    """The commune or EPCI a person means, from what they typed or what a page printed.

    Accepted: the autocomplete's "Châteauroux (36000) — 36044" and "Châteauroux Métropole — 243600327";
    "Gien (45155)" (an INSEE code in brackets, as our pages print it) and "Gien (45500)" (a postal
    code); the postal code "45500" alone or "45500 Gien"; the INSEE code; the name with or without
    accents. Several territories → the candidates, to choose from; none → suggestions by name.
    """
    text = (text or "").strip()[:200]
    if not text:
        return TerritoryChoice(error="Indiquez la commune." if communes_only
                               else "Indiquez la commune ou l'intercommunalité.")
    if m := _SIREN_AT_END.search(text):
        if not communes_only and (epci := session.get(Epci, m.group(1))):
            return TerritoryChoice(epci=epci)
        if commune := session.scalar(select(Commune).where(Commune.siren == m.group(1))):
            return TerritoryChoice(commune=commune)
        text = _SIREN_AT_END.sub("", text).strip()
    if m := _INSEE_AT_END.search(text):
        if commune := session.get(Commune, m.group(1).upper()):
            return TerritoryChoice(commune=commune)
        text = _INSEE_AT_END.sub("", text).strip()
    codes = [c.upper() for c in _CODE.findall(text)]
    name = re.sub(r"\s+", " ", _CODE.sub(" ", re.sub(r"[()—–,;]", " ", text))).strip()
    key = fold(name)
    epcis: list[Epci] = []
    if codes:
        # A code is an INSEE code or a postal code (which several communes may share).
        communes = []
        for code in dict.fromkeys(codes):
            if commune := session.get(Commune, code):
                communes.append(commune)
            communes += session.scalars(select(Commune).where(Commune.postal_codes.contains(code))
                                        .order_by(Commune.population.desc()).limit(30))
        communes = list({c.insee: c for c in communes}.values())
        if key:
            communes = [c for c in communes if c.search_key == key] or \
                       [c for c in communes if c.search_key.startswith(key)]
    elif key:
        communes = list(session.scalars(select(Commune).where(Commune.search_key == key)
                                        .order_by(Commune.population.desc()).limit(50)))
        if not communes_only:
            epcis = list(session.scalars(select(Epci).where(Epci.search_key == key)))
    else:
        return TerritoryChoice(error="Aucun territoire ne correspond à cette saisie.")
    if len(communes) + len(epcis) == 1:
        return TerritoryChoice(commune=communes[0] if communes else None, epci=epcis[0] if epcis else None)
    if not communes and not epcis and key:
        communes = search_communes(session, name, limit=6)
        epcis = [] if communes_only else search_epcis(session, name, limit=4)
    candidates = [(commune_value(c), f"{c.name} ({c.departement.name}, {format_int_fr(c.population)} habitants)")
                  for c in communes[:8]]
    candidates += [(epci_value(e), f"{e.name} ({e.kind_label}, {format_int_fr(e.population)} habitants)")
                   for e in epcis[:4]]
    what = "commune" if communes_only else "commune ni intercommunalité"
    if not candidates:
        return TerritoryChoice(error=f"Aucune {what} ne correspond à « {text[:60]} ».")
    return TerritoryChoice(error="Plusieurs territoires correspondent : choisissez dans la liste.",
                           candidates=candidates)


# Import -------------------------------------------------------------------------------------

@dataclass
class Snapshot:
    regions: list[dict]
    departements: list[dict]
    epcis: list[dict]
    communes: list[dict]


@dataclass
class ImportReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        parts = []
        for kind in ("regions", "departements", "epcis", "communes"):
            parts.append(
                f"{kind}: {self.created.get(kind, 0)} créé(s), {self.updated.get(kind, 0)} mis à jour, "
                f"{self.deleted.get(kind, 0)} supprimé(s)"
            )
        return "; ".join(parts)


def snapshot_from_upstream(directory: Path) -> Snapshot:
    """Read @etalab/decoupage-administratif's JSON files (the package's ``data/`` folder)."""
    directory = Path(directory)
    if (directory / "package" / "data").is_dir():
        directory = directory / "package" / "data"
    elif (directory / "data").is_dir() and not (directory / "communes.json").exists():
        directory = directory / "data"
    missing = [n for n in ("regions.json", "departements.json", "epci.json", "communes.json") if not (directory / n).exists()]
    if missing:
        raise FileNotFoundError(f"fichiers manquants dans {directory} : {', '.join(missing)}")

    def load(name: str) -> list[dict]:
        return json.loads((directory / name).read_text(encoding="utf-8"))

    regions = [{"code": r["code"], "name": r["nom"]} for r in load("regions.json")]
    departements = [
        {"code": d["code"], "name": d["nom"], "region_code": d["region"]} for d in load("departements.json")
    ]
    epci_of: dict[str, str] = {}
    epcis = []
    for e in load("epci.json"):
        epcis.append(
            {
                "siren": e["code"],
                "name": e["nom"],
                "kind": e["type"],
                "population": int(e.get("populationMunicipale") or e.get("populationTotale") or 0),
            }
        )
        for member in e.get("membres", []):
            epci_of[member["code"]] = e["code"]
    communes = []
    for c in load("communes.json"):
        # Only current communes: communes déléguées/associées and Paris-Lyon-Marseille
        # arrondissements are not local authorities of their own.
        if c.get("type") != "commune-actuelle":
            continue
        communes.append(
            {
                "insee": c["code"],
                "name": c["nom"],
                "population": int(c.get("population") or 0),
                "postal_codes": " ".join(c.get("codesPostaux") or []),
                "siren": c.get("siren"),
                "departement_code": c["departement"],
                "region_code": c["region"],
                "epci_siren": epci_of.get(c["code"]),
            }
        )
    return Snapshot(regions, departements, epcis, communes)


def write_snapshot(snapshot: Snapshot, path: Path = SNAPSHOT) -> None:
    """The compact copy shipped in the repository, so the product runs offline."""
    payload = {
        "source": "@etalab/decoupage-administratif (INSEE, Code officiel géographique; Licence Ouverte 2.0)",
        "regions": [[r["code"], r["name"]] for r in snapshot.regions],
        "departements": [[d["code"], d["name"], d["region_code"]] for d in snapshot.departements],
        "epcis": [[e["siren"], e["name"], e["kind"], e["population"]] for e in snapshot.epcis],
        "communes": [
            [c["insee"], c["name"], c["population"], c["postal_codes"], c["siren"], c["departement_code"],
             c["region_code"], c["epci_siren"]]
            for c in sorted(snapshot.communes, key=lambda c: c["insee"])
        ],
    }
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    # mtime=0: the same data gives the same bytes, so a refresh without changes leaves git clean.
    with open(path, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(raw)


def read_snapshot(path: Path = SNAPSHOT) -> Snapshot:
    payload = json.loads(gzip.decompress(Path(path).read_bytes()))
    return Snapshot(
        regions=[{"code": a, "name": b} for a, b in payload["regions"]],
        departements=[{"code": a, "name": b, "region_code": c} for a, b, c in payload["departements"]],
        epcis=[{"siren": a, "name": b, "kind": c, "population": d} for a, b, c, d in payload["epcis"]],
        communes=[
            dict(zip(("insee", "name", "population", "postal_codes", "siren", "departement_code", "region_code",
                      "epci_siren"), row))
            for row in payload["communes"]
        ],
    )


Progress = Callable[[int], None]


def import_snapshot(session: Session, snapshot: Snapshot, progress: Progress | None = None) -> ImportReport:
    """Upsert the registry from a snapshot; running it twice changes nothing the second time."""
    report = ImportReport()
    for row in snapshot.epcis:
        row["search_key"] = fold(row["name"])
    for row in snapshot.communes:
        row["search_key"] = fold(row["name"])
    plan: list[tuple[str, type, str, list[dict]]] = [
        ("regions", Region, "code", snapshot.regions),
        ("departements", Departement, "code", snapshot.departements),
        ("epcis", Epci, "siren", snapshot.epcis),
        ("communes", Commune, "insee", snapshot.communes),
    ]
    for kind, model, key, rows in plan:
        _upsert(session, report, kind, model, key, rows, progress)
    # Deletions run children first: a commune that left the registry before its EPCI.
    for kind, model, key, rows in reversed(plan):
        keep = {r[key] for r in rows}
        existing = set(session.scalars(select(getattr(model, key))))
        gone = sorted(existing - keep)
        for chunk in _chunks(gone, 500):
            session.execute(delete(model).where(getattr(model, key).in_(chunk)))
        report.deleted[kind] = len(gone)
    session.flush()
    return report


def _upsert(session, report, kind, model, key, rows, progress) -> None:
    columns = list(rows[0].keys()) if rows else []
    table = model.__table__
    existing = {row[0]: tuple(row[1:]) for row in session.execute(select(table.c[key], *[table.c[c] for c in columns]))}
    new_rows = [r for r in rows if r[key] not in existing]
    changed = [r for r in rows if r[key] in existing and existing[r[key]] != tuple(r[c] for c in columns)]
    for chunk in _chunks(new_rows, 2000):
        session.execute(model.__table__.insert(), chunk)
        if progress:
            progress(len(chunk))
    for chunk in _chunks(changed, 2000):
        session.execute(update(model), chunk)
        if progress:
            progress(len(chunk))
    if progress:
        progress(len(rows) - len(new_rows) - len(changed))
    report.created[kind] = len(new_rows)
    report.updated[kind] = len(changed)


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
