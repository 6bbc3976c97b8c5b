"""'Je représente Châteauroux': territory claims, from the registration form to the operator's decision."""
from __future__ import annotations

import html
import re

from sqlalchemy import func, select

from marketplace.core.audit import AuditEvent
from marketplace.core.db import all_tenants
from marketplace.mail.delivery import outbox
from tenants.models import (
    ClaimStatus,
    Membership,
    Role,
    Tenant,
    TenantEvent,
    TenantStatus,
    TerritoryClaim,
    User,
)
from tests.factories import PASSWORD, make_anct, make_city, make_member, make_operator
from tests.helpers import run_jobs, sign_in

CHATEAUROUX = "Châteauroux (36000) — 36044"
TAKEN = "Ce territoire a déjà un espace sur Passerelle (ou une demande en cours)."


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def claim(client, email="claire@chateauroux.test", territory=CHATEAUROUX, **overrides):
    data = {"full_name": "Claire Bernard", "email": email, "password": PASSWORD, "kind": "collectivite",
            "territory": territory, "job_title": "Directrice générale des services",
            "message": "Je suis joignable au standard de la mairie."}
    data.update(overrides)
    return client.post("/inscription", data=data)


def claims_for(db, **where):
    with all_tenants(db, because="the test reads every tenant"):
        return db.scalars(select(TerritoryClaim).filter_by(**where).order_by(TerritoryClaim.id)).all()


def tenant_of(db, claim_row) -> Tenant:
    db.expire_all()
    with all_tenants(db, because="the test reads every tenant"):
        return db.get(Tenant, claim_row.tenant_id)


def operator_client(app, db):
    operator = make_anct(db)
    user, membership = make_member(db, operator, Role.member, email="agent@anct.test", name="Omar Agent")
    db.commit()
    client = app.test_client()
    sign_in(client, user, membership)
    return client, user


def test_claiming_chateauroux_opens_a_pending_space_with_a_claim(client, db):
    response = claim(client)
    assert response.status_code == 302 and response.headers["Location"] == "/espace/"
    [row] = claims_for(db)
    tenant = tenant_of(db, row)
    assert tenant.name == "Ville de Châteauroux" and tenant.commune_insee == "36044" and tenant.epci_siren is None
    assert tenant.status is TenantStatus.pending
    assert row.status is ClaimStatus.pending and row.job_title == "Directrice générale des services"
    assert row.message == "Je suis joignable au standard de la mairie."
    user = db.scalar(select(User).where(User.email == "claire@chateauroux.test"))
    assert row.user_id == user.id
    with all_tenants(db, because="the test reads every tenant"):
        membership = db.scalar(select(Membership).where(Membership.user_id == user.id))
    assert membership.tenant_id == tenant.id and membership.role is Role.admin
    with all_tenants(db, because="the test reads every tenant"):
        submitted = db.scalar(select(AuditEvent).where(AuditEvent.event_type == TenantEvent.claim_submitted))
    assert submitted.tenant_id == tenant.id and submitted.data["territory"] == "36044"


def test_the_claimant_sees_that_the_request_is_being_examined(client, db):
    claim(client)
    page = text(client.get("/espace/"))
    assert "Demande en cours d'examen" in page
    assert "Ville de Châteauroux" in page and "42\u202f963 habitants" in page
    # A pending space has no members page, tokens or journal yet.
    assert client.get("/espace/membres").headers.get("Location") == "/espace/"
    assert client.get("/espace/jetons").headers.get("Location") == "/espace/"


def test_a_second_person_claiming_the_same_commune_is_told_in_french(app, client, db):
    claim(client)
    other = app.test_client()
    response = claim(other, email="bastien@chateauroux.test", full_name="Bastien Roy")
    assert response.status_code == 422
    page = text(response)
    assert 'id="erreur-territory"' in page and TAKEN in page
    # Nothing half-made: no account for the second person, one claim only.
    assert db.scalar(select(User).where(User.email == "bastien@chateauroux.test")) is None
    assert len(claims_for(db)) == 1
    assert other.get("/espace/").status_code == 302


def test_a_commune_already_open_cannot_be_claimed(client, db):
    make_city(db, "36044")
    db.commit()
    response = claim(client)
    assert response.status_code == 422 and TAKEN in text(response)


def test_the_commune_can_be_typed_by_its_unambiguous_name(client, db):
    response = claim(client, territory="chateauroux")
    assert response.status_code == 302
    [row] = claims_for(db)
    assert tenant_of(db, row).commune_insee == "36044"


