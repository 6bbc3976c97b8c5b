"""Sessions end when they should, whatever copy of the cookie exists; tokens open the API only."""
from __future__ import annotations

from sqlalchemy import select

from tenants import services
from tenants.models import Role, UserSession
from tests.factories import PASSWORD, make_city, make_member, make_startup


def sign_in_through_the_form(client, user) -> None:
    response = client.post("/connexion", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/espace/"


def session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def test_a_cookie_copied_before_signing_out_no_longer_opens_the_workspace(app, client, db):
    city = make_city(db, "36044")
    user, _ = make_member(db, city, Role.admin)
    db.commit()
    sign_in_through_the_form(client, user)
    copied = session_cookie(client)
    assert client.get("/espace/").status_code == 200
    assert client.post("/deconnexion").status_code == 302

    thief = app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get("/espace/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/connexion")
    [row] = db.scalars(select(UserSession).where(UserSession.user_id == user.id)).all()
    assert row.ended_at is not None


def test_a_new_password_ends_every_other_session(app, client, db):
    city = make_city(db, "36044")
    user, _ = make_member(db, city, Role.admin)
    db.commit()
    other = app.test_client()
    sign_in_through_the_form(other, user)
    assert other.get("/espace/").status_code == 200
    services.set_password(db, user, "un-nouveau-mot-de-passe-7")
    db.commit()
    assert other.get("/espace/").status_code == 302


def test_a_personal_token_does_not_open_the_html_pages(app, client, db):
    city = make_city(db, "36044")
    user, membership = make_member(db, city, Role.admin)
    db.flush()
    _, token = services.create_api_token(db, user, membership, "Tableur")
    db.commit()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    response = client.get("/espace/selection", headers=headers)
    assert response.status_code == 302 and response.headers["Location"].startswith("/connexion")
    with client.session_transaction() as cookie:  # no one is signed in, no CSRF token was handed out
        assert "_user_id" not in cookie and "sid" not in cookie and "csrf_token" not in cookie


def test_an_expired_session_asks_to_sign_in_again(app, client, db):
    import datetime as dt

    startup = make_startup(db)
    user, _ = make_member(db, startup, Role.admin)
    db.commit()
    sign_in_through_the_form(client, user)
    row = db.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    row.created_at = row.created_at - services.SESSION_LIFETIME - dt.timedelta(minutes=1)
    db.commit()
    assert client.get("/espace/").status_code == 302


def test_a_signed_in_request_reads_its_session_person_and_memberships_in_one_statement(app, client, db):
    from sqlalchemy import event

    city = make_city(db, "36044", name="Ville d'Issoudun")
    user, _ = make_member(db, city, Role.admin)
    other = make_city(db, "36046", name="Commune de La Châtre")
    services.add_membership(db, user, other, Role.viewer)
    db.commit()
    sign_in_through_the_form(client, user)
    seen: list[str] = []

    def one(conn, cursor, statement, *_):
        seen.append(statement)

    engine = app.extensions["passerelle"].engine
    event.listen(engine, "before_cursor_execute", one)
    try:
        page = client.get("/espace/")
    finally:
        event.remove(engine, "before_cursor_execute", one)
    assert page.status_code == 200
    identity = [s for s in seen if "user_sessions" in s or "memberships" in s]
    assert len(identity) == 1 and "memberships" in identity[0] and "user_sessions" in identity[0]
    # The tenant switcher lists both, by name; the page speaks for the first (no choice made yet).
    text = page.get_data(as_text=True)
    assert text.index("Commune de La Châtre") < text.index("Ville d&#39;Issoudun")

