from marshmallow import fields, validate

from marketplace.core.schemas import BaseSchema


class CommuneQuerySchema(BaseSchema):
    q = fields.String(required=True, validate=validate.Length(min=2, max=100, error="Entre 2 et 100 caractères."),
                      metadata={"description": "Début du nom (accents facultatifs) ou du code postal"})
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50, error="Entre 1 et 50."))


class RegionSchema(BaseSchema):
    code = fields.String()
    name = fields.String()


class DepartementSchema(BaseSchema):
    code = fields.String()
    name = fields.String()


class EpciRefSchema(BaseSchema):
    siren = fields.String()
    name = fields.String()
    kind = fields.String(metadata={"description": "CC, CA, CU, METRO ou MET69"})
    kind_label = fields.String()
    population = fields.Integer()


class CommuneSchema(BaseSchema):
    insee = fields.String(metadata={"description": "Code INSEE (code officiel géographique)"})
    name = fields.String()
    population = fields.Integer(metadata={"description": "Population municipale"})
    postal_codes = fields.List(fields.String(), attribute="postal_code_list")
    siren = fields.String(allow_none=True)
    departement = fields.Nested(DepartementSchema)
    region = fields.Nested(RegionSchema)
    epci = fields.Nested(EpciRefSchema, allow_none=True)


class CommuneSummarySchema(BaseSchema):
    insee = fields.String()
    name = fields.String()
    population = fields.Integer()
    postal_codes = fields.List(fields.String(), attribute="postal_code_list")
    departement_code = fields.String()
    label = fields.Method("_label")

    def _label(self, commune):
        codes = commune.postal_code_list
        return f"{commune.name} ({codes[0] if codes else commune.departement_code})"


class EpciSchema(EpciRefSchema):
    communes = fields.List(fields.Nested(CommuneSummarySchema))
