"""Group purchases' pages: the public list and page (live figures, tier chart, procedure, a city's
commitment), the coordinator's pages (draft, open, extend, members, award, cancel, the convention), and
the startup's tiered offer."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from marketplace.catalog.public import published_solution
from marketplace.contracts.public import start_interview
from marketplace.core import money
from marketplace.core.errors import NotFound
from marketplace.core.exports import csv_text
from marketplace.purchasing import chart, mails, pricing, services
from marketplace.purchasing.models import PurchaseStatus
from marketplace.purchasing.schemas import (
    AwardFormSchema,
    CancelFormSchema,
    CommitFormSchema,
    ExtendFormSchema,
    OfferFormSchema,
    PurchaseFormSchema,
    TierFormSchema,
)
from marketplace.purchasing.tasks import page_url
from marketplace.web import get_db, on_refusal, page_arg
from marketplace.web.forms import FormResult, empty_form, parse_form
from marketplace.web.pagecache import for_visitors
from tenants.models import Role, TenantKind
from tenants.web import current_actor, current_membership, require_membership

bp = Blueprint("purchasing", __name__, url_prefix="/achats-groupes", template_folder="templates")
workspace_bp = Blueprint("purchasing_ws", __name__, url_prefix="/espace/achats-groupes", template_folder="templates")

CITY = (TenantKind.collectivite,)
COORDINATORS = (TenantKind.collectivite, TenantKind.operator)
STARTUP = (TenantKind.startup,)


@bp.app_context_processor
def _purchasing_globals():
    return {"PurchaseStatus": PurchaseStatus, "UNITS": pricing.UNITS}


def _view(purchase, **extra):
    """Everything a purchase's page shows."""
    db = get_db()
    result = services.figures(db, purchase)
    membership = current_membership()
    tenant = membership.tenant if membership is not None else None
    actor = current_actor()
    return dict(purchase=purchase, figures=result, procedure=services.procedure(db, purchase, result),
                chart=Markup(chart.tiers_svg(purchase.list_price_ht_cents, purchase.tier_list(), result,
                                             purchase.unit_label or purchase.unit_words[0])),
                tiers=purchase.tier_list(), solution=published_solution(db, purchase.solution_id),
                mine=services.my_commitment(db, purchase, tenant) if tenant is not None else None,
                may_commit=tenant is not None and tenant.kind is TenantKind.collectivite
                and actor.has_role(Role.member) and purchase.status is PurchaseStatus.open,
                is_city_viewer=tenant is not None and tenant.kind is TenantKind.collectivite
                and not actor.has_role(Role.member),
                coordinating=services.may_coordinate(purchase, actor), minimum_met=services.minimum_met(purchase, result),
                population=_population(tenant),
                euros=money.euros, **extra)


def _population(tenant) -> int | None:
    if tenant is None:
        return None
    territory = tenant.commune if tenant.commune is not None else tenant.epci
    return territory.population if territory is not None else None


# Public ------------------------------------------------------------------------------------------------

@bp.route("/")
@for_visitors
def index():
    db = get_db()
    status = request.args.get("etat", "open")
    page = page_arg()
    rows, total = services.public_purchases(db, status=status, page=page)
    return render_template("purchasing/index.html", rows=list(zip(rows, services.figures_many(db, rows))), total=total,
                           page=page, per_page=20, status=status, euros=money.euros,
                           page_args={k: v for k, v in request.args.items() if k != "page"})


@bp.route("/<int:purchase_id>")
@for_visitors
def show(purchase_id: int):
    purchase = services.get_visible(get_db(), purchase_id, current_actor())
    return render_template("purchasing/show.html", form=empty_form(), **_view(purchase))


@bp.route("/<int:purchase_id>/engagement", methods=["POST"])
@require_membership(Role.member, kinds=CITY)
def commit(purchase_id: int):
    db = get_db()
    purchase = services.get_visible(db, purchase_id, current_actor())
    form = parse_form(CommitFormSchema())
    here = url_for("purchasing.show", purchase_id=purchase.id)
    if not form.ok:
        return render_template("purchasing/show.html", form=form, **_view(purchase)), 400
    on_refusal(lambda: render_template("purchasing/show.html", form=form, **_view(purchase)))
    mine, created = services.commit(db, current_user, current_membership().tenant, purchase,
                                    form.data["quantity"], form.data["note"])
    flash(("Engagement enregistré" if created else "Engagement mis à jour") +
          f" : {mine.quantity:_} {purchase.unit_words[1]}.".replace("_", "\u202f") +
          " Vous pourrez le modifier ou le retirer jusqu'à la date limite.", "success")
    return redirect(here)


