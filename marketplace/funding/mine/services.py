"""'Mes financements': what a collectivité can apply to, and why — programmes and their open calls.

The eligible set comes from the eligibility index (``eligibility.tenant_offers``): a few hundred
items at most, so facets are counted here, on that set, and each facet's counts ignore its own
selection (choosing "Subvention" still shows how many loans there are). Ordering, filtering and
counting read cached entries (a few columns per programme and call, per eligibility generation);
only the items of the page shown are loaded as objects. Full-text goes
through the shared search index, restricted to the eligible documents; when the index cannot
answer, words are matched in the database text and the page says so.

The same criteria serve saved searches (``alerts``): a criteria object is what an alert stores.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.core import taxonomy
from marketplace.core.db import database_of
from marketplace.core.text import fold
from marketplace.funding import eligibility
from marketplace.funding.eligibility import Offer
from marketplace.funding.indexing import CALL_PATH, PROGRAMME_PATH
from marketplace.funding.models import AID_TYPES, FUNDER_LEVELS, CallStatus, Programme, ProgrammeCall, ProgrammeStatus
from search.index import IndexUnavailable
from search.query import Ranking, build_plan, rank
from tenants.models import Tenant

CLOSING_SOON_DAYS = 30
MAX_QUERY = 200
DEGRADED = ("La recherche plein texte est momentanément indisponible : les mots sont cherchés dans "
            "les titres et les descriptions, sans classement par pertinence.")

TIMINGS = {"ouvert": "Ouvert aujourd'hui", "cloture_proche": f"Clôture dans les {CLOSING_SOON_DAYS} jours"}
KINDS = {"programme": "Programmes", "call": "Appels à projets et à manifestation d'intérêt"}

# URL parameter → (title, labels). The order is the order of the facets on the page.
FACETS: dict[str, tuple[str, dict[str, str]]] = {
    "calendrier": ("Calendrier", TIMINGS),
    "nature": ("Nature", KINDS),
    "theme": ("Thématique", taxonomy.DOMAINS),
    "aide": ("Type d'aide", AID_TYPES),
    "echelon": ("Échelon du financeur", FUNDER_LEVELS),
}


@dataclass(frozen=True)
class Criteria:
    """A search among the eligible items: words, and facet values (OR within a facet, AND across)."""

    q: str = ""
    facets: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_args(cls, args) -> Criteria:
        """From a query string (a MultiDict): unknown values of a shared URL are ignored."""
        facets = {}
        for param, (_, labels) in FACETS.items():
            values = tuple(dict.fromkeys(v for v in args.getlist(param) if v in labels))
            if values:
                facets[param] = values
        return cls(q=" ".join((args.get("q") or "").split())[:MAX_QUERY], facets=facets)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Criteria:
        facets = {}
        for param, (_, labels) in FACETS.items():
            values = tuple(v for v in data.get(param) or () if v in labels)
            if values:
                facets[param] = values
        return cls(q=str(data.get("q") or "")[:MAX_QUERY], facets=facets)

    def to_dict(self) -> dict[str, Any]:
        return {"q": self.q, **{k: list(v) for k, v in self.facets.items()}}

    def to_args(self) -> dict[str, list[str]]:
        return {**({"q": [self.q]} if self.q else {}), **{k: list(v) for k, v in self.facets.items()}}

    @property
    def is_empty(self) -> bool:
        return not self.q and not self.facets

    def describe(self) -> str:
        """'« éclairage » · Type d'aide : Subvention ou Prêt' — for the alerts list and the mails."""
        parts = [f"« {self.q} »"] if self.q else []
        for param, values in self.facets.items():
            title, labels = FACETS[param]
            parts.append(f"{title} : " + " ou ".join(labels[v] for v in values))
        return " · ".join(parts) or "Tous les financements auxquels vous êtes éligible"


class _Dated:
    """Open today, closing soon: the same rules for an item and for its cached entry."""

    __slots__ = ()
    opens_on: dt.date | None
    prefiling_on: dt.date | None
    closes_on: dt.date | None

    def is_open(self, on: dt.date) -> bool:
        return (self.opens_on is None or self.opens_on <= on) and (self.closes_on is None or self.closes_on >= on)

    def closes_soon(self, on: dt.date) -> bool:
        return self.closes_on is not None and on <= self.closes_on <= on + dt.timedelta(days=CLOSING_SOON_DAYS)


