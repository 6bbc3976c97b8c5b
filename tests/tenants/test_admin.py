"""Platform admins manage organisations; nobody else sees those pages."""
from sqlalchemy import select

from marketplace.core.audit import AuditEvent
from tenants.models import Role, TenantEvent, TenantStatus
from tests.factories import make_city, make_member, make_operator, make_startup
from tests.helpers import sign_in


def _admin(db):
    anct = make_operator(db)
    user, membership = make_member(db, anct, Role.admin, platform_admin=True)
    return user, membership


def test_platform_admin_lists_and_filters_organisations(client, db):
    user, membership = _admin(db)
    make_city(db, "36044")
    make_startup(db, "Lumio Territoires")
    db.commit()
    sign_in(client, user, membership)
    page = client.get("/operateur/organisations/").get_data(as_text=True)
    assert "Ville de Châteauroux" in page and "Lumio Territoires" in page
    page = client.get("/operateur/organisations/?type=startup").get_data(as_text=True)
    assert "Lumio Territoires" in page and "Ville de Châteauroux" not in page
    page = client.get("/operateur/organisations/?q=chateau").get_data(as_text=True)
    assert "Ville de Châteauroux" in page and "Lumio" not in page


def test_suspending_needs_a_reason_and_locks_the_members_out(client, db):
    user, membership = _admin(db)
    city = make_city(db, "36044")
    mayor, mayor_membership = make_member(db, city, Role.admin)
    db.commit()
    sign_in(client, user, membership)
    assert "Motif" in client.get(f"/operateur/organisations/{city.id}/suspendre").get_data(as_text=True)
    refused = client.post(f"/operateur/organisations/{city.id}/suspendre", data={"reason": " "})
    assert refused.status_code == 422 and "Indiquez le motif" in refused.get_data(as_text=True)
    assert city.status is TenantStatus.active
    client.post(f"/operateur/organisations/{city.id}/suspendre", data={"reason": "Demande de la collectivité"})
    db.refresh(city)
    assert city.status is TenantStatus.suspended
    event = db.scalars(select(AuditEvent).where(AuditEvent.event_type == TenantEvent.tenant_suspended)).one()
    assert event.actor_id == user.id and event.data["reason"] == "Demande de la collectivité"

    other = client.application.test_client()
    sign_in(other, mayor, mayor_membership)
    assert other.get("/espace/membres").status_code == 302  # back to the workspace page
    assert "suspendu" in other.get("/espace/").get_data(as_text=True)

    client.post(f"/operateur/organisations/{city.id}/reactiver")
    db.refresh(city)
    assert city.status is TenantStatus.active


def test_only_platform_admins_see_the_organisations(client, db):
    anct = make_operator(db)
    curator, membership = make_member(db, anct, Role.admin)  # operator staff, not platform admin
    city = make_city(db, "45155")
    db.commit()
    sign_in(client, curator, membership)
    assert client.get("/operateur/organisations/").status_code == 404
    assert client.post(f"/operateur/organisations/{city.id}/suspendre", data={"reason": "x"}).status_code == 404
    db.refresh(city)
    assert city.status is TenantStatus.active


def test_a_disabled_account_loses_its_open_sessions_and_tokens_at_once(client, db, app):
    from tenants import services

    user, membership = _admin(db)
    city = make_city(db, "36044")
    clerk, clerk_membership = make_member(db, city, Role.member)
    _, token = services.create_api_token(db, clerk, clerk_membership, "tableur")
    db.commit()
    browser = app.test_client()
    sign_in(browser, clerk, clerk_membership)
    assert browser.get("/espace/").status_code == 200
    assert browser.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    sign_in(client, user, membership)
    page = client.get(f"/operateur/organisations/{city.id}").get_data(as_text=True)
    assert f"/operateur/organisations/comptes/{clerk.id}/desactiver" in page
    url = f"/operateur/organisations/comptes/{clerk.id}/desactiver"
    refused = client.post(url, data={"reason": ""})
    assert refused.status_code == 422 and "Indiquez le motif" in refused.get_data(as_text=True)
    db.refresh(clerk)
    assert not clerk.is_disabled
    done = client.post(url, data={"reason": "Départ de la collectivité", "next": f"/operateur/organisations/{city.id}"})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/operateur/organisations/{city.id}")
    db.refresh(clerk)
    assert clerk.is_disabled
    event = db.scalars(select(AuditEvent).where(AuditEvent.event_type == TenantEvent.user_disabled)).one()
    assert event.actor_id == user.id and event.data["reason"] == "Départ de la collectivité"

    assert browser.get("/espace/").status_code == 302  # back to sign-in: the session is over
    assert browser.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "Désactivé" in client.get(f"/operateur/organisations/{city.id}").get_data(as_text=True)

    client.post(f"/operateur/organisations/comptes/{clerk.id}/reactiver")
    db.refresh(clerk)
    assert not clerk.is_disabled


def test_a_platform_admin_cannot_disable_their_own_account(client, db):
    user, membership = _admin(db)
    db.commit()
    sign_in(client, user, membership)
    refused = client.post(f"/operateur/organisations/comptes/{user.id}/desactiver", data={"reason": "test"})
    assert refused.status_code == 422 and "votre propre compte" in refused.get_data(as_text=True)
    db.refresh(user)
    assert not user.is_disabled
