"""Pages of the annuaire: public solution pages and comparison, the startup's and the city's
workspace pages, and the operators' moderation.

Views are thin: parse (schema) → check access → call a service → render; the edge commits once
(``marketplace.web``). Every object looked up by id goes through a service that answers NotFound
for other tenants.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from marketplace.catalog import logos, mails, services
from marketplace.catalog.models import SolutionStatus
from marketplace.catalog.schemas import (
    LeadSchema,
    NoteSchema,
    ReferenceSchema,
    ReviewSchema,
    ShortlistAddSchema,
    SolutionFormSchema,
)
from marketplace.core import money, taxonomy
from marketplace.core.db import after_rollback
from marketplace.core.errors import ServiceError
from marketplace.web import get_db, on_refusal, page_arg, safe_next, settings
from marketplace.web.forms import FormResult, empty_form, parse_form
from marketplace.web.pagecache import for_visitors
from tenants.access import Actor
from tenants.models import Role, TenantKind
from tenants.territories import services as territories
from tenants.web import current_actor, current_membership, require_curator, require_membership

bp = Blueprint("catalog", __name__, template_folder="templates")
workspace_bp = Blueprint("catalog_ws", __name__, url_prefix="/espace", template_folder="templates")
operator_bp = Blueprint("catalog_op", __name__, url_prefix="/operateur/solutions", template_folder="templates")

PER_PAGE = 20
STARTUP = (TenantKind.startup,)
CITY = (TenantKind.collectivite,)
LIST_FIELDS = ("domains", "sizes")


# Helpers ---------------------------------------------------------------------------------------

def _tenant():
    return current_membership().tenant


def _owned(solution_id: int):
    return services.get_owned_solution(get_db(), current_membership().tenant_id, solution_id)


def _is_buyer() -> bool:
    m = current_membership() if current_user.is_authenticated else None
    return m is not None and m.tenant.kind is TenantKind.collectivite and m.tenant.is_active


@bp.app_context_processor
def _catalog_globals():
    return {"taxonomy": taxonomy, "SolutionStatus": SolutionStatus,
            "size_options": [(slug, label) for slug, (label, _, _) in taxonomy.SIZES.items()]}


# Public pages ----------------------------------------------------------------------------------

@bp.route("/solutions")
def index():
    """The annuaire's entry point. Without a filter it sends to the search page, which has the
    facets, sorts and comparison; this simple list stays for ?liste=1 (and when the index is
    being rebuilt, the search page itself falls back to the database)."""
    if not request.args.get("liste"):
        args = {"type": "solution"}
        if request.args.get("domaine") in taxonomy.DOMAINS:
            args["domaine"] = request.args["domaine"]
        return redirect(url_for("search.results", **args))
    domain = request.args.get("domaine") or None
    if domain is not None and domain not in taxonomy.DOMAINS:
        domain = None
    page = page_arg()
    solutions, total = services.published_solutions(get_db(), page, PER_PAGE, domain)
    return render_template("catalog/index.html", solutions=solutions, total=total, page=page,
                           per_page=PER_PAGE, domain=domain,
                           shortlisted=services.shortlisted_ids(get_db(), _tenant() if _is_buyer() else None))


@bp.route("/solutions/<int:solution_id>")
@for_visitors
def solution(solution_id: int):
    db = get_db()
    actor = current_actor()
    found = services.get_visible_solution(db, solution_id, actor)
    is_owner = actor.tenant_id == found.owner_tenant_id
    buyer = _tenant() if _is_buyer() else None
    return render_template(
        "catalog/solution.html", solution=found, is_owner=is_owner, is_curator=actor.is_curator,
        is_buyer=buyer is not None, may_act=actor.has_role(Role.member),
        shortlisted=found.id in services.shortlisted_ids(db, buyer),
        leads=services.leads_sent(db, buyer, found.id) if buyer else [],
        pending=found.pending_revision if (is_owner or actor.is_curator) else None)


@bp.route("/solutions/<int:solution_id>/logo")
def logo(solution_id: int):
    actor = current_actor()
    found = services.get_visible_solution(get_db(), solution_id, actor)
    name = found.logo
    if request.args.get("version") == "proposee":
        # A proposed logo is not public until an operator approves it.
        if not (actor.is_curator or actor.tenant_id == found.owner_tenant_id):
            abort(404)
        pending = found.pending_revision
        name = pending.content.get("logo") if pending else None
    path = logos.logo_path(settings().uploads_dir, name) if name else None
    if path is None:
        abort(404)
    response = send_file(path, mimetype=logos.MIMETYPES[path.suffix.lstrip(".")], max_age=3600)
    # Belt and braces: even a file that slipped through is never run as a document.
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


@bp.route("/solutions/comparer")
def compare():
    db = get_db()
    try:
        ids = services.parse_compare_ids(request.args.getlist("ids"))
        solutions, missing = services.solutions_to_compare(db, ids)
    except ServiceError as exc:  # a shared link that asks too much: the page says so, with what it can
        return render_template("catalog/compare.html", solutions=[], missing=0, error=exc.message,
                               max_compare=services.MAX_COMPARE), 400
    return render_template("catalog/compare.html", solutions=solutions, missing=missing, error=None,
                           max_compare=services.MAX_COMPARE)


@bp.route("/solutions/<int:solution_id>/contacter", methods=["GET", "POST"])
@require_membership(Role.member, kinds=CITY)
def contact(solution_id: int):
    db = get_db()
    found = services.get_visible_solution(db, solution_id, Actor.anonymous())
    form = empty_form()
    if request.method == "POST":
        form = parse_form(LeadSchema())
        if form.ok:
            on_refusal(lambda: render_template("catalog/contact.html", solution=found, form=form))
            lead = services.contact_startup(db, current_user, _tenant(), found.id, form.data["message"])
            mails.send_lead(db, lead, current_user, settings().base_url + url_for("catalog_ws.leads"))
            flash(f"Votre message a été transmis à {found.owner.name}.", "success")
            return redirect(url_for("catalog.solution", solution_id=found.id))
    return render_template("catalog/contact.html", solution=found, form=form), 400 if form.errors else 200


# Startup workspace: my solutions -------------------------------------------------------------------

def _solution_form(raw_from=None) -> FormResult:
    """An edit form pre-filled with a solution's content (or its pending edit)."""
    form = empty_form()
    if raw_from is not None:
        for key, value in raw_from.items():
            if key in ("price_min_ht_cents", "price_max_ht_cents"):
                form.raw[key.removesuffix("_cents")] = money.euros_input(value)
            elif key == "open_data_standards":
                form.raw[key] = ", ".join(value or [])
            elif isinstance(value, bool):
                form.raw[key] = "on" if value else ""
            elif value is not None:
                form.raw[key] = value
    return form


