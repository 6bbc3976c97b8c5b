"""References: the territories that deployed a solution, verified by the city's own tenant."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from marketplace.catalog import services as catalog
from marketplace.catalog.models import CatalogEvent, ReferenceStatus, SolutionReference
from marketplace.core.audit import AuditEvent
from marketplace.core.errors import NotFound
from tenants.models import Role
from tests.factories import make_epci, make_member, make_reference, make_solution, make_startup
from tests.helpers import sign_in


def test_a_reference_becomes_verified_when_the_named_city_confirms_it(client, db, people, indexed):
    solution = make_solution(db, people.startup, status="published")
    reference = make_reference(db, solution, insee="36044")  # Châteauroux, the people's city
    db.commit()
    page = client.get(f"/solutions/{solution.id}").get_data(as_text=True)
    assert "Châteauroux" in page and "Déclarée par la startup" in page
    assert "1 référence déclarée, aucune vérifiée" in page

    sign_in(client, people.buyer, people.city_m)
    listing = client.get("/espace/references").get_data(as_text=True)
    assert solution.name in listing and "À confirmer" in listing
    assert client.post(f"/espace/references/{reference.id}/confirmer").status_code == 302
    db.refresh(reference)
    assert reference.status is ReferenceStatus.verified and reference.decided_by_id == people.buyer.id
    assert indexed == [("solution", solution.id)]  # the badge is searchable
    event = db.scalars(select(AuditEvent).where(AuditEvent.event_type == CatalogEvent.reference_verified)).one()
    assert event.tenant_id == people.startup.id and event.data["city_tenant_id"] == people.city.id

    page = client.get(f"/solutions/{solution.id}").get_data(as_text=True)
    assert "Référence vérifiée" in page and "1 référence vérifiée sur 1" in page
    # The badge is on the listing and the comparison too.
    assert "Référence vérifiée" in client.get("/solutions?liste=1").get_data(as_text=True)
    assert "Référence vérifiée" in client.get(f"/solutions/comparer?ids={solution.id}").get_data(as_text=True)


def test_another_city_cannot_confirm_a_reference_naming_someone_else(client, db, people):
    solution = make_solution(db, people.startup, status="published")
    reference = make_reference(db, solution, insee="45155")  # Gien
    db.commit()
    sign_in(client, people.buyer, people.city_m)  # Châteauroux
    assert client.post(f"/espace/references/{reference.id}/confirmer").status_code == 404
    assert client.post(f"/espace/references/{reference.id}/contester").status_code == 404
    assert solution.name not in client.get("/espace/references").get_data(as_text=True)
    # Nor can the startup confirm its own reference: the route is for collectivités.
    sign_in(client, people.founder, people.startup_m)
    assert client.post(f"/espace/references/{reference.id}/confirmer").status_code == 404
    db.refresh(reference)
    assert reference.status is ReferenceStatus.declared


def test_a_viewer_of_the_city_cannot_confirm(client, db, people):
    solution = make_solution(db, people.startup, status="published")
    reference = make_reference(db, solution, insee="36044")
    viewer, viewer_m = make_member(db, people.city, Role.viewer)
    db.commit()
    sign_in(client, viewer, viewer_m)
    assert client.post(f"/espace/references/{reference.id}/confirmer").status_code == 403


def test_an_epci_confirms_the_references_naming_the_epci_not_its_communes(db, people):
    epci = make_epci(db, "243600327")  # Châteauroux Métropole
    solution = make_solution(db, people.startup, status="published")
    on_epci = make_reference(db, solution, siren="243600327")
    on_commune = make_reference(db, solution, insee="36044")
    assert catalog.references_naming(db, epci) == [on_epci]
    with pytest.raises(NotFound):
        catalog.get_reference_for_city(db, epci, on_commune.id)
    catalog.decide_reference(db, make_member(db, epci)[0], epci, on_epci, True)
    assert on_epci.is_verified and solution.verified_count == 1 and solution.deployments == 2


def test_a_contested_reference_disappears_from_the_public_page(client, db, people):
    solution = make_solution(db, people.startup, status="published")
    reference = make_reference(db, solution, insee="36044", testimonial="Un faux témoignage.")
    db.commit()
    sign_in(client, people.buyer, people.city_m)
    client.post(f"/espace/references/{reference.id}/contester")
    client.get("/")  # any request
    db.refresh(reference)
    assert reference.status is ReferenceStatus.declined
    page = client.get(f"/solutions/{solution.id}").get_data(as_text=True)
    assert "Un faux témoignage." not in page and "Aucune référence pour le moment" in page
    # The startup still sees it, marked as contested.
    sign_in(client, people.founder, people.startup_m)
    assert "Contestée par la collectivité" in client.get(f"/espace/solutions/{solution.id}/references").get_data(as_text=True)


def test_the_startup_names_a_territory_as_on_the_sign_up_page(client, db, people):
    solution = make_solution(db, people.startup)
    db.commit()
    sign_in(client, people.founder, people.startup_m)
    url = f"/espace/solutions/{solution.id}/references"
    # The autocomplete's value: "Name (postal code) — INSEE".
    response = client.post(url, data={"territory": "Châteauroux (36000) — 36044", "year": "2022",
                                      "testimonial": "Déployé sur 4 000 points lumineux."})
    assert response.status_code == 302
    # An EPCI by its SIREN.
    assert client.post(url, data={"territory": "Châteauroux Métropole — 243600327", "year": "2023"}).status_code == 302
    # An ambiguous name lists the candidates, each with the convention's value.
    ambiguous = client.post(url, data={"territory": "Saint-Martin", "year": "2023"})
    page = ambiguous.get_data(as_text=True)
    assert ambiguous.status_code == 400 and "Plusieurs territoires correspondent" in page
    assert page.count('name="territory" value="Saint-Martin (') >= 2
    # The same territory twice is refused in French.
    again = client.post(url, data={"territory": "Châteauroux (36000) — 36044", "year": "2022"})
    assert again.status_code == 422 and "figure déjà" in again.get_data(as_text=True)
    future = client.post(url, data={"territory": "Gien", "year": "2099"})
    assert future.status_code == 422 and "futur" in future.get_data(as_text=True)
    db.expire_all()
    codes = {r.territory_code for r in db.scalars(select(SolutionReference).where(
        SolutionReference.solution_id == solution.id))}
    assert codes == {"36044", "243600327"}


def test_the_startup_removes_a_reference_and_the_index_is_told(client, db, people, indexed):
    solution = make_solution(db, people.startup, status="published")
    reference = make_reference(db, solution, insee="45155")
    db.commit()
    sign_in(client, people.founder, people.startup_m)
    reference_id = reference.id
    assert client.post(f"/espace/solutions/references/{reference_id}/supprimer").status_code == 302
    db.expire_all()
    assert db.get(SolutionReference, reference_id) is None
    assert indexed == [("solution", solution.id)]


def test_another_startup_cannot_remove_my_references(client, db, people):
    solution = make_solution(db, people.startup, status="published")
    reference = make_reference(db, solution, insee="45155")
    rival, rival_m = make_member(db, make_startup(db))
    db.commit()
    sign_in(client, rival, rival_m)
    assert client.post(f"/espace/solutions/references/{reference.id}/supprimer").status_code == 404
    assert client.get(f"/espace/solutions/{solution.id}/references").status_code == 404
    db.expire_all()
    assert db.get(SolutionReference, reference.id) is not None
