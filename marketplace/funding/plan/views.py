"""Pages of the funding plans, in a collectivité's workspace.

Thin views: parse (schemas) → check access → service → render (the edge commits). Viewers read plans and
download the exports; members and admins create, edit, duplicate and delete. Another tenant's
plan answers 404 (``services.get_plan``), whatever the method.

The form works without JavaScript: lines are numbered fields (``lines-0-label``…), "Ajouter une
ligne" posts the form back with one more row, a ticked "Retirer" box drops its row, and blank rows
are ignored, so a half-filled form is never lost.
"""
from __future__ import annotations

import io
import re

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from marshmallow import ValidationError

from marketplace.core import money
from marketplace.core.clock import today
from marketplace.core.money import euros, pct, percent, rate
from marketplace.core.text import slugify
from marketplace.funding.plan import services
from marketplace.funding.plan.chart import bar_chart
from marketplace.funding.plan.engine import Ordering
from marketplace.funding.plan.exports import to_pdf, to_xlsx
from marketplace.funding.plan.schemas import (
    LINE_FORM_FIELDS,
    MAX_LINES,
    LineFormSchema,
    PlanFormSchema,
    _number_priorities,
    kind_options,
    line_to_form,
)
from marketplace.web import get_db, on_refusal
from marketplace.web.forms import FormResult, first_message
from tenants.models import Role, TenantKind
from tenants.web import current_membership, require_membership

bp = Blueprint("funding_plan", __name__, url_prefix="/espace/plans-de-financement")
CITY = (TenantKind.collectivite,)
HEADER_FIELDS = ("title", "cost", "eligible_cost", "reference_date", "ordering", "notes")
_ROW_KEY = re.compile(r"lines-(\d{1,3})-(\w+)")


@bp.context_processor
def _plan_helpers():
    return {"fmt_euros": euros, "fmt_rate": rate, "fmt_share": lambda part, whole: pct(percent(part, whole)),
            "kind_options": kind_options(), "ordering_options": [(o.value, o.label) for o in Ordering],
            "can_edit": current_membership() is not None and current_membership().role.at_least(Role.member)}


def _tenant():
    return current_membership().tenant


def _plan_or_404(plan_id: int):
    return services.get_plan(get_db(), _tenant(), plan_id)


# The form -----------------------------------------------------------------------------------------

class PlanForm(FormResult):
    """The header fields and the numbered line rows, as typed, with per-field errors."""

    def __init__(self, header: dict[str, str], rows: list[dict[str, str]], errors: dict[str, str] | None = None):
        raw = dict(header)
        for i, row in enumerate(rows):
            raw.update({f"lines-{i}-{k}": v for k, v in row.items()})
        super().__init__(None, errors or {}, raw)
        self.rows = len(rows)


def _blank_row(position: int) -> dict[str, str]:
    return {"kind": "", "priority": str(position + 1)}


def _is_blank(row: dict[str, str]) -> bool:
    return not any(row.get(k) for k in ("label", "rate", "amount", "rate_max", "ceiling"))


def _posted_rows() -> list[dict[str, str]]:
    rows: dict[int, dict[str, str]] = {}
    for key, value in request.form.items():
        match = _ROW_KEY.fullmatch(key)
        if match and (match.group(2) in LINE_FORM_FIELDS or match.group(2) == "remove"):
            rows.setdefault(int(match.group(1)), {})[match.group(2)] = value.strip()
    return [rows[i] for i in sorted(rows) if not rows[i].pop("remove", None)]


def _empty_form(plan=None) -> PlanForm:
    if plan is None:
        header = {"reference_date": today().isoformat(), "ordering": Ordering.priority.value}
        return PlanForm(header, [_blank_row(i) for i in range(3)])
    header = {"title": plan.title, "cost": money.euros_input(plan.cost_ht_cents),
              "eligible_cost": money.euros_input(plan.eligible_cost_ht_cents),
              "reference_date": plan.reference_date.isoformat(), "ordering": plan.ordering, "notes": plan.notes}
    rows = [line_to_form(line) for line in plan.lines]
    return PlanForm(header, rows + [_blank_row(len(rows))])


def _submitted() -> tuple[PlanForm, dict | None]:
    """The posted form, and the plan's data when the user asked to save and everything is valid."""
    header = {k: request.form.get(k, "").strip() for k in HEADER_FIELDS}
    rows = _posted_rows()
    if request.form.get("action") == "add":
        return PlanForm(header, rows + [_blank_row(len(rows))]), None
    rows = [row for row in rows if not _is_blank(row)]
    errors: dict[str, str] = {}
    data: dict = {}
    try:
        data = PlanFormSchema().load({k: v for k, v in header.items() if v})
    except ValidationError as exc:
        errors.update({k: first_message(v) for k, v in exc.normalized_messages().items()})
    lines = []
    for i, row in enumerate(rows):
        try:
            lines.append(LineFormSchema().load({k: v for k, v in row.items() if v}))
        except ValidationError as exc:
            errors.update({f"lines-{i}-{k}": first_message(v) for k, v in exc.normalized_messages().items()})
    if not rows:
        errors["lines"] = "Ajoutez au moins une ligne de financement (un programme, un prêt…)."
    elif len(rows) > MAX_LINES:
        errors["lines"] = f"{MAX_LINES} lignes au plus."
    form = PlanForm(header, rows or [_blank_row(0)], errors)
    if errors:
        return form, None
    return form, {**data, "lines": _number_priorities(lines)}


