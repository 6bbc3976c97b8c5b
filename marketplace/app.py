"""The application factory: settings → database → extensions → blueprints, in that order.

No query runs at start-up: a missing database or registry shows up on the first request (or in
``passerelle doctor``), never as an import-time crash.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from marketplace.db import TenantSession, make_engine, make_session_factory
from marketplace.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Passerelle:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[TenantSession]


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.resolved_secret_key(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        JSON_SORT_KEYS=False,
    )
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = engine or make_engine(settings.sqlalchemy_url)
    app.extensions["passerelle"] = Passerelle(settings, engine, make_session_factory(engine))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic.runtime.plugins", "alembic.autogenerate"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from marketplace import web

    web.init_app(app)

    from marketplace.api import init_api

    init_api(app)
    return app
