"""POST /api/v1/funding-plans: compute over HTTP, French per-field errors, nothing stored."""
from __future__ import annotations

from sqlalchemy import func, select

from marketplace.core.db import all_tenants
from marketplace.funding.plan.models import FundingPlan

URL = "/api/v1/funding-plans"
ISSUE = {
    "cost_ht_cents": 100_000_000,
    "eligible_cost_ht_cents": 100_000_000,
    "date": "2026-11-22",
    "lines": [
        {"label": "DSIL", "category": "state_grant", "state_family": "DSIL", "requested_rate_bp": 5000},
        {"label": "DETR", "category": "state_grant", "state_family": "DETR", "requested_rate_bp": 4000},
        {"label": "FEDER", "category": "eu_grant", "requested_rate_bp": 4000},
    ],
}


def test_the_issue_example_over_the_api_without_a_token(client, db):
    response = client.post(URL, json=ISSUE)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["totals"]["grants_cents"] == 80_000_000
    assert body["totals"]["owner_share_cents"] == 20_000_000
    assert body["totals"]["owner_share_percent"] == "20.00"
    assert body["ordering"] == "priority" and body["date"] == "2026-11-22"
    # Without priorities, the lines keep their position: the last entered gives way first.
    assert [(line["label"], line["priority"], line["granted_cents"]) for line in body["lines"]] == [
        ("DSIL", 1, 50_000_000), ("DETR", 2, 30_000_000), ("FEDER", 3, 0)]
    feder = body["lines"][2]
    assert [(r["code"], r["reference"], r["amount_cents"]) for r in feder["reductions"]] == [
        ("AIDES_PUBLIQUES_100", "Décret n° 2018-514 du 25 juin 2018, art. 10", 20_000_000),
        ("MO_20", "CGCT, art. L1111-10, III", 20_000_000)]
    assert feder["kind_label"] == "Fonds européens (FEDER, FSE+, LEADER…)"
    assert "La ligne est ramenée à 0\u00a0€." in feder["reductions"][1]["explanation"]
    assert [r["code"] for r in body["rules"]] == ["ETAT_80", "AIDES_PUBLIQUES_100", "MO_20", "DETR_TAUX_MIN"]
    with all_tenants(db, because="the test reads every tenant"):
        assert db.scalar(select(func.count()).select_from(FundingPlan)) == 0  # compute only


def test_the_giving_way_rule_and_the_date_are_the_callers(client):
    body = client.post(URL, json={**ISSUE, "ordering": "proportional"}).json
    assert body["totals"]["grants_cents"] == 80_000_000 and all(line["reductions"] for line in body["lines"])
    old = client.post(URL, json={**ISSUE, "date": "2011-06-01"}).json  # before L1111-10 III and the decrees
    assert [r["code"] for r in old["rules"]] == ["EQUILIBRE"]
    assert old["totals"]["grants_cents"] == 100_000_000


def test_loans_come_back_apart(client):
    lines = [{"label": "DSIL", "category": "state_grant", "state_family": "DSIL", "requested_rate_bp": 8000},
             {"label": "Prêt", "category": "loan", "requested_amount_cents": 15_000_000}]
    totals = client.post(URL, json={**ISSUE, "lines": lines}).json["totals"]
    assert (totals["grants_cents"], totals["loans_cents"], totals["owner_share_cents"], totals["own_funds_cents"]) == (
        80_000_000, 15_000_000, 20_000_000, 5_000_000)


def test_bad_input_answers_422_with_french_messages_per_field(client):
    response = client.post(URL, json={"eligible_cost_ht_cents": -1, "ordering": "au hasard", "lines": []})
    assert response.status_code == 422 and response.is_json
    errors = response.json["errors"]["json"]
    assert errors["cost_ht_cents"] == ["Ce champ est obligatoire."]
    assert errors["eligible_cost_ht_cents"] == ["Montant en centimes entre 0 et 10^12."]
    assert errors["ordering"] == ["Règle inconnue : priority, order_entered ou proportional."]
    assert errors["lines"] == ["Entre 1 et 30 lignes de financement."]

    response = client.post(URL, json={**ISSUE, "eligible_cost_ht_cents": 200_000_000, "lines": [
        {"label": "DETR", "category": "state_grant", "requested_rate_bp": 12000},
        {"label": "FEDER", "category": "eu_grant", "state_family": "DSIL", "requested_rate_bp": 10,
         "requested_amount_cents": 10},
        {"category": "prêt d'honneur", "requested_amount_cents": "beaucoup"},
    ]})
    assert response.status_code == 422
    errors = response.json["errors"]["json"]
    assert errors["eligible_cost_ht_cents"] == ["La dépense éligible ne peut pas dépasser le coût du projet."]
    lines = errors["lines"]
    assert lines["0"]["requested_rate_bp"] == ["Taux en points de base, entre 0 et 10 000 (100 %)."]
    assert lines["1"]["state_family"] == ["Seule une subvention de l'État a une dotation (DETR, DSIL…)."]
    assert lines["1"]["requested_rate_bp"] == ["Indiquez un taux ou un montant demandé, pas les deux."]
    assert lines["2"]["label"] == ["Ce champ est obligatoire."]
    assert lines["2"]["category"][0].startswith("Catégorie inconnue")
    assert lines["2"]["requested_amount_cents"] == ["Nombre entier attendu."]

    response = client.post(URL, json={**ISSUE, "lines": [{"label": "DETR", "category": "state_grant",
                                                          "requested_rate_bp": 3000}]})
    assert response.json["errors"]["json"]["lines"]["0"]["state_family"] == [
        "Précisez la dotation de l'État : DETR, DSIL, DPV, DSID ou Fonds vert."]


def test_the_endpoint_is_documented(client):
    spec = client.get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/funding-plans"]["post"]
    assert operation["summary"] == "Calcule un plan de financement"
    assert "security" not in operation
