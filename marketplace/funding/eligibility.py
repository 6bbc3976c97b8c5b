"""Computed eligibility: which programmes a commune or an EPCI can use (and why), and which
communes a programme is open to. No Flask here; read-only.

The rules (``marketplace.funding.models``): a programme's territory is the union of its included
places minus the union of its excluded places; a place is the whole of France, a région, a
département, an EPCI (all its member communes), a commune or a label (a list of communes). Then
the beneficiary rules: kinds, EPCI kinds, population bounds (at least ``min``, strictly below
``below``: "moins de 20 000 habitants" is ``population_below = 20000``).

**A commune** is eligible when the programme accepts communes, its population is within the
commune bounds, one of its places is included and none is excluded.

**An EPCI** is eligible when the programme accepts EPCI, its kind is accepted (no EPCI kind
listed: every kind), its own population is within the EPCI bounds, and at least one member commune
lies in the territory (population bounds of communes aside: they are about communes applying).
"At least one", not "all": an Action Cœur de Ville or Petites Villes de Demain convention is
signed by the town *and* its intercommunality, so an EPCI holding a labelled town is a beneficiary;
and a regional programme funds an EPCI straddling two régions for its part inside. The reasons say
how many member communes are covered, so a partial cover is never hidden.

Performance (bench/eligibility.py, 5 000 programmes of varied rules × 34 969 communes):

- *programmes for one commune* is an inverted lookup. A commune belongs to at most 5 + n places
  (France, its région, its département, its EPCI, itself, its n labels). Each process keeps an
  index place → (programme, include/exclude) of the published programmes, with their beneficiary
  rules, built from the database and rebuilt when the *eligibility generation* token changes
  (``EligibilityGeneration``: replaced in the transaction of every programme change). A lookup is
  then one tiny query (the token and the commune's labels) and set work on a few hundred entries.
  Measured first as one SQL query (an OR of (level, code) pairs on ``ix_programme_scopes_lookup``,
  exclusions and kinds decided in SQL and Python): 4–15 ms p50 on a loaded 2-core machine, the
  reasons adding a few ms more, against a 5 ms p95 target. With the index: 2.5–3.3 ms p95 on
  SQLite and 3.5–6 ms on PostgreSQL, reasons included, on the same machine; a build takes ≈ 0.7 s
  once per process after each change.
  Labels are not in the index (a label's upload changes no token): the commune's labels are read
  from the database at each lookup, so an upload is seen at once.
- *communes of one programme* is one SQL statement over the communes table, built from the
  programme's scope rows (a handful of ``IN`` lists): exact, and a single pass.
"""
from __future__ import annotations

import csv
import functools
import io
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, bindparam, false, func, or_, select, true, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from marketplace.core import shared
from marketplace.core.clock import utcnow
from marketplace.core.db import database_of
from marketplace.core.text import fold, format_int_fr
from marketplace.funding.models import (
    BENEFICIARY_KINDS,
    EPCI_KINDS,
    FRANCE_CODE,
    WITHOUT_PLACES_NOR_CALLS,
    EligibilityGeneration,
    Label,
    LabelCommune,
    Programme,
    ProgrammeScope,
    ProgrammeStatus,
)
from tenants.models import Tenant
from tenants.territories.models import Commune, Departement, Epci, Region

LEVEL_ORDER = ("france", "region", "departement", "epci", "commune", "label")
Key = tuple[str, str]


# The places a territory belongs to ------------------------------------------------------------

@dataclass
class Places:
    """The places one commune belongs to, with their names (for the reasons)."""

    keys: set[Key]
    names: dict[Key, str]

    @classmethod
    def of(cls, session: Session, commune: Commune, labels: Sequence[tuple[str, str]] | None = None) -> Places:
        """``labels``: the commune's (slug, name) pairs when the caller already read them."""
        if labels is None:
            labels = session.execute(
                select(Label.slug, Label.name).join(LabelCommune, LabelCommune.label_id == Label.id)
                .where(LabelCommune.commune_insee == commune.insee)).all()
        names: dict[Key, str] = {
            ("france", FRANCE_CODE): "France",
            ("region", commune.region_code): commune.region.name,
            ("departement", commune.departement_code): commune.departement.name,
            ("commune", commune.insee): commune.name,
        }
        if commune.epci_siren:
            names[("epci", commune.epci_siren)] = commune.epci.name if commune.epci else commune.epci_siren
        for slug, label_name in labels:
            names[("label", slug)] = label_name
        return cls(set(names), names)


