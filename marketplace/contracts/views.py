"""Contracts' pages: a collectivité's dossiers and interviews (with a live preview), its documents in
HTML, DOCX and PDF; ANCT's template versions; the platform admins' procurement thresholds."""
from __future__ import annotations

import re

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from marketplace.catalog.public import published_solution
from marketplace.contracts import document, services
from marketplace.contracts import questionnaire as q
from marketplace.contracts.models import NATURES
from marketplace.contracts.schemas import TemplateVersionFormSchema, ThresholdFormSchema
from marketplace.core.errors import NotFound, ServiceError
from marketplace.core.text import slugify
from marketplace.web import get_db, on_refusal
from marketplace.web.forms import empty_form, parse_form
from tenants.models import Role, TenantKind
from tenants.web import current_membership, require_curator, require_membership, require_platform_admin

workspace_bp = Blueprint("contracts", __name__, url_prefix="/espace/contrats", template_folder="templates")
operator_bp = Blueprint("contracts_op", __name__, url_prefix="/operateur/modeles", template_folder="templates")
rules_bp = Blueprint("procurement_rules", __name__, url_prefix="/operateur/seuils", template_folder="templates")

CITY = (TenantKind.collectivite,)


@workspace_bp.context_processor
def _document_html():
    return {"to_html": document.to_html}


def _tenant():
    return current_membership().tenant


def _solution(solution_id):
    """A published solution the dossier is about (its startup prefills the contract)."""
    raw = str(solution_id or "")
    return published_solution(get_db(), int(raw)) if raw.isdigit() and len(raw) < 10 else None


# The collectivité's dossiers ----------------------------------------------------------------------

@workspace_bp.route("/")
@require_membership(Role.viewer, kinds=CITY)
def index():
    db = get_db()
    solution = _solution(request.args.get("solution", "")[:10])
    return render_template("contracts/index.html", dossiers=services.dossiers_of(db, _tenant()),
                           kits=[(t, services.questionnaire_of(t)) for t in services.published_templates(db)],
                           solution=solution, may_write=current_membership().role.at_least(Role.member),
                           form=empty_form())


@workspace_bp.route("/nouveau", methods=["POST"])
@require_membership(Role.member, kinds=CITY)
def new_dossier():
    db = get_db()
    on_refusal(url_for("contracts.index"))
    template = _kit(request.form.get("kit", ""))
    solution = _solution(request.form.get("solution_id", "")[:10])
    title = request.form.get("title", "")[:200] or (solution.name if solution else template.title)
    dossier = services.create_dossier(db, current_user, _tenant(), title, solution)
    draft = services.start_draft(db, current_user, dossier, template, services.prefill_values(_tenant(), solution))
    return redirect(url_for("contracts.interview", draft_id=draft.id))


def _kit(slug: str):
    try:
        return services.published_template(get_db(), slug[:60])
    except NotFound:
        raise ServiceError("Choisissez un modèle de contrat.", "kit") from None


@workspace_bp.route("/dossiers/<int:dossier_id>")
@require_membership(Role.viewer, kinds=CITY)
def dossier(dossier_id: int):
    db = get_db()
    found = services.get_dossier(db, _tenant(), dossier_id)
    return render_template("contracts/dossier.html", dossier=found,
                           kits=[(t, services.questionnaire_of(t)) for t in services.published_templates(db)],
                           may_write=current_membership().role.at_least(Role.member))


@workspace_bp.route("/dossiers/<int:dossier_id>/brouillons", methods=["POST"])
@require_membership(Role.member, kinds=CITY)
def new_draft(dossier_id: int):
    db = get_db()
    found = services.get_dossier(db, _tenant(), dossier_id)
    on_refusal(url_for("contracts.dossier", dossier_id=found.id))
    solution = _solution(found.solution_id)
    draft = services.start_draft(db, current_user, found, _kit(request.form.get("kit", "")),
                                 services.prefill_values(_tenant(), solution))
    return redirect(url_for("contracts.interview", draft_id=draft.id))


# The interview -----------------------------------------------------------------------------------

def _step_index(draft, parsed) -> int:
    raw = request.args.get("etape", "")
    if raw.isdigit() and len(raw) < 4:
        return min(int(raw), len(parsed.steps) - 1)
    return min(draft.step, len(parsed.steps) - 1)


def _form_values(parsed, step, answers, extra_rows=0) -> dict:
    """A step's inputs as the form shows them: stored answers, a blank row at the end of each table."""
    values, rows = {}, {}
    for question in step.questions:
        if question.type == "table":
            stored = answers.get(question.name) or []
            rows[question.name] = len(stored) + 1 + extra_rows
            for i, row in enumerate(stored):
                for column in question.columns:
                    values[f"{question.name}-{i}-{column.name}"] = q.as_input(column, row.get(column.name))
        else:
            values[question.name] = q.as_input(question, answers.get(question.name))
    return {"values": values, "rows": rows}


