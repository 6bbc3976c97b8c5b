"""The operators' desk: find programmes among hundreds (words, state, funder, what is missing, facts
to check again), and act on many at once — set a perimeter, submit, publish, archive — each
programme in its own savepoint, so that one refusal leaves the others done and is reported."""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

from sqlalchemy import Row, exists, func, or_, select
from sqlalchemy.orm import Session

from marketplace.core.db import database_of
from marketplace.core.errors import ServiceError
from marketplace.core.text import fold
from marketplace.funding import eligibility, services, territory
from marketplace.funding.access import may_edit
from marketplace.funding.models import FACTS_FRESH_DAYS, Programme, ProgrammeScope, ProgrammeStatus
from tenants.access import Actor
from tenants.models import Tenant, User

PER_PAGE = 50
MAX_BULK = 500

# What the desk can do to many programmes at once, and how the confirmation says it.
BULK_ACTIONS = {
    "scope": "Ajouter au périmètre",
    "submit": "Soumettre à la relecture de l'ANCT",
    "publish": "Publier",
    "archive": "Archiver",
}
CURATOR_ONLY = {"publish"}


@dataclass
class DeskFilters:
    q: str = ""
    status: ProgrammeStatus | None = None
    owner_id: int | None = None
    incomplete: bool = False  # drafts without a perimeter: what an import leaves to finish
    stale: bool = False  # facts never dated or checked more than a year ago

    @property
    def active(self) -> bool:
        return bool(self.q or self.status or self.owner_id or self.incomplete or self.stale)


def find(session: Session, viewer: Actor, filters: DeskFilters, *, on: dt.date, page: int = 1,
         per_page: int = PER_PAGE) -> tuple[list[Programme], int]:
    """The programmes this operator may edit (a funder: its own; ANCT: all), newest change first."""
    stmt = select(Programme)
    if not viewer.is_curator:
        stmt = stmt.where(Programme.owner_tenant_id == viewer.tenant_id)
    elif filters.owner_id:
        stmt = stmt.where(Programme.owner_tenant_id == filters.owner_id)
    if filters.status is not None:
        stmt = stmt.where(Programme.status == filters.status)
    if filters.incomplete:
        stmt = stmt.where(Programme.status == ProgrammeStatus.draft,
                          ~exists().where(ProgrammeScope.programme_id == Programme.id, ProgrammeScope.include))
    if filters.stale:
        stmt = stmt.where(Programme.status != ProgrammeStatus.archived,
                          or_(Programme.facts_checked_on.is_(None),
                              Programme.facts_checked_on < on - dt.timedelta(days=FACTS_FRESH_DAYS)))
    words = fold(filters.q).split()[:8]
    if words:
        # Every word, accents and case aside, in the title or the source id: matched here, since SQL
        # cannot fold accents, on every programme's folded title (kept per eligibility generation);
        # the filters above then keep, in SQL, those of the matches they allow.
        owner = None if viewer.is_curator else viewer.tenant_id
        wanted = [i for i, owner_id, folded in _titles(session) if (owner is None or owner_id == owner)
                  and all(w in folded for w in words)]
        stmt = stmt.where(Programme.id.in_(wanted))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    ids = list(session.scalars(stmt.with_only_columns(Programme.id)
                               .order_by(Programme.updated_at.desc(), Programme.id.desc())
                               .offset((page - 1) * per_page).limit(per_page)))
    return services.desk_rows(session, ids), total


# Every programme's (id, owner, folded title and source id), per database, at one eligibility
# generation: every change of a programme passes ``versions.record_version``, which moves it.
_kept_titles: dict[str, tuple[str, list[tuple[int, int, str]]]] = {}


def _titles(session: Session) -> list[tuple[int, int, str]]:
    """What the desk's words are matched against (reading and folding thousands of titles again on
    every search was most of the desk's time: 25 ms a search at 5 000 programmes)."""
    token = eligibility.current_token(session)
    database = database_of(session)
    kept = _kept_titles.get(database)
    if kept is None or kept[0] != token:
        rows = session.execute(select(Programme.id, Programme.owner_tenant_id, Programme.title, Programme.source_id)
                               .order_by(Programme.id)).all()
        kept = _kept_titles[database] = (token, [(i, owner, _folded(title, source)) for i, owner, title, source in rows])
    return kept[1]


@functools.lru_cache(maxsize=50_000)
def _folded(title: str, source: str | None) -> str:
    """A programme's title and source id as the desk's words are matched."""
    return fold(f"{title} {source or ''}")


def funders(session: Session) -> list[Row]:
    """The organisations that own programmes, for the curators' filter: (id, name) rows, not mapped
    tenants (the desk shows them on every visit)."""
    return list(session.execute(select(Tenant.id, Tenant.name).where(Tenant.id.in_(select(Programme.owner_tenant_id)))
                                .order_by(Tenant.name, Tenant.id)))


@dataclass
class BulkPlan:
    """What a bulk action will touch, shown for confirmation before anything changes."""

    action: str
    programmes: list[Programme]
    unknown: int  # ids that name nothing this operator may edit
    place: tuple[str, str] | None = None  # (level, value) for "scope"

    @property
    def label(self) -> str:
        return BULK_ACTIONS[self.action]


@dataclass
class BulkReport:
    action: str
    done: list[Programme] = field(default_factory=list)
    refused: list[tuple[Programme, str]] = field(default_factory=list)
    unknown: int = 0

    @property
    def label(self) -> str:
        return BULK_ACTIONS[self.action]


def plan(session: Session, viewer: Actor, ids: list[int], action: str,
         place: tuple[str, str] | None = None) -> BulkPlan:
    if action not in BULK_ACTIONS:
        raise ServiceError("Action inconnue.", "action")
    if action in CURATOR_ONLY and not viewer.is_curator:
        raise ServiceError("Seule l'équipe de l'ANCT relit et publie les programmes.", "action")
    if action == "scope" and not place:
        raise ServiceError("Choisissez le territoire à ajouter au périmètre.", "place")
    ids = list(dict.fromkeys(ids))
    if not ids:
        raise ServiceError("Cochez au moins un programme.", "ids")
    if len(ids) > MAX_BULK:
        raise ServiceError(f"{MAX_BULK} programmes au plus à la fois.", "ids")
    found = {p.id: p for p in session.scalars(select(Programme).where(Programme.id.in_(ids)))}
    editable = [found[i] for i in ids if i in found and may_edit(found[i], viewer)]
    return BulkPlan(action, editable, len(ids) - len(editable), place)


def apply(session: Session, actor: User, viewer: Actor, bulk: BulkPlan) -> BulkReport:
    """Carry out a confirmed plan: each programme in a savepoint; a refusal is kept with its reason."""
    report = BulkReport(bulk.action, unknown=bulk.unknown)
    for programme in bulk.programmes:
        try:
            with session.begin_nested():
                if bulk.action == "scope":
                    level, value = bulk.place
                    territory.add_scope(session, actor, programme, include=True, level=level, value=value)
                else:
                    services.apply_action(session, actor, viewer, programme, bulk.action)
        except ServiceError as refusal:
            session.refresh(programme)
            report.refused.append((programme, refusal.message))
        else:
            report.done.append(programme)
    return report
