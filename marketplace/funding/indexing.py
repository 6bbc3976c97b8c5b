"""The guichet's feed to the search index (contract: search/documents.py): programmes and calls.

Providers read the database, the source of truth. A published programme gives its document; a
draft, one in review, a closed or archived one gives None and the index drops it (closed
programmes keep their public page, but search is for what can still be applied to). A call is
indexed while it is open and its programme published. The services call
``search.indexing.index_later`` on every public change.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.core.rendering import plain_text
from marketplace.funding.models import (
    FUNDER_LEVELS,
    SCOPE_LEVELS,
    STATE_FAMILIES,
    CallStatus,
    Programme,
    ProgrammeCall,
    ProgrammeStatus,
)
from marketplace.funding.services import search_published
from search.documents import Document, register

# The public page's path (marketplace.funding.views.programme): jobs build documents without a
# request, so the path is written here once; a test checks it against the route.
PROGRAMME_PATH = "/financements/{id}"
CALL_PATH = "/financements/{programme_id}#appel-{id}"


def _programme_words(programme: Programme) -> list[str]:
    words = list(programme.funders or [])
    words += [programme.instructing_body, FUNDER_LEVELS.get(programme.funder_level.value, ""),
              STATE_FAMILIES.get(programme.state_family or "", "")]
    words += programme.aid_type_labels + programme.beneficiary_labels
    # The territory's levels in words ("région", "label"): codes are for the API, not for words.
    words += sorted({SCOPE_LEVELS[s.level] for s in programme.includes})
    return [w for w in words if w]


def load_programme(session: Session, programme_id: int) -> Document | None:
    programme = session.get(Programme, programme_id)
    if programme is None or programme.status is not ProgrammeStatus.published:
        return None
    return programme_document(programme)


def programme_document(programme: Programme) -> Document:
    return {
        "id": f"programme:{programme.id}",
        "type": "programme",
        "object_id": programme.id,
        "title": programme.title,
        "summary": programme.summary,
        "body": plain_text(programme.description),
        "extra": " ".join(_programme_words(programme)),
        "domains": list(programme.themes or []),
        "published_at": programme.published_at,
        "owner": ", ".join(programme.funders or []) or programme.owner.name,
        "url": PROGRAMME_PATH.format(id=programme.id),
    }


def all_programme_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Programme.id).where(Programme.status == ProgrammeStatus.published)
                                .order_by(Programme.id)))


def programme_fallback(session: Session, text: str, limit: int) -> list[Document]:
    return [programme_document(p) for p in search_published(session, text, limit)]


def load_call(session: Session, call_id: int) -> Document | None:
    call = session.get(ProgrammeCall, call_id)
    if call is None or call.status is not CallStatus.published or call.programme.status is not ProgrammeStatus.published:
        return None
    programme = call.programme
    closing = f"Clôture le {call.closes_on:%d/%m/%Y}." if call.closes_on else ""
    return {
        "id": f"call:{call.id}",
        "type": "call",
        "object_id": call.id,
        "title": call.title,
        "summary": f"{call.kind_label} du programme « {programme.title} ». {closing}".strip(),
        "body": plain_text(call.description),
        "extra": " ".join([programme.title] + _programme_words(programme)),
        "domains": list(programme.themes or []),
        "published_at": call.published_at,
        "owner": ", ".join(programme.funders or []) or programme.owner.name,
        "url": CALL_PATH.format(programme_id=programme.id, id=call.id),
    }


def all_call_ids(session: Session) -> list[int]:
    return list(session.scalars(select(ProgrammeCall.id).join(Programme)
                                .where(ProgrammeCall.status == CallStatus.published,
                                       Programme.status == ProgrammeStatus.published).order_by(ProgrammeCall.id)))


register("programme", load_programme, all_programme_ids, fallback=programme_fallback)
register("call", load_call, all_call_ids)
