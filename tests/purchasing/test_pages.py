"""Group purchases as their users go through them: the startup's tiers, the coordinator, the cities."""
from __future__ import annotations

import datetime as dt
import html
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import func, select

from marketplace.core.clock import today
from marketplace.core.db import all_tenants, bound_to_tenant, make_engine, make_session_factory
from marketplace.mail.models import OutgoingMail
from marketplace.purchasing.models import Commitment, GroupPurchase, PurchaseStatus
from marketplace.purchasing.tasks import close_due
from tenants import services as tenant_services
from tenants.models import Role
from tenants.territories.models import Commune
from tests.factories import make_city, make_epci, make_member, make_pro, make_purchase, make_solution, make_startup
from tests.helpers import sign_in


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_a_startup_sets_its_tiers_and_incoherent_ones_are_refused(client, db):
    startup = make_startup(db, "Lumio Territoires")
    user, membership = make_member(db, startup, Role.member)
    solution = make_solution(db, startup, status="published", name="Lumière douce")
    db.commit()
    sign_in(client, user, membership)
    url = f"/espace/achats-groupes/offres/{solution.id}"
    free = client.post(url, data={"unit": "per_device", "list_price": "150", "tiers-0-min_units": "100",
                                  "tiers-0-unit_price": "135", "action": "save"})
    assert free.status_code == 422 and "l'offre Pro le permet" in text_of(free) and "/espace/abonnement" in text_of(free)
    make_pro(db, startup)
    db.commit()
    assert "Prix par paliers" in text_of(client.get(url))
    bad = client.post(url, data={"unit": "per_device", "list_price": "150", "tiers-0-min_units": "100",
                                 "tiers-0-unit_price": "135", "tiers-1-min_units": "500", "tiers-1-unit_price": "140",
                                 "action": "save"})
    assert bad.status_code == 422 and "plus cher par unité que le précédent" in text_of(bad)
    good = client.post(url, data={"unit": "per_device", "unit_label": "par point lumineux", "list_price": "150",
                                  "tiers-0-min_units": "100", "tiers-0-unit_price": "135",
                                  "tiers-1-min_units": "1 000", "tiers-1-min_cities": "3",
                                  "tiers-1-unit_price": "100,00", "action": "save"})
    assert good.status_code == 302
    page = text_of(client.get(url))
    assert 'value="1000"' in page and 'value="100"' in page and 'value="135"' in page


