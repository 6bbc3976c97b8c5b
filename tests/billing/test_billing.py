"""Billing against a local server that speaks Stripe's API: the product's code path is the real one
(the ``stripe`` library, signed webhooks, jobs); only the server differs."""
from __future__ import annotations

import datetime as dt
import html
import json

import pytest
from sqlalchemy import func, select

from marketplace.billing import services
from marketplace.billing.models import StripeEvent, SuccessFee
from marketplace.catalog.models import SolutionStatus
from marketplace.core import entitlements
from marketplace.core.settings import load_settings
from marketplace.mail.models import OutgoingMail
from tenants.models import Role
from tests.factories import make_member, make_solution, make_startup
from tests.helpers import run_jobs, sign_in
from tests.stripe_fake import FakeStripe


@pytest.fixture
def stripe_server():
    fake = FakeStripe().start()
    yield fake
    fake.stop()


@pytest.fixture
def settings(tmp_path, redis_url, engine, stripe_server):
    """The app's settings with Stripe configured, pointed at the local server."""
    return load_settings(passerelle_home=tmp_path / "home", secret_key="test-secret-key", redis_url=redis_url,
                         database_url=engine.url.render_as_string(hide_password=False),
                         base_url="http://passerelle.test", stripe_secret_key="sk_test_passerelle",
                         stripe_webhook_secret=stripe_server.webhook_secret, stripe_api_base=stripe_server.url)


@pytest.fixture
def startup(db):
    tenant = make_startup(db, "Lumio Territoires")
    user, membership = make_member(db, tenant, Role.admin)
    first = make_solution(db, tenant, status="published", name="Lumio Veille")
    second = make_solution(db, tenant, name="Lumio Flux")
    db.commit()
    return tenant, user, membership, first, second


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def post_webhook(client, stripe_server, event, **sign):
    payload, headers = stripe_server.webhook(event, **sign)
    return client.post("/billing/stripe/webhook", data=payload, headers=headers)


def test_free_startup_upgrades_publishes_a_second_solution_then_falls_back_when_cancelled(
        client, db, redis, startup, stripe_server, settings):
    tenant, user, membership, first, second = startup
    sign_in(client, user, membership)
    # On the free plan: the second solution is refused, with where to upgrade.
    refused = client.post(f"/espace/solutions/{second.id}/soumettre", follow_redirects=True)
    assert "offre Découverte" in text_of(refused) and "/espace/abonnement" in text_of(refused)
    page = text_of(client.get("/espace/abonnement"))
    assert "Votre offre : Découverte" in page.replace("<strong>", "").replace("</strong>", "") and "Payer au mois" in page

    # Checkout: Passerelle creates the plans, the customer and a subscription-mode session.
    to_stripe = client.post("/espace/abonnement/paiement", data={"interval": "month"})
    assert to_stripe.status_code == 303 and to_stripe.headers["Location"].startswith("https://checkout.stripe.test/")
    session_id = to_stripe.headers["Location"].rsplit("/", 1)[1]
    created = stripe_server.objects["checkout_sessions"][session_id]
    assert created["mode"] == "subscription" and created["payment_method_types"] == ["card", "sepa_debit"]
    assert stripe_server.count("prices") == 2 and stripe_server.count("customers") == 1

    # The customer pays on Stripe; Stripe's webhook arrives; a job applies it.
    completed = stripe_server.complete_checkout(session_id)
    response = post_webhook(client, stripe_server, stripe_server.event("checkout.session.completed", completed))
    assert response.status_code == 200 and response.json == {"received": True, "duplicate": False}
    assert entitlements.plan_of(db, tenant) is entitlements.DECOUVERTE  # not yet: the job applies it
    run_jobs(redis)
    db.expire_all()
    assert entitlements.plan_of(db, tenant) is entitlements.PRO
    submitted = client.post(f"/espace/solutions/{second.id}/soumettre", follow_redirects=True)
    assert "offre Découverte" not in text_of(submitted), text_of(submitted)[text_of(submitted).find("fr-alert"):][:500]
    from marketplace.catalog import services as catalog
    from tests.factories import make_user

    db.expire_all()
    catalog.approve(db, make_user(db), db.get(type(second), second.id))
    db.commit()
    assert db.get(type(second), second.id).status is SolutionStatus.published

    # Stripe cancels the subscription: back to Découverte, the extra solution unpublished, not deleted.
    subscription_id = completed["subscription"]
    cancelled = stripe_server.set_subscription(subscription_id, status="canceled")
    post_webhook(client, stripe_server, stripe_server.event("customer.subscription.deleted", cancelled))
    run_jobs(redis)
    db.expire_all()
    assert entitlements.plan_of(db, tenant) is entitlements.DECOUVERTE
    assert db.get(type(first), first.id).status is SolutionStatus.published
    assert db.get(type(second), second.id).status is SolutionStatus.archived
    notice = db.scalar(select(OutgoingMail).where(OutgoingMail.subject == "Votre startup est revenue à l'offre Découverte"))
    assert notice is not None and "Lumio Flux" in notice.body and notice.to == user.email


