"""Public pages kept for visitors: rendered once for every web process, never stale after a change
made through Passerelle, never a signed-in person's, and each visitor with its own form token."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import event, select, text, update

from marketplace.core.clock import utcnow
from marketplace.funding.models import Programme
from marketplace.web import pagecache
from search.service import rebuild
from tests.factories import PASSWORD, make_city, make_member, make_programme, make_purchase
from tests.helpers import sign_in

NATIONAL = (("include", "france", "FR"),)


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"page_cache_seconds": 120})


@pytest.fixture
def statements(engine):
    """The SQL statements the requests send (a kept page sends none)."""
    seen: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    yield seen
    event.remove(engine, "before_cursor_execute", note)


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return html.unescape(response.get_data(as_text=True))


def token_of(body: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', body).group(1)


def test_a_second_visitor_gets_the_list_without_a_query_and_with_a_token_of_its_own(app, db, statements):
    make_programme(db, title="Aménagements cyclables", scope=NATIONAL)
    db.commit()
    first, second = app.test_client(), app.test_client()
    assert "Aménagements cyclables" in (one := page(first.get("/financements")))
    statements.clear()
    assert "Aménagements cyclables" in (two := page(second.get("/financements")))
    assert statements == []
    # The form token is each visitor's own, and it opens the forms.
    assert token_of(one) != token_of(two) and "kept-page-token" not in two
    app.config["WTF_CSRF_ENABLED"] = True
    response = second.post("/connexion", data={"email": "personne@exemple.test", "password": "x" * 12,
                                               "csrf_token": token_of(two)})
    assert "Le formulaire a expiré" not in page_or_error(response)


def page_or_error(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_a_change_committed_anywhere_shows_on_the_next_visit(app, client, db, session_factory):
    programme = make_programme(db, title="Aménagements cyclables", scope=NATIONAL)
    db.commit()
    assert "Aménagements cyclables" in page(client.get("/financements"))
    assert client.get("/api/v1/programmes").get_json()["total"] == 1
    # Another process (a job, a command) renames it through its own session…
    other = session_factory()
    other.execute(update(Programme).where(Programme.id == programme.id).values(title="Voies vertes"))
    other.commit()
    other.close()
    assert "Voies vertes" in page(client.get("/financements"))
    # …or publishes another one.
    make_programme(db, title="Rénovation des écoles", scope=NATIONAL)
    db.commit()
    assert client.get("/api/v1/programmes").get_json()["total"] == 2
    # SQL text that writes renews the pages too, whatever table it names.
    db.execute(text("UPDATE programmes SET title = 'Écoles sobres' WHERE title = 'Rénovation des écoles'"))
    db.commit()
    assert "Écoles sobres" in page(client.get("/financements"))


def test_a_rolled_back_change_or_a_sign_in_keeps_the_pages(app, client, db, statements):
    city = make_city(db, "36044")
    make_purchase(db, city)
    user, _ = make_member(db, city)
    db.commit()
    page(client.get("/achats-groupes/"))
    cache = pagecache._by_engine[db.get_bind().engine]
    before = cache.redis.get(cache.version_key)
    person = app.test_client()  # signing in writes a session, an attempt and the last sign-in: no page shows them
    response = person.post("/connexion", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/espace/"
    db.execute(update(Programme).values(title="jamais"))
    db.rollback()
    assert cache.redis.get(cache.version_key) == before
    statements.clear()
    page(app.test_client().get("/achats-groupes/"))
    assert statements == []


def test_a_signed_in_person_or_a_message_is_never_served_a_kept_page(app, client, db):
    city = make_city(db, "36044")
    user, membership = make_member(db, city, name="Inès Garnier")
    db.commit()
    assert "Inès Garnier" not in page(client.get("/"))
    signed_in = app.test_client()
    sign_in(signed_in, user, membership)
    assert "Inès Garnier" in page(signed_in.get("/"))
    # The page kept for visitors is not the one the person got either.
    assert "Inès Garnier" not in page(app.test_client().get("/"))
    # A message waiting for a visitor (after signing out) is shown, and not kept for the next one.
    with client.session_transaction() as s:
        s["_flashes"] = [("success", "Vous êtes déconnecté·e.")]
    assert "Vous êtes déconnecté·e." in page(client.get("/"))
    assert "Vous êtes déconnecté·e." not in page(app.test_client().get("/"))


def test_an_api_call_with_a_token_or_an_error_is_not_kept(app, client, db, statements):
    make_programme(db, title="Aménagements cyclables", scope=NATIONAL)
    db.commit()
    assert client.get("/financements?commune=inconnue").status_code == 400
    statements.clear()
    assert client.get("/financements?commune=inconnue").status_code == 400
    assert statements  # rendered again: an error is not kept
    client.get("/api/v1/programmes")
    statements.clear()
    client.get("/api/v1/programmes", headers={"Authorization": "Bearer inconnu"})
    assert statements  # a token speaks for someone: the request goes to the view


def test_a_search_page_follows_the_index(app, client, db, settings):
    make_programme(db, title="Aménagements cyclables", scope=NATIONAL)
    db.commit()
    rebuild(settings.search_dir, db)
    assert client.get("/api/v1/programmes?q=piste+cyclable").get_json()["total"] == 1
    make_programme(db, title="Pistes cyclables rurales", scope=NATIONAL)
    db.commit()  # committed, not yet indexed: the ranking does not know it
    assert client.get("/api/v1/programmes?q=piste+cyclable").get_json()["total"] == 1
    rebuild(settings.search_dir, db)  # the follower's turn: a new index generation
    assert client.get("/api/v1/programmes?q=piste+cyclable").get_json()["total"] == 2


def test_the_day_is_part_of_a_kept_page(app, client, db, monkeypatch):
    import datetime as dt

    from marketplace.core import clock

    make_programme(db, title="Aménagements cyclables", scope=NATIONAL)
    db.commit()
    client.get("/financements")
    cache = pagecache._by_engine[db.get_bind().engine]
    keys = {cache.redis.keys(cache.page_prefix + "*")[0]}
    monkeypatch.setattr(clock, "today", lambda: dt.date(2031, 1, 2))
    client.get("/financements")
    assert len(set(cache.redis.keys(cache.page_prefix + "*")) | keys) == 2


def test_pages_are_served_when_redis_is_gone(app, client, db, monkeypatch):
    make_programme(db, title="Aménagements cyclables", scope=NATIONAL)
    db.commit()
    cache = pagecache._by_engine[db.get_bind().engine]
    from redis import Redis

    monkeypatch.setattr(cache, "_redis", Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2))
    monkeypatch.setattr(cache, "_lookup", cache._redis.register_script("return 1"))
    assert "Aménagements cyclables" in page(client.get("/financements"))
    make_programme(db, title="Rénovation des écoles", scope=NATIONAL)
    db.commit()  # the change is saved: the pages expire on their own
    assert db.scalar(select(Programme.id).where(Programme.title == "Rénovation des écoles"))


def test_two_sites_sharing_a_redis_never_serve_each_others_pages(app, client, db):
    make_programme(db, title="Aménagements cyclables", scope=NATIONAL)
    db.commit()
    page(client.get("/financements"))  # kept for this site
    cache = pagecache._by_engine[db.get_bind().engine]
    other = pagecache.PageCache(app, cache.redis_url, 120, cache.marker, site="une-autre-base")
    before = cache.redis.get(cache.version_key)
    other.content_changed()  # the other site's change leaves this one's pages
    assert cache.redis.get(cache.version_key) == before
    with app.test_request_context("/financements"):
        key = cache.key_of()
        assert cache.lookup(key)[1] is not None
        assert other.lookup(key)[1] is None


def test_a_visitor_gets_a_programme_a_solution_and_a_purchase_kept_and_a_draft_never(app, client, db, statements):
    city = make_city(db, "36044")
    programme = make_programme(db, title="Aménagements cyclables", scope=NATIONAL)
    draft = make_programme(db, title="Pas encore publié", scope=NATIONAL, status="draft")
    purchase = make_purchase(db, city)
    db.commit()
    pages = [f"/financements/{programme.id}", f"/solutions/{purchase.solution_id}", f"/achats-groupes/{purchase.id}",
             f"/api/v1/programmes/{programme.id}", f"/api/v1/solutions/{purchase.solution_id}",
             f"/api/v1/group-purchases/{purchase.id}"]
    first = [client.get(url).get_data() for url in pages]
    statements.clear()
    visitor = app.test_client()
    for url, body in zip(pages, first):
        response = visitor.get(url)
        assert response.status_code == 200 and response.headers["X-Cache"] == "HIT", url
        if url.startswith("/api/"):  # a page differs by its form token only; an API answer is the same bytes
            assert response.get_data() == body, url
    assert statements == []
    # A draft is not found, and that answer is not kept: published, it shows on the next visit.
    assert client.get(f"/financements/{draft.id}").status_code == 404
    db.execute(update(Programme).where(Programme.id == draft.id).values(status="published", published_at=utcnow()))
    db.commit()
    assert "Pas encore publié" in page(visitor.get(f"/financements/{draft.id}"))
