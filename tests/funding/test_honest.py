"""Eligibility that does not overstate, facts that say their age, and what people type accepted."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from marketplace.core.clock import today
from marketplace.demo import seed
from marketplace.funding import eligibility, territory
from marketplace.funding.eligibility import bounds_phrase
from marketplace.funding.models import Programme
from tenants.models import Role, Tenant
from tenants.territories import services as territories
from tenants.territories.models import Commune, Epci
from tests.factories import make_city, make_member, make_programme, make_user
from tests.helpers import sign_in

LITTORAL = "Fonds vert — Accompagnement pour l’adaptation des territoires littoraux au recul du trait de côte"
MONTAGNE = "Fonds vert — Appui aux collectivités de montagne soumises à des risques émergents"


@pytest.fixture
def demo(db):
    seed(db)
    db.commit()
    return {p.title: p for p in db.scalars(select(Programme))}


def test_an_inland_city_is_never_told_plainly_it_is_eligible_to_the_coast_or_mountain_measures(client, db, demo):
    offers = eligibility.offers_for_epci(db, db.get(Epci, "243600327"))  # Châteauroux Métropole, Indre
    by_title = {demo_title: o for o in offers for demo_title, p in demo.items() if p.id == o.programme_id}
    assert by_title[LITTORAL].to_check and by_title[MONTAGNE].to_check
    assert by_title[LITTORAL].headline.startswith("Éligibilité à vérifier : réservée aux communes exposées")
    exact = [bool(o.to_check) for o in offers]
    assert exact == sorted(exact), "programmes to check come after the exact ones"

    city = db.scalar(select(Tenant).where(Tenant.name == "Châteauroux Métropole"))
    user, membership = make_member(db, city, Role.viewer)
    db.commit()
    sign_in(client, user, membership)
    page = client.get("/espace/financements").get_data(as_text=True)
    littoral_card = page[page.index(LITTORAL):][:3000]
    assert "Éligibilité à vérifier" in littoral_card and "Éligible :" not in littoral_card.split("fr-card__end")[1][:400]
    # Every exact programme is listed before the first one to check.
    first_to_check = page.index("Éligibilité à vérifier")
    assert page.rfind("Éligible :") < first_to_check
    verdict = client.get(f"/financements/{demo[LITTORAL].id}").get_data(as_text=True)
    assert "Éligibilité de Châteauroux Métropole à vérifier" in verdict


def test_the_api_says_which_offers_are_exact(client, db, demo):
    body = client.get("/api/v1/territories/communes/36044/programmes?per_page=100").json
    by_title = {item["programme"]["title"]: item for item in body["items"]}
    assert by_title[LITTORAL]["exact"] is False and "trait de côte" in by_title[LITTORAL]["to_check"]
    dsil = by_title["Dotation de soutien à l'investissement local (DSIL)"]
    assert dsil["exact"] is True and dsil["to_check"] == ""


def test_facts_checked_more_than_a_year_ago_are_badged_and_listed_for_curators(client, db, demo):
    fonds_vert = demo["Fonds vert — Recyclage foncier"]
    assert fonds_vert.facts_checked_on == dt.date(2023, 12, 31) and fonds_vert.facts_stale(dt.date(2026, 12, 1))
    assert "édition 2023" in fonds_vert.summary
    page = client.get(f"/financements/{fonds_vert.id}").get_data(as_text=True)
    assert "À vérifier" in page and "Faits vérifiés le 31 décembre 2023" in page and "source officielle" in page
    dsil = demo["Dotation de soutien à l'investissement local (DSIL)"]
    assert not dsil.facts_stale(dsil.facts_checked_on + dt.timedelta(days=30))

    curator = db.scalar(select(Tenant).where(Tenant.name.like("%ANCT%")))
    user, membership = make_member(db, curator, Role.member)
    db.commit()
    sign_in(client, user, membership)
    listed = client.get("/operateur/financements/?revoir=1").get_data(as_text=True)
    assert "Fonds vert — Recyclage foncier" in listed


def test_a_new_programme_is_dated_today_and_its_date_can_be_set(db):
    programme = make_programme(db, status="draft")
    assert programme.facts_checked_on == today()


def test_a_rule_stored_as_below_20_001_reads_as_it_was_written():
    assert bounds_phrase(None, 20001) == "au plus 20\u202f000 habitants"
    assert bounds_phrase(3500, 20001, with_de=True) == "d'au moins 3\u202f500 et d'au plus 20\u202f000 habitants"
    assert bounds_phrase(None, 20000) == "moins de 20\u202f000 habitants"


@pytest.mark.parametrize("typed", ["20 000", "20\u00a0000", "20\u202f000", "20000"])
def test_population_bounds_accept_french_spacing(client, db, typed):
    from tests.factories import make_operator

    funder = make_operator(db, "Région Centre-Val de Loire")
    user, membership = make_member(db, funder, Role.member)
    programme = make_programme(db, funder, status="draft", actor=user)
    db.commit()
    sign_in(client, user, membership)
    form = {"title": programme.title, "summary": programme.summary, "funders": "Région", "funder_level": "region",
            "aid_types": "subvention", "beneficiary_kinds": "commune", "recurrence": "permanent",
            "source_url": "https://www.centre-valdeloire.fr/", "population_below": typed}
    response = client.post(f"/operateur/financements/{programme.id}/modifier", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    db.refresh(programme)
    assert programme.population_below == 20000


@pytest.mark.parametrize("typed, insee", [
    ("Gien (45155)", "45155"), ("Gien (45500)", "45155"), ("45500 Gien", "45155"), ("45155", "45155"),
    ("gien", "45155"), ("Châteauroux", "36044"), ("chateauroux", "36044"), ("Issoudun (36100) — 36088", "36088"),
])
def test_a_commune_is_found_as_people_type_it_and_as_pages_print_it(db, typed, insee):
    choice = territories.resolve_territory(db, typed, communes_only=True)
    assert choice.commune is not None and choice.commune.insee == insee, (typed, choice.error, choice.candidates)


def test_a_shared_postal_code_or_an_ambiguous_name_lists_the_candidates(client, db):
    choice = territories.resolve_territory(db, "45500", communes_only=True)
    assert choice.commune is None and len(choice.candidates) > 1
    assert any(text.startswith("Gien (Loiret") for _, text in choice.candidates)
    page = client.get("/financements?commune=Saint-Martin").get_data(as_text=True)
    assert "Plusieurs territoires correspondent" in page and page.count("Saint-Martin (") >= 2
    found = client.get("/financements?commune=Gien (45155)")
    assert found.status_code == 200 and "auxquels Gien (45155) est éligible" in found.get_data(as_text=True)


def test_a_list_of_communes_with_one_already_in_the_perimeter_adds_the_others(db):
    make_city(db, "36044")
    programme = make_programme(db, status="draft", scope=(("include", "commune", "36044"),))
    change = territory.add_scope(db, make_user(db), programme, include=True, level="commune", value="36044 36088 45155")
    assert [r.code for r in change.rows] == ["36088", "45155"] and change.already == ["Châteauroux"]
    assert change.message == "2 lignes ajoutées au périmètre ; déjà présente : Châteauroux."
    assert {s.code for s in programme.scope} == {"36044", "36088", "45155"}


def test_the_commune_lookup_handles_corsica(db):
    commune = db.get(Commune, "2A004")
    assert territories.resolve_territory(db, f"{commune.name} (2A004)", communes_only=True).commune.insee == "2A004"
