"""The edge of the contracts: the procedure question (API), and the forms of the rules and templates."""
from __future__ import annotations

from marshmallow import fields, validate

from marketplace.contracts.models import NATURES
from marketplace.contracts.procedure import BUYER_KINDS, PROCEDURES
from marketplace.core.schemas import BaseSchema, Euros
from marketplace.core.schemas import length as _length


class ProcedureQuerySchema(BaseSchema):
    amount_ht = Euros(required=True, metadata={
        "type": "number", "minimum": 0, "example": 50000,
        "description": "Montant estimé du besoin entier, en euros HT (tous lots, toute la durée)"})
    nature = fields.String(required=True, validate=validate.OneOf(list(NATURES), error="Nature d'achat inconnue : "
                                                                                        "services, supplies ou works."),
                           metadata={"description": "services, supplies (fournitures) ou works (travaux)"})
    innovative = fields.Boolean(load_default=False, metadata={
        "description": "Travaux, fournitures ou services nouveaux ou sensiblement améliorés (CCP L2172-3)"})
    launch_date = fields.Date(required=True, metadata={"description": "Date de lancement de la consultation"})
    buyer_kind = fields.String(load_default="commune", validate=validate.OneOf(list(BUYER_KINDS),
                                                                              error="Type d'acheteur inconnu."))


class ProcedureOutSchema(BaseSchema):
    procedure = fields.String(metadata={"enum": list(PROCEDURES)})
    label = fields.String()
    article = fields.String()
    rule = fields.String(metadata={"description": "La règle appliquée, avec les montants et l'article"})


class ProcedureAnswerSchema(BaseSchema):
    allowed = fields.List(fields.Nested(ProcedureOutSchema))
    not_allowed = fields.List(fields.Nested(ProcedureOutSchema))
    recommended = fields.String(metadata={"description": "La procédure la plus légère que le besoin permet"})
    thresholds_as_of = fields.Date(metadata={"description": "Les seuils appliqués sont ceux de cette date"})


class ThresholdFormSchema(BaseSchema):
    """A new version of a threshold, from a date (platform admins)."""

    amount_ht = Euros(required=True, validate=validate.Range(min=1, error="Montant supérieur à 0 € HT."))
    valid_from = fields.Date(required=True)
    legal_reference = fields.String(required=True, validate=_length(200, 2))
    source_url = fields.Url(load_default="", schemes={"http", "https"}, validate=_length(300),
                            error_messages={"invalid": "Adresse web invalide (https://…)."})
    note = fields.String(load_default="", validate=_length(2000))


class TemplateVersionFormSchema(BaseSchema):
    questionnaire = fields.String(required=True, validate=_length(100_000, 10))
    change_note = fields.String(required=True, validate=_length(2000, 3),
                                error_messages={"required": "Dites ce que change cette version."})
