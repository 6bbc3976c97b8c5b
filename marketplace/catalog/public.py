"""What other features may read of the annuaire: a published solution and its startup (a contract
names them, a group purchase is about one). Nothing private: drafts and revisions stay in the catalog."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.catalog import services
from marketplace.catalog.models import Solution, SolutionStatus
from marketplace.core.errors import NotFound
from tenants.access import Actor

__all__ = ["Solution", "published_solution", "archive_over_quota", "published_solutions_for_matching"]


def published_solution(session: Session, solution_id: int | None) -> Solution | None:
    """The published solution with this id, or None (unknown, not published, or no id)."""
    if not solution_id:
        return None
    try:
        return services.get_visible_solution(session, int(solution_id), Actor.anonymous())
    except (NotFound, ValueError, OverflowError):
        return None


def archive_over_quota(session: Session, tenant, keep: int | None, reason: str) -> list[Solution]:
    """A startup's published solutions beyond ``keep`` taken off the annuaire (archived, never
    deleted: the startup restores them later). The first published stays online."""
    if keep is None:
        return []
    online = list(session.scalars(select(Solution).where(Solution.owner_tenant_id == tenant.id,
                                                         Solution.status == SolutionStatus.published)
                                  .order_by(Solution.published_at, Solution.id)))
    archived = online[keep:]
    for solution in archived:
        services.archive(session, None, solution, note=reason)
    return archived


def published_solution_names(session: Session, owner_tenant_id: int) -> list[tuple[int, str]]:
    """(id, name) of one startup's published solutions, by name: the ones it may answer a need with."""
    return [tuple(row) for row in session.execute(
        select(Solution.id, Solution.name).where(Solution.owner_tenant_id == owner_tenant_id,
                                                 Solution.status == SolutionStatus.published)
        .order_by(Solution.name, Solution.id))]


def published_solutions_for_matching(session: Session) -> list[tuple[int, int, str, str, tuple[str, ...], str]]:
    """(id, owner tenant, name, text, domains, contact e-mail) of every published solution, by id:
    what the needs are matched against."""
    rows = session.scalars(select(Solution).where(Solution.status == SolutionStatus.published).order_by(Solution.id))
    return [(s.id, s.owner_tenant_id, s.name, f"{s.name} {s.pitch} {s.description or ''}", tuple(s.domains or []),
             s.contact_email) for s in rows]