def place_phrase(key: Key, name: str | None) -> str:
    """One place as a reason reads it: 'région Centre-Val de Loire', 'labellisée Action Cœur de Ville'."""
    level, code = key
    name = name or code
    if level == "france":
        return "programme ouvert à toute la France"
    if level == "region":
        return f"région {name}"
    if level == "departement":
        return f"{name} (département {code})"
    if level == "epci":
        return f"membre de {name}"
    if level == "commune":
        return "commune désignée par le programme"
    return f"labellisée {name}"


def lower_first(text: str) -> str:
    """'Intercommunalités (EPCI…)' → 'intercommunalités (EPCI…)': str.lower() would also lower
    the acronyms and names that follow ('epci', 'métropole de lyon')."""
    return text[:1].lower() + text[1:]


def _ordered(keys: Iterable[Key]) -> list[Key]:
    return sorted(keys, key=lambda k: (LEVEL_ORDER.index(k[0]), k[1]))


def bounds_phrase(minimum: int | None, below: int | None, *, with_de: bool = False) -> str:
    """'moins de 20 000 habitants'; with ``with_de``: 'de moins de…', "d'au moins…" (after a noun)."""
    low = f"au moins {format_int_fr(minimum)}" if minimum is not None else ""
    # "20 000 habitants au plus" is stored as "below 20 001": say the rule as it was written.
    at_most = below is not None and below > 1 and below % 100 == 1
    high = (f"au plus {format_int_fr(below - 1)}" if at_most else f"moins de {format_int_fr(below)}") \
        if below is not None else ""
    if not low and not high:
        return ""
    if with_de:
        low, high = (f"d'{low}" if low else ""), ((f"d'{high}" if at_most else f"de {high}") if high else "")
    return " et ".join(p for p in (low, high) if p) + " habitants"


def _within(population: int, minimum: int | None, below: int | None) -> bool:
    return (minimum is None or population >= minimum) and (below is None or population < below)


def _population_reason(kind: str, population: int, minimum: int | None, below: int | None) -> str:
    text = f"{kind} de {format_int_fr(population)} habitants"
    bounds = bounds_phrase(minimum, below)
    return f"{text} (seuil : {bounds})" if bounds else text


# Offers ---------------------------------------------------------------------------------------

@dataclass(slots=True)
class Offer:
    """A programme a territory can use, and why (French phrases, joined by ``reason``)."""

    programme_id: int
    reasons: list[str]
    included: list[Key] = field(default_factory=list)
    covered_members: int | None = None  # EPCI only
    member_count: int | None = None
    sort_key: str = ""  # offers come sorted by programme title, exact perimeters first
    to_check: str = ""  # the programme's perimeter is wider than its text's: why (Programme.perimeter_check)

    @property
    def reason(self) -> str:
        return ", ".join(self.reasons)

    @property
    def headline(self) -> str:
        """'Éligible : …', or, on a perimeter wider than the text's, never a plain 'éligible'."""
        if self.to_check:
            return f"Éligibilité à vérifier : {lower_first(self.to_check)} (critères remplis : {self.reason})"
        return f"Éligible : {self.reason}"


# The in-memory index ----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Criteria:
    """A published programme's beneficiary rules, decoded once per index build."""

    population_min: int | None
    population_below: int | None
    epci_population_min: int | None
    epci_population_below: int | None
    for_communes: bool
    for_epcis: bool
    epci_kinds: frozenset[str]
    sort_key: str  # exact perimeters first, then the folded title: no programme is loaded to sort
    to_check: str