def test_an_ambiguous_name_lists_the_candidate_communes(client, db):
    response = claim(client, territory="Saint-Martin")
    assert response.status_code == 400
    page = text(response)
    assert "Plusieurs territoires correspondent : choisissez dans la liste." in page
    # The five communes named exactly Saint-Martin are offered, each with its département.
    for insee, departement in (("32389", "Gers"), ("54480", "Meurthe-et-Moselle"), ("65392", "Hautes-Pyrénées"),
                               ("67426", "Bas-Rhin")):
        assert f"— {insee}\"" in page, insee
        assert f"Saint-Martin ({departement}" in page
    assert claims_for(db) == []
    assert db.scalar(select(User).where(User.email == "claire@chateauroux.test")) is None
    # Choosing a candidate (the button sends its value) completes the claim.
    value = re.search(r'name="territory" value="([^"]*— 65392)"', page).group(1)
    assert claim(client, territory=value).status_code == 302
    assert tenant_of(db, claims_for(db)[0]).commune_insee == "65392"


def test_a_postal_code_in_brackets_picks_among_homonyms_and_is_never_read_as_an_insee_code(client, db):
    # 65360 is Saint-Martin's postal code in the Hautes-Pyrénées, and Peyrouse's INSEE code.
    response = claim(client, territory="Saint-Martin (65360)")
    assert response.status_code == 302
    assert tenant_of(db, claims_for(db)[0]).commune_insee == "65392"


def test_a_commune_that_does_not_exist_is_a_french_field_error(client, db):
    response = claim(client, territory="Xyzzyville")
    assert response.status_code == 400
    assert "Aucune commune ni intercommunalité ne correspond à « Xyzzyville »." in text(response)
    response = claim(client, territory="", job_title="")
    page = text(response)
    assert "Indiquez la commune ou l'intercommunalité." in page
    assert "Indiquez votre fonction dans la collectivité." in page
    assert claims_for(db) == []


def test_an_operator_approves_and_the_claimant_is_told_by_mail(app, client, db, redis, settings):
    claim(client)
    [row] = claims_for(db)
    operator, agent = operator_client(app, db)
    page = text(operator.get("/operateur/demandes"))
    assert "Ville de Châteauroux" in page and "Claire Bernard — Directrice générale des services" in page
    page = text(operator.get(f"/operateur/demandes/{row.id}"))
    assert "INSEE 36044" in page and "Je suis joignable au standard de la mairie." in page

    response = operator.post(f"/operateur/demandes/{row.id}", data={"decision": "approve"})
    assert response.status_code == 302 and response.headers["Location"] == "/operateur/demandes"
    assert tenant_of(db, row).status is TenantStatus.active
    db.refresh(row)
    assert row.status is ClaimStatus.approved and row.decided_by_id == agent.id

    run_jobs(redis)
    [mail] = outbox(settings)
    assert mail.to == "claire@chateauroux.test" and mail.subject == "Votre espace Passerelle est ouvert"
    assert "l'espace de Ville de Châteauroux est ouvert" in mail.body
    assert "http://passerelle.test/espace/" in mail.body

    page = text(client.get("/espace/"))
    assert "Demande en cours d'examen" not in page and "Membres et invitations" in page
    assert client.get("/espace/membres").status_code == 200
    # A decided claim cannot be decided again.
    response = operator.post(f"/operateur/demandes/{row.id}", data={"decision": "reject", "comment": "Non."})
    assert response.status_code == 422 and "Cette demande a déjà été traitée." in text(response)
    assert tenant_of(db, row).status is TenantStatus.active


def test_rejecting_without_a_comment_is_refused(app, client, db, redis, settings):
    claim(client)
    [row] = claims_for(db)
    operator, _ = operator_client(app, db)
    response = operator.post(f"/operateur/demandes/{row.id}", data={"decision": "reject", "comment": "  "})
    assert response.status_code == 422
    assert "Expliquez le refus : le demandeur le lira." in text(response)
    assert tenant_of(db, row).status is TenantStatus.pending
    run_jobs(redis)
    assert outbox(settings) == []


