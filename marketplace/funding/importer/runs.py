"""An import run and its report; the held changes a curator accepts or discards; the lists."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.core import audit
from marketplace.core.clock import today, utcnow
from marketplace.core.errors import NotFound, ServiceError
from marketplace.funding import access, services, versions
from marketplace.funding.eligibility import lower_first
from marketplace.funding.importer.mapping import MappedRow, map_row, source_id_of
from marketplace.funding.importer.source import DATE_FIELDS, SOURCES, SourceFile, read_file
from marketplace.funding.models import (
    FIELD_LABELS,
    Programme,
    ProgrammeImport,
    ProgrammeStatus,
)
from marketplace.funding.models import (
    FundingEvent as E,
)
from marketplace.funding.schemas import consistency_errors
from tenants.access import Actor
from tenants.models import Tenant, User

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


def _held(actor: Actor):
    """Programmes with a held change: all of them for ANCT, its own for a funder; None for others."""
    stmt = select(Programme).where(Programme.pending_since.is_not(None))
    if not actor.is_curator:
        if not actor.is_funder:
            return None
        stmt = stmt.where(Programme.owner_tenant_id == actor.tenant_id)
    return stmt


def held_programmes(session: Session, actor: Actor) -> list[Programme]:
    """Programmes with a held change, oldest first (see ``_held``)."""
    stmt = _held(actor)
    return [] if stmt is None else list(session.scalars(stmt.order_by(Programme.pending_since, Programme.id)))


def held_count(session: Session, actor: Actor) -> int:
    stmt = _held(actor)
    return 0 if stmt is None else session.scalar(stmt.with_only_columns(func.count(Programme.id))) or 0