@dataclass(frozen=True)
class ScopeIndex:
    """Published programmes' scope rows by place, and their beneficiary rules: what
    'programmes for a commune' reads, rebuilt when the eligibility generation token changes."""

    token: str
    including: dict[Key, tuple[int, ...]]  # place → programmes whose territory includes it
    excluding: dict[Key, tuple[int, ...]]  # place → programmes whose territory excludes it
    criteria: dict[int, _Criteria]
    # A collectivité's offers at this generation, by ("commune" or "epci", its code, its labels):
    # see ``tenant_offers``.
    tenant_offers: dict[tuple, tuple[float, tuple[Offer, ...]]] = field(default_factory=dict, compare=False)
    # A programme's count of eligible communes at this generation: see ``eligible_communes_count``.
    commune_counts: dict[tuple[int], tuple[float, int]] = field(default_factory=dict, compare=False)

    def included_by(self, keys: Iterable[Key]) -> dict[int, list[Key]]:
        """programme id → the places among these keys it includes (in the keys' order)."""
        found: dict[int, list[Key]] = {}
        for key in keys:
            for programme_id in self.including.get(key, ()):
                places = found.get(programme_id)
                if places is None:
                    found[programme_id] = [key]
                else:
                    places.append(key)
        return found

    def excluded_by(self, keys: Iterable[Key]) -> dict[int, set[Key]]:
        found: dict[int, set[Key]] = defaultdict(set)
        for key in keys:
            for programme_id in self.excluding.get(key, ()):
                found[programme_id].add(key)
        return found


_indexes: dict[str, ScopeIndex] = {}
_build_lock = threading.Lock()


def current_token(session: Session) -> str:
    return session.scalar(select(EligibilityGeneration.token).where(EligibilityGeneration.id == 1)) or "initial"


def touch(session: Session) -> None:
    """Called by the services in the transaction of every change that can alter eligibility."""
    session.execute(update(EligibilityGeneration).where(EligibilityGeneration.id == 1)
                    .values(token=uuid.uuid4().hex, changed_at=utcnow()))


# The statements read on every visit of a collectivité's pages, built once with their parameter:
# building one and computing its cache key took 0.29 ms for a commune's, 0.66 for an EPCI's; prebuilt,
# 0.11 and 0.20 ms remain, the tenant guard's option making SQLAlchemy compute a key again.
@functools.cache
def _token_and_labels_statement():
    return (select(EligibilityGeneration.token, Label.slug, Label.name).select_from(EligibilityGeneration)
            .outerjoin(LabelCommune, LabelCommune.commune_insee == bindparam("insee"))
            .outerjoin(Label, Label.id == LabelCommune.label_id)
            .where(EligibilityGeneration.id == 1))


@functools.cache
def _epci_token_and_labels_statement():
    labelled = _member_labels(bindparam("siren")).subquery()
    return (select(EligibilityGeneration.token, labelled.c.commune_insee, labelled.c.slug, labelled.c.name)
            .select_from(EligibilityGeneration).outerjoin(labelled, true())
            .where(EligibilityGeneration.id == 1))


def _token_and_labels(session: Session, insee: str) -> tuple[str, list[tuple[str, str]]]:
    """The index token and the commune's labels in one round trip (the lookup's only two reads:
    on PostgreSQL under load, each round trip cost more than the whole in-memory lookup)."""
    rows = session.execute(_token_and_labels_statement(), {"insee": insee}).all()
    token = rows[0][0] if rows else "initial"
    return token, [(slug, name) for _, slug, name in rows if slug is not None]


def scope_index(session: Session, token: str | None = None) -> ScopeIndex:
    """This process's index for the session's database, rebuilt if the token moved.

    The token is read before the rows: under READ COMMITTED a change committed between the two
    reads makes the index newer than its token, which only costs one more rebuild; the other
    order could tag old rows with a new token. A session with uncommitted changes sees its own
    token, unknown to every other session, so an index built from its view is never reused by
    them after a rollback. ``token``: already read by the caller, in the same transaction."""
    token = token if token is not None else current_token(session)
    database = database_of(session)
    index = _indexes.get(database)
    if index is not None and index.token == token:
        return index
    with _build_lock:
        index = _indexes.get(database)
        if index is None or index.token != token:
            index = _indexes[database] = _build_index(session, token)
    return index


def published_ids(session: Session) -> Collection[int]:
    """Every published programme's id, at the current generation (publishing, archiving or
    deleting a programme moves the token): one tiny query when this process already knows them."""
    return scope_index(session).criteria.keys()


