"""The search page and GET /api/v1/search."""
from __future__ import annotations

import html
import re

import pytest

from tests.search.corpus import CORPUS, build


@pytest.fixture
def indexed(settings):
    build(settings.search_dir, CORPUS)
    return settings.search_dir


def test_search_page_shows_results_facets_and_badges(client, indexed):
    page = client.get("/recherche?q=eclairage").get_data(as_text=True)
    assert "3</strong> résultats pour « eclairage »" in page
    assert "Référence vérifiée (2)" in page
    assert "<mark>" in page
    assert "En France (2)" in page and "hebergement=france" in page  # a facet link, in the URL


def test_facets_in_the_url_filter_and_can_be_shared(client, indexed):
    page = client.get("/recherche?q=eclairage&hebergement=france&verifiee=oui").get_data(as_text=True)
    assert "1</strong> résultat pour" in page and "Lumio" in page and "Nuit claire" not in page
    assert "Retirer tous les filtres" in page
    # An unknown value in a shared URL is ignored, not an error.
    assert client.get("/recherche?q=eclairage&hebergement=lune").status_code == 200


def test_a_typo_is_searched_corrected_with_a_way_back(client, indexed):
    page = html.unescape(client.get("/recherche?q=eclairrage").get_data(as_text=True))
    assert "Résultats pour <strong>« éclairage »</strong>" in page and "Rechercher plutôt" in page
    assert "exact=1" in page and "Lumio" in page
    as_typed = html.unescape(client.get("/recherche?q=eclairrage&exact=1").get_data(as_text=True))
    assert "Vouliez-vous dire" in as_typed and "Lumio" not in as_typed


def test_empty_state_is_explained(client, indexed):
    page = client.get("/recherche?q=zzzz").get_data(as_text=True)
    assert "Rien ne correspond à cette recherche" in page
    solutions = client.get("/recherche?q=zzzz&type=solution").get_data(as_text=True)
    assert "Aucune solution ne correspond" in solutions and "<h1>Rechercher une solution</h1>" in solutions


def test_api_search_returns_json_with_facets(client, indexed):
    data = client.get("/api/v1/search?q=éclairage&hosting=france").get_json()
    assert data["total"] == 2 and data["hits"][0]["title"] == "Lumio"
    assert {f["value"] for f in data["facets"]["hosting"]} == {"france"}
    assert data["degraded"] is False


def test_api_search_refuses_bad_parameters_in_french(client, indexed):
    response = client.get("/api/v1/search?sort=hasard&hosting=lune")
    assert response.status_code == 422
    errors = response.get_json()["errors"]["query"]
    assert errors["sort"] == ["Tri inconnu."] and "Valeur inconnue." in str(errors["hosting"])


def test_a_missing_index_degrades_and_asks_for_a_rebuild(client, settings, redis):
    page = client.get("/recherche?q=eclairage")
    assert page.status_code == 200 and "momentanément indisponible" in page.get_data(as_text=True)
    from jobs import get_queue

    assert "search-rebuild" in get_queue("search", redis).job_ids
    # Asking again does not queue a second rebuild.
    client.get("/api/v1/search?q=eclairage")
    assert get_queue("search", redis).job_ids.count("search-rebuild") == 1


def test_a_facet_link_keeps_the_words_typed_accents_spaces_and_slashes(client, indexed):
    page = html.unescape(client.get("/recherche?q=éclairage public/LED&tri=pertinence").get_data(as_text=True))
    link = next(h for h in re.findall(r'href="(/recherche\?[^"]+)"', page) if "hebergement=france" in h)
    assert link.startswith("/recherche?q=%C3%A9clairage+public/LED&tri=pertinence&hebergement=france")
    followed = client.get(link).get_data(as_text=True)
    assert "Retirer tous les filtres" in followed and "« éclairage public/LED »" in html.unescape(followed)
