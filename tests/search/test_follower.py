"""The index follows the change log: what a transaction logs is applied once it commits, in id
order, batched; ids that commit late are waited for; a follower resumes where its index stands and
rebuilds an index it cannot follow."""
from __future__ import annotations

import datetime as dt
import os
import threading
import time

import pytest
from sqlalchemy import func, insert, select

from marketplace.core.clock import utcnow
from search import changes, service
from search import index as idx
from search.follower import Follower, catch_up
from search.indexing import index_later, request_rebuild, without_indexing
from search.models import SearchChange
from search.query import SearchRequest, search
from tests.helpers import Documents
from tests.search.corpus import build, doc

ON_POSTGRES = bool(os.environ.get("TEST_DATABASE_URL"))


@pytest.fixture
def store():
    documents = Documents()
    saved = documents.install()
    # One document from the start: the tests' indexes are never empty.
    documents.docs[1000] = doc(1000, "Socle", "Toujours là")
    yield documents
    Documents.restore(saved)


@pytest.fixture
def root(tmp_path):
    return tmp_path / "search"


@pytest.fixture
def follower(root, session_factory):
    return Follower(root, session_factory, background_rebuild=False)


def titles(root, q):
    return [h.title for h in search(root, SearchRequest(q=q, correct=False)).hits]


def log_rows(db) -> int:
    return db.scalar(select(func.count()).select_from(SearchChange))


def publish(db, store, n, title, summary="", commit=True):
    """What a service does: change the data, log the document, commit."""
    store.docs[n] = doc(n, title, summary)
    index_later(db, "solution", n)
    if commit:
        db.commit()


def test_a_change_is_applied_once_committed(root, store, db, follower):
    follower.catch_up()  # no index yet: built from the database (empty)
    publish(db, store, 1, "Hydroscope", "Télérelève des compteurs d'eau")
    assert titles(root, "hydroscope") == []  # committed, not applied yet
    assert follower.catch_up() == 1
    assert titles(root, "hydroscope") == ["Hydroscope"]
    del store.docs[1]  # archived: the same log row says so
    index_later(db, "solution", 1)
    db.commit()
    follower.catch_up()
    assert titles(root, "hydroscope") == []


def test_a_change_in_a_transaction_that_rolls_back_is_never_applied(root, store, db, follower):
    follower.catch_up()
    before = log_rows(db)
    savepoint = db.begin_nested()
    store.docs[2] = doc(2, "Fantôme", "Une solution jamais publiée")
    index_later(db, "solution", 2)
    db.flush()
    savepoint.rollback()
    db.commit()
    assert log_rows(db) == before
    follower.catch_up()
    assert titles(root, "fantome") == []  # in the data source, but no committed change said so


def test_ten_changes_to_one_document_make_one_update(root, store, db, follower, monkeypatch):
    follower.catch_up()
    for i in range(10):
        publish(db, store, 3, f"Lumio v{i}", "Éclairage public")
    # In one transaction, one row; in ten, ten rows, applied in one batch.
    for i in range(10, 13):
        store.docs[3] = doc(3, f"Lumio v{i}", "Éclairage public")
        index_later(db, "solution", 3)
    db.commit()
    assert log_rows(db) == 11
    applied = []
    real = service.apply_changes
    monkeypatch.setattr(service, "apply_changes", lambda path, s, keys: applied.append(list(keys)) or real(path, s, keys))
    generation = idx.latest_generation(idx.current_dir(root))
    store.loads.clear()
    assert follower.catch_up() == 11
    assert len(applied) == 1 and set(applied[0]) == {"solution:3"}
    assert store.loads == {3: 1}  # read once, written once
    assert idx.latest_generation(idx.current_dir(root)) == generation + 1  # one Whoosh commit
    assert titles(root, "lumio") == ["Lumio v12"]


def _insert(db, change_id, key):
    db.execute(insert(SearchChange).values(id=change_id, doc_key=key, created_at=utcnow()))
    db.commit()