def _build_index(session: Session, token: str) -> ScopeIndex:
    published = Programme.status == ProgrammeStatus.published
    including: dict[Key, list[int]] = defaultdict(list)
    excluding: dict[Key, list[int]] = defaultdict(list)
    rows = session.execute(select(ProgrammeScope.level, ProgrammeScope.code, ProgrammeScope.programme_id,
                                  ProgrammeScope.include)
                           .join(Programme, Programme.id == ProgrammeScope.programme_id).where(published))
    for level, code, programme_id, include in rows:
        (including if include else excluding)[(level, code)].append(programme_id)
    criteria = {}
    for row in session.execute(select(Programme.id, Programme.population_min, Programme.population_below,
                                      Programme.epci_population_min, Programme.epci_population_below,
                                      Programme.beneficiary_kinds, Programme.epci_kinds, Programme.title,
                                      Programme.perimeter_check)
                               .where(published)):
        kinds = set(row.beneficiary_kinds or ())
        to_check = (row.perimeter_check or "").strip()
        criteria[row.id] = _Criteria(row.population_min, row.population_below, row.epci_population_min,
                                     row.epci_population_below, "commune" in kinds, "epci" in kinds,
                                     frozenset(row.epci_kinds or ()),
                                     f"{int(bool(to_check))}{fold(row.title)}\x00{row.id:010d}", to_check)
    return ScopeIndex(token, {key: tuple(v) for key, v in including.items()},
                      {key: tuple(v) for key, v in excluding.items()}, criteria)


def offers_for_commune(session: Session, commune: Commune, places: Places | None = None) -> list[Offer]:
    """The published programmes this commune can use, each with its reasons. One query (the index
    token and the commune's labels); the rest is set work on the index (see the module docstring)."""
    return _commune_offers(session, commune, places)[1]


def _commune_offers(session: Session, commune: Commune, places: Places | None) -> tuple[str, list[Offer]]:
    if places is None:
        token, labels = _token_and_labels(session, commune.insee)
        places, index = Places.of(session, commune, labels), scope_index(session, token)
    else:
        index = scope_index(session)
    return index.token, _offers_in(index, commune, places)


def _offers_in(index: ScopeIndex, commune: Commune, places: Places) -> list[Offer]:
    population = commune.population
    # Broadest place first, so the reasons read "région …, labellisée …"; each phrase built once.
    keys = _ordered(places.keys)
    phrases = {key: place_phrase(key, places.names.get(key)) for key in keys}
    excluded = index.excluded_by(keys)
    population_reasons: dict[tuple[int | None, int | None], str] = {}
    offers = []
    for programme_id, included in index.included_by(keys).items():
        rules = index.criteria[programme_id]
        if programme_id in excluded or not rules.for_communes \
                or not _within(population, rules.population_min, rules.population_below):
            continue
        bounds = (rules.population_min, rules.population_below)
        first = population_reasons.get(bounds)
        if first is None:
            first = population_reasons[bounds] = _population_reason("commune", population, *bounds)
        offers.append(Offer(programme_id, [first] + [phrases[key] for key in included], included,
                            sort_key=rules.sort_key, to_check=rules.to_check))
    offers.sort(key=lambda o: o.sort_key)
    return offers


@dataclass
class _Member:
    insee: str
    keys: set[Key]


def _member_labels(siren: str):
    """(member commune, label slug, label name) of an EPCI's members."""
    return (select(LabelCommune.commune_insee, Label.slug, Label.name).join(Label, Label.id == LabelCommune.label_id)
            .join(Commune, Commune.insee == LabelCommune.commune_insee).where(Commune.epci_siren == siren))


def _epci_members(session: Session, epci: Epci, labels: Sequence[tuple[str, str, str]] | None = None
                  ) -> tuple[list[_Member], dict[Key, str]]:
    """``labels``: the members' (commune, slug, name) rows when the caller already read them."""
    members = session.execute(
        select(Commune.insee, Commune.region_code, Commune.departement_code, Region.name, Departement.name)
        .join(Region, Region.code == Commune.region_code).join(Departement, Departement.code == Commune.departement_code)
        .where(Commune.epci_siren == epci.siren).order_by(Commune.insee)).all()
    if labels is None:
        labels = session.execute(_member_labels(epci.siren)).all()
    names: dict[Key, str] = {("france", FRANCE_CODE): "France", ("epci", epci.siren): epci.name}
    by_commune: dict[str, _Member] = {}
    for insee, region_code, departement_code, region_name, departement_name in members:
        keys = {("france", FRANCE_CODE), ("region", region_code), ("departement", departement_code),
                ("epci", epci.siren), ("commune", insee)}
        names[("region", region_code)] = region_name
        names[("departement", departement_code)] = departement_name
        by_commune[insee] = _Member(insee, keys)
    for insee, slug, label_name in labels:
        by_commune[insee].keys.add(("label", slug))
        names[("label", slug)] = label_name
    return list(by_commune.values()), names


