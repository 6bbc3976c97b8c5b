"""Curation: draft → submitted → published → archived, reviewed edits, the plan's quota."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from marketplace.catalog import services as catalog
from marketplace.catalog.models import CatalogEvent, RevisionStatus, Solution, SolutionStatus
from marketplace.core.audit import AuditEvent
from marketplace.core.errors import ServiceError
from tests.factories import SOLUTION_DATA, make_member, make_solution, make_startup, make_user
from tests.helpers import sign_in


def events(db, solution) -> list[CatalogEvent]:
    return list(db.scalars(select(AuditEvent.event_type).where(AuditEvent.object_type == "solutions",
                                                               AuditEvent.object_id == str(solution.id))
                           .order_by(AuditEvent.id)))


def test_a_solution_is_published_after_review_and_every_step_is_audited(db, people, indexed):
    solution = catalog.create_solution(db, people.founder, people.startup, SOLUTION_DATA)
    assert solution.status is SolutionStatus.draft
    catalog.submit(db, people.founder, solution)
    assert solution.status is SolutionStatus.submitted and solution.submitted_at
    assert indexed == []  # nothing public yet
    catalog.approve(db, people.curator, solution, "Fiche claire, merci.")
    assert solution.status is SolutionStatus.published and solution.published_at
    assert indexed == [("solution", solution.id)]
    catalog.archive(db, people.founder, solution)
    assert solution.status is SolutionStatus.archived
    assert indexed == [("solution", solution.id)] * 2  # the index drops it
    assert events(db, solution) == [CatalogEvent.solution_created, CatalogEvent.solution_submitted, CatalogEvent.solution_published,
                                    CatalogEvent.solution_archived]


def test_a_rejection_needs_a_comment_and_sends_the_solution_back_to_draft(db, people):
    solution = make_solution(db, people.startup, status="submitted")
    with pytest.raises(ServiceError) as refused:
        catalog.reject(db, people.curator, solution, "   ")
    assert refused.value.field == "comment" and "Expliquez" in refused.value.message
    catalog.reject(db, people.curator, solution, "Précisez l'hébergement des données.")
    assert solution.status is SolutionStatus.draft
    assert solution.review_comment == "Précisez l'hébergement des données."
    event = db.scalars(select(AuditEvent).where(AuditEvent.event_type == CatalogEvent.solution_rejected)).one()
    assert event.actor_id == people.curator.id and event.tenant_id == people.startup.id
    assert event.data["comment"] == "Précisez l'hébergement des données."
    # Corrected, it can be submitted again.
    catalog.submit(db, people.founder, solution)
    assert solution.status is SolutionStatus.submitted


def test_illegal_moves_are_refused_in_french(db, people):
    draft = make_solution(db, people.startup)
    with pytest.raises(ServiceError, match="rien en attente"):
        catalog.approve(db, people.curator, draft)
    published = make_solution(db, make_startup(db), status="published")
    with pytest.raises(ServiceError, match="Seul un brouillon"):
        catalog.submit(db, people.founder, published)
    archived = make_solution(db, make_startup(db), status="archived")
    with pytest.raises(ServiceError, match="déjà archivée"):
        catalog.archive(db, people.founder, archived)
    with pytest.raises(ServiceError, match="archivée"):
        catalog.update_solution(db, people.founder, archived, {"name": "Autre nom"})


def test_a_buyer_never_sees_a_draft(client, db, people):
    draft = make_solution(db, people.startup, name="Projet secret")
    other_startup = make_startup(db)
    rival, rival_m = make_member(db, other_startup)
    db.commit()
    url = f"/solutions/{draft.id}"
    assert client.get(url).status_code == 404  # anonymous
    assert client.get(f"/api/v1/solutions/{draft.id}").status_code == 404
    sign_in(client, people.buyer, people.city_m)
    assert client.get(url).status_code == 404
    assert client.get(f"/solutions/comparer?ids={draft.id}").get_data(as_text=True).count("Projet secret") == 0
    sign_in(client, rival, rival_m)
    assert client.get(url).status_code == 404
    # Its owner and the operators see it, marked as unpublished.
    sign_in(client, people.founder, people.startup_m)
    page = client.get(url)
    assert page.status_code == 200 and "n'est pas publiée" in page.get_data(as_text=True)
    sign_in(client, people.curator, people.operator_m)
    assert client.get(url).status_code == 200


def test_an_archived_solution_answers_404_to_buyers(client, db, people):
    solution = make_solution(db, people.startup, status="archived")
    db.commit()
    sign_in(client, people.buyer, people.city_m)
    assert client.get(f"/solutions/{solution.id}").status_code == 404
    assert client.get(f"/api/v1/solutions/{solution.id}").status_code == 404


def test_an_edit_to_a_published_solution_stays_offline_until_approved(client, db, people, indexed):
    solution = make_solution(db, people.startup, status="published", name="Lumière douce")
    outcome = catalog.update_solution(db, people.founder, solution,
                                      {**SOLUTION_DATA, "name": "Lumière douce 2", "pitch": "Nouvelle accroche, plus précise."})
    assert outcome == "proposed"
    db.commit()
    assert solution.name == "Lumière douce" and solution.status is SolutionStatus.published
    page = client.get(f"/solutions/{solution.id}").get_data(as_text=True)
    assert "Lumière douce" in page and "Lumière douce 2" not in page
    assert indexed == []  # the public document did not change

    # A second edit replaces the proposal: one pending revision at a time.
    catalog.update_solution(db, people.founder, solution, {"name": "Lumière douce v2"})
    revision = solution.pending_revision
    assert revision.content["name"] == "Lumière douce v2"
    assert revision.content["pitch"] == "Nouvelle accroche, plus précise."
    assert set(revision.changed_fields()) == {"name", "pitch"}

    catalog.approve(db, people.curator, solution, "OK")
    db.commit()
    assert solution.name == "Lumière douce v2" and solution.pitch == "Nouvelle accroche, plus précise."
    assert revision.status is RevisionStatus.approved and solution.pending_revision is None
    assert indexed == [("solution", solution.id)]
    assert "Lumière douce v2" in client.get(f"/solutions/{solution.id}").get_data(as_text=True)


def test_a_rejected_edit_leaves_the_published_version_online(db, people):
    solution = make_solution(db, people.startup, status="published")
    catalog.update_solution(db, people.founder, solution, {"name": "Nom trompeur"})
    with pytest.raises(ServiceError):
        catalog.reject(db, people.curator, solution, "")
    assert catalog.reject(db, people.curator, solution, "Le nom doit rester descriptif.") == "edit_rejected"
    assert solution.name == SOLUTION_DATA["name"] and solution.status is SolutionStatus.published
    assert solution.revisions[0].status is RevisionStatus.rejected
    assert solution.revisions[0].comment == "Le nom doit rester descriptif."


def test_an_edit_back_to_the_published_content_has_nothing_to_review(db, people):
    solution = make_solution(db, people.startup, status="published")
    catalog.update_solution(db, people.founder, solution, {"name": "Autre"})
    assert catalog.update_solution(db, people.founder, solution, {"name": SOLUTION_DATA["name"]}) == "unchanged"
    assert solution.pending_revision is None


def test_the_free_plan_allows_one_published_solution(db, people):
    first = make_solution(db, people.startup, status="published")
    second = make_solution(db, people.startup)
    assert not catalog.can_publish(db, people.startup, counting_submitted=True)
    with pytest.raises(ServiceError) as refused:
        catalog.submit(db, people.founder, second)
    assert "offre Découverte" in refused.value.message and "une seule solution publiée" in refused.value.message
    assert "/espace/abonnement" in refused.value.message  # where to upgrade
    assert second.status is SolutionStatus.draft
    # Archiving the first frees the place.
    catalog.archive(db, people.founder, first)
    catalog.submit(db, people.founder, second)
    catalog.approve(db, people.curator, second)
    assert second.status is SolutionStatus.published


def test_the_quota_is_checked_again_at_publication(db, people, monkeypatch):
    a = make_solution(db, people.startup, status="submitted")
    b = make_solution(db, make_startup(db), status="submitted")
    # Two submissions raced past the submission check (say the plan was downgraded in between).
    b.owner_tenant_id = people.startup.id
    db.flush()
    db.expire(b, ["owner"])
    catalog.approve(db, people.curator, a)
    with pytest.raises(ServiceError, match="archiver une avant"):
        catalog.approve(db, people.curator, b)
    assert b.status is SolutionStatus.submitted
    # A larger plan (billing, later) changes the one function that knows the limit.
    monkeypatch.setattr(catalog, "publication_limit", lambda session, tenant: 5)
    catalog.approve(db, people.curator, b)
    assert b.status is SolutionStatus.published


def test_a_startup_writes_submits_and_archives_through_its_pages(client, db, people):
    sign_in(client, people.founder, people.startup_m)
    form = {k: v for k, v in SOLUTION_DATA.items() if not isinstance(v, (list, bool)) and v is not None
            and not k.endswith("_ht_cents")}
    form.update(price_min_ht="80", price_max_ht="150,50", gdpr_dpa="on", open_data_standards="GTFS, NeTEx",
                domains=["eclairage-public", "energie-batiments"], sizes=["2000-20000"])
    response = client.post("/espace/solutions/nouvelle", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    solution = db.scalars(select(Solution).where(Solution.owner_tenant_id == people.startup.id)).one()
    assert solution.domains == ["eclairage-public", "energie-batiments"]
    assert (solution.price_min_ht_cents, solution.price_max_ht_cents) == (8000, 15050)
    assert solution.gdpr_dpa is True and solution.secnumcloud is False
    assert solution.open_data_standards == ["GTFS", "NeTEx"]

    listing = client.get("/espace/solutions").get_data(as_text=True)
    assert solution.name in listing and "Brouillon" in listing
    assert client.post(f"/espace/solutions/{solution.id}/soumettre").status_code == 302
    db.refresh(solution)
    assert solution.status is SolutionStatus.submitted

    confirm = client.get(f"/espace/solutions/{solution.id}/archiver")
    assert confirm.status_code == 200 and "Archiver « Lumière douce » ?" in confirm.get_data(as_text=True)
    assert client.post(f"/espace/solutions/{solution.id}/archiver").status_code == 302
    db.refresh(solution)
    assert solution.status is SolutionStatus.archived


def test_the_form_answers_errors_per_field_in_french(client, db, people):
    sign_in(client, people.founder, people.startup_m)
    response = client.post("/espace/solutions/nouvelle", data={
        "name": "X", "pitch": "Trop court", "domains": ["inconnu"], "price_model": "par-unite",
        "price_min_ht": "200", "price_max_ht": "100", "hosting": "france", "contact_name": "Léa",
        "contact_email": "pas-une-adresse"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Entre 2 et 120 caractères." in page
    assert "Domaine inconnu." in page
    assert "Choisissez au moins une taille de territoire." in page
    assert "Adresse électronique invalide." in page
    assert "Le prix maximum doit être supérieur ou égal au prix minimum." in page


def test_another_startup_cannot_edit_or_submit_my_solution(client, db, people):
    solution = make_solution(db, people.startup)
    rival, rival_m = make_member(db, make_startup(db))
    db.commit()
    sign_in(client, rival, rival_m)
    assert client.get(f"/espace/solutions/{solution.id}/modifier").status_code == 404
    assert client.post(f"/espace/solutions/{solution.id}/soumettre").status_code == 404
    assert client.post(f"/espace/solutions/{solution.id}/archiver").status_code == 404


def test_operators_moderate_from_their_queue(client, db, people):
    submitted = make_solution(db, people.startup, status="submitted", name="À relire")
    edited = make_solution(db, make_startup(db), status="published", name="Déjà en ligne")
    catalog.update_solution(db, make_user(db), edited, {"pitch": "Une accroche corrigée par la startup.",
                                                        "price_min_ht_cents": 4500, "gdpr_dpa": False})
    db.commit()
    sign_in(client, people.buyer, people.city_m)
    assert client.get("/operateur/solutions/").status_code == 404
    sign_in(client, people.curator, people.operator_m)
    queue = client.get("/operateur/solutions/").get_data(as_text=True)
    assert "À relire" in queue and "Déjà en ligne" in queue
    review = client.get(f"/operateur/solutions/{edited.id}").get_data(as_text=True)
    assert "Une accroche corrigée par la startup." in review and "Modification proposée" in review
    # The curator reads euros and words, not the stored cents and booleans.
    assert "45,00\u00a0€ HT" in review or "45\u00a0€ HT" in review, review[review.find("Prix minimum"):][:300]
    assert "8000" not in review and "4500" not in review and ">Non<" in review.replace("\n", "")

    refused = client.post(f"/operateur/solutions/{submitted.id}", data={"decision": "reject", "comment": ""})
    assert refused.status_code == 422 and "Expliquez le refus" in refused.get_data(as_text=True)
    assert client.post(f"/operateur/solutions/{submitted.id}",
                       data={"decision": "approve", "comment": ""}).status_code == 302
    assert client.post(f"/operateur/solutions/{edited.id}",
                       data={"decision": "approve", "comment": "Merci"}).status_code == 302
    db.expire_all()
    assert db.get(Solution, submitted.id).status is SolutionStatus.published
    assert db.get(Solution, edited.id).pitch == "Une accroche corrigée par la startup."
    assert client.post(f"/operateur/solutions/{edited.id}/archiver").status_code == 302
    db.expire_all()
    assert db.get(Solution, edited.id).status is SolutionStatus.archived


def test_the_description_is_rendered_without_scripts(client, db, people):
    solution = make_solution(db, people.startup, status="published", description=(
        "# Titre\n\nTexte **gras**.<script>alert('x')</script>\n\n[piège](javascript:alert(1)) "
        "<img src=x onerror=alert(1)>"))
    db.commit()
    page = client.get(f"/solutions/{solution.id}").get_data(as_text=True)
    assert "<strong>gras</strong>" in page and "<h3>Titre</h3>" in page
    assert "alert" not in page and "onerror" not in page and "javascript:" not in page


def test_a_long_moderation_queue_shows_its_oldest_and_states_are_paged(client, db, people, monkeypatch):
    from marketplace.catalog import views
    monkeypatch.setattr(catalog.moderation_queue, "__defaults__", (2,))
    monkeypatch.setattr(views, "PER_PAGE", 2)
    waiting = [make_solution(db, make_startup(db), status="submitted", name=f"Solution soumise {n}") for n in range(3)]
    db.commit()
    sign_in(client, people.curator, people.operator_m)
    queue = client.get("/operateur/solutions/").get_data(as_text=True).split("Modifications de solutions")[0]
    assert "3 solutions soumises attendent" in queue
    assert waiting[0].name in queue and waiting[1].name in queue and waiting[2].name not in queue  # oldest first
    first = client.get("/operateur/solutions/?etat=submitted").get_data(as_text=True).split("Toutes les solutions")[1]
    second = client.get("/operateur/solutions/?etat=submitted&page=2").get_data(as_text=True)
    second = second.split("Toutes les solutions")[1]
    shown = [s.name for s in waiting if s.name in first], [s.name for s in waiting if s.name in second]
    assert len(shown[0]) == 2 and len(shown[1]) == 1 and not set(shown[0]) & set(shown[1])
    assert "Page suivante" in first


def test_a_text_rendered_after_another_knows_nothing_of_it():
    """One converter serves every text of a thread: a link defined by reference in one text is not
    resolved in the next, and a text gives the same HTML every time."""
    from marketplace.core.rendering import plain_text, render_markdown

    first = render_markdown("Voir [le guide][g].\n\n[g]: https://exemple.test/guide")
    assert 'href="https://exemple.test/guide"' in first
    second = render_markdown("Voir [le guide][g] aussi.")
    assert "href" not in second and "[le guide][g]" in second
    assert render_markdown("Voir [le guide][g].\n\n[g]: https://exemple.test/guide") == first
    assert plain_text("Voir [le guide][g].\n\n[g]: https://exemple.test/guide") == "Voir le guide."
    assert plain_text("Voir [le guide][g] aussi.") == "Voir [le guide][g] aussi."
