"""The one curation workflow: a table of actions, each from some states to one state.

Solutions, programmes and calls (and group purchases, contract templates) are curated the same
way: a status column, a few named actions ("submit", "publish", "archive"…), each allowed from
some states only, each setting or clearing timestamps, each audited. A domain declares its table
once, next to its status enum::

    SOLUTION_WORKFLOW = Workflow("solution", {
        "submit": Action({SolutionStatus.draft}, SolutionStatus.submitted,
                         "Seul un brouillon peut être soumis à validation.",
                         CatalogEvent.solution_submitted, sets=("submitted_at",)),
        ...
    }, owner=lambda s: s.owner_tenant_id)

and its services call ``SOLUTION_WORKFLOW.apply(session, solution, "submit", actor)``: an action
not allowed from the current state is refused with the table's French message (a ServiceError, so
the same words reach the page, the API and the job), the status and timestamps change, and the
audit event is written in the same transaction. Extra rules (a quota, a perimeter required before
publishing) go in ``guard``, checked after the state so that the state's refusal comes first.
"""
from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from marketplace.core import audit
from marketplace.core.clock import utcnow
from marketplace.core.errors import ServiceError


@dataclass(frozen=True)
class Action:
    sources: frozenset[enum.Enum]
    target: enum.Enum
    refusal: str  # French, shown as is when the action is not allowed from the current state
    event: enum.Enum | None = None  # the audit event; None when the caller records a richer one
    sets: tuple[str, ...] = ()  # timestamps set to now
    keeps_first: tuple[str, ...] = ()  # timestamps set to now only when still empty (first publication)
    clears: tuple[str, ...] = ()  # timestamps emptied

    def __init__(self, sources: Iterable[enum.Enum], target: enum.Enum, refusal: str,
                 event: enum.Enum | None = None, *, sets: tuple[str, ...] = (), keeps_first: tuple[str, ...] = (),
                 clears: tuple[str, ...] = ()):
        object.__setattr__(self, "sources", frozenset(sources))
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "refusal", refusal)
        object.__setattr__(self, "event", event)
        object.__setattr__(self, "sets", sets)
        object.__setattr__(self, "keeps_first", keeps_first)
        object.__setattr__(self, "clears", clears)


@dataclass
class Workflow:
    name: str
    actions: dict[str, Action]
    owner: Callable[[Any], int | None]  # the tenant the audit event belongs to
    status_field: str = "status"

    def allowed(self, obj: Any, action: str) -> bool:
        return getattr(obj, self.status_field) in self.actions[action].sources

    def available(self, obj: Any) -> list[str]:
        """The actions the current state allows, in the table's order (the buttons a page offers)."""
        return [name for name in self.actions if self.allowed(obj, name)]

    def check(self, obj: Any, action: str) -> Action:
        try:
            step = self.actions[action]
        except KeyError:
            raise ServiceError("Action inconnue.") from None
        if getattr(obj, self.status_field) not in step.sources:
            raise ServiceError(step.refusal)
        return step

    def apply(self, session: Session, obj: Any, action: str, actor: Any, *,
              guard: Callable[[], None] | None = None, **audit_data: Any) -> Action:
        """Move ``obj`` by ``action``, or raise ServiceError with the table's message (nothing changed)."""
        step = self.check(obj, action)
        if guard is not None:
            guard()
        now = utcnow()
        setattr(obj, self.status_field, step.target)
        for name in step.sets:
            setattr(obj, name, now)
        for name in step.keeps_first:
            if getattr(obj, name) is None:
                setattr(obj, name, now)
        for name in step.clears:
            setattr(obj, name, None)
        if step.event is not None:
            audit.record(session, step.event, actor_id=actor.id if actor is not None else None,
                         tenant_id=self.owner(obj), obj=obj, **audit_data)
        return step
