from marshmallow import fields, validate

from marketplace.core.schemas import BaseSchema
from tenants.models import Role

_roles = validate.OneOf([r.value for r in Role], error="Rôle inconnu.")


class SignInSchema(BaseSchema):
    email = fields.String(required=True)
    password = fields.String(required=True)
    next = fields.String(load_default=None)


class AccountSchema(BaseSchema):
    full_name = fields.String(required=True, validate=validate.Length(max=200, error="200 caractères au plus."))
    email = fields.Email(required=True)
    password = fields.String(required=True)


class OrganisationSchema(BaseSchema):
    kind = fields.String(required=True, validate=validate.OneOf(["collectivite", "startup"], error="Choisissez un type d'organisation."))
    territory = fields.String(load_default=None)
    represent_epci = fields.Boolean(load_default=False, truthy={"on", "1", "true", "oui"})
    job_title = fields.String(load_default="")
    message = fields.String(load_default="", validate=validate.Length(max=2000, error="2 000 caractères au plus."))
    startup_name = fields.String(load_default=None)
    siren = fields.String(load_default=None)


class ForgotSchema(BaseSchema):
    email = fields.Email(required=True)


class ResetSchema(BaseSchema):
    password = fields.String(required=True)
    password_confirm = fields.String(required=True)


class InviteSchema(BaseSchema):
    email = fields.Email(required=True)
    role = fields.String(required=True, validate=_roles)


class RoleSchema(BaseSchema):
    role = fields.String(required=True, validate=_roles)


class TokenSchema(BaseSchema):
    name = fields.String(required=True, validate=validate.Length(max=100, error="100 caractères au plus."))


class SwitchSchema(BaseSchema):
    tenant_id = fields.Integer(required=True)


class ClaimDecisionSchema(BaseSchema):
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "reject"], error="Décision inconnue."))
    comment = fields.String(load_default="", validate=validate.Length(max=2000, error="2 000 caractères au plus."))


class SuspendSchema(BaseSchema):
    reason = fields.String(load_default="", validate=validate.Length(max=500, error="500 caractères au plus."))