def _parse_solution_form() -> FormResult:
    form = parse_form(SolutionFormSchema(), multi=LIST_FIELDS)
    upload = request.files.get("logo")
    data = upload.stream.read(logos.MAX_LOGO_BYTES + 1) if upload and upload.filename else None
    if data is not None:
        try:
            logos.check_logo(data)
        except logos.LogoRejected as exc:
            form.add_error("logo", exc.message)
            return form
    if form.ok and data is not None:
        uploads = settings().uploads_dir
        name = form.data["logo"] = logos.store_logo(uploads, data)
        # A refused edit, or any failure before the commit, leaves no file behind.
        after_rollback(get_db(), lambda: logos.remove_logo(uploads, name))
    return form


def _render_form(form, solution=None, status=200):
    return render_template("catalog/solution_form.html", form=form, solution=solution,
                           pending=solution.pending_revision if solution else None), status


@workspace_bp.route("/solutions")
@require_membership(Role.viewer, kinds=STARTUP)
def my_solutions():
    db = get_db()
    tenant = _tenant()
    return render_template("catalog/my_solutions.html", solutions=services.solutions_of(db, tenant),
                           limit=services.publication_limit(db, tenant),
                           can_submit=services.can_publish(db, tenant, counting_submitted=True),
                           new_leads=services.new_leads_count(db, tenant))


@workspace_bp.route("/solutions/nouvelle", methods=["GET", "POST"])
@require_membership(Role.member, kinds=STARTUP)
def new_solution():
    if request.method == "GET":
        form = empty_form()
        form.raw.update(contact_name=current_user.full_name, contact_email=current_user.email)
        return _render_form(form)
    form = _parse_solution_form()
    if not form.ok:
        return _render_form(form, status=400)
    on_refusal(lambda: _render_form(form))
    services.create_solution(get_db(), current_user, _tenant(), form.data)
    flash("Brouillon enregistré. Ajoutez vos références, puis soumettez la solution à validation.", "success")
    return redirect(url_for("catalog_ws.my_solutions"))