@dataclass
class Item(_Dated):
    """One eligible programme, or one published call of an eligible programme."""

    programme: Programme
    offer: Offer
    call: ProgrammeCall | None = None

    @property
    def kind(self) -> str:
        return "call" if self.call is not None else "programme"

    @property
    def key(self) -> str:
        return f"call:{self.call.id}" if self.call is not None else f"programme:{self.programme.id}"

    @property
    def title(self) -> str:
        return self.call.title if self.call is not None else self.programme.title

    @property
    def summary(self) -> str:
        if self.call is not None:
            return f"{self.call.kind_label} du programme « {self.programme.title} »."
        return self.programme.summary

    @property
    def path(self) -> str:
        if self.call is not None:
            return CALL_PATH.format(programme_id=self.programme.id, id=self.call.id)
        return PROGRAMME_PATH.format(id=self.programme.id)

    @property
    def _dated(self):
        return self.call if self.call is not None else self.programme

    @property
    def opens_on(self) -> dt.date | None:
        return self._dated.opens_on

    @property
    def prefiling_on(self) -> dt.date | None:
        return self._dated.prefiling_on

    @property
    def closes_on(self) -> dt.date | None:
        return self._dated.closes_on

    @property
    def changed_at(self) -> dt.datetime:
        """When this item last changed in public: its publication or its last edit."""
        dated = self._dated
        return max(t for t in (dated.published_at, dated.updated_at) if t is not None)

    @property
    def stamp(self) -> str:
        """Identifies the item's content as published (its last edit): a digest never sends the same
        stamp twice. Not the programme's version number, which a call's publication also moves."""
        return f"{self._dated.updated_at:%Y%m%dT%H%M%S.%f}"

    def values(self, param: str, on: dt.date) -> set[str]:
        if param == "calendrier":
            return {v for v, ok in (("ouvert", self.is_open(on)), ("cloture_proche", self.closes_soon(on))) if ok}
        if param == "nature":
            return {self.kind}
        if param == "theme":
            return set(self.programme.themes or [])
        if param == "aide":
            return set(self.programme.aid_types or [])
        if param == "echelon":
            return {self.programme.funder_level.value}
        raise KeyError(param)

    def text(self) -> str:
        parts = [self.title, self.summary, self.programme.description, " ".join(self.programme.funders or [])]
        if self.call is not None:
            parts.append(self.call.description)
        return fold(" ".join(parts))


# What the list needs of the published programmes and calls, cached per eligibility generation ----
#
# A page shows 20 items of a few hundred: ordering them, counting the facets and the deadlines
# needs only a few columns of each, which do not change between requests. Loading every eligible
# programme and call as ORM objects to read those columns was most of the page's cost (≈ 300
# programmes: p95 130–170 ms, bench/eligibility.py). Each process keeps these columns, programme
# by programme as pages ask for them, until the eligibility generation token moves — it moves in
# the transaction of every change of a programme or of one of its calls (``versions.record_version``),
# as for the eligibility index — and only the page's own rows are loaded as objects. Filled on
# demand rather than built whole: after a change, the first page reads its own few hundred
# programmes (a few ms), not every published one. Entries are read after the token, so an entry
# is never older than the token it is kept under (the index's argument).

@dataclass(frozen=True, slots=True)
class Entry(_Dated):
    """One published programme or call, as the list orders, filters and dates it."""

    programme_id: int
    call_id: int | None
    opens_on: dt.date | None
    prefiling_on: dt.date | None
    closes_on: dt.date | None
    facets: dict[str, frozenset[str]]  # every facet but the calendar's (it depends on the day)
    order: tuple  # _by_dates after its first element (open today or not)

    @property
    def key(self) -> str:
        return f"call:{self.call_id}" if self.call_id is not None else f"programme:{self.programme_id}"

    def values(self, on: dt.date) -> dict[str, frozenset[str] | set[str]]:
        timing = {v for v, ok in (("ouvert", self.is_open(on)), ("cloture_proche", self.closes_soon(on))) if ok}
        return {"calendrier": timing, **self.facets}


