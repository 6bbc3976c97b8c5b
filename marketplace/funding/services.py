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

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, cast, delete, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.core import audit, money, taxonomy
from marketplace.core.clock import today, utcnow
from marketplace.core.errors import NotFound, ServiceError
from marketplace.core.text import fold, format_int_fr, slugify
from marketplace.funding import eligibility
from marketplace.funding.models import (
    AID_TYPES,
    BENEFICIARY_KINDS,
    CALL_WORKFLOW,
    CONTENT_FIELDS,
    EPCI_KINDS,
    EXPENSE_KINDS,
    FIELD_LABELS,
    FRANCE_CODE,
    FUNDER_LEVELS,
    PROGRAMME_WORKFLOW,
    PROJECT_STAGES,
    SCOPE_LEVELS,
    STATE_FAMILIES,
    CallStatus,
    FunderLevel,
    Label,
    LabelCommune,
    Programme,
    ProgrammeCall,
    ProgrammeScope,
    ProgrammeStatus,
    ProgrammeVersion,
    Recurrence,
)
from marketplace.funding.models import (
    FundingEvent as E,
)
from search.indexing import index_later, indexing_skipped, without_indexing  # noqa: F401 (re-exported)
from tenants.models import Membership, Role, Tenant, TenantKind, User
from tenants.territories.models import Commune, Departement, Epci, Region


def _reindex(session: Session, programme: Programme) -> None:
    """The programme's public documents (and its calls') changed: re-index after the commit."""
    if indexing_skipped(session):
        return
    index_later(session, "programme", programme.id)
    for call in programme.calls:
        index_later(session, "call", call.id)


# Who is looking -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Viewer:
    tenant_id: int | None = None
    is_funder: bool = False  # member of an active operator tenant
    is_curator: bool = False  # ANCT staff

    @classmethod
    def anonymous(cls) -> Viewer:
        return cls()


def is_curator(session: Session, user: User | None, membership: Membership | None) -> bool:
    """ANCT staff: platform admins, and the members of an operator tenant a platform admin belongs to.

    Operators are of one kind (``TenantKind.operator``) whether they run the platform (ANCT) or only
    fund (a Région, the Banque des Territoires); who runs it is already recorded — the platform
    admins and their memberships — so no second flag can drift from it."""
    if user is None:
        return False
    if user.is_platform_admin:
        return True
    if membership is None or membership.tenant.kind is not TenantKind.operator or not membership.tenant.is_active \
            or not membership.role.at_least(Role.member):
        return False
    return bool(session.scalar(select(exists().where(Membership.tenant_id == membership.tenant_id,
                                                     Membership.user_id == User.id, User.is_platform_admin))))


def viewer_for(session: Session, user: User | None, membership: Membership | None) -> Viewer:
    if user is None or not getattr(user, "is_authenticated", False):
        return Viewer.anonymous()
    is_funder = membership is not None and membership.tenant.kind is TenantKind.operator \
        and membership.tenant.is_active and membership.role.at_least(Role.member)
    return Viewer(tenant_id=membership.tenant_id if membership else None, is_funder=is_funder,
                  is_curator=is_curator(session, user, membership))


def may_view(programme: Programme, viewer: Viewer) -> bool:
    return programme.status.is_public or viewer.is_curator or viewer.tenant_id == programme.owner_tenant_id


def may_edit(programme: Programme, viewer: Viewer) -> bool:
    return viewer.is_curator or (viewer.is_funder and viewer.tenant_id == programme.owner_tenant_id)


def get_visible_programme(session: Session, programme_id: int, viewer: Viewer) -> Programme:
    """Published and closed programmes for anyone; the others for their owner and ANCT only."""
    programme = session.get(Programme, programme_id)
    if programme is None or not may_view(programme, viewer):
        raise NotFound()
    return programme


def get_editable_programme(session: Session, programme_id: int, viewer: Viewer) -> Programme:
    programme = session.get(Programme, programme_id)
    if programme is None or not may_edit(programme, viewer):
        raise NotFound()
    return programme


