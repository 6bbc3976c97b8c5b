"""Members of an organisation: invitations, roles, removal, API tokens, the tenant switcher and the journal."""
from __future__ import annotations

import html
import re

from sqlalchemy import select

from marketplace.core.audit import AuditEvent
from marketplace.core.db import all_tenants, bound_to_tenant
from marketplace.mail.delivery import outbox
from tenants import services
from tenants.models import ApiToken, Invitation, Membership, Role, TenantEvent, User
from tests.factories import PASSWORD, make_city, make_member, make_startup, make_user
from tests.helpers import run_jobs, sign_in


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def flashes(client) -> str:
    """The flash messages shown on the next page."""
    page = text(client.get("/espace/"))
    return " | ".join(re.findall(r'fr-alert--sm fr-mb-3w" role="\w+">\s*<p>(.*?)</p>', page))


def invitation_path(mail) -> str:
    url = re.search(r"http://passerelle\.test(/invitation/\S+)", mail.body)
    assert url, mail.body
    return url.group(1)


def membership_of(db, user, tenant) -> Membership | None:
    db.expire_all()
    with all_tenants(db, because="the test reads every tenant"):
        return db.scalar(select(Membership).where(Membership.user_id == user.id, Membership.tenant_id == tenant.id))


def api_me(app, token):
    return app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


def setup_city(db, client):
    city = make_city(db, "36044")
    admin, membership = make_member(db, city, Role.admin, email="anne@chateauroux.test", name="Anne Admin")
    db.commit()
    sign_in(client, admin, membership)
    return city, admin, membership


def invite(client, email, role="member"):
    return client.post("/espace/membres", data={"email": email, "role": role})


# Invitations --------------------------------------------------------------------------------