def test_an_id_that_commits_after_a_later_one_is_applied_when_it_shows_up(root, store, db, session_factory):
    clock = [1000.0]
    follower = Follower(root, session_factory, background_rebuild=False, clock=lambda: clock[0])
    follower.catch_up()
    head = changes.bounds(db).head
    # Ids head+1 and head+3 are committed; head+2's transaction is still open (PostgreSQL hands
    # out ids at insert time, they become visible at commit).
    for n in (1, 2, 3):
        store.docs[n] = doc(n, f"Capteur {n}", "Stationnement")
    _insert(db, head + 1, "solution:1")
    _insert(db, head + 3, "solution:3")
    follower.catch_up()
    position = changes.read_position(idx.current_dir(root))
    assert position.last == head + 3 and set(position.gaps) == {head + 2}
    assert sorted(titles(root, "capteur")) == ["Capteur 1", "Capteur 3"]
    clock[0] += 60
    _insert(db, head + 2, "solution:2")  # its transaction commits now
    follower.step()
    assert sorted(titles(root, "capteur")) == ["Capteur 1", "Capteur 2", "Capteur 3"]
    assert changes.read_position(idx.current_dir(root)).gaps == {}
    # A gap that never shows up (a rolled-back transaction) is given up after a while.
    _insert(db, head + 5, "solution:1")
    follower.step()
    assert set(changes.read_position(idx.current_dir(root)).gaps) == {head + 4}
    clock[0] += changes.GAP_TTL_S + 1
    follower.step()
    assert changes.read_position(idx.current_dir(root)).gaps == {}


@pytest.mark.skipif(not ON_POSTGRES, reason="concurrent writers commit out of order on PostgreSQL only")
def test_out_of_order_commits_on_postgresql(tmp_path, store, fresh_database_url):
    from marketplace.core.db import make_engine, make_session_factory

    engine = make_engine(fresh_database_url)
    factory = make_session_factory(engine)
    root = tmp_path / "search"
    try:
        follower = Follower(root, factory, background_rebuild=False)
        follower.catch_up()
        store.docs.update({1: doc(1, "Premier", "Ordre"), 2: doc(2, "Second", "Ordre")})
        slow, fast = factory(), factory()
        index_later(slow, "solution", 1)
        slow.flush()  # takes the first id, commits later
        index_later(fast, "solution", 2)
        fast.commit()
        follower.catch_up()
        assert titles(root, "ordre") == ["Second"]
        assert len(changes.read_position(idx.current_dir(root)).gaps) == 1
        slow.commit()
        follower.step()
        assert sorted(titles(root, "ordre")) == ["Premier", "Second"]
        slow.close()
        fast.close()
    finally:
        engine.dispose()


def test_a_restarted_follower_resumes_from_its_position(root, store, db, session_factory, monkeypatch):
    publish(db, store, 1, "Avant", "Arrêt")
    Follower(root, session_factory, background_rebuild=False).catch_up()
    index_dir = idx.current_dir(root)
    publish(db, store, 2, "Pendant", "Arrêt")  # while no follower runs
    applied = []
    real = service.apply_changes
    monkeypatch.setattr(service, "apply_changes", lambda path, s, keys: applied.append(list(keys)) or real(path, s, keys))
    monkeypatch.setattr(service, "rebuild", lambda *a, **k: pytest.fail("a follower that can resume rebuilt"))
    Follower(root, session_factory, background_rebuild=False).catch_up()
    assert applied == [["solution:2"]] and idx.current_dir(root) == index_dir
    assert sorted(titles(root, "arret")) == ["Avant", "Pendant"]


def test_a_missing_or_unreadable_index_is_rebuilt(root, store, db, follower):
    with without_indexing(db):  # bulk data: no log rows, a rebuild reads it all
        store.docs.update({n: doc(n, f"Fiche {n}", "Reconstruction") for n in range(1, 4)})
    follower.catch_up()
    assert len(titles(root, "reconstruction")) == 3
    assert changes.read_position(idx.current_dir(root)).last == changes.bounds(db).head
    # Damaged: the table of contents is gone.
    for toc in idx.current_dir(root).glob("_MAIN_*.toc"):
        toc.unlink()
    store.docs[4] = doc(4, "Fiche 4", "Reconstruction")
    follower.catch_up()
    assert len(titles(root, "reconstruction")) == 4 and follower.rebuilds == 2


