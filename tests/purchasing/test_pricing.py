"""The tier arithmetic, held by Hypothesis: monotone, one price for every member, exact totals."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.purchasing.pricing import Tier, TierError, check_tiers, figures


@st.composite
def offers(draw):
    """A list price and coherent tiers: more units (and cities) for a lower or equal price."""
    list_price = draw(st.integers(min_value=2, max_value=1_000_000))
    n = draw(st.integers(min_value=1, max_value=5))
    steps = sorted(draw(st.lists(st.integers(1, 100_000), min_size=n, max_size=n, unique=True)))
    cities = sorted(draw(st.lists(st.integers(0, 10), min_size=n, max_size=n)))
    prices = sorted(draw(st.lists(st.integers(1, list_price), min_size=n, max_size=n)), reverse=True)
    return list_price, check_tiers(list_price, [Tier(u, c, p) for u, c, p in zip(steps, cities, prices, strict=True)])


quantities = st.dictionaries(st.integers(1, 60), st.integers(1, 50_000), max_size=12)


@settings(max_examples=300, deadline=None)
@given(offer=offers(), members=quantities)
def test_every_member_pays_the_groups_price_and_the_total_is_the_sum(offer, members):
    list_price, tiers = offer
    result = figures(list_price, tiers, members)
    assert result.total_units == sum(members.values()) and result.member_count == len(members)
    assert all(s.amount_ht_cents == s.quantity * result.unit_price_ht_cents for s in result.shares)
    assert result.total_ht_cents == sum(s.amount_ht_cents for s in result.shares)
    assert isinstance(result.total_ht_cents, int) and result.saving_ht_cents >= 0
    assert result.unit_price_ht_cents <= list_price
    if result.next_tier is not None:
        assert result.next_unit_price_ht_cents < result.unit_price_ht_cents
        assert result.units_to_next >= 0 and result.cities_to_next >= 0
        assert result.units_to_next + result.cities_to_next > 0


@settings(max_examples=300, deadline=None)
@given(offer=offers(), members=quantities, newcomer=st.integers(1, 50_000))
def test_one_more_member_never_raises_anyones_price(offer, members, newcomer):
    list_price, tiers = offer
    before = figures(list_price, tiers, members)
    after = figures(list_price, tiers, {**members, 999: newcomer})
    assert after.unit_price_ht_cents <= before.unit_price_ht_cents
    for share in before.shares:
        mine = next(s for s in after.shares if s.key == share.key)
        assert mine.amount_ht_cents <= share.amount_ht_cents


@settings(max_examples=200, deadline=None)
@given(offer=offers(), extra=st.integers(0, 100_000))
def test_reaching_a_tier_applies_it(offer, extra):
    list_price, tiers = offer
    tier = tiers[-1]
    members = {i: 1 for i in range(max(tier.min_cities, 1))}
    members[0] += max(0, tier.min_units - sum(members.values())) + extra
    result = figures(list_price, tiers, members)
    assert result.current_tier == len(tiers) and result.unit_price_ht_cents == tier.unit_price_ht_cents


def test_the_smart_lighting_offer_applies_tier_three_to_every_member():
    tiers = check_tiers(15_000, [Tier(100, 0, 13_500), Tier(500, 0, 12_000), Tier(1_000, 3, 10_000)])
    members = {"Châteauroux": 400, "Gien": 250, "Vitré": 200, "Issoudun": 150, "Rochefort": 100}
    result = figures(15_000, tiers, members)
    assert result.current_tier == 3 and result.unit_price_ht_cents == 10_000
    assert [s.amount_ht_cents for s in result.shares] == [4_000_000, 2_500_000, 2_000_000, 1_500_000, 1_000_000]
    assert result.total_ht_cents == 11_000_000 and result.saving_ht_cents == 5_500_000
    assert result.next_tier is None
    early = figures(15_000, tiers, {"Châteauroux": 400})
    assert early.current_tier == 1 and early.next_tier == 2 and early.units_to_next == 100


@pytest.mark.parametrize("tiers, message", [
    ([Tier(100, 0, 16_000)], "plus cher que le prix catalogue"),
    ([Tier(100, 0, 12_000), Tier(500, 0, 13_000)], "plus cher par unité que le précédent"),
    ([Tier(100, 2, 12_000), Tier(500, 1, 11_000)], "moins de collectivités"),
    ([Tier(100, 0, 12_000), Tier(100, 0, 11_000)], "au même volume"),
    ([], "au moins un palier"),
])
def test_incoherent_tiers_are_refused_in_french(tiers, message):
    with pytest.raises(TierError, match=message):
        check_tiers(15_000, tiers)
