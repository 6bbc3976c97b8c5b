"""A programme's territory: places typed by codes or names, included or excluded, each change
versioned and audited."""
from __future__ import annotations

import re
from dataclasses import dataclass

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
from tenants.territories.services import resolve_territory

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
    # One commune as people write it: "Gien (45155)", "45500 Gien", a name with or without accents.
    choice = resolve_territory(session, value, communes_only=True)
    if choice.commune is None:
        if choice.candidates:
            listed = " ; ".join(f"{text} : {value.rsplit('—', 1)[-1].strip()}" for value, text in choice.candidates[:6])
            raise ServiceError(f"Plusieurs communes correspondent, donnez le code INSEE : {listed}.", "value")
        raise ServiceError(choice.error or f"Aucune commune ne s'appelle « {value[:60]} ».", "value")
    return [(choice.commune.insee, choice.commune.name)]


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


@dataclass
class ScopeChange:
    rows: list[ProgrammeScope]  # the lines added
    already: list[str]  # places already in the perimeter, in the same sense: left as they were
    opposite: list[str]  # places already there in the other sense: left too (remove the line to change it)

    @property
    def message(self) -> str:
        """'2 lignes ajoutées au périmètre ; déjà présentes : Gien.'"""
        n = len(self.rows)
        text = f"{n} ligne{'s' if n > 1 else ''} ajoutée{'s' if n > 1 else ''} au périmètre"
        if self.already:
            text += f" ; déjà présente{'s' if len(self.already) > 1 else ''} : {_names(self.already)}"
        if self.opposite:
            text += (f" ; déjà dans l'autre sens, laissée{'s' if len(self.opposite) > 1 else ''} telle"
                     f"{'s' if len(self.opposite) > 1 else ''} : {_names(self.opposite)} (retirez la ligne pour "
                     "changer son sens)")
        return text + "."


def _names(names: list[str]) -> str:
    return ", ".join(names[:10]) + (f" et {len(names) - 10} autres" if len(names) > 10 else "")


def add_scope(session: Session, actor: User, programme: Programme, *, include: bool, level: str,
              value: str = "") -> ScopeChange:
    """Add places to the perimeter; those already in it are left as they are and said."""
    if level not in SCOPE_LEVELS:
        raise ServiceError("Niveau de territoire inconnu.", "level")
    if programme.status is ProgrammeStatus.archived:
        raise ServiceError("Ce programme est archivé : remettez-le en brouillon pour le modifier.")
    places = resolve_places(session, level, value)
    existing = {(s.level, s.code): s for s in programme.scope}
    already = [name for code, name in places if (level, code) in existing and existing[level, code].include == include]
    opposite = [name for code, name in places if (level, code) in existing and existing[level, code].include != include]
    places = [(code, name) for code, name in places if (level, code) not in existing]
    if not places:
        raise ServiceError(f"Déjà dans le périmètre : {_names(already + opposite)}."
                           + (" Retirez la ligne existante pour changer son sens." if opposite else ""), "value")
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
    return ScopeChange(rows, already, opposite)


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
