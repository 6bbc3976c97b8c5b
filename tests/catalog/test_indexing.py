"""The annuaire's search provider: what the index may show, and when it is told to look again."""
from __future__ import annotations

from flask import url_for

from marketplace.catalog import indexing
from marketplace.core.db import bound_to_tenant
from search.documents import provider
from search.indexing import without_indexing
from tests.factories import make_city, make_member, make_reference, make_solution, make_startup


def test_the_provider_is_registered_for_solutions():
    registered = provider("solution")
    assert registered.load is indexing.load and registered.all_ids is indexing.all_ids


def test_drafts_submitted_and_archived_solutions_give_no_document(db):
    for status in ("draft", "submitted", "archived"):
        assert indexing.load(db, make_solution(db, status=status).id) is None
    assert indexing.load(db, 987654) is None


def test_a_published_solution_gives_a_full_document(db):
    startup = make_startup(db, "Lumio Territoires")
    solution = make_solution(db, startup, status="published", open_data_standards=["GTFS"], licence="AGPL-3.0")
    verified = make_reference(db, solution, insee="36044")      # Châteauroux, 42 963 inhabitants
    make_reference(db, solution, insee="45155")                 # Gien, ~14 000
    make_reference(db, solution, siren="243600327")             # Châteauroux Métropole, ~73 000
    city = make_city(db, "36044")
    from marketplace.catalog import services as catalog

    with without_indexing(db), bound_to_tenant(db, city.id):
        catalog.decide_reference(db, make_member(db, city)[0], city, verified, True)

    doc = indexing.load(db, solution.id)
    assert doc["id"] == f"solution:{solution.id}" and doc["type"] == "solution" and doc["object_id"] == solution.id
    assert doc["title"] == solution.name and doc["summary"] == solution.pitch
    assert "contrôleurs" in doc["body"] and "**" not in doc["body"] and "<" not in doc["body"]
    for word in ("Châteauroux", "Gien", "Châteauroux Métropole", "GTFS", "AGPL-3.0"):
        assert word in doc["extra"]
    assert doc["domains"] == ["eclairage-public"] and doc["hosting"] == "france"
    assert doc["price_model"] == "par-unite" and doc["sizes"] == ["2000-20000", "20000-100000"]
    assert doc["deployed_sizes"] == ["2000-20000", "20000-100000"]
    assert doc["verified"] is True and doc["verified_count"] == 1 and doc["deployments"] == 3
    assert doc["published_at"] == solution.published_at and doc["published_at"].tzinfo is not None
    assert doc["owner"] == "Lumio Territoires"
    assert set(indexing.all_ids(db)) >= {solution.id}


def test_the_document_url_is_the_public_page(app, db):
    solution = make_solution(db, status="published")
    with app.test_request_context():
        assert indexing.load(db, solution.id)["url"] == url_for("catalog.solution", solution_id=solution.id)


def test_the_database_fallback_finds_published_solutions_by_name(db):
    make_solution(db, status="published", name="Stationnement intelligent")
    make_solution(db, status="draft", name="Stationnement secret")
    docs = indexing.fallback(db, "stationnement", 10)
    assert [d["title"] for d in docs] == ["Stationnement intelligent"]
