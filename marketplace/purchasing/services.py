"""Group purchases' rules: the startup's offer, the lifecycle, commitments, the deadline, the award.

Lifecycle ``draft → open → closed → awarded | cancelled`` through one workflow table
(``models.PURCHASE_WORKFLOW``): every transition is refused in French from a wrong state and audited.
An open purchase may be extended once. Commitments are taken until the end of the deadline day (Paris):
a city that comes later is refused, since a groupement's members join before its procedure is
launched. Every commitment and every close locks the purchase row first, so that a commitment and the
close at the deadline cannot cross, and the figures are computed from the commitments by SQL: the
total is always their sum.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.billing.public import success_fee_later
from marketplace.catalog.public import published_solution
from marketplace.contracts.public import ProcedureAnswer, procedures_for
from marketplace.core import audit, money
from marketplace.core.audit import cross_tenant_read
from marketplace.core.clock import today, utcnow
from marketplace.core.db import all_tenants
from marketplace.core.entitlements import plan_of, upgrade_hint
from marketplace.core.errors import NotFound, ServiceError
from marketplace.core.text import date_fr
from marketplace.purchasing import pricing
from marketplace.purchasing.models import (
    PURCHASE_WORKFLOW,
    Commitment,
    GroupOffer,
    GroupPurchase,
    PurchaseNotice,
    PurchaseStatus,
)
from marketplace.purchasing.models import PurchasingEvent as E
from tenants.access import Actor
from tenants.models import Role, Tenant, TenantKind, User

MAX_QUANTITY = pricing.MAX_UNITS


# The startup's offer ------------------------------------------------------------------------------

def offer_for(session: Session, solution_id: int) -> GroupOffer | None:
    return session.scalar(select(GroupOffer).where(GroupOffer.solution_id == solution_id))


def save_offer(session: Session, actor: User, startup: Tenant, solution, data: dict[str, Any]) -> GroupOffer:
    """The startup's tiered offer for its published solution (created or replaced): a Pro plan's."""
    if solution.owner_tenant_id != startup.id:
        raise NotFound()
    if not plan_of(session, startup).group_offers:
        raise ServiceError(upgrade_hint("L'offre Découverte ne permet pas de proposer des prix par paliers aux achats "
                                        "groupés"))
    if data["unit"] not in pricing.UNITS:
        raise ServiceError("Unité inconnue.", "unit")
    try:
        tiers = pricing.check_tiers(data["list_price_ht_cents"], [pricing.Tier(**t) for t in data["tiers"]])
    except pricing.TierError as problem:
        raise ServiceError(str(problem), "tiers") from None
    offer = offer_for(session, solution.id) or GroupOffer(solution_id=solution.id, owner_tenant_id=startup.id)
    offer.unit, offer.unit_label = data["unit"], data.get("unit_label") or ""
    offer.list_price_ht_cents = data["list_price_ht_cents"]
    offer.tiers = [{"min_units": t.min_units, "min_cities": t.min_cities, "unit_price_ht_cents": t.unit_price_ht_cents}
                   for t in tiers]
    offer.conditions = data.get("conditions") or ""
    offer.updated_at = utcnow()
    session.add(offer)
    session.flush()
    audit.record(session, E.offer_saved, actor_id=actor.id, tenant_id=startup.id, obj=offer,
                 tiers=offer.tiers, list_price=offer.list_price_ht_cents)
    return offer


# Reading purchases ------------------------------------------------------------------------------------

def may_coordinate(purchase: GroupPurchase, actor: Actor) -> bool:
    return actor.tenant_id == purchase.coordinator_tenant_id and actor.has_role(Role.member)


def get_visible(session: Session, purchase_id: int, actor: Actor) -> GroupPurchase:
    """Open, closed, awarded and cancelled purchases for anyone; a draft for its coordinator only."""
    purchase = session.get(GroupPurchase, purchase_id)
    if purchase is None or (not purchase.status.is_public and actor.tenant_id != purchase.coordinator_tenant_id):
        raise NotFound()
    return purchase


def get_coordinated(session: Session, purchase_id: int, actor: Actor) -> GroupPurchase:
    purchase = session.get(GroupPurchase, purchase_id)
    if purchase is None or not may_coordinate(purchase, actor):
        raise NotFound()
    return purchase


def public_purchases(session: Session, *, status: str | None = None, solution_id: int | None = None,
                     page: int = 1, per_page: int = 20) -> tuple[list[GroupPurchase], int]:
    statuses = [PurchaseStatus(status)] if status in {s.value for s in PurchaseStatus if s.is_public} else \
        [PurchaseStatus.open]
    stmt = select(GroupPurchase).where(GroupPurchase.status.in_(statuses))
    if solution_id:
        stmt = stmt.where(GroupPurchase.solution_id == solution_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = list(session.scalars(stmt.order_by(GroupPurchase.deadline, GroupPurchase.id)
                                .offset((page - 1) * per_page).limit(per_page)))
    return rows, total


def coordinated_by(session: Session, tenant: Tenant) -> list[GroupPurchase]:
    return list(session.scalars(select(GroupPurchase).where(GroupPurchase.coordinator_tenant_id == tenant.id)
                                .order_by(GroupPurchase.created_at.desc(), GroupPurchase.id.desc())))


def of_startup(session: Session, startup: Tenant) -> list[GroupPurchase]:
    return list(session.scalars(select(GroupPurchase).where(GroupPurchase.startup_tenant_id == startup.id,
                                                            GroupPurchase.status != PurchaseStatus.draft)
                                .order_by(GroupPurchase.deadline.desc(), GroupPurchase.id.desc())))


def _quantities_of(session: Session, purchase_ids: list[int]) -> dict[int, dict[int, int]]:
    """Purchase id → every member's quantity, by tenant: the figures' only input (aggregates,
    never a member's note), for one purchase or a list page's in one query."""
    quantities: dict[int, dict[int, int]] = {pid: {} for pid in purchase_ids}
    if purchase_ids:
        with all_tenants(session, because="a group purchase's figures are public aggregates of its commitments"):
            rows = session.execute(select(Commitment.purchase_id, Commitment.tenant_id, Commitment.quantity)
                                   .where(Commitment.purchase_id.in_(purchase_ids))
                                   .order_by(Commitment.purchase_id, Commitment.tenant_id)).all()
        for purchase_id, tenant_id, quantity in rows:
            quantities[purchase_id][tenant_id] = quantity
    return quantities


def _quantities(session: Session, purchase: GroupPurchase) -> dict[int, int]:
    return _quantities_of(session, [purchase.id])[purchase.id]


def figures(session: Session, purchase: GroupPurchase) -> pricing.Figures:
    return figures_many(session, [purchase])[0]


def figures_many(session: Session, purchases: list[GroupPurchase]) -> list[pricing.Figures]:
    """``figures`` of a list page's purchases, their commitments read in one query."""
    quantities = _quantities_of(session, [p.id for p in purchases])
    return [pricing.figures(p.list_price_ht_cents, p.tier_list(), quantities[p.id]) for p in purchases]


def procedure(session: Session, purchase: GroupPurchase, result: pricing.Figures | None = None,
              on: dt.date | None = None) -> ProcedureAnswer | None:
    """The procedure the combined amount calls for today (thresholds apply to the whole groupement)."""
    result = result or figures(session, purchase)
    if not result.total_ht_cents:
        return None
    try:
        return procedures_for(session, result.total_ht_cents, purchase.nature, purchase.innovative, on or today())
    except ServiceError:
        return None


def my_commitment(session: Session, purchase: GroupPurchase, tenant: Tenant | None) -> Commitment | None:
    if tenant is None:
        return None
    return session.scalar(select(Commitment).where(Commitment.purchase_id == purchase.id,
                                                   Commitment.tenant_id == tenant.id))


def members(session: Session, actor: User, purchase: GroupPurchase) -> list[Commitment]:
    """Who committed what: the coordinator's view (a cross-tenant read, audited)."""
    with cross_tenant_read(session, actor, "coordination d'un achat groupé : les engagements des membres",
                           object_id=purchase.id):
        return list(session.scalars(select(Commitment).where(Commitment.purchase_id == purchase.id)
                                    .order_by(Commitment.created_at, Commitment.id)))


# The lifecycle ------------------------------------------------------------------------------------------

def _check_coordinator(tenant: Tenant) -> None:
    if tenant.kind not in (TenantKind.collectivite, TenantKind.operator) or not tenant.is_active:
        raise ServiceError("Un achat groupé est coordonné par une collectivité (ou un opérateur pour leur compte).")


def create(session: Session, actor: User, coordinator: Tenant, solution_id: int, data: dict[str, Any]) -> GroupPurchase:
    """A draft around a published solution that has a tiered offer."""
    _check_coordinator(coordinator)
    solution = published_solution(session, solution_id)
    if solution is None:
        raise ServiceError("Choisissez une solution publiée de l'annuaire.", "solution_id")
    offer = offer_for(session, solution.id)
    if offer is None:
        raise ServiceError(f"{solution.owner.name} n'a pas encore d'offre par paliers pour « {solution.name} » : "
                           "elle peut la proposer depuis son espace.", "solution_id")
    _check_deadline(data["deadline"])
    purchase = GroupPurchase(
        coordinator_tenant_id=coordinator.id, solution_id=solution.id, startup_tenant_id=solution.owner_tenant_id,
        title=data["title"], description=data.get("description") or "", lots=data.get("lots") or "",
        nature=data.get("nature") or "services", innovative=bool(data.get("innovative")), unit=offer.unit,
        unit_label=offer.unit_label, list_price_ht_cents=offer.list_price_ht_cents, tiers=list(offer.tiers),
        min_units=data.get("min_units") or 0, min_cities=data.get("min_cities") or 0, deadline=data["deadline"],
        created_by_id=actor.id)
    session.add(purchase)
    session.flush()
    audit.record(session, E.purchase_created, actor_id=actor.id, tenant_id=coordinator.id, obj=purchase,
                 title=purchase.title, solution=solution.id)
    return purchase


def update(session: Session, actor: User, purchase: GroupPurchase, data: dict[str, Any]) -> None:
    """A draft's terms; once open, the members joined on them and they no longer change."""
    if purchase.status is not PurchaseStatus.draft:
        raise ServiceError("Un achat groupé ouvert ne se modifie plus : les membres se sont engagés sur ses termes. "
                           "Vous pouvez le prolonger une fois, ou l'annuler.")
    _check_deadline(data["deadline"])
    for name in ("title", "description", "lots", "nature", "innovative", "min_units", "min_cities", "deadline"):
        if name in data:
            setattr(purchase, name, data[name])
    audit.record(session, E.purchase_updated, actor_id=actor.id, tenant_id=purchase.coordinator_tenant_id,
                 obj=purchase)


def offered_solutions(session: Session) -> list[tuple[Any, GroupOffer]]:
    """Published solutions with a tiered offer: what a group purchase can be built on."""
    rows = []
    for offer in session.scalars(select(GroupOffer).order_by(GroupOffer.id)):
        solution = published_solution(session, offer.solution_id)
        if solution is not None:
            rows.append((solution, offer))
    return sorted(rows, key=lambda r: r[0].name.lower())


def _check_deadline(deadline: dt.date) -> None:
    if deadline <= today():
        raise ServiceError("La date limite des engagements est à venir.", "deadline")
    if deadline > today() + dt.timedelta(days=366):
        raise ServiceError("La date limite des engagements est dans l'année qui vient.", "deadline")


def open_purchase(session: Session, actor: User, purchase: GroupPurchase) -> None:
    """Open to commitments, with the offer's tiers as they stand now (cities join on these terms)."""
    def still_open():
        _check_deadline(purchase.deadline)
        offer = offer_for(session, purchase.solution_id)
        if offer is not None:
            purchase.unit, purchase.unit_label = offer.unit, offer.unit_label
            purchase.list_price_ht_cents, purchase.tiers = offer.list_price_ht_cents, list(offer.tiers)

    PURCHASE_WORKFLOW.apply(session, purchase, "open", actor, guard=still_open)


def extend(session: Session, actor: User, purchase: GroupPurchase, new_deadline: dt.date) -> None:
    """Push the deadline back, once; every member is told."""
    _lock(session, purchase)
    if purchase.status is not PurchaseStatus.open:
        raise ServiceError("Seul un achat groupé ouvert peut être prolongé.")
    if purchase.extended:
        raise ServiceError("Cet achat groupé a déjà été prolongé une fois : il ne peut plus l'être.")
    if new_deadline <= purchase.deadline:
        raise ServiceError("La nouvelle date limite est après l'actuelle.", "deadline")
    _check_deadline(new_deadline)
    before = purchase.deadline
    purchase.deadline, purchase.extended = new_deadline, True
    audit.record(session, E.purchase_extended, actor_id=actor.id, tenant_id=purchase.coordinator_tenant_id,
                 obj=purchase, before=before.isoformat(), after=new_deadline.isoformat())


def _lock(session: Session, purchase: GroupPurchase) -> GroupPurchase:
    """Take the purchase row's lock (PostgreSQL); SQLite's writes are already serialised."""
    session.execute(select(GroupPurchase.id).where(GroupPurchase.id == purchase.id).with_for_update())
    session.refresh(purchase)
    return purchase


def commit(session: Session, actor: User, tenant: Tenant, purchase: GroupPurchase, quantity: int,
           note: str = "") -> tuple[Commitment, bool]:
    """A city commits this quantity (or changes it). Idempotent: the same quantity again changes
    nothing. Returns the commitment and whether it is new."""
    if tenant.kind is not TenantKind.collectivite or not tenant.is_active:
        raise ServiceError("Seules les collectivités s'engagent dans un achat groupé.")
    if purchase.unit == "flat_per_city":
        quantity = 1
    if not 1 <= quantity <= MAX_QUANTITY:
        raise ServiceError(f"Quantité entre 1 et {MAX_QUANTITY:_}".replace("_", "\u202f") + ".", "quantity")
    _lock(session, purchase)
    _check_open_for_commitments(purchase)
    mine = my_commitment(session, purchase, tenant)
    created = mine is None
    if created:
        mine = Commitment(tenant_id=tenant.id, purchase_id=purchase.id, quantity=quantity, note=note,
                          committed_by_id=actor.id)
        session.add(mine)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:  # the same city committed at the same instant in another request
            mine = my_commitment(session, purchase, tenant)
            created = False
    if not created:
        if mine.quantity == quantity and (not note or mine.note == note):
            return mine, False
        before = mine.quantity
        mine.quantity, mine.updated_at = quantity, utcnow()
        if note:
            mine.note = note
        audit.record(session, E.commitment_changed, actor_id=actor.id, tenant_id=tenant.id, obj=mine,
                     purchase=purchase.id, before=before, after=quantity)
        return mine, False
    audit.record(session, E.commitment_made, actor_id=actor.id, tenant_id=tenant.id, obj=mine, purchase=purchase.id,
                 quantity=quantity)
    return mine, True


def withdraw(session: Session, actor: User, tenant: Tenant, purchase: GroupPurchase) -> bool:
    """Withdraw until the deadline. Idempotent: nothing to withdraw is not an error (returns False)."""
    _lock(session, purchase)
    _check_open_for_commitments(purchase, withdrawing=True)
    mine = my_commitment(session, purchase, tenant)
    if mine is None:
        return False
    audit.record(session, E.commitment_withdrawn, actor_id=actor.id, tenant_id=tenant.id, obj=mine,
                 purchase=purchase.id, quantity=mine.quantity)
    session.delete(mine)
    session.flush()
    return True


def _check_open_for_commitments(purchase: GroupPurchase, withdrawing: bool = False) -> None:
    if purchase.status is PurchaseStatus.draft:
        raise ServiceError("Cet achat groupé n'est pas encore ouvert aux engagements.")
    if purchase.status is not PurchaseStatus.open or purchase.deadline < today():
        raise ServiceError(
            f"Les engagements ont pris fin le {date_fr(purchase.deadline)} : "
            + ("un engagement ne peut plus être retiré." if withdrawing else
               "un membre tardif ne peut pas bénéficier d'une procédure déjà lancée par le groupement "
               "(art. L2113-6 CCP). Proposez au coordonnateur un nouvel achat groupé."))


@dataclass
class Outcome:
    purchase: GroupPurchase
    closed: bool  # True: closed (minimum met); False: cancelled
    figures: pricing.Figures


def minimum_met(purchase: GroupPurchase, result: pricing.Figures) -> bool:
    return result.total_units >= purchase.min_units and result.member_count >= max(purchase.min_cities, 1)


def close_at_deadline(session: Session, purchase: GroupPurchase) -> Outcome | None:
    """Close an open purchase whose deadline has passed: minimum met → closed, the tier reached applied
    to every member; else cancelled with the reason. Safe if late or twice (returns None then)."""
    _lock(session, purchase)
    if purchase.status is not PurchaseStatus.open or purchase.deadline >= today():
        return None
    result = figures(session, purchase)
    if minimum_met(purchase, result):
        PURCHASE_WORKFLOW.apply(session, purchase, "close", None)
        purchase.final_unit_price_ht_cents = result.unit_price_ht_cents
        with all_tenants(session, because="the close applies the group's price to every member's commitment"):
            for commitment in session.scalars(select(Commitment).where(Commitment.purchase_id == purchase.id)):
                commitment.final_amount_ht_cents = commitment.quantity * result.unit_price_ht_cents
            session.flush()  # while the guard is lifted: these rows are the members'
        audit.record(session, E.purchase_closed, actor_id=None, tenant_id=purchase.coordinator_tenant_id,
                     obj=purchase, units=result.total_units, members=result.member_count,
                     tier=result.current_tier, unit_price=result.unit_price_ht_cents, total=result.total_ht_cents)
        return Outcome(purchase, True, result)
    purchase.cancel_reason = missing_minimum(purchase, result)
    PURCHASE_WORKFLOW.apply(session, purchase, "cancel", None)
    audit.record(session, E.purchase_cancelled, actor_id=None, tenant_id=purchase.coordinator_tenant_id,
                 obj=purchase, reason=purchase.cancel_reason, automatic=True)
    return Outcome(purchase, False, result)


def missing_minimum(purchase: GroupPurchase, result: pricing.Figures) -> str:
    parts = []
    if result.total_units < purchase.min_units:
        parts.append(f"{result.total_units:_} {purchase.unit_words[1]} engagés sur {purchase.min_units:_} "
                     "demandés".replace("_", "\u202f"))
    if result.member_count < max(purchase.min_cities, 1):
        parts.append(f"{result.member_count} collectivité{'s' if result.member_count > 1 else ''} sur "
                     f"{max(purchase.min_cities, 1)} demandée{'s' if purchase.min_cities > 1 else ''}")
    return "Minimum non atteint à la date limite : " + " ; ".join(parts) + "."


def due(session: Session) -> list[GroupPurchase]:
    return list(session.scalars(select(GroupPurchase).where(GroupPurchase.status == PurchaseStatus.open,
                                                            GroupPurchase.deadline < today())
                                .order_by(GroupPurchase.deadline, GroupPurchase.id)))


def award(session: Session, actor: User, purchase: GroupPurchase, data: dict[str, Any]) -> None:
    """The coordinator records the award: the contract, its date, the final unit price."""
    reference = (data.get("contract_reference") or "").strip()
    if not reference:
        raise ServiceError("Indiquez la référence du marché attribué.", "contract_reference")
    price = data["final_unit_price_ht_cents"]
    if purchase.final_unit_price_ht_cents is not None and price > purchase.final_unit_price_ht_cents:
        raise ServiceError(f"Le prix final ne peut pas dépasser celui du palier atteint "
                           f"({money.euros(purchase.final_unit_price_ht_cents)} HT par unité).",
                           "final_unit_price_ht_cents")

    def documented():
        purchase.contract_reference, purchase.award_date = reference[:200], data["award_date"]
        purchase.final_unit_price_ht_cents, purchase.award_note = price, data.get("award_note") or ""

    PURCHASE_WORKFLOW.apply(session, purchase, "award", actor, guard=documented)
    with all_tenants(session, because="the award's final price applies to every member's commitment"):
        for commitment in session.scalars(select(Commitment).where(Commitment.purchase_id == purchase.id)):
            commitment.final_amount_ht_cents = commitment.quantity * price
        session.flush()  # while the guard is lifted: these rows are the members'
    audit.record(session, E.purchase_awarded, actor_id=actor.id, tenant_id=purchase.coordinator_tenant_id,
                 obj=purchase, contract=reference, unit_price=price)
    awarded = sum(q * price for q in _quantities(session, purchase).values())
    success_fee_later(session, purchase.id, purchase.startup_tenant_id, awarded, purchase.title)


def cancel(session: Session, actor: User, purchase: GroupPurchase, reason: str) -> None:
    reason = " ".join(reason.split())
    if not reason:
        raise ServiceError("Indiquez pourquoi l'achat groupé est annulé : chaque membre le lira.", "reason")
    _lock(session, purchase)
    purchase.cancel_reason = reason[:2000]
    PURCHASE_WORKFLOW.apply(session, purchase, "cancel", actor)
    audit.record(session, E.purchase_cancelled, actor_id=actor.id, tenant_id=purchase.coordinator_tenant_id,
                 obj=purchase, reason=purchase.cancel_reason)


def alone(session: Session, purchase: GroupPurchase, quantity: int, on: dt.date | None = None) -> str:
    """What a member can do alone when the group falls through: its own need at the list price."""
    amount = quantity * purchase.list_price_ht_cents
    try:
        answer = procedures_for(session, amount, purchase.nature, purchase.innovative, on or today())
    except ServiceError as refusal:
        return refusal.message
    chosen = next(a for a in answer.allowed if a.procedure == answer.recommended)
    return f"Seule, pour {money.euros(amount)} HT au prix catalogue : {chosen.label.lower()} ({chosen.rule})."


# Notices, once each -------------------------------------------------------------------------------------

def notice_once(session: Session, purchase: GroupPurchase, kind: str, **data) -> bool:
    """Record that this notice is sent; False if it already was (the caller then sends nothing)."""
    if session.scalar(select(PurchaseNotice.id).where(PurchaseNotice.purchase_id == purchase.id,
                                                      PurchaseNotice.kind == kind)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(PurchaseNotice(purchase_id=purchase.id, kind=kind, data=data))
            session.flush()
    except IntegrityError:
        return False
    return True


def reminders_due(session: Session, on: dt.date) -> list[tuple[GroupPurchase, int]]:
    """(purchase, days left) for the open purchases at J-7 or J-1."""
    rows = session.scalars(select(GroupPurchase).where(GroupPurchase.status == PurchaseStatus.open,
                                                       GroupPurchase.deadline.in_([on + dt.timedelta(days=7),
                                                                                   on + dt.timedelta(days=1)]))
                           .order_by(GroupPurchase.id))
    return [(p, (p.deadline - on).days) for p in rows]
