"""The operators' desk: hundreds of programmes found by filters, and acted on many at a time."""
from __future__ import annotations

import html
import re

from sqlalchemy import select

from marketplace.funding import services as funding
from marketplace.funding.models import Programme, ProgrammeStatus
from tenants.models import Role
from tests.factories import make_anct, make_member, make_operator, make_programme, make_user
from tests.helpers import sign_in


def _drafts(db, owner, n, **content):
    return [make_programme(db, owner, status="draft", scope=(), title=f"Aide importée n° {i} — rénovation",
                           **content) for i in range(n)]


def test_a_funder_finds_its_unfinished_drafts_a_page_at_a_time(client, db):
    region = make_operator(db, "Région Centre-Val de Loire")
    user, membership = make_member(db, region, Role.member)
    _drafts(db, region, 55)
    make_programme(db, region, title="Éclairage public économe")  # published, with a perimeter
    other = make_programme(db, make_operator(db, "Banque des Territoires"), status="draft", scope=(),
                           title="Aide d'un autre financeur")
    db.commit()
    sign_in(client, user, membership)
    page = client.get("/operateur/financements/?a_completer=1").get_data(as_text=True)
    assert "<strong>55</strong> programmes pour ces filtres" in page and "page 1" in page
    assert page.count('name="ids"') == 50 and other.title not in page
    second = client.get("/operateur/financements/?a_completer=1&page=2").get_data(as_text=True)
    assert second.count('name="ids"') == 5
    found = client.get("/operateur/financements/?q=eclairage").get_data(as_text=True)  # no accent typed
    assert "Éclairage public économe" in found and "Aide importée" not in found


def test_a_bulk_perimeter_and_submission_asks_first_then_reports_each_refusal(client, db):
    region = make_operator(db, "Région Centre-Val de Loire")
    user, membership = make_member(db, region, Role.member)
    drafts = _drafts(db, region, 3)
    foreign = make_programme(db, make_operator(db, "Banque des Territoires"), status="draft", scope=())
    db.commit()
    sign_in(client, user, membership)
    ids = [p.id for p in drafts] + [foreign.id]
    asked = client.post("/operateur/financements/lot", data={"ids": ids, "action": "scope", "place": "region:24"})
    page = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "Ajouter au périmètre : Centre-Val de Loire ?" in page
    assert "Confirmer pour 3 programmes" in page and "1 programme coché ne vous est pas accessible" in page
    db.expire_all()
    assert all(not p.includes for p in db.scalars(select(Programme).where(Programme.id.in_(ids))))  # nothing yet

    done = client.post("/operateur/financements/lot", data={"ids": ids, "action": "scope", "place": "region:24",
                                                           "confirm": "1"}).get_data(as_text=True)
    assert "3 programmes traités" in done and "1 ignoré" in done
    db.expire_all()
    assert all(p.includes for p in drafts) and not db.get(Programme, foreign.id).includes

    # One of them already in review: submitting the three submits two and says why not the third.
    client.post(f"/operateur/financements/{drafts[0].id}/etat", data={"action": "submit"})
    report = client.post("/operateur/financements/lot", data={"ids": [p.id for p in drafts], "action": "submit",
                                                             "confirm": "1"}).get_data(as_text=True)
    assert "2 programmes traités, 1 refusé" in report and "Refusés" in report
    db.expire_all()
    assert {db.get(Programme, p.id).status for p in drafts} == {ProgrammeStatus.in_review}


def test_only_anct_publishes_in_bulk(client, db):
    region = make_operator(db, "Région Centre-Val de Loire")
    user, membership = make_member(db, region, Role.member)
    programme = make_programme(db, region, status="in_review")
    db.commit()
    sign_in(client, user, membership)
    refused = client.post("/operateur/financements/lot", data={"ids": [programme.id], "action": "publish",
                                                              "confirm": "1"}, follow_redirects=True)
    assert "relit et publie les programmes" in refused.get_data(as_text=True)
    db.refresh(programme)
    assert programme.status is ProgrammeStatus.in_review

    curator, curator_membership = make_member(db, make_anct(db), Role.member)
    db.commit()
    sign_in(client, curator, curator_membership)
    report = client.post("/operateur/financements/lot", data={"ids": [programme.id], "action": "publish",
                                                             "confirm": "1"}).get_data(as_text=True)
    assert "1 programme traité" in report and "La recherche en tient compte d'ici quelques secondes" in report
    db.refresh(programme)
    assert programme.status is ProgrammeStatus.published


