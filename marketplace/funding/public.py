"""What the guichet offers the other features (the matching jobs): eligibility and the published
programmes and calls, as plain data. Nothing here writes."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from marketplace.funding import eligibility
from marketplace.funding.indexing import CALL_PATH, PROGRAMME_PATH
from marketplace.funding.models import (
    WITHOUT_PLACES_NOR_CALLS,
    CallStatus,
    Programme,
    ProgrammeCall,
    ProgrammeStatus,
)
from tenants.models import Tenant


@dataclass(frozen=True)
class PublishedTarget:
    key: str  # "programme:12" | "call:34"
    programme_id: int
    call_id: int | None
    title: str
    programme_title: str
    text: str
    themes: tuple[str, ...]
    floor_cents: int | None
    closes_on: dt.date | None
    url: str


def eligible_programmes(session: Session, tenant: Tenant) -> dict[int, str]:
    """Programme id → why this collectivité is eligible (French), for every published programme it can use."""
    return {o.programme_id: o.reason for o in eligibility.offers_for_tenant(session, tenant)}


def eligible_programmes_of_commune(session: Session, commune) -> dict[int, str]:
    """The same, for a commune that is not (yet) a tenant: a preview."""
    return {o.programme_id: o.reason for o in eligibility.offers_for_commune(session, commune)}


def targets_fingerprint(session: Session) -> tuple:
    """Changes whenever a programme, a call or who is eligible (a label's communes) changes: the
    matching's caches key on it."""
    p = session.execute(select(func.count(Programme.id), func.max(Programme.updated_at))).one()
    c = session.execute(select(func.count(ProgrammeCall.id), func.max(ProgrammeCall.updated_at))).one()
    return (tuple(p), tuple(c), eligibility.current_token(session))


def eligibility_reason(session: Session, programme_id: int, tenant: Tenant) -> str | None:
    """Why this collectivité is eligible to this published programme, or None."""
    programme = session.get(Programme, programme_id)
    if programme is None or programme.status is not ProgrammeStatus.published:
        return None
    verdict = eligibility.check_tenant(session, programme, tenant)
    return ", ".join(verdict.reasons) if verdict is not None and verdict.eligible else None


def eligible_communes(session: Session, programme_id: int) -> set[str]:
    programme = session.get(Programme, programme_id)
    return set(eligibility.eligible_insee_codes(session, programme)) if programme is not None else set()


def _programme_text(p: Programme) -> str:
    return " ".join([p.title, p.summary or "", p.description or "", " ".join(p.funders or [])])


@dataclass(frozen=True)
class TargetTitle:
    """What a list of matches shows of its target: titles and page, no text."""
    key: str
    call_id: int | None
    title: str
    programme_title: str
    url: str


def published_titles(session: Session, on: dt.date, programme_ids: list[int]) -> dict[str, TargetTitle]:
    """Key → title of these published programmes and of their published calls still open on ``on``
    (the targets ``published_targets`` would give), read as columns: a project page lists a dozen."""
    if not programme_ids:
        return {}
    # One statement: each published programme with its published calls still open (one row per call,
    # or one row with no call).
    open_call = and_(ProgrammeCall.programme_id == Programme.id, ProgrammeCall.status == CallStatus.published,
                     or_(ProgrammeCall.closes_on.is_(None), ProgrammeCall.closes_on >= on))
    out = {}
    for pid, title, closes_on, cid, call_title in session.execute(
            select(Programme.id, Programme.title, Programme.closes_on, ProgrammeCall.id, ProgrammeCall.title)
            .outerjoin(ProgrammeCall, open_call)
            .where(Programme.id.in_(programme_ids), Programme.status == ProgrammeStatus.published)
            .order_by(Programme.id, ProgrammeCall.id)):
        key = f"programme:{pid}"
        if key not in out and (closes_on is None or closes_on >= on):
            out[key] = TargetTitle(key, None, title, title, PROGRAMME_PATH.format(id=pid))
        if cid is not None:
            out[f"call:{cid}"] = TargetTitle(f"call:{cid}", cid, call_title, title,
                                             CALL_PATH.format(programme_id=pid, id=cid))
    return out


def published_targets(session: Session, on: dt.date, programme_ids: list[int] | None = None) -> list[PublishedTarget]:
    """Published programmes and their published calls still open on ``on``, ordered by id."""
    stmt = (select(Programme).where(Programme.status == ProgrammeStatus.published)
            .options(*WITHOUT_PLACES_NOR_CALLS).order_by(Programme.id))
    if programme_ids is not None:
        stmt = stmt.where(Programme.id.in_(programme_ids))
    programmes = list(session.scalars(stmt))
    by_id = {p.id: p for p in programmes}
    out: list[PublishedTarget] = []
    for p in programmes:
        if p.closes_on is not None and p.closes_on < on:
            continue
        text = _programme_text(p)
        out.append(PublishedTarget(f"programme:{p.id}", p.id, None, p.title, p.title, text, tuple(p.themes or []),
                                   p.amount_floor_cents, p.closes_on, PROGRAMME_PATH.format(id=p.id)))
    ids = list(by_id)
    for start in range(0, len(ids), 500):
        calls = session.scalars(select(ProgrammeCall).where(ProgrammeCall.programme_id.in_(ids[start:start + 500]),
                                                             ProgrammeCall.status == CallStatus.published)
                                .order_by(ProgrammeCall.id))
        for c in calls:
            if c.closes_on is not None and c.closes_on < on:
                continue
            p = by_id[c.programme_id]
            out.append(PublishedTarget(f"call:{c.id}", p.id, c.id, c.title, p.title,
                                       f"{c.title} {c.description or ''} {_programme_text(p)}", tuple(p.themes or []),
                                       p.amount_floor_cents, c.closes_on, CALL_PATH.format(programme_id=p.id, id=c.id)))
    return out
