"""Funding plan pages: the form, the result with its explanations and chart, roles, exports."""
from __future__ import annotations

import html
import io
import re

import openpyxl
from pypdf import PdfReader
from sqlalchemy import select

from marketplace.core.audit import AuditEvent
from marketplace.core.db import all_tenants
from marketplace.funding.plan.models import FundingPlan, PlanEvent
from tenants.models import Role
from tests.factories import make_city, make_member, make_startup
from tests.helpers import sign_in

BASE = "/espace/plans-de-financement"

ISSUE_FORM = {
    "title": "Rénovation de l'éclairage public",
    "cost": "1 000 000",
    "eligible_cost": "1 000 000,00 €",
    "reference_date": "2026-11-22",
    "ordering": "priority",
    "lines-0-label": "DSIL 2026", "lines-0-kind": "state_grant:DSIL", "lines-0-rate": "50", "lines-0-priority": "1",
    "lines-1-label": "DETR 2026", "lines-1-kind": "state_grant:DETR", "lines-1-rate": "40 %", "lines-1-priority": "2",
    "lines-2-label": "FEDER Centre-Val de Loire", "lines-2-kind": "eu_grant", "lines-2-rate": "40",
    "lines-2-priority": "3",
    "lines-3-label": "", "lines-3-kind": "", "lines-3-priority": "4",  # the blank row the form offers
    "action": "save",
}


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def squash(value: str) -> str:
    """Spaces of any kind (French typography's narrow no-break ones included) as one plain space."""
    return re.sub(r"[\s\u202f\u00a0]+", " ", value)


def city_member(db, client, role=Role.member, insee="36044"):
    city = make_city(db, insee)
    user, membership = make_member(db, city, role)
    db.commit()
    sign_in(client, user, membership)
    return city, user


def plans(db, city):
    db.expire_all()
    with all_tenants(db, because="the test reads every tenant"):
        return db.scalars(select(FundingPlan).where(FundingPlan.tenant_id == city.id).order_by(FundingPlan.id)).all()


def create_issue_plan(client, **changes):
    response = client.post(f"{BASE}/nouveau", data={**ISSUE_FORM, **changes})
    assert response.status_code == 302, text(response)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_a_city_without_plans_sees_the_empty_state(client, db):
    city_member(db, client)
    page = text(client.get(BASE))
    assert "Aucun plan de financement pour le moment" in page and "Nouveau plan de financement" in page
    assert "Plans de financement" in text(client.get("/espace/"))  # linked from the workspace


def test_a_member_builds_the_issue_plan_and_sees_every_reduction_explained(client, db):
    city, user = city_member(db, client)
    plan_id = create_issue_plan(client)
    [plan] = plans(db, city)
    assert plan.id == plan_id and plan.cost_ht_cents == 100_000_000 and plan.created_by_id == user.id
    assert [(line["label"], line["requested_rate_bp"], line["priority"]) for line in plan.lines] == [
        ("DSIL 2026", 5000, 1), ("DETR 2026", 4000, 2), ("FEDER Centre-Val de Loire", 4000, 3)]

    page = squash(text(client.get(f"{BASE}/{plan_id}")))
    assert "Plan « Rénovation de l'éclairage public » enregistré." in page
    assert "Subventions</h2> <p class=\"fr-callout__text\"><strong>800 000 €</strong>, soit 80 % du coût" in page
    assert "<strong>200 000 €</strong>, soit 20 % des financements publics" in page
    # Each reduction: the line, the amount, the rule and its article.
    assert "<strong>DETR 2026 : − 100 000 €.</strong> Plafond des dotations d'investissement de l'État " \
           "(CGCT, art. R2334-27, al. 2)" in page
    assert "<strong>FEDER Centre-Val de Loire : − 200 000 €.</strong> Aides publiques au plus égales à la " \
           "dépense subventionnable (Décret n° 2018-514 du 25 juin 2018, art. 10)" in page
    assert "<strong>FEDER Centre-Val de Loire : − 200 000 €.</strong> Participation minimale du maître " \
           "d'ouvrage (CGCT, art. L1111-10, III)" in page
    assert "La ligne est ramenée à 0 €." in page
    # The chart: an accessible SVG, with the grants bar by bar and the city's own funds.
    assert '<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="graphique-titre graphique-description"' in page
    assert "<desc id=\"graphique-description\">Coût du projet 1 000 000 € HT : subventions 800 000 € (80 %), " \
           "part du maître d'ouvrage 200 000 €.</desc>" in page
    assert "<title>DSIL 2026 : 500 000 € (50 %)</title>" in page
    assert "<title>Autofinancement : 200 000 € (20 %)</title>" in page
    with all_tenants(db, because="the test reads every tenant"):
        event = db.scalar(select(AuditEvent).where(AuditEvent.event_type == PlanEvent.funding_plan_created))
    assert event.tenant_id == city.id and event.object_id == str(plan_id) and event.actor_id == user.id