@dataclass(frozen=True)
class _Listing:
    token: str
    # programme id → its entry, then its published calls' (closing order); () when not published
    entries: dict[int, tuple[Entry, ...]] = field(default_factory=dict)
    # A search without words, by (a collectivité's offers, facet choices, day): the offers it was
    # counted on (their kept tuple: ``eligibility.tenant_offers``), the matching rows, the facets,
    # the eligible and deadline counts. Every visit of Mes financements without words asks it again.
    found: dict[tuple, tuple] = field(default_factory=dict)


# Searches without words kept per generation at most (a few per collectivité and day).
MAX_FOUND_PER_GENERATION = 5000


_listings: dict[str, _Listing] = {}
_PROGRAMME, _CALL = frozenset(("programme",)), frozenset(("call",))
Row = tuple[Entry, Offer]


def _entries(session: Session, token: str, programme_ids: Sequence[int]) -> dict[int, tuple[Entry, ...]]:
    """The entries of these programmes at this generation: from this process's cache for the
    session's database, the missing ones read (and kept). A session with uncommitted changes has a
    token of its own, so what it reads from its view is never served to another session. Two
    requests filling the same programmes at once write the same entries: no lock needed."""
    listing = _listing(session, token)
    missing = [pid for pid in programme_ids if pid not in listing.entries]
    for start in range(0, len(missing), 500):
        listing.entries.update(_read_entries(session, missing[start:start + 500]))
    return listing.entries


def _listing(session: Session, token: str) -> _Listing:
    database = database_of(session)
    listing = _listings.get(database)
    if listing is None or listing.token != token:
        listing = _listings[database] = _Listing(token)
    return listing


def _read_entries(session: Session, ids: list[int]) -> dict[int, tuple[Entry, ...]]:
    published = Programme.status == ProgrammeStatus.published
    shared_of: dict[int, tuple[str, dict[str, frozenset[str]]]] = {}
    entries: dict[int, list[Entry]] = {pid: [] for pid in ids}
    for row in session.execute(select(Programme.id, Programme.title, Programme.themes, Programme.aid_types,
                                      Programme.funder_level, Programme.opens_on, Programme.prefiling_on,
                                      Programme.closes_on).where(Programme.id.in_(ids), published)):
        folded = fold(row.title)
        shared = {"theme": frozenset(row.themes or ()), "aide": frozenset(row.aid_types or ()),
                  "echelon": frozenset((row.funder_level.value,))}
        shared_of[row.id] = (folded, shared)
        entries[row.id].append(Entry(row.id, None, row.opens_on, row.prefiling_on, row.closes_on,
                                     {"nature": _PROGRAMME, **shared},
                                     (row.closes_on is None, row.closes_on or dt.date.max, folded, False, row.title)))
    if shared_of:
        # The order of ``Programme.calls``, which the list followed when it read them from there.
        for row in session.execute(select(ProgrammeCall.id, ProgrammeCall.programme_id, ProgrammeCall.title,
                                          ProgrammeCall.opens_on, ProgrammeCall.prefiling_on, ProgrammeCall.closes_on)
                                   .where(ProgrammeCall.programme_id.in_(list(shared_of)),
                                          ProgrammeCall.status == CallStatus.published)
                                   .order_by(ProgrammeCall.closes_on, ProgrammeCall.id)):
            folded, shared = shared_of[row.programme_id]
            entries[row.programme_id].append(
                Entry(row.programme_id, row.id, row.opens_on, row.prefiling_on, row.closes_on,
                      {"nature": _CALL, **shared},
                      (row.closes_on is None, row.closes_on or dt.date.max, folded, True, row.title)))
    return {pid: tuple(rows) for pid, rows in entries.items()}


def _eligible_rows(session: Session, tenant: Tenant) -> list[Row]:
    """The tenant's eligible published programmes, each followed by its published calls, as
    entries: no programme loaded."""
    return _rows_of(session, *eligibility.tenant_offers(session, tenant))


def _rows_of(session: Session, token: str, offers: Sequence[Offer]) -> list[Row]:
    entries = _entries(session, token, [offer.programme_id for offer in offers])
    return [(entry, offer) for offer in offers for entry in entries[offer.programme_id]]