def _epci_reasons(epci: Epci, bounds: tuple[int | None, int | None], covered: list[_Member],
                  members: list[_Member], included: set[Key], names: dict[Key, str]) -> list[str]:
    kind = lower_first(EPCI_KINDS.get(epci.kind, epci.kind))
    reasons = [_population_reason(f"intercommunalité ({kind})", epci.population, *bounds)]
    if len(covered) == len(members):
        reasons.append("toutes ses communes membres dans le périmètre" if len(members) > 1
                       else "sa commune membre dans le périmètre")
    else:
        reasons.append(f"{len(covered)} commune{'s' if len(covered) > 1 else ''} membre"
                       f"{'s' if len(covered) > 1 else ''} sur {len(members)} dans le périmètre")
    used = set().union(*(m.keys for m in covered)) & included
    reasons += [place_phrase(k, names.get(k)) for k in _ordered(used) if k[0] != "commune"]
    if any(k[0] == "commune" for k in used):
        reasons.append("communes désignées par le programme")
    return reasons


def offers_for_epci(session: Session, epci: Epci) -> list[Offer]:
    """The published programmes this EPCI can use (see the module docstring for the rule)."""
    return list(_epci_offers(session, epci)[1])


def _epci_offers(session: Session, epci: Epci) -> tuple[str, tuple[Offer, ...]]:
    """An EPCI's offers, kept with the index of their generation like a commune's (key: the EPCI and
    its members' labels, read with the token in one round trip)."""
    rows = session.execute(_epci_token_and_labels_statement(), {"siren": epci.siren}).all()
    token = rows[0][0] if rows else "initial"
    labels = sorted((insee, slug, name) for _, insee, slug, name in rows if slug is not None)
    index = scope_index(session, token)
    return token, _kept(session, index, "tenant_offers", ("epci", epci.siren, tuple(labels)),
                        lambda: tuple(_epci_offers_in(index, epci, *_epci_members(session, epci, labels))))


def _epci_offers_in(index: ScopeIndex, epci: Epci, members: list[_Member], names: dict[Key, str]) -> list[Offer]:
    if not members:
        return []
    keys = set().union(*(m.keys for m in members))
    excluded_by = index.excluded_by(keys)
    offers = []
    for programme_id, included_keys in index.included_by(keys).items():
        rules = index.criteria[programme_id]
        included, excluded = set(included_keys), excluded_by.get(programme_id, set())
        if not rules.for_epcis or (rules.epci_kinds and epci.kind not in rules.epci_kinds) \
                or not _within(epci.population, rules.epci_population_min, rules.epci_population_below):
            continue
        covered = [m for m in members if m.keys & included and not m.keys & excluded]
        if not covered:
            continue
        bounds = (rules.epci_population_min, rules.epci_population_below)
        offers.append(Offer(programme_id, _epci_reasons(epci, bounds, covered, members, included, names),
                            _ordered(set().union(*(m.keys for m in covered)) & included),
                            covered_members=len(covered), member_count=len(members), sort_key=rules.sort_key,
                            to_check=rules.to_check))
    offers.sort(key=lambda o: o.sort_key)
    return offers


def offers_for_tenant(session: Session, tenant: Tenant) -> list[Offer]:
    """'Which programmes can this collectivité use, and why': by its commune, or by its EPCI."""
    return list(tenant_offers(session, tenant)[1])


def tenant_offers(session: Session, tenant: Tenant) -> tuple[str, tuple[Offer, ...]]:
    """``offers_for_tenant`` and the eligibility generation it was computed at: what a per-process
    cache of programme facts keyed by that token (Mes financements) needs to agree with it,
    without reading the token a second time. The offers are the tuple this generation keeps: the
    same object on every visit until it is computed again (a cache built on them may rely on it)."""
    if tenant.commune_insee is not None:
        return _commune_tenant_offers(session, tenant)
    if tenant.epci is not None:
        return _epci_offers(session, tenant.epci)
    return current_token(session), ()


# A collectivité's offers are kept with the index of their generation: a new token (any change that
# can alter eligibility) drops them. The commune's own facts (population, names of its places) change
# with a territory import only, which moves no token: they are read again after this long.
COMMUNE_FACTS_TTL_S = 600.0
MAX_KEPT_PER_GENERATION = 5000


