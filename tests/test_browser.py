"""A real browser journey: Debian's Chromium, driven by Playwright, against the app over HTTP.

The app runs on committed data (a fresh clone of the template database, seeded with the demo
dataset) with CSRF protection on, as in production. Screenshots of the main pages land in
``tests/artifacts/`` for a human look at the DSFR rendering.
"""
from __future__ import annotations

import re

import pytest

from tests.browser import BLUE_FRANCE, CHROMIUM, shot, space_link

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium absent (/usr/bin/chromium) : apt-get install chromium"),
]


def test_sign_in_then_invite_a_member(demo_app, live_server, browser_page):
    from playwright.sync_api import expect

    from marketplace.demo import DEMO_PASSWORD

    page = browser_page
    base = live_server(demo_app)
    broken_assets, page_errors = [], []
    page.on("response", lambda r: broken_assets.append(f"{r.status} {r.url}")
            if "/static/" in r.url and r.status >= 400 else None)
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))

    # Home page: French, titled, styled by the DSFR.
    response = page.goto(base + "/")
    assert response is not None and response.status == 200, f"home page answered {response and response.status}"
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.title() == "Accueil — Passerelle"
    expect(page.get_by_role("heading", level=1)).to_contain_text("Passerelle : trouver, acheter et financer")
    # dsfr.min.css is applied: a primary button is "bleu France", the header link is in its colour.
    expect(page.locator("main .fr-callout").get_by_role("link", name="Créer un espace")).to_have_css(
        "background-color", BLUE_FRANCE)
    sign_in_link = page.get_by_role("banner").get_by_role("link", name="Se connecter")
    expect(sign_in_link).to_have_css("color", BLUE_FRANCE)
    assert page.evaluate("document.fonts.check('16px Marianne')"), "the DSFR font (Marianne) did not load"
    shot(page, "01-accueil")

    # Sign-in page, reached from the header.
    sign_in_link.click()
    expect(page).to_have_url(re.compile(r"/connexion$"))
    assert page.title() == "Connexion — Passerelle"
    shot(page, "02-connexion")

    # A wrong password: 401 and the French message, on the same page.
    page.get_by_label("Adresse électronique").fill("dgs@chateauroux-metropole.test")
    page.get_by_label("Mot de passe").fill("pas-le-bon-mot-de-passe")
    with page.expect_response(lambda r: r.url.endswith("/connexion") and r.request.method == "POST") as posted:
        page.get_by_role("button", name="Se connecter").click()
    assert posted.value.status == 401, f"a wrong password answered {posted.value.status}, not 401"
    expect(page.get_by_role("alert")).to_have_text("Adresse électronique ou mot de passe incorrect.")
    expect(page.get_by_label("Adresse électronique")).to_have_value("dgs@chateauroux-metropole.test")
    shot(page, "03-connexion-erreur")

    # The right password: the workspace of Châteauroux Métropole.
    page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(re.compile(r"/espace/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Châteauroux Métropole")
    expect(page.locator("main")).to_contain_text("SIREN 243600327")
    expect(page.get_by_role("link", name="Claire Dubois")).to_be_visible()
    shot(page, "04-espace")

    # Members, from the main navigation; then an invitation.
    space_link(page, "Membres").click()
    expect(page).to_have_url(re.compile(r"/espace/membres$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Membres de Châteauroux Métropole")
    expect(page.get_by_text("Aucune invitation en attente.")).to_be_visible()
    members = page.get_by_role("table", name="Membres de l'organisation")
    for email in ("dgs@chateauroux-metropole.test", "projet@chateauroux-metropole.test",
                  "elu@chateauroux-metropole.test"):
        expect(members).to_contain_text(email)

    invitee = "nouvelle.recrue@chateauroux-metropole.test"
    page.get_by_label("Adresse électronique").fill(invitee)
    page.get_by_label("Rôle", exact=True).select_option(label="Lecteur")
    page.get_by_role("button", name="Envoyer l'invitation").click()
    expect(page).to_have_url(re.compile(r"/espace/membres$"))
    expect(page.get_by_role("status")).to_contain_text(f"Invitation envoyée à {invitee}.")
    pending = page.get_by_role("table", name="Invitations en attente")
    row = pending.get_by_role("row").filter(has_text=invitee)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Lecteur")
    expect(row.get_by_role("button", name="Annuler")).to_be_visible()
    shot(page, "05-membres-invitation")

    assert not broken_assets, f"static assets failed to load: {broken_assets}"
    assert not page_errors, f"JavaScript errors on the pages: {page_errors}"


def test_a_buyer_searches_the_annuaire_and_compares(demo_app, live_server, browser_page):
    from playwright.sync_api import expect

    base = live_server(demo_app)
    page = browser_page
    page.goto(base + "/")
    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Solutions", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rechercher une solution")

    # Accent-free words find the accented text, with the matches highlighted.
    page.get_by_label("Rechercher").fill("eclairage public")
    page.get_by_role("button", name="Rechercher").click()
    expect(page).to_have_url(re.compile(r"/recherche\?q=eclairage"))
    expect(page.locator("main")).to_contain_text("Lumio Veille")
    expect(page.locator("main mark").first).to_be_visible()
    shot(page, "06-recherche")

    # Every published solution, then two of them side by side.
    page.goto(base + "/recherche?type=solution")
    boxes = page.get_by_role("checkbox", name=re.compile("^Comparer"))
    expect(boxes).to_have_count(3)
    labels = page.locator('label[for^="comparer-"]')  # DSFR draws the box on the label: click it
    labels.nth(0).click()
    labels.nth(1).click()
    expect(boxes.nth(0)).to_be_checked()
    page.get_by_role("button", name=re.compile("Comparer les solutions cochées")).click()
    expect(page).to_have_url(re.compile(r"/solutions/comparer\?ids="))
    expect(page.get_by_role("table")).to_be_visible()
    shot(page, "07-comparaison")
