"""Achats groupés: a startup's tiered offer for a solution, the group purchases built on it, and the
collectivités' commitments.

A private platform is not a centrale d'achat: the cities that buy together form a *groupement de
commandes* (CCP L2113-6 to L2113-8) with a coordinator that runs the procedure for all; the thresholds
apply to the combined need. So a ``GroupPurchase`` aggregates demand, applies the offer's tiers to the
combined volume, says which procedure the combined amount calls for, and closes at its deadline.

- ``GroupOffer``: shared data owned by the startup (its tiers for one solution).
- ``GroupPurchase``: shared once open (its figures are public), owned by its coordinator's tenant;
  its tiers are a copy of the offer's when it opened, so that a later edit of the offer does not
  change a purchase cities have joined.
- ``Commitment``: tenant-owned: a city's quantity is private to it and to the coordinator. One per
  city and purchase (a database constraint), so two cities committing in the same second both
  count, and the totals are always the sum of the commitments (computed by SQL, never stored).
"""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.core.audit import event_types
from marketplace.core.clock import utcnow
from marketplace.core.db import Base, TenantOwned, enum_column
from marketplace.core.workflow import Action, Workflow
from marketplace.purchasing.pricing import UNITS, Tier
from tenants.models import Tenant, User


class PurchaseStatus(enum.StrEnum):
    draft = "draft"
    open = "open"
    closed = "closed"
    awarded = "awarded"
    cancelled = "cancelled"

    @property
    def label(self) -> str:
        return {"draft": "Brouillon", "open": "Ouvert aux engagements", "closed": "Clos, en attente d'attribution",
                "awarded": "Attribué", "cancelled": "Annulé"}[self.value]

    @property
    def badge(self) -> str:
        return {"draft": "new", "open": "success", "closed": "info", "awarded": "success",
                "cancelled": "warning"}[self.value]

    @property
    def is_public(self) -> bool:
        return self is not PurchaseStatus.draft


@event_types
class PurchasingEvent(enum.StrEnum):
    offer_saved = "group_offer.saved"
    purchase_created = "group_purchase.created"
    purchase_updated = "group_purchase.updated"
    purchase_opened = "group_purchase.opened"
    purchase_extended = "group_purchase.extended"
    purchase_closed = "group_purchase.closed"
    purchase_awarded = "group_purchase.awarded"
    purchase_cancelled = "group_purchase.cancelled"
    commitment_made = "commitment.made"
    commitment_changed = "commitment.changed"
    commitment_withdrawn = "commitment.withdrawn"


PURCHASE_WORKFLOW = Workflow("group_purchase", {
    "open": Action({PurchaseStatus.draft}, PurchaseStatus.open, "Seul un brouillon peut être ouvert aux engagements.",
                   PurchasingEvent.purchase_opened, sets=("opened_at",)),
    "close": Action({PurchaseStatus.open}, PurchaseStatus.closed, "Seul un achat groupé ouvert peut être clos.",
                    None, sets=("closed_at",)),
    "award": Action({PurchaseStatus.closed}, PurchaseStatus.awarded,
                    "L'attribution s'enregistre sur un achat groupé clos (minimum atteint).", None,
                    sets=("awarded_at",)),
    "cancel": Action({PurchaseStatus.draft, PurchaseStatus.open, PurchaseStatus.closed}, PurchaseStatus.cancelled,
                     "Cet achat groupé est déjà attribué ou annulé.", None, sets=("cancelled_at",)),
}, owner=lambda purchase: purchase.coordinator_tenant_id)


