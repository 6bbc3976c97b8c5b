"""Browser journeys' fixtures (Debian's Chromium driven by Playwright), shared by every browser test
through ``pytest_plugins`` in the root conftest."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# DSFR's "bleu France" (--blue-france-sun-113-625), the background of a primary .fr-btn.
BLUE_FRANCE = "rgb(0, 0, 145)"

@pytest.fixture
def demo_app(tmp_path, fresh_database_url, redis_url):
    from marketplace.app import create_app
    from marketplace.core.db import make_engine, make_session_factory
    from marketplace.core.settings import load_settings
    from marketplace.demo import seed

    engine = make_engine(fresh_database_url)
    with make_session_factory(engine)() as session:
        seed(session)
        session.commit()
    settings = load_settings(passerelle_home=tmp_path / "home", secret_key="browser-test-secret-key",
                             redis_url=redis_url, database_url=fresh_database_url)
    from search.service import rebuild

    with make_session_factory(engine)() as session:
        rebuild(settings.search_dir, session)
    app = create_app(settings, engine=engine)
    assert app.config.get("WTF_CSRF_ENABLED", True), "CSRF must stay on for a real browser"
    yield app
    engine.dispose()


@pytest.fixture
def browser_page(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright n'est pas installé")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile each run
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},  # desktop: the DSFR nav is not folded into a menu
            locale="fr-FR",
        )
        context.set_default_timeout(15_000)
        context.set_default_navigation_timeout(20_000)
        try:
            page = context.pages[0] if context.pages else context.new_page()
            yield page
        finally:
            context.close()


def sign_in_as(page, base: str, email: str) -> None:
    """Sign a demo account in through the form, and land in its workspace."""
    from playwright.sync_api import expect

    from marketplace.demo import DEMO_PASSWORD

    page.goto(base + "/connexion")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(re.compile(r"/espace/$"))


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"browser-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path




def space_link(page, name: str):
    """A link of the "Mon espace" menu of the header, the menu opened first."""
    nav = page.get_by_role("navigation", name="Menu principal")
    nav.get_by_role("button", name="Mon espace").click()
    return nav.get_by_role("link", name=name, exact=True)
