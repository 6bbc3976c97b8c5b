"""Who may see and change a programme. Programmes are shared data, so the tenant guard does not
protect them: access is decided here, by ``get_visible_programme`` and ``get_editable_programme``,
and nowhere else.

- A **funder** is a member (role member or admin) of an active operator tenant: it creates
  programmes (its tenant owns them), edits them, submits them for review, opens their calls.
- **ANCT staff** (*curators*) review every programme: they publish or send back the submitted
  ones and may edit any. Another funder's draft is invisible to a funder (404, never 403).
- Everyone reads published and closed programmes.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from marketplace.core.errors import NotFound, ServiceError
from marketplace.funding.models import Programme, ProgrammeCall
from tenants.models import Membership, Role, Tenant, TenantKind, User


@dataclass(frozen=True)
class Viewer:
    tenant_id: int | None = None
    is_funder: bool = False  # member of an active operator tenant
    is_curator: bool = False  # ANCT staff

    @classmethod
    def anonymous(cls) -> Viewer:
        return cls()


def is_curator(session: Session, user: User | None, membership: Membership | None) -> bool:
    """ANCT staff: platform admins, and the members of an operator tenant a platform admin belongs to.

    Operators are of one kind (``TenantKind.operator``) whether they run the platform (ANCT) or only
    fund (a Région, the Banque des Territoires); who runs it is already recorded — the platform
    admins and their memberships — so no second flag can drift from it."""
    if user is None:
        return False
    if user.is_platform_admin:
        return True
    if membership is None or membership.tenant.kind is not TenantKind.operator or not membership.tenant.is_active \
            or not membership.role.at_least(Role.member):
        return False
    return bool(session.scalar(select(exists().where(Membership.tenant_id == membership.tenant_id,
                                                     Membership.user_id == User.id, User.is_platform_admin))))


def viewer_for(session: Session, user: User | None, membership: Membership | None) -> Viewer:
    if user is None or not getattr(user, "is_authenticated", False):
        return Viewer.anonymous()
    is_funder = membership is not None and membership.tenant.kind is TenantKind.operator \
        and membership.tenant.is_active and membership.role.at_least(Role.member)
    return Viewer(tenant_id=membership.tenant_id if membership else None, is_funder=is_funder,
                  is_curator=is_curator(session, user, membership))


def may_view(programme: Programme, viewer: Viewer) -> bool:
    return programme.status.is_public or viewer.is_curator or viewer.tenant_id == programme.owner_tenant_id


def may_edit(programme: Programme, viewer: Viewer) -> bool:
    return viewer.is_curator or (viewer.is_funder and viewer.tenant_id == programme.owner_tenant_id)


def get_visible_programme(session: Session, programme_id: int, viewer: Viewer) -> Programme:
    """Published and closed programmes for anyone; the others for their owner and ANCT only."""
    programme = session.get(Programme, programme_id)
    if programme is None or not may_view(programme, viewer):
        raise NotFound()
    return programme


def get_editable_programme(session: Session, programme_id: int, viewer: Viewer) -> Programme:
    programme = session.get(Programme, programme_id)
    if programme is None or not may_edit(programme, viewer):
        raise NotFound()
    return programme


def get_editable_call(session: Session, call_id: int, viewer: Viewer) -> ProgrammeCall:
    call = session.get(ProgrammeCall, call_id)
    if call is None or not may_edit(call.programme, viewer):
        raise NotFound()
    return call


def check_owner(tenant: Tenant) -> None:
    """Programmes and labels belong to an active operator tenant (a funder, or ANCT)."""
    if tenant.kind is not TenantKind.operator or not tenant.is_active:
        raise ServiceError("Seuls les financeurs et l'ANCT publient des programmes de financement.")
