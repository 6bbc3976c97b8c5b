"""The edge of the funding guichet: forms and API queries validated per field, in French; the
JSON shapes of programmes, calls and eligibility."""
from __future__ import annotations

import re

from marshmallow import ValidationError, fields, validate, validates_schema

from marketplace.core import taxonomy
from marketplace.core.clock import today
from marketplace.core.schemas import (
    BaseSchema,
    Percent,
    RankedPageSchema,
    StringList,
    object_id,
    page_number,
    search_words,
)
from marketplace.core.schemas import Euros as EurosHT
from marketplace.core.schemas import length as _length
from marketplace.funding.models import (
    AID_TYPES,
    BENEFICIARY_KINDS,
    EPCI_KINDS,
    EXPENSE_KINDS,
    FUNDER_LEVELS,
    PROJECT_STAGES,
    SCOPE_LEVELS,
    STATE_FAMILIES,
    Recurrence,
)

RECURRENCES = {r.value: r.label for r in Recurrence}


def _choices(vocabulary: dict, message: str, *, required: bool = False, at_least: int = 0, at_most: int | None = None):
    item = fields.String(validate=validate.OneOf(list(vocabulary), error=message))
    checks = []
    if at_least or at_most:
        text = (f"Choisissez au moins {at_least} élément{'s' if at_least > 1 else ''}." if not at_most else
                f"Choisissez entre {at_least} et {at_most} éléments.")
        checks.append(validate.Length(min=at_least, max=at_most, error=text))
    if required:
        return fields.List(item, required=True, validate=checks,
                           error_messages={"required": "Choisissez au moins un élément."})
    return fields.List(item, load_default=list, validate=checks)


def _population(field_name: str):
    return fields.Integer(load_default=None, allow_none=True, data_key=field_name,
                          validate=validate.Range(min=0, max=100_000_000, error="Population entre 0 et 100 millions."))


class ProgrammeFormSchema(BaseSchema):
    """A programme as an operator writes it (HTML form: amounts in euros, rates in percent)."""

    title = fields.String(required=True, validate=_length(200, 3))
    summary = fields.String(required=True, validate=_length(400, 10))
    description = fields.String(load_default="", validate=_length(20000))
    # As long as the instructing body: real names are ("Direction départementale des Territoires et
    # de la Mer (DDTM) du Finistère", in the Aides-territoires exports).
    # One per line (or ";"): a funder's name may hold a comma ("Ministère de la Culture, DRAC Centre").
    funders = StringList(item_length=200, separators=r"[;\n]", required=True,
                         error_messages={"required": "Indiquez au moins un financeur."})
    instructing_body = fields.String(load_default="", validate=_length(200))
    funder_level = fields.String(required=True, validate=validate.OneOf(list(FUNDER_LEVELS),
                                                                        error="Échelon de financeur inconnu."))
    state_family = fields.String(load_default=None, allow_none=True,
                                 validate=validate.OneOf(list(STATE_FAMILIES), error="Dotation inconnue."))
    aid_types = _choices(AID_TYPES, "Type d'aide inconnu.", required=True, at_least=1)
    themes = _choices(taxonomy.DOMAINS, "Thématique inconnue.", at_most=8)
    beneficiary_kinds = _choices(BENEFICIARY_KINDS, "Type de bénéficiaire inconnu.", required=True, at_least=1)
    epci_kinds = _choices(EPCI_KINDS, "Type d'intercommunalité inconnu.")
    population_min = _population("population_min")
    population_below = _population("population_below")
    epci_population_min = _population("epci_population_min")
    epci_population_below = _population("epci_population_below")
    rate_min_bp = Percent(data_key="rate_min", load_default=None)
    rate_max_bp = Percent(data_key="rate_max", load_default=None)
    amount_floor_cents = EurosHT(data_key="amount_floor", load_default=None)
    amount_ceiling_cents = EurosHT(data_key="amount_ceiling", load_default=None)
    expense_kinds = _choices(EXPENSE_KINDS, "Type de dépense inconnu.")
    project_stages = _choices(PROJECT_STAGES, "Étape de projet inconnue.")
    recurrence = fields.String(required=True, validate=validate.OneOf(list(RECURRENCES), error="Récurrence inconnue."))
    opens_on = fields.Date(load_default=None, allow_none=True)
    prefiling_on = fields.Date(load_default=None, allow_none=True)
    closes_on = fields.Date(load_default=None, allow_none=True)
    how_to_apply = fields.String(load_default="", validate=_length(5000))
    contacts = fields.String(load_default="", validate=_length(2000))
    source_url = fields.Url(required=True, schemes={"http", "https"}, validate=_length(500),
                            error_messages={"invalid": "Adresse web invalide (https://…).",
                                            "required": "Indiquez la source officielle du programme."})
    provenance = fields.String(load_default="", validate=_length(500))
    licence = fields.String(load_default="", validate=_length(120))
    curation_note = fields.String(load_default="", validate=_length(5000))
    perimeter_check = fields.String(load_default="", validate=_length(300))
    facts_checked_on = fields.Date(load_default=None, allow_none=True)

    @validates_schema(skip_on_field_errors=False)
    def _consistent(self, data, **kw):
        errors = consistency_errors(data)
        if errors:
            raise ValidationError({name: [message] for name, message in errors.items()})


