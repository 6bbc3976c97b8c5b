"""What other features may read of the annuaire: a published solution and its startup (a contract
names them, a group purchase is about one). Nothing private: drafts and revisions stay in the catalog."""
from __future__ import annotations

from sqlalchemy.orm import Session

from marketplace.catalog.models import Solution
from marketplace.catalog.services import get_visible_solution
from marketplace.core.errors import NotFound
from tenants.access import Actor


def published_solution(session: Session, solution_id: int | None) -> Solution | None:
    """The published solution with this id, or None (unknown, not published, or no id)."""
    if not solution_id:
        return None
    try:
        return get_visible_solution(session, int(solution_id), Actor.anonymous())
    except (NotFound, ValueError, OverflowError):
        return None