@workspace_bp.route("/solutions/<int:solution_id>/modifier", methods=["GET", "POST"])
@require_membership(Role.member, kinds=STARTUP)
def edit_solution(solution_id: int):
    db = get_db()
    found = _owned(solution_id)
    if request.method == "GET":
        pending = found.pending_revision
        return _render_form(_solution_form(pending.content if pending else found.content()), found)
    form = _parse_solution_form()
    if not form.ok:
        return _render_form(form, found, 400)
    on_refusal(lambda: _render_form(form, found))
    outcome = services.update_solution(db, current_user, found, form.data)
    flash({"saved": "Modifications enregistrées.",
           "proposed": "Modification envoyée à l'ANCT pour validation. La version publiée reste en ligne d'ici là.",
           "unchanged": "La fiche est identique à la version publiée : rien à valider."}[outcome], "success")
    return redirect(url_for("catalog_ws.my_solutions"))


def _act(solution_id: int, action, success: str, back: str, *, owned=True):
    """A workflow button: the action, then back to ``back`` with its confirmation (or its refusal)."""
    db = get_db()
    found = _owned(solution_id) if owned else services.get_any_solution(db, solution_id)
    on_refusal(back)
    action(db, current_user, found)
    flash(success, "success")
    return redirect(back)


@workspace_bp.route("/solutions/<int:solution_id>/soumettre", methods=["POST"])
@require_membership(Role.member, kinds=STARTUP)
def submit(solution_id: int):
    return _act(solution_id, services.submit, "Solution soumise à validation : l'ANCT l'examine sous quelques jours.",
                url_for("catalog_ws.my_solutions"))


@workspace_bp.route("/solutions/<int:solution_id>/retirer", methods=["POST"])
@require_membership(Role.member, kinds=STARTUP)
def withdraw(solution_id: int):
    return _act(solution_id, services.withdraw_submission,
                "La demande de validation est retirée : la solution est de nouveau un brouillon.",
                url_for("catalog_ws.my_solutions"))


@workspace_bp.route("/solutions/<int:solution_id>/annuler-modification", methods=["POST"])
@require_membership(Role.member, kinds=STARTUP)
def withdraw_edit(solution_id: int):
    return _act(solution_id, services.withdraw_edit, "La modification en attente est annulée.",
                url_for("catalog_ws.my_solutions"))


@workspace_bp.route("/solutions/<int:solution_id>/archiver", methods=["GET", "POST"])
@require_membership(Role.member, kinds=STARTUP)
def archive(solution_id: int):
    found = _owned(solution_id)
    if request.method == "GET":
        return _confirm_archive(found, url_for("catalog_ws.my_solutions"))
    return _act(solution_id, services.archive, f"« {found.name} » est archivée : elle n'apparaît plus dans l'annuaire.",
                url_for("catalog_ws.my_solutions"))


def _confirm_archive(found, cancel_url):
    text = ("Elle disparaîtra de l'annuaire, des comparaisons et de la recherche. Les sélections des "
            "collectivités la garderont, marquée comme archivée." if found.is_published else
            "Elle ne pourra plus être soumise à validation sans être remise en brouillon.")
    return render_template("confirm.html", title=f"Archiver « {found.name} » ?", text=text,
                           confirm_label="Archiver", cancel_url=cancel_url)


@workspace_bp.route("/solutions/<int:solution_id>/restaurer", methods=["POST"])
@require_membership(Role.member, kinds=STARTUP)
def restore(solution_id: int):
    return _act(solution_id, services.restore, "La solution est de nouveau un brouillon.",
                url_for("catalog_ws.my_solutions"))


# Startup workspace: references --------------------------------------------------------------------

