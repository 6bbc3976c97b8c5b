"""Labels: named lists of communes (Action Cœur de Ville, Petites Villes de Demain, any list an
operator uploads as INSEE codes) that a programme's territory can name."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.core import audit
from marketplace.core.clock import utcnow
from marketplace.core.errors import NotFound, ServiceError
from marketplace.core.text import fold, slugify
from marketplace.core.uploads import read_table
from marketplace.funding.access import check_owner
from marketplace.funding.models import (
    FundingEvent as E,
)
from marketplace.funding.models import (
    Label,
    LabelCommune,
)
from marketplace.funding.territory import looks_like_insee, normalise_insee
from tenants.access import Actor
from tenants.models import Tenant, User
from tenants.territories.models import Commune

# Labels -----------------------------------------------------------------------------------------

def all_labels(session: Session) -> list[tuple[Label, int]]:
    counts = dict(session.execute(select(LabelCommune.label_id, func.count()).group_by(LabelCommune.label_id)).all())
    return [(label, counts.get(label.id, 0)) for label in session.scalars(select(Label).order_by(Label.name))]


def get_editable_label(session: Session, label_id: int, actor: Actor) -> Label:
    label = session.get(Label, label_id)
    if label is None or not (actor.is_curator or (actor.is_funder and actor.tenant_id == label.owner_tenant_id)):
        raise NotFound()
    return label


def label_commune_count(session: Session, label: Label) -> int:
    return session.scalar(select(func.count()).select_from(LabelCommune).where(LabelCommune.label_id == label.id)) or 0


def label_communes(session: Session, label: Label, limit: int | None = None) -> list[Commune]:
    stmt = (select(Commune).join(LabelCommune, LabelCommune.commune_insee == Commune.insee)
            .where(LabelCommune.label_id == label.id).order_by(Commune.search_key, Commune.insee))
    return list(session.scalars(stmt.limit(limit) if limit else stmt))


def create_label(session: Session, actor: User, tenant: Tenant, data: dict[str, Any]) -> Label:
    check_owner(tenant)
    slug = data.get("slug") or slugify(data["name"])[:60]
    if session.scalar(select(Label.id).where(Label.slug == slug)) is not None:
        raise ServiceError(f"L'identifiant « {slug} » est déjà pris : choisissez-en un autre.", "slug")
    label = Label(slug=slug, name=data["name"].strip(), description=data.get("description", ""),
                  source_url=data.get("source_url") or "", licence=data.get("licence") or "", owner_tenant_id=tenant.id)
    session.add(label)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise ServiceError(f"L'identifiant « {slug} » est déjà pris : choisissez-en un autre.", "slug") from None
    audit.record(session, E.label_created, actor_id=actor.id, tenant_id=tenant.id, obj=label, slug=slug)
    return label


def update_label(session: Session, actor: User, label: Label, data: dict[str, Any]) -> None:
    # The slug never changes: scope rows name the label by it.
    changed = [k for k in ("name", "description", "source_url", "licence") if k in data and getattr(label, k) != (data[k] or "")]
    for key in changed:
        setattr(label, key, data[key] or "")
    if changed:
        label.updated_at = utcnow()
        audit.record(session, E.label_updated, actor_id=actor.id, tenant_id=label.owner_tenant_id, obj=label,
                     fields=changed)


@dataclass
class UploadReport:
    codes: list[str] = field(default_factory=list)  # recognised, in file order, without duplicates
    unknown: list[tuple[int, str]] = field(default_factory=list)  # (line number, code)
    invalid: list[tuple[int, str]] = field(default_factory=list)  # (line number, text)
    duplicates: int = 0
    added: int = 0
    removed: int = 0

    @property
    def problems(self) -> list[str]:
        lines = [f"ligne {n} : code INSEE « {code} » inconnu du référentiel" for n, code in self.unknown]
        lines += [f"ligne {n} : « {text} » n'est pas un code INSEE" for n, text in self.invalid]
        return lines


_HEADER_NAMES = {"insee", "code insee", "code_insee", "codeinsee", "code commune", "code_commune", "codgeo",
                 "cog", "code"}
MAX_LIST_BYTES = 5 * 1024 * 1024
MAX_LIST_ROWS = 40_000  # every commune of France, and some room


def parse_insee_file(session: Session, data: bytes | str, filename: str = "liste.csv") -> UploadReport:
    """Read INSEE codes from an uploaded CSV or XLSX: one column of codes, or a column named like
    « code_insee » / « insee » / « codgeo » among others; ';' or ',' separators; a header line is
    optional. Line numbers count from 1, header included, as a spreadsheet shows them. Raises
    ``UploadError`` (French) for a file that cannot be read."""
    report = UploadReport()
    if isinstance(data, str):
        data = data.encode("utf-8")
    rows = read_table(filename, data, max_bytes=MAX_LIST_BYTES, max_rows=MAX_LIST_ROWS, max_columns=50).rows
    column = 0
    if rows and not any(looks_like_insee(cell.strip()) for cell in rows[0][1]):
        header = [fold(cell).replace(" ", "_") for cell in rows[0][1]]
        for i, name in enumerate(header):
            if name.replace("_", " ") in _HEADER_NAMES or name in _HEADER_NAMES:
                column = i
                break
        rows = rows[1:]
    seen: set[str] = set()
    candidates: list[tuple[int, str]] = []
    for number, row in rows:
        cell = row[column].strip() if len(row) > column else ""
        if not cell:
            continue
        if not looks_like_insee(cell):
            report.invalid.append((number, cell[:40]))
            continue
        code = normalise_insee(cell)
        if code in seen:
            report.duplicates += 1
            continue
        seen.add(code)
        candidates.append((number, code))
    known: set[str] = set()
    codes = [c for _, c in candidates]
    for i in range(0, len(codes), 2000):
        known.update(session.scalars(select(Commune.insee).where(Commune.insee.in_(codes[i:i + 2000]))))
    for number, code in candidates:
        if code in known:
            report.codes.append(code)
        else:
            report.unknown.append((number, code))
    return report


def upload_label_communes(session: Session, actor: User, label: Label, data: bytes | str,
                          filename: str = "liste.csv") -> UploadReport:
    """Replace the label's communes by the recognised codes of the file. Unknown and malformed
    codes are reported with their line numbers and left out (a list from another year names
    communes since merged); an upload with no recognised code changes nothing."""
    report = parse_insee_file(session, data, filename)
    if not report.codes:
        raise ServiceError("Aucun code INSEE reconnu dans ce fichier : la liste du label n'a pas changé."
                           + (" " + " ; ".join(report.problems[:10]) + "." if report.problems else ""), "file")
    current = set(session.scalars(select(LabelCommune.commune_insee).where(LabelCommune.label_id == label.id)))
    wanted = set(report.codes)
    gone, new = current - wanted, wanted - current
    for chunk in _chunks(sorted(gone), 1000):
        session.execute(delete(LabelCommune).where(LabelCommune.label_id == label.id,
                                                   LabelCommune.commune_insee.in_(chunk)))
    for chunk in _chunks(sorted(new), 2000):
        session.execute(LabelCommune.__table__.insert(), [{"label_id": label.id, "commune_insee": c} for c in chunk])
    report.added, report.removed = len(new), len(gone)
    label.communes_updated_at = label.updated_at = utcnow()
    audit.record(session, E.label_communes_uploaded, actor_id=actor.id, tenant_id=label.owner_tenant_id, obj=label,
                 total=len(wanted), added=len(new), removed=len(gone), unknown=[c for _, c in report.unknown[:50]])
    session.flush()
    return report


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]