def test_the_coordinator_opens_cities_commit_the_deadline_closes_and_the_award_is_told(client, db, app, monkeypatch):
    coordinator = make_epci(db)
    coordinator_user, coordinator_membership = make_member(db, coordinator, Role.member)
    purchase = make_purchase(db, coordinator, status="draft", min_units=500, min_cities=3)
    cities = []
    for insee, quantity in [("36044", 400), ("45155", 250), ("35360", 200), ("36088", 150), ("17299", 100)]:
        city = make_city(db, insee)
        cities.append((city, *make_member(db, city, Role.member), quantity))
    db.commit()

    sign_in(client, coordinator_user, coordinator_membership)
    assert client.post(f"/espace/achats-groupes/{purchase.id}/ouvrir").status_code == 302
    db.refresh(purchase)
    assert purchase.status is PurchaseStatus.open
    for _city, user, membership, quantity in cities:
        sign_in(client, user, membership)
        response = client.post(f"/achats-groupes/{purchase.id}/engagement", data={"quantity": str(quantity)})
        assert response.status_code == 302, text_of(response)[-800:]
    page = text_of(client.get(f"/achats-groupes/{purchase.id}"))
    assert "palier 3" in page and "100\u00a0€" in page and "Procédure adaptée (MAPA)" in page
    assert "aria-labelledby=\"paliers-titre paliers-desc\"" in page and "Paliers de prix HT" in page
    assert "s'est engagée pour 100" in page  # the last city sees its own commitment
    # What a city does not see: the others' quantities (the coordinator does).
    assert "Montant estimé" not in page
    sign_in(client, coordinator_user, coordinator_membership)
    members = text_of(client.get(f"/espace/achats-groupes/{purchase.id}/membres"))
    assert all(c.name in members for c, *_ in cities) and "40\u202f000\u00a0€ HT" in members
    csv = client.get(f"/espace/achats-groupes/{purchase.id}/membres.csv")
    assert csv.status_code == 200 and "Ville de Gien;" in csv.data.decode("utf-8-sig")

    monkeypatch.setattr("marketplace.purchasing.services.today", lambda: purchase.deadline + dt.timedelta(days=1))
    assert close_due() == 1
    db.expire_all()
    assert purchase.status is PurchaseStatus.closed and purchase.final_unit_price_ht_cents == 10_000
    closed_mails = db.scalars(select(OutgoingMail).where(OutgoingMail.subject.like("Achat groupé clos%"))).all()
    assert len(closed_mails) == 5 + 1 + 1  # every member, the coordinator, the startup
    gien_mail = next(m for m in closed_mails if m.to == cities[1][1].email)
    assert "soit 25\u202f000\u00a0€ HT" in gien_mail.body and "Vitré" not in gien_mail.body

    award = client.post(f"/espace/achats-groupes/{purchase.id}/attribuer",
                        data={"contract_reference": "2026-EP-014", "award_date": "2026-07-01",
                              "final_unit_price": "98"})
    assert award.status_code == 302
    db.expire_all()
    assert purchase.status is PurchaseStatus.awarded
    assert db.scalar(select(func.count()).select_from(OutgoingMail)
                     .where(OutgoingMail.subject.like("Achat groupé attribué%"))) == 6  # members and the startup

    # The convention is prefilled with every member and its need.
    convention = client.post(f"/espace/achats-groupes/{purchase.id}/convention")
    interview = text_of(client.get(convention.headers["Location"] + "?etape=1"))
    assert "Ville de Gien" in interview and 'value="25000"' in interview


def test_the_api_gives_the_live_figures_and_takes_a_commitment_with_a_token(db, fresh_database_url, redis_url,
                                                                            tmp_path, live_server):
    from marketplace.app import create_app
    from marketplace.core.settings import load_settings

    engine = make_engine(fresh_database_url)
    with make_session_factory(engine)() as session:
        coordinator = make_epci(session)
        purchase = make_purchase(session, coordinator)
        city = make_city(session, "45155")
        user, membership = make_member(session, city, Role.member)
        with bound_to_tenant(session, city.id):
            _, token = tenant_services.create_api_token(session, user, membership, "tableur")
        session.commit()
        purchase_id = purchase.id
    app = create_app(load_settings(passerelle_home=tmp_path / "home", secret_key="api-secret", redis_url=redis_url,
                                   database_url=fresh_database_url), engine=engine)
    base = live_server(app) + "/api/v1"
    auth = {"Authorization": f"Bearer {token}"}
    listing = requests.get(f"{base}/group-purchases", timeout=10).json()
    assert [p["id"] for p in listing["items"]] == [purchase_id]
    put = requests.put(f"{base}/group-purchases/{purchase_id}/commitment", json={"quantity": 250}, headers=auth,
                       timeout=10)
    assert put.status_code == 200 and put.json()["created"] is True and put.json()["amount_ht_cents"] == 250 * 13_500
    again = requests.put(f"{base}/group-purchases/{purchase_id}/commitment", json={"quantity": 250}, headers=auth,
                         timeout=10)
    assert again.json()["created"] is False  # idempotent
    figures = requests.get(f"{base}/group-purchases/{purchase_id}", timeout=10).json()
    assert figures["total_units"] == 250 and figures["current_tier"] == 1 and figures["unit_price_ht_cents"] == 13_500
    assert figures["next_tier"] == {"tier": 2, "units_missing": 250, "cities_missing": 0, "unit_price_ht_cents": 12_000}
    assert figures["procedure"]["recommended"] in {"dispense", "mapa"}
    assert requests.put(f"{base}/group-purchases/{purchase_id}/commitment", json={"quantity": 250},
                        timeout=10).status_code == 401
    assert requests.put(f"{base}/group-purchases/{purchase_id}/commitment", json={"quantity": -3}, headers=auth,
                        timeout=10).status_code == 422
    assert requests.delete(f"{base}/group-purchases/{purchase_id}/commitment", headers=auth, timeout=10).status_code == 204
    assert requests.delete(f"{base}/group-purchases/{purchase_id}/commitment", headers=auth, timeout=10).status_code == 204
    assert requests.get(f"{base}/group-purchases/{purchase_id}", timeout=10).json()["total_units"] == 0
    engine.dispose()


