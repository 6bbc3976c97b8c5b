"""Pages of projects and needs.

A collectivité's projects (``/espace/projets/``): the list, the form, the project page that gathers
what Passerelle found for it (funding matched by the background jobs, solutions, the startups'
answers to its need, similar funded projects) and the need published to startups. Viewers read;
members and admins write; admins set the morning digest's threshold. Another tenant's project
answers 404 (``services.get_project``), whatever the method.

Startups (``/espace/besoins/``): the published needs (what they may see of a project: its title,
the need, the commune, the themes and the date, never the cost nor the private description), the
answer with one of their published solutions, and their answers.
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from marketplace.catalog.public import published_solution, published_solution_names
from marketplace.core import money, taxonomy
from marketplace.core.clock import today, utcnow
from marketplace.core.db import all_tenants
from marketplace.funding.public import published_titles
from marketplace.projects import services, store
from marketplace.projects.models import Project, ProjectStage, ProjectStatus, SolutionMatch
from marketplace.projects.schemas import (
    LIST_FIELDS,
    AnswerFormSchema,
    NeedFormSchema,
    ProjectFormSchema,
    ThresholdFormSchema,
)
from marketplace.web import get_db, on_refusal, page_arg
from marketplace.web.forms import FormResult, empty_form, parse_form
from tenants import services as tenant_services
from tenants.models import Role, TenantKind
from tenants.territories import services as territories
from tenants.web import current_membership, require_membership

bp = Blueprint("projects", __name__, url_prefix="/espace/projets", template_folder="templates")
needs_bp = Blueprint("needs", __name__, url_prefix="/espace/besoins", template_folder="templates")

CITY = (TenantKind.collectivite,)
STARTUP = (TenantKind.startup,)
PER_PAGE = 20
NEW_FOR = dt.timedelta(days=7)  # a match this recent is badged "Nouveau"
CONTACT_REFUSAL = "Un contact du projet doit être membre de votre organisation."


def _helpers():
    membership = current_membership()
    return {"DOMAINS": taxonomy.DOMAINS, "ProjectStatus": ProjectStatus, "ProjectStage": ProjectStage,
            "euros": money.euros,
            "may_write": membership is not None and membership.role.at_least(Role.member),
            "is_admin": membership is not None and membership.role.at_least(Role.admin)}


bp.context_processor(_helpers)
needs_bp.context_processor(_helpers)


def _tenant():
    return current_membership().tenant


# The list and the digest's threshold -------------------------------------------------------------

def _status_arg() -> ProjectStatus | None:
    value = request.args.get("statut", "")
    return ProjectStatus(value) if value in {s.value for s in ProjectStatus} else None


def _index_page(threshold_form: FormResult, status: int = 200):
    db = get_db()
    wanted = _status_arg()
    page = page_arg()
    projects, total = services.projects_page(db, page, PER_PAGE, wanted)
    counts = store.match_counts(db, [p.id for p in projects], utcnow() - NEW_FOR)
    return render_template("projects/index.html", projects=projects, total=total, page=page, per_page=PER_PAGE,
                           funding_counts=counts,
                           wanted=wanted, threshold=services.threshold_of(db, _tenant().id),
                           threshold_form=threshold_form,
                           page_args={k: v for k, v in request.args.items() if k != "page"}), status


@bp.route("/")
@require_membership(Role.viewer, kinds=CITY)
def index():
    return _index_page(empty_form())


@bp.route("/seuil", methods=["POST"])
@require_membership(Role.admin, kinds=CITY)
def threshold():
    form = parse_form(ThresholdFormSchema())
    if not form.ok:
        return _index_page(form, 400)
    on_refusal(lambda: _index_page(form)[0])
    services.set_threshold(get_db(), current_user, _tenant(), form.data["threshold"])
    flash(f"Seuil enregistré : chaque matin, les nouveaux financements notés {form.data['threshold']}/100 ou plus.",
          "success")
    return redirect(url_for("projects.index"))


# The form -------------------------------------------------------------------------------------------

def _members():
    return tenant_services.tenant_members(get_db())


def _initial_form(project: Project | None = None) -> FormResult:
    form = empty_form()
    if project is None:
        commune = _tenant().commune  # a commune's projects happen at home; an EPCI's in one of its communes
        form.raw.update(commune=territories.commune_value(commune) if commune is not None else "",
                        stage=ProjectStage.idea.value, status=ProjectStatus.active.value,
                        contacts=[str(current_user.id)])
        return form
    form.raw.update(title=project.title, description=project.description or "", themes=list(project.themes or []),
                    commune=territories.commune_value(project.commune), cost=money.euros_input(project.cost_ht_cents),
                    planned_start=project.planned_start.isoformat() if project.planned_start else "",
                    stage=project.stage.value, status=project.status.value,
                    contacts=[str(c.user_id) for c in project.contacts])
    return form


def _submitted():
    """The posted form, with every error at once: the schema's, the commune's and the contacts'.
    Returns (form, commune, candidates)."""
    db = get_db()
    form = parse_form(ProjectFormSchema(), multi=LIST_FIELDS)
    chosen = request.form.get("commune_choice", "").strip()
    if chosen:  # one of the candidates offered when the text named several communes
        form.raw["commune"] = chosen
    text = (form.raw.get("commune") or "").strip()
    commune, candidates = None, []
    if text and "commune" not in form.errors:
        found = territories.resolve_territory(db, text, communes_only=True)
        commune, candidates = found.commune, found.candidates
        if found.error:
            form.errors["commune"] = found.error
    members = {m.user_id for m in _members()}
    picked = form.raw.get("contacts") or []
    if "contacts" not in form.errors and any(not v.isdigit() or int(v) not in members for v in picked):
        form.errors["contacts"] = CONTACT_REFUSAL
    return form, commune, candidates


def _form_page(form: FormResult, project: Project | None = None, candidates=(), status: int = 200):
    return render_template("projects/form.html", form=form, project=project, candidates=list(candidates),
                           members=[(str(m.user_id), f"{m.user.full_name} ({m.role.label.lower()})") for m in _members()],
                           stages=[(s.value, s.label) for s in ProjectStage],
                           statuses=[(s.value, s.label) for s in ProjectStatus]), status


@bp.route("/nouveau", methods=["GET", "POST"])
@require_membership(Role.member, kinds=CITY)
def new():
    if request.method == "GET":
        return _form_page(_initial_form())
    form, commune, candidates = _submitted()
    if not form.ok:
        return _form_page(form, candidates=candidates, status=400)
    on_refusal(lambda: _form_page(form, candidates=candidates)[0])
    project = services.create_project(get_db(), current_user, _tenant(), form.data, commune)
    flash(f"Projet « {project.title} » enregistré. Passerelle cherche les financements et les solutions qui lui "
          "correspondent : ils apparaissent ici dans quelques minutes.", "success")
    return redirect(url_for("projects.show", project_id=project.id))


@bp.route("/<int:project_id>/modifier", methods=["GET", "POST"])
@require_membership(Role.member, kinds=CITY)
def edit(project_id: int):
    project = services.get_project(get_db(), project_id)
    if request.method == "GET":
        return _form_page(_initial_form(project), project)
    form, commune, candidates = _submitted()
    if not form.ok:
        return _form_page(form, project, candidates, 400)
    on_refusal(lambda: _form_page(form, project, candidates)[0])
    services.update_project(get_db(), current_user, project, form.data, commune)
    flash("Projet enregistré.", "success")
    return redirect(url_for("projects.show", project_id=project.id))


@bp.route("/<int:project_id>/supprimer", methods=["GET", "POST"])
@require_membership(Role.member, kinds=CITY)
def delete(project_id: int):
    project = services.get_project(get_db(), project_id)
    if request.method == "GET":
        text = ("Le projet, ses financements proposés et les réponses des startups seront supprimés pour tous les "
                "membres de l'organisation.")
        if project.need_published:
            text += " Le besoin publié disparaîtra de la liste que voient les startups."
        return render_template("confirm.html", title=f"Supprimer le projet « {project.title} » ?", text=text,
                               confirm_label="Supprimer le projet",
                               cancel_url=url_for("projects.show", project_id=project.id))
    title = project.title
    services.delete_project(get_db(), current_user, project)
    flash(f"Le projet « {title} » est supprimé.", "success")
    return redirect(url_for("projects.index"))


# The project page --------------------------------------------------------------------------------------

def _funding(db, project: Project) -> list[dict]:
    """The active matches, best first, with the title and page of what each one proposes."""
    matches = store.matches_of(db, project)
    ids = sorted({m.programme_id for m in matches})
    targets = published_titles(db, today(), ids)
    recent = utcnow() - NEW_FOR
    rows = []
    for m in matches:
        target = targets.get(m.target)
        url = url_for("funding.programme", programme_id=m.programme_id)
        if m.call_id is not None:
            url += f"#appel-{m.call_id}"
        rows.append({"match": m, "title": target.title if target else f"Programme n° {m.programme_id}",
                     "programme_title": target.programme_title if target and m.call_id is not None else None,
                     "url": url, "is_call": m.call_id is not None, "is_new": m.first_matched_at >= recent})
    return rows


def _project_page(project: Project, need_form: FormResult | None = None, status: int = 200):
    db = get_db()
    if need_form is None:
        need_form = empty_form()
        need_form.raw["need_text"] = project.need_text or ""
    answers = [(a, published_solution(db, a.solution_id)) for a in services.answers_for(db, project)]
    similar = store.similar_funded(db, project, limit=5)
    return render_template("projects/show.html", project=project, funding=_funding(db, project),
                           suggestions=store.suggested_solutions(db, project), answers=answers,
                           similar=similar, need_form=need_form,
                           commune_names=territories.commune_names(db, (f.commune_insee for f, _ in similar)),
                           themes=[taxonomy.DOMAINS.get(t, t) for t in project.themes or []]), status


@bp.route("/<int:project_id>")
@require_membership(Role.viewer, kinds=CITY)
def show(project_id: int):
    return _project_page(services.get_project(get_db(), project_id))


@bp.route("/<int:project_id>/besoin", methods=["POST"])
@require_membership(Role.member, kinds=CITY)
def publish_need(project_id: int):
    db = get_db()
    project = services.get_project(db, project_id)
    form = parse_form(NeedFormSchema())
    if not form.ok:
        return _project_page(project, form, 400)
    on_refusal(lambda: _project_page(project, form)[0])
    again = project.need_published
    services.publish_need(db, current_user, project, form.data["need_text"])
    flash("Besoin mis à jour : les startups voient le nouveau texte." if again else
          "Besoin publié : les startups le voient dans « Besoins des collectivités » et peuvent y répondre avec "
          "une de leurs solutions.", "success")
    return redirect(url_for("projects.show", project_id=project.id, _anchor="besoin"))


@bp.route("/<int:project_id>/besoin/retrait", methods=["GET", "POST"])
@require_membership(Role.member, kinds=CITY)
def withdraw_need(project_id: int):
    db = get_db()
    project = services.get_project(db, project_id)
    here = url_for("projects.show", project_id=project.id)
    if request.method == "GET":
        return render_template("confirm.html", title=f"Retirer le besoin « {project.title} » ?",
                               text="Les startups ne le verront plus et ne pourront plus y répondre. Les réponses "
                                    "déjà reçues restent sur la page du projet ; vous pourrez le publier de nouveau.",
                               confirm_label="Retirer le besoin", cancel_url=here)
    on_refusal(here)
    services.withdraw_need(db, current_user, project)
    flash("Besoin retiré : les startups ne le voient plus.", "success")
    return redirect(here)


# Startups: the published needs ----------------------------------------------------------------------------

def _own_solutions(db, startup) -> list[tuple[int, str]]:
    """(id, name) of the startup's published solutions, the ones it may answer with."""
    return published_solution_names(db, startup.id)


