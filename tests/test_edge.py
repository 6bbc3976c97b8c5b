"""The edge of every request: one transaction, refusals mapped once, redirects kept on this site.

A service that refuses (ServiceError) after something was already written in the request leaves
nothing written, in every domain; the page says why (422), as the API does in JSON.
"""
from __future__ import annotations

import html

import pytest
from flask import url_for
from sqlalchemy import func, select

from marketplace.catalog.models import Lead, Solution
from marketplace.core.db import all_tenants
from marketplace.core.errors import ServiceError
from marketplace.funding.models import FundingAlert, ProgrammeScope
from marketplace.funding.plan.models import FundingPlan
from marketplace.web import safe_next
from tenants import services as tenant_services
from tenants.models import Role, User
from tests.factories import (
    SOLUTION_DATA,
    make_city,
    make_member,
    make_operator,
    make_programme,
    make_solution,
    make_startup,
)
from tests.helpers import sign_in


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def refuse(*args, **kwargs):
    raise ServiceError("Refus simulé après une première écriture.")


def count(db, model) -> int:
    with all_tenants(db, because="the test counts every tenant's rows"):
        return db.scalar(select(func.count()).select_from(model))


def test_tenants_a_refused_claim_leaves_no_account_behind(client, db):
    make_city(db, "36044")  # Châteauroux already has its space
    db.commit()
    users = count(db, User)
    response = client.post("/inscription", data={
        "full_name": "Bastien Roy", "email": "bastien@chateauroux.test", "password": "un-mot-de-passe-42",
        "kind": "collectivite", "territory": "Châteauroux (36000) — 36044", "job_title": "DGS"})
    assert response.status_code == 422 and "déjà un espace" in text(response)
    assert count(db, User) == users  # the account created before the refusal is gone with it


def test_catalog_a_refusal_after_the_lead_is_written_leaves_no_lead(client, db, monkeypatch):
    solution = make_solution(db, make_startup(db), status="published")
    city = make_city(db, "36044")
    buyer, membership = make_member(db, city, Role.member)
    db.commit()
    monkeypatch.setattr("marketplace.catalog.mails.send_lead", refuse)
    sign_in(client, buyer, membership)
    response = client.post(f"/solutions/{solution.id}/contacter",
                           data={"message": "Nous aimerions une démonstration au printemps prochain."})
    assert response.status_code == 422 and "Refus simulé" in text(response)
    assert count(db, Lead) == 0


def test_funding_a_refusal_after_the_scope_rows_are_added_leaves_the_perimeter_as_it_was(client, db, monkeypatch):
    region = make_operator(db, "Région Centre-Val de Loire")
    funder, membership = make_member(db, region, Role.member)
    programme = make_programme(db, region, status="draft", scope=())
    db.commit()
    monkeypatch.setattr("marketplace.funding.territory.record_version", refuse)
    sign_in(client, funder, membership)
    response = client.post(f"/operateur/financements/{programme.id}/perimetre",
                           data={"mode": "include", "level": "region", "value": "24"})
    assert response.status_code == 422 and "Refus simulé" in text(response)
    assert count(db, ProgrammeScope) == 0


def test_plans_a_refusal_after_the_plan_is_written_leaves_no_plan(client, db, monkeypatch):
    city = make_city(db, "36044")
    user, membership = make_member(db, city, Role.member)
    db.commit()
    monkeypatch.setattr("marketplace.funding.plan.services.audit.record", refuse)
    sign_in(client, user, membership)
    response = client.post("/espace/plans-de-financement/nouveau", data={
        "title": "Éclairage", "cost": "100 000", "eligible_cost": "100 000", "reference_date": "2026-12-01",
        "ordering": "priority", "lines-0-label": "DSIL", "lines-0-kind": "state_grant:DSIL", "lines-0-rate": "40"})
    assert response.status_code == 422 and "Refus simulé" in text(response)
    assert count(db, FundingPlan) == 0


def test_alerts_a_refusal_after_the_alert_is_written_leaves_no_alert(client, db, monkeypatch):
    city = make_city(db, "36044")
    user, membership = make_member(db, city, Role.member)
    db.commit()
    monkeypatch.setattr("marketplace.funding.mine.mails.send_confirmation", refuse)
    sign_in(client, user, membership)
    response = client.post("/espace/alertes/nouvelle?q=eclairage",
                           data={"name": "Éclairage", "email": user.email, "frequency": "daily"})
    assert response.status_code == 422 and "Refus simulé" in text(response)
    assert count(db, FundingAlert) == 0


def test_the_api_answers_a_refusal_in_json_and_keeps_nothing(client, db, monkeypatch):
    startup = make_startup(db)
    user, membership = make_member(db, startup, Role.member)
    db.flush()
    _, token = tenant_services.create_api_token(db, user, membership, "test")
    db.commit()
    monkeypatch.setattr("marketplace.catalog.services.audit.record", refuse)
    body = {k: v for k, v in SOLUTION_DATA.items() if v is not None}
    response = client.post("/api/v1/solutions", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422
    assert response.get_json()["message"] == "Refus simulé après une première écriture."
    assert count(db, Solution) == 0


@pytest.mark.parametrize("target", [
    "//evil.example", "/\\evil.example", "/\t/evil.example", "/%09/evil.example".replace("%09", "\t"),
    "/\r\nLocation: https://evil.example", "https://evil.example", "javascript:alert(1)", "", None, 12,
])
def test_safe_next_keeps_redirects_on_this_site(target):
    assert safe_next(target) is None


def test_safe_next_accepts_paths_of_this_site():
    assert safe_next("/financements/12?pour=moi#appels") == "/financements/12?pour=moi#appels"


def test_the_programme_state_form_does_not_redirect_off_site(client, db):
    region = make_operator(db, "Région Centre-Val de Loire")
    funder, membership = make_member(db, region, Role.member)
    programme = make_programme(db, region, status="draft")
    db.commit()
    sign_in(client, funder, membership)
    response = client.post(f"/operateur/financements/{programme.id}/etat",
                           data={"action": "submit", "next": "/\\evil.example"})
    assert response.status_code == 302 and response.headers["Location"] == f"/financements/{programme.id}"


def test_every_page_carries_the_security_headers(client):
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert response.headers["Permissions-Policy"].startswith("camera=()")
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers  # http://passerelle.test: no HSTS
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and "<script>" not in docs.get_data(as_text=True)  # Swagger UI without inline code


def test_production_over_https_asks_for_https_and_secure_cookies(settings, engine):
    from marketplace.app import create_app

    app = create_app(settings.model_copy(update={"base_url": "https://passerelle.example"}), engine=engine)
    response = app.test_client().get("/")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_templates_links_are_the_routers_whatever_the_cache(app):
    kept = app.jinja_env.globals["url_for"]
    with app.test_request_context("/"):
        for programme_id in (1, 2, 1):
            assert kept("funding.programme", programme_id=programme_id) == url_for("funding.programme",
                                                                                   programme_id=programme_id)
        assert kept("funding.index", q="éclairage public", page=2) == url_for("funding.index", q="éclairage public",
                                                                              page=2)
        assert kept("funding.index", _anchor="liste") == url_for("funding.index", _anchor="liste")
        assert kept("funding.index", _external=True).startswith("http")
    with app.test_request_context("/", base_url="http://localhost/sous-dossier"):
        mounted = kept("funding.programme", programme_id=1)
        assert mounted == url_for("funding.programme", programme_id=1) and mounted.startswith("/sous-dossier/")