def _render_interview(draft, parsed, index, errors=None, values=None, status=200):
    errors = errors or {}
    shown = values or _form_values(parsed, parsed.steps[index], draft.answers or {})
    return render_template("contracts/interview.html", draft=draft, parsed=parsed, index=index,
                           step=parsed.steps[index], errors=errors, values=shown["values"], rows=shown["rows"],
                           previews=services.preview(get_db(), draft), condition_text=_condition_text(parsed)), status


def _condition_text(parsed):
    def say(condition: str) -> str:
        m = re.match(r"^\s*(not\s+)?([a-z_0-9]+)\s*(?:(==|!=)\s*'([^']*)')?\s*$", condition or "")
        if not m:
            return ""
        negate, name, op, value = m.groups()
        question = parsed.question(name)
        label = question.label if question else name
        option = dict(question.options).get(value, value) if question else value
        if op == "==":
            return f"Seulement si « {label} » est « {option} »."
        if op == "!=":
            return f"Seulement si « {label} » n'est pas « {option} »."
        return f"Seulement si « {label} » {'n’est pas coché' if negate else 'est coché'}."
    return say


@workspace_bp.route("/brouillons/<int:draft_id>", methods=["GET", "POST"])
@require_membership(Role.member, kinds=CITY)
def interview(draft_id: int):
    db = get_db()
    draft = services.get_draft(db, _tenant(), draft_id)
    parsed = services.questionnaire_of(draft.template)
    index = _step_index(draft, parsed)
    if request.method == "GET":
        return _render_interview(draft, parsed, index)
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    errors = services.save_step(db, draft, index, form)
    if request.form.get("action") == "add_row":
        return _render_interview(draft, parsed, index, errors={},
                                 values=_form_values(parsed, parsed.steps[index], draft.answers, extra_rows=1))
    if errors:
        return _render_interview(draft, parsed, index, errors=errors, status=400)
    if request.form.get("action") == "previous" and index > 0:
        return redirect(url_for("contracts.interview", draft_id=draft.id, etape=index - 1))
    if index + 1 < len(parsed.steps):
        return redirect(url_for("contracts.interview", draft_id=draft.id, etape=index + 1))
    return redirect(url_for("contracts.review", draft_id=draft.id))


@workspace_bp.route("/brouillons/<int:draft_id>/apercu", methods=["POST"])
@require_membership(Role.member, kinds=CITY)
def live_preview(draft_id: int):
    """The preview for what the step's form holds now, not yet saved (the page's script asks for it)."""
    db = get_db()
    draft = services.get_draft(db, _tenant(), draft_id)
    parsed = services.questionnaire_of(draft.template)
    index = _step_index(draft, parsed)
    answers, _ = q.read_form(parsed, parsed.steps[index], {k: v for k, v in request.form.items()}, draft.answers or {})
    try:
        previews = services.render_all(db, draft.template, answers, sketch=True)
    except document.SourceError:
        previews = []
    return render_template("contracts/_preview.html", previews=previews)


@workspace_bp.route("/brouillons/<int:draft_id>/verifier")
@require_membership(Role.member, kinds=CITY)
def review(draft_id: int):
    db = get_db()
    draft = services.get_draft(db, _tenant(), draft_id)
    parsed = services.questionnaire_of(draft.template)
    return render_template("contracts/review.html", draft=draft, parsed=parsed,
                           problems=services.problems(db, draft), previews=services.preview(db, draft))


@workspace_bp.route("/brouillons/<int:draft_id>/generer", methods=["POST"])
@require_membership(Role.member, kinds=CITY)
def generate(draft_id: int):
    db = get_db()
    draft = services.get_draft(db, _tenant(), draft_id)
    dossier_id = draft.dossier_id
    on_refusal(url_for("contracts.review", draft_id=draft.id))
    made = services.generate(db, current_user, draft)
    flash(f"{len(made)} document{'s' if len(made) > 1 else ''} généré{'s' if len(made) > 1 else ''} : "
          + ", ".join(d.title for d in made) + ".", "success")
    return redirect(url_for("contracts.dossier", dossier_id=dossier_id))


@workspace_bp.route("/brouillons/<int:draft_id>/supprimer", methods=["GET", "POST"])
@require_membership(Role.member, kinds=CITY)
def delete_draft(draft_id: int):
    db = get_db()
    draft = services.get_draft(db, _tenant(), draft_id)
    if request.method == "GET":
        return render_template("contracts/confirm_delete.html", what=f"le brouillon « {draft.template.title} »",
                               back=url_for("contracts.dossier", dossier_id=draft.dossier_id))
    dossier_id = draft.dossier_id
    db.delete(draft)
    flash("Brouillon supprimé.", "success")
    return redirect(url_for("contracts.dossier", dossier_id=dossier_id))


# Documents -----------------------------------------------------------------------------------------

@workspace_bp.route("/documents/<int:document_id>")
@require_membership(Role.viewer, kinds=CITY)
def show_document(document_id: int):
    db = get_db()
    doc = services.get_document(db, _tenant(), document_id)
    return render_template("contracts/document.html", doc=doc, body=document.to_html(doc.blocks),
                           same=services.regenerate(db, doc)[1] if request.args.get("verifier") else None,
                           may_write=current_membership().role.at_least(Role.member))


def _filename(doc, extension: str) -> str:
    return f"{slugify(doc.title)[:80] or 'document'}.{extension}"


