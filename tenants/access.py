"""Who may do what: the roles of Passerelle, defined here once and used by every domain.

- **Platform admin** (``User.is_platform_admin``): runs the platform — the organisations, their
  suspension. A platform admin is also an ANCT curator.
- **ANCT curator**: a platform admin, or a member (role member or admin) of ANCT's operator tenant,
  the operator tenant a platform admin belongs to (who runs the platform is already recorded, so
  no second flag can drift from it). Curators moderate the startups' solutions, decide the
  territory claims, review every funding programme and watch the background jobs.
- **Funder**: a member (role member or admin) of an active operator tenant — a Région, the Banque
  des Territoires, ANCT itself. A funder writes and edits its own programmes, calls and labels and
  imports programme lists; it sees nothing of the moderation (404, never 403).
- **Inside a tenant**: admin > member > viewer. A viewer reads and never writes shared state.

``actor_for`` computes the answer once for a signed-in person acting through a membership; the
request keeps it (``tenants.web.current_actor``), services take it as an argument.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from tenants.models import Membership, Role, TenantKind, User


@dataclass(frozen=True)
class Actor:
    """A person acting through one membership (or nobody: an anonymous visitor, a job)."""

    user_id: int | None = None
    tenant_id: int | None = None
    tenant_kind: TenantKind | None = None
    role: Role | None = None
    tenant_active: bool = False
    is_platform_admin: bool = False
    is_curator: bool = False
    is_funder: bool = False

    @classmethod
    def anonymous(cls) -> Actor:
        return cls()

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    def has_role(self, role: Role) -> bool:
        """At least ``role`` in the current tenant, and that tenant active."""
        return self.role is not None and self.tenant_active and self.role.at_least(role)

    @property
    def is_operator_staff(self) -> bool:
        """May open the operators' space: funders and curators."""
        return self.is_funder or self.is_curator


def actor_for(session: Session, user: User | None, membership: Membership | None) -> Actor:
    if user is None or not getattr(user, "is_authenticated", False):
        return Actor.anonymous()
    tenant = membership.tenant if membership is not None else None
    active = tenant is not None and tenant.is_active
    staff = active and tenant.kind is TenantKind.operator and membership.role.at_least(Role.member)
    curator = user.is_platform_admin or (staff and _is_platform_operator(session, membership.tenant_id))
    return Actor(user_id=user.id, tenant_id=tenant.id if tenant else None, tenant_kind=tenant.kind if tenant else None,
                 role=membership.role if membership else None, tenant_active=active,
                 is_platform_admin=user.is_platform_admin, is_curator=curator, is_funder=staff)


def _is_platform_operator(session: Session, tenant_id: int) -> bool:
    """ANCT's tenant: the operator tenant a platform admin belongs to."""
    return bool(session.scalar(select(exists().where(Membership.tenant_id == tenant_id,
                                                     Membership.user_id == User.id, User.is_platform_admin))))