def consistency_errors(data) -> dict[str, str]:
    """The rules that tie a programme's fields together (field → French message); for the form, and
    for content that arrives otherwise (an import's dates, a held change accepted)."""
    errors: dict[str, str] = {}

    def ordered(low_key, high_key, high_field, message, strict=False):
        low, high = data.get(low_key), data.get(high_key)
        if low is not None and high is not None and (low >= high if strict else low > high):
            errors[high_field] = message

    ordered("population_min", "population_below", "population_below",
            "Le seuil haut doit être supérieur au seuil bas.", strict=True)
    ordered("epci_population_min", "epci_population_below", "epci_population_below",
            "Le seuil haut doit être supérieur au seuil bas.", strict=True)
    ordered("rate_min_bp", "rate_max_bp", "rate_max", "Le taux maximal doit être supérieur ou égal au taux minimal.")
    ordered("amount_floor_cents", "amount_ceiling_cents", "amount_ceiling",
            "Le plafond doit être supérieur ou égal au plancher.")
    ordered("opens_on", "closes_on", "closes_on", "La clôture doit suivre l'ouverture.")
    ordered("prefiling_on", "closes_on", "prefiling_on", "Le pré-dépôt doit précéder la clôture.")
    if data.get("state_family") and data.get("funder_level") != "state":
        errors["state_family"] = "Seul un programme de l'État relève d'une dotation de l'État."
    if data.get("state_family") and "subvention" not in (data.get("aid_types") or []):
        errors["state_family"] = "Une dotation de l'État est une subvention : cochez ce type d'aide."
    if data.get("epci_kinds") and "epci" not in (data.get("beneficiary_kinds") or []):
        errors["epci_kinds"] = "Les types d'intercommunalité ne valent que si les intercommunalités sont bénéficiaires."
    if data.get("recurrence") == "permanent" and data.get("closes_on"):
        errors["closes_on"] = "Un programme permanent n'a pas de date de clôture."
    return errors


PROGRAMME_LIST_FIELDS = ("aid_types", "themes", "beneficiary_kinds", "epci_kinds", "expense_kinds", "project_stages")


class ScopeFormSchema(BaseSchema):
    mode = fields.String(required=True, validate=validate.OneOf(["include", "exclude"], error="Inclure ou exclure ?"))
    level = fields.String(required=True, validate=validate.OneOf(list(SCOPE_LEVELS), error="Niveau de territoire inconnu."))
    # "24", "Centre-Val de Loire", "37", a SIREN, INSEE codes separated by commas, a label's name…
    value = fields.String(load_default="", validate=_length(20000))


class WorkflowSchema(BaseSchema):
    action = fields.String(required=True, validate=validate.OneOf(
        ["submit", "withdraw", "publish", "send_back", "close", "reopen", "archive", "restore"],
        error="Action inconnue."))
    comment = fields.String(load_default="", validate=_length(2000))


class BulkFormSchema(BaseSchema):
    """Many programmes at once (the operators' desk): the checked ids, the action, its territory."""

    ids = fields.List(object_id(), required=True, validate=validate.Length(min=1, max=500, error="Cochez de 1 à 500 "
                                                                                                 "programmes."),
                      error_messages={"required": "Cochez au moins un programme."})
    action = fields.String(required=True, validate=validate.OneOf(["scope", "submit", "publish", "archive"],
                                                                  error="Action inconnue."),
                           error_messages={"required": "Choisissez une action."})
    # "france", "region:24", "departement:36": the territories the desk offers.
    place = fields.String(load_default=None, validate=validate.Regexp(r"^(france|region:\w{2,3}|departement:\w{2,3})$",
                                                                      error="Territoire inconnu."))
    confirm = fields.Boolean(load_default=False)


