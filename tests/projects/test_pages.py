"""Projects and needs as their users go through them: a city's projects, what Passerelle proposes for
one, the need published to startups and their answers."""
from __future__ import annotations

import datetime as dt
import html

from sqlalchemy import func, select

from marketplace.core.clock import today, utcnow
from marketplace.core.db import all_tenants, bound_to_tenant
from marketplace.funding import services as funding
from marketplace.projects import services as projects
from marketplace.projects import store
from marketplace.projects.models import FundedProject, NeedAnswer, Project, ProjectMatch, ProjectStatus
from search.indexing import without_indexing
from tenants.models import Role
from tests.factories import make_city, make_member, make_programme, make_project, make_solution, make_startup
from tests.helpers import sign_in

NNBSP, NBSP = "\u202f", "\u00a0"


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def count_projects(db) -> int:
    with all_tenants(db, because="the test counts every tenant's projects"):
        return db.scalar(select(func.count()).select_from(Project))


def stored(db, project_id: int) -> Project | None:
    db.expire_all()
    with all_tenants(db, because="the test reads the stored project"):
        return db.get(Project, project_id)


def city_with_people(db, insee: str = "45155"):
    city = make_city(db, insee)
    admin, admin_membership = make_member(db, city, Role.admin, name="Claire Admin")
    colleague, _ = make_member(db, city, Role.member, name="Paul Collègue")
    db.commit()
    return city, admin, admin_membership, colleague


FORM = {"title": "Éclairage public du centre-ville", "description": "Remplacer 400 points lumineux par des LED.",
        "themes": ["eclairage-public", "energie-batiments"], "commune": "45500 Gien", "cost": "1 200 000,50",
        "planned_start": "2027-03-01", "stage": "etude", "status": "actif"}