def get_editable_call(session: Session, call_id: int, viewer: Viewer) -> ProgrammeCall:
    call = session.get(ProgrammeCall, call_id)
    if call is None or not may_edit(call.programme, viewer):
        raise NotFound()
    return call


# Versions -------------------------------------------------------------------------------------

def _json(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if hasattr(value, "value"):  # enums
        return value.value
    if isinstance(value, list):
        return list(value)
    return value


def snapshot(programme: Programme) -> dict[str, Any]:
    data = {name: _json(getattr(programme, name)) for name in CONTENT_FIELDS}
    data["status"] = programme.status.value
    data["scope"] = sorted(([("+" if s.include else "-"), s.level, s.code] for s in programme.scope),
                           key=lambda r: (r[0] != "+", r[1], r[2]))
    data["calls"] = [{"id": c.id, "status": c.status.value, **{k: _json(getattr(c, k)) for k in c.CONTENT_FIELDS}}
                     for c in sorted(programme.calls, key=lambda c: c.id or 0)]
    return data


def _version(session: Session, programme: Programme, actor: User | None, summary: str) -> ProgrammeVersion:
    """Record the programme as it now is. Every change passes here, so this is also where the
    eligibility index learns that it must be rebuilt (same transaction as the change)."""
    session.flush()
    eligibility.touch(session)
    session.refresh(programme, ["scope", "calls"])
    programme.version = (programme.version or 0) + 1
    version = ProgrammeVersion(programme_id=programme.id, number=programme.version, snapshot=snapshot(programme),
                               actor_id=actor.id if actor else None, summary=summary[:500])
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


def _in_words(key: str, value: Any) -> str | None:
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


def history(session: Session, programme: Programme) -> list[VersionView]:
    """Versions, newest first, each with what changed since the previous one."""
    versions = list(session.scalars(select(ProgrammeVersion).where(ProgrammeVersion.programme_id == programme.id)
                                    .order_by(ProgrammeVersion.number)))
    views, previous = [], None
    for version in versions:
        changes = []
        if previous is not None:
            for key, after in version.snapshot.items():
                before = previous.snapshot.get(key)
                if before != after:
                    changes.append((FIELD_LABELS.get(key, key), _in_words(key, before), _in_words(key, after)))
        views.append(VersionView(version, changes))
        previous = version
    return list(reversed(views))


# Writing a programme --------------------------------------------------------------------------

def _content(data: dict[str, Any]) -> dict[str, Any]:
    # Only the reviewed content fields: never Model(**request_data).
    content = {name: data[name] for name in CONTENT_FIELDS if name in data}
    if "funder_level" in content:
        content["funder_level"] = FunderLevel(content["funder_level"])
    if "recurrence" in content:
        content["recurrence"] = Recurrence(content["recurrence"])
    return content


def _check_owner(tenant: Tenant) -> None:
    if tenant.kind is not TenantKind.operator or not tenant.is_active:
        raise ServiceError("Seuls les financeurs et l'ANCT publient des programmes de financement.")


def create_programme(session: Session, actor: User, tenant: Tenant, data: dict[str, Any], *,
                     origin: str | None = None, source_id: str | None = None) -> Programme:
    """``origin`` says where the content comes from when it is not typed in ("Import Aides-territoires,
    ligne 12"): it ends the version's summary and goes into the audit event."""
    _check_owner(tenant)
    programme = Programme(owner_tenant_id=tenant.id, status=ProgrammeStatus.draft, source_id=source_id)
    programme.apply_content(_content(data))
    session.add(programme)
    session.flush()
    audit.record(session, E.programme_created, actor_id=actor.id, tenant_id=tenant.id, obj=programme,
                 title=programme.title, origin=origin)
    _version(session, programme, actor, "Création du programme" + (f" ({origin})" if origin else ""))
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
    _version(session, programme, actor, "Modification : " + ", ".join(eligibility.lower_first(label) for label in labels)
             + (f" ({origin})" if origin else ""))
    if programme.status.is_public:
        _reindex(session, programme)
    return labels


# The territory ----------------------------------------------------------------------------------

_CODE_SPLIT = re.compile(r"[\s,;]+")


def resolve_places(session: Session, level: str, value: str) -> list[tuple[str, str]]:
    """What an operator typed → (code, name) of registry places. Codes and names both work:
    "24" or "Centre-Val de Loire"; "37" or "Indre-et-Loire"; a SIREN or an EPCI's name; INSEE codes
    (several, separated by commas or spaces) or one commune's name; a label's name or identifier."""
    value = value.strip()
    if level == "france":
        return [(FRANCE_CODE, "France")]
    if not value:
        raise ServiceError("Indiquez le territoire : un code ou un nom.", "value")
    if level == "region":
        return [_one(session, Region.code, Region.name, value, "région")]
    if level == "departement":
        code = value.upper() if len(value) <= 3 else value  # "2a" → "2A"; names keep their case
        return [_one(session, Departement.code, Departement.name, code, "département")]
    if level == "label":
        label = session.scalar(select(Label).where(or_(Label.slug == value, Label.slug == slugify(value))))
        if label is None:
            label = next((row for row in session.scalars(select(Label)) if fold(row.name) == fold(value)), None)
        if label is None:
            raise ServiceError(f"Aucun label ne s'appelle « {value[:60]} ». Créez-le d'abord dans « Labels ».", "value")
        return [(label.slug, label.name)]
    if level == "epci":
        if value.isdigit():
            epci = session.get(Epci, value)
            if epci is None:
                raise ServiceError(f"Aucun EPCI n'a le SIREN « {value[:20]} ».", "value")
            return [(epci.siren, epci.name)]
        matches = list(session.scalars(select(Epci).where(Epci.search_key == fold(value))))
        if len(matches) != 1:
            raise ServiceError(f"{'Plusieurs' if matches else 'Aucune'} intercommunalité{'s' if matches else ''} "
                               f"ne porte{'nt' if matches else ''} ce nom : donnez son SIREN.", "value")
        return [(matches[0].siren, matches[0].name)]
    # Communes: a list of codes, or one name.
    parts = [p for p in _CODE_SPLIT.split(value) if p]
    if all(_looks_like_insee(p) for p in parts):
        codes = [_normalise_insee(p) for p in parts]
        found = dict(session.execute(select(Commune.insee, Commune.name).where(Commune.insee.in_(codes))).all())
        unknown = [c for c in codes if c not in found]
        if unknown:
            raise ServiceError("Codes INSEE inconnus : " + ", ".join(unknown[:10]) +
                               (f" et {len(unknown) - 10} autres" if len(unknown) > 10 else "") + ".", "value")
        return [(c, found[c]) for c in dict.fromkeys(codes)]
    matches = list(session.scalars(select(Commune).where(Commune.search_key == fold(value))
                                   .order_by(Commune.population.desc())))
    if len(matches) != 1:
        if matches:
            listed = ", ".join(f"{c.name} ({c.departement_code}) : {c.insee}" for c in matches[:5])
            raise ServiceError(f"{len(matches)} communes portent ce nom, donnez le code INSEE : {listed}.", "value")
        raise ServiceError(f"Aucune commune ne s'appelle « {value[:60]} ».", "value")
    return [(matches[0].insee, matches[0].name)]


def _one(session, code_col, name_col, value, what) -> tuple[str, str]:
    """A région or département by code, else by name (accents and case aside)."""
    row = session.execute(select(code_col, name_col).where(code_col == value)).first()
    if row is None:
        wanted = fold(value)
        row = next((r for r in session.execute(select(code_col, name_col)) if fold(r[1]) == wanted), None)
    if row is None:
        raise ServiceError(f"Aucun{'e' if what == 'région' else ''} {what} ne correspond à « {value[:60]} ».", "value")
    return row[0], row[1]


_INSEE = re.compile(r"^(\d{4,5}|2[AaBb]\d{3})$")


def _looks_like_insee(text: str) -> bool:
    return bool(_INSEE.match(text))


def _normalise_insee(text: str) -> str:
    # A spreadsheet reads "01053" as the number 1053: put the leading zero back.
    text = text.upper()
    return text.zfill(5) if text.isdigit() else text


def add_scope(session: Session, actor: User, programme: Programme, *, include: bool, level: str,
              value: str = "") -> list[ProgrammeScope]:
    if level not in SCOPE_LEVELS:
        raise ServiceError("Niveau de territoire inconnu.", "level")
    if programme.status is ProgrammeStatus.archived:
        raise ServiceError("Ce programme est archivé : remettez-le en brouillon pour le modifier.")
    places = resolve_places(session, level, value)
    existing = {(s.level, s.code): s for s in programme.scope}
    clashes = [name for code, name in places if (level, code) in existing]
    if clashes:
        raise ServiceError(f"Déjà dans le périmètre : {', '.join(clashes[:5])}. Retirez la ligne existante pour "
                           "changer son sens.", "value")
    rows = [ProgrammeScope(programme=programme, include=include, level=level, code=code) for code, _ in places]
    session.add_all(rows)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # the same place added twice at once
        raise ServiceError("Ce territoire est déjà dans le périmètre.", "value") from None
    summary = f"Périmètre : {'ajout' if include else 'exclusion'} {_places_phrase(level, [n for _, n in places])}"
    audit.record(session, E.programme_scope_changed, actor_id=actor.id, tenant_id=programme.owner_tenant_id,
                 obj=programme, added=[[("+" if include else "-"), level, code] for code, _ in places[:200]])
    _version(session, programme, actor, summary)
    if programme.status.is_public:
        _reindex(session, programme)
    return rows


# "de" + article + noun, as a version summary reads it: "ajout de la région…", "exclusion du département…".
_OF_ONE = {"region": "de la région", "departement": "du département", "epci": "de l'intercommunalité",
           "commune": "de la commune", "label": "du label"}
_OF_SEVERAL = {"region": "des régions", "departement": "des départements", "epci": "des intercommunalités",
               "commune": "des communes", "label": "des labels"}


def _places_phrase(level: str, names: list[str]) -> str:
    """'de la région Centre-Val de Loire', 'du département Indre', 'des communes Issoudun, Gien'."""
    if level == "france":
        return "de la France entière"
    if len(names) == 1:
        return f"{_OF_ONE[level]} {names[0]}"
    listed = ", ".join(names[:5]) + (f" et {len(names) - 5} autres" if len(names) > 5 else "")
    return f"{_OF_SEVERAL[level]} {listed}"


def remove_scope(session: Session, actor: User, programme: Programme, scope_id: int) -> None:
    row = next((s for s in programme.scope if s.id == scope_id), None)
    if row is None:
        raise NotFound()
    if programme.status is ProgrammeStatus.archived:
        raise ServiceError("Ce programme est archivé : remettez-le en brouillon pour le modifier.")
    programme.scope.remove(row)
    audit.record(session, E.programme_scope_changed, actor_id=actor.id, tenant_id=programme.owner_tenant_id,
                 obj=programme, removed=[("+" if row.include else "-"), row.level, row.code])
    name = eligibility.scope_names(session, [row]).get((row.level, row.code), row.code)
    _version(session, programme, actor, f"Périmètre : retrait {_places_phrase(row.level, [name])}")
    if programme.status.is_public:
        _reindex(session, programme)


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
    _version(session, programme, actor, "Soumis à la relecture de l'ANCT")


def withdraw(session: Session, actor: User, programme: Programme) -> None:
    PROGRAMME_WORKFLOW.apply(session, programme, "withdraw", actor)
    _version(session, programme, actor, "Retiré de la relecture par le financeur")


def publish(session: Session, curator: User, programme: Programme, comment: str = "") -> None:
    comment = comment.strip()
    PROGRAMME_WORKFLOW.apply(session, programme, "publish", curator, guard=lambda: _check_publishable(programme),
                             comment=comment or None)
    programme.review_comment, programme.reviewed_at, programme.reviewed_by_id = comment, utcnow(), curator.id
    _version(session, programme, curator, "Publié après relecture" + (f" : {comment}" if comment else ""))
    _reindex(session, programme)


def send_back(session: Session, curator: User, programme: Programme, comment: str) -> None:
    comment = comment.strip()
    if not comment:
        raise ServiceError("Expliquez ce qu'il faut corriger : le financeur lira ce commentaire.", "comment")
    PROGRAMME_WORKFLOW.apply(session, programme, "send_back", curator, comment=comment)
    programme.review_comment, programme.reviewed_at, programme.reviewed_by_id = comment, utcnow(), curator.id
    _version(session, programme, curator, f"Renvoyé en brouillon : {comment}")


def close(session: Session, actor: User | None, programme: Programme, *, automatic: bool = False) -> None:
    PROGRAMME_WORKFLOW.apply(session, programme, "close", actor, automatic=automatic or None,
                             closes_on=programme.closes_on.isoformat() if automatic and programme.closes_on else None)
    for call in programme.calls:
        if call.status is CallStatus.published:
            CALL_WORKFLOW.apply(session, call, "close", actor, with_programme=True)
    summary = (f"Clos automatiquement : date de clôture dépassée ({programme.closes_on:%d/%m/%Y})"
               if automatic and programme.closes_on else "Clos")
    _version(session, programme, actor, summary)
    _reindex(session, programme)


def reopen(session: Session, actor: User, programme: Programme) -> None:
    PROGRAMME_WORKFLOW.apply(session, programme, "reopen", actor, guard=lambda: _reopenable(programme))
    _version(session, programme, actor, "Rouvert")
    _reindex(session, programme)


def archive(session: Session, actor: User, programme: Programme) -> None:
    was_public = programme.status.is_public
    PROGRAMME_WORKFLOW.apply(session, programme, "archive", actor, was_public=was_public)
    _version(session, programme, actor, "Archivé")
    if was_public:
        _reindex(session, programme)


def restore(session: Session, actor: User, programme: Programme) -> None:
    PROGRAMME_WORKFLOW.apply(session, programme, "restore", actor)
    _version(session, programme, actor, "Remis en brouillon")


def apply_action(session: Session, actor: User, viewer: Viewer, programme: Programme, action: str,
                 comment: str = "") -> str:
    """One entry point for the workflow buttons. Publishing and sending back are ANCT's; the rest
    is the funder's (or ANCT's). Returns a French confirmation."""
    if action in ("publish", "send_back") and not viewer.is_curator:
        raise ServiceError("Seule l'équipe de l'ANCT relit et publie les programmes.")
    if action == "submit":
        submit(session, actor, programme)
        return "Programme soumis à la relecture de l'ANCT."
    if action == "withdraw":
        withdraw(session, actor, programme)
        return "Le programme est retiré de la relecture : il est de nouveau un brouillon."
    if action == "publish":
        publish(session, actor, programme, comment)
        return f"« {programme.title} » est publié."
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
        _version(session, call.programme, None, f"Appel « {call.title} » clos automatiquement "
                                                f"(date de clôture dépassée : {call.closes_on:%d/%m/%Y})")
        if not indexing_skipped(session):
            index_later(session, "call", call.id)
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
    _version(session, programme, actor, f"Appel « {call.title} » créé (brouillon)")
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
    _version(session, call.programme, actor, f"Appel « {call.title} » modifié")
    if call.is_public and not indexing_skipped(session):
        index_later(session, "call", call.id)
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
    _version(session, call.programme, actor, f"Appel « {call.title} » {word}")
    if (was_public or call.is_public) and not indexing_skipped(session):
        index_later(session, "call", call.id)
    return f"Appel « {call.title} » {word}."


# Lists ----------------------------------------------------------------------------------------

def programmes_of(session: Session, tenant: Tenant) -> list[Programme]:
    return list(session.scalars(select(Programme).where(Programme.owner_tenant_id == tenant.id)
                                .order_by(Programme.updated_at.desc(), Programme.id.desc())))


def review_queue(session: Session) -> list[Programme]:
    """Programmes waiting for ANCT, oldest first (a fair queue)."""
    return list(session.scalars(select(Programme).where(Programme.status == ProgrammeStatus.in_review)
                                .order_by(Programme.submitted_at, Programme.id)))


def all_programmes(session: Session, status: ProgrammeStatus | None = None) -> list[Programme]:
    stmt = select(Programme).order_by(Programme.updated_at.desc(), Programme.id.desc())
    if status is not None:
        stmt = stmt.where(Programme.status == status)
    return list(session.scalars(stmt))


def _json_contains(column, slug: str):
    # JSON lists of fixed slugs ([a-z_-] only): matching the quoted slug in the JSON text is exact,
    # and portable between SQLite and PostgreSQL (the annuaire's domains filter does the same).
    return cast(column, String).like(f'%"{slug}"%')


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


def published_programmes(session: Session, filters: ProgrammeFilters, page: int = 1,
                         per_page: int = 20) -> tuple[list[Programme], int]:
    stmt = select(Programme).where(Programme.status == ProgrammeStatus.published)
    if filters.ids is not None:
        stmt = stmt.where(Programme.id.in_(filters.ids))
    if filters.theme:
        stmt = stmt.where(_json_contains(Programme.themes, filters.theme))
    if filters.aid_type:
        stmt = stmt.where(_json_contains(Programme.aid_types, filters.aid_type))
    if filters.beneficiary:
        stmt = stmt.where(_json_contains(Programme.beneficiary_kinds, filters.beneficiary))
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
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Programme.title, Programme.id).offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


