"""Pages of the funding guichet: public programme pages (rules in words, eligible communes, CSV,
history) and the operators' curation (programmes, territory editor, workflow, calls, labels).

Views are thin: parse (schema) → check access → call a service → render; the edge commits once.
Every object looked up by id goes through a service that answers NotFound to whoever may not see it.
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from marketplace.core import money, taxonomy
from marketplace.core.clock import today
from marketplace.core.errors import ServiceError
from marketplace.funding import access, desk, eligibility, services, territory, versions
from marketplace.funding import labels as label_lists
from marketplace.funding.importer import runs as import_runs
from marketplace.funding.importer import source as import_source
from marketplace.funding.models import (
    AID_TYPES,
    BENEFICIARY_KINDS,
    EPCI_KINDS,
    EXPENSE_KINDS,
    FIELD_LABELS,
    FUNDER_LEVELS,
    PROJECT_STAGES,
    SCOPE_LEVELS,
    STATE_FAMILIES,
    CallStatus,
    ProgrammeCall,
    ProgrammeStatus,
    Recurrence,
)
from marketplace.funding.schemas import (
    PROGRAMME_LIST_FIELDS,
    BulkFormSchema,
    CallActionSchema,
    CallFormSchema,
    HeldChangeSchema,
    LabelFormSchema,
    ProgrammeFormSchema,
    ProgrammeImportFormSchema,
    ScopeFormSchema,
    WorkflowSchema,
)
from marketplace.funding.services import ProgrammeFilters
from marketplace.web import get_db, on_refusal, page_arg, safe_next, settings
from marketplace.web.forms import FormResult, empty_form, parse_form
from marketplace.web.pagecache import for_visitors
from search.pipeline import has_words, object_ids, rank_documents
from search.tasks import rebuild_soon
from tenants.access import Actor
from tenants.models import TenantKind
from tenants.territories import services as territories
from tenants.web import current_actor, current_membership, require_operator

bp = Blueprint("funding", __name__, template_folder="templates")
operator_bp = Blueprint("funding_op", __name__, url_prefix="/operateur/financements", template_folder="templates")

PER_PAGE = 20
COMMUNES_PER_PAGE = 50


# Helpers ---------------------------------------------------------------------------------------

def _viewer() -> Actor:
    return current_actor()


def _funder_tenant(viewer: Actor):
    """The operator tenant the signed-in person acts for, when they are one of its funders."""
    membership = current_membership()
    return membership.tenant if membership is not None and viewer.is_funder else None


def _uploaded(limit: int) -> tuple[str, bytes]:
    """The posted file's name and bytes, one byte past ``limit`` at most (enough to say "too big")."""
    upload = request.files.get("file")
    if not upload or not upload.filename:
        return "", b""
    return upload.filename, upload.stream.read(limit + 1)


def _city():
    """The signed-in collectivité, whose eligibility the pages show."""
    membership = current_membership() if current_user.is_authenticated else None
    if membership is None or membership.tenant.kind is not TenantKind.collectivite or not membership.tenant.is_active:
        return None
    return membership.tenant