class GroupOffer(Base):
    """A startup's tiered offer for one of its solutions."""

    __tablename__ = "group_offers"
    __table_args__ = (
        UniqueConstraint("solution_id", name="uq_group_offers_solution"),
        CheckConstraint("list_price_ht_cents > 0", name="list_price_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    solution_id: Mapped[int] = mapped_column(ForeignKey("solutions.id", ondelete="CASCADE"))
    owner_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    unit: Mapped[str] = mapped_column(String(20))  # pricing.UNITS
    unit_label: Mapped[str] = mapped_column(String(100), default="")  # "par point lumineux"
    list_price_ht_cents: Mapped[int] = mapped_column(BigInteger)
    # [{"min_units", "min_cities", "unit_price_ht_cents"}], checked by pricing.check_tiers
    tiers: Mapped[list[dict[str, int]]] = mapped_column(JSON)
    conditions: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    owner: Mapped[Tenant] = relationship()

    def tier_list(self) -> list[Tier]:
        return [Tier(t["min_units"], t.get("min_cities", 0), t["unit_price_ht_cents"]) for t in self.tiers]


class GroupPurchase(Base):
    __tablename__ = "group_purchases"
    __table_args__ = (
        CheckConstraint("list_price_ht_cents > 0", name="list_price_positive"),
        CheckConstraint("min_units >= 0 AND min_cities >= 0", name="minimums_positive"),
        # An awarded purchase says with what: the contract and the final price.
        CheckConstraint("status <> 'awarded' OR (contract_reference IS NOT NULL AND final_unit_price_ht_cents "
                        "IS NOT NULL)", name="awarded_is_documented"),
        Index("ix_group_purchases_status_deadline", "status", "deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    coordinator_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    solution_id: Mapped[int] = mapped_column(ForeignKey("solutions.id", ondelete="RESTRICT"), index=True)
    startup_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    status: Mapped[PurchaseStatus] = mapped_column(enum_column(PurchaseStatus, "group_purchase_status"),
                                                   default=PurchaseStatus.draft)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    lots: Mapped[str] = mapped_column(Text, default="")
    nature: Mapped[str] = mapped_column(String(20), default="services")  # for the procedure
    innovative: Mapped[bool] = mapped_column(Boolean, default=False)
    # The offer as it was when the purchase opened.
    unit: Mapped[str] = mapped_column(String(20))
    unit_label: Mapped[str] = mapped_column(String(100), default="")
    list_price_ht_cents: Mapped[int] = mapped_column(BigInteger)
    tiers: Mapped[list[dict[str, int]]] = mapped_column(JSON)
    min_units: Mapped[int] = mapped_column(BigInteger, default=0)
    min_cities: Mapped[int] = mapped_column(default=0)
    # Commitments are taken until the end of this day, in Paris.
    deadline: Mapped[dt.date] = mapped_column(Date)
    extended: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    opened_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    awarded_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    # At the close: the unit price of the tier reached, applied to every member.
    final_unit_price_ht_cents: Mapped[int | None] = mapped_column(BigInteger)
    contract_reference: Mapped[str | None] = mapped_column(String(200))
    award_date: Mapped[dt.date | None] = mapped_column(Date)
    award_note: Mapped[str] = mapped_column(Text, default="")

    coordinator: Mapped[Tenant] = relationship(foreign_keys=[coordinator_tenant_id], lazy="joined")
    startup: Mapped[Tenant] = relationship(foreign_keys=[startup_tenant_id])
    created_by: Mapped[User | None] = relationship()

    @property
    def unit_words(self) -> tuple[str, str]:
        return UNITS.get(self.unit, ("par unité", "unités"))

    def tier_list(self) -> list[Tier]:
        return [Tier(t["min_units"], t.get("min_cities", 0), t["unit_price_ht_cents"]) for t in self.tiers]


class Commitment(TenantOwned, Base):
    """A collectivité's quantity in a group purchase (private to it and to the coordinator)."""

    __tablename__ = "commitments"
    __table_args__ = (
        UniqueConstraint("purchase_id", "tenant_id", name="uq_commitments_purchase_tenant"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("group_purchases.id", ondelete="CASCADE"), index=True)
    quantity: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(Text, default="")
    committed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # At the close: what this member pays at the tier the group reached.
    final_amount_ht_cents: Mapped[int | None] = mapped_column(BigInteger)

    purchase: Mapped[GroupPurchase] = relationship()
    committed_by: Mapped[User | None] = relationship()
    tenant: Mapped[Tenant] = relationship()


class PurchaseNotice(Base):
    """A notice sent once (opening, reminder J-7 and J-1, close, award, cancellation, extension):
    the key makes a job that runs twice, or late, send nothing more."""

    __tablename__ = "purchase_notices"
    __table_args__ = (UniqueConstraint("purchase_id", "kind", name="uq_purchase_notices_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("group_purchases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
