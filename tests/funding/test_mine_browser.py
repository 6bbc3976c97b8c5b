"""A real browser finds the city's funding (Chromium, CSRF on, the demo dataset): eligible
programmes with their reasons, a facet, words through the index, an alert saved from the search."""
from __future__ import annotations

import re

import pytest

from tests.browser import shot, sign_in_as, space_link

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_city_finds_its_funding_and_saves_an_alert_in_a_browser(demo_app, live_server, browser_page):
    from playwright.sync_api import expect

    page = browser_page
    sign_in_as(page, live_server(demo_app), "dgs@chateauroux-metropole.test")
    space_link(page, "Mes financements").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mes financements")
    expect(page.get_by_text(re.compile(r"^Éligible : ")).first).to_be_visible()
    everything = int(re.search(r"\d+", page.get_by_role("status").inner_text()).group())
    assert everything > 5

    page.get_by_role("link", name=re.compile(r"^Subvention \(\d+\)$")).click()
    expect(page.get_by_role("link", name=re.compile(r"^✓ Filtre actif : Subvention"))).to_be_visible()
    page.get_by_label("Rechercher dans mes financements").fill("eclairage public")
    page.get_by_role("button", name="Rechercher").click()
    expect(page).to_have_url(re.compile(r"q=eclairage\+public"))
    expect(page.get_by_role("heading", level=2, name=re.compile("éclairage public", re.I)).first).to_be_visible()
    # Labelled buttons, not bare icons (a DSFR button group needs --icon-left for that).
    assert page.get_by_role("link", name="Créer une alerte pour cette recherche").bounding_box()["width"] > 120
    calendar = page.get_by_role("link", name=re.compile(r"Télécharger les .*échéances? \(\.ics\)"))
    assert calendar.count() == 1 or page.get_by_text("Aucune échéance datée à venir").count() == 1
    shot(page, "mes-financements")

    page.get_by_role("link", name="Créer une alerte pour cette recherche").click()
    expect(page.get_by_text("« eclairage public » · Type d'aide : Subvention")).to_be_visible()
    page.get_by_label("Nom de l'alerte").fill("Éclairage public — subventions")
    page.locator("label[for=frequence-daily]").click()  # DSFR draws the radio on its label
    expect(page.get_by_label("Chaque jour")).to_be_checked()
    page.get_by_role("button", name="Créer l'alerte").click()
    expect(page).to_have_url(re.compile(r"/espace/alertes$"))
    expect(page.get_by_role("alert").or_(page.get_by_role("status")).first).to_contain_text("Un message de confirmation")
    expect(page.get_by_role("table", name=re.compile("^Alertes de"))).to_contain_text("En attente de confirmation")
