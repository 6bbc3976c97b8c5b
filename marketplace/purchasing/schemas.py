"""The edge of group purchases: the forms (euros typed as people type them) and the API."""
from __future__ import annotations

from marshmallow import fields, post_load, validate

from marketplace.contracts.public import NATURES
from marketplace.core.schemas import BaseSchema, Euros, object_id, page_number
from marketplace.core.schemas import length as _length
from marketplace.purchasing.models import PurchaseStatus
from marketplace.purchasing.pricing import MAX_UNITS, UNITS

_units = validate.Range(min=0, max=MAX_UNITS, error="Nombre entre 0 et 1 milliard.")


class PurchaseFormSchema(BaseSchema):
    title = fields.String(required=True, validate=_length(200, 3))
    description = fields.String(load_default="", validate=_length(5000))
    lots = fields.String(load_default="", validate=_length(2000))
    nature = fields.String(load_default="services", validate=validate.OneOf(list(NATURES), error="Nature inconnue."))
    innovative = fields.Boolean(load_default=False, truthy={"on", "1", "true", "oui"})
    min_units = fields.Integer(load_default=0, validate=_units)
    min_cities = fields.Integer(load_default=2, validate=validate.Range(min=1, max=1000,
                                                                        error="Entre 1 et 1 000 collectivités."))
    deadline = fields.Date(required=True)


class CommitFormSchema(BaseSchema):
    quantity = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_UNITS,
                                                                     error="Quantité entre 1 et 1 milliard."))
    note = fields.String(load_default="", validate=_length(1000))


class ExtendFormSchema(BaseSchema):
    deadline = fields.Date(required=True)


class AwardFormSchema(BaseSchema):
    contract_reference = fields.String(required=True, validate=_length(200, 2))
    award_date = fields.Date(required=True)
    final_unit_price_ht_cents = Euros(required=True, data_key="final_unit_price",
                                      validate=validate.Range(min=1, error="Prix supérieur à 0 €."))
    award_note = fields.String(load_default="", validate=_length(2000))


class CancelFormSchema(BaseSchema):
    reason = fields.String(required=True, validate=_length(2000, 3),
                           error_messages={"required": "Indiquez pourquoi l'achat groupé est annulé."})


class TierFormSchema(BaseSchema):
    min_units = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_UNITS, error="Au moins 1."))
    min_cities = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1000))
    unit_price_ht_cents = Euros(required=True, data_key="unit_price")


class OfferFormSchema(BaseSchema):
    unit = fields.String(required=True, validate=validate.OneOf(list(UNITS), error="Unité inconnue."))
    unit_label = fields.String(load_default="", validate=_length(100))
    list_price_ht_cents = Euros(required=True, data_key="list_price",
                                validate=validate.Range(min=1, error="Prix supérieur à 0 €."))
    conditions = fields.String(load_default="", validate=_length(3000))

    @post_load
    def _unit_label(self, data, **kw):
        if not (data.get("unit_label") or "").strip():
            data["unit_label"] = UNITS[data["unit"]][0]
        return data


# API ---------------------------------------------------------------------------------------------

class PurchaseQuerySchema(BaseSchema):
    status = fields.String(load_default="open", validate=validate.OneOf(
        [s.value for s in PurchaseStatus if s.is_public], error="État inconnu : open, closed, awarded ou cancelled."))
    solution_id = object_id(load_default=None)
    page = page_number(load_default=1)
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100, error="Entre 1 et 100."))


class NextTierSchema(BaseSchema):
    tier = fields.Integer()
    units_missing = fields.Integer()
    cities_missing = fields.Integer()
    unit_price_ht_cents = fields.Integer()


class ProcedureItemSchema(BaseSchema):
    procedure = fields.String()
    label = fields.String()
    article = fields.String()
    rule = fields.String()


class PurchaseProcedureSchema(BaseSchema):
    allowed = fields.List(fields.Nested(ProcedureItemSchema))
    recommended = fields.String()
    thresholds_as_of = fields.Date()


class PurchaseOutSchema(BaseSchema):
    id = fields.Integer()
    title = fields.String()
    status = fields.String()
    deadline = fields.Date()
    coordinator = fields.String()
    solution_id = fields.Integer()
    unit = fields.String(metadata={"enum": list(UNITS)})
    unit_label = fields.String()
    list_price_ht_cents = fields.Integer()
    tiers = fields.List(fields.Dict())
    min_units = fields.Integer()
    min_cities = fields.Integer()
    member_count = fields.Integer()
    total_units = fields.Integer()
    current_tier = fields.Integer(allow_none=True)
    unit_price_ht_cents = fields.Integer()
    total_ht_cents = fields.Integer()
    saving_ht_cents = fields.Integer()
    next_tier = fields.Nested(NextTierSchema, allow_none=True)
    procedure = fields.Nested(PurchaseProcedureSchema, allow_none=True)
    url = fields.String()


class PurchasePageSchema(BaseSchema):
    items = fields.List(fields.Nested(PurchaseOutSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class CommitmentInSchema(BaseSchema):
    quantity = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_UNITS,
                                                                     error="Quantité entre 1 et 1 milliard."))


class CommitmentOutSchema(BaseSchema):
    purchase_id = fields.Integer()
    quantity = fields.Integer()
    created = fields.Boolean(metadata={"description": "Vrai si l'engagement vient d'être pris"})
    amount_ht_cents = fields.Integer(metadata={"description": "Ce que la collectivité paierait au palier actuel"})


