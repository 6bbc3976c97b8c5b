"""Funding plans: the rules in force, computing, and a collectivité's saved plans. No Flask here.

Services flush, never commit: the view commits once. Every change writes its audit event in the
same transaction. Plans are ``TenantOwned`` (the session guard filters them); the explicit
``tenant_id`` criterion below also keeps a session bound to no tenant (a job, a script) from
reading every city's plans.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.core import audit
from marketplace.core.clock import today, utcnow
from marketplace.core.db import TenantSession
from marketplace.core.errors import NotFound, ServiceError
from marketplace.funding.plan import engine
from marketplace.funding.plan.engine import Ordering, PlanInput, PlanLine, PlanResult, Rule
from marketplace.funding.plan.models import FundingPlan, FundingRule
from marketplace.funding.plan.models import PlanEvent as E
from tenants.models import Tenant, TenantKind, User

# Rules ----------------------------------------------------------------------------------------------

def all_rules(session: Session) -> list[FundingRule]:
    return list(session.scalars(select(FundingRule).order_by(FundingRule.code, FundingRule.valid_from)))


def rules_valid_on(session: Session, day: dt.date) -> list[Rule]:
    stmt = select(FundingRule).where(FundingRule.valid_from <= day,
                                     (FundingRule.valid_to.is_(None)) | (FundingRule.valid_to >= day))
    return engine.applicable_rules([row.to_rule() for row in session.scalars(stmt)], day)


# Computing ------------------------------------------------------------------------------------------

def plan_input(data: dict[str, Any]) -> PlanInput:
    """A plan as the schemas load it (``schemas.PlanComputeSchema`` or a stored plan's fields)."""
    return PlanInput(cost_ht_cents=data["cost_ht_cents"], eligible_cost_ht_cents=data["eligible_cost_ht_cents"],
                     on=data.get("reference_date") or today(),
                     lines=tuple(PlanLine.from_dict(line) for line in data["lines"]),
                     ordering=Ordering(data.get("ordering") or Ordering.priority))


def compute(session: Session, plan: PlanInput) -> PlanResult:
    return engine.compute(plan, rules_valid_on(session, plan.on))


def compute_plan(session: Session, plan: FundingPlan) -> PlanResult:
    return compute(session, plan.to_input())


# Saved plans ----------------------------------------------------------------------------------------

FIELDS = ("title", "cost_ht_cents", "eligible_cost_ht_cents", "reference_date", "ordering", "lines", "notes")


def plans_of(session: TenantSession, tenant: Tenant) -> list[FundingPlan]:
    stmt = select(FundingPlan).where(FundingPlan.tenant_id == tenant.id).order_by(FundingPlan.updated_at.desc(),
                                                                                   FundingPlan.id.desc())
    return list(session.scalars(stmt))


def get_plan(session: TenantSession, tenant: Tenant, plan_id: int) -> FundingPlan:
    plan = session.get(FundingPlan, plan_id)
    if plan is None or plan.tenant_id != tenant.id:
        raise NotFound()
    return plan


def _apply(plan: FundingPlan, data: dict[str, Any]) -> None:
    # Through the engine's own types, so a stored line is always one the engine accepts.
    PlanInput(cost_ht_cents=data["cost_ht_cents"], eligible_cost_ht_cents=data["eligible_cost_ht_cents"],
              on=data["reference_date"], lines=tuple(PlanLine.from_dict(d) for d in data["lines"]),
              ordering=data["ordering"])
    for name in FIELDS:
        if name in data:
            value = data[name]
            if name == "lines":
                value = [PlanLine.from_dict(d).as_dict() for d in value]
            elif name == "ordering":
                value = Ordering(value).value
            setattr(plan, name, value)


def create_plan(session: TenantSession, actor: User, tenant: Tenant, data: dict[str, Any]) -> FundingPlan:
    if tenant.kind is not TenantKind.collectivite:
        raise ServiceError("Les plans de financement sont réservés aux collectivités.")
    data = {"notes": "", "reference_date": today(), "ordering": Ordering.priority.value, **data}
    plan = FundingPlan(tenant_id=tenant.id, created_by_id=actor.id, updated_by_id=actor.id)
    _apply(plan, data)
    session.add(plan)
    session.flush()
    audit.record(session, E.funding_plan_created, actor_id=actor.id, tenant_id=tenant.id, obj=plan,
                 title=plan.title, cost_ht_cents=plan.cost_ht_cents)
    return plan


def update_plan(session: TenantSession, actor: User, plan: FundingPlan, data: dict[str, Any]) -> None:
    before = {"cost_ht_cents": plan.cost_ht_cents, "lines": len(plan.lines or [])}
    _apply(plan, {"notes": plan.notes, **data})
    plan.updated_by_id = actor.id
    plan.updated_at = utcnow()
    session.flush()
    audit.record(session, E.funding_plan_updated, actor_id=actor.id, tenant_id=plan.tenant_id, obj=plan,
                 title=plan.title, before=before,
                 after={"cost_ht_cents": plan.cost_ht_cents, "lines": len(plan.lines)})


def duplicate_plan(session: TenantSession, actor: User, plan: FundingPlan) -> FundingPlan:
    copy = FundingPlan(tenant_id=plan.tenant_id, created_by_id=actor.id, updated_by_id=actor.id)
    _apply(copy, {name: getattr(plan, name) for name in FIELDS})
    copy.title = f"{plan.title} (copie)"[:200]
    session.add(copy)
    session.flush()
    audit.record(session, E.funding_plan_duplicated, actor_id=actor.id, tenant_id=plan.tenant_id, obj=copy,
                 title=copy.title, source_plan_id=plan.id)
    return copy


def delete_plan(session: TenantSession, actor: User, plan: FundingPlan) -> None:
    audit.record(session, E.funding_plan_deleted, actor_id=actor.id, tenant_id=plan.tenant_id, obj=plan,
                 title=plan.title)
    session.delete(plan)
    session.flush()