def test_rejecting_with_a_comment_frees_the_territory_for_a_new_claim(app, client, db, redis, settings):
    claim(client)
    [first] = claims_for(db)
    operator, _ = operator_client(app, db)
    response = operator.post(f"/operateur/demandes/{first.id}",
                             data={"decision": "reject", "comment": "Adresse personnelle, pas de la mairie."})
    assert response.status_code == 302
    assert tenant_of(db, first).status is TenantStatus.rejected
    run_jobs(redis)
    [mail] = outbox(settings)
    assert mail.to == "claire@chateauroux.test" and mail.subject == "Votre demande sur Passerelle"
    assert "Motif : Adresse personnelle, pas de la mairie." in mail.body
    assert "Demande refusée" in text(client.get("/espace/"))

    other = app.test_client()
    response = claim(other, email="maire@chateauroux.test", full_name="Marc Maire")
    assert response.status_code == 302
    second = claims_for(db)[-1]
    assert second.id != first.id and tenant_of(db, second).status is TenantStatus.pending
    assert tenant_of(db, second).commune_insee == "36044"


def test_a_collectivite_admin_gets_404_on_the_operators_pages(client, db):
    city = make_city(db, "36044")
    user, membership = make_member(db, city, Role.admin)
    db.commit()
    sign_in(client, user, membership)
    assert client.get("/operateur/demandes").status_code == 404
    assert client.get("/operateur/demandes/1").status_code == 404
    assert client.post("/operateur/demandes/1", data={"decision": "approve"}).status_code == 404


def test_an_operator_viewer_cannot_decide(app, db):
    operator = make_operator(db)
    user, membership = make_member(db, operator, Role.viewer)
    db.commit()
    client = app.test_client()
    sign_in(client, user, membership)
    assert client.get("/operateur/demandes").status_code == 404


def test_claiming_the_epci_through_the_checkbox_ties_the_space_to_its_siren(client, db):
    response = claim(client, represent_epci="on")
    assert response.status_code == 302
    [row] = claims_for(db)
    tenant = tenant_of(db, row)
    assert tenant.epci_siren == "243600327" and tenant.commune_insee is None
    assert tenant.name == "CA Châteauroux Métropole" and tenant.status is TenantStatus.pending
    page = text(client.get("/espace/"))
    assert "SIREN 243600327" in page and "Communes membres" in page
    # The commune itself stays free: its mayor's office may open its own space.
    assert db.scalar(select(func.count()).select_from(Tenant).where(Tenant.commune_insee == "36044")) == 0


def test_a_signed_in_person_can_claim_without_a_new_account(client, db):
    city = make_city(db, "45155")
    user, membership = make_member(db, city, Role.admin)
    db.commit()
    sign_in(client, user, membership)
    response = client.post("/inscription", data={"kind": "collectivite", "territory": CHATEAUROUX,
                                                 "job_title": "Chargée de mission"})
    assert response.status_code == 302
    [row] = claims_for(db)
    assert row.user_id == user.id


def test_pending_claims_come_first_for_the_operator(app, db):
    first = app.test_client()
    claim(first)
    claim(app.test_client(), email="dgs@issoudun.test", territory="Issoudun (36100) — 36088")
    claim(app.test_client(), email="dgs@gien.test", territory="Gien (45500) — 45155")
    chateauroux, issoudun, gien = claims_for(db)
    operator, _ = operator_client(app, db)
    operator.post(f"/operateur/demandes/{chateauroux.id}", data={"decision": "approve"})
    operator.post(f"/operateur/demandes/{gien.id}", data={"decision": "reject", "comment": "Doublon."})
    page = text(operator.get("/operateur/demandes"))
    order = [page.index(name) for name in ("Ville d'Issoudun", "Ville de Châteauroux", "Ville de Gien")]
    assert order[0] < order[1] and order[0] < order[2]
    assert "En attente" in page and "Acceptée" in page and "Refusée" in page


def test_the_space_is_named_in_correct_french(app, db):
    for email, territory in (("a@issoudun.test", "Issoudun (36100) — 36088"),
                             ("b@lehavre.test", "Le Havre (76600) — 76351"),
                             ("c@evreux.test", "Évreux (27000) — 27229")):
        assert claim(app.test_client(), email=email, territory=territory).status_code == 302
    assert [tenant_of(db, c).name for c in claims_for(db)] == ["Ville d'Issoudun", "Ville du Havre", "Ville d'Évreux"]


def test_naming_the_epci_itself_claims_the_epci(client, db):
    response = claim(client, territory="Châteauroux Métropole — 243600327")
    assert response.status_code == 302
    assert tenant_of(db, claims_for(db)[0]).epci_siren == "243600327"