@bp.route("/<int:purchase_id>/retrait", methods=["GET", "POST"])
@require_membership(Role.member, kinds=CITY)
def withdraw(purchase_id: int):
    db = get_db()
    purchase = services.get_visible(db, purchase_id, current_actor())
    here = url_for("purchasing.show", purchase_id=purchase.id)
    if request.method == "GET":
        return render_template("purchasing/confirm.html", title=f"Retirer votre engagement de « {purchase.title} » ?",
                               text="Votre collectivité ne fera plus partie du groupement ; le prix des autres membres "
                                    "peut remonter d'un palier. Vous pourrez vous engager de nouveau jusqu'à la date "
                                    "limite.", action="Retirer l'engagement", back=here, form=empty_form())
    on_refusal(here)
    if services.withdraw(db, current_user, current_membership().tenant, purchase):
        flash("Engagement retiré.", "success")
    return redirect(here)


# The coordinator ------------------------------------------------------------------------------------------

@workspace_bp.route("/")
@require_membership(Role.viewer)
def mine():
    db = get_db()
    tenant = current_membership().tenant
    coordinated = services.coordinated_by(db, tenant) if tenant.kind in COORDINATORS else []
    startup = services.of_startup(db, tenant) if tenant.kind is TenantKind.startup else []
    return render_template("purchasing/mine.html", coordinated=list(zip(coordinated, services.figures_many(db, coordinated))),
                           startup=list(zip(startup, services.figures_many(db, startup))), tenant=tenant, euros=money.euros,
                           may_write=current_membership().role.at_least(Role.member))


def _purchase_form_page(form, solution, purchase=None, status=200):
    return render_template("purchasing/form.html", form=form, solution=solution, purchase=purchase,
                           offer=services.offer_for(get_db(), solution.id) if solution else None,
                           euros=money.euros), status


@workspace_bp.route("/nouveau", methods=["GET", "POST"])
@require_membership(Role.member, kinds=COORDINATORS)
def new():
    db = get_db()
    raw = request.values.get("solution", "")
    solution = published_solution(db, int(raw)) if raw.isdigit() and len(raw) < 10 else None
    if solution is None:
        return render_template("purchasing/choose_solution.html", offers=services.offered_solutions(db))
    if request.method == "GET":
        form = empty_form()
        form.raw.update(title=f"{solution.name} — achat groupé", min_cities="3", nature="services")
        return _purchase_form_page(form, solution)
    form = parse_form(PurchaseFormSchema())
    if not form.ok:
        return _purchase_form_page(form, solution, status=400)
    on_refusal(lambda: _purchase_form_page(form, solution)[0])
    purchase = services.create(db, current_user, current_membership().tenant, solution.id, form.data)
    flash("Brouillon enregistré : relisez-le puis ouvrez-le aux engagements.", "success")
    return redirect(url_for("purchasing.show", purchase_id=purchase.id))


@workspace_bp.route("/<int:purchase_id>/modifier", methods=["GET", "POST"])
@require_membership(Role.member, kinds=COORDINATORS)
def edit(purchase_id: int):
    db = get_db()
    purchase = services.get_coordinated(db, purchase_id, current_actor())
    solution = published_solution(db, purchase.solution_id)
    if request.method == "GET":
        form = empty_form()
        form.raw.update({k: getattr(purchase, k) for k in ("title", "description", "lots", "nature", "min_units",
                                                           "min_cities")},
                        deadline=purchase.deadline.isoformat(), innovative="on" if purchase.innovative else "")
        return _purchase_form_page(form, solution, purchase)
    form = parse_form(PurchaseFormSchema())
    if not form.ok:
        return _purchase_form_page(form, solution, purchase, 400)
    on_refusal(lambda: _purchase_form_page(form, solution, purchase)[0])
    services.update(db, current_user, purchase, form.data)
    flash("Brouillon mis à jour.", "success")
    return redirect(url_for("purchasing.show", purchase_id=purchase.id))


@workspace_bp.route("/<int:purchase_id>/ouvrir", methods=["POST"])
@require_membership(Role.member, kinds=COORDINATORS)
def open_(purchase_id: int):
    db = get_db()
    purchase = services.get_coordinated(db, purchase_id, current_actor())
    here = url_for("purchasing.show", purchase_id=purchase.id)
    on_refusal(here)
    services.open_purchase(db, current_user, purchase)
    mails.tell(db, purchase, "opened", page_url(purchase.id))
    flash("L'achat groupé est ouvert : les collectivités peuvent s'engager jusqu'à la date limite.", "success")
    return redirect(here)


