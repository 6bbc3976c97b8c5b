"""Platform admins' pages: every organisation, its members, suspension and reactivation."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from marketplace.web import get_db, page_arg, require_platform_admin
from tenants import admin
from tenants.models import TenantKind, TenantStatus
from tenants.services import NotFound, ServiceError

bp = Blueprint("admin", __name__, url_prefix="/operateur/organisations")

STATUS_LABELS = {"pending": "En attente", "active": "Active", "suspended": "Suspendue", "rejected": "Refusée"}


def _tenant(tenant_id: int):
    try:
        return admin.get_tenant(get_db(), tenant_id)
    except NotFound:
        abort(404)


@bp.route("/")
@require_platform_admin
def tenants():
    db = get_db()
    page = page_arg()
    q, kind, status = request.args.get("q", "")[:100], request.args.get("type"), request.args.get("statut")
    rows, total = admin.list_tenants(db, current_user, q=q, kind=kind, status=status, page=page)
    db.commit()  # the audited member counts
    return render_template("admin/tenants.html", rows=rows, total=total, page=page, per_page=50, q=q, kind=kind,
                           status=status, kinds=TenantKind, statuses=STATUS_LABELS)


@bp.route("/<int:tenant_id>")
@require_platform_admin
def tenant(tenant_id: int):
    db = get_db()
    target = _tenant(tenant_id)
    members = admin.tenant_members(db, current_user, target)
    db.commit()
    return render_template("admin/tenant.html", tenant=target, members=members, statuses=STATUS_LABELS)


@bp.route("/<int:tenant_id>/suspendre", methods=["GET", "POST"])
@require_platform_admin
def suspend(tenant_id: int):
    db = get_db()
    target = _tenant(tenant_id)
    error = None
    if request.method == "POST":
        try:
            admin.suspend(db, current_user, target, request.form.get("reason", "")[:500])
        except ServiceError as exc:
            error = exc.message
        else:
            db.commit()
            flash(f"{target.name} est suspendue : ses membres n'y ont plus accès.", "success")
            return redirect(url_for("admin.tenant", tenant_id=target.id))
    return render_template("admin/suspend.html", tenant=target, error=error), 400 if error else 200


@bp.route("/<int:tenant_id>/reactiver", methods=["POST"])
@require_platform_admin
def reactivate(tenant_id: int):
    db = get_db()
    target = _tenant(tenant_id)
    try:
        admin.reactivate(db, current_user, target)
        db.commit()
        flash(f"{target.name} est de nouveau active.", "success")
    except ServiceError as exc:
        flash(exc.message, "error")
    return redirect(url_for("admin.tenant", tenant_id=target.id))