def test_an_index_without_position_or_for_another_schema_is_rebuilt(root, store, db, follower):
    build(root, [doc(1, "Ancien", "Construit avant le journal")])  # no position.json
    store.docs[2] = doc(2, "Nouveau", "Journal")
    follower.catch_up()
    assert titles(root, "ancien") == [] and titles(root, "nouveau") == ["Nouveau"]
    assert follower.rebuilds == 1


def test_an_index_not_followed_for_longer_than_the_log_keeps_or_too_far_behind_is_rebuilt(root, store, db,
                                                                                            session_factory):
    clock = [time.time()]
    follower = Follower(root, session_factory, background_rebuild=False, clock=lambda: clock[0])
    follower.catch_up()
    # The node is stopped for a week; meanwhile changes are made, and the nightly job trims them.
    clock[0] += changes.KEEP_DAYS * 86_400
    publish(db, store, 1, "Oubliée", "Journal")
    publish(db, store, 2, "Récente", "Journal")
    db.execute(SearchChange.__table__.delete().where(SearchChange.id < changes.bounds(db).head))
    db.commit()
    follower.catch_up()
    assert sorted(titles(root, "journal")) == ["Oubliée", "Récente"] and follower.rebuilds == 2
    # Stopped for a day only: it resumes.
    clock[0] += 86_400
    publish(db, store, 3, "Reprise", "Journal")
    follower.catch_up()
    assert "Reprise" in titles(root, "journal") and follower.rebuilds == 2
    # Too many changes pending: reading every document once beats applying every change.
    few = Follower(root, session_factory, background_rebuild=False, max_pending=3, clock=lambda: clock[0])
    for n in range(4, 9):
        publish(db, store, n, f"Lot {n}", "Journal")
    few.catch_up()
    assert few.rebuilds == 1 and len(titles(root, "lot")) == 5


def test_an_index_ahead_of_the_log_belongs_to_another_database(root, store, db, follower):
    follower.catch_up()
    path = idx.current_dir(root)
    changes.write_position(path, changes.Position(changes.bounds(db).head + 50, {}, time.time()))
    follower.catch_up()
    assert idx.current_dir(root) != path and follower.rebuilds == 2


def test_an_operator_asks_every_node_to_rebuild(root, store, db, follower):
    follower.catch_up()
    with without_indexing(db):
        store.docs[9] = doc(9, "Importée", "Sans changement journalisé")
    request_rebuild(db)
    db.commit()
    follower.catch_up()
    assert titles(root, "importee") == ["Importée"] and follower.rebuilds == 2
    follower.catch_up()  # the request is behind the new index: no second rebuild
    assert follower.rebuilds == 2


def test_catch_up_helper_uses_the_apps_index_and_session(app, db):
    from marketplace.catalog.models import Solution
    from tests.factories import make_solution

    solution = make_solution(db, status="published", name="Hydrolux")
    db.commit()
    catch_up(app)  # builds the index (factories skip the log)
    search_dir = app.config["SETTINGS"].search_dir
    assert titles(search_dir, "hydrolux") == ["Hydrolux"]
    solution = db.get(Solution, solution.id)
    solution.name = "Hydrolux Pro"
    index_later(db, "solution", solution.id)
    db.commit()
    catch_up(app)
    assert titles(search_dir, "hydrolux") == ["Hydrolux Pro"]


def test_the_log_is_trimmed_every_night_keeping_its_head(app, db):
    from jobs import periodic_jobs
    from search.tasks import trim_changes

    assert trim_changes.spec in periodic_jobs()
    for n in range(3):
        index_later(db, "solution", 100 + n)
        db.commit()
    db.execute(SearchChange.__table__.update().values(created_at=utcnow() - dt.timedelta(days=8)))
    index_later(db, "solution", 200)
    db.commit()
    assert trim_changes() == 3
    assert [key for (key,) in db.execute(select(SearchChange.doc_key))] == ["solution:200"]
    db.execute(SearchChange.__table__.update().values(created_at=utcnow() - dt.timedelta(days=8)))
    db.commit()
    assert trim_changes() == 0  # old, but the newest: kept