def _form_action(purchase, schema, template, title, text, action, apply):
    """A coordinator's form on a purchase: show it, check it, apply it, say it."""
    here = url_for("purchasing.show", purchase_id=purchase.id)
    if request.method == "GET":
        return render_template(template, title=title, text=text, action=action, back=here, form=empty_form(),
                               purchase=purchase)
    form = parse_form(schema)
    if not form.ok:
        return render_template(template, title=title, text=text, action=action, back=here, form=form,
                               purchase=purchase), 400
    on_refusal(lambda: render_template(template, title=title, text=text, action=action, back=here, form=form,
                                       purchase=purchase))
    message = apply(form.data)
    flash(message, "success")
    return redirect(here)


@workspace_bp.route("/<int:purchase_id>/prolonger", methods=["GET", "POST"])
@require_membership(Role.member, kinds=COORDINATORS)
def extend(purchase_id: int):
    db = get_db()
    purchase = services.get_coordinated(db, purchase_id, current_actor())

    def apply(data):
        services.extend(db, current_user, purchase, data["deadline"])
        mails.tell(db, purchase, "extended", page_url(purchase.id))
        return "Date limite repoussée ; chaque membre est prévenu. Elle ne pourra plus l'être."

    return _form_action(purchase, ExtendFormSchema(), "purchasing/extend.html", "Prolonger l'achat groupé",
                        "Une seule prolongation est possible ; chaque membre en est prévenu.", "Prolonger", apply)


@workspace_bp.route("/<int:purchase_id>/attribuer", methods=["GET", "POST"])
@require_membership(Role.member, kinds=COORDINATORS)
def award(purchase_id: int):
    db = get_db()
    purchase = services.get_coordinated(db, purchase_id, current_actor())

    def apply(data):
        services.award(db, current_user, purchase, data)
        mails.tell(db, purchase, "awarded", page_url(purchase.id))
        return "Attribution enregistrée ; les membres et la startup sont prévenus."

    return _form_action(purchase, AwardFormSchema(), "purchasing/award.html", "Enregistrer l'attribution",
                        "Le marché passé par le coordonnateur pour le groupement.", "Enregistrer", apply)


@workspace_bp.route("/<int:purchase_id>/annuler", methods=["GET", "POST"])
@require_membership(Role.member, kinds=COORDINATORS)
def cancel(purchase_id: int):
    db = get_db()
    purchase = services.get_coordinated(db, purchase_id, current_actor())

    def apply(data):
        services.cancel(db, current_user, purchase, data["reason"])
        mails.tell(db, purchase, "cancelled", page_url(purchase.id))
        return "Achat groupé annulé ; chaque membre est prévenu, avec ce qu'il peut faire seul."

    return _form_action(purchase, CancelFormSchema(), "purchasing/cancel.html", f"Annuler « {purchase.title} » ?",
                        "Les membres sont prévenus, avec le motif et ce que chacun peut faire seul. L'annulation est "
                        "définitive.", "Annuler l'achat groupé", apply)


@workspace_bp.route("/<int:purchase_id>/membres")
@require_membership(Role.member, kinds=COORDINATORS)
def members(purchase_id: int):
    db = get_db()
    purchase = services.get_coordinated(db, purchase_id, current_actor())
    result = services.figures(db, purchase)
    amounts = {s.key: s.amount_ht_cents for s in result.shares}
    return render_template("purchasing/members.html", purchase=purchase, figures=result, amounts=amounts,
                           rows=services.members(db, current_user, purchase), euros=money.euros)