def _commune_tenant_offers(session: Session, tenant: Tenant) -> tuple[str, tuple[Offer, ...]]:
    """A commune tenant's offers (Mes financements, on every visit): one query (the token and its
    labels) when this generation already computed them."""
    token, labels = _token_and_labels(session, tenant.commune_insee)
    index = scope_index(session, token)
    return token, _kept(session, index, "tenant_offers", ("commune", tenant.commune_insee, tuple(labels)),
                        lambda: tuple(_offers_in(index, tenant.commune, Places.of(session, tenant.commune, labels))))


def _kept(session: Session, index: ScopeIndex, store_name: str, key: tuple, compute):
    """``compute()``, kept in one of the index's per-generation stores (``store_name``) for
    COMMUNE_FACTS_TTL_S, and shared with the site's other processes (``marketplace.core.shared``):
    the first worker to need it computes it, the others read it. The shared copy carries its
    deadline, so that no process keeps a value longer than that after it was computed."""
    store = getattr(index, store_name)
    kept = store.get(key)
    if kept is not None and kept[0] > time.monotonic():
        return kept[1]

    def computed() -> tuple[float, object]:
        return time.time() + COMMUNE_FACTS_TTL_S, compute()

    deadline, value = shared.kept(session, f"eligibility.{store_name}", (index.token, key), computed,
                                  COMMUNE_FACTS_TTL_S)
    if len(store) >= MAX_KEPT_PER_GENERATION:
        store.clear()
    store[key] = (time.monotonic() + min(COMMUNE_FACTS_TTL_S, deadline - time.time()), value)
    return value


def with_programmes(session: Session, offers: Sequence[Offer], *, lean: bool = False) -> list[tuple[Programme, Offer]]:
    """Load the programmes of these offers, in the offers' order. Pages and the API paginate the
    offers first: loading 300 programmes costs more than finding them. ``lean``: without their
    territory rows and calls (loaded on access only), for lists that show neither."""
    if not offers:
        return []
    query = select(Programme).where(Programme.id.in_([o.programme_id for o in offers]))
    if lean:
        query = query.options(*WITHOUT_PLACES_NOR_CALLS)
    by_id = {p.id: p for p in session.scalars(query)}
    return [(by_id[o.programme_id], o) for o in offers if o.programme_id in by_id]


# One programme, one territory: the verdict with the reasons why (not) -------------------------

@dataclass
class Verdict:
    eligible: bool
    reasons: list[str]  # what holds
    blockers: list[str]  # what fails (empty when eligible)
    to_check: str = ""  # eligible on a perimeter wider than the text's: why it must be checked

    @property
    def reason(self) -> str:
        return ", ".join(self.reasons)

    @property
    def blocker(self) -> str:
        return " ; ".join(self.blockers)


def check_commune(session: Session, programme: Programme, commune: Commune,
                  places: Places | None = None) -> Verdict:
    """Whether this commune may apply to this programme, whatever its status, and why (not).
    The same rules as ``offers_for_commune``, evaluated on one programme (tests hold them equal)."""
    places = places or Places.of(session, commune)
    reasons, blockers = [], []
    if "commune" not in (programme.beneficiary_kinds or ()):
        blockers.append("le programme ne s'adresse pas aux communes")
    population = _population_reason("commune", commune.population, programme.population_min, programme.population_below)
    if _within(commune.population, programme.population_min, programme.population_below):
        reasons.append(population)
    else:
        blockers.append(f"{population} : hors seuil")
    included = {(s.level, s.code) for s in programme.includes} & places.keys
    excluded = {(s.level, s.code) for s in programme.excludes} & places.keys
    if not included:
        blockers.append("hors du périmètre du programme")
    reasons += [place_phrase(k, places.names.get(k)) for k in _ordered(included)]
    for key in _ordered(excluded):
        blockers.append(f"exclue du périmètre : {scope_row_phrase(key, places.names)}")
    return Verdict(not blockers, reasons, blockers, (programme.perimeter_check or "").strip())