@workspace_bp.route("/solutions/<int:solution_id>/references", methods=["GET", "POST"])
@require_membership(Role.viewer, kinds=STARTUP)
def references(solution_id: int):
    db = get_db()
    found = _owned(solution_id)
    form, candidates = empty_form(), []
    if request.method == "POST":
        if not current_membership().role.at_least(Role.member):
            abort(403)
        form = parse_form(ReferenceSchema())
        if form.ok:
            choice = territories.resolve_territory(db, form.data["territory"])
            candidates = choice.candidates
            if choice.error:
                form.add_error("territory", choice.error)
            else:
                on_refusal(lambda: render_template("catalog/references.html", solution=found, form=form,
                                                   candidates=candidates))
                services.add_reference(db, current_user, found, commune=choice.commune, epci=choice.epci,
                                       year=form.data["year"], testimonial=form.data["testimonial"])
                flash("Référence ajoutée. La collectivité peut maintenant la confirmer depuis son espace.", "success")
                return redirect(url_for("catalog_ws.references", solution_id=found.id))
    return render_template("catalog/references.html", solution=found, form=form, candidates=candidates), \
        400 if form.errors else 200


@workspace_bp.route("/solutions/references/<int:reference_id>/supprimer", methods=["POST"])
@require_membership(Role.member, kinds=STARTUP)
def remove_reference(reference_id: int):
    db = get_db()
    reference = services.get_owned_reference(db, current_membership().tenant_id, reference_id)
    solution_id, name = reference.solution_id, reference.territory_name
    services.remove_reference(db, current_user, reference)
    flash(f"La référence {name} est retirée.", "success")
    return redirect(url_for("catalog_ws.references", solution_id=solution_id))


# Startup workspace: leads ---------------------------------------------------------------------------

@workspace_bp.route("/demandes")
@require_membership(Role.viewer, kinds=STARTUP)
def leads():
    return render_template("catalog/leads.html", leads=services.leads_received(get_db(), _tenant()))


