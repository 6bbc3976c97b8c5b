"""Group purchases end to end in the services: commitments, the deadline, the award, the notices."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from marketplace.core.clock import today
from marketplace.core.db import all_tenants, bound_to_tenant
from marketplace.core.errors import ServiceError
from marketplace.mail.models import OutgoingMail
from marketplace.purchasing import services
from marketplace.purchasing.models import Commitment, PurchaseStatus
from marketplace.purchasing.tasks import close_due
from tenants.models import Role, Tenant
from tests.factories import make_city, make_epci, make_member, make_purchase

# Five demo-like buyers and their points lumineux: 1 100 in all, 5 cities → tier 3 (100,00 € HT).
BUYERS = [("36044", 400), ("45155", 250), ("35360", 200), ("36088", 150), ("17299", 100)]


@pytest.fixture
def lighting(db):
    coordinator = make_epci(db)  # Châteauroux Métropole coordinates
    purchase = make_purchase(db, coordinator)
    cities = []
    for insee, quantity in BUYERS:
        city = make_city(db, insee)
        user, _ = make_member(db, city, Role.member)
        cities.append((city, user, quantity))
    db.flush()
    return purchase, cities


def _commit(db, purchase, city, user, quantity):
    with bound_to_tenant(db, city.id):
        return services.commit(db, user, city, purchase, quantity)


def _mails(db, to=None):
    stmt = select(OutgoingMail).order_by(OutgoingMail.id)
    return [m for m in db.scalars(stmt) if to is None or m.to == to]


def test_five_cities_reach_tier_three_and_every_member_pays_it(db, lighting, monkeypatch):
    purchase, cities = lighting
    first_city, first_user, first_quantity = cities[0]
    _commit(db, purchase, first_city, first_user, first_quantity)
    alone = services.figures(db, purchase)
    assert alone.current_tier == 1 and alone.unit_price_ht_cents == 13_500 and alone.units_to_next == 100
    for city, user, quantity in cities[1:]:
        _commit(db, purchase, city, user, quantity)
    result = services.figures(db, purchase)
    assert (result.total_units, result.member_count, result.current_tier) == (1_100, 5, 3)
    assert result.unit_price_ht_cents == 10_000 and result.total_ht_cents == 11_000_000
    first = next(s for s in result.shares if s.key == first_city.id)
    assert first.amount_ht_cents == 400 * 10_000  # the first member too
    # 110 000 € HT of services together: over the dispense threshold, under the EU one → MAPA.
    assert services.procedure(db, purchase, result, on=dt.date(2026, 6, 1)).recommended == "mapa"

    # The same commitment again changes nothing; a change is audited; the totals stay the sum.
    commitment, created = _commit(db, purchase, first_city, first_user, first_quantity)
    assert not created and commitment.quantity == 400
    with all_tenants(db, because="the test checks the invariant"):
        rows = db.scalars(select(Commitment).where(Commitment.purchase_id == purchase.id)).all()
    assert sum(r.quantity for r in rows) == services.figures(db, purchase).total_units

    # The deadline passes: the job closes it and applies tier 3 to every member, once.
    monkeypatch.setattr("marketplace.purchasing.services.today", lambda: purchase.deadline + dt.timedelta(days=1))
    outcome = services.close_at_deadline(db, purchase)
    assert outcome.closed and purchase.status is PurchaseStatus.closed
    assert purchase.final_unit_price_ht_cents == 10_000
    assert services.close_at_deadline(db, purchase) is None  # late or twice: nothing more
    with all_tenants(db, because="the test reads every member's final amount"):
        finals = {c.tenant_id: c.final_amount_ht_cents for c in db.scalars(select(Commitment))}
    assert finals == {city.id: quantity * 10_000 for city, _, quantity in cities}

    services.award(db, first_user, purchase, {"contract_reference": "2026-EP-014", "award_date": dt.date(2026, 7, 1),
                                              "final_unit_price_ht_cents": 9_800})
    assert purchase.status is PurchaseStatus.awarded
    with pytest.raises(ServiceError, match="déjà attribué ou annulé"):
        services.cancel(db, first_user, purchase, "Trop tard")


def test_a_late_city_is_refused_with_the_reason(db, lighting, monkeypatch):
    purchase, cities = lighting
    city, user, quantity = cities[0]
    monkeypatch.setattr("marketplace.purchasing.services.today", lambda: purchase.deadline + dt.timedelta(days=1))
    with pytest.raises(ServiceError, match="un membre tardif ne peut pas bénéficier d'une procédure déjà lancée"):
        _commit(db, purchase, city, user, quantity)
    with pytest.raises(ServiceError, match="ne peut plus être retiré"):
        with bound_to_tenant(db, city.id):
            services.withdraw(db, user, city, purchase)


def test_a_purchase_missing_its_minimum_is_cancelled_and_each_member_told_why(app, db, lighting, monkeypatch):
    purchase, cities = lighting
    for city, user, quantity in cities[:2]:
        _commit(db, purchase, city, user, quantity)
    db.commit()
    monkeypatch.setattr("marketplace.purchasing.services.today", lambda: purchase.deadline + dt.timedelta(days=1))
    assert close_due() == 1 and close_due() == 0  # the job, twice
    db.expire_all()
    assert purchase.status is PurchaseStatus.cancelled
    assert "Minimum non atteint" in purchase.cancel_reason and "2 collectivités sur 3" in purchase.cancel_reason
    member_mail = _mails(db, cities[0][1].email)
    assert len(member_mail) == 1 and "annulé" in member_mail[0].subject
    # The fallback each city has alone: 400 × 150 € = 60 000 € HT of services → MAPA after 2026-04-01? No:
    # 60 000 is not under the 60 000 € dispense threshold, so the city is told of the procedure it needs.
    assert "Seule, pour 60\u202f000\u00a0€ HT au prix catalogue" in member_mail[0].body
    second = _mails(db, cities[1][1].email)[0].body
    assert "Seule, pour 37\u202f500\u00a0€ HT au prix catalogue : marché sans publicité" in second
    assert len(_mails(db, "contact@lumiere.test")) == 1  # the startup is told once


def test_an_open_purchase_is_extended_once_and_the_offer_is_frozen_at_opening(db, lighting):
    purchase, cities = lighting
    city, user, _ = cities[0]
    services.extend(db, user, purchase, purchase.deadline + dt.timedelta(days=10))
    with pytest.raises(ServiceError, match="déjà été prolongé une fois"):
        services.extend(db, user, purchase, purchase.deadline + dt.timedelta(days=20))
    offer = services.offer_for(db, purchase.solution_id)
    offer.tiers = [{"min_units": 10, "min_cities": 0, "unit_price_ht_cents": 1}]
    assert services.figures(db, purchase).unit_price_ht_cents == 15_000  # the purchase keeps its tiers


def test_a_commitment_is_private_to_its_city_and_the_coordinator(db, lighting):
    purchase, cities = lighting
    for city, user, quantity in cities[:2]:
        _commit(db, purchase, city, user, quantity)
    other_city, _, _ = cities[2]
    with bound_to_tenant(db, other_city.id):
        assert services.my_commitment(db, purchase, other_city) is None
        assert db.scalars(select(Commitment)).all() == []  # nothing of the others
        assert services.figures(db, purchase).total_units == 650  # the figures are public


def test_commitments_refuse_what_is_not_a_city_or_a_quantity(db, lighting):
    from tests.factories import make_startup

    purchase, cities = lighting
    city, user, _ = cities[0]
    with pytest.raises(ServiceError, match="Quantité entre 1 et"):
        _commit(db, purchase, city, user, 0)
    startup = make_startup(db)
    with pytest.raises(ServiceError, match="Seules les collectivités"):
        services.commit(db, user, startup, purchase, 10)
    assert today() < purchase.deadline


def test_a_list_page_figures_each_purchase_from_its_own_commitments(db, lighting):
    purchase, cities = lighting
    coordinator = db.get(Tenant, purchase.coordinator_tenant_id)
    other, empty = make_purchase(db, coordinator), make_purchase(db, coordinator)
    for city, user, quantity in cities[:3]:
        _commit(db, purchase, city, user, quantity)
    _commit(db, other, *cities[4])
    many = services.figures_many(db, [empty, purchase, other])
    assert many == [services.figures(db, p) for p in (empty, purchase, other)]
    assert [f.total_units for f in many] == [0, 850, 100]
    assert services.figures_many(db, []) == []
