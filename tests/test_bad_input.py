"""Whatever comes in, a clear answer and nothing changed: never a 500.

Each case here once answered 500 (or worse, stored something that broke a page for good).
"""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from marketplace.core.db import bound_to_tenant
from marketplace.funding.mine import alerts
from marketplace.funding.mine.services import Criteria
from marketplace.funding.plan.models import FundingPlan
from tenants.models import Role
from tests.factories import make_city, make_member, make_operator, make_startup
from tests.helpers import sign_in

HUGE = "99999999999999999999999"  # past 2⁶³


@pytest.mark.parametrize("url", [
    f"/api/v1/solutions/{HUGE}", f"/api/v1/programmes/{HUGE}", f"/solutions/{HUGE}", f"/financements/{HUGE}",
    f"/espace/plans-de-financement/{HUGE}", f"/solutions?page={HUGE}", f"/financements?page={HUGE}",
    f"/api/v1/solutions?page={HUGE}", f"/api/v1/programmes?page={HUGE}&page_size={HUGE}",
])
def test_numbers_past_64_bits_in_the_address_are_refused_or_not_found(client, db, url):
    user, membership = make_member(db, make_city(db, "36044"), Role.admin)
    db.commit()
    sign_in(client, user, membership)
    response = client.get(url)
    assert response.status_code in (200, 302, 400, 404, 422), f"{url} → {response.status_code}"


def test_an_api_amount_past_64_bits_is_a_validation_error(client, db):
    from tenants import services

    startup = make_startup(db)
    user, membership = make_member(db, startup, Role.admin)
    with bound_to_tenant(db, startup.id):
        _, token = services.create_api_token(db, user, membership, "outil")
    db.commit()
    response = client.post("/api/v1/solutions", headers={"Authorization": f"Bearer {token}"},
                           json={"name": "Trop chère", "price_min_ht_cents": int(HUGE)})
    assert response.status_code == 422 and "price_min_ht_cents" in response.json["errors"]["json"]


def test_json_nested_without_end_is_a_bad_request(client):
    body = "[" * 100_000 + "]" * 100_000
    response = client.post("/api/v1/funding-plans", data=body, content_type="application/json")
    assert response.status_code == 400 and "message" in response.json


def test_a_lone_surrogate_in_json_is_refused_or_cleaned(client):
    body = '{"cost_ht_cents": 1000, "eligible_cost_ht_cents": 1000, "title": "\\udfff", "lines": []}'
    response = client.post("/api/v1/funding-plans", data=body, content_type="application/json")
    assert response.status_code in (200, 400, 422)


@pytest.mark.parametrize("target", ["/espace/\r\nSet-Cookie:%20x=1", "/%0d%0aLocation:%20//evil.example",
                                    "/\t/evil.example", "//evil.example"])
def test_a_next_with_control_characters_signs_in_and_stays_on_this_site(client, db, target):
    from tests.factories import PASSWORD

    user, _ = make_member(db, make_city(db, "36044"), Role.admin)
    db.commit()
    response = client.post(f"/connexion?next={target}", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith("//") and "evil" not in location
    assert "\r" not in location and "\n" not in location


def test_a_nul_byte_in_a_plan_title_never_breaks_its_export(client, db):
    city = make_city(db, "36044")
    user, membership = make_member(db, city, Role.admin)
    db.commit()
    sign_in(client, user, membership)
    form = {"title": "Gymnase\x00 de la ville", "cost": "1 000", "eligible_cost": "1 000", "ordering": "priority",
            "reference_date": "2026-11-22", "lines-0-label": "=cmd|' /C calc'!A0", "lines-0-kind": "state_grant:DSIL",
            "lines-0-rate": "50", "lines-0-priority": "1", "action": "save"}
    response = client.post("/espace/plans-de-financement/nouveau", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    with bound_to_tenant(db, city.id):
        plan = db.scalar(select(FundingPlan).order_by(FundingPlan.id.desc()))
    assert plan.title == "Gymnase de la ville"  # the control character is gone
    export = client.get(f"/espace/plans-de-financement/{plan.id}/plan.xlsx")
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.data)).active
    cells = [c for row in sheet.iter_rows() for c in row if isinstance(c.value, str) and "cmd|" in c.value]
    assert cells and all(c.data_type == "s" for c in cells)  # text, not a formula


def test_binary_data_as_a_label_list_is_refused_in_french(client, db):
    from marketplace.funding import labels as label_lists
    from tests.factories import make_label

    operator = make_operator(db, "Région Centre-Val de Loire")
    user, membership = make_member(db, operator, Role.member)
    label = make_label(db, "Ma liste", ("36044",), owner=operator)
    db.commit()
    sign_in(client, user, membership)
    data = {"upload": "1", "file": (io.BytesIO(b"\x00\xff\xfe\x01\x9c binaire \x00\x00"), "liste.csv")}
    response = client.post(f"/operateur/financements/labels/{label.id}", data=data,
                           content_type="multipart/form-data", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code in (200, 422) and "ni un CSV ni un classeur XLSX" in page, page[-3000:]
    assert label_lists.label_commune_count(db, label) == 1  # the list as it was


def test_a_confirmation_link_opened_while_signed_in_elsewhere_works(client, db):
    issoudun = make_city(db, "36088")
    mayor, _ = make_member(db, issoudun, Role.admin)
    with bound_to_tenant(db, issoudun.id):
        alert = alerts.create_alert(db, mayor, issoudun, {"name": "Éclairage", "email": mayor.email,
                                                           "frequency": "daily", "criteria": Criteria()})
    colleague, membership = make_member(db, make_city(db, "36044"), Role.admin)
    db.commit()
    sign_in(client, colleague, membership)  # the mail was opened in a browser signed in to another city
    token = alerts.confirm_token(client.application.secret_key, alert)
    assert client.get(f"/alertes/confirmer/{token}").status_code == 200
    assert client.post(f"/alertes/confirmer/{token}").status_code == 200
    db.refresh(alert)
    assert alert.status.value == "active"


def test_a_closing_date_in_year_9999_is_refused(client, db):
    from tests.factories import make_programme

    funder = make_operator(db, "Région Centre-Val de Loire")
    user, membership = make_member(db, funder, Role.member)
    programme = make_programme(db, funder, status="draft", actor=user)
    db.commit()
    sign_in(client, user, membership)
    response = client.post(f"/operateur/financements/{programme.id}/appels/nouveau",
                           data={"title": "Appel éternel", "closes_on": "9999-12-31"})
    assert response.status_code in (400, 422) and "2100" in response.get_data(as_text=True)


def test_a_method_not_allowed_says_which_are(client):
    response = client.delete("/connexion")
    assert response.status_code == 405 and "GET" in response.headers["Allow"]


def test_a_refused_plan_form_stores_nothing(client, db):
    user, membership = make_member(db, make_city(db, "36044"), Role.admin)
    db.commit()
    sign_in(client, user, membership)
    response = client.post("/espace/plans-de-financement/nouveau", data={"title": "", "cost": "-5", "action": "save"})
    assert response.status_code in (400, 422)
    with bound_to_tenant(db, membership.tenant_id):
        assert db.scalar(select(func.count()).select_from(FundingPlan)) == 0
