"""The main pages as a person sees them: each persona's pages, at a desktop and a mobile width, in
Chromium, screenshotted into tests/artifacts/ and checked the way a person would notice:

- no card, tile, alert or button taller than three screens (a card 5 000 px tall is a broken page);
- every button and link shows its text whole (DSFR cuts a button to its icon in some groups);
- no horizontal scroll on a phone;
- axe-core finds no accessibility violation.

The DOM tests elsewhere pass on pages nobody can use: these look at the pages themselves. They run on
the SQLite pass only (the pages do not depend on the database engine).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.browser, pytest.mark.slow, pytest.mark.sqlite_only,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium absent (/usr/bin/chromium) : apt-get install chromium"),
]

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {"bureau": 1280, "mobile": 390}

GEOMETRY = """() => {
  const vh = window.innerHeight, vw = window.innerWidth, problems = [];
  const shown = e => { const r = e.getBoundingClientRect(), s = getComputedStyle(e);
                       return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  const name = e => e.tagName.toLowerCase() + '.' + [...e.classList].join('.') +
                    ' « ' + (e.innerText || e.getAttribute('aria-label') || '').trim().slice(0, 50) + ' »';
  for (const e of document.querySelectorAll(
      '.fr-card, .fr-tile, .fr-callout, .fr-alert, .fr-notice, article, .fr-btn, .fr-tag, .fr-badge')) {
    if (shown(e) && e.getBoundingClientRect().height > 3 * vh)
      problems.push('trop haut (' + Math.round(e.getBoundingClientRect().height) + ' px) : ' + name(e));
  }
  for (const e of document.querySelectorAll(
      'a.fr-btn, button.fr-btn, a.fr-link, a.fr-tag, button.fr-tag, .fr-badge, a.fr-nav__link, button.fr-nav__btn')) {
    // DSFR's own icon-only buttons: the menu and close buttons, the search bar's button on a phone.
    if (!shown(e) || e.classList.contains('fr-btn--close') || e.closest('.fr-header__navbar')
        || (e.closest('.fr-search-bar') && vw < 576)) continue;
    if (!(e.innerText || '').trim()) { problems.push('sans texte visible : ' + name(e)); continue; }
    if (e.scrollWidth > e.clientWidth + 2 || e.scrollHeight > e.clientHeight + 4 && getComputedStyle(e).overflow === 'hidden')
      problems.push('texte coupé (' + e.scrollWidth + ' px pour ' + e.clientWidth + ') : ' + name(e));
  }
  if (document.documentElement.scrollWidth > vw + 1) {
    // Name the deepest elements that stick out, so the fix is findable.
    const wide = [...document.querySelectorAll('body *')].filter(e => shown(e) && e.getBoundingClientRect().right > vw + 1
                   && ![...e.children].some(c => c.getBoundingClientRect().right > vw + 1));
    problems.push('défilement horizontal : ' + document.documentElement.scrollWidth + ' px pour ' + vw + ' ; dépasse : '
                  + wide.slice(0, 3).map(name).join(' | '));
  }
  return problems;
}"""


def _pages(page, base):
    """Paths worth a look that need an id: the first solution and programme the lists link to."""
    page.goto(base + "/solutions")
    # The longest solution sheet of the demo: long words in its facts once pushed a phone's page sideways.
    solution = page.locator("main a[href^='/solutions/']", has_text="Mobicité Stationnement").first.get_attribute("href")
    page.goto(base + "/financements")
    programme = page.locator("main a[href^='/financements/']").first.get_attribute("href")
    return solution, programme


PERSONAS = {
    "anonyme": (None, lambda s, p: ["/", "/recherche?q=eclairage", "/recherche?q=eclairrage+publique",
                                    "/solutions", s, "/achats-groupes/", "purchase:",
                                    "/financements", "/financements?q=renovaton+energetique", p,
                                    "/financements?commune=Gien", "/connexion", "/inscription", "/accessibilite",
                                    "/plan-du-site", "/donnees-personnelles", "/mot-de-passe-oublie"]),
    "ville": ("dgs@chateauroux-metropole.test",
              lambda s, p: ["/espace/", s, "/solutions/comparer", "/espace/selection", "/espace/financements",
                            "/espace/financements?q=velos",
                            "/espace/alertes", "/espace/alertes/nouvelle", "/espace/plans-de-financement",
                            "/espace/plans-de-financement/nouveau", "plan:", p, "/espace/membres",
                            "/espace/references", "/espace/contrats/", "contract:", "purchase:",
                            "/espace/achats-groupes/", "/espace/projets/", "/espace/projets/nouveau", "project:"]),
    "lecteur": ("elu@chateauroux-metropole.test", lambda s, p: ["/espace/", s, "purchase:"]),
    "startup": ("fondatrice@lumio.test", lambda s, p: ["/espace/", "/espace/solutions", "/espace/solutions/nouvelle",
                                                      "/espace/demandes", "/espace/achats-groupes/", "offer:",
                                                      "/espace/abonnement", "/espace/statistiques",
                                                      "/espace/besoins/", "need:"]),
    "curation": ("curatrice@anct.test",
                 lambda s, p: ["/espace/", "/operateur/financements/", "/operateur/financements/nouveau",
                               "/operateur/financements/import", "/operateur/financements/labels",
                               "/operateur/solutions/", "/operateur/demandes", "/operateur/taches/",
                               "/operateur/modeles/"]),
    "financeur": ("europe@centre-valdeloire.test", lambda s, p: ["/espace/", "/operateur/financements/"]),
}


def _match_demo_projects(app):
    """What the matching jobs write overnight, for the demo's projects: the pages that show matches
    are looked at with some."""
    from sqlalchemy import select

    from marketplace.core.db import all_tenants
    from marketplace.projects import store
    from marketplace.projects.models import Project

    with app.app_context():
        session = app.extensions["passerelle"].session_factory()
        try:
            with all_tenants(session, because="the test runs the matching jobs over every demo project"):
                projects = list(session.scalars(select(Project).order_by(Project.id)))
            store.match_projects(session, projects)
            for project in projects:
                if project.need_published:
                    store.match_need(session, project.id)
            session.commit()
        finally:
            session.close()


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_each_personas_pages_look_right(demo_app, live_server, tmp_path, persona):
    from playwright.sync_api import sync_playwright

    from marketplace.demo import DEMO_PASSWORD

    email, paths = PERSONAS[persona]
    if persona in ("ville", "startup"):
        _match_demo_projects(demo_app)
    base = live_server(demo_app)
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            for label, width in WIDTHS.items():
                # axe-core is injected by the test: the page's own CSP (rightly) refuses foreign scripts.
                context = browser.new_context(viewport={"width": width, "height": 900}, locale="fr-FR",
                                              bypass_csp=True)
                page = context.new_page()
                page.set_default_timeout(15_000)
                if email:
                    page.goto(base + "/connexion")
                    page.get_by_label("Adresse électronique").fill(email)
                    page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
                    page.get_by_role("button", name="Se connecter").click()
                    page.wait_for_url("**/espace/")
                for path in paths(*_pages(page, base)):
                    if path == "contract:":  # start an interview, answer its first step: the form and preview
                        page.goto(base + "/espace/contrats/")
                        page.get_by_label("Intitulé de l'achat").fill("Éclairage public intelligent")
                        page.get_by_role("button", name="Commencer").click()
                        page.wait_for_load_state("networkidle")
                        path = page.url.removeprefix(base)
                    if path == "purchase:":  # the demo's open group purchase
                        page.goto(base + "/achats-groupes/")
                        path = page.locator("main .fr-card__title a").first.get_attribute("href")
                    if path == "offer:":  # the startup's tiers for its published solution
                        page.goto(base + "/espace/solutions")
                        path = page.locator("main a[href^='/espace/achats-groupes/offres/']").first.get_attribute("href")
                    if path == "project:":  # the demo city's school renovation, matched as overnight
                        page.goto(base + "/espace/projets/")
                        path = page.locator("main .fr-card__title a[href^='/espace/projets/']", has_text="Jean-Zay"
                                            ).first.get_attribute("href")
                    if path == "need:":  # a need a demo city published
                        page.goto(base + "/espace/besoins/")
                        path = page.locator("main .fr-card__title a").first.get_attribute("href")
                    if path == "plan:":  # the demo city's first plan, from its list
                        page.goto(base + "/espace/plans-de-financement")
                        path = page.locator("main a[href^='/espace/plans-de-financement/']:not([href$='nouveau'])"
                                            ":not([href$='regles'])").first.get_attribute("href")
                    response = page.goto(base + path)
                    if response is None or response.status >= 400:
                        problems.append(f"{path} ({label}) : HTTP {response and response.status}")
                        continue
                    page.wait_for_load_state("networkidle")
                    ARTIFACTS.mkdir(exist_ok=True)
                    slug = path.strip("/").replace("/", "-").replace("?", "-").replace("=", "-") or "accueil"
                    page.screenshot(path=str(ARTIFACTS / f"look-{persona}-{slug}-{label}.png"), full_page=True)
                    problems += [f"{path} ({label}) : {p}" for p in page.evaluate(GEOMETRY)]
                    page.add_script_tag(path=str(AXE))
                    violations = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']}))"
                                               ".violations.map(v => v.id + ' (' + v.impact + ') : ' + "
                                               "v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))")
                    problems += [f"{path} ({label}) : axe {v}" for v in violations]
                context.close()
        finally:
            browser.close()
    assert not problems, "\n".join(problems)
