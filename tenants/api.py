"""Who am I, for API token holders."""
from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import fields

from marketplace.core.schemas import BaseSchema
from tenants.web import require_token

blp = Blueprint("me", __name__, url_prefix="/me", description="Le titulaire du jeton d'API")


class MeSchema(BaseSchema):
    email = fields.String(attribute="user.email")
    full_name = fields.String(attribute="user.full_name")
    role = fields.String(attribute="role.value")
    tenant_id = fields.Integer()
    tenant_name = fields.String(attribute="tenant.name")
    tenant_kind = fields.String(attribute="tenant.kind.value")


@blp.route("")
@blp.response(200, MeSchema)
@blp.alt_response(401, description="Jeton absent, invalide ou révoqué")
@blp.doc(security=[{"bearer": []}])
def me():
    """Le membre et l'organisation pour lesquels agit le jeton"""
    return require_token()
