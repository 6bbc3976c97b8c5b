"""Funding rules (shared reference data) and funding plans (private to a collectivité).

``FundingRule`` rows are the legal caps the engine applies: each with its article, its source and
its validity dates, so a decree that changes a rate is a new row with a new ``valid_from``, never
an edit of code. They are not tenant-owned: every plan of every city reads the same law.

``FundingPlan`` is ``TenantOwned``: the session guard filters it by construction. Its lines are a
JSON list (the dicts of ``engine.PlanLine.as_dict``), validated by ``schemas.LineSchema`` on the
way in: a line has no identity of its own, it is always read, written and computed with its
plan, and a plan duplicates in one row copy.
"""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.core.audit import event_types
from marketplace.core.clock import utcnow
from marketplace.core.db import Base, TenantOwned, enum_column
from marketplace.core.rules import DatedRule
from marketplace.funding.plan.engine import Ordering, PlanInput, PlanLine, Rule, RuleKind
from tenants.models import User


@event_types
class PlanEvent(enum.StrEnum):
    """A collectivité's funding plans."""

    funding_plan_created = "funding_plan.created"
    funding_plan_updated = "funding_plan.updated"
    funding_plan_duplicated = "funding_plan.duplicated"
    funding_plan_deleted = "funding_plan.deleted"


class FundingRule(DatedRule, Base):
    __tablename__ = "funding_rules"
    __table_args__ = (
        # Successive versions of one rule share its code and differ by their start date.
        UniqueConstraint("code", "valid_from", name="uq_funding_rules_code_valid_from"),
        CheckConstraint("value_bp BETWEEN 0 AND 10000", name="value_is_a_share"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[RuleKind] = mapped_column(enum_column(RuleKind, "funding_rule_kind"))
    value_bp: Mapped[int]  # basis points: 8000 = 80 %
    # Plan categories ("eu_grant") and State families ("DETR") the rule covers.
    applies_to: Mapped[list[str]] = mapped_column(JSON, default=list)
    # code, label, legal_reference, valid_from, valid_to, source_url, note: marketplace.core.rules

    def to_rule(self) -> Rule:
        return Rule(code=self.code, label=self.label, kind=self.kind, value_bp=self.value_bp,
                    applies_to=frozenset(self.applies_to or ()), legal_reference=self.legal_reference,
                    valid_from=self.valid_from, valid_to=self.valid_to, source_url=self.source_url or "",
                    note=self.note or "")


class FundingPlan(TenantOwned, Base):
    __tablename__ = "funding_plans"
    __table_args__ = (
        CheckConstraint("cost_ht_cents >= 0", name="cost_positive"),
        # The subsidisable cost is a part of the project's cost (CGCT R2334-27 "dépense subventionnable").
        CheckConstraint("eligible_cost_ht_cents >= 0 AND eligible_cost_ht_cents <= cost_ht_cents",
                        name="eligible_within_cost"),
        CheckConstraint("ordering IN ('priority', 'order_entered', 'proportional')", name="ordering_known"),
        Index("ix_funding_plans_tenant_updated", "tenant_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    # BIGINT: a 25 M€ project is already past a 32-bit count of cents.
    cost_ht_cents: Mapped[int] = mapped_column(BigInteger)
    eligible_cost_ht_cents: Mapped[int] = mapped_column(BigInteger)
    # The rules applied are those valid on this date (the planned filing date), so a plan computes
    # the same figures tomorrow even if a decree changes a rate in between.
    reference_date: Mapped[dt.date] = mapped_column(Date)
    ordering: Mapped[str] = mapped_column(String(20), default=Ordering.priority.value)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id], lazy="joined")
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id], lazy="joined")

    @property
    def plan_lines(self) -> list[PlanLine]:
        return [PlanLine.from_dict(d) for d in self.lines or []]

    @property
    def ordering_label(self) -> str:
        return Ordering(self.ordering).label

    def to_input(self) -> PlanInput:
        return PlanInput(cost_ht_cents=self.cost_ht_cents, eligible_cost_ht_cents=self.eligible_cost_ht_cents,
                         on=self.reference_date, lines=tuple(self.plan_lines), ordering=Ordering(self.ordering))
