"""The JSON API over real HTTP: territory registry, OpenAPI document, personal tokens."""
from __future__ import annotations

import html
import re

import pytest
import requests

from tenants.models import Role
from tests.factories import PASSWORD, make_city, make_member


@pytest.fixture
def http(app, live_server):
    """A requests session on the app served over HTTP (same rolled-back data as ``db``)."""
    base = live_server(app)

    class Http(requests.Session):
        def request(self, method, url, *args, **kwargs):
            kwargs.setdefault("timeout", 10)
            kwargs.setdefault("allow_redirects", False)
            return super().request(method, base + url, *args, **kwargs)

    session = Http()
    session.base_url = base
    session.trust_env = False  # no proxy between us and 127.0.0.1
    yield session
    session.close()


def communes(http, q, **params):
    response = http.get("/api/v1/territories/communes", params={"q": q, **params})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


# Territories ----------------------------------------------------------------------------------

def test_autocomplete_puts_chateauroux_first(http):
    first = communes(http, "chateaur")[0]
    assert first["name"] == "Châteauroux" and first["insee"] == "36044"
    assert first["postal_codes"] == ["36000"] and first["label"] == "Châteauroux (36000)"


@pytest.mark.parametrize("q", ["CHATEAUROUX", "châteaur", "Chateauroux", "36000", "  chateauroux  "])
def test_autocomplete_ignores_case_and_accents_and_knows_postal_codes(http, q):
    assert communes(http, q)[0]["insee"] == "36044"


def test_autocomplete_finds_a_word_inside_a_compound_name_and_honours_the_limit(http):
    results = communes(http, "martin d'heres", limit=3)
    assert results[0]["name"] == "Saint-Martin-d'Hères"
    assert len(communes(http, "saint", limit=3)) == 3
    # Largest first among the communes starting with the query.
    populations = [c["population"] for c in communes(http, "saint", limit=20)]
    assert populations == sorted(populations, reverse=True)