def _render_form(form: PlanForm, plan=None, status: int = 200):
    return render_template("funding_plan/form.html", form=form, plan=plan), status


# Pages --------------------------------------------------------------------------------------------

@bp.route("")
@require_membership(Role.viewer, kinds=CITY)
def index():
    return render_template("funding_plan/index.html", plans=services.plans_of(get_db(), _tenant()))


@bp.route("/nouveau", methods=["GET", "POST"])
@require_membership(Role.member, kinds=CITY)
def new():
    if request.method == "GET":
        return _render_form(_empty_form())
    form, data = _submitted()
    if data is None:
        return _render_form(form, status=400 if form.errors else 200)
    on_refusal(lambda: _render_form(form))
    plan = services.create_plan(get_db(), current_user, _tenant(), data)
    flash(f"Plan « {plan.title} » enregistré.", "success")
    return redirect(url_for("funding_plan.show", plan_id=plan.id))


@bp.route("/<int:plan_id>")
@require_membership(Role.viewer, kinds=CITY)
def show(plan_id: int):
    plan = _plan_or_404(plan_id)
    result = services.compute_plan(get_db(), plan)
    return render_template("funding_plan/show.html", plan=plan, result=result, chart=bar_chart(result))


@bp.route("/<int:plan_id>/modifier", methods=["GET", "POST"])
@require_membership(Role.member, kinds=CITY)
def edit(plan_id: int):
    plan = _plan_or_404(plan_id)
    if request.method == "GET":
        return _render_form(_empty_form(plan), plan)
    form, data = _submitted()
    if data is None:
        return _render_form(form, plan, status=400 if form.errors else 200)
    on_refusal(lambda: _render_form(form, plan))
    services.update_plan(get_db(), current_user, plan, data)
    flash("Plan enregistré et recalculé.", "success")
    return redirect(url_for("funding_plan.show", plan_id=plan.id))


@bp.route("/<int:plan_id>/dupliquer", methods=["POST"])
@require_membership(Role.member, kinds=CITY)
def duplicate(plan_id: int):
    plan = _plan_or_404(plan_id)
    copy = services.duplicate_plan(get_db(), current_user, plan)
    flash(f"Copie créée : « {copy.title} ». Modifiez-la pour comparer une autre hypothèse.", "success")
    return redirect(url_for("funding_plan.edit", plan_id=copy.id))


@bp.route("/<int:plan_id>/supprimer", methods=["GET", "POST"])
@require_membership(Role.member, kinds=CITY)
def delete(plan_id: int):
    plan = _plan_or_404(plan_id)
    if request.method == "GET":
        return render_template("confirm.html", title=f"Supprimer le plan « {plan.title} » ?",
                               text="Le plan et ses lignes seront supprimés pour tous les membres de "
                                    "l'organisation. Les exports déjà téléchargés ne changent pas.",
                               confirm_label="Supprimer le plan",
                               cancel_url=url_for("funding_plan.show", plan_id=plan.id))
    title = plan.title
    services.delete_plan(get_db(), current_user, plan)
    flash(f"Le plan « {title} » est supprimé.", "success")
    return redirect(url_for("funding_plan.index"))


def _download(plan, body: bytes, extension: str, mimetype: str):
    return send_file(io.BytesIO(body), mimetype=mimetype, as_attachment=True,
                     download_name=f"plan-de-financement-{slugify(plan.title)}.{extension}")


@bp.route("/<int:plan_id>/plan.xlsx")
@require_membership(Role.viewer, kinds=CITY)
def export_xlsx(plan_id: int):
    plan = _plan_or_404(plan_id)
    result = services.compute_plan(get_db(), plan)
    return _download(plan, to_xlsx(plan.title, _tenant().name, result), "xlsx",
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.route("/<int:plan_id>/plan.pdf")
@require_membership(Role.viewer, kinds=CITY)
def export_pdf(plan_id: int):
    plan = _plan_or_404(plan_id)
    result = services.compute_plan(get_db(), plan)
    return _download(plan, to_pdf(plan.title, _tenant().name, result, today()), "pdf", "application/pdf")


@bp.route("/regles")
@require_membership(Role.viewer, kinds=CITY)
def rules():
    return render_template("funding_plan/rules.html", rules=services.all_rules(get_db()), today=today())