def _matched_needs(db, startup, names: dict[int, str]) -> list[tuple[SolutionMatch, Project, str]]:
    """The published needs the matching found for the startup's solutions, best first."""
    with all_tenants(db, because="a startup reads the needs matched to its own solutions, filtered on "
                                 "startup_tenant_id just below, and only needs its city published"):
        rows = db.execute(select(SolutionMatch, Project).join(Project, Project.id == SolutionMatch.project_id)
                          .where(SolutionMatch.startup_tenant_id == startup.id, SolutionMatch.active.is_(True),
                                 Project.need_published_at.is_not(None), Project.status == ProjectStatus.active)
                          .order_by(SolutionMatch.score.desc(), SolutionMatch.id)).all()
    return [(m, p, names.get(m.solution_id, "")) for m, p in rows]


def _theme_arg() -> str | None:
    value = request.args.get("theme", "")
    return value if value in taxonomy.DOMAINS else None


@needs_bp.route("/", endpoint="index")
@require_membership(Role.viewer, kinds=STARTUP)
def needs_index():
    db = get_db()
    startup = _tenant()
    theme = _theme_arg()
    page = page_arg()
    needs, total = services.published_needs(db, page, PER_PAGE, theme)
    names = dict(_own_solutions(db, startup))
    return render_template("projects/needs.html", needs=needs, total=total, page=page, per_page=PER_PAGE,
                           theme=theme, matched=_matched_needs(db, startup, names) if page == 1 else [],
                           answers=services.answers_sent(db, startup), names=names,
                           page_args={k: v for k, v in request.args.items() if k != "page"})


