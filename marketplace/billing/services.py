"""Billing's rules: Stripe plans, checkout and portal, the webhook events, the fall back to the free
plan, success fees. Every call to Stripe goes through ``client(settings)`` (the real ``stripe``
library; ``STRIPE_API_BASE`` only changes the server it talks to).

Webhook events are stored once by their id, then processed by a job. Processing reads the object's
state from Stripe itself (the subscription as it is now), so events arriving out of order, late or
ten times all lead to the same state; and a row never takes a Stripe state older than the one it has
(``Subscription.stripe_updated_at``).

Events handled: ``checkout.session.completed``, ``customer.subscription.created`` / ``updated`` /
``deleted``, ``invoice.paid``, ``invoice.payment_failed``. Every other type is stored and ignored on
purpose (``IGNORED`` says why for the ones Stripe sends with ours).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import stripe
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.billing import mails
from marketplace.billing.models import BillingEvent as E
from marketplace.billing.models import StripeEvent, Subscription, SuccessFee
from marketplace.catalog.public import archive_over_quota
from marketplace.core import audit, entitlements
from marketplace.core.clock import utcnow
from marketplace.core.db import all_tenants
from marketplace.core.errors import ServiceError
from marketplace.core.settings import Settings
from tenants.models import Tenant, TenantKind, User

HANDLED = {"checkout.session.completed", "customer.subscription.created", "customer.subscription.updated",
           "customer.subscription.deleted", "invoice.paid", "invoice.payment_failed"}
# Sent with ours, ignored on purpose: the subscription events above already carry what they say.
IGNORED = {
    "invoice.created": "the invoice's outcome comes as invoice.paid or invoice.payment_failed",
    "invoice.finalized": "idem",
    "invoice.upcoming": "Stripe e-mails the customer itself",
    "payment_intent.succeeded": "the invoice it pays says so (invoice.paid)",
    "payment_intent.payment_failed": "idem (invoice.payment_failed)",
    "customer.created": "we create customers ourselves",
    "customer.updated": "nothing of the customer is kept but its id",
    "charge.succeeded": "the invoice it pays says so",
}


class BillingNotConfigured(ServiceError):
    def __init__(self):
        super().__init__("La facturation n'est pas configurée sur cette instance de Passerelle : l'abonnement Pro ne "
                         "peut pas y être souscrit.")


def client(settings: Settings) -> stripe.StripeClient:
    if not settings.billing_enabled:
        raise BillingNotConfigured()
    return stripe.StripeClient(settings.stripe_secret_key, base_addresses={"api": settings.stripe_api_base},
                               max_network_retries=2)


def _call(what: str, fn, *args, **kwargs):
    """A Stripe call; its failure is a French refusal, never a 500."""
    try:
        return fn(*args, **kwargs)
    except stripe.StripeError as exc:
        raise ServiceError(f"Stripe n'a pas pu {what} ({exc.user_message or 'erreur du service de paiement'}). "
                           "Réessayez dans un instant.") from None


# Plans in Stripe ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlanPrice:
    lookup_key: str
    interval: str
    unit_amount: int


def plan_prices(settings: Settings) -> list[PlanPrice]:
    return [PlanPrice(settings.stripe_price_pro_month, "month", settings.pro_price_month_cents),
            PlanPrice(settings.stripe_price_pro_year, "year", settings.pro_price_year_cents)]


def sync_plans(settings: Settings) -> dict[str, str]:
    """Find the Pro prices by lookup key, or create the product and the prices (idempotent). Returns
    lookup key → price id."""
    stripe_client = client(settings)
    wanted = plan_prices(settings)
    found = _call("lire les prix", stripe_client.v1.prices.list,
                  params={"lookup_keys": [p.lookup_key for p in wanted], "active": True, "limit": 10})
    by_key = {p.lookup_key: p.id for p in found.data}
    missing = [p for p in wanted if p.lookup_key not in by_key]
    if missing:
        product = _call("créer le produit", stripe_client.v1.products.create,
                        params={"name": "Passerelle Pro", "metadata": {"plan": "pro"}},
                        options={"idempotency_key": "passerelle-product-pro"})
        for price in missing:
            created = _call("créer un prix", stripe_client.v1.prices.create, params={
                "product": product.id, "currency": "eur", "unit_amount": price.unit_amount,
                "recurring": {"interval": price.interval}, "lookup_key": price.lookup_key,
                "tax_behavior": "exclusive", "metadata": {"plan": "pro", "interval": price.interval}},
                options={"idempotency_key": f"passerelle-price-{price.lookup_key}-{price.unit_amount}"})
            by_key[price.lookup_key] = created.id
    return by_key


# The startup's subscription ------------------------------------------------------------------------------

def subscription_of(session: Session, tenant: Tenant) -> Subscription | None:
    with all_tenants(session, because="billing reads the startup's subscription, whoever asks"):
        return session.scalar(select(Subscription).where(Subscription.tenant_id == tenant.id))


def subscription_row(session: Session, tenant: Tenant) -> Subscription:
    row = subscription_of(session, tenant)
    if row is None:
        row = Subscription(tenant_id=tenant.id)
        with all_tenants(session, because="billing keeps one subscription row per startup"):
            session.add(row)
            session.flush()
    return row


def _customer(session: Session, settings: Settings, tenant: Tenant, actor: User) -> str:
    row = subscription_row(session, tenant)
    if row.stripe_customer_id:
        return row.stripe_customer_id
    customer = _call("créer le client", client(settings).v1.customers.create,
                     params={"name": tenant.name, "email": actor.email, "metadata": {"tenant_id": str(tenant.id)}},
                     options={"idempotency_key": f"passerelle-customer-{tenant.id}"})
    with all_tenants(session, because="billing keeps one subscription row per startup"):
        row.stripe_customer_id = customer.id
        session.flush()
    return customer.id


def start_checkout(session: Session, settings: Settings, actor: User, tenant: Tenant, interval: str,
                   base_url: str) -> str:
    """A Stripe Checkout session in subscription mode (card or SEPA direct debit); returns its URL."""
    if tenant.kind is not TenantKind.startup:
        raise ServiceError("Les offres Passerelle sont réservées aux startups.")
    if interval not in ("month", "year"):
        raise ServiceError("Choisissez un paiement mensuel ou annuel.", "interval")
    if entitlements.plan_of(session, tenant) is entitlements.PRO:
        raise ServiceError("Votre startup est déjà sur l'offre Pro : changez de rythme ou résiliez depuis le portail.")
    prices = sync_plans(settings)
    price = prices[settings.stripe_price_pro_month if interval == "month" else settings.stripe_price_pro_year]
    customer = _customer(session, settings, tenant, actor)
    checkout = _call("ouvrir le paiement", client(settings).v1.checkout.sessions.create, params={
        "mode": "subscription", "customer": customer, "client_reference_id": str(tenant.id),
        "line_items": [{"price": price, "quantity": 1}], "payment_method_types": ["card", "sepa_debit"],
        "success_url": f"{base_url}/espace/abonnement?paiement=ok", "cancel_url": f"{base_url}/espace/abonnement",
        "metadata": {"tenant_id": str(tenant.id), "plan": "pro"},
        "subscription_data": {"metadata": {"tenant_id": str(tenant.id), "plan": "pro"}}})
    audit.record(session, E.checkout_started, actor_id=actor.id, tenant_id=tenant.id, obj=tenant, interval=interval)
    return checkout.url


def portal_url(session: Session, settings: Settings, tenant: Tenant, base_url: str) -> str:
    row = subscription_of(session, tenant)
    if row is None or not row.stripe_customer_id:
        raise ServiceError("Aucun abonnement à gérer : passez d'abord à l'offre Pro.")
    portal = _call("ouvrir le portail", client(settings).v1.billing_portal.sessions.create,
                   params={"customer": row.stripe_customer_id, "return_url": f"{base_url}/espace/abonnement"})
    return portal.url


@dataclass(frozen=True)
class InvoiceLine:
    number: str
    created: dt.datetime
    amount_cents: int
    status: str
    url: str


def invoices(session: Session, settings: Settings, tenant: Tenant) -> list[InvoiceLine]:
    row = subscription_of(session, tenant)
    if row is None or not row.stripe_customer_id or not settings.billing_enabled:
        return []
    found = _call("lire les factures", client(settings).v1.invoices.list,
                  params={"customer": row.stripe_customer_id, "limit": 24})
    return [InvoiceLine(i.get("number") or i.id, dt.datetime.fromtimestamp(i.created, dt.UTC), i.get("total") or 0,
                        i.get("status") or "", i.get("hosted_invoice_url") or "") for i in found.data]


# Webhooks ---------------------------------------------------------------------------------------------------

def verify(settings: Settings, payload: bytes, signature: str | None) -> stripe.Event:
    """The event, if Stripe signed it with our secret (else ``stripe.SignatureVerificationError``)."""
    if not settings.stripe_webhook_secret:
        raise BillingNotConfigured()
    if not signature:
        raise stripe.SignatureVerificationError("missing Stripe-Signature", signature or "")
    return client(settings).construct_event(payload, signature, settings.stripe_webhook_secret)


def store_event(session: Session, event: stripe.Event) -> bool:
    """Keep the event once by its id; False for a duplicate (acknowledged, not processed again)."""
    if session.get(StripeEvent, event.id) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(StripeEvent(id=event.id, type=event.type,
                                    created=dt.datetime.fromtimestamp(event.created, dt.UTC),
                                    payload=event.to_dict()))
            session.flush()
    except IntegrityError:  # the same event delivered twice at the same instant
        return False
    return True


def process_event(session: Session, settings: Settings, event_id: str) -> str:
    """Apply one stored event (the job's work); returns what was done, in words kept on the row."""
    row = session.get(StripeEvent, event_id, with_for_update=True)
    if row is None or row.processed_at is not None:
        return "déjà traité"
    obj = row.payload.get("data", {}).get("object", {})
    if row.type not in HANDLED:
        outcome = f"ignoré : {IGNORED.get(row.type, 'type non utilisé par Passerelle')}"
    elif row.type == "checkout.session.completed":
        outcome = _sync_subscription(session, settings, obj.get("subscription"), obj.get("customer"),
                                     tenant_hint=obj.get("client_reference_id"), at=row.created)
    elif row.type.startswith("customer.subscription."):
        outcome = _sync_subscription(session, settings, obj.get("id"), obj.get("customer"), at=row.created)
    elif row.type == "invoice.paid":
        outcome = _sync_subscription(session, settings, _invoice_subscription(obj), obj.get("customer"),
                                     at=row.created)
    else:  # invoice.payment_failed
        outcome = _payment_failed(session, settings, obj, row.created)
    row.processed_at, row.outcome = utcnow(), outcome[:1000]
    return outcome


def _invoice_subscription(invoice: dict) -> str | None:
    # The invoice names its subscription at the top (older API versions) or in its parent (newer ones).
    return invoice.get("subscription") or (invoice.get("parent") or {}).get("subscription_details", {}).get(
        "subscription")


def _row_for_customer(session: Session, customer: str | None, tenant_hint: str | None = None) -> Subscription | None:
    with all_tenants(session, because="a Stripe customer names the startup it bills"):
        row = session.scalar(select(Subscription).where(Subscription.stripe_customer_id == customer)) \
            if customer else None
        if row is None and tenant_hint and tenant_hint.isdigit():
            tenant = session.get(Tenant, int(tenant_hint))
            if tenant is not None and tenant.kind is TenantKind.startup:
                row = subscription_row(session, tenant)
                row.stripe_customer_id = row.stripe_customer_id or customer
    return row


def _sync_subscription(session: Session, settings: Settings, subscription_id: str | None, customer: str | None, *,
                       at: dt.datetime, tenant_hint: str | None = None) -> str:
    """Take the subscription's state from Stripe as it is now, unless the row already holds a newer one."""
    row = _row_for_customer(session, customer, tenant_hint)
    if row is None:
        return f"client Stripe inconnu ({customer})"
    if not subscription_id:
        return "aucun abonnement dans l'événement"
    try:
        current = client(settings).v1.subscriptions.retrieve(subscription_id)
    except stripe.InvalidRequestError:
        return f"abonnement {subscription_id} inconnu de Stripe"
    with all_tenants(session, because="Stripe's webhook updates the startup's subscription"):
        return _apply(session, settings, row, current.to_dict(), at)


def _apply(session: Session, settings: Settings, row: Subscription, sub: dict, at: dt.datetime) -> str:
    # Stripe's own clock for this state: a later change of the subscription is never undone by an
    # earlier one that arrives after it.
    state_at = max(at, dt.datetime.fromtimestamp(sub.get("created") or 0, dt.UTC))
    if row.stripe_updated_at is not None and state_at < row.stripe_updated_at:
        return "plus ancien que l'état connu : ignoré"
    before = entitlements.plan_of(session, row.tenant)
    status = sub.get("status") or "canceled"
    item = ((sub.get("items") or {}).get("data") or [{}])[0]
    price = item.get("price") or {}
    row.stripe_subscription_id = sub.get("id")
    row.status = status
    row.interval = (price.get("recurring") or {}).get("interval")
    period_end = item.get("current_period_end") or sub.get("current_period_end")
    row.current_period_end = dt.datetime.fromtimestamp(period_end, dt.UTC) if period_end else None
    row.cancel_at_period_end = bool(sub.get("cancel_at_period_end"))
    row.stripe_updated_at, row.updated_at = state_at, utcnow()
    current = entitlements.plan_row(session, row.tenant_id)
    grace = None if status in entitlements.ACTIVE else (current.grace_until if current else None)
    entitlements.set_plan(session, row.tenant_id, "pro" if status not in ("canceled", "incomplete_expired")
                          else "decouverte", status, grace)
    session.flush()
    return _after_change(session, settings, row, before, f"abonnement {status}")


def _payment_failed(session: Session, settings: Settings, invoice: dict, at: dt.datetime) -> str:
    row = _row_for_customer(session, invoice.get("customer"))
    if row is None:
        return f"client Stripe inconnu ({invoice.get('customer')})"
    with all_tenants(session, because="Stripe's webhook updates the startup's subscription"):
        plan = entitlements.plan_row(session, row.tenant_id)
        if plan is not None and plan.plan == "pro" and plan.grace_until is None:
            grace = utcnow() + dt.timedelta(days=settings.payment_grace_days)
            entitlements.set_plan(session, row.tenant_id, "pro", "past_due", grace)
            audit.record(session, E.payment_failed, actor_id=None, tenant_id=row.tenant_id, obj=row.tenant,
                         grace_until=grace.isoformat())
            mails.payment_failed(session, row, grace, settings)
        session.flush()
        plan = entitlements.plan_row(session, row.tenant_id)
        outcome = f"paiement refusé : offre Pro maintenue jusqu'au {plan.grace_until:%d/%m/%Y}" \
            if plan is not None and plan.grace_until else "paiement refusé"
    subscription = _invoice_subscription(invoice)
    if subscription:
        outcome += " ; " + _sync_subscription(session, settings, subscription, invoice.get("customer"), at=at)
    return outcome


def _after_change(session: Session, settings: Settings, row: Subscription, before: entitlements.Plan, what: str) -> str:
    after = entitlements.plan_of(session, row.tenant)
    if after is before:
        return what
    audit.record(session, E.plan_changed, actor_id=None, tenant_id=row.tenant_id, obj=row.tenant,
                 before=before.code, after=after.code)
    if after is entitlements.DECOUVERTE:
        return what + " ; " + back_to_free(session, settings, row)
    return what + " ; offre Pro active"


def back_to_free(session: Session, settings: Settings, row: Subscription) -> str:
    """Back on Découverte: the solutions over its limit are unpublished (archived, never deleted) and
    the startup is told which ones, and how to publish them again."""
    archived = archive_over_quota(session, row.tenant, keep=entitlements.DECOUVERTE.published_solutions,
                                  reason="Retour à l'offre Découverte : une seule solution publiée à la fois.")
    audit.record(session, E.back_to_free, actor_id=None, tenant_id=row.tenant_id, obj=row.tenant,
                 archived=[s.id for s in archived])
    mails.back_to_free(session, row, archived, settings)
    return f"offre Découverte ; {len(archived)} solution(s) dépubliée(s)"


def expire_grace(session: Session, settings: Settings) -> int:
    """Subscriptions whose grace period after a failed payment is over: back to Découverte."""
    done = 0
    with all_tenants(session, because="the daily check of every startup's grace period"):
        ended = list(session.scalars(select(entitlements.TenantPlan).where(
            entitlements.TenantPlan.grace_until.is_not(None), entitlements.TenantPlan.grace_until <= utcnow(),
            entitlements.TenantPlan.plan == "pro").order_by(entitlements.TenantPlan.tenant_id)))
        for plan in ended:
            if plan.status in entitlements.ACTIVE:
                plan.grace_until = None
                continue
            entitlements.set_plan(session, plan.tenant_id, "decouverte", plan.status, None)
            row = session.scalar(select(Subscription).where(Subscription.tenant_id == plan.tenant_id))
            if row is not None:
                back_to_free(session, settings, row)
                done += 1
    return done


# Success fees --------------------------------------------------------------------------------------------------

def bill_success_fee(session: Session, settings: Settings, purchase_id: int, startup_tenant_id: int,
                     awarded_ht_cents: int, title: str) -> SuccessFee | None:
    """One invoice per awarded purchase: the fee row is unique, and every Stripe call carries an
    idempotency key made of the purchase id, so a retried job never bills twice."""
    if not settings.billing_enabled or settings.success_fee_bp == 0 or awarded_ht_cents <= 0:
        return None
    fee = session.scalar(select(SuccessFee).where(SuccessFee.purchase_id == purchase_id))
    if fee is not None and fee.status != "pending":
        return fee
    startup = session.get(Tenant, startup_tenant_id)
    amount = awarded_ht_cents * settings.success_fee_bp // 10_000
    if fee is None:
        fee = SuccessFee(purchase_id=purchase_id, startup_tenant_id=startup_tenant_id, awarded_ht_cents=awarded_ht_cents,
                         rate_bp=settings.success_fee_bp, amount_cents=amount)
        session.add(fee)
        session.flush()
    stripe_client = client(settings)
    row = subscription_row(session, startup)
    if not row.stripe_customer_id:
        customer = stripe_client.v1.customers.create(
            params={"name": startup.name, "metadata": {"tenant_id": str(startup.id)}},
            options={"idempotency_key": f"passerelle-customer-{startup.id}"})
        with all_tenants(session, because="billing keeps one subscription row per startup"):
            row.stripe_customer_id = customer.id
            session.flush()
    key = f"passerelle-success-fee-{purchase_id}"
    stripe_client.v1.invoice_items.create(params={
        "customer": row.stripe_customer_id, "amount": amount, "currency": "eur",
        "description": f"Commission de succès ({fee.rate_bp / 100:g} %) — achat groupé « {title} »",
        "metadata": {"purchase_id": str(purchase_id)}}, options={"idempotency_key": key + "-item"})
    invoice = stripe_client.v1.invoices.create(params={
        "customer": row.stripe_customer_id, "collection_method": "send_invoice", "days_until_due": 30,
        "pending_invoice_items_behavior": "include",
        "payment_settings": {"payment_method_types": ["customer_balance"]},
        "metadata": {"purchase_id": str(purchase_id), "kind": "success_fee"}},
        options={"idempotency_key": key + "-invoice"})
    stripe_client.v1.invoices.send_invoice(invoice.id, options={"idempotency_key": key + "-send"})
    fee.stripe_invoice_id, fee.status, fee.sent_at = invoice.id, "sent", utcnow()
    audit.record(session, E.success_fee_invoiced, actor_id=None, tenant_id=startup_tenant_id, obj=startup,
                 purchase=purchase_id, amount=amount, invoice=invoice.id)
    return fee


def event_summary(session: Session, limit: int = 50) -> list[StripeEvent]:
    return list(session.scalars(select(StripeEvent).order_by(StripeEvent.received_at.desc(), StripeEvent.id)
                                .limit(limit)))