def test_changing_the_giving_way_rule_changes_which_line_gives_way(client, db):
    city_member(db, client)
    plan_id = create_issue_plan(client, **{"lines-0-priority": "2", "lines-1-priority": "3",
                                           "lines-2-priority": "1"})
    page = squash(text(client.get(f"{BASE}/{plan_id}")))
    assert "<strong>DETR 2026 : − 100 000 €.</strong>" in page
    assert "FEDER Centre-Val de Loire : −" not in page  # FEDER now keeps its 400 000 €
    form = {**ISSUE_FORM, "ordering": "order_entered", "lines-0-priority": "2", "lines-1-priority": "3",
            "lines-2-priority": "1"}
    client.post(f"{BASE}/{plan_id}/modifier", data=form)
    page = squash(text(client.get(f"{BASE}/{plan_id}")))
    assert "Par ordre de saisie : la dernière ligne saisie cède la première" in page
    assert "<strong>FEDER Centre-Val de Loire : − 200 000 €.</strong>" in page


def test_loans_are_shown_apart_in_the_citys_share(client, db):
    city_member(db, client)
    plan_id = create_issue_plan(client, **{
        "lines-3-label": "Prêt Banque des Territoires", "lines-3-kind": "loan", "lines-3-amount": "150 000"})
    page = squash(text(client.get(f"{BASE}/{plan_id}")))
    share = page[page.index("<caption>Part de la collectivité"):]
    assert "Prêt Banque des Territoires" in share and "150 000 €" in share
    assert "<strong>50 000 €</strong>" in share  # own funds: 200 000 € less the loan
    assert "<title>Prêt : Prêt Banque des Territoires : 150 000 € (15 %)</title>" in page
    grants = page[page.index("<caption>Subventions"):page.index("<caption>Part de la collectivité")]
    assert "Prêt Banque des Territoires" not in grants and "<strong>800 000 €</strong>" in grants


def test_form_errors_are_per_field_and_in_french(client, db):
    city, _ = city_member(db, client)
    response = client.post(f"{BASE}/nouveau", data={
        **ISSUE_FORM, "eligible_cost": "2 000 000", "lines-0-rate": "120", "lines-1-rate": "", "lines-2-amount": "10",
        "lines-3-label": "Région", "lines-3-kind": ""})
    assert response.status_code == 400
    page = text(response)
    assert 'id="erreur-eligible_cost" class="fr-error-text">La dépense éligible ne peut pas dépasser le coût du projet.' in page
    assert 'id="erreur-lines-0-rate" class="fr-error-text">Un taux est compris entre 0 et 100 %.' in page
    assert 'id="erreur-lines-1-rate" class="fr-error-text">Indiquez un taux demandé ou un montant demandé.' in page
    assert 'id="erreur-lines-2-rate" class="fr-error-text">Indiquez un taux ou un montant demandé, pas les deux.' in page
    assert 'id="erreur-lines-3-kind" class="fr-error-text">Ce champ est obligatoire.' in page
    assert 'value="FEDER Centre-Val de Loire"' in page  # what was typed is kept
    assert plans(db, city) == []
    response = client.post(f"{BASE}/nouveau", data={"title": "Vide", "cost": "10", "eligible_cost": "10",
                                                     "reference_date": "2026-11-22", "action": "save"})
    assert response.status_code == 400 and "Ajoutez au moins une ligne de financement" in text(response)


def test_lines_are_added_and_removed_without_javascript(client, db):
    city_member(db, client)
    response = client.post(f"{BASE}/nouveau", data={**ISSUE_FORM, "action": "add"})
    assert response.status_code == 200
    page = text(response)
    assert 'name="lines-4-label"' in page and 'value="DETR 2026"' in page
    plan_id = create_issue_plan(client, **{"lines-1-remove": "1"})
    page = squash(text(client.get(f"{BASE}/{plan_id}")))
    assert "DETR 2026" not in page
    assert "<strong>FEDER Centre-Val de Loire : − 100 000 €.</strong> Participation minimale" in page


def test_a_plan_is_edited_duplicated_and_deleted_after_confirmation(client, db):
    city, user = city_member(db, client)
    plan_id = create_issue_plan(client)
    edit_page = text(client.get(f"{BASE}/{plan_id}/modifier"))
    assert 'value="1000000"' in edit_page and 'value="DSIL 2026"' in edit_page and 'value="50"' in edit_page
    response = client.post(f"{BASE}/{plan_id}/modifier", data={**ISSUE_FORM, "title": "Éclairage — variante",
                                                                 "lines-0-rate": "33,33"})
    assert response.status_code == 302
    [plan] = plans(db, city)
    assert plan.title == "Éclairage — variante" and plan.lines[0]["requested_rate_bp"] == 3333

    response = client.post(f"{BASE}/{plan_id}/dupliquer")
    assert response.status_code == 302
    original, copy = plans(db, city)
    assert copy.title == "Éclairage — variante (copie)" and copy.lines == original.lines
    assert response.headers["Location"] == f"{BASE}/{copy.id}/modifier"

    page = text(client.get(f"{BASE}/{copy.id}/supprimer"))
    assert "Supprimer le plan « Éclairage — variante (copie) » ?" in page and '<form method="post">' in page
    assert len(plans(db, city)) == 2  # a GET changes nothing
    assert client.post(f"{BASE}/{copy.id}/supprimer").status_code == 302
    assert [p.id for p in plans(db, city)] == [plan_id]
    with all_tenants(db, because="the test reads every tenant"):
        types = [e.event_type for e in db.scalars(select(AuditEvent).where(AuditEvent.tenant_id == city.id,
                                                                          AuditEvent.object_type == "funding_plans")
                                                  .order_by(AuditEvent.id))]
    assert types == [PlanEvent.funding_plan_created, PlanEvent.funding_plan_updated,
                     PlanEvent.funding_plan_duplicated, PlanEvent.funding_plan_deleted]


