"""Public pages are in French, accessible and in the State design system."""
import re
from pathlib import Path

from tests.factories import make_city, make_member
from tests.helpers import sign_in


def test_home_page_explains_the_four_services_in_french(client):
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="fr"' in page
    assert 'href="#contenu"' in page and 'id="contenu"' in page  # skip link and its target
    for service in ("annuaire raisonné", "achats groupés", "contrats types", "guichet unique des financements"):
        assert service in page.lower()
    for persona in ("collectivité", "startup", "financeur"):
        assert persona in page.lower()
    assert "/static/dsfr/dsfr.min.css" in page


def test_unknown_page_is_a_french_404(client):
    response = client.get("/cette-page-n-existe-pas")
    assert response.status_code == 404
    assert "Page non trouvée" in response.get_data(as_text=True)


def test_api_errors_are_json(client):
    response = client.get("/api/v1/nulle-part")
    assert response.status_code == 404 and response.is_json


def test_workspace_requires_sign_in(client):
    response = client.get("/espace/")
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]


def test_forms_have_labels_for_every_input(client):
    import re

    page = client.get("/inscription").get_data(as_text=True)
    inputs = re.findall(r'<input[^>]*id="([^"]+)"', page)
    for input_id in inputs:
        assert f'for="{input_id}"' in page, f"input {input_id} has no label"


def test_workspace_shows_the_territory_facts(client, db):
    tenant = make_city(db, "36044")
    user, membership = make_member(db, tenant)
    db.commit()
    sign_in(client, user, membership)
    page = client.get("/espace/").get_data(as_text=True)
    assert "Ville de Châteauroux" in page and "42\u202f963 habitants" in page
    assert "Centre-Val de Loire" in page and "CA Châteauroux Métropole" in page


def test_outbox_page_exists_only_in_embedded_mode(client, app):
    assert client.get("/dev/courriels").status_code == 200
    # Its links can be followed (the escaped text's addresses only).
    from marketplace.home import _links

    assert str(_links("Ouvrez http://127.0.0.1:5077/mot-de-passe/abc?x=1&y=2 <b>")) == (
        'Ouvrez <a href="http://127.0.0.1:5077/mot-de-passe/abc?x=1&amp;y=2">'
        'http://127.0.0.1:5077/mot-de-passe/abc?x=1&amp;y=2</a> &lt;b&gt;')
    # It holds every mailed link: a visitor from elsewhere, or relayed by a proxy, does not see it.
    assert client.get("/dev/courriels", environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code == 404
    assert client.get("/dev/courriels", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 404
    from marketplace.core.settings import load_settings

    app.config["SETTINGS"] = load_settings(passerelle_home=app.config["SETTINGS"].passerelle_home,
                                           smtp_host="smtp.exemple.fr")
    assert client.get("/dev/courriels").status_code == 404


def test_every_icon_exists_and_buttons_with_icons_keep_their_text():
    """DSFR draws a missing icon as a filled square, and inside a group of buttons an icon button
    shows its icon only (its label cut to 40 px) unless the group says where icons go."""
    import glob

    root = Path(__file__).resolve().parent.parent
    dsfr = root / "node_modules" / "@gouvfr" / "dsfr" / "dist"
    known = set(re.findall(r"\.(fr-icon-[a-z0-9-]+)", (dsfr / "dsfr.min.css").read_text()
                           + (dsfr / "utility" / "icons" / "icons.min.css").read_text()))
    problems = []
    for path in sorted(glob.glob(str(root / "**" / "templates" / "**" / "*.html"), recursive=True)):
        if ".venv" in path or "node_modules" in path:
            continue
        page = Path(path).read_text()
        name = Path(path).relative_to(root)
        problems += [f"{name}: unknown icon {icon}" for icon in set(re.findall(r"fr-icon-[a-z0-9-]+", page)) - known]
        for group in re.finditer(r'<ul class="(fr-btns-group[^"]*)"(.*?)</ul>', page, re.S):
            if "fr-icon-" in group.group(2) and "fr-btns-group--icon-" not in group.group(1) \
                    and "fr-header" not in page[max(0, group.start() - 300):group.start()]:
                problems.append(f"{name}: a group of icon buttons without fr-btns-group--icon-left")
    assert not problems, "\n".join(problems)


def test_the_footer_leads_to_the_legal_pages_and_the_statement_is_honest(client):
    home = client.get("/").get_data(as_text=True)
    for path, title in [("/plan-du-site", "Plan du site"), ("/mentions-legales", "Mentions légales"),
                        ("/donnees-personnelles", "Données personnelles"), ("/cookies", "Gestion des cookies"),
                        ("/accessibilite", "Déclaration d'accessibilité")]:
        assert f'href="{path}"' in home
        page = client.get(path)
        assert page.status_code == 200 and f"<h1>{title}</h1>" in page.get_data(as_text=True)
    statement = client.get("/accessibilite").get_data(as_text=True)
    assert "<strong>non conforme</strong>" in statement and "Défenseur des droits" in statement
    assert "mailto:" in statement and "Accessibilité : non conforme" in home
    assert 'rel="icon"' in home and client.get("/favicon.ico").status_code == 301


def test_the_home_page_promises_only_what_exists(client):
    home = client.get("/").get_data(as_text=True)
    # What is not built yet would say "bientôt"; every service and promise on the page is built.
    for service in ("Des achats groupés", "Des contrats types"):
        assert "Bientôt" not in home[home.index(service):][:400]
    assert "Bientôt" not in home and "Enregistrer vos projets" in home