@bp.app_template_filter("sentence")
def _sentence_filter(text: str) -> str:
    """'commune de 11 159 habitants, région…' → 'Commune de 11 159 habitants, région….' (Jinja's
    capitalize would lower-case the names that follow)."""
    return (text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")) if text else ""


@bp.app_context_processor
def _funding_globals():
    return {"FUNDER_LEVELS": FUNDER_LEVELS, "AID_TYPES": AID_TYPES, "BENEFICIARY_KINDS": BENEFICIARY_KINDS,
            "EPCI_KINDS": EPCI_KINDS, "EXPENSE_KINDS": EXPENSE_KINDS, "PROJECT_STAGES": PROJECT_STAGES,
            "STATE_FAMILIES": STATE_FAMILIES, "SCOPE_LEVELS": SCOPE_LEVELS, "ProgrammeStatus": ProgrammeStatus,
            "CallStatus": CallStatus, "RECURRENCES": {r.value: r.label for r in Recurrence},
            "DOMAINS": taxonomy.DOMAINS, "FIELD_LABELS": FIELD_LABELS}


def _territory_arg(*, communes_only: bool = False) -> territories.TerritoryChoice:
    """?commune= (what a person types or a page prints: "Gien (45155)", "45500 Gien", an INSEE
    code, a name; see ``resolve_territory``) or ?epci=SIREN. Nothing asked: an empty choice."""
    db = get_db()
    raw = (request.args.get("commune") or "").strip()
    if raw:
        return territories.resolve_territory(db, raw, communes_only=communes_only)
    siren = (request.args.get("epci") or "").strip()
    if siren and not communes_only:
        epci = territories.get_epci(db, siren)
        return territories.TerritoryChoice(epci=epci, error=None if epci else "Aucun EPCI n'a ce SIREN.")
    return territories.TerritoryChoice()


# Public pages ----------------------------------------------------------------------------------

@bp.route("/financements")
@for_visitors
def index():
    """Published programmes, with filters; for a territory, the ones it can use and why."""
    db = get_db()
    choice = _territory_arg()
    commune, epci, error = choice.commune, choice.epci, choice.error
    city = _city()
    if commune is None and epci is None and not error and city is not None and request.args.get("pour") == "moi":
        commune, epci = city.commune, city.epci
    theme = request.args.get("theme") if request.args.get("theme") in taxonomy.DOMAINS else None
    level = request.args.get("echelon") if request.args.get("echelon") in FUNDER_LEVELS else None
    aid = request.args.get("aide") if request.args.get("aide") in AID_TYPES else None
    page = page_arg()
    offers = None
    if commune is not None:
        offers = eligibility.offers_for_commune(db, commune)
    elif epci is not None:
        offers = eligibility.offers_for_epci(db, epci)
    filters = ProgrammeFilters(theme=theme, funder_level=level, aid_type=aid,
                               ids=[o.programme_id for o in offers] if offers is not None else None)
    q = request.args.get("q", "")[:200].strip()
    ranking, words_message = None, None
    if has_words(q):
        ranking, words_message = rank_documents(settings().search_dir, db, q, doc_type="programme",
                                                correct=request.args.get("exact") != "1", on_unavailable=rebuild_soon)
        filters.ranked = object_ids(ranking, "programme")
    programmes, total = services.published_programmes(db, filters, page, PER_PAGE, lean=True)
    by_id = {o.programme_id: o for o in offers or []}
    return render_template("funding/index.html", programmes=programmes, total=total, page=page, per_page=PER_PAGE,
                           offers=by_id, commune=commune, epci=epci, error=error, candidates=choice.candidates,
                           theme=theme, level=level, aid=aid, q=q, ranking=ranking, words_message=words_message,
                           city=city, page_args={k: v for k, v in request.args.items() if k != "page"}), \
        400 if error else 200


def _visible(programme_id: int):
    return access.get_visible_programme(get_db(), programme_id, _viewer())


@bp.route("/financements/<int:programme_id>")
@for_visitors
def programme(programme_id: int):
    db = get_db()
    viewer = _viewer()
    found = _visible(programme_id)
    city = _city()
    editor = access.may_edit(found, viewer)
    return render_template(
        "funding/programme.html", programme=found, rules=eligibility.describe_rules(db, found),
        communes=eligibility.eligible_communes_count(db, found), city=city,
        verdict=eligibility.check_tenant(db, found, city) if city else None,
        can_edit=editor, is_curator=viewer.is_curator, history=versions.history(db, found, internal=editor)[:5],
        show_actors=viewer.is_curator or editor)


@bp.route("/financements/<int:programme_id>/communes")
def communes(programme_id: int):
    db = get_db()
    found = _visible(programme_id)
    departement = request.args.get("departement") or None
    if departement is not None and territories.get_departement(db, departement) is None:
        departement = None
    page = page_arg()
    rows, total = eligibility.eligible_communes_page(db, found, page, COMMUNES_PER_PAGE, departement)
    return render_template("funding/communes.html", programme=found, communes=rows, total=total, page=page,
                           per_page=COMMUNES_PER_PAGE, departement=departement,
                           all_total=eligibility.eligible_communes_count(db, found) if departement else total,
                           departements=territories.departements(db))


@bp.route("/financements/<int:programme_id>/communes.csv")
def communes_csv(programme_id: int):
    found = _visible(programme_id)
    body = eligibility.eligible_communes_csv(get_db(), found)
    return Response(body.encode("utf-8"), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="communes-eligibles-programme-{found.id}.csv"'})


@bp.route("/financements/<int:programme_id>/historique")
def history(programme_id: int):
    viewer = _viewer()
    found = _visible(programme_id)
    editor = access.may_edit(found, viewer)
    return render_template("funding/history.html", programme=found,
                           history=versions.history(get_db(), found, internal=editor),
                           show_actors=viewer.is_curator or editor)


# Operators: programmes ---------------------------------------------------------------------------

@operator_bp.route("/")
@require_operator
def programmes():
    """The desk: the programmes this operator may edit, found by words and filters, a page at a
    time, with bulk actions; ANCT's review queue first."""
    db = get_db()
    viewer = _viewer()
    status = request.args.get("etat")
    owner = request.args.get("financeur", "")
    filters = desk.DeskFilters(
        q=request.args.get("q", "")[:100],
        status=ProgrammeStatus(status) if status in {s.value for s in ProgrammeStatus} else None,
        owner_id=int(owner) if owner.isdigit() and len(owner) < 10 else None,
        incomplete=request.args.get("a_completer") == "1", stale=request.args.get("revoir") == "1")
    page = page_arg()
    rows, total = desk.find(db, viewer, filters, on=today(), page=page)
    return render_template("funding/op_programmes.html", viewer=viewer, filters=filters, rows=rows, total=total,
                           page=page, per_page=desk.PER_PAGE, page_args={k: v for k, v in request.args.items()
                                                                           if k != "page"},
                           funders=desk.funders(db) if viewer.is_curator else [], actions=desk.BULK_ACTIONS,
                           places=_bulk_places(db), held=import_runs.held_count(db, viewer),
                           queue=services.review_queue(db) if viewer.is_curator else ([], 0))


def _bulk_places(db) -> list[tuple[str, list[tuple[str, str]]]]:
    """The territories the desk offers for a perimeter, grouped for a <select>."""
    return [("France", [("france", "France entière")]),
            ("Régions", [(f"region:{r.code}", r.name) for r in territories.regions(db)]),
            ("Départements", [(f"departement:{d.code}", f"{d.code} — {d.name}") for d in territories.departements(db)])]


@operator_bp.route("/lot", methods=["POST"])
@require_operator
def bulk():
    """Many programmes at once: first the confirmation (what will change), then the report."""
    db = get_db()
    viewer = _viewer()
    back = safe_next(request.form.get("next")) or url_for("funding_op.programmes")
    form = parse_form(BulkFormSchema(), multi=("ids",))
    if not form.ok:
        flash(next(iter(form.errors.values())), "error")
        return redirect(back)
    on_refusal(back)
    place = form.data["place"]
    chosen = desk.plan(db, viewer, form.data["ids"], form.data["action"],
                       tuple(place.split(":", 1)) if place and ":" in place else (("france", "") if place else None))
    if not form.data["confirm"]:
        names = dict(option for _, options in _bulk_places(db) for option in options)
        return render_template("funding/op_bulk_confirm.html", plan=chosen, back=back, place=place,
                               place_name=names.get(place or ""))
    report = desk.apply(db, current_user, viewer, chosen)
    return render_template("funding/op_bulk_report.html", report=report, back=back)


def _editable(programme_id: int):
    return access.get_editable_programme(get_db(), programme_id, _viewer())


def _programme_form(programme=None) -> FormResult:
    form = empty_form()
    if programme is None:
        form.raw.update(recurrence="permanent", funder_level="state", licence="Licence Ouverte 2.0",
                        facts_checked_on=today().isoformat())
        return form
    for key, value in programme.content().items():
        if key.endswith("_cents"):
            form.raw[key.removesuffix("_cents")] = money.euros_input(value)
        elif key.endswith("_bp"):
            form.raw[key.removesuffix("_bp")] = money.rate_input(value)
        elif key == "funders":
            form.raw[key] = "\n".join(value or [])
        elif isinstance(value, dt.date):
            form.raw[key] = value.isoformat()
        elif hasattr(value, "value"):
            form.raw[key] = value.value
        elif value is not None:
            form.raw[key] = value
    return form


def _render_programme_form(form, programme=None, status=200):
    return render_template("funding/programme_form.html", form=form, programme=programme), status


@operator_bp.route("/nouveau", methods=["GET", "POST"])
@require_operator
def new_programme():
    if request.method == "GET":
        return _render_programme_form(_programme_form())
    form = parse_form(ProgrammeFormSchema(), multi=PROGRAMME_LIST_FIELDS)
    if not form.ok:
        return _render_programme_form(form, status=400)
    on_refusal(lambda: _render_programme_form(form))
    membership = current_membership()
    if membership is None:
        raise ServiceError("Agissez pour l'organisation du financeur (sélecteur en haut de page).")
    created = services.create_programme(get_db(), current_user, membership.tenant, form.data)
    flash("Brouillon enregistré. Définissez maintenant son périmètre : qui peut en bénéficier.", "success")
    return redirect(url_for("funding_op.scope", programme_id=created.id))


@operator_bp.route("/<int:programme_id>/modifier", methods=["GET", "POST"])
@require_operator
def edit_programme(programme_id: int):
    db = get_db()
    found = _editable(programme_id)
    if request.method == "GET":
        return _render_programme_form(_programme_form(found), found)
    form = parse_form(ProgrammeFormSchema(), multi=PROGRAMME_LIST_FIELDS)
    if not form.ok:
        return _render_programme_form(form, found, 400)
    on_refusal(lambda: _render_programme_form(form, found))
    changed = services.update_programme(db, current_user, found, form.data)
    flash(("Modifications enregistrées : " + ", ".join(eligibility.lower_first(c) for c in changed) + ".")
          if changed else "Aucune modification.", "success")
    return redirect(url_for("funding.programme", programme_id=found.id))


@operator_bp.route("/<int:programme_id>/perimetre", methods=["GET", "POST"])
@require_operator
def scope(programme_id: int):
    db = get_db()
    found = _editable(programme_id)
    form = empty_form()
    if request.method == "POST":
        remove = request.form.get("remove", "")
        if remove:
            if not remove.isdigit() or len(remove) > 18:
                abort(404)
            on_refusal(url_for("funding_op.scope", programme_id=found.id))
            territory.remove_scope(db, current_user, found, int(remove))
            flash("Ligne retirée du périmètre.", "success")
            return redirect(url_for("funding_op.scope", programme_id=found.id))
        form = parse_form(ScopeFormSchema())
        if form.ok:
            on_refusal(lambda: _scope_page(found, form))
            change = territory.add_scope(db, current_user, found, include=form.data["mode"] == "include",
                                         level=form.data["level"], value=form.data["value"])
            flash(change.message, "warning" if change.already or change.opposite else "success")
            return redirect(url_for("funding_op.scope", programme_id=found.id))
    return _scope_page(found, form), 400 if form.errors else 200


def _scope_page(found, form):
    db = get_db()
    choice = _territory_arg(communes_only=True)
    commune, probe_error = choice.commune, choice.error
    return render_template(
        "funding/scope.html", programme=found, form=form, names=eligibility.scope_names(db, found.scope),
        rules=eligibility.describe_rules(db, found), communes=eligibility.eligible_communes_count(db, found),
        regions=territories.regions(db), departements=territories.departements(db),
        labels=label_lists.all_labels(db), probe=commune, probe_error=probe_error, candidates=choice.candidates,
        verdict=eligibility.check_commune(db, found, commune) if commune else None)


@operator_bp.route("/<int:programme_id>/etat", methods=["POST"])
@require_operator
def workflow(programme_id: int):
    db = get_db()
    viewer = _viewer()
    found = _editable(programme_id)
    back = safe_next(request.form.get("next")) or url_for("funding.programme", programme_id=found.id)
    form = parse_form(WorkflowSchema())
    if not form.ok:
        flash(next(iter(form.errors.values())), "error")
        return redirect(back)
    on_refusal(back)
    flash(services.apply_action(db, current_user, viewer, found, form.data["action"], form.data["comment"]), "success")
    return redirect(back)


# Operators: import from CSV/XLSX, held changes --------------------------------------------------------

@operator_bp.route("/import", methods=["GET", "POST"])
@require_operator
def import_programmes():
    db = get_db()
    viewer = _viewer()
    tenant = _funder_tenant(viewer)
    form = empty_form()
    if request.method == "POST":
        form = parse_form(ProgrammeImportFormSchema())
        filename, data = _uploaded(import_source.MAX_FILE_BYTES)
        if form.ok:
            on_refusal(lambda: _import_page(form, viewer, tenant))
            if tenant is None:
                raise ServiceError("Agissez pour l'organisation du financeur (sélecteur en haut de page) pour "
                                   "importer ses programmes.", "file")
            if not data:
                raise ServiceError("Choisissez un fichier CSV ou XLSX.", "file")
            run = import_runs.import_programmes(db, current_user, tenant, filename, data,
                                             licence=form.data["licence"], default_level=form.data["default_level"])
            flash(f"Fichier importé : {run.created_count} créé(s), {run.dates_count} mis à jour, "
                  f"{run.held_count} en attente, {run.unchanged_count} inchangé(s), {run.rejected_count} rejeté(s).",
                  "success" if not run.rejected_count else "warning")
            return redirect(url_for("funding_op.import_report", import_id=run.id))
    return _import_page(form, viewer, tenant), 400 if form.errors else 200


def _import_page(form, viewer, tenant):
    return render_template("funding/import.html", form=form, viewer=viewer, tenant=tenant,
                           imports=import_runs.imports_of(get_db(), tenant) if tenant else [],
                           max_mb=import_source.MAX_FILE_BYTES // (1024 * 1024), max_rows=import_source.MAX_ROWS,
                           columns=import_source.COLUMNS, required=import_source.REQUIRED_COLUMNS)


@operator_bp.route("/import/<int:import_id>")
@require_operator
def import_report(import_id: int):
    membership = current_membership()
    run = import_runs.get_import(get_db(), import_id, membership.tenant if membership else None)
    outcome = request.args.get("resultat")
    outcome = outcome if outcome in import_runs.OUTCOMES else None
    entries = [e for e in run.report.get("entries", []) if outcome is None or e["outcome"] == outcome]
    return render_template("funding/import_report.html", run=run, entries=entries, outcome=outcome,
                           outcomes=import_runs.OUTCOMES)


@operator_bp.route("/modifications-importees")
@require_operator
def held_changes():
    viewer = _viewer()
    return render_template("funding/held_changes.html", programmes=import_runs.held_programmes(get_db(), viewer),
                           viewer=viewer)


@operator_bp.route("/<int:programme_id>/modification-importee", methods=["GET", "POST"])
@require_operator
def held_change(programme_id: int):
    """The held change of one programme, field by field; ANCT accepts or discards it."""
    db = get_db()
    viewer = _viewer()
    found = _editable(programme_id)
    if request.method == "POST":
        here = url_for("funding_op.held_change", programme_id=found.id)
        form = parse_form(HeldChangeSchema())
        if not form.ok:
            flash(next(iter(form.errors.values())), "error")
            return redirect(here)
        on_refusal(here)
        if not viewer.is_curator:
            raise ServiceError("Seule l'équipe de l'ANCT relit les modifications importées.")
        if form.data["action"] == "accept":
            changed = import_runs.accept_pending(db, current_user, found)
            flash("Modification acceptée : " + ", ".join(eligibility.lower_first(c) for c in changed) + "."
                  if changed else "Modification acceptée : la fiche avait déjà ces valeurs.", "success")
        else:
            import_runs.discard_pending(db, current_user, found)
            flash("Modification écartée : le programme reste tel quel, et la source ne la reproposera pas.", "success")
        return redirect(url_for("funding_op.held_changes"))
    return render_template("funding/held_change.html", programme=found, changes=import_runs.pending_diff(found),
                           in_words=import_runs.in_words, viewer=viewer,
                           run_id=(found.pending_changes or {}).get("import_id"))


# Operators: calls ----------------------------------------------------------------------------------

def _call_form(call: ProgrammeCall | None) -> FormResult:
    form = empty_form()
    if call is not None:
        for key in ProgrammeCall.CONTENT_FIELDS:
            value = getattr(call, key)
            form.raw[key] = value.isoformat() if isinstance(value, dt.date) else (value or "")
    return form


@operator_bp.route("/<int:programme_id>/appels/nouveau", methods=["GET", "POST"])
@require_operator
def new_call(programme_id: int):
    db = get_db()
    found = _editable(programme_id)
    form = _call_form(None)
    if request.method == "POST":
        form = parse_form(CallFormSchema())
        if form.ok:
            on_refusal(lambda: render_template("funding/call_form.html", programme=found, call=None, form=form))
            services.create_call(db, current_user, found, form.data)
            flash("Appel enregistré en brouillon : ouvrez-le quand il doit paraître.", "success")
            return redirect(url_for("funding.programme", programme_id=found.id) + "#appels")
    return render_template("funding/call_form.html", programme=found, call=None, form=form), \
        400 if form.errors else 200


@operator_bp.route("/appels/<int:call_id>/modifier", methods=["GET", "POST"])
@require_operator
def edit_call(call_id: int):
    db = get_db()
    call = access.get_editable_call(db, call_id, _viewer())
    form = _call_form(call)
    if request.method == "POST":
        form = parse_form(CallFormSchema())
        if form.ok:
            on_refusal(lambda: render_template("funding/call_form.html", programme=call.programme, call=call,
                                               form=form))
            services.update_call(db, current_user, call, form.data)
            flash("Appel enregistré.", "success")
            return redirect(url_for("funding.programme", programme_id=call.programme_id) + f"#appel-{call.id}")
    return render_template("funding/call_form.html", programme=call.programme, call=call, form=form), \
        400 if form.errors else 200


@operator_bp.route("/appels/<int:call_id>/etat", methods=["POST"])
@require_operator
def call_workflow(call_id: int):
    db = get_db()
    call = access.get_editable_call(db, call_id, _viewer())
    back = url_for("funding.programme", programme_id=call.programme_id) + f"#appel-{call.id}"
    form = parse_form(CallActionSchema())
    if not form.ok:
        flash(next(iter(form.errors.values())), "error")
        return redirect(back)
    on_refusal(back)
    flash(services.apply_call_action(db, current_user, call, form.data["action"]), "success")
    return redirect(back)


# Operators: labels ----------------------------------------------------------------------------------

@operator_bp.route("/labels", methods=["GET", "POST"])
@require_operator
def labels():
    db = get_db()
    viewer = _viewer()
    form = empty_form()
    if request.method == "POST":
        form = parse_form(LabelFormSchema())
        if form.ok:
            on_refusal(lambda: render_template("funding/labels.html", labels=label_lists.all_labels(db), form=form,
                                               viewer=viewer))
            funder = _funder_tenant(viewer)
            if funder is None:
                raise ServiceError("Agissez pour une organisation d'opérateur pour créer un label.")
            label = label_lists.create_label(db, current_user, funder, form.data)
            flash(f"Label « {label.name} » créé : chargez maintenant sa liste de communes.", "success")
            return redirect(url_for("funding_op.label", label_id=label.id))
    return render_template("funding/labels.html", labels=label_lists.all_labels(db), form=form, viewer=viewer), \
        400 if form.errors else 200


@operator_bp.route("/labels/<int:label_id>", methods=["GET", "POST"])
@require_operator
def label(label_id: int):
    db = get_db()
    found = label_lists.get_editable_label(db, label_id, _viewer())
    form, report = empty_form(), None
    for key in ("name", "description", "source_url", "licence"):
        form.raw[key] = getattr(found, key)
    here = url_for("funding_op.label", label_id=found.id)
    if request.method == "POST" and request.form.get("upload"):
        filename, data = _uploaded(label_lists.MAX_LIST_BYTES)
        on_refusal(here)
        if not data:
            raise ServiceError("Choisissez un fichier CSV de codes INSEE.")
        report = label_lists.upload_label_communes(db, current_user, found, data, filename)
        flash(f"Liste chargée : {len(report.codes)} communes ({report.added} ajoutée(s), "
              f"{report.removed} retirée(s)).", "success" if not report.problems else "warning")
    elif request.method == "POST":
        form = parse_form(LabelFormSchema())
        if form.ok:
            on_refusal(here)
            label_lists.update_label(db, current_user, found, form.data)
            flash("Label enregistré.", "success")
            return redirect(here)
    return render_template("funding/label.html", label=found, form=form, report=report,
                           count=label_lists.label_commune_count(db, found),
                           communes=label_lists.label_communes(db, found, limit=200)), 400 if form.errors else 200
