"""The annuaire's feed to the search index (contract: search/documents.py).

The provider reads the database, the source of truth: a published solution gives its document,
anything else (draft, submitted, archived, deleted) gives None and the index drops it. The
services call ``search.indexing.index_later`` whenever this document changes.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.catalog.models import Solution, SolutionStatus
from marketplace.catalog.services import search_published
from marketplace.core import taxonomy
from marketplace.core.rendering import plain_text
from search.documents import Document, register

# The public page's path (marketplace.catalog.views.solution): jobs build documents without a
# request, so the path is written here once; a test checks it against the route.
SOLUTION_PATH = "/solutions/{id}"


def load(session: Session, solution_id: int) -> Document | None:
    solution = session.get(Solution, solution_id)
    if solution is None or solution.status is not SolutionStatus.published:
        return None
    return solution_document(solution)


def solution_document(solution: Solution) -> Document:
    references = solution.public_references
    cities = [r.territory_name for r in references]
    extra: list[Any] = cities + list(solution.open_data_standards or [])
    if solution.licence:
        extra.append(solution.licence)
    extra.append(solution.owner.name)
    return {
        "id": f"solution:{solution.id}",
        "type": "solution",
        "object_id": solution.id,
        "title": solution.name,
        "summary": solution.pitch,
        "body": plain_text(solution.description),
        "extra": " ".join(extra),
        "domains": list(solution.domains or []),
        "hosting": solution.hosting,
        "price_model": solution.price_model,
        "sizes": list(solution.sizes or []),
        # Where it actually runs, by the size of the territories that deployed it.
        "deployed_sizes": sorted({taxonomy.size_class(r.population) for r in references}),
        "verified": solution.verified_count > 0,
        "verified_count": solution.verified_count,
        "deployments": solution.deployments,
        "published_at": solution.published_at,
        "owner": solution.owner.name,
        "url": SOLUTION_PATH.format(id=solution.id),
    }


def all_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Solution.id).where(Solution.status == SolutionStatus.published)
                                .order_by(Solution.id)))


def fallback(session: Session, text: str, limit: int) -> list[Document]:
    return [solution_document(s) for s in search_published(session, text, limit)]


register("solution", load, all_ids, fallback=fallback)
