"""Who may see and change a programme. Programmes are shared data, so the tenant guard does not
protect them: access is decided here, by ``get_visible_programme`` and ``get_editable_programme``,
and nowhere else.

- A **funder** (``tenants.access``) creates programmes (its tenant owns them), edits them, submits
  them for review, opens their calls.
- **ANCT curators** review every programme: they publish or send back the submitted ones and may
  edit any. Another funder's draft is invisible to a funder (404, never 403).
- Everyone reads published and closed programmes.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from marketplace.core.errors import NotFound, ServiceError
from marketplace.funding.models import Programme, ProgrammeCall
from tenants.access import Actor
from tenants.models import Tenant, TenantKind


def may_view(programme: Programme, actor: Actor) -> bool:
    return programme.status.is_public or actor.is_curator or actor.tenant_id == programme.owner_tenant_id


def may_edit(programme: Programme, actor: Actor) -> bool:
    return actor.is_curator or (actor.is_funder and actor.tenant_id == programme.owner_tenant_id)


def get_visible_programme(session: Session, programme_id: int, actor: Actor) -> Programme:
    """Published and closed programmes for anyone; the others for their owner and ANCT only."""
    programme = session.get(Programme, programme_id)
    if programme is None or not may_view(programme, actor):
        raise NotFound()
    return programme


def get_editable_programme(session: Session, programme_id: int, actor: Actor) -> Programme:
    programme = session.get(Programme, programme_id)
    if programme is None or not may_edit(programme, actor):
        raise NotFound()
    return programme


def get_editable_call(session: Session, call_id: int, actor: Actor) -> ProgrammeCall:
    call = session.get(ProgrammeCall, call_id)
    if call is None or not may_edit(call.programme, actor):
        raise NotFound()
    return call


def check_owner(tenant: Tenant) -> None:
    """Programmes and labels belong to an active operator tenant (a funder, or ANCT)."""
    if tenant.kind is not TenantKind.operator or not tenant.is_active:
        raise ServiceError("Seuls les financeurs et l'ANCT publient des programmes de financement.")