class CallFormSchema(BaseSchema):
    kind = fields.String(load_default="aap", validate=validate.OneOf(["aap", "ami"], error="Type d'appel inconnu."))
    title = fields.String(required=True, validate=_length(200, 3))
    description = fields.String(load_default="", validate=_length(10000))
    opens_on = fields.Date(load_default=None, allow_none=True)
    prefiling_on = fields.Date(load_default=None, allow_none=True)
    closes_on = fields.Date(required=True, error_messages={"required": "Un appel a une date de clôture."})
    url = fields.Url(load_default="", schemes={"http", "https"}, validate=_length(500),
                     error_messages={"invalid": "Adresse web invalide (https://…)."})

    @validates_schema(skip_on_field_errors=False)
    def _dates(self, data, **kw):
        if data.get("opens_on") and data.get("closes_on") and data["opens_on"] > data["closes_on"]:
            raise ValidationError("La clôture doit suivre l'ouverture.", "closes_on")
        if data.get("prefiling_on") and data.get("closes_on") and data["prefiling_on"] > data["closes_on"]:
            raise ValidationError("Le pré-dépôt doit précéder la clôture.", "prefiling_on")


class CallActionSchema(BaseSchema):
    action = fields.String(required=True, validate=validate.OneOf(["publish", "close", "reopen", "archive", "restore"],
                                                                  error="Action inconnue."))


_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class LabelFormSchema(BaseSchema):
    name = fields.String(required=True, validate=_length(120, 2))
    slug = fields.String(load_default=None, allow_none=True, validate=[
        _length(60, 2), validate.Regexp(_SLUG, error="Minuscules, chiffres et tirets seulement (ex. : petites-villes-de-demain).")])
    description = fields.String(load_default="", validate=_length(5000))
    source_url = fields.Url(load_default="", schemes={"http", "https"}, validate=_length(500),
                            error_messages={"invalid": "Adresse web invalide (https://…)."})
    licence = fields.String(load_default="", validate=_length(120))


class AlertFormSchema(BaseSchema):
    """A saved search of "Mes financements": the criteria come from the page's query string."""

    name = fields.String(required=True, validate=_length(120, 2),
                         error_messages={"required": "Donnez un nom à cette alerte."})
    email = fields.Email(required=True, validate=_length(254),
                         error_messages={"required": "Indiquez l'adresse qui recevra les alertes."})
    frequency = fields.String(required=True, validate=validate.OneOf(
        ["daily", "weekly"], error="Choisissez « chaque jour » ou « chaque semaine »."),
        error_messages={"required": "Choisissez la fréquence des envois."})


class ProgrammeImportFormSchema(BaseSchema):
    """The import form's fields beside the file (read by marketplace.funding.importer)."""

    # Empty: the licence of the source the links name (Aides-territoires), if known.
    licence = fields.String(load_default="", validate=_length(120))
    # For the rows whose funder level neither an "Échelon" cell nor the funder's name tells.
    default_level = fields.String(load_default=None, validate=validate.OneOf(
        list(FUNDER_LEVELS), error="Échelon inconnu."))


class HeldChangeSchema(BaseSchema):
    action = fields.String(required=True, validate=validate.OneOf(["accept", "discard"], error="Action inconnue."),
                           error_messages={"required": "Acceptez ou écartez la modification."})


# API: queries ---------------------------------------------------------------------------------

class ProgrammeQuerySchema(BaseSchema):
    q = search_words()
    page = page_number()
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100, error="Entre 1 et 100."))
    theme = fields.String(load_default=None, validate=validate.OneOf(list(taxonomy.DOMAINS), error="Thématique inconnue."),
                          metadata={"description": "Thématique (slug de l'annuaire : eclairage-public…)"})
    funder_level = fields.String(load_default=None, validate=validate.OneOf(list(FUNDER_LEVELS), error="Échelon inconnu."))
    aid_type = fields.String(load_default=None, validate=validate.OneOf(list(AID_TYPES), error="Type d'aide inconnu."))
    beneficiary = fields.String(load_default=None, validate=validate.OneOf(list(BENEFICIARY_KINDS),
                                                                           error="Type de bénéficiaire inconnu."))
    state_family = fields.String(load_default=None, validate=validate.OneOf(list(STATE_FAMILIES), error="Dotation inconnue."))
    region = fields.String(load_default=None, validate=_length(3), metadata={
        "description": "Code INSEE de région : programmes dont le périmètre inclut toute la région "
                       "(France entière ou la région ; une exclusion peut en retirer une partie)"})
    departement = fields.String(load_default=None, validate=_length(3), metadata={
        "description": "Code INSEE de département : programmes dont le périmètre inclut tout le département "
                       "(France entière, sa région ou lui-même)"})
    commune = fields.String(load_default=None, validate=_length(5), metadata={
        "description": "Code INSEE de commune : programmes auxquels cette commune est éligible (calcul exact)"})
    epci = fields.String(load_default=None, validate=_length(9), metadata={
        "description": "SIREN d'EPCI : programmes auxquels cet EPCI est éligible (calcul exact)"})


class PageQuerySchema(BaseSchema):
    page = page_number()
    per_page = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000, error="Entre 1 et 1000."))


# API: output ----------------------------------------------------------------------------------

