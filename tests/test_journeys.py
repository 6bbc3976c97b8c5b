"""What made the journeys look unfinished, each fixed and kept fixed."""
from __future__ import annotations

import html

from sqlalchemy import select

from marketplace.demo import seed
from tenants.models import Role, Tenant
from tests.factories import make_city, make_member, make_programme, make_solution, make_startup
from tests.helpers import sign_in


def test_sign_up_says_every_mistake_at_once(client):
    response = client.post("/inscription", data={"full_name": "Claire", "email": "pas-une-adresse", "password": "x",
                                                 "kind": "collectivite", "territory": "", "job_title": ""})
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert "Indiquez la commune ou l'intercommunalité." in page and "Indiquez votre fonction" in page
    assert "erreur-email" in page  # the account's mistake is said in the same answer


def test_sign_up_marks_what_is_required_and_shows_one_kind_at_a_time(client):
    page = client.get("/inscription").get_data(as_text=True)
    for label in ("Commune ou intercommunalité", "Votre fonction", "Nom de la startup", "Numéro SIREN"):
        assert label + ' <span class="passerelle-required">(obligatoire)</span>' in page, label
    css = client.get("/static/passerelle.css").get_data(as_text=True)
    assert 'form:has(#kind-startup:checked) fieldset[data-kind="collectivite"]' in css


def test_a_plan_of_zero_euros_is_refused(client, db):
    user, membership = make_member(db, make_city(db, "36044"), Role.member)
    db.commit()
    sign_in(client, user, membership)
    response = client.post("/espace/plans-de-financement/nouveau", data={
        "title": "Gymnase", "cost": "0", "eligible_cost": "0", "reference_date": "2026-11-22", "action": "save"})
    assert response.status_code == 400
    assert "Le coût du projet doit être supérieur à 0 €." in response.get_data(as_text=True)


def test_a_calendar_without_dated_deadlines_says_so_instead_of_an_empty_file(client, db):
    city = make_city(db, "36044")
    make_programme(db, recurrence="permanent")  # eligible (Centre-Val de Loire), no date
    user, membership = make_member(db, city, Role.viewer)
    db.commit()
    sign_in(client, user, membership)
    page = client.get("/espace/financements").get_data(as_text=True)
    assert "Aucune échéance datée à venir" in page and "Télécharger les" not in page
    download = client.get("/espace/financements/echeances.ics", follow_redirects=True)
    assert download.mimetype == "text/html" and "aucun fichier à télécharger" in download.get_data(as_text=True)


def test_a_solution_without_references_says_so(client, db):
    make_solution(db, make_startup(db), status="published", name="Toute neuve")
    db.commit()
    page = client.get("/solutions").get_data(as_text=True) + client.get("/solutions/comparer").get_data(as_text=True)
    assert "0 référence vérifiée sur 0" not in page


def test_state_programmes_do_not_say_etat_twice(client, db):
    seed(db)
    db.commit()
    city = db.scalar(select(Tenant).where(Tenant.name == "Ville de Gien"))
    user, membership = make_member(db, city, Role.viewer)
    db.commit()
    sign_in(client, user, membership)
    page = client.get("/espace/financements").get_data(as_text=True)
    assert "État · État" not in page and "État · Subvention" in page
    listing = client.get("/financements").get_data(as_text=True)
    assert "État · État" not in listing


def test_the_jobs_page_speaks_french_of_workers():
    from rq.worker import WorkerStatus

    from marketplace.ops.services import _worker_state

    assert _worker_state(WorkerStatus.IDLE) == "en attente de tâches" and _worker_state("busy") == "au travail"


def test_publishing_a_programme_says_when_search_will_find_it(client, db):
    from tests.factories import make_anct

    programme = make_programme(db, status="in_review")
    curator, membership = make_member(db, make_anct(db), Role.member)
    db.commit()
    sign_in(client, curator, membership)
    page = client.post(f"/operateur/financements/{programme.id}/etat", data={"action": "publish"},
                       follow_redirects=True).get_data(as_text=True)
    assert "la recherche le trouvera d&#39;ici quelques secondes" in page or \
        "la recherche le trouvera d'ici quelques secondes" in page
