"""Billing's pages: a startup's subscription (plan, Checkout, portal, invoices) and Stripe's webhook."""
from __future__ import annotations

import stripe
from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from marketplace.billing import services, tasks
from marketplace.core import entitlements
from marketplace.core.errors import ServiceError
from marketplace.web import csrf, get_db, on_refusal, settings
from tenants.models import Role, TenantKind
from tenants.web import current_membership, require_membership

bp = Blueprint("billing", __name__, template_folder="templates")
STARTUP = (TenantKind.startup,)


@bp.route("/espace/abonnement")
@require_membership(Role.viewer, kinds=STARTUP)
def subscription():
    db = get_db()
    tenant = current_membership().tenant
    s = settings()
    try:
        invoices = services.invoices(db, s, tenant)
        invoices_error = None
    except ServiceError as problem:
        invoices, invoices_error = [], problem.message
    return render_template("billing/subscription.html", plan=entitlements.plan_of(db, tenant),
                           plan_row=entitlements.plan_row(db, tenant.id), row=services.subscription_of(db, tenant),
                           configured=s.billing_enabled, invoices=invoices, invoices_error=invoices_error,
                           prices=services.plan_prices(s), returned=request.args.get("paiement") == "ok",
                           may_pay=current_membership().role.at_least(Role.admin))


@bp.route("/espace/abonnement/paiement", methods=["POST"])
@require_membership(Role.admin, kinds=STARTUP)
def checkout():
    db = get_db()
    on_refusal(url_for("billing.subscription"))
    url = services.start_checkout(db, settings(), current_user, current_membership().tenant,
                                  request.form.get("interval", "")[:10], settings().base_url.rstrip("/"))
    return redirect(url, 303)


@bp.route("/espace/abonnement/portail", methods=["POST"])
@require_membership(Role.admin, kinds=STARTUP)
def portal():
    on_refusal(url_for("billing.subscription"))
    return redirect(services.portal_url(get_db(), settings(), current_membership().tenant,
                                        settings().base_url.rstrip("/")), 303)


@bp.route("/billing/stripe/webhook", methods=["POST"])
@csrf.exempt
def webhook():
    """Stripe's events: checked, kept once, processed by a job (the answer is fast)."""
    payload = request.get_data(cache=False)
    try:
        event = services.verify(settings(), payload, request.headers.get("Stripe-Signature"))
    except (stripe.SignatureVerificationError, ValueError):
        return jsonify(error="Signature Stripe invalide : événement ignoré."), 400
    except services.BillingNotConfigured as problem:
        return jsonify(error=problem.message), 400
    db = get_db()
    new = services.store_event(db, event)
    if new:
        tasks.process_stripe_event.after_commit(db, event.id, job_id=f"stripe-{event.id}")
    return jsonify(received=True, duplicate=not new)


