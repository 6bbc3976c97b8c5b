"""The application factory, and the one module that knows every feature.

Settings → database → request plumbing → every feature's blueprints (from the lists below) → the
job machinery, in that order. No query runs at start-up: a missing database or registry shows up
on the first request (or in ``passerelle doctor``), never as an import-time crash.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

import jobs
from jobs.connection import connect, running_redis_url
from marketplace import home
from marketplace.billing import views as billing_views
from marketplace.catalog import api as catalog_api
from marketplace.catalog import indexing as catalog_indexing
from marketplace.catalog import views as catalog_views
from marketplace.contracts import api as contracts_api
from marketplace.contracts import views as contracts_views
from marketplace.core import shared
from marketplace.core.db import TenantSession, make_engine, make_session_factory
from marketplace.core.settings import Settings, load_settings
from marketplace.funding import api as funding_api
from marketplace.funding import indexing as funding_indexing
from marketplace.funding import views as funding_views
from marketplace.funding.mine import views as mine_views
from marketplace.funding.plan import api as plan_api
from marketplace.funding.plan import views as plan_views
from marketplace.ops import views as ops_views
from marketplace.projects import api as projects_api
from marketplace.projects import views as projects_views
from marketplace.purchasing import api as purchasing_api
from marketplace.purchasing import views as purchasing_views
from marketplace.web import api as web_api
from marketplace.web import csrf, edge
from search import api as search_api
from search import views as search_views
from tenants import admin_views
from tenants import api as tenant_api
from tenants import views as tenant_views
from tenants import web as tenants_web
from tenants.territories import api as territories_api

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("passerelle.app")

# Every feature, by what it gives the app. A new feature is added here and nowhere else.
PAGES = [  # HTML blueprints
    home.bp,
    tenant_views.auth_bp, tenant_views.workspace_bp, tenant_views.operator_bp, admin_views.bp,
    ops_views.bp,
    search_views.bp,
    catalog_views.bp, catalog_views.workspace_bp, catalog_views.operator_bp,
    funding_views.bp, funding_views.operator_bp,
    plan_views.bp,
    mine_views.bp,
    contracts_views.workspace_bp, contracts_views.operator_bp, contracts_views.rules_bp,
    purchasing_views.bp, purchasing_views.workspace_bp,
    projects_views.bp, projects_views.needs_bp,
    billing_views.bp,
]
API = [  # flask-smorest blueprints, served under /api/v1
    territories_api.blp,
    tenant_api.blp,
    search_api.blp,
    plan_api.blp,
    funding_api.blp, funding_api.territory_blp,
    catalog_api.blp,
    contracts_api.blp,
    purchasing_api.blp,
    projects_api.blp,
]
TASKS = [  # modules declaring background jobs (and their schedules), imported by jobs.init_app
    "marketplace.mail.tasks",
    "tenants.tasks",
    "search.tasks",
    "marketplace.ops.tasks",
    "marketplace.funding.tasks",
    "marketplace.funding.mine.tasks",
    "marketplace.purchasing.tasks",
    "marketplace.projects.tasks",
    "marketplace.billing.tasks",
]
# The document types of the search index register themselves when their module is imported.
SEARCH_PROVIDERS = [catalog_indexing, funding_indexing]


@dataclass
class Passerelle:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[TenantSession]


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> Flask:
    settings = settings or load_settings()
    app = edge.PasserelleFlask(__name__, static_folder="static", template_folder="templates")
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.resolved_secret_key(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Production serves over HTTPS: the cookie never travels in clear.
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://") or settings.passerelle_mode.value == "production",
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        JSON_SORT_KEYS=False,
    )
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = engine or make_engine(settings.sqlalchemy_url)
    app.extensions["passerelle"] = Passerelle(settings, engine, make_session_factory(engine))
    redis_url = running_redis_url(settings)  # what one process computed, the others read there
    shared.register(engine, connect(redis_url) if redis_url else None)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic.runtime.plugins", "alembic.autogenerate"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    edge.init_app(app)
    tenants_web.init_app(app)
    for bp in PAGES:
        app.register_blueprint(bp)
    web_api.init_app(app)
    for blp in API:
        web_api.api.register_blueprint(blp, url_prefix=web_api.PREFIX + blp.url_prefix)
        csrf.exempt(blp)
    jobs.init_app(app, TASKS)
    log.info("application Passerelle construite")
    return app
