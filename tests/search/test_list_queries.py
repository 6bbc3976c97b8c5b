"""Words on the lists that filter in the database: the guichet's and the annuaire's APIs and
/financements go through the same query pipeline as /recherche; an unknown API parameter is
refused, never dropped."""
from __future__ import annotations

import html

import pytest

from search.service import rebuild
from tests.factories import make_programme, make_solution


@pytest.fixture
def listed(db, settings):
    made = {
        "bike": make_programme(db, title="Aménagements cyclables", summary="Pistes cyclables et stationnement vélo.",
                               scope=(("include", "france", "FR"),)),
        "school": make_programme(db, title="Rénovation énergétique des écoles", summary="Isolation des groupes scolaires.",
                                 scope=(("include", "france", "FR"),)),
        "roads": make_programme(db, title="Voirie communale", summary="Réfection des chaussées.",
                                scope=(("include", "france", "FR"),)),
        "lights": make_solution(db, status="published", name="Lumio", pitch="Éclairage public piloté à distance."),
        "parking": make_solution(db, status="published", name="Mobicité", pitch="Stationnement intelligent en voirie."),
    }
    db.commit()
    rebuild(settings.search_dir, db)
    return made


def titles(body):
    return [item.get("title") or item.get("name") for item in body["items"]]


def test_q_ranks_the_programmes_api(client, listed):
    body = client.get("/api/v1/programmes?q=vélos").get_json()
    assert titles(body) == ["Aménagements cyclables"] and body["total"] == 1
    body = client.get("/api/v1/programmes?q=renovation+energetique+ecole").get_json()
    assert titles(body)[0] == "Rénovation énergétique des écoles"
    corrected = client.get("/api/v1/programmes?q=voiries+comunale").get_json()
    assert corrected["searched"] == "voiries communale" and titles(corrected)[0] == "Voirie communale"
    # Without words, every published programme, by title.
    assert client.get("/api/v1/programmes").get_json()["total"] == 3


def test_q_ranks_the_solutions_api(client, listed):
    body = client.get("/api/v1/solutions?q=stationnement").get_json()
    assert titles(body) == ["Mobicité"] and body["total"] == 1
    assert titles(client.get("/api/v1/solutions?q=eclairage+public").get_json())[0] == "Lumio"
    assert client.get("/api/v1/solutions").get_json()["total"] == 2


@pytest.mark.parametrize("url", ["/api/v1/programmes?query=velo", "/api/v1/solutions?qq=velo&page=1",
                                 "/api/v1/search?q=velo&tri=recent"])
def test_an_unknown_api_parameter_is_refused_with_its_name(client, listed, url):
    response = client.get(url)
    assert response.status_code == 400 and response.is_json
    body = response.get_json()
    (name,) = body["errors"]["query"]
    assert name in url and body["errors"]["query"][name] == ["Paramètre inconnu."]
    assert "Paramètres acceptés" in body["message"] and "q" in body["message"]


def test_the_financements_page_searches_its_words(client, listed):
    page = html.unescape(client.get("/financements?q=piste+cyclable").get_data(as_text=True))
    assert "Aménagements cyclables" in page and "Voirie communale" not in page
    assert "les plus proches de « piste cyclable » d'abord" in page


def test_the_solutions_menu_shows_solutions(client, listed):
    page = client.get("/recherche?type=solution").get_data(as_text=True)
    assert "<h1>Rechercher une solution</h1>" in page and "Lumio" in page
    assert "Voirie communale" not in page
    home = client.get("/").get_data(as_text=True)
    assert 'href="/recherche?type=solution"' in home
