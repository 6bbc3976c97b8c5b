"""The edge of the funding plan: every input (JSON and HTML form) is validated here, in French.

The JSON API speaks the engine's units (integer cents HT, basis points); the HTML form speaks the
user's (euros, percents) and is converted here, so the engine and the stored plan only ever see
cents and basis points.
"""
from __future__ import annotations

from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from marketplace.core import money
from marketplace.core.schemas import BaseSchema, Euros, Percent, length
from marketplace.core.schemas import basis_points as _bp
from marketplace.core.schemas import cents as _cents
from marketplace.funding.plan.engine import Category, Ordering, StateFamily

MAX_LINES = 30


def _check_line(data: dict) -> None:
    """The rules shared by the JSON line and the form line (after conversion)."""
    errors: dict[str, str] = {}
    category = data.get("category")
    if category == Category.state_grant.value and not data.get("state_family"):
        errors["state_family"] = "Précisez la dotation de l'État : DETR, DSIL, DPV, DSID ou Fonds vert."
    if category and category != Category.state_grant.value and data.get("state_family"):
        errors["state_family"] = "Seule une subvention de l'État a une dotation (DETR, DSIL…)."
    has_rate = data.get("requested_rate_bp") is not None
    has_amount = data.get("requested_amount_cents") is not None
    if has_rate == has_amount:
        errors["requested_rate_bp"] = ("Indiquez un taux ou un montant demandé, pas les deux." if has_rate else
                                       "Indiquez un taux demandé ou un montant demandé.")
    if errors:
        raise ValidationError({name: [message] for name, message in errors.items()})


class LineSchema(BaseSchema):
    """A plan line in the engine's units."""

    label = fields.String(required=True, validate=validate.Length(1, 200, error="Entre 1 et 200 caractères."))
    category = fields.String(required=True, validate=validate.OneOf(
        [c.value for c in Category], error="Catégorie inconnue : " + ", ".join(c.value for c in Category) + "."))
    state_family = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(
        [f.value for f in StateFamily], error="Dotation inconnue : DETR, DSIL, DPV, DSID ou FONDS_VERT."))
    requested_rate_bp = _bp(load_default=None, allow_none=True)
    requested_amount_cents = _cents(load_default=None, allow_none=True)
    rate_max_bp = _bp(load_default=None, allow_none=True)
    ceiling_cents = _cents(load_default=None, allow_none=True)
    priority = fields.Integer(load_default=None, allow_none=True, strict=True,
                              validate=validate.Range(1, 999, error="Priorité entre 1 et 999."))
    programme_id = fields.Integer(load_default=None, allow_none=True, strict=True)

    @validates_schema
    def _consistent(self, data, **kw):
        _check_line(data)


def _number_priorities(lines: list[dict]) -> list[dict]:
    # A line without a priority takes its position: "priority" then means "as entered".
    return [{**line, "priority": line["priority"] if line.get("priority") is not None else i + 1}
            for i, line in enumerate(lines)]


class PlanComputeSchema(BaseSchema):
    """POST /api/v1/funding-plans: a plan to compute (nothing is stored)."""

    cost_ht_cents = _cents(required=True, metadata={"description": "Coût du projet HT, en centimes"})
    eligible_cost_ht_cents = _cents(required=True, metadata={
        "description": "Dépense éligible (subventionnable) HT, en centimes ; au plus le coût"})
    date = fields.Date(load_default=None, allow_none=True, data_key="date", metadata={
        "description": "Date à laquelle les règles s'appliquent (date de dépôt prévue) ; aujourd'hui par défaut"})
    ordering = fields.String(load_default=Ordering.priority.value, validate=validate.OneOf(
        [o.value for o in Ordering], error="Règle inconnue : priority, order_entered ou proportional."),
        metadata={"description": "Quelle ligne cède la première quand un plafond s'applique : "
                                 "priority (le plus grand numéro de priorité), order_entered (la dernière "
                                 "saisie) ou proportional (au prorata)"})
    lines = fields.List(fields.Nested(LineSchema), required=True, validate=validate.Length(
        1, MAX_LINES, error=f"Entre 1 et {MAX_LINES} lignes de financement."))

    @validates_schema(skip_on_field_errors=False)  # said even when a line has its own errors
    def _eligible_within_cost(self, data, **kw):
        cost, eligible = data.get("cost_ht_cents"), data.get("eligible_cost_ht_cents")
        if cost is not None and eligible is not None and eligible > cost:
            raise ValidationError("La dépense éligible ne peut pas dépasser le coût du projet.",
                                  "eligible_cost_ht_cents")

    @post_load
    def _to_plan(self, data, **kw):
        return {"cost_ht_cents": data["cost_ht_cents"], "eligible_cost_ht_cents": data["eligible_cost_ht_cents"],
                "reference_date": data.get("date"), "ordering": data["ordering"],
                "lines": _number_priorities(data["lines"])}


# Output (documented in the OpenAPI description) ---------------------------------------------------

class ReductionOutSchema(BaseSchema):
    code = fields.String()
    label = fields.String()
    reference = fields.String()
    amount_cents = fields.Integer()
    explanation = fields.String()


class LineOutSchema(BaseSchema):
    index = fields.Integer()
    label = fields.String()
    category = fields.String()
    state_family = fields.String(allow_none=True)
    kind_label = fields.String()
    requested_rate_bp = fields.Integer(allow_none=True)
    requested_amount_cents = fields.Integer(allow_none=True)
    rate_max_bp = fields.Integer(allow_none=True)
    ceiling_cents = fields.Integer(allow_none=True)
    priority = fields.Integer()
    programme_id = fields.Integer(allow_none=True)
    requested_cents = fields.Integer()
    granted_cents = fields.Integer()
    reductions = fields.List(fields.Nested(ReductionOutSchema))