def test_a_viewer_reads_and_exports_but_cannot_edit(app, client, db):
    city, _ = city_member(db, client)
    plan_id = create_issue_plan(client)
    viewer_client = app.test_client()
    viewer, membership = make_member(db, city, Role.viewer)
    db.commit()
    sign_in(viewer_client, viewer, membership)
    page = text(viewer_client.get(f"{BASE}/{plan_id}"))
    assert "800\u202f000\u00a0€" in page and "Modifier</a>" not in page and "Dupliquer" not in page
    assert "Nouveau plan de financement" not in text(viewer_client.get(BASE))
    assert viewer_client.get(f"{BASE}/{plan_id}/plan.xlsx").status_code == 200
    for method, url in (("GET", "/nouveau"), ("POST", "/nouveau"), ("GET", f"/{plan_id}/modifier"),
                        ("POST", f"/{plan_id}/modifier"), ("POST", f"/{plan_id}/dupliquer"),
                        ("POST", f"/{plan_id}/supprimer")):
        response = viewer_client.open(BASE + url, method=method, data=ISSUE_FORM)
        assert response.status_code == 403, (method, url)
    assert len(plans(db, city)) == 1


def test_plans_belong_to_collectivites_only(client, db):
    startup = make_startup(db)
    user, membership = make_member(db, startup, Role.admin)
    db.commit()
    sign_in(client, user, membership)
    assert client.get(BASE).status_code == 404
    assert client.post(f"{BASE}/nouveau", data=ISSUE_FORM).status_code == 404


def test_the_xlsx_export_reads_back_with_every_figure(client, db):
    city_member(db, client)
    plan_id = create_issue_plan(client)
    response = client.get(f"{BASE}/{plan_id}/plan.xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert 'filename=plan-de-financement-renovation-de-l-eclairage-public.xlsx' in response.headers[
        "Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["Plan de financement", "Explications", "Règles appliquées"]
    rows = {row[0]: row for row in book["Plan de financement"].iter_rows(values_only=True) if row[0]}
    assert rows["Coût du projet HT"][1] == 1_000_000
    assert [rows[name][4] for name in ("DSIL 2026", "DETR 2026", "FEDER Centre-Val de Loire")] == [500_000, 300_000, 0]
    assert rows["DETR 2026"][5] == 0.3
    assert rows["Total des subventions"][4] == 800_000
    assert rows["Part du maître d'ouvrage (coût moins subventions)"][4] == 200_000
    assert rows["Part du maître d'ouvrage dans les financements publics"][4] == 0.2
    assert "CGCT, art. L1111-10, III" in rows["FEDER Centre-Val de Loire"][7]
    explained = list(book["Explications"].iter_rows(values_only=True))
    assert [(r[0], r[2], r[3]) for r in explained[1:]] == [
        ("DETR 2026", "CGCT, art. R2334-27, al. 2", 100_000),
        ("FEDER Centre-Val de Loire", "Décret n° 2018-514 du 25 juin 2018, art. 10", 200_000),
        ("FEDER Centre-Val de Loire", "CGCT, art. L1111-10, III", 200_000)]


def test_the_pdf_export_reads_back_with_accents_euro_signs_and_explanations(client, db):
    city_member(db, client)
    plan_id = create_issue_plan(client)
    response = client.get(f"{BASE}/{plan_id}/plan.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    content = squash(" ".join(page.extract_text() for page in reader.pages))
    assert "Rénovation de l'éclairage public" in content and "Ville de Châteauroux" in content
    assert "Total des subventions 800 000 €" in content
    assert "Part du maître d'ouvrage 200 000 € 20 % des financements publics" in content
    assert "DETR 2026 : Plafond des dotations d'investissement de l'État (CGCT, art. R2334-27, al. 2)" in content
    assert "FEDER Centre-Val de Loire : Participation minimale du maître d'ouvrage (CGCT, art. L1111-10, III)" in content
    assert "La ligne est ramenée à 0 €." in content
    assert reader.metadata.title == "Rénovation de l'éclairage public"


def test_the_rules_page_lists_each_rule_with_its_reference_and_dates(client, db):
    city_member(db, client, Role.viewer)
    page = text(client.get(f"{BASE}/regles"))
    for reference in ("CGCT, art. R2334-27, al. 2", "Décret n° 2018-514 du 25 juin 2018, art. 10",
                      "CGCT, art. L1111-10, III", "CGCT, art. R2334-27, al. 1"):
        assert reference in page
    assert "depuis le 1er janvier 2012" in page and "en vigueur" in page
