"""Billing: a startup's subscription as Stripe last told it, every Stripe event stored once, and the
success fees billed when a group purchase is awarded.

Passerelle earns its living from startups, never from cities (they pay by mandat administratif):
- ``Subscription``: one per startup tenant, its Stripe customer and subscription and their state;
  the plan it gives is written to ``marketplace.core.entitlements``. ``stripe_updated_at`` is the
  time of the Stripe state it reflects, so that an older event arriving late never moves it back.
- ``StripeEvent``: each webhook event by its Stripe id (a primary key): a duplicate is acknowledged
  and ignored; processing happens in a job.
- ``SuccessFee``: one per awarded group purchase (a unique constraint), its Stripe invoice.
"""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.core.audit import event_types
from marketplace.core.clock import utcnow
from marketplace.core.db import Base, TenantOwned
from tenants.models import Tenant


@event_types
class BillingEvent(enum.StrEnum):
    checkout_started = "billing.checkout_started"
    plan_changed = "billing.plan_changed"
    payment_failed = "billing.payment_failed"
    back_to_free = "billing.back_to_free"
    success_fee_invoiced = "billing.success_fee_invoiced"


class Subscription(TenantOwned, Base):
    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("tenant_id", name="uq_subscriptions_tenant"),
        UniqueConstraint("stripe_customer_id", name="uq_subscriptions_customer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(100))
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(100), index=True)
    # The plan itself, its status and grace period: marketplace.core.entitlements (read by every feature).
    interval: Mapped[str | None] = mapped_column(String(10))  # "month" or "year"
    status: Mapped[str] = mapped_column(String(30), default="none")  # Stripe's subscription status
    current_period_end: Mapped[dt.datetime | None]
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    stripe_updated_at: Mapped[dt.datetime | None]  # the Stripe state this row reflects
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    tenant: Mapped[Tenant] = relationship()


class StripeEvent(Base):
    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # Stripe's "evt_…"
    type: Mapped[str] = mapped_column(String(100))
    created: Mapped[dt.datetime]  # when Stripe made the event
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[dt.datetime | None]
    outcome: Mapped[str] = mapped_column(Text, default="")


class SuccessFee(Base):
    __tablename__ = "success_fees"
    __table_args__ = (
        UniqueConstraint("purchase_id", name="uq_success_fees_purchase"),
        CheckConstraint("amount_cents >= 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("group_purchases.id", ondelete="RESTRICT"))
    startup_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    awarded_ht_cents: Mapped[int] = mapped_column(BigInteger)
    rate_bp: Mapped[int]
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    stripe_invoice_id: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending, sent, paid, void
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]

    startup: Mapped[Tenant] = relationship()
