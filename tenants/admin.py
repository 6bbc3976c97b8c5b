"""Platform administration: find organisations, see their members, suspend or reactivate them; disable an
account (its sessions end at once, its tokens stop working) or enable it again."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from marketplace.core import audit
from marketplace.core.audit import cross_tenant_read
from marketplace.core.errors import NotFound, ServiceError
from marketplace.core.text import fold
from tenants.models import Membership, Tenant, TenantKind, TenantStatus, User
from tenants.models import TenantEvent as E
from tenants.services import end_sessions_of


@dataclass
class TenantRow:
    tenant: Tenant
    members: int


def list_tenants(session: Session, actor: User, *, q: str = "", kind: str | None = None, status: str | None = None,
                 page: int = 1, per_page: int = 50) -> tuple[list[TenantRow], int]:
    stmt = select(Tenant)
    if q.strip():
        key = f"%{q.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(Tenant.name).like(key), Tenant.slug.like(f"%{fold(q).replace(' ', '-')}%"),
                              Tenant.siren == q.strip()))
    if kind in {k.value for k in TenantKind}:
        stmt = stmt.where(Tenant.kind == TenantKind(kind))
    if status in {s.value for s in TenantStatus}:
        stmt = stmt.where(Tenant.status == TenantStatus(status))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    tenants = list(session.scalars(stmt.order_by(Tenant.name).offset((page - 1) * per_page).limit(per_page)))
    counts = {}
    if tenants:
        with cross_tenant_read(session, actor, "administration : nombre de membres des organisations"):
            counts = dict(session.execute(
                select(Membership.tenant_id, func.count()).where(Membership.tenant_id.in_([t.id for t in tenants]))
                .group_by(Membership.tenant_id)).all())
    return [TenantRow(t, counts.get(t.id, 0)) for t in tenants], total


def get_tenant(session: Session, tenant_id: int) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound()
    return tenant


def tenant_members(session: Session, actor: User, tenant: Tenant) -> list[Membership]:
    with cross_tenant_read(session, actor, "administration : membres d'une organisation", object_id=tenant.id):
        return list(session.scalars(select(Membership).where(Membership.tenant_id == tenant.id)
                                    .join(User, Membership.user_id == User.id).order_by(User.full_name)))


def suspend(session: Session, actor: User, tenant: Tenant, reason: str) -> None:
    if tenant.status is not TenantStatus.active:
        raise ServiceError("Seule une organisation active peut être suspendue.")
    if not reason.strip():
        raise ServiceError("Indiquez le motif de la suspension.", "reason")
    if tenant.kind is TenantKind.operator and actor.is_platform_admin:
        mine = session.info.get("tenant_id")
        if mine == tenant.id:
            raise ServiceError("Vous ne pouvez pas suspendre l'organisation pour laquelle vous agissez.")
    tenant.status = TenantStatus.suspended
    audit.record(session, E.tenant_suspended, actor_id=actor.id, tenant_id=tenant.id, obj=tenant, reason=reason.strip())


def reactivate(session: Session, actor: User, tenant: Tenant) -> None:
    if tenant.status is not TenantStatus.suspended:
        raise ServiceError("Seule une organisation suspendue peut être réactivée.")
    tenant.status = TenantStatus.active
    audit.record(session, E.tenant_reactivated, actor_id=actor.id, tenant_id=tenant.id, obj=tenant)


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound()
    return user


def disable_user(session: Session, actor: User, user: User, reason: str) -> None:
    """The person can no longer sign in; their open sessions end and their API tokens stop answering."""
    if user.id == actor.id:
        raise ServiceError("Vous ne pouvez pas désactiver votre propre compte.")
    if user.is_disabled:
        raise ServiceError("Ce compte est déjà désactivé.")
    if not reason.strip():
        raise ServiceError("Indiquez le motif de la désactivation.", "reason")
    user.is_disabled = True
    end_sessions_of(session, user, reason="compte désactivé")
    audit.record(session, E.user_disabled, actor_id=actor.id, tenant_id=None, obj=user, reason=reason.strip())


def enable_user(session: Session, actor: User, user: User) -> None:
    if not user.is_disabled:
        raise ServiceError("Ce compte est déjà actif.")
    user.is_disabled = False
    audit.record(session, E.user_enabled, actor_id=actor.id, tenant_id=None, obj=user)
