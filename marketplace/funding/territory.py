"""A programme's territory: places typed by codes or names, included or excluded, each change
versioned and audited."""
from __future__ import annotations

import re

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.core import audit
from marketplace.core.errors import NotFound, ServiceError
from marketplace.core.text import fold, slugify
from marketplace.funding import eligibility
from marketplace.funding.models import (
    FRANCE_CODE,
    SCOPE_LEVELS,
    Label,
    Programme,
    ProgrammeScope,
    ProgrammeStatus,
)
from marketplace.funding.models import (
    FundingEvent as E,
)
from marketplace.funding.versions import record_version, reindex
from tenants.models import User
from tenants.territories.models import Commune, Departement, Epci, Region

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
    if all(looks_like_insee(p) for p in parts):
        codes = [normalise_insee(p) for p in parts]
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


def looks_like_insee(text: str) -> bool:
    return bool(_INSEE.match(text))


def normalise_insee(text: str) -> str:
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
    record_version(session, programme, actor, summary)
    if programme.status.is_public:
        reindex(session, programme)
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
    record_version(session, programme, actor, f"Périmètre : retrait {_places_phrase(row.level, [name])}")
    if programme.status.is_public:
        reindex(session, programme)