class TotalsOutSchema(BaseSchema):
    grants_cents = fields.Integer(metadata={"description": "Total des subventions"})
    state_grants_cents = fields.Integer(metadata={"description": "Dont subventions de l'État"})
    loans_cents = fields.Integer(metadata={"description": "Prêts (à part : ils financent la part du maître d'ouvrage)"})
    equity_cents = fields.Integer()
    owner_share_cents = fields.Integer(metadata={"description": "Part du maître d'ouvrage : coût moins subventions"})
    own_funds_cents = fields.Integer(metadata={"description": "Dont autofinancement (ni prêt ni fonds propres)"})
    public_total_cents = fields.Integer(metadata={"description": "Total des financements publics (CGCT L1111-10)"})
    owner_share_percent = fields.String(metadata={"description": "Part du maître d'ouvrage, en % de ce total"})


class RuleCheckOutSchema(BaseSchema):
    code = fields.String()
    label = fields.String()
    reference = fields.String()
    limit_cents = fields.Integer(allow_none=True)
    total_before_cents = fields.Integer()
    removed_cents = fields.Integer()
    explanation = fields.String()


class PlanResultSchema(BaseSchema):
    cost_ht_cents = fields.Integer()
    eligible_cost_ht_cents = fields.Integer()
    date = fields.String()
    ordering = fields.String()
    lines = fields.List(fields.Nested(LineOutSchema))
    totals = fields.Nested(TotalsOutSchema)
    rules = fields.List(fields.Nested(RuleCheckOutSchema))
    warnings = fields.List(fields.String())


# The HTML form ------------------------------------------------------------------------------------

def kind_options() -> list[tuple[str, str]]:
    """The form's one select for category and State family ('state_grant:DETR')."""
    options = [(f"{Category.state_grant.value}:{f.value}", f"État — {f.label}") for f in StateFamily]
    options += [(c.value, c.label) for c in Category if c is not Category.state_grant]
    return options


def kind_value(line: dict) -> str:
    if line.get("state_family"):
        return f"{line['category']}:{line['state_family']}"
    return line.get("category") or ""


class PlanFormSchema(BaseSchema):
    title = fields.String(required=True, validate=validate.Length(2, 200, error="Entre 2 et 200 caractères."))
    cost = Euros(required=True, validate=validate.Range(min=1, error="Le coût du projet doit être supérieur à 0 €."))
    eligible_cost = Euros(required=True, validate=validate.Range(min=1, error="La dépense éligible doit être "
                                                                             "supérieure à 0 €."))
    reference_date = fields.Date(required=True)
    ordering = fields.String(load_default=Ordering.priority.value, validate=validate.OneOf(
        [o.value for o in Ordering], error="Règle inconnue."))
    notes = fields.String(load_default="", validate=length(5000))

    @validates_schema(skip_on_field_errors=False)
    def _eligible_within_cost(self, data, **kw):
        if data.get("cost") is not None and data.get("eligible_cost") is not None \
                and data["eligible_cost"] > data["cost"]:
            raise ValidationError("La dépense éligible ne peut pas dépasser le coût du projet.", "eligible_cost")

    @post_load
    def _to_plan(self, data, **kw):
        return {"title": data["title"].strip(), "cost_ht_cents": data["cost"],
                "eligible_cost_ht_cents": data["eligible_cost"], "reference_date": data["reference_date"],
                "ordering": data["ordering"], "notes": data["notes"].strip()}


class LineFormSchema(BaseSchema):
    label = fields.String(required=True, validate=validate.Length(1, 200, error="Entre 1 et 200 caractères."))
    kind = fields.String(required=True, validate=validate.OneOf([v for v, _ in kind_options()],
                                                                error="Nature de financement inconnue."))
    rate = Percent(load_default=None)
    amount = Euros(load_default=None)
    rate_max = Percent(load_default=None)
    ceiling = Euros(load_default=None)
    priority = fields.Integer(load_default=None, validate=validate.Range(1, 999, error="Priorité entre 1 et 999."))
    programme_id = fields.Integer(load_default=None)

    @post_load
    def _to_line(self, data, **kw):
        category, _, family = data["kind"].partition(":")
        line = {"label": data["label"].strip(), "category": category, "state_family": family or None,
                "requested_rate_bp": data["rate"], "requested_amount_cents": data["amount"],
                "rate_max_bp": data["rate_max"], "ceiling_cents": data["ceiling"], "priority": data["priority"],
                "programme_id": data["programme_id"]}
        try:
            _check_line(line)
        except ValidationError as exc:
            messages = exc.normalized_messages()
            raise ValidationError({"rate" if k == "requested_rate_bp" else "kind": v
                                   for k, v in messages.items()}) from None
        return line


LINE_FORM_FIELDS = ("label", "kind", "rate", "amount", "rate_max", "ceiling", "priority", "programme_id")


def line_to_form(line: dict) -> dict[str, str]:
    return {"label": line.get("label") or "", "kind": kind_value(line),
            "rate": money.rate_input(line.get("requested_rate_bp")), "amount": money.euros_input(line.get("requested_amount_cents")),
            "rate_max": money.rate_input(line.get("rate_max_bp")), "ceiling": money.euros_input(line.get("ceiling_cents")),
            "priority": "" if line.get("priority") is None else str(line["priority"]),
            "programme_id": "" if line.get("programme_id") is None else str(line["programme_id"])}
