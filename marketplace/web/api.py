"""The JSON API under /api/v1, documented by OpenAPI (flask-smorest).

Errors are JSON: ``{"code": 422, "status": "...", "errors": {"json": {"field": ["message"]}}}``
for validation and refused actions, ``{"code": 404, "status": "...", "message": "..."}``
otherwise (``marketplace.web.edge.render_error``). ``marketplace.app`` registers the blueprints.
"""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api

import marketplace.core.schemas  # noqa: F401  (French validation messages)

api = Api()
PREFIX = "/api/v1"


def init_app(app: Flask) -> None:
    app.config.update(
        API_TITLE="API Passerelle",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX=PREFIX,
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