def test_fifty_cities_committing_at_once_all_count(fresh_database_url, redis_url, tmp_path, live_server):
    """50 collectivités commit in the same instant, over HTTP, each with its own token: 50 rows, and
    the figures are exactly their sum (the purchase row's lock serialises them on PostgreSQL)."""
    from marketplace.app import create_app
    from marketplace.core.settings import load_settings

    engine = make_engine(fresh_database_url)
    with make_session_factory(engine)() as session:
        purchase = make_purchase(session, make_epci(session), min_units=1, min_cities=1)
        communes = session.scalars(select(Commune.insee).where(Commune.departement_code == "36")
                                   .order_by(Commune.insee).limit(50)).all()
        tokens = []
        for insee in communes:
            city = make_city(session, insee)
            user, membership = make_member(session, city, Role.member)
            with bound_to_tenant(session, city.id):
                tokens.append(tenant_services.create_api_token(session, user, membership, "x")[1])
        session.commit()
        purchase_id = purchase.id
    app = create_app(load_settings(passerelle_home=tmp_path / "home", secret_key="api-secret", redis_url=redis_url,
                                   database_url=fresh_database_url), engine=engine)
    base = live_server(app) + "/api/v1"

    def commit(i_token):
        i, token = i_token
        return requests.put(f"{base}/group-purchases/{purchase_id}/commitment", json={"quantity": 10 + i},
                            headers={"Authorization": f"Bearer {token}"}, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=25) as pool:
        statuses = list(pool.map(commit, enumerate(tokens)))
    assert statuses == [200] * 50
    with make_session_factory(engine)() as session, all_tenants(session, because="the test counts every row"):
        rows = session.scalars(select(Commitment).where(Commitment.purchase_id == purchase_id)).all()
        assert len(rows) == 50 and sum(r.quantity for r in rows) == sum(10 + i for i in range(50))
        stored = session.get(GroupPurchase, purchase_id)
    figures = requests.get(f"{base}/group-purchases/{purchase_id}", timeout=10).json()
    assert figures["member_count"] == 50 and figures["total_units"] == sum(10 + i for i in range(50))
    assert stored.status is PurchaseStatus.open and today() < stored.deadline
    engine.dispose()


def test_the_demo_has_an_open_lighting_purchase_a_demo_city_can_join(client, db):
    from marketplace.demo import seed
    from tenants.models import Tenant

    seed(db)
    db.commit()
    purchase = db.scalar(select(GroupPurchase).where(GroupPurchase.status == PurchaseStatus.open))
    assert purchase is not None and purchase.coordinator.name == "Châteauroux Métropole"
    listing = text_of(client.get("/achats-groupes/"))
    assert purchase.title in listing and "2 collectivités" in listing
    vitre = db.scalar(select(Tenant).where(Tenant.name == "Ville de Vitré"))
    user, membership = make_member(db, vitre, Role.member)
    db.commit()
    sign_in(client, user, membership)
    assert client.post(f"/achats-groupes/{purchase.id}/engagement", data={"quantity": "600"}).status_code == 302
    page = text_of(client.get(f"/achats-groupes/{purchase.id}"))
    assert "palier 2" in page  # 2 250 points lumineux, 3 cities