@workspace_bp.route("/<int:purchase_id>/membres.csv")
@require_membership(Role.member, kinds=COORDINATORS)
def members_csv(purchase_id: int):
    db = get_db()
    purchase = services.get_coordinated(db, purchase_id, current_actor())
    result = services.figures(db, purchase)
    amounts = {s.key: s.amount_ht_cents for s in result.shares}
    rows = [[c.tenant.name, c.tenant.siren or "", c.quantity, money.euros_cell(amounts.get(c.tenant_id)),
             c.committed_by.full_name if c.committed_by else "", c.created_at.date().isoformat(), c.note]
            for c in services.members(db, current_user, purchase)]
    body = csv_text(["Membre", "SIREN", "Quantité", "Montant estimé HT (€)", "Engagé par", "Le", "Note"], rows)
    return Response(body.encode("utf-8"), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="membres-achat-groupe-{purchase.id}.csv"'})


@workspace_bp.route("/<int:purchase_id>/convention", methods=["POST"])
@require_membership(Role.member, kinds=COORDINATORS)
def convention(purchase_id: int):
    """The convention constitutive, prefilled with the members, their needs and the coordinator."""
    db = get_db()
    purchase = services.get_coordinated(db, purchase_id, current_actor())
    here = url_for("purchasing.show", purchase_id=purchase.id)
    on_refusal(here)
    result = services.figures(db, purchase)
    amounts = {s.key: s.amount_ht_cents for s in result.shares}
    known = {"purchase.title": purchase.title, "purchase.description": purchase.description,
             "purchase.launch_date": (purchase.deadline.isoformat()),
             "purchase.coordinator": purchase.coordinator.name,
             "purchase.members": [{"name": c.tenant.name, "siren": c.tenant.siren or _territory_siren(c.tenant),
                                   "deliberation": "", "estimated_need_ht": amounts.get(c.tenant_id)}
                                  for c in services.members(db, current_user, purchase)]}
    draft = start_interview(db, current_user, current_membership().tenant, "groupement-commandes",
                            f"Convention — {purchase.title}", known)
    return redirect(url_for("contracts.interview", draft_id=draft.id))


def _territory_siren(tenant) -> str:
    if tenant.commune is not None:
        return tenant.commune.siren or ""
    return tenant.epci.siren if tenant.epci is not None else ""


# The startup's offer -----------------------------------------------------------------------------------------

@workspace_bp.route("/offres/<int:solution_id>", methods=["GET", "POST"])
@require_membership(Role.member, kinds=STARTUP)
def offer(solution_id: int):
    db = get_db()
    solution = published_solution(db, solution_id)
    tenant = current_membership().tenant
    if solution is None or solution.owner_tenant_id != tenant.id:
        raise NotFound()
    current = services.offer_for(db, solution.id)
    if request.method == "GET":
        form = empty_form()
        if current is not None:
            form.raw.update(unit=current.unit, unit_label=current.unit_label,
                            list_price=money.euros_input(current.list_price_ht_cents), conditions=current.conditions)
            for i, t in enumerate(current.tiers):
                form.raw.update({f"tiers-{i}-min_units": str(t["min_units"]),
                                 f"tiers-{i}-min_cities": str(t.get("min_cities", 0)),
                                 f"tiers-{i}-unit_price": money.euros_input(t["unit_price_ht_cents"])})
        return _offer_page(solution, form, rows=len(current.tiers) + 1 if current else 3)
    form = parse_form(OfferFormSchema())
    tiers, tier_errors = _tiers_from_form()
    form.errors.update(tier_errors)
    rows = len(tiers) + (1 if request.form.get("action") == "add" else 0) + 1
    if request.form.get("action") == "add" or form.errors:
        return _offer_page(solution, form, rows=rows, status=400 if form.errors else 200)
    on_refusal(lambda: _offer_page(solution, form, rows=rows)[0])
    services.save_offer(db, current_user, tenant, solution, {**form.data, "tiers": tiers})
    flash("Offre par paliers enregistrée : les collectivités peuvent lancer un achat groupé sur cette solution.",
          "success")
    return redirect(url_for("purchasing_ws.offer", solution_id=solution.id))


def _tiers_from_form() -> tuple[list[dict], dict[str, str]]:
    tiers, errors = [], {}
    schema = TierFormSchema()
    for i in range(12):
        raw = {k: request.form.get(f"tiers-{i}-{k}", "").strip() for k in ("min_units", "min_cities", "unit_price")}
        if not any(raw.values()):
            continue
        try:
            tiers.append(schema.load({k: v for k, v in raw.items() if v}))
        except Exception as invalid:  # marshmallow.ValidationError: shown on the tier's line
            messages = getattr(invalid, "normalized_messages", lambda: {"_": ["Palier invalide."]})()
            errors[f"tiers-{i}"] = next(iter(messages.values()))[0]
    if not tiers and not errors:
        errors["tiers"] = "Indiquez au moins un palier."
    return tiers, errors


def _offer_page(solution, form: FormResult, rows: int, status: int = 200):
    return render_template("purchasing/offer.html", solution=solution, form=form, rows=max(rows, 1),
                           units=pricing.UNITS), status
