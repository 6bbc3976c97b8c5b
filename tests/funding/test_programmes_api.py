"""The guichet's JSON API: programmes with INSEE-coded territories, eligibility with reasons,
French validation errors."""
from __future__ import annotations

import pytest

from marketplace.funding import eligibility
from tests.factories import make_epci, make_label, make_operator, make_programme

pytestmark = pytest.mark.usefixtures("indexed")


def test_a_programme_is_public_json_with_its_coded_territory_and_exact_count(client, db):
    programme = make_programme(db, scope=(("include", "region", "24"), ("exclude", "departement", "37")),
                               funder_level="state", state_family="DSIL", rate_max_bp=None)
    db.commit()
    body = client.get(f"/api/v1/programmes/{programme.id}").get_json()
    assert body["title"] == programme.title and body["plan_category"] == "state_grant" and body["state_family"] == "DSIL"
    assert body["eligibility"]["scope"] == [
        {"mode": "include", "level": "region", "code": "24", "name": "Centre-Val de Loire"},
        {"mode": "exclude", "level": "departement", "code": "37", "name": "Indre-et-Loire"}]
    assert body["eligibility"]["population_below"] == 20000 and body["eligibility"]["beneficiary_kinds"] == ["commune"]
    assert body["eligible_communes"] == eligibility.eligible_communes_count(db, programme)
    assert body["url"] == f"/financements/{programme.id}" and body["version"] == programme.version


def test_drafts_and_unknown_ids_answer_404_in_french_json(client, db):
    draft = make_programme(db, status="draft")
    db.commit()
    for url in (f"/api/v1/programmes/{draft.id}", "/api/v1/programmes/999999",
                f"/api/v1/programmes/{draft.id}/communes"):
        response = client.get(url)
        assert response.status_code == 404 and response.is_json
        assert "Aucun programme publié" in response.get_json()["message"]
    response = client.get("/api/v1/territories/communes/99999/programmes")
    assert response.status_code == 404 and response.get_json()["message"] == "Aucune commune n'a le code INSEE « 99999 »."


def test_programmes_for_a_commune_with_reasons(client, db):
    label = make_label(db, "Action Cœur de Ville", ("36044",))
    regional = make_programme(db, title="Régional", scope=(("include", "region", "24"),), population_below=None)
    acv = make_programme(db, title="Cœur de ville", scope=(("include", "label", label.slug),), population_below=None)
    make_programme(db, title="Bretagne", scope=(("include", "region", "53"),))
    make_programme(db, title="Brouillon", status="draft")
    db.commit()
    body = client.get("/api/v1/territories/communes/36044/programmes").get_json()
    assert body["commune"]["name"] == "Châteauroux" and body["commune"]["population"] == 42963
    assert body["total"] == 2
    by_title = {item["programme"]["title"]: item for item in body["items"]}
    assert set(by_title) == {"Régional", "Cœur de ville"}
    assert by_title["Cœur de ville"]["reason"] == "commune de 42\u202f963 habitants, labellisée Action Cœur de Ville"
    assert by_title["Régional"]["reasons"] == ["commune de 42\u202f963 habitants", "région Centre-Val de Loire"]
    assert by_title["Régional"]["programme"]["id"] == regional.id and acv.id
    paged = client.get("/api/v1/territories/communes/36044/programmes?per_page=1&page=2").get_json()
    assert paged["total"] == 2 and len(paged["items"]) == 1


def test_programmes_for_an_epci(client, db):
    programme = make_programme(db, scope=(("include", "region", "24"),), beneficiary_kinds=["epci"], population_below=None)
    make_epci(db)
    db.commit()
    body = client.get("/api/v1/territories/epci/243600327/programmes").get_json()
    assert body["epci"]["name"] == "CA Châteauroux Métropole" and body["total"] == 1
    assert body["items"][0]["programme"]["id"] == programme.id
    assert "toutes ses communes membres dans le périmètre" in body["items"][0]["reasons"]


def test_the_list_filters_by_theme_level_aid_and_territory(client, db):
    state = make_operator(db, "État")
    lights = make_programme(db, state, title="Éclairage", themes=["eclairage-public"], funder_level="state",
                            scope=(("include", "france", ""),), population_below=None)
    loan = make_programme(db, title="Prêt", aid_types=["pret"], funder_level="banque_des_territoires",
                          scope=(("include", "france", ""),), population_below=None)
    regional = make_programme(db, title="Régional", scope=(("include", "region", "24"),))
    breton = make_programme(db, title="Breton", scope=(("include", "departement", "35"),))
    db.commit()

    def titles(query):
        body = client.get("/api/v1/programmes?per_page=100&" + query).get_json()
        return {item["title"] for item in body["items"]}

    assert titles("theme=eclairage-public") == {"Éclairage"}
    assert titles("funder_level=banque_des_territoires") == {"Prêt"} and titles("aid_type=pret") == {"Prêt"}
    assert titles("region=24") == {"Éclairage", "Prêt", "Régional"}
    assert titles("departement=35") == {"Éclairage", "Prêt", "Breton"}
    assert titles("commune=36088") == {"Éclairage", "Prêt", "Régional"}  # Issoudun: 11 159 inhabitants
    assert titles("commune=36044") == {"Éclairage", "Prêt"}  # Châteauroux: over 20 000
    assert titles("commune=35360") == {"Éclairage", "Prêt", "Breton"}
    assert lights.id and loan.id and regional.id and breton.id


def test_bad_query_parameters_are_answered_per_field_in_french(client):
    response = client.get("/api/v1/programmes?page=0&per_page=500&theme=nulle-part&funder_level=mairie")
    assert response.status_code == 422
    errors = response.get_json()["errors"]["query"]
    assert errors["page"] == ["Page 1 au moins."] and errors["per_page"] == ["Entre 1 et 100."]
    assert errors["theme"] == ["Thématique inconnue."] and errors["funder_level"] == ["Échelon inconnu."]
    response = client.get("/api/v1/programmes?commune=99999")
    assert response.status_code == 422
    assert response.get_json()["errors"]["query"]["commune"] == ["Aucune commune n'a le code INSEE « 99999 »."]


def test_the_communes_of_a_programme_are_paginated(client, db):
    programme = make_programme(db, scope=(("include", "departement", "36"),), population_below=20000)
    db.commit()
    body = client.get(f"/api/v1/programmes/{programme.id}/communes?per_page=10&page=2").get_json()
    assert body["total"] == eligibility.eligible_communes_count(db, programme) and len(body["items"]) == 10
    assert all(c["departement_code"] == "36" and c["population"] < 20000 for c in body["items"])


def test_the_api_is_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/programmes", "/api/v1/programmes/{programme_id}",
                 "/api/v1/territories/communes/{insee}/programmes"):
        assert path in spec["paths"], path