def test_a_city_creates_edits_lists_and_deletes_a_project(client, db):
    city, admin, membership, colleague = city_with_people(db)
    sign_in(client, admin, membership)
    empty = text_of(client.get("/espace/projets/"))
    assert "Aucun projet pour le moment" in empty and 'href="/espace/projets/nouveau"' in empty
    blank = text_of(client.get("/espace/projets/nouveau"))
    assert 'value="Gien (45500) — 45155"' in blank  # the city's own commune by default
    assert "Paul Collègue" in blank and "Éclairage public" in blank

    created = client.post("/espace/projets/nouveau", data={**FORM, "contacts": [str(colleague.id), str(admin.id)]})
    assert created.status_code == 302, text_of(created)[-1500:]
    project_id = int(created.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    project = stored(db, project_id)
    assert project.tenant_id == city.id and project.commune_insee == "45155"
    assert project.cost_ht_cents == 120_000_050 and project.planned_start == dt.date(2027, 3, 1)
    assert project.themes == ["eclairage-public", "energie-batiments"]
    assert sorted(c.user_id for c in project.contacts) == sorted([colleague.id, admin.id])

    page = text_of(client.get(f"/espace/projets/{project_id}"))
    assert "Éclairage public du centre-ville" in page and f"1{NNBSP}200{NNBSP}000,50{NBSP}€" in page
    assert "Paul Collègue" in page and "en tâche de fond" in page  # no match yet: when matching runs
    assert 'href="/espace/plans-de-financement/nouveau"' in page and 'href="/achats-groupes/"' in page
    assert 'href="/espace/contrats/"' in page

    form = text_of(client.get(f"/espace/projets/{project_id}/modifier"))
    assert 'value="1200000,50"' in form and 'value="2027-03-01"' in form
    edited = client.post(f"/espace/projets/{project_id}/modifier",
                         data={**FORM, "title": "Éclairage public, tranche 1", "status": "en_pause", "cost": "350000",
                               "contacts": [str(colleague.id)]})
    assert edited.status_code == 302
    project = stored(db, project_id)
    assert project.title == "Éclairage public, tranche 1" and project.status is ProjectStatus.paused
    assert project.cost_ht_cents == 35_000_000 and [c.user_id for c in project.contacts] == [colleague.id]

    listing = text_of(client.get("/espace/projets/"))
    assert "Éclairage public, tranche 1" in listing and "En pause" in listing
    assert "Éclairage public, tranche 1" not in text_of(client.get("/espace/projets/?statut=actif"))
    assert "Éclairage public, tranche 1" in text_of(client.get("/espace/projets/?statut=en_pause"))

    confirm = client.get(f"/espace/projets/{project_id}/supprimer")
    assert confirm.status_code == 200 and "Supprimer le projet « Éclairage public, tranche 1 » ?" in text_of(confirm)
    assert stored(db, project_id) is not None  # asking is not deleting
    deleted = client.post(f"/espace/projets/{project_id}/supprimer")
    assert deleted.status_code == 302 and deleted.headers["Location"].endswith("/espace/projets/")
    assert stored(db, project_id) is None
    assert "Aucun projet pour le moment" in text_of(client.get("/espace/projets/"))


def test_bad_input_gets_french_errors_on_its_fields_and_changes_nothing(client, db):
    city, admin, membership, _ = city_with_people(db)
    outsider, _ = make_member(db, make_city(db, "36044"), Role.member)
    db.commit()
    sign_in(client, admin, membership)
    bad = {**FORM, "commune": "Zzyzx-sur-Mer", "cost": "-5", "themes": ["eclairage-public", "licornes"],
           "contacts": [str(outsider.id)], "planned_start": "3000-01-01"}
    response = client.post("/espace/projets/nouveau", data=bad)
    page = text_of(response)
    assert response.status_code == 400
    for field, message in [("commune", "Aucune commune ne correspond à « Zzyzx-sur-Mer »."),
                           ("cost", "Le montant ne peut pas être négatif."),
                           ("themes", "Thème inconnu."),
                           ("contacts", "Un contact du projet doit être membre de votre organisation."),
                           ("planned_start", "Date entre 1900 et 2100 attendue.")]:
        assert f'id="erreur-{field}"' in page and message in page, field
    assert "Le formulaire contient 5 erreurs" in page
    assert 'value="Zzyzx-sur-Mer"' in page  # what was typed stays
    assert client.post("/espace/projets/nouveau", data={**FORM, "title": ""}).status_code == 400
    assert count_projects(db) == 0

    project = make_project(db, city, actor=admin, title="Piste cyclable")
    db.commit()
    refused = client.post(f"/espace/projets/{project.id}/modifier", data={**bad, "title": "Autre titre"})
    assert refused.status_code == 400 and "Thème inconnu." in text_of(refused)
    kept = stored(db, project.id)
    assert kept.title == "Piste cyclable" and kept.cost_ht_cents == 45_000_000 and kept.commune_insee == "45155"
    for junk in ({"stage": "fini"}, {"status": "x"}, {"contacts": ["abc"]}, {"cost": "beaucoup"},
                 {"cost": "1" * 40}, {"title": "x" * 500}):
        assert client.post(f"/espace/projets/{project.id}/modifier", data={**FORM, **junk}).status_code == 400, junk
    assert stored(db, project.id).title == "Piste cyclable"


def test_a_postal_code_shared_by_several_communes_lists_them_to_choose_from(client, db):
    city, admin, membership, _ = city_with_people(db)
    sign_in(client, admin, membership)
    ambiguous = client.post("/espace/projets/nouveau", data={**FORM, "commune": "45500"})
    page = text_of(ambiguous)
    assert ambiguous.status_code == 400 and "Plusieurs territoires correspondent" in page
    assert 'name="commune_choice" value="Poilly-lez-Gien (45500) — 45254"' in page and count_projects(db) == 0
    chosen = client.post("/espace/projets/nouveau",
                         data={**FORM, "commune": "45500", "commune_choice": "Poilly-lez-Gien (45500) — 45254"})
    assert chosen.status_code == 302
    with all_tenants(db, because="the test reads the stored project"):
        assert db.scalar(select(Project.commune_insee)) == "45254"


def test_another_tenants_project_answers_404_on_every_project_url(client, db):
    city, admin, membership, _ = city_with_people(db)
    other = make_city(db, "36044")
    theirs = make_project(db, other, title="Projet de Châteauroux", need_text="Nous cherchons des capteurs de CO2.")
    db.commit()
    sign_in(client, admin, membership)
    base = f"/espace/projets/{theirs.id}"
    for method, url in [("GET", base), ("GET", base + "/modifier"), ("POST", base + "/modifier"),
                        ("GET", base + "/supprimer"), ("POST", base + "/supprimer"), ("POST", base + "/besoin"),
                        ("GET", base + "/besoin/retrait"), ("POST", base + "/besoin/retrait")]:
        response = client.open(url, method=method, data={**FORM, "need_text": "Un autre besoin, assez long."})
        assert response.status_code == 404, f"{method} {url}: {response.status_code}"
    kept = stored(db, theirs.id)
    assert kept.title == "Projet de Châteauroux" and kept.need_published and "Châteauroux" not in \
        text_of(client.get("/espace/projets/"))


def test_a_viewer_reads_projects_but_cannot_create_edit_or_set_the_threshold(client, db):
    city, admin, admin_membership, _ = city_with_people(db)
    viewer, viewer_membership = make_member(db, city, Role.viewer)
    member, member_membership = make_member(db, city, Role.member)
    project = make_project(db, city, actor=admin)
    db.commit()
    sign_in(client, viewer, viewer_membership)
    listing = text_of(client.get("/espace/projets/"))
    assert project.title in listing and "/espace/projets/nouveau" not in listing and "/espace/projets/seuil" not in listing
    assert "Seuil actuel : <strong>50/100</strong>" in listing
    page = text_of(client.get(f"/espace/projets/{project.id}"))
    assert project.title in page and "/modifier" not in page and "/supprimer" not in page and "/besoin" not in page
    assert "/espace/plans-de-financement/nouveau" not in page
    for method, url in [("GET", "/espace/projets/nouveau"), ("POST", "/espace/projets/nouveau"),
                        ("GET", f"/espace/projets/{project.id}/modifier"),
                        ("POST", f"/espace/projets/{project.id}/modifier"),
                        ("POST", f"/espace/projets/{project.id}/supprimer"),
                        ("POST", f"/espace/projets/{project.id}/besoin"), ("POST", "/espace/projets/seuil")]:
        assert client.open(url, method=method, data={**FORM, "threshold": "10",
                                                     "need_text": "Un besoin assez long pour passer."}
                           ).status_code == 403, f"{method} {url}"
    assert stored(db, project.id).title == project.title and count_projects(db) == 1

    # The threshold is the admins' (a member is refused too); out of range is a field error.
    sign_in(client, member, member_membership)
    assert client.post("/espace/projets/seuil", data={"threshold": "10"}).status_code == 403
    assert "/espace/projets/seuil" not in text_of(client.get("/espace/projets/"))
    sign_in(client, admin, admin_membership)
    too_high = client.post("/espace/projets/seuil", data={"threshold": "150"})
    assert too_high.status_code == 400 and "Une note entre 0 et 100." in text_of(too_high)
    assert client.post("/espace/projets/seuil", data={"threshold": "70"}).status_code == 302
    assert projects.threshold_of(db, city.id) == 70
    assert "chaque matin les nouveaux financements dont la note atteint ce seuil" in text_of(client.get("/espace/projets/"))


def test_the_project_page_shows_the_funding_found_with_its_score_and_similar_funded_projects(client, db):
    # The reference's index is cached per (database, row count, last id): a rolled-back test may leave
    # another reference under the same key.
    store._funded_cache.clear()
    city, admin, membership, _ = city_with_people(db)
    project = make_project(db, city, actor=admin, title="Rénovation énergétique de l'école Jean-Zay")
    programme = make_programme(db, title="Fonds vert : rénovation des bâtiments publics")
    with without_indexing(db):
        call = funding.create_call(db, admin, programme, {"title": "Appel 2027 écoles",
                                                          "closes_on": today() + dt.timedelta(days=40)})
        funding.apply_call_action(db, admin, call, "publish")
    old = utcnow() - dt.timedelta(days=30)
    db.add_all([
        ProjectMatch(tenant_id=city.id, project_id=project.id, target=f"programme:{programme.id}",
                     programme_id=programme.id, score=72, explanation="Gien est éligible ; thème Énergie et bâtiments.",
                     first_matched_at=old),
        ProjectMatch(tenant_id=city.id, project_id=project.id, target=f"call:{call.id}", programme_id=programme.id,
                     call_id=call.id, score=64, explanation="Appel ouvert jusqu'au printemps.",
                     closes_on=today() + dt.timedelta(days=40)),
        ProjectMatch(tenant_id=city.id, project_id=project.id, target="programme:999999", programme_id=programme.id,
                     score=90, explanation="Plus d'actualité.", active=False),
        FundedProject(key="test-1", source="Fonds vert 2023", commune_insee="18033", departement="18",
                      measure="Rénovation énergétique des bâtiments publics locaux",
                      title="Rénovation énergétique de l'école Jules-Ferry", beneficiary="Commune de Bourges",
                      amount_cents=12_345_600),
    ])
    db.commit()
    sign_in(client, admin, membership)
    page = text_of(client.get(f"/espace/projets/{project.id}"))
    assert "Fonds vert : rénovation des bâtiments publics" in page and "Appel 2027 écoles" in page
    assert "Note 72/100" in page and "Gien est éligible ; thème Énergie et bâtiments." in page
    assert f'href="/financements/{programme.id}"' in page
    assert f'href="/financements/{programme.id}#appel-{call.id}"' in page and "Note 64/100" in page
    assert page.index("Note 72/100") < page.index("Note 64/100")  # best first
    assert "Plus d'actualité." not in page and "Note 90/100" not in page  # inactive
    assert page.count(">Nouveau<") == 1  # the call's match is a week old at most, the programme's is not
    assert f"Clôture le {(today() + dt.timedelta(days=40)).day}" in page
    assert "Rénovation énergétique de l'école Jules-Ferry" in page and "Commune de Bourges" in page
    assert "18033" in page and f"123{NNBSP}456{NBSP}€" in page


def test_a_startup_answers_a_published_need_and_the_city_reads_the_answer(client, db):
    city, admin, membership, _ = city_with_people(db)
    project = make_project(db, city, actor=admin, title="Capteurs de qualité de l'air dans les écoles",
                           description="DESCRIPTION_PRIVEE des salles", cost_ht_cents=98_765_400)
    startup = make_startup(db, "Aéro Capteurs")
    founder, founder_membership = make_member(db, startup, Role.member)
    solution = make_solution(db, startup, status="published", name="AirÉcole", contact_email="bonjour@air.test")
    other_solution = make_solution(db, make_startup(db, "Concurrent", siren="552100554"), status="published",
                                   name="Autre capteur")
    db.commit()

    sign_in(client, admin, membership)
    assert "/espace/besoins" not in text_of(client.get(f"/espace/projets/{project.id}"))
    short = client.post(f"/espace/projets/{project.id}/besoin", data={"need_text": "Des capteurs"})
    assert short.status_code == 400 and "Entre 20 et 3000 caractères." in text_of(short).replace(NNBSP, "")
    published = client.post(f"/espace/projets/{project.id}/besoin",
                            data={"need_text": "Mesurer le CO2 dans 12 salles de classe, données ouvertes."})
    assert published.status_code == 302
    assert "Publié le" in text_of(client.get(f"/espace/projets/{project.id}"))

    sign_in(client, founder, founder_membership)
    listing = text_of(client.get("/espace/besoins/"))
    assert "Capteurs de qualité de l'air dans les écoles" in listing and "Mesurer le CO2" in listing
    need = text_of(client.get(f"/espace/besoins/{project.id}"))
    assert "Mesurer le CO2 dans 12 salles de classe" in need and "Gien" in need
    assert "DESCRIPTION_PRIVEE" not in need and "987" not in need and "Paul" not in need
    assert "DESCRIPTION_PRIVEE" not in listing and "987" not in listing
    assert "AirÉcole" in need and "Autre capteur" not in need  # only its own solutions to answer with

    foreign = client.post(f"/espace/besoins/{project.id}/reponse",
                          data={"solution_id": str(other_solution.id), "message": "Notre capteur convient très bien."})
    assert foreign.status_code == 422 and "Choisissez une de vos solutions publiées." in text_of(foreign)
    message = "AirÉcole mesure le CO2 et publie les données en open data ; déployé à Vitré."
    answered = client.post(f"/espace/besoins/{project.id}/reponse",
                           data={"solution_id": str(solution.id), "message": message})
    assert answered.status_code == 302
    again = client.post(f"/espace/besoins/{project.id}/reponse",
                        data={"solution_id": str(solution.id), "message": message})
    assert again.status_code == 422 and "déjà répondu" in text_of(again)
    with all_tenants(db, because="the test counts the answers"):
        assert db.scalar(select(func.count()).select_from(NeedAnswer)) == 1
    mine = text_of(client.get("/espace/besoins/"))
    assert "Vos réponses" in mine and "AirÉcole" in mine.split("Vos réponses")[-1]

    sign_in(client, admin, membership)
    page = text_of(client.get(f"/espace/projets/{project.id}"))
    assert "Aéro Capteurs" in page and message in page and "bonjour@air.test" in page


def test_a_withdrawn_need_is_gone_for_startups(client, db):
    city, admin, membership, _ = city_with_people(db)
    project = make_project(db, city, actor=admin, title="Billetterie du musée",
                           need_text="Une billetterie en ligne pour le musée municipal, accessible.")
    startup = make_startup(db, "Billets Malins")
    founder, founder_membership = make_member(db, startup, Role.member)
    solution = make_solution(db, startup, status="published", name="Guichet")
    db.commit()
    sign_in(client, founder, founder_membership)
    assert client.get(f"/espace/besoins/{project.id}").status_code == 200

    sign_in(client, admin, membership)
    confirm = client.get(f"/espace/projets/{project.id}/besoin/retrait")
    assert confirm.status_code == 200 and "Retirer le besoin « Billetterie du musée » ?" in text_of(confirm)
    assert stored(db, project.id).need_published  # asking is not withdrawing
    assert client.post(f"/espace/projets/{project.id}/besoin/retrait").status_code == 302
    assert not stored(db, project.id).need_published

    sign_in(client, founder, founder_membership)
    assert client.get(f"/espace/besoins/{project.id}").status_code == 404
    assert client.post(f"/espace/besoins/{project.id}/reponse",
                       data={"solution_id": str(solution.id), "message": "Nous avons la billetterie qu'il vous faut."}
                       ).status_code == 404
    assert "Billetterie du musée" not in text_of(client.get("/espace/besoins/"))
    with all_tenants(db, because="the test counts the answers"):
        assert db.scalar(select(func.count()).select_from(NeedAnswer)) == 0


def test_the_needs_pages_are_the_startups_and_the_projects_the_cities(client, db):
    city, admin, membership, _ = city_with_people(db)
    startup = make_startup(db)
    founder, founder_membership = make_member(db, startup, Role.admin)
    db.commit()
    sign_in(client, admin, membership)
    assert client.get("/espace/besoins/").status_code == 404
    menu = text_of(client.get("/espace/"))
    assert 'href="/espace/projets/"' in menu and 'href="/espace/besoins/"' not in menu
    sign_in(client, founder, founder_membership)
    assert client.get("/espace/projets/").status_code == 404
    assert client.post("/espace/projets/nouveau", data=FORM).status_code == 404
    page = text_of(client.get("/espace/besoins/"))
    assert "Aucun besoin publié pour le moment" in page and 'href="/espace/besoins/"' in page
    with bound_to_tenant(db, city.id):
        assert db.scalar(select(func.count()).select_from(Project)) == 0


def test_startups_page_through_published_needs_filtered_by_theme(client, db, monkeypatch):
    from marketplace.projects import views as project_views
    monkeypatch.setattr(project_views, "PER_PAGE", 2)
    city, admin, _, _ = city_with_people(db)
    text = "Un besoin décrit assez longuement pour être publié aux startups."
    for n in range(3):
        make_project(db, city, actor=admin, title=f"Éclairage {n}", themes=["eclairage-public"], need_text=text)
    make_project(db, city, actor=admin, title="Piste cyclable", themes=["mobilite-stationnement"], need_text=text)
    make_project(db, city, actor=admin, title="Éclairage privé", themes=["eclairage-public"])  # not a need
    startup = make_startup(db, "Lumière Vive")
    founder, founder_membership = make_member(db, startup, Role.member)
    db.commit()
    sign_in(client, founder, founder_membership)

    first = text_of(client.get("/espace/besoins/?theme=eclairage-public"))
    second = text_of(client.get("/espace/besoins/?theme=eclairage-public&page=2"))
    # Newest first, two a page, only the theme's published needs.
    assert "Éclairage 2" in first and "Éclairage 1" in first and "Éclairage 0" not in first
    assert "Éclairage 0" in second and "Éclairage 1" not in second
    assert all("Piste cyclable" not in page and "Éclairage privé" not in page for page in (first, second))
    assert "Piste cyclable" in text_of(client.get("/espace/besoins/?theme=mobilite-stationnement"))


def test_a_second_process_reads_the_similar_funded_projects_the_first_found(app, db):
    store._funded_cache.clear()
    city, admin, _, _ = city_with_people(db)
    project = make_project(db, city, actor=admin, title="Rénovation énergétique de l'école Jean-Zay")
    db.add(FundedProject(key="test-1", source="Fonds vert 2023", commune_insee="18033", departement="18",
                         measure="Rénovation énergétique des bâtiments publics locaux",
                         title="Rénovation énergétique de l'école Jules-Ferry", beneficiary="Commune de Bourges",
                         amount_cents=12_345_600))
    db.commit()
    first = [(f.key, score) for f, score in store.similar_funded(db, project)]
    assert first and first[0][0] == "test-1"
    store._funded_cache.clear()  # another worker: its own index of the reference, nothing found yet
    index = store._funded_index(db)

    def forbidden(*args, **kwargs):
        raise AssertionError("searched again")

    index.vectorizer.transform = forbidden
    assert [(f.key, score) for f, score in store.similar_funded(db, project)] == first