def _pro_startup(db, client, stripe_server, user, membership):
    sign_in(client, user, membership)
    to_stripe = client.post("/espace/abonnement/paiement", data={"interval": "year"})
    return stripe_server.complete_checkout(to_stripe.headers["Location"].rsplit("/", 1)[1])


def test_the_same_webhook_ten_times_and_events_in_reverse_order_leave_one_right_state(
        client, db, redis, startup, stripe_server, settings):
    tenant, user, membership, *_ = startup
    completed = _pro_startup(db, client, stripe_server, user, membership)
    event = stripe_server.event("checkout.session.completed", completed)
    answers = [post_webhook(client, stripe_server, event).json["duplicate"] for _ in range(10)]
    assert answers == [False] + [True] * 9
    run_jobs(redis)
    assert db.scalar(select(func.count()).select_from(StripeEvent)) == 1
    assert entitlements.plan_of(db, tenant) is entitlements.PRO

    # Stripe made three changes (cancel at period end, then cancelled); they arrive newest first.
    subscription_id = completed["subscription"]
    t0 = int(dt.datetime.now(dt.UTC).timestamp())
    updated = stripe_server.set_subscription(subscription_id, cancel_at_period_end=True)
    first = stripe_server.event("customer.subscription.updated", dict(updated), created=t0 + 10)
    cancelled = stripe_server.set_subscription(subscription_id, status="canceled")
    last = stripe_server.event("customer.subscription.deleted", dict(cancelled), created=t0 + 20)
    for e in (last, first):
        post_webhook(client, stripe_server, e)
    run_jobs(redis)
    db.expire_all()
    assert entitlements.plan_of(db, tenant) is entitlements.DECOUVERTE
    row = services.subscription_of(db, tenant)
    assert row.status == "canceled" and row.cancel_at_period_end is True
    # An old "active" event, later still: the newer state stands.
    stale = stripe_server.event("customer.subscription.updated", dict(completed, id=subscription_id,
                                                                       object="subscription", status="active"),
                                created=t0 - 100)
    post_webhook(client, stripe_server, stale)
    run_jobs(redis)
    db.expire_all()
    assert entitlements.plan_of(db, tenant) is entitlements.DECOUVERTE


def test_a_tampered_or_unsigned_webhook_changes_nothing(client, db, startup, stripe_server, settings):
    event = stripe_server.event("customer.subscription.deleted", {"id": "sub_x", "customer": "cus_x"})
    payload, headers = stripe_server.webhook(event)
    tampered = payload.replace(b"sub_x", b"sub_y")
    assert client.post("/billing/stripe/webhook", data=tampered, headers=headers).status_code == 400
    assert client.post("/billing/stripe/webhook", data=payload,
                       headers={"Content-Type": "application/json"}).status_code == 400
    wrong = stripe_server.webhook(event, secret="whsec_someone_else")[1]
    assert client.post("/billing/stripe/webhook", data=payload, headers=wrong).status_code == 400
    old = stripe_server.webhook(event, timestamp=int(dt.datetime.now(dt.UTC).timestamp()) - 3600)[1]
    assert client.post("/billing/stripe/webhook", data=payload, headers=old).status_code == 400
    assert db.scalar(select(func.count()).select_from(StripeEvent)) == 0