def _items(session: Session, rows: Sequence[Row]) -> list[Item]:
    """These rows as items, in their order: their programmes in one query, their calls in another."""
    if not rows:
        return []
    offers = list({entry.programme_id: offer for entry, offer in rows}.values())
    programmes = {p.id: p for p, _ in eligibility.with_programmes(session, offers, lean=True)}
    call_ids = [entry.call_id for entry, _ in rows if entry.call_id is not None]
    calls: dict[int, ProgrammeCall] = {}
    for start in range(0, len(call_ids), 500):
        calls.update((c.id, c) for c in session.scalars(select(ProgrammeCall).where(
            ProgrammeCall.id.in_(call_ids[start:start + 500]))))
    items = []
    for entry, offer in rows:
        programme = programmes.get(entry.programme_id)
        call = calls.get(entry.call_id) if entry.call_id is not None else None
        if programme is None or (entry.call_id is not None and call is None):
            continue  # removed since the generation was read
        items.append(Item(programme, offer, call))
    return items


def eligible_items(session: Session, tenant: Tenant) -> list[Item]:
    """The tenant's eligible published programmes, each followed by its published calls."""
    return _items(session, _eligible_rows(session, tenant))


def _text_order(session: Session, rows: list[Row], q: str, search_root: Path | None,
                all_words: bool) -> tuple[list[Row], Ranking | None, str | None]:
    """The rows matching the words, best first, through the one query pipeline (synonyms,
    coordination, spelling); and a message when the index could not answer."""
    if build_plan(q) is None:  # only stop words: no text criterion
        return rows, None, None
    by_key = {entry.key: (entry, offer) for entry, offer in rows}
    if search_root is not None:
        try:
            ranking = rank(search_root, q, frozenset(by_key), all_words=all_words)
            return [by_key[key] for key in ranking.keys], ranking, None
        except IndexUnavailable:
            pass
    # The degraded path reads the texts: every item is loaded, as only this rare path needs.
    words = [w for w in fold(q).split() if len(w) > 2] or fold(q).split()
    keys = {item.key for item in _items(session, rows) if all(w in item.text() for w in words)}
    return [row for row in rows if row[0].key in keys], None, DEGRADED


def _by_dates(entry: Entry, on: dt.date):
    """Without words: what is open first, by closing date (soonest first, permanent last), then by
    programme title (accents aside), the programme before its calls, the title."""
    return (not entry.is_open(on), *entry.order)


def _steps(dated: _Dated, on: dt.date) -> list[tuple[str, dt.date]]:
    """(step, date) of an item's or an entry's dated steps from ``on``: pre-filing and closing (STEPS)."""
    return [(step, date) for step, date in (("prefiling", dated.prefiling_on), ("closing", dated.closes_on))
            if date is not None and date >= on]


def _deadline_count(rows: Iterable[Row], on: dt.date) -> int:
    """How many dated steps ``deadlines`` lists for these rows, without loading them."""
    return sum(len(_steps(entry, on)) for entry, _ in rows)


@dataclass(frozen=True)
class FacetCount:
    value: str
    label: str
    count: int
    selected: bool


@dataclass
class Result:
    criteria: Criteria
    rows: list[Row]  # every match, in order, as entries; ``page`` loads a page's items
    facets: dict[str, list[FacetCount]]
    eligible_count: int  # before any criterion
    deadline_count: int  # dated steps to come among every eligible item (the calendar's events)
    message: str | None = None  # the search degraded
    searched: str | None = None  # nothing held every word typed: the corrected words were searched
    suggestion: str | None = None  # "vouliez-vous dire"
    session: Session | None = field(default=None, repr=False, compare=False)

    @property
    def total(self) -> int:
        return len(self.rows)

    def page(self, number: int, per_page: int) -> list[Item]:
        """A page of items: only its own programmes and calls are loaded."""
        return _items(self.session, self.rows[(number - 1) * per_page: number * per_page])

    @cached_property
    def items(self) -> list[Item]:
        """Every match as an item, in order (an alert's digest reads them all)."""
        return _items(self.session, self.rows)


