"""The tier arithmetic of a group purchase: integer cents, no database.

A startup's offer gives a list price per unit and tiers: from ``min_units`` units in all (and,
optionally, from ``min_cities`` member cities), the unit price is ``unit_price_ht_cents``. Tiers
are validated so that a tier asking more never costs more per unit: the price is then monotone —
more units or more cities never raise it.

The tier reached applies to **every** member, the first one included: each pays its quantity times
the unit price of the tier the whole group reached. Amounts are integers (cents × units), so the
total is exactly the sum of what each member pays.
"""
from __future__ import annotations

from dataclasses import dataclass, field

UNITS = {
    "per_inhabitant": ("par habitant", "habitants"),
    "per_device": ("par équipement", "équipements"),
    "per_licence": ("par licence", "licences"),
    "flat_per_city": ("forfait par collectivité", "collectivités"),
}
MAX_UNITS = 10**9


class TierError(ValueError):
    """Tiers that do not make a price (French message)."""


@dataclass(frozen=True, order=True)
class Tier:
    min_units: int
    min_cities: int
    unit_price_ht_cents: int

    def reached(self, units: int, cities: int) -> bool:
        return units >= self.min_units and cities >= self.min_cities


def check_tiers(list_price_ht_cents: int, tiers: list[Tier]) -> list[Tier]:
    """Sorted, coherent tiers: each one asks more than the previous and costs less or the same."""
    if list_price_ht_cents <= 0:
        raise TierError("Indiquez le prix catalogue par unité, supérieur à 0 €.")
    if not tiers:
        raise TierError("Indiquez au moins un palier.")
    ordered = sorted(tiers)
    for tier in ordered:
        if tier.min_units < 1 or tier.min_units > MAX_UNITS or tier.min_cities < 0:
            raise TierError("Chaque palier commence à 1 unité au moins (et à 0 collectivité ou plus).")
        if tier.unit_price_ht_cents <= 0:
            raise TierError("Chaque palier a un prix par unité supérieur à 0 €.")
        if tier.unit_price_ht_cents > list_price_ht_cents:
            raise TierError("Un palier ne peut pas coûter plus cher que le prix catalogue.")
    for lower, higher in zip(ordered, ordered[1:], strict=False):
        if higher.min_units == lower.min_units and higher.min_cities == lower.min_cities:
            raise TierError("Deux paliers commencent au même volume.")
        if higher.min_cities < lower.min_cities:
            raise TierError("Un palier plus haut ne peut pas demander moins de collectivités.")
        if higher.unit_price_ht_cents > lower.unit_price_ht_cents:
            raise TierError("Un palier plus haut ne peut pas coûter plus cher par unité que le précédent.")
    return ordered


@dataclass(frozen=True)
class MemberShare:
    key: object  # whatever names the member for the caller (a tenant id)
    quantity: int
    amount_ht_cents: int  # quantity × the group's unit price
    list_amount_ht_cents: int  # what the same quantity costs at the list price


@dataclass
class Figures:
    total_units: int
    member_count: int
    unit_price_ht_cents: int
    list_price_ht_cents: int
    current_tier: int | None  # 1-based number of the tier reached; None: the list price
    next_tier: int | None
    units_to_next: int | None  # units still missing for the next tier
    cities_to_next: int | None
    next_unit_price_ht_cents: int | None
    shares: list[MemberShare] = field(default_factory=list)

    @property
    def total_ht_cents(self) -> int:
        return sum(s.amount_ht_cents for s in self.shares)

    @property
    def saving_ht_cents(self) -> int:
        return sum(s.list_amount_ht_cents for s in self.shares) - self.total_ht_cents


def figures(list_price_ht_cents: int, tiers: list[Tier], quantities: dict[object, int]) -> Figures:
    """The group's figures for these members' quantities (key → units)."""
    ordered = sorted(tiers)
    units = sum(quantities.values())
    cities = sum(1 for q in quantities.values() if q > 0)
    reached = [i for i, t in enumerate(ordered) if t.reached(units, cities)]
    current = max(reached, key=lambda i: (ordered[i].min_units, ordered[i].min_cities)) if reached else None
    price = ordered[current].unit_price_ht_cents if current is not None else list_price_ht_cents
    ahead = [i for i, t in enumerate(ordered) if not t.reached(units, cities)
             and t.unit_price_ht_cents < price]
    upcoming = min(ahead, key=lambda i: (ordered[i].min_units, ordered[i].min_cities)) if ahead else None
    shares = [MemberShare(key, q, q * price, q * list_price_ht_cents) for key, q in quantities.items() if q > 0]
    return Figures(
        total_units=units, member_count=cities, unit_price_ht_cents=price, list_price_ht_cents=list_price_ht_cents,
        current_tier=current + 1 if current is not None else None,
        next_tier=upcoming + 1 if upcoming is not None else None,
        units_to_next=max(0, ordered[upcoming].min_units - units) if upcoming is not None else None,
        cities_to_next=max(0, ordered[upcoming].min_cities - cities) if upcoming is not None else None,
        next_unit_price_ht_cents=ordered[upcoming].unit_price_ht_cents if upcoming is not None else None,
        shares=shares)
