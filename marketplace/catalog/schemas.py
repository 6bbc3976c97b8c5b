"""The edge of the annuaire: every input (HTML forms and JSON) is validated here, per field, in French."""
from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from marketplace.core import taxonomy
from marketplace.core.schemas import (
    BaseSchema,
    RankedPageSchema,
    StringList,
    cents,
    object_id,
    page_number,
    search_words,
)
from marketplace.core.schemas import Euros as EurosHT
from marketplace.core.schemas import length as _length

_TRUTHY = {"on", "1", "true", "oui", True}
_FALSY = {"off", "0", "false", "non", "", False}


def _one_of(vocabulary: dict, message: str):
    return validate.OneOf(list(vocabulary), error=message)


class SolutionSchema(BaseSchema):
    """A solution's content as the JSON API takes it (prices in integer cents HT)."""

    name = fields.String(required=True, validate=_length(120, 2))
    pitch = fields.String(required=True, validate=_length(200, 10))
    description = fields.String(required=True, validate=_length(20000))
    domains = fields.List(fields.String(validate=_one_of(taxonomy.DOMAINS, "Domaine inconnu.")), required=True,
                          validate=validate.Length(min=1, max=5, error="Choisissez entre 1 et 5 domaines."),
                          error_messages={"required": "Choisissez au moins un domaine."})
    sizes = fields.List(fields.String(validate=_one_of(taxonomy.SIZES, "Taille de territoire inconnue.")), required=True,
                        validate=validate.Length(min=1, error="Choisissez au moins une taille de territoire."),
                        error_messages={"required": "Choisissez au moins une taille de territoire."})
    price_model = fields.String(required=True, validate=_one_of(taxonomy.PRICE_MODELS, "Modèle de prix inconnu."))
    price_min_ht_cents = cents(load_default=None, allow_none=True)
    price_max_ht_cents = cents(load_default=None, allow_none=True)
    price_unit = fields.String(load_default="", validate=_length(120))
    hosting = fields.String(required=True, validate=_one_of(taxonomy.HOSTING, "Lieu d'hébergement inconnu."))
    gdpr_dpa = fields.Boolean(load_default=False, truthy=_TRUTHY, falsy=_FALSY)
    secnumcloud = fields.Boolean(load_default=False, truthy=_TRUTHY, falsy=_FALSY)
    rgaa_level = fields.String(load_default="non-evalue", validate=_one_of(taxonomy.RGAA_LEVELS, "Niveau RGAA inconnu."))
    licence = fields.String(load_default=None, allow_none=True, validate=_length(100))
    open_data_standards = StringList(load_default=list)
    contact_name = fields.String(required=True, validate=_length(200, 2))
    contact_email = fields.Email(required=True, validate=_length(254))
    website = fields.Url(load_default=None, allow_none=True, schemes={"http", "https"},
                         error_messages={"invalid": "Adresse web invalide (https://…)."}, validate=_length(300))

    @validates_schema(skip_on_field_errors=False)
    def _price_range(self, data, **kw):
        low, high = data.get("price_min_ht_cents"), data.get("price_max_ht_cents")
        if low is not None and high is not None and high < low:
            raise ValidationError("Le prix maximum doit être supérieur ou égal au prix minimum.",
                                  "price_max_ht_cents")


class SolutionFormSchema(SolutionSchema):
    """The HTML form: the same rules, prices typed in euros."""

    price_min_ht_cents = EurosHT(data_key="price_min_ht", load_default=None)
    price_max_ht_cents = EurosHT(data_key="price_max_ht", load_default=None)

    @validates_schema(skip_on_field_errors=False)
    def _price_range(self, data, **kw):
        low, high = data.get("price_min_ht_cents"), data.get("price_max_ht_cents")
        if low is not None and high is not None and high < low:
            raise ValidationError("Le prix maximum doit être supérieur ou égal au prix minimum.", "price_max_ht")


class ReferenceSchema(BaseSchema):
    # "Châteauroux (36000) — 36044", "Châteauroux Métropole — 243600327", or a name to resolve.
    territory = fields.String(required=True, validate=_length(250))
    year = fields.Integer(required=True, validate=validate.Range(
        min=1990, max=2100, error="Année entre 1990 et 2100."))
    testimonial = fields.String(load_default="", validate=_length(1000))


class ReviewSchema(BaseSchema):
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "reject"], error="Décision inconnue."))
    comment = fields.String(load_default="", validate=_length(2000))


class ShortlistAddSchema(BaseSchema):
    solution_id = object_id(required=True)
    note = fields.String(load_default="", validate=_length(2000))


class NoteSchema(BaseSchema):
    note = fields.String(load_default="", validate=_length(2000))


class LeadSchema(BaseSchema):
    message = fields.String(required=True, validate=[
        validate.Length(min=20, error="Décrivez votre besoin en quelques mots (20 caractères au moins)."),
        _length(5000)])


class SolutionQuerySchema(BaseSchema):
    q = search_words()
    page = page_number()
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100, error="Entre 1 et 100."))
    domain = fields.String(load_default=None, validate=_one_of(taxonomy.DOMAINS, "Domaine inconnu."))


# JSON output ---------------------------------------------------------------------------------

class ReferenceOutSchema(BaseSchema):
    territory_name = fields.String()
    territory_kind = fields.String()
    commune_insee = fields.String(allow_none=True)
    epci_siren = fields.String(allow_none=True)
    year = fields.Integer()
    testimonial = fields.String()
    verified = fields.Boolean(attribute="is_verified")


class SolutionOutSchema(BaseSchema):
    id = fields.Integer()
    name = fields.String()
    pitch = fields.String()
    description = fields.String(metadata={"description": "Markdown"})
    owner = fields.String(attribute="owner.name")
    domains = fields.List(fields.String())
    sizes = fields.List(fields.String())
    price_model = fields.String()
    price_min_ht_cents = fields.Integer(allow_none=True)
    price_max_ht_cents = fields.Integer(allow_none=True)
    price_unit = fields.String()
    hosting = fields.String()
    gdpr_dpa = fields.Boolean()
    secnumcloud = fields.Boolean()
    rgaa_level = fields.String()
    licence = fields.String(allow_none=True)
    open_data_standards = fields.List(fields.String())
    contact_name = fields.String()
    # No contact_email: buyers write through "contacter la startup" (a lead the startup sees), and
    # a public API listing addresses would feed spam lists. The HTML page does the same.
    website = fields.String(allow_none=True)
    published_at = fields.DateTime()
    verified_references = fields.Integer(attribute="verified_count")
    deployments = fields.Integer()
    references = fields.List(fields.Nested(ReferenceOutSchema), attribute="public_references")


class SolutionDraftOutSchema(BaseSchema):
    id = fields.Integer()
    status = fields.String(attribute="status.value")
    name = fields.String()


class SolutionPageSchema(RankedPageSchema):
    items = fields.List(fields.Nested(SolutionOutSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