def check_epci(session: Session, programme: Programme, epci: Epci) -> Verdict:
    members, names = _epci_members(session, epci)
    blockers = []
    if "epci" not in (programme.beneficiary_kinds or ()):
        blockers.append("le programme ne s'adresse pas aux intercommunalités")
    if programme.epci_kinds and epci.kind not in programme.epci_kinds:
        accepted = ", ".join(lower_first(EPCI_KINDS.get(k, k)) for k in programme.epci_kinds)
        blockers.append(f"{lower_first(EPCI_KINDS.get(epci.kind, epci.kind))} : type non retenu (le programme retient : "
                        f"{accepted})")
    if not _within(epci.population, programme.epci_population_min, programme.epci_population_below):
        blockers.append(f"intercommunalité de {format_int_fr(epci.population)} habitants : hors seuil "
                        f"({bounds_phrase(programme.epci_population_min, programme.epci_population_below)})")
    included = {(s.level, s.code) for s in programme.includes}
    excluded = {(s.level, s.code) for s in programme.excludes}
    covered = [m for m in members if m.keys & included and not m.keys & excluded]
    if not covered:
        blockers.append("aucune commune membre dans le périmètre du programme")
    bounds = (programme.epci_population_min, programme.epci_population_below)
    reasons = _epci_reasons(epci, bounds, covered, members, included, names) if covered else []
    return Verdict(not blockers, reasons, blockers, (programme.perimeter_check or "").strip())


def check_tenant(session: Session, programme: Programme, tenant: Tenant) -> Verdict | None:
    if tenant.commune is not None:
        return check_commune(session, programme, tenant.commune)
    if tenant.epci is not None:
        return check_epci(session, programme, tenant.epci)
    return None


# Communes of a programme: exact, in SQL -------------------------------------------------------

def _territory_clause(rows: Iterable, include: bool) -> ColumnElement[bool]:
    codes: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row.include is include:
            codes[row.level].append(row.code)
    if "france" in codes:
        return true()
    parts: list[ColumnElement[bool]] = []
    if codes["region"]:
        parts.append(Commune.region_code.in_(codes["region"]))
    if codes["departement"]:
        parts.append(Commune.departement_code.in_(codes["departement"]))
    if codes["epci"]:
        # NULL-safe: a commune outside any EPCI must not turn NOT (…) into NULL (and vanish).
        parts.append(and_(Commune.epci_siren.is_not(None), Commune.epci_siren.in_(codes["epci"])))
    if codes["commune"]:
        parts.append(Commune.insee.in_(codes["commune"]))
    if codes["label"]:
        parts.append(Commune.insee.in_(
            select(LabelCommune.commune_insee).join(Label, Label.id == LabelCommune.label_id)
            .where(Label.slug.in_(codes["label"]))))
    return or_(*parts) if parts else false()


def eligible_communes_filter(programme: Programme) -> ColumnElement[bool]:
    """The WHERE clause of 'communes eligible to this programme', whatever its status."""
    if "commune" not in (programme.beneficiary_kinds or ()):
        return false()
    clauses = [_territory_clause(programme.scope, True)]
    if programme.excludes:
        clauses.append(~_territory_clause(programme.scope, False))
    if programme.population_min is not None:
        clauses.append(Commune.population >= programme.population_min)
    if programme.population_below is not None:
        clauses.append(Commune.population < programme.population_below)
    return and_(*clauses)


def eligible_communes_count(session: Session, programme: Programme) -> int:
    """How many communes may apply (the programme page says it on every visit). Kept with the
    generation, which every change of a programme moves, and for as long as a commune's facts
    (COMMUNE_FACTS_TTL_S); not for a programme open to a label, whose list changes without one."""
    def count() -> int:
        return session.scalar(select(func.count()).select_from(Commune).where(eligible_communes_filter(programme))) or 0

    if programme.id is None or any(s.level == "label" for s in programme.scope):
        return count()
    return _kept(session, scope_index(session), "commune_counts", (programme.id,), count)


def eligible_insee_codes(session: Session, programme: Programme) -> list[str]:
    """Every eligible commune's INSEE code, sorted. One aggregated row rather than 35 000: past the
    SQL itself (a few ms), the per-row cost of the driver and of result rows was 80 ms for a
    France-wide programme (bench/eligibility.py)."""
    joined = session.scalar(select(func.aggregate_strings(Commune.insee, ","))
                            .where(eligible_communes_filter(programme)))
    return sorted(joined.split(",")) if joined else []


