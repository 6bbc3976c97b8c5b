"""The audit log: one table, event types declared by each domain, written in the change's transaction.

Each domain declares its events as a ``StrEnum`` decorated with :func:`event_types` (the annuaire's
``CatalogEvent``, the guichet's ``FundingEvent``…): the column stores the value, refuses a value no
domain declared, and loads it back as the domain's enum member.

Reading across tenants is audited here too (:class:`cross_tenant_read`): every lifting of the tenant
guard either records who read what and why, or says in its ``because`` why no audit is owed
(``marketplace.core.db.all_tenants``).
"""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, TypeDecorator
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from marketplace.core.clock import utcnow
from marketplace.core.db import Base, TenantSession, all_tenants

_KNOWN: dict[str, enum.Enum] = {}


def event_types(cls: type[enum.StrEnum]) -> type[enum.StrEnum]:
    """Class decorator: the members of this enum are audit event types."""
    for member in cls:
        clash = _KNOWN.get(member.value)
        if clash is not None and clash is not member:
            raise ValueError(f"audit event type {member.value!r} declared twice ({type(clash).__name__}, {cls.__name__})")
        _KNOWN[member.value] = member
    return cls


def known_event_types() -> dict[str, enum.Enum]:
    return dict(_KNOWN)


class _EventType(TypeDecorator):
    """VARCHAR(40): a value of a declared event enum, loaded back as that member."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if str(value) not in _KNOWN:
            raise ValueError(f"undeclared audit event type {value!r}")
        return str(value)

    def process_result_value(self, value, dialect):
        return None if value is None else _KNOWN.get(value, value)


@event_types
class PlatformEvent(enum.StrEnum):
    cross_tenant_read = "tenant.cross_tenant_read"


class AuditEvent(Base):
    """Who did what to which object. Written in the same transaction as the change."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Nullable: platform-level events (a sign-in, an import) belong to no tenant.
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    event_type: Mapped[str] = mapped_column(_EventType())
    object_type: Mapped[str | None] = mapped_column(String(60))
    object_id: Mapped[str | None] = mapped_column(String(60))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    actor = relationship("User", lazy="joined")


def record(
    session: Session,
    event_type: enum.Enum,
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
            if obj in session.new:
                session.flush([obj])
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


class cross_tenant_read:  # noqa: N801 (used as a context manager, like all_tenants)
    """Explicit, audited lifting of the tenant guard: an operator or a job reads other tenants' rows."""

    def __init__(self, session: TenantSession, actor: Any, reason: str, **data: Any):
        self.session, self.actor, self.reason, self.data = session, actor, reason, data
        self._cm = None

    def __enter__(self) -> TenantSession:
        record(self.session, PlatformEvent.cross_tenant_read, actor_id=self.actor.id if self.actor else None,
               tenant_id=self.session.tenant_id, object_type="tenants", reason=self.reason, **self.data)
        self._cm = all_tenants(self.session, because="audited just above (cross_tenant_read)")
        return self._cm.__enter__()

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)