# Labels -----------------------------------------------------------------------------------------

def labels(session: Session) -> list[tuple[Label, int]]:
    counts = dict(session.execute(select(LabelCommune.label_id, func.count()).group_by(LabelCommune.label_id)).all())
    return [(label, counts.get(label.id, 0)) for label in session.scalars(select(Label).order_by(Label.name))]


def get_editable_label(session: Session, label_id: int, viewer: Viewer) -> Label:
    label = session.get(Label, label_id)
    if label is None or not (viewer.is_curator or (viewer.is_funder and viewer.tenant_id == label.owner_tenant_id)):
        raise NotFound()
    return label


def label_commune_count(session: Session, label: Label) -> int:
    return session.scalar(select(func.count()).select_from(LabelCommune).where(LabelCommune.label_id == label.id)) or 0


def label_communes(session: Session, label: Label, limit: int | None = None) -> list[Commune]:
    stmt = (select(Commune).join(LabelCommune, LabelCommune.commune_insee == Commune.insee)
            .where(LabelCommune.label_id == label.id).order_by(Commune.search_key, Commune.insee))
    return list(session.scalars(stmt.limit(limit) if limit else stmt))


def create_label(session: Session, actor: User, tenant: Tenant, data: dict[str, Any]) -> Label:
    _check_owner(tenant)
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


