"""A real browser builds the issue's plan (Chromium, CSRF on, the demo dataset): form, result, chart."""
from __future__ import annotations

import re

import pytest

from tests.browser import shot, sign_in_as, space_link

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_city_builds_the_issue_plan_in_a_browser(demo_app, live_server, browser_page):
    from playwright.sync_api import expect

    page = browser_page
    # Gien has no plan in the demo (Châteauroux Métropole has the example one).
    sign_in_as(page, live_server(demo_app), "mairie@gien.test")
    space_link(page, "Plans de financement").click()
    expect(page.get_by_text("Aucun plan de financement pour le moment")).to_be_visible()
    page.get_by_role("link", name="Nouveau plan de financement").click()

    page.get_by_label("Intitulé du plan").fill("Rénovation de l'éclairage public")
    page.get_by_label("Coût du projet HT (€)").fill("1 000 000")
    page.get_by_label("Dépense éligible HT (€)").fill("1 000 000")
    for i, (label, kind, rate) in enumerate((("DSIL 2026", "state_grant:DSIL", "50"),
                                             ("DETR 2026", "state_grant:DETR", "40"),
                                             ("FEDER", "eu_grant", "40"))):
        page.locator(f"#champ-lines-{i}-label").fill(label)
        page.locator(f"#champ-lines-{i}-kind").select_option(kind)
        page.locator(f"#champ-lines-{i}-rate").fill(rate)
    page.get_by_role("button", name="Ajouter une ligne").click()  # posts back, keeps what was typed
    expect(page.locator("#champ-lines-2-label")).to_have_value("FEDER")
    page.locator("#champ-lines-3-label").fill("Prêt Banque des Territoires")
    page.locator("#champ-lines-3-kind").select_option("loan")
    page.locator("#champ-lines-3-amount").fill("150 000")
    page.get_by_role("button", name="Enregistrer et calculer").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Rénovation de l'éclairage public")
    grants = page.get_by_role("table", name="Subventions")
    expect(grants.get_by_role("row", name=re.compile("^Total des subventions"))).to_contain_text("800\u202f000\u00a0€")
    expect(page.get_by_role("table", name=re.compile("^Part de la collectivité"))).to_contain_text(
        "Prêt Banque des Territoires")
    expect(page.get_by_role("img", name="Répartition du financement")).to_be_visible()
    expect(page.locator("#explications + ol li")).to_have_count(3)
    # Labelled buttons, not bare icons (a DSFR button group needs --icon-left for that).
    assert page.get_by_role("link", name="Modifier").bounding_box()["width"] > 80
    shot(page, "plan-de-financement")

    page.get_by_role("link", name="Supprimer").click()
    page.get_by_role("button", name="Supprimer le plan").click()
    expect(page.get_by_role("alert").or_(page.get_by_role("status"))).to_contain_text("est supprimé")