def test_a_failed_payment_keeps_pro_for_the_grace_period_then_falls_back(
        app, client, db, redis, startup, stripe_server, settings, monkeypatch):
    tenant, user, membership, *_ = startup
    completed = _pro_startup(db, client, stripe_server, user, membership)
    post_webhook(client, stripe_server, stripe_server.event("checkout.session.completed", completed))
    run_jobs(redis)
    past_due = stripe_server.set_subscription(completed["subscription"], status="past_due")
    invoice = {"id": "in_failed", "object": "invoice", "customer": past_due["customer"],
               "subscription": past_due["id"], "status": "open"}
    post_webhook(client, stripe_server, stripe_server.event("invoice.payment_failed", invoice))
    run_jobs(redis)
    db.expire_all()
    assert entitlements.plan_of(db, tenant) is entitlements.PRO  # the grace period
    assert db.scalar(select(OutgoingMail).where(OutgoingMail.subject.like("Paiement refusé%"))) is not None
    plan = entitlements.plan_row(db, tenant.id)
    later = plan.grace_until + dt.timedelta(minutes=1)
    monkeypatch.setattr("marketplace.core.entitlements.utcnow", lambda: later)
    monkeypatch.setattr("marketplace.billing.services.utcnow", lambda: later)
    with app.app_context():  # the job's context: it mails the startup
        assert services.expire_grace(db, settings) == 1
    assert entitlements.plan_of(db, tenant) is entitlements.DECOUVERTE


def test_an_awarded_group_purchase_is_billed_once_even_when_the_job_runs_again(
        app, client, db, redis, stripe_server, settings):
    from marketplace.billing.tasks import bill_success_fee
    from marketplace.core.db import bound_to_tenant
    from marketplace.purchasing import services as purchasing
    from tests.factories import make_city, make_epci, make_purchase

    coordinator = make_epci(db)
    coordinator_user, _ = make_member(db, coordinator, Role.member)
    purchase = make_purchase(db, coordinator, min_units=100, min_cities=1)
    city = make_city(db, "45155")
    city_user, _ = make_member(db, city, Role.member)
    with bound_to_tenant(db, city.id):
        purchasing.commit(db, city_user, city, purchase, 600)
    purchase.status = purchasing.PurchaseStatus.closed
    purchase.final_unit_price_ht_cents = 12_000
    purchasing.award(db, coordinator_user, purchase, {"contract_reference": "2026-EP-1",
                                                      "award_date": dt.date(2026, 7, 1),
                                                      "final_unit_price_ht_cents": 12_000})
    db.commit()
    run_jobs(redis)  # the fee job enqueued after the award's commit
    bill_success_fee(purchase.id, purchase.startup_tenant_id, 600 * 12_000, purchase.title)  # a retry
    bill_success_fee(purchase.id, purchase.startup_tenant_id, 600 * 12_000, purchase.title)
    fees = db.scalars(select(SuccessFee)).all()
    assert len(fees) == 1 and fees[0].amount_cents == 600 * 12_000 * 200 // 10_000 and fees[0].status == "sent"
    invoices = list(stripe_server.objects["invoices"].values())
    assert len(invoices) == 1 and invoices[0]["collection_method"] == "send_invoice"
    assert invoices[0]["days_until_due"] == 30 and invoices[0]["total"] == 144_000 and invoices[0]["status"] == "open"
    assert stripe_server.count("invoiceitems") == 1


def test_without_stripe_every_startup_is_on_the_free_plan_and_the_page_says_so(client, db, startup, monkeypatch):
    from marketplace.core.settings import load_settings as load

    tenant, user, membership, *_ = startup
    client.application.config["SETTINGS"] = load(passerelle_home=client.application.config["SETTINGS"].passerelle_home)
    sign_in(client, user, membership)
    page = text_of(client.get("/espace/abonnement"))
    assert "La facturation n'est pas configurée" in page and "Payer au mois" not in page
    refused = client.post("/espace/abonnement/paiement", data={"interval": "month"}, follow_redirects=True)
    assert "La facturation n'est pas configurée" in text_of(refused)
    assert client.post("/billing/stripe/webhook", data=json.dumps({}).encode()).status_code == 400


def test_the_leads_export_and_the_statistics_are_pro_features(client, db, startup):
    from tests.factories import make_pro

    tenant, user, membership, *_ = startup
    sign_in(client, user, membership)
    refused = client.get("/espace/demandes.csv", follow_redirects=True)
    assert refused.mimetype == "text/html" and "réservé à l'offre Pro" in text_of(refused)
    assert "Réservé à l'offre Pro" in text_of(client.get("/espace/statistiques"))
    make_pro(db, tenant)
    db.commit()
    export = client.get("/espace/demandes.csv")
    assert export.status_code == 200 and export.data.decode("utf-8-sig").startswith("Reçue le;Solution")
    assert "Lumio Veille" in text_of(client.get("/espace/statistiques"))
