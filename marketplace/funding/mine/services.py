"""'Mes financements': what a collectivité can apply to, and why — programmes and their open calls.

The eligible set comes from the eligibility index (``eligibility.offers_for_tenant``): a few
hundred items at most, so facets are counted here, on that set, and each facet's counts ignore
its own selection (choosing "Subvention" still shows how many loans there are). Full-text goes
through the shared search index, restricted to the eligible documents; when the index cannot
answer, words are matched in the database text and the page says so.

The same criteria serve saved searches (``alerts``): a criteria object is what an alert stores.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.core import taxonomy
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


@dataclass
class Item:
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

    def is_open(self, on: dt.date) -> bool:
        return (self.opens_on is None or self.opens_on <= on) and (self.closes_on is None or self.closes_on >= on)

    def closes_soon(self, on: dt.date) -> bool:
        return self.closes_on is not None and on <= self.closes_on <= on + dt.timedelta(days=CLOSING_SOON_DAYS)

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


@dataclass(frozen=True)
class FacetCount:
    value: str
    label: str
    count: int
    selected: bool


@dataclass
class Result:
    criteria: Criteria
    items: list[Item]  # every match, in order; pages slice it
    facets: dict[str, list[FacetCount]]
    eligible_count: int  # before any criterion
    message: str | None = None  # the search degraded
    searched: str | None = None  # nothing held every word typed: the corrected words were searched
    suggestion: str | None = None  # "vouliez-vous dire"

    def page(self, number: int, per_page: int) -> list[Item]:
        return self.items[(number - 1) * per_page: number * per_page]


def eligible_items(session: Session, tenant: Tenant) -> list[Item]:
    """The tenant's eligible published programmes, each followed by its published calls."""
    offers = eligibility.offers_for_tenant(session, tenant)
    pairs = [(p, o) for p, o in eligibility.with_programmes(session, offers, lean=True)
             if p.status is ProgrammeStatus.published]
    # The calls of every programme in one query, not one per programme.
    calls: dict[int, list[ProgrammeCall]] = {}
    ids = [p.id for p, _ in pairs]
    for start in range(0, len(ids), 500):
        for call in session.scalars(select(ProgrammeCall).where(ProgrammeCall.programme_id.in_(ids[start:start + 500]),
                                                                ProgrammeCall.status == CallStatus.published)
                                    .order_by(ProgrammeCall.closes_on, ProgrammeCall.id)):
            calls.setdefault(call.programme_id, []).append(call)
    items: list[Item] = []
    for programme, offer in pairs:
        items.append(Item(programme, offer))
        items.extend(Item(programme, offer, call) for call in calls.get(programme.id, ()))
    return items


def _text_order(items: list[Item], q: str, search_root: Path | None,
                all_words: bool) -> tuple[list[Item], Ranking | None, str | None]:
    """The items matching the words, best first, through the one query pipeline (synonyms,
    coordination, spelling); and a message when the index could not answer."""
    if build_plan(q) is None:  # only stop words: no text criterion
        return items, None, None
    by_key = {item.key: item for item in items}
    if search_root is not None:
        try:
            ranking = rank(search_root, q, frozenset(by_key), all_words=all_words)
            return [by_key[key] for key in ranking.keys], ranking, None
        except IndexUnavailable:
            pass
    words = [w for w in fold(q).split() if len(w) > 2] or fold(q).split()
    return [item for item in items if all(w in item.text() for w in words)], None, DEGRADED


def _by_dates(item: Item, on: dt.date):
    """Without words: what is open first, by closing date (soonest first, permanent last)."""
    return (not item.is_open(on), item.closes_on is None, item.closes_on or dt.date.max,
            fold(item.programme.title), item.call is not None, item.title)


def _matches(item: Item, chosen: dict[str, tuple[str, ...]], on: dt.date, skip: str | None = None) -> bool:
    return all(param == skip or item.values(param, on) & set(values) for param, values in chosen.items())


def find(session: Session, tenant: Tenant, criteria: Criteria, *, on: dt.date,
         search_root: Path | None = None, all_words: bool = False) -> Result:
    """The tenant's eligible items matching the criteria. ``all_words``: only the items holding
    every concept of the words (an alert mails nothing that holds one word of three; the page
    shows those too, after the others)."""
    everything = eligible_items(session, tenant)
    message, ranking = None, None
    if criteria.q:
        pool, ranking, message = _text_order(everything, criteria.q, search_root, all_words)
    else:
        pool = sorted(everything, key=lambda i: _by_dates(i, on))
    # Programmes whose perimeter is wider than their text's come after the exact ones, whatever the order.
    pool = sorted(pool, key=lambda item: bool(item.offer.to_check))
    chosen = criteria.facets
    facets: dict[str, list[FacetCount]] = {}
    for param, (_, labels) in FACETS.items():
        counts = dict.fromkeys(labels, 0)
        for item in pool:
            if _matches(item, chosen, on, skip=param):
                for value in item.values(param, on):
                    if value in counts:
                        counts[value] += 1
        selected = set(chosen.get(param, ()))
        facets[param] = [FacetCount(v, labels[v], n, v in selected) for v, n in counts.items() if n or v in selected]
    matched = [item for item in pool if _matches(item, chosen, on)]
    return Result(criteria, matched, facets, len(everything), message,
                  searched=ranking.searched if ranking else None, suggestion=ranking.suggestion if ranking else None)


STEPS = {"prefiling": "Date limite de pré-dépôt", "closing": "Clôture"}


def deadlines(items: Iterable[Item], on: dt.date) -> list[tuple[Item, str, dt.date]]:
    """(item, step, date) for every dated step from ``on``: pre-filing and closing (STEPS)."""
    rows = []
    for item in items:
        for step, date in (("prefiling", item.prefiling_on), ("closing", item.closes_on)):
            if date is not None and date >= on:
                rows.append((item, step, date))
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