def find(session: Session, tenant: Tenant, criteria: Criteria, *, on: dt.date,
         search_root: Path | None = None, all_words: bool = False) -> Result:
    """The tenant's eligible items matching the criteria. ``all_words``: only the items holding
    every concept of the words (an alert mails nothing that holds one word of three; the page
    shows those too, after the others).

    Ordered, filtered and counted on the cached entries; each facet's counts ignore its own
    selection, so an item counts for a facet when it meets every other facet's choice.
    Without words, the result is kept for the collectivité's offers of this generation and the day."""
    token, offers = eligibility.tenant_offers(session, tenant)
    if criteria.q:
        return _find(session, _rows_of(session, token, offers), criteria, on, search_root, all_words)
    listing = _listing(session, token)
    key = (id(offers), tuple(sorted((param, tuple(sorted(set(values)))) for param, values in criteria.facets.items())),
           on)
    kept = listing.found.get(key)
    if kept is None or kept[0] is not offers:
        result = _find(session, _rows_of(session, token, offers), criteria, on, search_root, all_words)
        if len(listing.found) >= MAX_FOUND_PER_GENERATION:
            listing.found.clear()
        listing.found[key] = (offers, result.rows, result.facets, result.eligible_count, result.deadline_count)
        return result
    _, rows, facets, eligible_count, deadline_count = kept
    return Result(criteria, list(rows), facets, eligible_count, deadline_count, session=session)


def _find(session: Session, everything: list[Row], criteria: Criteria, on: dt.date, search_root: Path | None,
          all_words: bool) -> Result:
    message, ranking = None, None
    if criteria.q:
        pool, ranking, message = _text_order(session, everything, criteria.q, search_root, all_words)
    else:
        pool = sorted(everything, key=lambda row: _by_dates(row[0], on))
    # Programmes whose perimeter is wider than their text's come after the exact ones, whatever the order.
    pool.sort(key=lambda row: bool(row[1].to_check))
    chosen = {param: frozenset(values) for param, values in criteria.facets.items()}
    counts = {param: dict.fromkeys(labels, 0) for param, (_, labels) in FACETS.items()}

    def count(param: str, values: Iterable[str]) -> None:
        tally = counts[param]
        for value in values:
            if value in tally:
                tally[value] += 1

    matched = []
    for row in pool:
        values = row[0].values(on)
        missed = [param for param, wanted in chosen.items() if not values[param] & wanted]
        if not missed:
            matched.append(row)
            for param in FACETS:
                count(param, values[param])
        elif len(missed) == 1:  # counts only for the facet it misses
            count(missed[0], values[missed[0]])
    facets = {param: [FacetCount(v, labels[v], n, v in chosen.get(param, ())) for v, n in counts[param].items()
                      if n or v in chosen.get(param, ())]
              for param, (_, labels) in FACETS.items()}
    return Result(criteria, matched, facets, len(everything), _deadline_count(everything, on), message,
                  searched=ranking.searched if ranking else None, suggestion=ranking.suggestion if ranking else None,
                  session=session)


STEPS = {"prefiling": "Date limite de pré-dépôt", "closing": "Clôture"}


def deadlines(items: Iterable[Item], on: dt.date) -> list[tuple[Item, str, dt.date]]:
    """(item, step, date) for every dated step from ``on``: pre-filing and closing (STEPS)."""
    rows = [(item, step, date) for item in items for step, date in _steps(item, on)]
    return sorted(rows, key=lambda r: (r[2], fold(r[0].title)))


def ical(items: Iterable[Item], *, on: dt.date, base_url: str, tenant_name: str) -> bytes:
    """The deadlines as an iCalendar feed: one all-day event per pre-filing or closing date, from
    a month back (a just-passed deadline stays visible), with stable UIDs so that calendar apps
    update an event when its date moves instead of adding a second one."""
    from icalendar import Calendar, Event

    calendar = Calendar()
    calendar.add("prodid", "-//Passerelle//Mes financements//FR")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"Échéances de financement — {tenant_name}")
    calendar.add("x-wr-timezone", "Europe/Paris")
    base = base_url.rstrip("/")
    stamp = dt.datetime.now(dt.UTC)
    for item, step, date in deadlines(items, on - dt.timedelta(days=31)):
        if date >= dt.date.max - dt.timedelta(days=1):
            continue  # a date no calendar can end (the edge refuses such dates; older rows may hold one)
        event = Event()
        event.add("uid", f"{item.key.replace(':', '-')}-{step}@passerelle")
        event.add("dtstamp", stamp)
        event.add("dtstart", date)
        event.add("dtend", date + dt.timedelta(days=1))
        event.add("summary", f"{STEPS[step]} : {item.title}")
        event.add("description", f"{item.summary}\n{item.offer.headline}.\n{base}{item.path}")
        event.add("url", f"{base}{item.path}")
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    return calendar.to_ical()
