"""The audit log: one function, called by services inside their transaction."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tenants.models import AuditEvent, AuditEventType


def record(
    session: Session,
    event_type: AuditEventType,
    *,
    actor_id: int | None,
    tenant_id: int | None,
    obj: Any = None,
    object_type: str | None = None,
    object_id: Any = None,
    **data: Any,
) -> AuditEvent:
    if obj is not None:
        object_type = object_type or type(obj).__tablename__
        if object_id is None:
            session.flush([obj]) if obj in session.new else None
            object_id = getattr(obj, "id", None) or getattr(obj, "insee", None)
    event = AuditEvent(
        event_type=event_type,
        actor_id=actor_id,
        tenant_id=tenant_id,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        data={k: v for k, v in data.items() if v is not None},
    )
    session.add(event)
    return event
