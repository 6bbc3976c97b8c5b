"""Matching: the right call reaches the right city's project, with a score and why; never a
non-eligible city; one match per pair however often the jobs run; each notice once."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from marketplace.core.clock import today
from marketplace.core.db import all_tenants, bound_to_tenant
from marketplace.funding import services as funding
from marketplace.mail.models import OutgoingMail
from marketplace.projects import mails, store
from marketplace.projects import services as projects
from marketplace.projects.models import ProjectMatch, ProjectStage, ProjectStatus, SolutionMatch
from tenants.models import Role
from tenants.territories.models import Commune
from tests.factories import make_city, make_member, make_programme, make_solution, make_startup, make_user
from tests.helpers import run_jobs

SCHOOL = {"title": "Rénovation énergétique de l'école élémentaire",
          "description": "Isolation des combles et des murs, remplacement de la chaudière de l'école.",
          "themes": ["energie-batiments"], "cost_ht_cents": 80_000_000, "stage": ProjectStage.design}


def project_for(db, city, author, data=SCHOOL, insee=None):
    with bound_to_tenant(db, city.id):
        project = projects.create_project(db, author, city, dict(data), db.get(Commune, insee or city.commune_insee))
    db.flush()
    return project


def matches(db, project):
    with all_tenants(db, because="test reads every match"):
        return list(db.scalars(select(ProjectMatch).where(ProjectMatch.project_id == project.id)
                               .order_by(ProjectMatch.score.desc(), ProjectMatch.id)))


@pytest.fixture(autouse=True)
def _app_context(app):
    with app.app_context():
        yield


@pytest.fixture
def world(db):
    """A Centre-Val de Loire programme for communes under 20 000 inhabitants; Issoudun (eligible)
    and Châteauroux (42 963 inhabitants, not eligible) with the same project."""
    programme = make_programme(db, title="Rénovation énergétique des bâtiments scolaires",
                               summary="Isolation et chauffage des écoles des petites communes.",
                               themes=["energie-batiments"])
    issoudun, chateauroux = make_city(db, "36088"), make_city(db, "36044")
    mayor, _ = make_member(db, issoudun, Role.admin, email="maire@issoudun.test")
    other, _ = make_member(db, chateauroux, Role.admin, email="dgs@chateauroux.test")
    db.commit()
    return programme, (issoudun, mayor), (chateauroux, other)


def test_publishing_a_call_matches_the_eligible_citys_project_only(app, db, redis, world):
    programme, (issoudun, mayor), (chateauroux, other) = world
    ours = project_for(db, issoudun, mayor)
    theirs = project_for(db, chateauroux, other)
    db.commit()
    run_jobs(redis, queues=("matching",))  # the projects were matched when created
    assert [m.target for m in matches(db, ours)] == [f"programme:{programme.id}"]
    assert matches(db, theirs) == []

    admin = make_user(db, platform_admin=True)
    call = funding.create_call(db, admin, programme, {"title": "AAP écoles 2027", "kind": "aap",
                                                      "closes_on": today() + dt.timedelta(days=20)})
    funding.apply_call_action(db, admin, call, "publish")
    db.commit()
    run_jobs(redis, queues=("matching",))  # the call's publication queued its programme's job

    found = {m.target: m for m in matches(db, ours)}
    assert set(found) == {f"programme:{programme.id}", f"call:{call.id}"}
    match = found[f"call:{call.id}"]
    assert 0 < match.score <= 100 and match.active
    assert "Éligible" in match.explanation and "clôture le" in match.explanation and "dans 20 jours" in match.explanation
    assert "rénovation" in match.explanation or "écoles" in match.explanation  # the words it shares, as written
    assert matches(db, theirs) == []  # Châteauroux has 42 963 inhabitants


def test_jobs_run_again_rewrite_the_same_rows(app, db, redis, world):
    programme, (issoudun, mayor), _ = world
    project = project_for(db, issoudun, mayor)
    db.commit()
    for _ in range(3):
        store.match_project(db, project.id)
        store.match_programme(db, programme.id)
        for first, last in store.nightly_chunks(db, size=1):
            store.match_range(db, first, last)
        db.commit()
    rows = matches(db, project)
    assert len(rows) == 1 and rows[0].target == f"programme:{programme.id}"


def test_a_project_that_stops_loses_its_matches_and_a_narrowed_programme_too(app, db, redis, world):
    programme, (issoudun, mayor), _ = world
    project = project_for(db, issoudun, mayor)
    db.commit()
    store.match_project(db, project.id)
    assert [m.active for m in matches(db, project)] == [True]
    with bound_to_tenant(db, issoudun.id):
        projects.update_project(db, mayor, project, {"status": ProjectStatus.abandoned}, project.commune)
    store.match_project(db, project.id)
    assert [m.active for m in matches(db, project)] == [False]


def test_the_digest_goes_once_and_above_the_threshold(app, db, redis, world):
    programme, (issoudun, mayor), _ = world
    project = project_for(db, issoudun, mayor)
    db.commit()
    store.match_project(db, project.id)
    [match] = matches(db, project)
    with app.app_context():
        assert mails.send_digest(db, issoudun, threshold=match.score + 1) == 0  # under the threshold
        assert mails.send_digest(db, issoudun, threshold=match.score) == 1
        assert mails.send_digest(db, issoudun, threshold=0) == 0  # never twice
    [mail] = db.scalars(select(OutgoingMail).where(OutgoingMail.to == "maire@issoudun.test")).all()
    assert "Rénovation énergétique des bâtiments scolaires" in mail.body and f"/espace/projets/{project.id}" in mail.body


def test_a_call_closing_within_30_days_is_reminded_once(app, db, redis, world):
    programme, (issoudun, mayor), _ = world
    admin = make_user(db, platform_admin=True)
    call = funding.create_call(db, admin, programme, {"title": "AAP écoles 2027", "kind": "aap",
                                                      "closes_on": today() + dt.timedelta(days=45)})
    funding.apply_call_action(db, admin, call, "publish")
    project = project_for(db, issoudun, mayor)
    db.commit()
    store.match_project(db, project.id)
    with app.app_context():
        assert mails.send_reminders(db) == 0  # 45 days: not yet
        assert mails.send_reminders(db, on=today() + dt.timedelta(days=20)) == 1
        assert mails.send_reminders(db, on=today() + dt.timedelta(days=21)) == 0
    subjects = db.scalars(select(OutgoingMail.subject).where(OutgoingMail.subject.like("Clôture dans%"))).all()
    assert subjects == ["Clôture dans 25 jours : « AAP écoles 2027 (Rénovation énergétique des bâtiments scolaires) »"]


def test_a_published_need_reaches_the_startup_whose_solution_fits(app, db, redis):
    city = make_city(db, "45155")
    mayor, _ = make_member(db, city, Role.admin)
    startup = make_startup(db, "Tri'Sélect")
    bins = make_solution(db, startup, status="published", name="Tri'Sélect Bornes",
                         pitch="Capteurs de remplissage des bornes d'apport volontaire de biodéchets.",
                         domains=["dechets-economie-circulaire"], contact_email="contact@triselect.test")
    make_solution(db, status="published", name="Agora", pitch="Budget participatif en ligne.",
                  domains=["participation-citoyenne"])
    project = project_for(db, city, mayor, {"title": "Collecte des biodéchets", "themes": ["dechets-economie-circulaire"],
                                            "description": "Tri à la source.", "stage": ProjectStage.idea})
    with bound_to_tenant(db, city.id):
        projects.publish_need(db, mayor, project, "Suivre le remplissage des bornes de biodéchets.")
    db.commit()
    run_jobs(redis, queues=("matching",))
    with all_tenants(db, because="test"):
        found = db.scalars(select(SolutionMatch).where(SolutionMatch.project_id == project.id)).all()
    assert [m.solution_id for m in found] == [bins.id] and found[0].told_at is not None
    store.match_need(db, project.id)  # again: the startup is not told twice
    db.commit()
    assert db.scalar(select(func.count()).select_from(OutgoingMail)
                     .where(OutgoingMail.to == "contact@triselect.test")) == 1


def test_the_preview_ranks_eligible_programmes_and_stores_nothing(client, db, world):
    programme, _, _ = world
    before = db.scalar(select(func.count()).select_from(ProjectMatch))
    body = client.post("/api/v1/matching/preview", json={
        "title": "Isolation de l'école", "description": "Combles et chaudière", "commune_insee": "36088",
        "cost_ht": "800 000"}).get_json()
    assert [m["programme_id"] for m in body["matches"]] == [programme.id]
    assert body["matches"][0]["score"] > 0 and "Éligible" in body["matches"][0]["explanation"]
    assert body["commune"] == "Issoudun (36088)"
    not_eligible = client.post("/api/v1/matching/preview", json={"title": "Isolation de l'école",
                                                                 "commune_insee": "36044"}).get_json()
    assert not_eligible["matches"] == []
    assert db.scalar(select(func.count()).select_from(ProjectMatch)) == before


@pytest.mark.parametrize("payload, field", [({"commune_insee": "36088"}, "title"),
                                            ({"title": "École", "commune_insee": "99999"}, "commune_insee"),
                                            ({"title": "École", "commune_insee": "abc"}, "commune_insee"),
                                            ({"title": "École", "commune_insee": "36088", "cost_ht": "-5"}, "cost_ht")])
def test_the_preview_refuses_bad_input_in_french(client, db, payload, field):
    response = client.post("/api/v1/matching/preview", json=payload)
    assert response.status_code == 422 and field in response.get_json()["errors"]["json"]
