"""Platform admins' pages: every organisation, its members, suspension and reactivation; disabling an account."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from marketplace.web import get_db, on_refusal, page_arg, safe_next
from marketplace.web.forms import empty_form, parse_form
from tenants import admin
from tenants.models import TenantKind
from tenants.schemas import SuspendSchema
from tenants.web import require_platform_admin

bp = Blueprint("admin", __name__, url_prefix="/operateur/organisations")

STATUS_LABELS = {"pending": "En attente", "active": "Active", "suspended": "Suspendue", "rejected": "Refusée"}


@bp.route("/")
@require_platform_admin
def tenants():
    db = get_db()
    page = page_arg()
    q, kind, status = request.args.get("q", "")[:100], request.args.get("type"), request.args.get("statut")
    rows, total = admin.list_tenants(db, current_user, q=q, kind=kind, status=status, page=page)
    return render_template("admin/tenants.html", rows=rows, total=total, page=page, per_page=50, q=q, kind=kind,
                           status=status, kinds=TenantKind, statuses=STATUS_LABELS)


@bp.route("/<int:tenant_id>")
@require_platform_admin
def tenant(tenant_id: int):
    db = get_db()
    target = admin.get_tenant(db, tenant_id)
    return render_template("admin/tenant.html", tenant=target, members=admin.tenant_members(db, current_user, target),
                           statuses=STATUS_LABELS)


@bp.route("/<int:tenant_id>/suspendre", methods=["GET", "POST"])
@require_platform_admin
def suspend(tenant_id: int):
    target = admin.get_tenant(get_db(), tenant_id)
    if request.method == "GET":
        return render_template("admin/suspend.html", tenant=target, form=empty_form())
    form = parse_form(SuspendSchema())
    if not form.ok:
        return render_template("admin/suspend.html", tenant=target, form=form), 400
    on_refusal(lambda: render_template("admin/suspend.html", tenant=target, form=form))
    admin.suspend(get_db(), current_user, target, form.data["reason"])
    flash(f"{target.name} est suspendue : ses membres n'y ont plus accès.", "success")
    return redirect(url_for("admin.tenant", tenant_id=target.id))


@bp.route("/<int:tenant_id>/reactiver", methods=["POST"])
@require_platform_admin
def reactivate(tenant_id: int):
    target = admin.get_tenant(get_db(), tenant_id)
    on_refusal(url_for("admin.tenant", tenant_id=target.id))
    admin.reactivate(get_db(), current_user, target)
    flash(f"{target.name} est de nouveau active.", "success")
    return redirect(url_for("admin.tenant", tenant_id=target.id))


def _back_to() -> str:
    return safe_next(request.values.get("next")) or url_for("admin.tenants")


@bp.route("/comptes/<int:user_id>/desactiver", methods=["GET", "POST"])
@require_platform_admin
def disable_user(user_id: int):
    target = admin.get_user(get_db(), user_id)
    back = _back_to()
    if request.method == "GET":
        return render_template("admin/disable_user.html", person=target, back=back, form=empty_form())
    form = parse_form(SuspendSchema())
    if not form.ok:
        return render_template("admin/disable_user.html", person=target, back=back, form=form), 400
    on_refusal(lambda: render_template("admin/disable_user.html", person=target, back=back, form=form))
    admin.disable_user(get_db(), current_user, target, form.data["reason"])
    flash(f"Le compte de {target.full_name} est désactivé : ses sessions sont fermées et ses jetons refusés.",
          "success")
    return redirect(back)


@bp.route("/comptes/<int:user_id>/reactiver", methods=["POST"])
@require_platform_admin
def enable_user(user_id: int):
    target = admin.get_user(get_db(), user_id)
    back = _back_to()
    on_refusal(back)
    admin.enable_user(get_db(), current_user, target)
    flash(f"Le compte de {target.full_name} est de nouveau actif.", "success")
    return redirect(back)
