"""The annuaire's JSON API: published solutions for anyone, drafts written with a startup's token."""
from __future__ import annotations

from marketplace.core.db import bound_to_tenant
from tenants import services
from tests.factories import SOLUTION_DATA, make_member, make_reference, make_solution, make_startup


def test_a_published_solution_is_public_json_with_its_references(client, db):
    solution = make_solution(db, status="published")
    make_reference(db, solution, insee="36044")
    db.commit()
    body = client.get(f"/api/v1/solutions/{solution.id}").get_json()
    assert body["name"] == solution.name and body["price_min_ht_cents"] == 8000
    assert "contact_email" not in body  # buyers write through the lead form
    assert body["deployments"] == 1 and body["verified_references"] == 0
    assert body["references"][0]["territory_name"] == "Châteauroux"
    assert body["references"][0]["verified"] is False


def test_drafts_answer_404_in_json(client, db):
    draft = make_solution(db)
    db.commit()
    response = client.get(f"/api/v1/solutions/{draft.id}")
    assert response.status_code == 404 and response.is_json
    assert "Aucune solution publiée" in response.get_json()["message"]


def test_the_list_is_paginated_and_filtered_by_domain(client, db):
    lights = [make_solution(db, status="published", name=f"Lumière {i}") for i in range(3)]
    make_solution(db, status="published", name="Parking", domains=["mobilite-stationnement"])
    make_solution(db, name="Brouillon")
    db.commit()
    body = client.get("/api/v1/solutions?per_page=2&domain=eclairage-public").get_json()
    assert body["total"] == 3 and len(body["items"]) == 2 and body["per_page"] == 2
    everything = client.get("/api/v1/solutions?per_page=100").get_json()
    names = {s["name"] for s in everything["items"]}
    assert {s.name for s in lights} | {"Parking"} <= names and "Brouillon" not in names


def test_bad_query_parameters_are_answered_per_field_in_french(client):
    response = client.get("/api/v1/solutions?page=0&per_page=500&domain=nulle-part")
    assert response.status_code == 422
    errors = response.get_json()["errors"]["query"]
    assert errors["page"] == ["Page 1 au moins."]
    assert errors["per_page"] == ["Entre 1 et 100."]
    assert errors["domain"] == ["Domaine inconnu."]


def _token(db, tenant):
    user, membership = make_member(db, tenant)
    with bound_to_tenant(db, tenant.id):
        _, token = services.create_api_token(db, user, membership, "intégration")
    db.commit()
    return {"Authorization": f"Bearer {token}"}


def test_a_startup_creates_a_draft_with_its_token(client, db):
    startup = make_startup(db)
    headers = _token(db, startup)
    response = client.post("/api/v1/solutions", json=SOLUTION_DATA, headers=headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "draft"
    assert client.get(f"/api/v1/solutions/{body['id']}").status_code == 404  # not published


def test_invalid_solutions_are_refused_per_field(client, db):
    headers = _token(db, make_startup(db))
    response = client.post("/api/v1/solutions", headers=headers, json={
        **SOLUTION_DATA, "domains": [], "price_min_ht_cents": 500, "price_max_ht_cents": 100,
        "website": "ftp://x", "contact_email": "non"})
    assert response.status_code == 422
    errors = response.get_json()["errors"]["json"]
    assert errors["domains"] == ["Choisissez entre 1 et 5 domaines."]
    assert errors["price_max_ht_cents"] == ["Le prix maximum doit être supérieur ou égal au prix minimum."]
    assert errors["website"] == ["Adresse web invalide (https://…)."]
    assert errors["contact_email"] == ["Adresse électronique invalide."]


def test_only_startups_create_solutions(client, db, people):
    headers = _token(db, people.city)
    assert client.post("/api/v1/solutions", json=SOLUTION_DATA, headers=headers).status_code == 403
    assert client.post("/api/v1/solutions", json=SOLUTION_DATA).status_code == 401