def eligible_communes_page(session: Session, programme: Programme, page: int = 1, per_page: int = 50,
                           departement: str | None = None) -> tuple[list[Commune], int]:
    where = eligible_communes_filter(programme)
    if departement:
        where = and_(where, Commune.departement_code == departement)
    total = session.scalar(select(func.count()).select_from(Commune).where(where)) or 0
    rows = session.scalars(select(Commune).where(where).order_by(Commune.departement_code, Commune.search_key,
                                                                 Commune.insee)
                           .offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


CSV_HEADER = ["Code INSEE", "Commune", "Population municipale", "Code département", "Département",
              "Code région", "Région", "SIREN de l'EPCI", "EPCI"]


def eligible_communes_csv(session: Session, programme: Programme) -> str:
    """Every eligible commune, for French Excel: UTF-8 with a BOM, ';' separators, INSEE order.
    Codes are written as the registry has them ("01053", "2A004"); a spreadsheet that reads the
    column as numbers drops the leading zero, which the label upload puts back (4 digits → 5)."""
    stmt = (select(Commune.insee, Commune.name, Commune.population, Commune.departement_code, Departement.name,
                   Commune.region_code, Region.name, Commune.epci_siren, Epci.name)
            .join(Departement, Departement.code == Commune.departement_code)
            .join(Region, Region.code == Commune.region_code)
            .outerjoin(Epci, Epci.siren == Commune.epci_siren)
            .where(eligible_communes_filter(programme)).order_by(Commune.insee))
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in session.execute(stmt):
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


# The rules of a programme, in words -----------------------------------------------------------

def scope_names(session: Session, rows: Iterable) -> dict[Key, str]:
    """Names of the places scope rows name (one query per level present)."""
    by_level: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        by_level[row.level].add(row.code)
    names: dict[Key, str] = {("france", FRANCE_CODE): "France"}
    lookups = {"region": (Region.code, Region.name), "departement": (Departement.code, Departement.name),
               "epci": (Epci.siren, Epci.name), "commune": (Commune.insee, Commune.name),
               "label": (Label.slug, Label.name)}
    for level, (code_col, name_col) in lookups.items():
        if by_level.get(level):
            for code, name in session.execute(select(code_col, name_col).where(code_col.in_(by_level[level]))):
                names[(level, code)] = name
    return names


def scope_row_phrase(key: Key, names: dict[Key, str]) -> str:
    level, code = key
    name = names.get(key)
    if name is None and level != "france":
        return f"{code} (inconnu du référentiel)"
    return {"france": "toute la France", "region": f"région {name}", "departement": f"{name} ({code})",
            "epci": f"{name} (toutes ses communes)", "commune": f"{name} ({code})",
            "label": f"label {name}"}[level]


def describe_rules(session: Session, programme: Programme) -> list[str]:
    """The eligibility rules as sentences, for the programme page."""
    names = scope_names(session, programme.scope)
    sentences = []
    includes = [scope_row_phrase((s.level, s.code), names) for s in programme.includes]
    excludes = [scope_row_phrase((s.level, s.code), names) for s in programme.excludes]
    if not includes:
        sentences.append("Territoire : aucun territoire n'est encore défini, le programme n'est ouvert à personne.")
    else:
        sentence = "Territoire : " + ", ".join(includes)
        if excludes:
            sentence += " ; sauf " + ", ".join(excludes)
        sentences.append(sentence + ".")
    kinds = [lower_first(BENEFICIARY_KINDS.get(k, k)) for k in programme.beneficiary_kinds or []]
    sentences.append("Bénéficiaires : " + (", ".join(kinds) if kinds else "aucun type de bénéficiaire indiqué") + ".")
    if "commune" in (programme.beneficiary_kinds or ()):
        bounds = bounds_phrase(programme.population_min, programme.population_below, with_de=True)
        if bounds:
            sentences.append(f"Communes {bounds} (population municipale INSEE).")
    if "epci" in (programme.beneficiary_kinds or ()):
        kinds = ", ".join(lower_first(EPCI_KINDS.get(k, k)) for k in programme.epci_kinds) or "tous types"
        bounds = bounds_phrase(programme.epci_population_min, programme.epci_population_below, with_de=True)
        sentences.append(f"Intercommunalités ({kinds}){' ' + bounds if bounds else ''} : éligibles si au moins "
                         "une commune membre est dans le territoire.")
    return sentences