def test_a_running_follower_applies_a_change_within_two_seconds(tmp_path, store, fresh_database_url):
    from marketplace.core.db import make_engine, make_session_factory

    engine = make_engine(fresh_database_url)
    factory = make_session_factory(engine)
    root = tmp_path / "search"
    stop = threading.Event()
    thread = threading.Thread(target=Follower(root, factory).run, args=(stop,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while idx.current_dir(root) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        with factory() as session:
            publish(session, store, 1, "Vélopolis", "Vélos en libre-service")
        committed = time.monotonic()
        while not titles(root, "velopolis") and time.monotonic() - committed < 2:
            time.sleep(0.05)
        assert titles(root, "velopolis") == ["Vélopolis"], "not applied within 2 s"
        status = idx.read_follower_status(root)
        assert status["alive"] and status["pid"]
    finally:
        stop.set()
        thread.join(10)
        engine.dispose()
    assert not thread.is_alive() and not idx.read_follower_status(root)["alive"]


def test_the_operator_page_shows_the_followers_position_and_lag_and_asks_every_node(app, client, db):
    from marketplace.core.audit import AuditEvent
    from marketplace.core.text import format_int_fr
    from marketplace.ops.services import OpsEvent
    from tenants.models import Role
    from tests.factories import make_anct, make_member, make_solution
    from tests.helpers import sign_in

    curator, membership = make_member(db, make_anct(db), Role.member)
    make_solution(db, status="published", name="Hydrolux")
    db.commit()
    catch_up(app)
    index_later(db, "solution", 424242)
    db.commit()
    sign_in(client, curator, membership)
    page = client.get("/operateur/taches/recherche").get_data(as_text=True)
    position = changes.read_position(idx.current_dir(app.config["SETTINGS"].search_dir)).last
    head = changes.bounds(db).head
    assert position < head and f"{format_int_fr(position)} sur {format_int_fr(head)}" in page  # and the log's head
    assert "1 changement en attente" in page
    assert "ne tourne pas sur ce serveur" in page  # no follower runs in this test
    assert client.post("/operateur/taches/recherche/reconstruire").status_code == 302
    assert db.scalar(select(SearchChange.doc_key).order_by(SearchChange.id.desc()).limit(1)) == "*"
    assert db.scalar(select(func.count()).select_from(AuditEvent)
                     .where(AuditEvent.event_type == OpsEvent.search_reindex_requested)) == 1
    before = idx.current_dir(app.config["SETTINGS"].search_dir)
    catch_up(app)
    assert idx.current_dir(app.config["SETTINGS"].search_dir) != before  # rebuilt
    page = client.get("/operateur/taches/recherche").get_data(as_text=True)
    assert "aucun" in page  # no lag left


def test_the_search_commands_follow_tell_and_ask(app, db):
    from marketplace.cli import search_group
    from tests.factories import make_solution

    make_solution(db, status="published", name="Hydrolux")
    db.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(search_group, ["follow", "--once"])
    assert result.exit_code == 0 and "Index à jour" in result.output, result.output
    assert titles(app.config["SETTINGS"].search_dir, "hydrolux") == ["Hydrolux"]
    result = runner.invoke(search_group, ["status"])
    assert result.exit_code == 0 and "disponible — 1 document(s)" in result.output, result.output
    assert "à jour" in result.output and "aucun suivi en marche" in result.output
    result = runner.invoke(search_group, ["reindex", "--all-nodes"])
    assert result.exit_code == 0 and "Reconstruction demandée à chaque serveur" in result.output, result.output
    assert db.scalar(select(SearchChange.doc_key).order_by(SearchChange.id.desc()).limit(1)) == "*"
    result = runner.invoke(search_group, ["reindex"])
    assert result.exit_code == 0 and "Index reconstruit : 1 document(s)." in result.output, result.output