def test_an_invited_person_creates_an_account_and_joins_with_the_invited_role(app, client, db, redis, settings):
    city, admin, _ = setup_city(db, client)
    response = invite(client, "Nina@Chateauroux.test", "viewer")
    assert response.status_code == 302 and response.headers["Location"] == "/espace/membres"
    page = text(client.get("/espace/membres"))
    assert "Invitation envoyée à nina@chateauroux.test." in page and "en attente" in page

    assert outbox(settings) == []
    run_jobs(redis)
    [mail] = outbox(settings)
    assert mail.to == "nina@chateauroux.test"
    assert mail.subject == "Invitation à rejoindre Ville de Châteauroux sur Passerelle"
    assert "Anne Admin vous invite à rejoindre l'espace de Ville de Châteauroux" in mail.body
    assert "comme lecteur" in mail.body
    link = invitation_path(mail)

    newcomer = app.test_client()
    page = text(newcomer.get(link))
    assert "Rejoindre Ville de Châteauroux" in page and "Créez votre compte pour nina@chateauroux.test." in page
    response = newcomer.post(link, data={"email": "nina@chateauroux.test", "full_name": "Nina Nouvelle",
                                         "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/espace/"
    page = text(newcomer.get("/espace/"))
    assert "Bienvenue dans l'espace de Ville de Châteauroux." in page and "Lecteur" in page

    nina = db.scalar(select(User).where(User.email == "nina@chateauroux.test"))
    assert nina.full_name == "Nina Nouvelle"
    assert membership_of(db, nina, city).role is Role.viewer
    # The link is used up.
    assert app.test_client().get(link).status_code == 404


def test_an_invitation_cannot_be_used_to_create_an_account_for_another_address(app, client, db, redis, settings):
    setup_city(db, client)
    invite(client, "nina@chateauroux.test")
    run_jobs(redis)
    link = invitation_path(outbox(settings)[0])
    response = app.test_client().post(link, data={"email": "intrus@exemple.test", "full_name": "Intrus",
                                                  "password": PASSWORD})
    assert response.status_code == 400
    assert db.scalar(select(User).where(User.email == "intrus@exemple.test")) is None


def test_accepting_while_signed_in_with_another_address_is_refused(app, client, db, redis, settings):
    city, _, _ = setup_city(db, client)
    invite(client, "nina@chateauroux.test")
    run_jobs(redis)
    link = invitation_path(outbox(settings)[0])

    other_client = app.test_client()
    other = make_user(db, "bruno@exemple.test")
    db.commit()
    sign_in(other_client, other)
    page = text(other_client.get(link))
    assert "Vous êtes connecté·e en tant que bruno@exemple.test." in page
    response = other_client.post(link)
    assert response.status_code == 422
    assert "Cette invitation a été envoyée à une autre adresse électronique." in text(response)
    assert membership_of(db, other, city) is None
    with all_tenants(db, because="the test reads every tenant"):
        assert db.scalar(select(Invitation).where(Invitation.email == "nina@chateauroux.test")).accepted_at is None


def test_a_person_who_already_has_an_account_signs_in_then_accepts(app, client, db, redis, settings):
    city, _, _ = setup_city(db, client)
    startup = make_startup(db)
    nina, _ = make_member(db, startup, Role.admin, email="nina@chateauroux.test")
    db.commit()
    invite(client, "nina@chateauroux.test", "admin")
    run_jobs(redis)
    link = invitation_path(outbox(settings)[0])

    browser = app.test_client()
    assert "connectez-vous pour accepter" in text(browser.get(link))
    response = browser.post(link)
    assert response.status_code == 302 and response.headers["Location"].startswith("/connexion?next=")
    response = browser.post("/connexion", data={"email": "nina@chateauroux.test", "password": PASSWORD,
                                                "next": link})
    assert response.headers["Location"] == link
    response = browser.post(link)
    assert response.status_code == 302
    assert membership_of(db, nina, city).role is Role.admin
    assert "Ville de Châteauroux" in text(browser.get("/espace/"))


def test_a_second_pending_invitation_for_the_same_address_is_refused(client, db, redis, settings):
    setup_city(db, client)
    assert invite(client, "nina@chateauroux.test").status_code == 302
    response = invite(client, "NINA@chateauroux.test", "admin")
    assert response.status_code == 422
    assert "Une invitation est déjà en attente pour cette adresse." in text(response)
    with all_tenants(db, because="the test reads every tenant"):
        assert len(db.scalars(select(Invitation).where(Invitation.email == "nina@chateauroux.test")).all()) == 1
    run_jobs(redis)
    assert len(outbox(settings)) == 1


def test_inviting_a_current_member_is_refused(client, db):
    city, _, _ = setup_city(db, client)
    make_member(db, city, Role.member, email="marc@chateauroux.test")
    db.commit()
    response = invite(client, "marc@chateauroux.test")
    assert response.status_code == 422
    assert "Cette personne fait déjà partie de l'organisation." in text(response)


def test_a_revoked_invitation_link_no_longer_works(app, client, db, redis, settings):
    setup_city(db, client)
    invite(client, "nina@chateauroux.test")
    run_jobs(redis)
    link = invitation_path(outbox(settings)[0])
    with all_tenants(db, because="the test reads every tenant"):
        invitation = db.scalar(select(Invitation).where(Invitation.email == "nina@chateauroux.test"))
    response = client.post(f"/espace/invitations/{invitation.id}/annuler")
    assert response.status_code == 302
    assert "L'invitation de nina@chateauroux.test est annulée." in flashes(client)
    response = app.test_client().get(link)
    assert response.status_code == 404 and "Invitation invalide" in text(response)
    # Once revoked, the address can be invited again.
    assert invite(client, "nina@chateauroux.test").status_code == 302


def test_a_viewer_cannot_invite(client, db, redis, settings):
    city = make_city(db, "36044")
    viewer, membership = make_member(db, city, Role.viewer)
    db.commit()
    sign_in(client, viewer, membership)
    page = text(client.get("/espace/membres"))
    assert "Inviter une personne" not in page
    response = invite(client, "nina@chateauroux.test")
    assert response.status_code == 403 and "Accès refusé" in text(response)
    with all_tenants(db, because="the test reads every tenant"):
        assert db.scalar(select(Invitation)) is None
    run_jobs(redis)
    assert outbox(settings) == []


def test_a_member_cannot_change_roles_or_remove_anyone(client, db):
    city = make_city(db, "36044")
    _, admin_membership = make_member(db, city, Role.admin)
    member, membership = make_member(db, city, Role.member)
    db.commit()
    sign_in(client, member, membership)
    assert client.post(f"/espace/membres/{admin_membership.id}/role", data={"role": "viewer"}).status_code == 403
    assert client.post(f"/espace/membres/{membership.id}/role", data={"role": "admin"}).status_code == 403
    assert client.post(f"/espace/membres/{admin_membership.id}/retirer").status_code == 403
    assert membership_of(db, member, city).role is Role.member


# Roles and removal --------------------------------------------------------------------------

def test_the_last_admin_cannot_be_demoted(client, db):
    city, admin, membership = setup_city(db, client)
    response = client.post(f"/espace/membres/{membership.id}/role", data={"role": "member"})
    assert response.status_code == 302
    assert "L'organisation doit garder au moins un administrateur." in flashes(client)
    assert membership_of(db, admin, city).role is Role.admin


def test_the_last_admin_cannot_be_removed(client, db):
    city, admin, membership = setup_city(db, client)
    response = client.post(f"/espace/membres/{membership.id}/retirer")
    assert response.status_code == 302
    assert "Impossible de retirer le dernier administrateur de l'organisation." in flashes(client)
    assert membership_of(db, admin, city) is not None


def test_an_admin_changes_a_role_and_can_step_down_once_another_admin_exists(client, db):
    city, admin, membership = setup_city(db, client)
    marc, marc_membership = make_member(db, city, Role.member, name="Marc Membre")
    db.commit()
    client.post(f"/espace/membres/{marc_membership.id}/role", data={"role": "admin"})
    assert "Marc Membre est maintenant administrateur." in flashes(client)
    assert membership_of(db, marc, city).role is Role.admin
    client.post(f"/espace/membres/{membership.id}/role", data={"role": "viewer"})
    assert membership_of(db, admin, city).role is Role.viewer
    response = client.post(f"/espace/membres/{marc_membership.id}/role", data={"role": "gourou"})
    assert response.status_code == 403  # no longer an admin


def test_an_unknown_role_is_refused_in_french(client, db):
    city, _, _ = setup_city(db, client)
    _, marc_membership = make_member(db, city, Role.member)
    db.commit()
    client.post(f"/espace/membres/{marc_membership.id}/role", data={"role": "gourou"})
    assert "Rôle inconnu." in flashes(client)
    response = invite(client, "nina@chateauroux.test", "gourou")
    assert response.status_code == 400 and "Rôle inconnu." in text(response)


def test_removing_a_member_asks_for_confirmation_then_revokes_their_access_and_tokens(app, client, db):
    city, admin, _ = setup_city(db, client)
    marc, marc_membership = make_member(db, city, Role.member, name="Marc Membre")
    with bound_to_tenant(db, city.id):
        _, token = services.create_api_token(db, marc, marc_membership, "Tableur")
    db.commit()
    marc_client = app.test_client()
    sign_in(marc_client, marc, marc_membership)
    assert api_me(app, token).status_code == 200

    response = client.get(f"/espace/membres/{marc_membership.id}/retirer")
    assert response.status_code == 200
    page = text(response)
    assert "Retirer Marc Membre de l'organisation ?" in page and "jetons d'API seront révoqués" in page
    assert '<form method="post">' in page  # the confirmation posts back to the same address
    assert membership_of(db, marc, city) is not None  # a GET changes nothing

    response = client.post(f"/espace/membres/{marc_membership.id}/retirer")
    assert response.status_code == 302
    assert "Marc Membre a été retiré·e de l'organisation." in flashes(client)
    assert membership_of(db, marc, city) is None
    response = api_me(app, token)
    assert response.status_code == 401 and response.is_json
    # His signed-in sessions end with the membership: the next page asks him to sign in again.
    response = marc_client.get("/espace/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/connexion")


# API tokens ---------------------------------------------------------------------------------

def test_a_member_creates_and_revokes_an_api_token(app, client, db):
    city = make_city(db, "36044")
    marc, membership = make_member(db, city, Role.member)
    db.commit()
    sign_in(client, marc, membership)
    response = client.post("/espace/jetons", data={"name": "Tableur"})
    assert response.status_code == 200
    token = re.search(r'<code id="nouveau-jeton">(pas_[^<]+)</code>', text(response)).group(1)
    assert api_me(app, token).json["tenant_name"] == "Ville de Châteauroux"
    assert token not in text(client.get("/espace/jetons"))  # shown once only
    with all_tenants(db, because="the test reads every tenant"):
        api_token = db.scalar(select(ApiToken).where(ApiToken.membership_id == membership.id))
    assert api_token.token_hash != token and token.startswith(api_token.prefix)
    client.post(f"/espace/jetons/{api_token.id}/revoquer")
    assert api_me(app, token).status_code == 401
    response = client.post("/espace/jetons", data={"name": "  "})
    assert response.status_code == 400 and "Ce champ est obligatoire." in text(response)


# Tenant switcher ----------------------------------------------------------------------------

def test_the_tenant_switcher_changes_the_current_organisation(client, db):
    city = make_city(db, "36044")
    startup = make_startup(db, "Mobilité Douce")
    user, city_membership = make_member(db, city, Role.admin)
    services.add_membership(db, user, startup, Role.viewer)
    db.commit()
    sign_in(client, user, city_membership)
    page = text(client.get("/espace/"))
    assert "<h1>Ville de Châteauroux</h1>" in page and 'id="tenant-switcher"' in page
    assert "Mobilité Douce (Startup)" in page

    response = client.post("/espace/changer", data={"tenant_id": startup.id, "next": "/espace/membres"})
    assert response.status_code == 302 and response.headers["Location"] == "/espace/membres"
    page = text(client.get("/espace/"))
    assert "<h1>Mobilité Douce</h1>" in page and "Vous agissez maintenant pour Mobilité Douce." in page
    assert "Lecteur" in page
    # Acting for the startup as a viewer: no admin rights carried over from the city.
    assert invite(client, "nina@exemple.test").status_code == 403
    assert client.get("/espace/journal").status_code == 403
    # Back to the city.
    client.post("/espace/changer", data={"tenant_id": city.id, "next": "//evil.example"})
    assert "<h1>Ville de Châteauroux</h1>" in text(client.get("/espace/"))
    with all_tenants(db, because="the test reads every tenant"):
        switched = db.scalars(select(AuditEvent).where(AuditEvent.event_type == TenantEvent.tenant_switched)
                              .order_by(AuditEvent.id)).all()
    assert [e.tenant_id for e in switched] == [startup.id, city.id]


# Journal ------------------------------------------------------------------------------------

def test_every_change_appears_in_the_journal_for_admins(app, client, db, redis, settings):
    city, admin, membership = setup_city(db, client)
    marc, marc_membership = make_member(db, city, Role.member, email="marc@chateauroux.test")
    other_city = make_city(db, "45155")
    _, other_admin = make_member(db, other_city, Role.admin)
    with bound_to_tenant(db, other_city.id):
        services.invite(db, other_admin.user, other_city, "secret@gien.test", Role.member)
    db.commit()

    invite(client, "nina@chateauroux.test", "viewer")
    run_jobs(redis)
    newcomer = app.test_client()
    newcomer.post(invitation_path(outbox(settings)[0]),
                  data={"email": "nina@chateauroux.test", "full_name": "Nina Nouvelle", "password": PASSWORD})
    invite(client, "zoe@chateauroux.test")
    with all_tenants(db, because="the test reads every tenant"):
        zoe = db.scalar(select(Invitation).where(Invitation.email == "zoe@chateauroux.test"))
    client.post(f"/espace/invitations/{zoe.id}/annuler")
    client.post(f"/espace/membres/{marc_membership.id}/role", data={"role": "viewer"})
    client.post(f"/espace/membres/{marc_membership.id}/retirer")
    client.post("/espace/jetons", data={"name": "Export"})

    page = text(client.get("/espace/journal"))
    for code in ("invitation.sent", "invitation.accepted", "invitation.revoked", "membership.role_changed",
                 "membership.removed", "api_token.created", "tenant.created"):
        assert f"<code>{code}</code>" in page, code
    assert "before : member ; after : viewer" in page
    assert "user_email : marc@chateauroux.test" in page
    assert "Anne Admin" in page and "Nina Nouvelle" in page
    assert "secret@gien.test" not in page  # another organisation's journal stays private

    assert client.get("/espace/journal").status_code == 200
    sign_in(client, *make_member(db, city, Role.member))
    db.commit()
    assert client.get("/espace/journal").status_code == 403