class CallOutSchema(BaseSchema):
    id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    status = fields.String(attribute="status.value")
    description = fields.String()
    opens_on = fields.Date(allow_none=True)
    prefiling_on = fields.Date(allow_none=True)
    closes_on = fields.Date(allow_none=True)
    url = fields.String()


class EligibilityRulesSchema(BaseSchema):
    beneficiary_kinds = fields.List(fields.String())
    epci_kinds = fields.List(fields.String())
    population_min = fields.Integer(allow_none=True)
    population_below = fields.Integer(allow_none=True, metadata={"description": "Population strictement inférieure à"})
    epci_population_min = fields.Integer(allow_none=True)
    epci_population_below = fields.Integer(allow_none=True)
    scope = fields.Method("_scope")

    def _scope(self, programme):
        names = getattr(programme, "_scope_names", {}) or {}
        return [{"mode": "include" if s.include else "exclude", "level": s.level, "code": s.code,
                 "name": names.get((s.level, s.code))} for s in programme.scope]


class ProgrammeSummarySchema(BaseSchema):
    id = fields.Integer()
    title = fields.String()
    summary = fields.String()
    status = fields.String(attribute="status.value")
    funders = fields.List(fields.String())
    funder_level = fields.String(attribute="funder_level.value")
    aid_types = fields.List(fields.String())
    themes = fields.List(fields.String())
    state_family = fields.String(allow_none=True)
    plan_category = fields.String()
    rate_min_bp = fields.Integer(allow_none=True)
    rate_max_bp = fields.Integer(allow_none=True)
    amount_floor_cents = fields.Integer(allow_none=True)
    amount_ceiling_cents = fields.Integer(allow_none=True)
    recurrence = fields.String(attribute="recurrence.value")
    opens_on = fields.Date(allow_none=True)
    closes_on = fields.Date(allow_none=True)
    url = fields.Function(lambda p: f"/financements/{p.id}")
    perimeter_check = fields.String(metadata={"description": "Si non vide : le périmètre enregistré est plus large "
                                                             "que celui du texte, et pourquoi"})
    facts_checked_on = fields.Date(allow_none=True, metadata={"description": "Date de la dernière vérification des "
                                                                             "faits sur la source"})
    facts_to_check = fields.Function(lambda p: p.facts_stale(today()), metadata={
        "description": "Faits vérifiés il y a plus d'un an (ou jamais datés)"})


class ProgrammeOutSchema(ProgrammeSummarySchema):
    description = fields.String(metadata={"description": "Markdown"})
    instructing_body = fields.String()
    owner = fields.String(attribute="owner.name")
    eligibility = fields.Function(lambda p: EligibilityRulesSchema().dump(p))
    expense_kinds = fields.List(fields.String())
    project_stages = fields.List(fields.String())
    prefiling_on = fields.Date(allow_none=True)
    how_to_apply = fields.String()
    contacts = fields.String()
    source_url = fields.String()
    provenance = fields.String()
    licence = fields.String()
    curation_note = fields.String()
    published_at = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime()
    version = fields.Integer()
    calls = fields.List(fields.Nested(CallOutSchema), attribute="public_calls")
    eligible_communes = fields.Integer(attribute="_eligible_communes", allow_none=True,
                                       metadata={"description": "Nombre exact de communes éligibles"})


class ProgrammePageSchema(RankedPageSchema):
    items = fields.List(fields.Nested(ProgrammeSummarySchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class OfferOutSchema(BaseSchema):
    programme = fields.Nested(ProgrammeSummarySchema)
    reasons = fields.List(fields.String())
    reason = fields.String(metadata={"description": "Les raisons, en une phrase"})
    exact = fields.Function(lambda o: not o["to_check"], metadata={
        "description": "Faux : le périmètre du programme est plus large que son texte, éligibilité à vérifier"})
    to_check = fields.String(metadata={"description": "Pourquoi l'éligibilité est à vérifier (vide si exacte)"})


class CommuneRefSchema(BaseSchema):
    insee = fields.String()
    name = fields.String()
    population = fields.Integer()
    departement_code = fields.String()
    region_code = fields.String()
    epci_siren = fields.String(allow_none=True)


class CommuneOffersSchema(BaseSchema):
    commune = fields.Nested(CommuneRefSchema)
    total = fields.Integer()
    items = fields.List(fields.Nested(OfferOutSchema))


class EpciRefOutSchema(BaseSchema):
    siren = fields.String()
    name = fields.String()
    kind = fields.String()
    population = fields.Integer()


class EpciOffersSchema(BaseSchema):
    epci = fields.Nested(EpciRefOutSchema)
    total = fields.Integer()
    items = fields.List(fields.Nested(OfferOutSchema))


class EligibleCommunesSchema(BaseSchema):
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    items = fields.List(fields.Nested(CommuneRefSchema))