def parse_insee_file(session: Session, text: str) -> UploadReport:
    """Read INSEE codes from an uploaded CSV: one column of codes, or a column named like
    « code_insee » / « insee » / « codgeo » among others; ';' or ',' separators; a header line is
    optional. Line numbers count from 1, header included, as a spreadsheet shows them."""
    report = UploadReport()
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    if not lines:
        return report
    dialect_delimiter = ";" if lines[0].count(";") >= lines[0].count(",") else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=dialect_delimiter))
    column, start = 0, 0
    if rows and not any(_looks_like_insee(cell.strip()) for cell in rows[0]):
        header = [fold(cell).replace(" ", "_") for cell in rows[0]]
        for i, name in enumerate(header):
            if name.replace("_", " ") in _HEADER_NAMES or name in _HEADER_NAMES:
                column = i
                break
        start = 1
    seen: set[str] = set()
    candidates: list[tuple[int, str]] = []
    for number, row in enumerate(rows[start:], start=start + 1):
        cell = row[column].strip() if len(row) > column else ""
        if not cell:
            continue
        if not _looks_like_insee(cell):
            report.invalid.append((number, cell[:40]))
            continue
        code = _normalise_insee(cell)
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


def upload_label_communes(session: Session, actor: User, label: Label, text: str) -> UploadReport:
    """Replace the label's communes by the recognised codes of the file. Unknown and malformed
    codes are reported with their line numbers and left out (a list from another year names
    communes since merged); an upload with no recognised code changes nothing."""
    report = parse_insee_file(session, text)
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