@workspace_bp.route("/documents/<int:document_id>.docx")
@require_membership(Role.viewer, kinds=CITY)
def document_docx(document_id: int):
    doc = services.get_document(get_db(), _tenant(), document_id)
    return Response(document.to_docx(doc.title, doc.blocks, doc.created_at),
                    mimetype="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    headers={"Content-Disposition": f'attachment; filename="{_filename(doc, "docx")}"'})


@workspace_bp.route("/documents/<int:document_id>.pdf")
@require_membership(Role.viewer, kinds=CITY)
def document_pdf(document_id: int):
    doc = services.get_document(get_db(), _tenant(), document_id)
    return Response(document.to_pdf(doc.title, doc.blocks), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{_filename(doc, "pdf")}"'})


@workspace_bp.route("/documents/<int:document_id>/supprimer", methods=["GET", "POST"])
@require_membership(Role.member, kinds=CITY)
def delete_document(document_id: int):
    db = get_db()
    doc = services.get_document(db, _tenant(), document_id)
    back = url_for("contracts.dossier", dossier_id=doc.dossier_id)
    if request.method == "GET":
        return render_template("contracts/confirm_delete.html", what=f"le document « {doc.title} »", back=back)
    services.delete_document(db, current_user, doc)
    flash("Document supprimé.", "success")
    return redirect(back)


# ANCT: template versions -----------------------------------------------------------------------------

@operator_bp.route("/")
@require_curator
def templates():
    return render_template("contracts/op_templates.html", versions=services.all_versions(get_db()))


@operator_bp.route("/<int:template_id>")
@require_curator
def template(template_id: int):
    found = services.get_template(get_db(), template_id)
    return render_template("contracts/op_template.html", template=found, parsed=services.questionnaire_of(found))


@operator_bp.route("/<int:template_id>/nouvelle-version", methods=["GET", "POST"])
@require_curator
def new_version(template_id: int):
    db = get_db()
    base = services.get_template(db, template_id)
    if request.method == "GET":
        form = empty_form()
        form.raw.update(questionnaire=base.questionnaire, **{f"document_{k}": v for k, v in base.documents.items()})
        return render_template("contracts/op_new_version.html", base=base, form=form)
    form = parse_form(TemplateVersionFormSchema())
    documents = {k: request.form.get(f"document_{k}", "") for k in base.documents}
    form.raw.update({f"document_{k}": v for k, v in documents.items()})
    if not form.ok:
        return render_template("contracts/op_new_version.html", base=base, form=form), 400
    on_refusal(lambda: render_template("contracts/op_new_version.html", base=base, form=form))
    created = services.new_version(db, current_user, base, form.data["questionnaire"], documents,
                                   form.data["change_note"])
    flash(f"Version {created.version} enregistrée en brouillon : relisez-la puis publiez-la.", "success")
    return redirect(url_for("contracts_op.template", template_id=created.id))


@operator_bp.route("/<int:template_id>/publier", methods=["POST"])
@require_curator
def publish(template_id: int):
    db = get_db()
    found = services.get_template(db, template_id)
    on_refusal(url_for("contracts_op.template", template_id=found.id))
    services.publish_version(db, current_user, found)
    flash(f"Version {found.version} publiée : les nouveaux documents l'utilisent ; les documents déjà faits "
          "gardent la leur.", "success")
    return redirect(url_for("contracts_op.template", template_id=found.id))


@operator_bp.route("/<int:template_id>/archiver", methods=["POST"])
@require_curator
def archive(template_id: int):
    db = get_db()
    found = services.get_template(db, template_id)
    on_refusal(url_for("contracts_op.template", template_id=found.id))
    services.archive_version(db, current_user, found)
    flash(f"Version {found.version} archivée.", "success")
    return redirect(url_for("contracts_op.template", template_id=found.id))


# Platform admins: the thresholds ------------------------------------------------------------------------

@rules_bp.route("/")
@require_platform_admin
def thresholds():
    return render_template("contracts/thresholds.html", rows=services.thresholds(get_db()), natures=NATURES)


@rules_bp.route("/<int:threshold_id>/nouvelle-valeur", methods=["GET", "POST"])
@require_platform_admin
def supersede(threshold_id: int):
    db = get_db()
    current = services.get_threshold(db, threshold_id)
    if request.method == "GET":
        form = empty_form()
        form.raw.update(legal_reference=current.legal_reference, source_url=current.source_url)
        return render_template("contracts/threshold_form.html", current=current, form=form, natures=NATURES)
    form = parse_form(ThresholdFormSchema())
    if not form.ok:
        return render_template("contracts/threshold_form.html", current=current, form=form, natures=NATURES), 400
    on_refusal(lambda: render_template("contracts/threshold_form.html", current=current, form=form, natures=NATURES))
    row = services.supersede_threshold(db, current_user, current, form.data)
    flash(f"Nouvelle valeur enregistrée à partir du {row.valid_from:%d/%m/%Y} ; la précédente s'applique jusqu'à la "
          "veille.", "success")
    return redirect(url_for("procurement_rules.thresholds"))

