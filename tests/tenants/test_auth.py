"""Sign-in, sign-out, CSRF, password reset and registration, as a person uses them."""
from __future__ import annotations

import html
import re

from sqlalchemy import func, select

from marketplace.core.audit import AuditEvent
from marketplace.mail.delivery import outbox
from tenants.models import LoginAttempt, Membership, Role, Tenant, TenantEvent, TenantKind, User
from tests.factories import PASSWORD, make_city, make_member, make_user
from tests.helpers import run_jobs

WRONG = "Adresse électronique ou mot de passe incorrect."
NEW_PASSWORD = "un-nouveau-mot-de-passe-7"


def text(response) -> str:
    """The page as a person reads it (entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def post_sign_in(client, email, password, **extra):
    return client.post("/connexion", data={"email": email, "password": password, **extra})


def link_in(mail) -> str:
    """The path of the single link in a mail (its host is the configured base URL)."""
    url = re.search(r"https?://\S+", mail.body).group(0)
    assert url.startswith("http://passerelle.test/")
    return url.removeprefix("http://passerelle.test")


# Sign-in ------------------------------------------------------------------------------------

def test_signing_in_with_the_right_password_opens_the_workspace(client, db):
    user = make_user(db, "agathe@exemple.test")
    db.commit()
    response = post_sign_in(client, "Agathe@Exemple.test ", PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/espace/"
    page = text(client.get("/espace/"))
    assert f"Bienvenue, {user.full_name}" in page


def test_a_wrong_password_is_refused_in_french(client, db):
    make_user(db, "agathe@exemple.test")
    db.commit()
    response = post_sign_in(client, "agathe@exemple.test", "pas-le-bon-mot-de-passe-1")
    assert response.status_code == 401
    assert WRONG in text(response)
    assert client.get("/espace/").status_code == 302  # still signed out


def test_an_unknown_address_gets_exactly_the_same_answer_as_a_wrong_password(client, db):
    make_user(db, "agathe@exemple.test")
    db.commit()
    wrong_password = post_sign_in(client, "agathe@exemple.test", "pas-le-bon-mot-de-passe-1")
    unknown = post_sign_in(client, "personne@exemple.test", "pas-le-bon-mot-de-passe-1")
    assert unknown.status_code == wrong_password.status_code == 401

    def message(response):
        return re.search(r'role="alert"><p>(.*?)</p>', text(response)).group(1)

    assert message(unknown) == message(wrong_password) == WRONG


def test_a_disabled_account_cannot_sign_in_and_gets_the_same_answer(client, db):
    user = make_user(db, "agathe@exemple.test")
    user.is_disabled = True
    db.commit()
    response = post_sign_in(client, "agathe@exemple.test", PASSWORD)
    assert response.status_code == 401 and WRONG in text(response)


def test_sign_in_is_slowed_down_for_the_guessing_address_even_with_the_right_password(client, db, settings):
    make_user(db, "agathe@exemple.test")
    db.commit()
    for _ in range(settings.login_max_failures):
        assert post_sign_in(client, "agathe@exemple.test", "pas-le-bon-mot-de-passe-1").status_code == 401
    response = post_sign_in(client, "agathe@exemple.test", PASSWORD)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    assert "Trop de tentatives de connexion pour ce compte depuis votre adresse. Réessayez dans" in text(response)
    assert client.get("/espace/").status_code == 302
    # The right password from another address gets through: the account itself is not locked.
    assert post_sign_in(app_client_from(client, "198.51.100.4"), "agathe@exemple.test", PASSWORD).status_code == 302
    # Nor is anyone else behind the guessing address (a town hall's shared address).
    make_user(db, "bruno@exemple.test")
    db.commit()
    assert post_sign_in(app_client_from(client, "127.0.0.1"), "bruno@exemple.test", PASSWORD).status_code == 302


def test_each_failure_past_the_limit_doubles_the_wait(client, db, settings):
    import datetime as dt

    make_user(db, "agathe@exemple.test")
    db.commit()
    for _ in range(settings.login_max_failures):
        post_sign_in(client, "agathe@exemple.test", "pas-le-bon-mot-de-passe-1")
    first = int(post_sign_in(client, "agathe@exemple.test", PASSWORD).headers["Retry-After"])
    # Once the wait is over, one more wrong guess: the next wait is twice as long.
    for attempt in db.scalars(select(LoginAttempt)):
        attempt.at = attempt.at - dt.timedelta(seconds=first + 1)
    db.commit()
    assert post_sign_in(client, "agathe@exemple.test", "encore-faux-mot-de-passe-2").status_code == 401
    second = int(post_sign_in(client, "agathe@exemple.test", PASSWORD).headers["Retry-After"])
    assert second >= 2 * first - 1


def app_client_from(client, ip):
    other = client.application.test_client()
    other.environ_base["REMOTE_ADDR"] = ip
    return other


def test_failed_sign_ins_are_counted_for_the_address_whatever_its_case(client, db, settings):
    make_user(db, "agathe@exemple.test")
    db.commit()
    for i in range(settings.login_max_failures):
        post_sign_in(client, "AGATHE@exemple.test" if i % 2 else "agathe@exemple.test", "faux-mot-de-passe-1")
    assert db.scalar(select(func.count()).select_from(LoginAttempt)
                     .where(LoginAttempt.email == "agathe@exemple.test")) == settings.login_max_failures
    assert post_sign_in(client, "Agathe@Exemple.Test", PASSWORD).status_code == 429


def test_sign_out_is_post_only(client, db):
    make_user(db, "agathe@exemple.test")
    db.commit()
    post_sign_in(client, "agathe@exemple.test", PASSWORD)
    response = client.get("/deconnexion")
    assert response.status_code == 405
    assert "Méthode non autorisée" in text(response)
    assert client.get("/espace/").status_code == 200  # a link or an image cannot sign anyone out
    response = client.post("/deconnexion")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Vous êtes déconnecté·e." in text(client.get("/"))
    assert client.get("/espace/").status_code == 302


def test_a_post_without_csrf_token_is_refused_with_a_french_page(app, client, db):
    make_user(db, "agathe@exemple.test")
    db.commit()
    app.config["WTF_CSRF_ENABLED"] = True
    response = post_sign_in(client, "agathe@exemple.test", PASSWORD)
    assert response.status_code == 400
    page = text(response)
    assert '<html lang="fr"' in page and "Le formulaire a expiré" in page
    assert client.get("/espace/").status_code == 302
    # The same form sent from our page, with its token, goes through.
    token = re.search(r'name="csrf_token" value="([^"]+)"', text(client.get("/connexion"))).group(1)
    response = post_sign_in(client, "agathe@exemple.test", PASSWORD, csrf_token=token)
    assert response.status_code == 302 and response.headers["Location"] == "/espace/"


def test_the_next_parameter_only_redirects_inside_the_site(client, db):
    make_user(db, "agathe@exemple.test")
    db.commit()
    response = post_sign_in(client, "agathe@exemple.test", PASSWORD, next="//evil.example/voler")
    assert response.status_code == 302 and response.headers["Location"] == "/espace/"
    client.post("/deconnexion")
    for evil in ("https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        response = post_sign_in(client, "agathe@exemple.test", PASSWORD, next=evil)
        assert response.headers["Location"] == "/espace/", evil
        client.post("/deconnexion")
    response = post_sign_in(client, "agathe@exemple.test", PASSWORD, next="/espace/membres")
    assert response.headers["Location"] == "/espace/membres"


def test_sign_in_page_carries_the_next_parameter_of_a_protected_page(client):
    response = client.get("/espace/membres")
    assert response.status_code == 302
    page = text(client.get(response.headers["Location"]))
    assert 'name="next" value="/espace/membres"' in page


# Password reset -----------------------------------------------------------------------------

def test_password_reset_by_mail_link(app, client, db, redis, settings):
    user = make_user(db, "agathe@exemple.test", "Agathe Martin")
    db.commit()
    response = client.post("/mot-de-passe-oublie", data={"email": "agathe@exemple.test"})
    assert response.status_code == 302 and response.headers["Location"] == "/connexion"
    assert "Si un compte existe pour cette adresse" in text(client.get("/connexion"))
    assert outbox(settings) == []  # queued, not sent by the request
    run_jobs(redis)
    [mail] = outbox(settings)
    assert mail.to == "agathe@exemple.test"
    assert mail.subject == "Réinitialisation de votre mot de passe Passerelle"
    assert "Bonjour Agathe Martin" in mail.body
    link = link_in(mail)

    assert "Choisir un nouveau mot de passe" in text(client.get(link))
    response = client.post(link, data={"password": NEW_PASSWORD, "password_confirm": "autre-chose-123"})
    assert response.status_code == 400
    assert "Les deux mots de passe ne correspondent pas." in text(response)
    response = client.post(link, data={"password": "court1", "password_confirm": "court1"})
    assert response.status_code == 422 and "au moins 12 caractères" in text(response)
    response = client.post(link, data={"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/connexion"

    # The link died with the old password.
    response = client.get(link)
    assert response.status_code == 404 and "n'est plus valable" in text(response)
    assert client.post(link, data={"password": "encore-un-autre-9", "password_confirm": "encore-un-autre-9"}
                       ).status_code == 404

    assert post_sign_in(client, "agathe@exemple.test", PASSWORD).status_code == 401
    assert post_sign_in(client, "agathe@exemple.test", NEW_PASSWORD).status_code == 302
    events = db.scalars(select(AuditEvent.event_type).where(AuditEvent.object_id == str(user.id),
                                                            AuditEvent.object_type == "users")).all()
    assert TenantEvent.password_reset_requested in events and TenantEvent.password_changed in events


def test_password_reset_for_an_unknown_address_answers_the_same_and_sends_nothing(client, db, redis, settings):
    response = client.post("/mot-de-passe-oublie", data={"email": "inconnu@exemple.test"})
    assert response.status_code == 302 and response.headers["Location"] == "/connexion"
    assert "Si un compte existe pour cette adresse" in text(client.get("/connexion"))
    run_jobs(redis)
    assert outbox(settings) == []


def test_a_forged_or_tampered_reset_link_is_refused(client, db):
    make_user(db, "agathe@exemple.test")
    db.commit()
    assert client.get("/mot-de-passe/pas-un-jeton").status_code == 404
    from itsdangerous import URLSafeTimedSerializer

    forged = URLSafeTimedSerializer("une-autre-cle", salt="password-reset").dumps({"uid": 1, "h": ""})
    assert client.get(f"/mot-de-passe/{forged}").status_code == 404


def test_a_password_reset_signs_out_the_other_sessions(app, client, db, redis, settings):
    make_user(db, "agathe@exemple.test")
    db.commit()
    elsewhere = app.test_client()
    post_sign_in(elsewhere, "agathe@exemple.test", PASSWORD)
    assert elsewhere.get("/espace/").status_code == 200
    client.post("/mot-de-passe-oublie", data={"email": "agathe@exemple.test"})
    run_jobs(redis)
    link = link_in(outbox(settings)[0])
    client.post(link, data={"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert elsewhere.get("/espace/").status_code == 302


def test_the_reset_mail_is_not_queued_when_the_transaction_fails(app, client, db, redis, settings, monkeypatch):
    make_user(db, "agathe@exemple.test")
    db.commit()
    from marketplace.core.db import TenantSession

    def broken_commit(self):
        raise RuntimeError("la base est tombée au moment du COMMIT")

    monkeypatch.setattr(TenantSession, "commit", broken_commit)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.post("/mot-de-passe-oublie", data={"email": "agathe@exemple.test"})
    assert response.status_code == 500 and "Erreur inattendue" in text(response)
    monkeypatch.undo()
    run_jobs(redis)
    assert outbox(settings) == []


# Registration -------------------------------------------------------------------------------

def register_startup(client, **overrides):
    data = {"full_name": "Léa Dupont", "email": "lea@startup.test", "password": PASSWORD, "kind": "startup",
            "startup_name": "Mobilité Douce", "siren": "912 345 675"}
    data.update(overrides)
    return client.post("/inscription", data=data)


def test_registering_a_startup_opens_its_space_at_once(client, db):
    response = register_startup(client)
    assert response.status_code == 302 and response.headers["Location"] == "/espace/"
    page = text(client.get("/espace/"))
    assert "Mobilité Douce" in page and "912345675" in page
    user = db.scalar(select(User).where(User.email == "lea@startup.test"))
    tenant = db.scalar(select(Tenant).where(Tenant.name == "Mobilité Douce"))
    assert tenant.kind is TenantKind.startup and tenant.is_active and tenant.siren == "912345675"
    membership = db.scalar(select(Membership).where(Membership.user_id == user.id))
    assert membership.tenant_id == tenant.id and membership.role is Role.admin


def test_an_invalid_siren_is_a_french_field_error_and_creates_nothing(client, db):
    users_before = db.scalar(select(func.count()).select_from(User))
    tenants_before = db.scalar(select(func.count()).select_from(Tenant))
    for siren in ("912345676", "12345", "abcdefghi"):
        response = register_startup(client, siren=siren)
        assert response.status_code == 400
        page = text(response)
        assert 'id="erreur-siren"' in page and "Le numéro SIREN doit compter 9 chiffres valides." in page
        assert 'value="Mobilité Douce"' in page  # what was typed is kept
    assert db.scalar(select(func.count()).select_from(User)) == users_before
    assert db.scalar(select(func.count()).select_from(Tenant)) == tenants_before
    assert client.get("/espace/").status_code == 302


def test_registration_refuses_an_address_already_taken_and_a_weak_password(client, db):
    make_user(db, "lea@startup.test")
    db.commit()
    tenants_before = db.scalar(select(func.count()).select_from(Tenant))
    response = register_startup(client, email="LEA@startup.test")
    assert response.status_code == 422 and "Un compte existe déjà avec cette adresse." in text(response)
    response = register_startup(client, email="autre@startup.test", password="motdepasselong")
    assert response.status_code == 422 and "mêler lettres et chiffres" in text(response)
    response = register_startup(client, email="pas-une-adresse")
    assert response.status_code == 400 and "Adresse électronique invalide." in text(response)
    assert db.scalar(select(func.count()).select_from(Tenant)) == tenants_before


# Audit --------------------------------------------------------------------------------------

def test_the_audit_log_records_sign_ins_failures_and_sign_outs(client, db):
    user = make_user(db, "agathe@exemple.test")
    db.commit()
    post_sign_in(client, "agathe@exemple.test", "pas-le-bon-mot-de-passe-1")
    post_sign_in(client, "inconnu@exemple.test", "pas-le-bon-mot-de-passe-1")
    post_sign_in(client, "agathe@exemple.test", PASSWORD)
    client.post("/deconnexion")
    events = db.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    kinds = [(e.event_type, e.actor_id) for e in events if e.event_type.value.startswith("user.")]
    assert kinds[-4:] == [
        (TenantEvent.user_sign_in_failed, user.id),
        (TenantEvent.user_sign_in_failed, None),
        (TenantEvent.user_signed_in, user.id),
        (TenantEvent.user_signed_out, user.id),
    ]
    signed_in = [e for e in events if e.event_type is TenantEvent.user_signed_in][-1]
    assert signed_in.data["ip"] == "127.0.0.1" and signed_in.tenant_id is None
    assert db.get(User, user.id).last_login_at is not None


def test_a_members_sign_in_lands_in_their_organisation(client, db):
    tenant = make_city(db, "36044")
    user, _ = make_member(db, tenant, Role.member, email="agathe@exemple.test")
    db.commit()
    post_sign_in(client, "agathe@exemple.test", PASSWORD)
    page = text(client.get("/espace/"))
    assert "Ville de Châteauroux" in page and "Membre" in page


def test_password_reset_mails_are_limited_per_address_and_per_client(client, db, settings):
    from marketplace.mail.models import OutgoingMail

    make_user(db, "agathe@exemple.test")
    db.commit()
    limit = int(settings.reset_rate_per_email.split("/")[0])
    for _ in range(limit):
        assert client.post("/mot-de-passe-oublie", data={"email": "agathe@exemple.test"}).status_code == 302
    refused = client.post("/mot-de-passe-oublie", data={"email": "agathe@exemple.test"})
    assert refused.status_code == 429 and "Trop de tentatives" in text(refused)
    assert db.scalar(select(func.count()).select_from(OutgoingMail)) == limit  # no mail cannon
    # Another address from the same client still gets its mail, until the client's own limit.
    assert client.post("/mot-de-passe-oublie", data={"email": "bruno@exemple.test"}).status_code == 302
    per_ip = int(settings.reset_rate_per_ip.split("/")[0])
    answers = [client.post("/mot-de-passe-oublie", data={"email": f"p{n}@exemple.test"}).status_code
               for n in range(per_ip)]
    assert answers[-1] == 429 and answers.count(302) == per_ip - limit - 1
