"""The JSON API under /api/v1, documented by OpenAPI (flask-smorest).

Errors are JSON: ``{"code": 422, "status": "...", "errors": {"json": {"field": ["message"]}}}``
for validation, ``{"code": 404, "status": "...", "message": "..."}`` otherwise.
"""
from __future__ import annotations

from flask import Flask, g
from flask_login import current_user
from flask_smorest import Api, abort

import marketplace.schemas  # noqa: F401  (French validation messages)

api = Api()


def init_api(app: Flask) -> None:
    app.config.update(
        API_TITLE="API Passerelle",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/static/swagger-ui/",
        API_SPEC_OPTIONS={
            "info": {
                "description": (
                    "API de Passerelle. Les données du référentiel des territoires sont publiques ; "
                    "les autres points d'accès demandent un jeton personnel "
                    "(`Authorization: Bearer pas_…`), créé dans « Mon organisation › Jetons d'API »."
                ),
            },
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        },
    )
    api.init_app(app)
    from marketplace import web
    from marketplace.catalog.api import blp as solutions_blp
    from marketplace.funding.api import blp as programmes_blp, territory_blp as territory_programmes_blp
    from marketplace.funding.plan.api import blp as funding_plans_blp
    from search.api import blp as search_blp
    from tenants.api import blp as me_blp
    from tenants.territories.api import blp as territories_blp

    for blp in (territories_blp, me_blp, search_blp, funding_plans_blp, programmes_blp, territory_programmes_blp):
        api.register_blueprint(blp, url_prefix="/api/v1" + blp.url_prefix)
        web.csrf.exempt(blp)
    api.register_blueprint(solutions_blp, url_prefix="/api/v1" + solutions_blp.url_prefix)
    web.csrf.exempt(solutions_blp)


def require_token():
    """API endpoints that act for a tenant need a valid personal token."""
    if g.get("bad_token"):
        abort(401, message="Jeton d'API invalide ou révoqué.")
    if not current_user.is_authenticated or g.get("api_membership") is None:
        abort(401, message="Authentification requise : envoyez « Authorization: Bearer <jeton> ».")
    return g.api_membership