def _need_page(project: Project, form: FormResult, status: int = 200):
    db = get_db()
    startup = _tenant()
    solutions = _own_solutions(db, startup)
    mine = [a for a in services.answers_sent(db, startup) if a.project_id == project.id]
    return render_template("projects/need.html", need=project, form=form, solutions=solutions,
                           names=dict(solutions), answers=mine,
                           themes=[taxonomy.DOMAINS.get(t, t) for t in project.themes or []]), status


@needs_bp.route("/<int:project_id>", endpoint="show")
@require_membership(Role.viewer, kinds=STARTUP)
def need(project_id: int):
    return _need_page(services.get_published_need(get_db(), project_id), empty_form())


@needs_bp.route("/<int:project_id>/reponse", methods=["POST"])
@require_membership(Role.member, kinds=STARTUP)
def answer(project_id: int):
    db = get_db()
    project = services.get_published_need(db, project_id)
    form = parse_form(AnswerFormSchema())
    if not form.ok:
        return _need_page(project, form, 400)
    on_refusal(lambda: _need_page(project, form)[0])
    services.answer_need(db, current_user, _tenant(), project.id, form.data["solution_id"], form.data["message"])
    flash(f"Votre réponse est transmise à {project.tenant.name}, qui la lit sur la page de son projet.", "success")
    return redirect(url_for("needs.show", project_id=project.id))
