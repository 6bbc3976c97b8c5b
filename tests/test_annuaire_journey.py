"""The annuaire's promise, end to end: a buyer finds smart public lighting deployed by cities of
20 000–100 000 inhabitants, sees verified references, compares three, shortlists two and contacts
one; the startup sees the lead. Search runs on a real index fed by the change log, as a node's
follower applies it."""
from __future__ import annotations

import csv
import io

from search.follower import catch_up
from search.service import rebuild
from tenants.models import Role
from tests.factories import make_city, make_member, make_reference, make_solution, make_startup
from tests.helpers import sign_in


def _ids_in(page: str, solutions) -> set[str]:
    return {s.name for s in solutions if s.name in page}


def test_a_buyer_finds_compares_shortlists_and_contacts(client, db, settings, redis):
    lumio, nox, clair = (make_startup(db, n, siren=s) for n, s in
                         [("Lumio", "912345675"), ("Nox", "901234567"), ("Clair", "923456784")])
    a = make_solution(db, lumio, status="published", name="Lumio Veille",
                      pitch="Éclairage public intelligent : télégestion des lampadaires.")
    b = make_solution(db, nox, status="published", name="Nox Lampadaires",
                      pitch="Un éclairage public intelligent pour les bourgs.")
    c = make_solution(db, clair, status="published", name="Clair de Ville",
                      pitch="Éclairage public intelligent, abaissement et détection de présence.")
    ref_a = make_reference(db, a, insee="36044")   # Châteauroux, 42 963 inhabitants
    make_reference(db, b, insee="35360")            # Vitré, 19 365: a smaller town
    make_reference(db, c, insee="17299")            # Rochefort, 23 460
    city = make_city(db, "36044")
    buyer, buyer_membership = make_member(db, city, Role.admin)
    founder, founder_membership = make_member(db, lumio, Role.admin)
    other_founder, other_membership = make_member(db, nox, Role.admin)
    db.commit()
    rebuild(settings.search_dir, db)

    # Châteauroux confirms the reference naming it; the follower updates the badge.
    sign_in(client, buyer, buyer_membership)
    assert client.post(f"/espace/references/{ref_a.id}/confirmer").status_code == 302
    catch_up(client.application)

    # Search, with the deployment-size facet in the URL; accents and plurals don't matter.
    for q in ("éclairage public intelligent", "eclairages publics intelligents"):
        page = client.get("/recherche", query_string={"q": q, "deploye": "20000-100000"}).get_data(as_text=True)
        assert _ids_in(page, (a, b, c)) == {"Lumio Veille", "Clair de Ville"}, q
        assert "Référence vérifiée (1)" in page

    # Compare three, shortlist two, contact one.
    compare = client.get(f"/solutions/comparer?ids={a.id},{b.id},{c.id}")
    assert compare.status_code == 200 and _ids_in(compare.get_data(as_text=True), (a, b, c)) == {s.name for s in (a, b, c)}
    for solution in (a, c):
        assert client.post("/espace/selection", data={"solution_id": solution.id}).status_code == 302
    exported = client.get("/espace/selection.csv").get_data(as_text=True).lstrip("\ufeff")
    names = {row[0] for row in csv.reader(io.StringIO(exported), delimiter=";")}
    assert {"Lumio Veille", "Clair de Ville"} <= names and "Nox Lampadaires" not in names
    message = "Bonjour, nous renouvelons 3 000 points lumineux en 2027 : pouvez-vous nous présenter votre offre ?"
    assert client.post(f"/solutions/{a.id}/contacter", data={"message": message}).status_code == 302

    # The startup sees the lead, with the buyer's organisation; another startup does not.
    sign_in(client, founder, founder_membership)
    leads = client.get("/espace/demandes").get_data(as_text=True)
    assert "Ville de Châteauroux" in leads and "3 000 points lumineux" in leads
    sign_in(client, other_founder, other_membership)
    assert "3 000 points lumineux" not in client.get("/espace/demandes").get_data(as_text=True)