def test_a_bulk_form_without_a_choice_says_what_is_missing(client, db):
    region = make_operator(db, "Région Centre-Val de Loire")
    user, membership = make_member(db, region, Role.member)
    db.commit()
    sign_in(client, user, membership)
    response = client.post("/operateur/financements/lot", data={"action": "submit"}, follow_redirects=True)
    assert "Cochez au moins un programme." in response.get_data(as_text=True)


def test_anct_sees_the_oldest_of_a_long_review_queue_and_a_link_to_all_of_it(client, db, monkeypatch):
    from marketplace.funding import services
    monkeypatch.setattr(services.review_queue, "__defaults__", (2,))
    region = make_operator(db, "Région Bretagne")
    waiting = [make_programme(db, region, status="in_review", title=f"Programme en attente {n}") for n in range(3)]
    curator, curator_membership = make_member(db, make_anct(db), Role.member)
    db.commit()
    sign_in(client, curator, curator_membership)
    page = client.get("/operateur/financements/").get_data(as_text=True)
    queue = page.split("À relire")[1].split("Tous les programmes")[0]
    assert "3 programmes attendent une relecture" in queue and "Voir toute la file" in queue
    assert waiting[0].title in queue and waiting[1].title in queue and waiting[2].title not in queue  # oldest first
    everything = client.get("/operateur/financements/?etat=in_review").get_data(as_text=True)
    assert all(p.title in everything.split("Tous les programmes")[1] for p in waiting)


def test_the_desk_says_which_programmes_have_no_perimeter_yet(client, db):
    region = make_operator(db, "Région Normandie")
    user, membership = make_member(db, region, Role.member)
    make_programme(db, region, status="draft", scope=(), title="Brouillon sans territoire")
    make_programme(db, region, status="draft", title="Brouillon en Centre-Val de Loire")
    db.commit()
    sign_in(client, user, membership)
    rows = client.get("/operateur/financements/").get_data(as_text=True).split("<tr")
    bare = next(r for r in rows if "Brouillon sans territoire" in r)
    placed = next(r for r in rows if "Brouillon en Centre-Val de Loire" in r)
    assert "sans périmètre" in bare and "sans périmètre" not in placed


def test_a_row_of_the_list_closes_its_programme_through_the_lists_shared_form(client, db):
    """Each row's buttons post the list's one form (its token and way back) to their programme."""
    region = make_operator(db, "Région Bretagne")
    user, membership = make_member(db, region, Role.member)
    kept = make_programme(db, region, title="Aide à garder ouverte")
    closing = make_programme(db, region, title="Aide à clore")
    db.commit()
    sign_in(client, user, membership)
    page = client.get("/operateur/financements/?page=1").get_data(as_text=True)
    shared = re.search(r'<form method="post" id="actions-ligne"[^>]*>(.*?)</form>', page, re.S)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', shared.group(1)))
    assert set(fields) == {"csrf_token", "next"}
    row = next(r for r in page.split("<tr") if "Aide à clore" in r)
    button = re.search(r'<button[^>]*form="actions-ligne" formaction="([^"]+)" name="action" value="close"', row)
    response = client.post(html.unescape(button.group(1)), data={**fields, "action": "close"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/operateur/financements/?page=1")
    db.expire_all()
    assert db.get(Programme, closing.id).status is ProgrammeStatus.closed
    assert db.get(Programme, kept.id).status is ProgrammeStatus.published


def test_the_desks_words_find_a_programme_by_its_new_title_at_once(client, db):
    """The desk matches words against titles kept per eligibility generation: a programme renamed,
    or created, is found by its new words on the next search, and no longer by the old ones."""
    region = make_operator(db, "Région Centre-Val de Loire")
    user, membership = make_member(db, region, Role.member)
    programme = make_programme(db, region, status="draft", scope=(), title="Aide aux haies bocagères")
    db.commit()
    sign_in(client, user, membership)
    assert "Aide aux haies bocagères" in client.get("/operateur/financements/?q=bocageres").get_data(as_text=True)
    funding.update_programme(db, make_user(db), programme, {"title": "Plantation de vergers communaux"})
    make_programme(db, region, status="draft", scope=(), title="Vergers partagés")
    db.commit()
    found = client.get("/operateur/financements/?q=vergers").get_data(as_text=True)
    assert "Plantation de vergers communaux" in found and "Vergers partagés" in found
    assert "<strong>2</strong> programmes pour ces filtres" in found
    assert "Aucun programme ne correspond" in client.get("/operateur/financements/?q=bocageres").get_data(as_text=True)
