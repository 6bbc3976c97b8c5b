"""What a startup's plan allows, read by every feature that enforces it (the catalog publishing a
solution, group purchases taking a tiered offer). Billing decides the plan (it follows Stripe) and
writes it here; the rest of Passerelle only reads ``plan_of``. No row: the free plan.

*Découverte* is free: one published solution, no tiered offer for group purchases. *Pro* (monthly or
yearly): unlimited solutions, tiered offers, leads export, statistics. A Pro subscription whose
payment failed keeps Pro during its grace period (``grace_until``), then falls back to Découverte.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import CheckConstraint, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from marketplace.core.clock import utcnow
from marketplace.core.db import Base, TenantOwned, all_tenants

UPGRADE_PATH = "/espace/abonnement"


@dataclass(frozen=True)
class Plan:
    code: str
    label: str
    published_solutions: int | None  # None: no limit
    group_offers: bool
    leads_export: bool
    statistics: bool


DECOUVERTE = Plan("decouverte", "Découverte", 1, False, False, False)
PRO = Plan("pro", "Pro", None, True, True, True)
PLANS = {p.code: p for p in (DECOUVERTE, PRO)}
ACTIVE = {"active", "trialing"}


class TenantPlan(TenantOwned, Base):
    """A startup's plan and the state of what pays for it (Stripe's subscription status)."""

    __tablename__ = "tenant_plans"
    __table_args__ = (UniqueConstraint("tenant_id", name="uq_tenant_plans_tenant"),
                      CheckConstraint("plan IN ('decouverte', 'pro')", name="plan_known"))

    id: Mapped[int] = mapped_column(primary_key=True)
    plan: Mapped[str] = mapped_column(String(20), default="decouverte")
    status: Mapped[str] = mapped_column(String(30), default="none")
    grace_until: Mapped[dt.datetime | None]
    note: Mapped[str] = mapped_column(String(200), default="")  # "offert (démonstration)"…
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def plan_row(session: Session, tenant_id: int) -> TenantPlan | None:
    with all_tenants(session, because="a startup's plan decides what it may do, whoever asks"):
        return session.scalar(select(TenantPlan).where(TenantPlan.tenant_id == tenant_id))


def plan_of(session: Session, tenant) -> Plan:
    row = plan_row(session, tenant.id)
    if row is None or row.plan != "pro":
        return DECOUVERTE
    if row.status in ACTIVE:
        return PRO
    if row.status == "past_due" and row.grace_until is not None and row.grace_until > utcnow():
        return PRO
    return DECOUVERTE


def set_plan(session: Session, tenant_id: int, plan: str, status: str, grace_until: dt.datetime | None = None,
             note: str = "") -> TenantPlan:
    """Billing's decision (Stripe's state), whoever's tenant the session is bound to."""
    with all_tenants(session, because="billing writes the plan of the startup Stripe bills"):
        row = plan_row(session, tenant_id) or TenantPlan(tenant_id=tenant_id)
        row.plan, row.status, row.grace_until, row.updated_at = plan, status, grace_until, utcnow()
        if note:
            row.note = note
        session.add(row)
        session.flush()
    return row


def upgrade_hint(what: str) -> str:
    """The end of a refusal: what the Pro plan gives, and where to get it."""
    return f"{what} : l'offre Pro le permet (abonnement mensuel ou annuel, sans engagement), depuis « Abonnement » " \
           f"dans votre espace ({UPGRADE_PATH})."