def test_a_too_short_query_is_a_422_with_a_french_per_field_error(http):
    response = http.get("/api/v1/territories/communes", params={"q": "x"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == 422 and body["status"] == "Données invalides"
    assert body["errors"] == {"query": {"q": ["Entre 2 et 100 caractères."]}}
    response = http.get("/api/v1/territories/communes", params={"limit": "beaucoup"})
    assert response.status_code == 422
    assert response.json()["errors"] == {"query": {"q": ["Ce champ est obligatoire."],
                                                   "limit": ["Nombre entier attendu."]}}


def test_a_commune_with_its_population_departement_region_and_epci(http):
    response = http.get("/api/v1/territories/communes/36044")
    assert response.status_code == 200
    commune = response.json()
    assert commune["name"] == "Châteauroux" and commune["population"] == 42963
    assert commune["departement"] == {"code": "36", "name": "Indre"}
    assert commune["region"] == {"code": "24", "name": "Centre-Val de Loire"}
    assert commune["epci"]["name"] == "CA Châteauroux Métropole" and commune["epci"]["siren"] == "243600327"
    assert commune["epci"]["kind_label"] == "Communauté d'agglomération"


def test_an_unknown_commune_is_a_404_in_json_with_a_french_message(http):
    response = http.get("/api/v1/territories/communes/99999")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["message"] == "Aucune commune n'a le code INSEE « 99999 »."
    response = http.get("/api/v1/territories/epci/000000000")
    assert response.status_code == 404 and response.json()["message"] == "Aucun EPCI n'a le SIREN « 000000000 »."


def test_an_epci_lists_its_member_communes_in_alphabetical_order(http):
    response = http.get("/api/v1/territories/epci/243600327")
    assert response.status_code == 200
    epci = response.json()
    assert epci["name"] == "CA Châteauroux Métropole" and epci["kind"] == "CA"
    names = [c["name"] for c in epci["communes"]]
    assert len(names) == 14
    assert {"Châteauroux", "Déols", "Ardentes"} <= set(names)
    assert names.index("Déols") < names.index("Diors")  # French order: accents do not push É after z


# OpenAPI --------------------------------------------------------------------------------------

def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_the_openapi_document_is_valid_openapi_3_1_listing_the_paths(http):
    response = http.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"] == "3.1.0"
    assert spec["info"]["title"] == "API Passerelle" and spec["info"]["version"] == "v1"
    paths = spec["paths"]
    for path in ("/api/v1/territories/communes", "/api/v1/territories/communes/{insee}",
                 "/api/v1/territories/epci/{siren}", "/api/v1/me"):
        assert path in paths, path
        operation = paths[path]["get"]
        assert operation["summary"] and "200" in operation["responses"]
    # Path templates are declared as required path parameters.
    for path, item in paths.items():
        # Some paths only take a POST (POST /api/v1/funding-plans computes, nothing to GET).
        for method in {"get", "post", "put", "patch", "delete"} & set(item):
            declared = {p["name"] for p in item.get("parameters", []) + item[method].get("parameters", [])
                        if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), (method, path)
    q = next(p for p in paths["/api/v1/territories/communes"]["get"]["parameters"] if p["name"] == "q")
    assert q["in"] == "query" and q["required"] is True
    assert "422" in paths["/api/v1/territories/communes"]["get"]["responses"]
    assert paths["/api/v1/me"]["get"]["security"] == [{"bearer": []}]
    assert spec["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    # Every reference resolves inside the document.
    for ref in set(_refs(spec)):
        assert ref.startswith("#/")
        node = spec
        for part in ref[2:].split("/"):
            node = node[part]
    # 3.1 uses JSON Schema's null type, not 3.0's "nullable".
    assert "nullable" not in response.text
    assert spec["components"]["schemas"]["Commune"]["properties"]["siren"]["type"] == ["string", "null"]


def test_the_api_documentation_page_is_served(http):
    response = http.get("/api/v1/docs")
    assert response.status_code == 200 and "swagger" in response.text.lower()


# Personal tokens -----------------------------------------------------------------------------

def test_me_without_a_token_is_a_401_in_json(http):
    response = http.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["message"] == "Authentification requise : envoyez « Authorization: Bearer <jeton> »."
    response = http.get("/api/v1/me", headers={"Authorization": "Bearer pas_nimporte-quoi"})
    assert response.status_code == 401 and response.json()["message"] == "Jeton d'API invalide ou révoqué."


def test_a_token_created_in_the_workspace_acts_for_its_member_until_revoked(db, http):
    city = make_city(db, "36044")
    make_member(db, city, Role.admin, email="anne@chateauroux.test", name="Anne Admin")
    db.commit()
    # A person signs in with a browser-like session and creates a token in /espace/jetons.
    browser = http
    response = browser.post("/connexion", data={"email": "anne@chateauroux.test", "password": PASSWORD})
    assert response.status_code == 302
    response = browser.post("/espace/jetons", data={"name": "Tableur du service achats"})
    assert response.status_code == 200
    page = html.unescape(response.text)
    token = re.search(r'<code id="nouveau-jeton">(pas_[^<]+)</code>', page).group(1)
    token_id = re.search(r'action="/espace/jetons/(\d+)/revoquer"', page).group(1)

    # A program uses it, with no cookie.
    program = requests.Session()
    program.trust_env = False
    api = http.base_url
    headers = {"Authorization": f"Bearer {token}"}
    response = program.get(api + "/api/v1/me", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json() == {"email": "anne@chateauroux.test", "full_name": "Anne Admin", "role": "admin",
                               "tenant_id": city.id, "tenant_name": "Ville de Châteauroux",
                               "tenant_kind": "collectivite"}
    # The workspace shows when it was last used.
    page = html.unescape(browser.get("/espace/jetons").text)
    assert "jamais" not in page

    response = browser.post(f"/espace/jetons/{token_id}/revoquer")
    assert response.status_code == 302
    response = program.get(api + "/api/v1/me", headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.json()["message"] == "Jeton d'API invalide ou révoqué."
    program.close()

