"""Every page of the annuaire renders for its persona on the demo data, with a label for each input."""
from __future__ import annotations

import re

from sqlalchemy import select

from marketplace.catalog.models import Solution, SolutionReference
from marketplace.core.db import all_tenants
from marketplace.demo import seed
from tenants.models import Membership, User
from tests.helpers import sign_in


def as_member(client, db, email):
    user = db.scalar(select(User).where(User.email == email))
    with all_tenants(db, because="the test reads every tenant"):
        membership = db.scalar(select(Membership).where(Membership.user_id == user.id))
    sign_in(client, user, membership)


def assert_renders(client, url):
    response = client.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    page = response.get_data(as_text=True)
    for input_id in re.findall(r'<(?:input|select|textarea)(?![^>]*type="(?:hidden|submit)")[^>]*id="([^"]+)"', page):
        assert f'for="{input_id}"' in page, f"{url}: input {input_id} has no label"
    return page


def test_every_catalog_page_renders_for_its_persona(client, db):
    seed(db)
    db.commit()
    by_name = {s.name: s for s in db.scalars(select(Solution))}
    lumio, trisel, flux = by_name["Lumio Veille"], by_name["Tri'Sélect Collecte"], by_name["Mobicité Flux"]

    assert client.get("/solutions?domaine=eclairage-public").headers["Location"].endswith(
        "/recherche?type=solution&domaine=eclairage-public")  # the annuaire is searched
    for url in ("/solutions?liste=1", "/solutions?liste=1&domaine=eclairage-public", f"/solutions/{lumio.id}",
                f"/solutions/comparer?ids={lumio.id},{by_name['Civiweb Démarches'].id}", "/solutions/comparer"):
        assert_renders(client, url)

    as_member(client, db, "fondatrice@lumio.test")
    page = assert_renders(client, "/espace/solutions")
    assert "Modification en cours de validation" in page and "1 demande de contact à traiter" in page
    assert_renders(client, "/espace/solutions/nouvelle")
    form = assert_renders(client, f"/espace/solutions/{lumio.id}/modifier")
    assert 'value="49"' in form  # the pending edit's price, not the published one
    assert_renders(client, f"/espace/solutions/{lumio.id}/references")
    assert_renders(client, f"/espace/solutions/{lumio.id}/archiver")
    assert "Gien" in assert_renders(client, "/espace/demandes")
    assert "Mes solutions" in assert_renders(client, "/espace/")

    as_member(client, db, "equipe@mobicite.test")
    page = assert_renders(client, "/espace/solutions")
    assert "Mobicité Flux" in page
    assert client.post(f"/espace/solutions/{flux.id}/soumettre").status_code == 302
    assert "une seule solution publiée" in client.get("/espace/solutions").get_data(as_text=True)

    as_member(client, db, "dgs@chateauroux-metropole.test")
    page = assert_renders(client, "/espace/selection")
    assert "À comparer avec la régie" in page
    assert "Lumio Veille" in assert_renders(client, "/espace/references")
    assert_renders(client, f"/solutions/{lumio.id}/contacter")
    assert "Ma sélection" in assert_renders(client, "/espace/")

    as_member(client, db, "curatrice@anct.test")
    page = assert_renders(client, "/operateur/solutions/")
    assert "Tri&#39;Sélect Collecte" in page and "Lumio Veille" in page
    assert_renders(client, "/operateur/solutions/?etat=published")
    assert "Prix minimum HT" in assert_renders(client, f"/operateur/solutions/{lumio.id}")
    assert "Publier" in assert_renders(client, f"/operateur/solutions/{trisel.id}")
    assert_renders(client, f"/operateur/solutions/{lumio.id}/archiver")
    assert "Modération des solutions" in assert_renders(client, "/espace/")
    assert db.scalars(select(SolutionReference)).first() is not None
