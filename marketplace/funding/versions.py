"""What every change of a programme leaves behind: a numbered ``ProgrammeVersion`` (who, when, the
whole snapshot, a summary), the eligibility index told to rebuild, and the search index fed after
the commit; and the history those versions make, in words."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.core import money, taxonomy
from marketplace.core.signals import programme_changed
from marketplace.core.text import format_int_fr
from marketplace.funding import eligibility
from marketplace.funding.models import (
    AID_TYPES,
    BENEFICIARY_KINDS,
    CONTENT_FIELDS,
    EPCI_KINDS,
    EXPENSE_KINDS,
    FIELD_LABELS,
    FUNDER_LEVELS,
    PROJECT_STAGES,
    STATE_FAMILIES,
    Programme,
    ProgrammeStatus,
    ProgrammeVersion,
    Recurrence,
)
from search.indexing import index_later, indexing_skipped
from tenants.models import User


def reindex_call(session: Session, call) -> None:
    """A call's public document changed: re-index it after the commit, and say so (matching)."""
    if not indexing_skipped(session):
        index_later(session, "call", call.id)
        programme_changed.send(session, programme_id=call.programme_id)


def reindex(session: Session, programme: Programme) -> None:
    """The programme's public documents (and its calls') changed: re-index after the commit, and
    say so (the matching jobs look at it again)."""
    if indexing_skipped(session):
        return
    index_later(session, "programme", programme.id)
    for call in programme.calls:
        index_later(session, "call", call.id)
    programme_changed.send(session, programme_id=programme.id)


# Versions -------------------------------------------------------------------------------------

def json_value(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if hasattr(value, "value"):  # enums
        return value.value
    if isinstance(value, list):
        return list(value)
    return value


def snapshot(programme: Programme) -> dict[str, Any]:
    data = {name: json_value(getattr(programme, name)) for name in CONTENT_FIELDS}
    data["status"] = programme.status.value
    data["scope"] = sorted(([("+" if s.include else "-"), s.level, s.code] for s in programme.scope),
                           key=lambda r: (r[0] != "+", r[1], r[2]))
    data["calls"] = [{"id": c.id, "status": c.status.value, **{k: json_value(getattr(c, k)) for k in c.CONTENT_FIELDS}}
                     for c in sorted(programme.calls, key=lambda c: c.id or 0)]
    return data


def record_version(session: Session, programme: Programme, actor: User | None, summary: str, *,
                   public: bool = True) -> ProgrammeVersion:
    """Record the programme as it now is. Every change passes here, so this is also where the
    eligibility index learns that it must be rebuilt (same transaction as the change).
    ``public=False``: the change concerns only what the public does not see (a draft call), so the
    public history leaves it out; its funder and ANCT see it."""
    session.flush()
    eligibility.touch(session)
    session.refresh(programme, ["scope", "calls"])
    programme.version = (programme.version or 0) + 1
    version = ProgrammeVersion(programme_id=programme.id, number=programme.version, snapshot=snapshot(programme),
                               actor_id=actor.id if actor else None, summary=summary[:500], public=public)
    session.add(version)
    session.flush()
    return version


@dataclass
class VersionView:
    version: ProgrammeVersion
    changes: list[tuple[str, str | None, str | None]]  # (label, before, after) in words


_VOCABULARIES = {"aid_types": AID_TYPES, "themes": taxonomy.DOMAINS, "beneficiary_kinds": BENEFICIARY_KINDS,
                 "epci_kinds": EPCI_KINDS, "expense_kinds": EXPENSE_KINDS, "project_stages": PROJECT_STAGES,
                 "funder_level": FUNDER_LEVELS, "state_family": STATE_FAMILIES}


def value_in_words(key: str, value: Any) -> str | None:
    """A snapshot value as the history shows it; None for what the summary already says."""
    if key in ("scope", "calls", "description", "how_to_apply", "contacts", "curation_note"):
        return None
    if value is None or value == [] or value == "":
        return ""
    if key.endswith("_cents"):
        return money.euros_input(value) + " €"
    if key.endswith("_bp"):
        return money.rate_input(value) + " %"
    if key == "status":
        return ProgrammeStatus(value).label
    if key == "recurrence":
        return Recurrence(value).label
    vocabulary = _VOCABULARIES.get(key)
    if isinstance(value, list):
        return ", ".join(vocabulary.get(v, v) if vocabulary else str(v) for v in value)
    if vocabulary:
        return vocabulary.get(value, value)
    if isinstance(value, int):
        return format_int_fr(value)
    text = str(value)
    if len(text) == 10 and text[4] == "-" and text[7] == "-":  # an ISO date
        return f"{text[8:10]}/{text[5:7]}/{text[:4]}"
    return text if len(text) <= 120 else text[:117] + "…"


def history(session: Session, programme: Programme, *, internal: bool = False) -> list[VersionView]:
    """Versions, newest first, each with what changed since the previous one shown. ``internal``:
    for the programme's editors, with the changes of what the public does not see (draft calls)."""
    stmt = select(ProgrammeVersion).where(ProgrammeVersion.programme_id == programme.id)
    if not internal:
        stmt = stmt.where(ProgrammeVersion.public.is_(True))
    versions = list(session.scalars(stmt.order_by(ProgrammeVersion.number)))
    views, previous = [], None
    for version in versions:
        changes = []
        if previous is not None:
            for key, after in version.snapshot.items():
                before = previous.snapshot.get(key)
                if before != after and (internal or key != "calls"):
                    changes.append((FIELD_LABELS.get(key, key), value_in_words(key, before), value_in_words(key, after)))
        views.append(VersionView(version, changes))
        previous = version
    return list(reversed(views))