@workspace_bp.route("/demandes.csv")
@require_membership(Role.viewer, kinds=STARTUP)
def leads_csv():
    on_refusal(url_for("catalog_ws.leads"))
    body = services.leads_csv(get_db(), _tenant())
    return Response(body.encode("utf-8"), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="demandes-{_tenant().slug}.csv"'})


@workspace_bp.route("/statistiques")
@require_membership(Role.viewer, kinds=STARTUP)
def statistics():
    db = get_db()
    try:
        rows, refusal = services.statistics(db, _tenant()), None
    except ServiceError as problem:
        rows, refusal = [], problem.message
    return render_template("catalog/statistics.html", rows=rows, refusal=refusal)


@workspace_bp.route("/demandes/<int:lead_id>/traitee", methods=["POST"])
@require_membership(Role.member, kinds=STARTUP)
def lead_handled(lead_id: int):
    db = get_db()
    lead = services.get_received_lead(db, _tenant(), lead_id)
    services.mark_lead_handled(db, current_user, _tenant(), lead)
    flash("Demande marquée comme traitée.", "success")
    return redirect(url_for("catalog_ws.leads"))


# City workspace: shortlist ----------------------------------------------------------------------------

@workspace_bp.route("/selection", methods=["GET", "POST"])
@require_membership(Role.viewer, kinds=CITY)
def shortlist():
    db = get_db()
    if request.method == "POST":
        if not current_membership().role.at_least(Role.member):
            abort(403)
        form = parse_form(ShortlistAddSchema())
        if not form.ok:
            abort(400)
        item, added = services.add_to_shortlist(db, current_user, _tenant(), form.data["solution_id"],
                                                form.data["note"])
        flash(f"« {item.solution.name} » est dans votre sélection." if added else
              f"« {item.solution.name} » était déjà dans votre sélection.", "success")
        return redirect(safe_next(request.form.get("next")) or url_for("catalog_ws.shortlist"))
    tenant = _tenant()
    return render_template("catalog/shortlist.html", items=services.shortlist(db, tenant),
                           leads=services.leads_sent(db, tenant), max_compare=services.MAX_COMPARE)


@workspace_bp.route("/selection/<int:item_id>/note", methods=["POST"])
@require_membership(Role.member, kinds=CITY)
def shortlist_note(item_id: int):
    db = get_db()
    item = services.get_shortlist_item(db, _tenant(), item_id)
    form = parse_form(NoteSchema())
    if not form.ok:
        flash(form.errors.get("note", "Note invalide."), "error")
    else:
        services.update_note(db, current_user, item, form.data["note"])
        flash("Note enregistrée.", "success")
    return redirect(url_for("catalog_ws.shortlist"))


@workspace_bp.route("/selection/<int:item_id>/retirer", methods=["POST"])
@require_membership(Role.member, kinds=CITY)
def shortlist_remove(item_id: int):
    db = get_db()
    item = services.get_shortlist_item(db, _tenant(), item_id)
    name = item.solution.name
    services.remove_from_shortlist(db, current_user, item)
    flash(f"« {name} » est retirée de votre sélection.", "success")
    return redirect(url_for("catalog_ws.shortlist"))


@workspace_bp.route("/selection.csv")
@require_membership(Role.viewer, kinds=CITY)
def shortlist_csv():
    tenant = _tenant()
    body = services.shortlist_csv(services.shortlist(get_db(), tenant), settings().base_url)
    return Response(body.encode("utf-8"), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="selection-{tenant.slug}.csv"'})


# City workspace: references naming the city -------------------------------------------------------

@workspace_bp.route("/references")
@require_membership(Role.viewer, kinds=CITY)
def city_references():
    return render_template("catalog/city_references.html",
                           references=services.references_naming(get_db(), _tenant()))


def _decide_reference(reference_id: int, confirm: bool):
    db = get_db()
    reference = services.get_reference_for_city(db, _tenant(), reference_id)
    services.decide_reference(db, current_user, _tenant(), reference, confirm)
    flash(f"Référence confirmée : « {reference.solution.name} » affiche le badge « Référence vérifiée »."
          if confirm else f"Référence contestée : elle n'apparaît plus sur la fiche de « {reference.solution.name} ».",
          "success")
    return redirect(url_for("catalog_ws.city_references"))


@workspace_bp.route("/references/<int:reference_id>/confirmer", methods=["POST"])
@require_membership(Role.member, kinds=CITY)
def confirm_reference(reference_id: int):
    return _decide_reference(reference_id, True)


@workspace_bp.route("/references/<int:reference_id>/contester", methods=["POST"])
@require_membership(Role.member, kinds=CITY)
def decline_reference(reference_id: int):
    return _decide_reference(reference_id, False)


# Operators: moderation ---------------------------------------------------------------------------

@operator_bp.route("/")
@require_curator
def moderation():
    db = get_db()
    status = request.args.get("etat")
    status = SolutionStatus(status) if status in {s.value for s in SolutionStatus} else None
    page = page_arg()
    solutions, total = services.solutions_in(db, status, page, PER_PAGE) if status else ([], 0)
    return render_template("catalog/moderation.html", queue=services.moderation_queue(db), status=status,
                           solutions=solutions, total=total, page=page, per_page=PER_PAGE)


@operator_bp.route("/<int:solution_id>", methods=["GET", "POST"])
@require_curator
def review(solution_id: int):
    db = get_db()
    found = services.get_any_solution(db, solution_id)
    form = empty_form()
    if request.method == "POST":
        form = parse_form(ReviewSchema())
        if form.ok:
            on_refusal(lambda: render_template("catalog/review.html", solution=found, pending=found.pending_revision,
                                               form=form))
            if form.data["decision"] == "approve":
                outcome = services.approve(db, current_user, found, form.data["comment"])
            else:
                outcome = services.reject(db, current_user, found, form.data["comment"])
            flash({"published": f"« {found.name} » est publiée : la recherche la trouvera d'ici quelques secondes.",
                   "edit_approved": f"La modification de « {found.name} » est en ligne : la recherche en tiendra "
                                    "compte d'ici quelques secondes.",
                   "rejected": f"« {found.name} » est renvoyée en brouillon à la startup.",
                   "edit_rejected": f"La modification de « {found.name} » est refusée ; "
                                    "la version publiée reste en ligne."}[outcome], "success")
            return redirect(url_for("catalog_op.moderation"))
    return render_template("catalog/review.html", solution=found, pending=found.pending_revision, form=form), \
        400 if form.errors else 200


@operator_bp.route("/<int:solution_id>/archiver", methods=["GET", "POST"])
@require_curator
def operator_archive(solution_id: int):
    found = services.get_any_solution(get_db(), solution_id)
    if request.method == "GET":
        return _confirm_archive(found, url_for("catalog_op.review", solution_id=found.id))
    return _act(solution_id, services.archive, f"« {found.name} » est archivée.", url_for("catalog_op.moderation"),
                owned=False)
