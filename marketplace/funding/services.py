"""The guichet's rules: programmes, their territory, their calls, their curation; labels. No Flask.

Services flush, never commit: the view (or job) commits once, then side effects run (search
indexing is registered with ``after_commit``). Every change writes its audit event and a new
``ProgrammeVersion`` in the same transaction.

Who may do what. Programmes are shared data, so the tenant guard does not protect them: access is
decided here, by ``get_visible_programme`` and ``get_editable_programme``, and nowhere else.

- A **funder** is a member (role member or admin) of an active operator tenant: it creates
  programmes (its tenant owns them), edits them, submits them for review, opens their calls.
- **ANCT staff** (*curators*) review every programme: they publish or send back the submitted
  ones and may edit any. They are the platform admins, and the members of an operator tenant a
  platform admin belongs to (the platform's own operator, ANCT: see ``is_curator``). Another
  funder's draft is invisible to a funder (404, never 403).
- Everyone reads published and closed programmes.

Edits of a published programme go online at once: funders are accountable public bodies, not
anonymous authors, and the page's history shows every change with who and when.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session, undefer

from marketplace.core import audit
from marketplace.core.clock import today, utcnow
from marketplace.core.db import json_list_contains, page_in_order
from marketplace.core.errors import ServiceError
from marketplace.funding import eligibility
from marketplace.funding.access import check_owner
from marketplace.funding.models import (
    CALL_WORKFLOW,
    CONTENT_FIELDS,
    FIELD_LABELS,
    FRANCE_CODE,
    PROGRAMME_WORKFLOW,
    WITHOUT_PLACES_NOR_CALLS,
    CallStatus,
    FunderLevel,
    Programme,
    ProgrammeCall,
    ProgrammeScope,
    ProgrammeStatus,
    Recurrence,
)
from marketplace.funding.models import (
    FundingEvent as E,
)
from marketplace.funding.versions import record_version, reindex, reindex_call
from search.indexing import index_later, indexing_skipped, without_indexing  # noqa: F401 (re-exported)
from tenants.access import Actor
from tenants.models import Tenant, User
from tenants.territories.models import Departement

# Writing a programme --------------------------------------------------------------------------

def _content(data: dict[str, Any]) -> dict[str, Any]:
    # Only the reviewed content fields: never Model(**request_data).
    content = {name: data[name] for name in CONTENT_FIELDS if name in data}
    if "funder_level" in content:
        content["funder_level"] = FunderLevel(content["funder_level"])
    if "recurrence" in content:
        content["recurrence"] = Recurrence(content["recurrence"])
    return content


def create_programme(session: Session, actor: User, tenant: Tenant, data: dict[str, Any], *,
                     origin: str | None = None, source_id: str | None = None) -> Programme:
    """``origin`` says where the content comes from when it is not typed in ("Import Aides-territoires,
    ligne 12"): it ends the version's summary and goes into the audit event."""
    check_owner(tenant)
    programme = Programme(owner_tenant_id=tenant.id, status=ProgrammeStatus.draft, source_id=source_id)
    content = _content(data)
    # Written today from its source, unless the author says when its facts were checked.
    content["facts_checked_on"] = content.get("facts_checked_on") or today()
    programme.apply_content(content)
    session.add(programme)
    session.flush()
    audit.record(session, E.programme_created, actor_id=actor.id, tenant_id=tenant.id, obj=programme,
                 title=programme.title, origin=origin)
    record_version(session, programme, actor, "Création du programme" + (f" ({origin})" if origin else ""))
    return programme


def update_programme(session: Session, actor: User, programme: Programme, data: dict[str, Any], *,
                     origin: str | None = None) -> list[str]:
    """Save an edit; returns the labels of the changed fields (empty: nothing changed). ``origin``:
    as for ``create_programme`` (an import's dates, an imported change a curator accepted)."""
    if programme.status is ProgrammeStatus.archived:
        raise ServiceError("Ce programme est archivé : remettez-le en brouillon pour le modifier.")
    content = _content(data)
    changed = [name for name, value in content.items() if getattr(programme, name) != value]
    if not changed:
        return []
    programme.apply_content({name: content[name] for name in changed})
    labels = [FIELD_LABELS[name] for name in changed]
    audit.record(session, E.programme_updated, actor_id=actor.id, tenant_id=programme.owner_tenant_id,
                 obj=programme, fields=changed, origin=origin)
    record_version(session, programme, actor, "Modification : " + ", ".join(eligibility.lower_first(label) for label in labels)
             + (f" ({origin})" if origin else ""))
    if programme.status.is_public:
        reindex(session, programme)
    return labels


# The curation workflow ------------------------------------------------------------------------

def _check_publishable(programme: Programme) -> None:
    if not programme.includes:
        raise ServiceError("Définissez d'abord le périmètre : au moins un territoire inclus "
                           "(par exemple « France entière »).")
    if _past_closing(programme):
        raise ServiceError("La date de clôture est passée : repoussez-la, ou rendez le programme permanent.")


def _past_closing(programme: Programme, on: dt.date | None = None) -> bool:
    return programme.recurrence is not Recurrence.permanent and programme.closes_on is not None \
        and programme.closes_on < (on or today())


def _reopenable(programme: Programme) -> None:
    if _past_closing(programme):
        raise ServiceError("La date de clôture est passée : repoussez-la d'abord (« Modifier »), sinon le "
                           "programme serait clos de nouveau cette nuit.")


def submit(session: Session, actor: User, programme: Programme) -> None:
    PROGRAMME_WORKFLOW.apply(session, programme, "submit", actor, guard=lambda: _check_publishable(programme))
    record_version(session, programme, actor, "Soumis à la relecture de l'ANCT")


def withdraw(session: Session, actor: User, programme: Programme) -> None:
    PROGRAMME_WORKFLOW.apply(session, programme, "withdraw", actor)
    record_version(session, programme, actor, "Retiré de la relecture par le financeur")


def publish(session: Session, curator: User, programme: Programme, comment: str = "") -> None:
    comment = comment.strip()
    PROGRAMME_WORKFLOW.apply(session, programme, "publish", curator, guard=lambda: _check_publishable(programme),
                             comment=comment or None)
    programme.review_comment, programme.reviewed_at, programme.reviewed_by_id = comment, utcnow(), curator.id
    record_version(session, programme, curator, "Publié après relecture" + (f" : {comment}" if comment else ""))
    reindex(session, programme)


def send_back(session: Session, curator: User, programme: Programme, comment: str) -> None:
    comment = comment.strip()
    if not comment:
        raise ServiceError("Expliquez ce qu'il faut corriger : le financeur lira ce commentaire.", "comment")
    PROGRAMME_WORKFLOW.apply(session, programme, "send_back", curator, comment=comment)
    programme.review_comment, programme.reviewed_at, programme.reviewed_by_id = comment, utcnow(), curator.id
    record_version(session, programme, curator, f"Renvoyé en brouillon : {comment}")


def close(session: Session, actor: User | None, programme: Programme, *, automatic: bool = False) -> None:
    PROGRAMME_WORKFLOW.apply(session, programme, "close", actor, automatic=automatic or None,
                             closes_on=programme.closes_on.isoformat() if automatic and programme.closes_on else None)
    for call in programme.calls:
        if call.status is CallStatus.published:
            CALL_WORKFLOW.apply(session, call, "close", actor, with_programme=True)
    summary = (f"Clos automatiquement : date de clôture dépassée ({programme.closes_on:%d/%m/%Y})"
               if automatic and programme.closes_on else "Clos")
    record_version(session, programme, actor, summary)
    reindex(session, programme)


def reopen(session: Session, actor: User, programme: Programme) -> None:
    PROGRAMME_WORKFLOW.apply(session, programme, "reopen", actor, guard=lambda: _reopenable(programme))
    record_version(session, programme, actor, "Rouvert")
    reindex(session, programme)


def archive(session: Session, actor: User, programme: Programme) -> None:
    was_public = programme.status.is_public
    PROGRAMME_WORKFLOW.apply(session, programme, "archive", actor, was_public=was_public)
    record_version(session, programme, actor, "Archivé")
    if was_public:
        reindex(session, programme)


def restore(session: Session, actor: User, programme: Programme) -> None:
    PROGRAMME_WORKFLOW.apply(session, programme, "restore", actor)
    record_version(session, programme, actor, "Remis en brouillon")


def apply_action(session: Session, actor: User, roles: Actor, programme: Programme, action: str,
                 comment: str = "") -> str:
    """One entry point for the workflow buttons. Publishing and sending back are ANCT's (``roles``:
    the actor's roles); the rest is the funder's (or ANCT's). Returns a French confirmation."""
    if action in ("publish", "send_back") and not roles.is_curator:
        raise ServiceError("Seule l'équipe de l'ANCT relit et publie les programmes.")
    if action == "submit":
        submit(session, actor, programme)
        return "Programme soumis à la relecture de l'ANCT."
    if action == "withdraw":
        withdraw(session, actor, programme)
        return "Le programme est retiré de la relecture : il est de nouveau un brouillon."
    if action == "publish":
        publish(session, actor, programme, comment)
        return f"« {programme.title} » est publié : la recherche le trouvera d'ici quelques secondes."
    if action == "send_back":
        send_back(session, actor, programme, comment)
        return f"« {programme.title} » est renvoyé en brouillon à son financeur."
    if action == "close":
        close(session, actor, programme)
        return f"« {programme.title} » est clos : il n'est plus proposé aux collectivités."
    if action == "reopen":
        reopen(session, actor, programme)
        return f"« {programme.title} » est rouvert."
    if action == "archive":
        archive(session, actor, programme)
        return f"« {programme.title} » est archivé."
    if action == "restore":
        restore(session, actor, programme)
        return "Le programme est de nouveau un brouillon."
    raise ServiceError("Action inconnue.")


def close_expired(session: Session, on: dt.date | None = None) -> int:
    """The daily job: close published programmes and calls past their closing date, except
    permanent programmes. Idempotent: a second run finds nothing left to close."""
    on = on or today()
    count = 0
    expired = session.scalars(select(Programme).where(
        Programme.status == ProgrammeStatus.published, Programme.recurrence != Recurrence.permanent,
        Programme.closes_on.is_not(None), Programme.closes_on < on).order_by(Programme.id))
    for programme in list(expired):
        close(session, None, programme, automatic=True)
        count += 1
    calls = session.scalars(select(ProgrammeCall).where(
        ProgrammeCall.status == CallStatus.published, ProgrammeCall.closes_on.is_not(None),
        ProgrammeCall.closes_on < on).order_by(ProgrammeCall.id))
    for call in list(calls):
        CALL_WORKFLOW.apply(session, call, "close", None, automatic=True)
        record_version(session, call.programme, None, f"Appel « {call.title} » clos automatiquement "
                                                f"(date de clôture dépassée : {call.closes_on:%d/%m/%Y})")
        reindex_call(session, call)
        count += 1
    session.flush()
    return count


# Calls ----------------------------------------------------------------------------------------

def _call_content(data: dict[str, Any]) -> dict[str, Any]:
    return {name: data[name] for name in ProgrammeCall.CONTENT_FIELDS if name in data}


def create_call(session: Session, actor: User, programme: Programme, data: dict[str, Any]) -> ProgrammeCall:
    if programme.status is ProgrammeStatus.archived:
        raise ServiceError("Ce programme est archivé.")
    call = ProgrammeCall(programme=programme, status=CallStatus.draft, **_call_content(data))
    session.add(call)
    session.flush()
    audit.record(session, E.call_created, actor_id=actor.id, tenant_id=programme.owner_tenant_id, obj=call,
                 programme_id=programme.id, title=call.title)
    record_version(session, programme, actor, f"Appel « {call.title} » créé (brouillon)", public=False)
    return call


def update_call(session: Session, actor: User, call: ProgrammeCall, data: dict[str, Any]) -> list[str]:
    content = _call_content(data)
    changed = [k for k, v in content.items() if getattr(call, k) != v]
    if not changed:
        return []
    for k in changed:
        setattr(call, k, content[k])
    call.updated_at = utcnow()
    audit.record(session, E.call_updated, actor_id=actor.id, tenant_id=call.programme.owner_tenant_id, obj=call,
                 fields=changed)
    record_version(session, call.programme, actor, f"Appel « {call.title} » modifié", public=call.is_public)
    if call.is_public:
        reindex_call(session, call)
    return changed


# What each call action says once done ("Appel « AAP 2026 » ouvert.").
_CALL_WORDS = {"publish": "ouvert", "close": "clos", "reopen": "rouvert", "archive": "archivé",
               "restore": "remis en brouillon"}


def _openable(call: ProgrammeCall) -> None:
    if call.programme.status is not ProgrammeStatus.published:
        raise ServiceError("Publiez d'abord le programme : un appel s'ouvre sur un programme publié.")
    if call.closes_on is not None and call.closes_on < today():
        raise ServiceError("La date de clôture de l'appel est passée : repoussez-la d'abord.")


def apply_call_action(session: Session, actor: User, call: ProgrammeCall, action: str) -> str:
    word = _CALL_WORDS.get(action)
    if word is None:
        raise ServiceError("Action inconnue.")
    was_public = call.is_public
    opens = CALL_WORKFLOW.actions[action].target is CallStatus.published
    CALL_WORKFLOW.apply(session, call, action, actor, guard=(lambda: _openable(call)) if opens else None)
    record_version(session, call.programme, actor, f"Appel « {call.title} » {word}",
                   public=was_public or call.is_public)
    if was_public or call.is_public:
        reindex_call(session, call)
    return f"Appel « {call.title} » {word}."


# Lists ----------------------------------------------------------------------------------------

def programmes_of(session: Session, tenant: Tenant) -> list[Programme]:
    return list(session.scalars(select(Programme).where(Programme.owner_tenant_id == tenant.id)
                                .order_by(Programme.updated_at.desc(), Programme.id.desc())))


# The operators' tables show whether a programme has a perimeter, not its places nor its calls.
DESK_LIST_OPTIONS = (*WITHOUT_PLACES_NOR_CALLS, undefer(Programme.has_perimeter))


def desk_rows(session: Session, ids: list[int]) -> list[Programme]:
    """These programmes, in this order, as the operators' tables show them. Loaded by id once the
    page's ids are known: asked for the whole ordered set, the database would check every
    programme's perimeter before keeping twenty."""
    if not ids:
        return []
    found = {p.id: p for p in session.scalars(select(Programme).where(Programme.id.in_(ids))
                                              .options(*DESK_LIST_OPTIONS))}
    return [found[i] for i in ids if i in found]


def review_queue(session: Session, limit: int = 20) -> tuple[list[Programme], int]:
    """The first programmes waiting for ANCT, oldest first (a fair queue), and how many wait."""
    waiting = Programme.status == ProgrammeStatus.in_review
    total = session.scalar(select(func.count(Programme.id)).where(waiting)) or 0
    ids = list(session.scalars(select(Programme.id).where(waiting).order_by(Programme.submitted_at, Programme.id)
                               .limit(limit)))
    return desk_rows(session, ids), total


def all_programmes(session: Session, status: ProgrammeStatus | None = None) -> list[Programme]:
    stmt = select(Programme).order_by(Programme.updated_at.desc(), Programme.id.desc())
    if status is not None:
        stmt = stmt.where(Programme.status == status)
    return list(session.scalars(stmt))


@dataclass
class ProgrammeFilters:
    theme: str | None = None
    funder_level: str | None = None
    aid_type: str | None = None
    beneficiary: str | None = None
    state_family: str | None = None
    region: str | None = None
    departement: str | None = None
    ids: list[int] | None = None  # already computed (eligibility for a commune or an EPCI)
    ranked: list[int] | None = None  # the programmes matching the words, best first (search.pipeline)


def published_programmes(session: Session, filters: ProgrammeFilters, page: int = 1,
                         per_page: int = 20, *, lean: bool = False) -> tuple[list[Programme], int]:
    """``lean``: without their territory rows and calls (a list of cards shows neither)."""
    options = WITHOUT_PLACES_NOR_CALLS if lean else ()
    stmt = select(Programme).where(Programme.status == ProgrammeStatus.published)
    if filters.ids is not None:
        stmt = stmt.where(Programme.id.in_(filters.ids))
    if filters.theme:
        stmt = stmt.where(json_list_contains(Programme.themes, filters.theme))
    if filters.aid_type:
        stmt = stmt.where(json_list_contains(Programme.aid_types, filters.aid_type))
    if filters.beneficiary:
        stmt = stmt.where(json_list_contains(Programme.beneficiary_kinds, filters.beneficiary))
    if filters.funder_level:
        stmt = stmt.where(Programme.funder_level == FunderLevel(filters.funder_level))
    if filters.state_family:
        stmt = stmt.where(Programme.state_family == filters.state_family)
    places: list[tuple[str, str]] = []
    if filters.departement:
        departement = session.get(Departement, filters.departement)
        places += [("departement", filters.departement)] + ([("region", departement.region_code)] if departement else [])
    if filters.region:
        places += [("region", filters.region)]
    if places:
        # "Includes the whole région / département": France, the place itself (or the région of
        # the département). Exclusions may cut parts of it: the commune filter is the exact one.
        wanted = [("france", FRANCE_CODE)] + places
        stmt = stmt.where(exists().where(
            ProgrammeScope.programme_id == Programme.id, ProgrammeScope.include.is_(True),
            or_(*[(ProgrammeScope.level == level) & (ProgrammeScope.code == code) for level, code in wanted])))
    if filters.ranked is not None:
        # The words' order: the filters say which of the ranked programmes stay, the rank their order.
        # Words alone keep the published ones, which the eligibility index already knows.
        narrowed = any((filters.ids is not None, filters.theme, filters.aid_type, filters.beneficiary,
                        filters.funder_level, filters.state_family, places))
        return page_in_order(session, stmt, Programme, filters.ranked, page, per_page, options,
                             kept=None if narrowed else eligibility.published_ids(session))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Programme.title, Programme.id).offset((page - 1) * per_page).limit(per_page)
                           .options(*options))
    return list(rows), total


# Search fallback ------------------------------------------------------------------------------

def search_published(session: Session, text: str, limit: int) -> list[Programme]:
    """Published programmes whose title or summary holds every word: the search package's
    fallback when its index is unavailable."""
    words = [w for w in re.split(r"\s+", text.strip()) if len(w) > 1][:6]
    stmt = select(Programme).where(Programme.status == ProgrammeStatus.published)
    for word in words:
        pattern = f"%{word.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(or_(Programme.title.ilike(pattern), Programme.summary.ilike(pattern)))
    return list(session.scalars(stmt.order_by(Programme.published_at.desc()).limit(limit)))

