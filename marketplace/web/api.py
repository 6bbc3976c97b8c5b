"""The JSON API under /api/v1, documented by OpenAPI (flask-smorest).

Errors are JSON: ``{"code": 422, "status": "...", "errors": {"json": {"field": ["message"]}}}``
for validation and refused actions, ``{"code": 404, "status": "...", "message": "..."}``
otherwise (``marketplace.web.edge.render_error``). ``marketplace.app`` registers the blueprints.
"""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api, abort
from flask_smorest.arguments import ArgumentsMixin
from marshmallow import RAISE

import marketplace.core.schemas  # noqa: F401  (French validation messages)

api = Api()
PREFIX = "/api/v1"
UNKNOWN_PARAMETER = "Paramètre inconnu."


def _refuse_unknown_parameters(error, req, schema, *, error_status_code, error_headers):
    """A query parameter the endpoint does not know is refused with 400 and its name, never
    silently dropped (a misspelt filter must not return everything); other errors answer 422."""
    messages = error.messages
    query = messages.get("query") if isinstance(messages, dict) else None
    unknown = [k for k, v in (query or {}).items() if v == ["Champ inconnu."]]
    if unknown:
        known = ", ".join(sorted(f.data_key or name for name, f in schema.fields.items()))
        abort(400, message=f"Paramètre inconnu : {', '.join(sorted(unknown))}. Paramètres acceptés : {known}.",
              errors={"query": {k: [UNKNOWN_PARAMETER] for k in unknown}}, headers=error_headers)
    abort(error_status_code or 422, exc=error, messages=messages, schema=schema, headers=error_headers)


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
    parser = ArgumentsMixin.ARGUMENTS_PARSER
    parser.DEFAULT_UNKNOWN_BY_LOCATION = {**parser.DEFAULT_UNKNOWN_BY_LOCATION, "query": RAISE, "querystring": RAISE}
    parser.error_callback = _refuse_unknown_parameters
    api.init_app(app)
