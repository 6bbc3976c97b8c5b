"""Tenants, people, memberships, invitations, API tokens, territory claims and the audit log."""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, TenantOwned, utcnow


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as VARCHAR (native_enum=False, no CHECK): portable, and a new value (a new audit event
    # type, say) needs no migration; the Python enum refuses unknown values on load and store.
    return Enum(cls, name=name, native_enum=False, length=40, values_callable=lambda e: [m.value for m in e])


class TenantKind(enum.StrEnum):
    collectivite = "collectivite"
    startup = "startup"
    operator = "operator"


class TenantStatus(enum.StrEnum):
    pending = "pending"  # a territory claim awaits an operator
    active = "active"
    suspended = "suspended"
    rejected = "rejected"  # the claim was refused; the territory can be claimed again


class Role(enum.StrEnum):
    admin = "admin"
    member = "member"
    viewer = "viewer"

    @property
    def label(self) -> str:
        return {"admin": "Administrateur", "member": "Membre", "viewer": "Lecteur"}[self.value]

    def at_least(self, other: "Role") -> bool:
        order = [Role.viewer, Role.member, Role.admin]
        return order.index(self) >= order.index(other)


class Tenant(Base):
    __tablename__ = "tenants"
    __table_args__ = (
        # A collectivité is tied to exactly one real territory; other kinds to none.
        CheckConstraint(
            "(kind = 'collectivite' AND ((commune_insee IS NOT NULL AND epci_siren IS NULL)"
            " OR (commune_insee IS NULL AND epci_siren IS NOT NULL)))"
            " OR (kind <> 'collectivite' AND commune_insee IS NULL AND epci_siren IS NULL)",
            name="territory_matches_kind",
        ),
        CheckConstraint("kind <> 'startup' OR siren IS NOT NULL", name="startup_has_siren"),
        # One active-or-pending tenant per territory: two people claiming Châteauroux meet.
        Index("uq_tenants_commune", "commune_insee", unique=True,
              sqlite_where=text("status <> 'rejected'"), postgresql_where=text("status <> 'rejected'")),
        Index("uq_tenants_epci", "epci_siren", unique=True,
              sqlite_where=text("status <> 'rejected'"), postgresql_where=text("status <> 'rejected'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[TenantKind] = mapped_column(_enum(TenantKind, "tenant_kind"))
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    status: Mapped[TenantStatus] = mapped_column(_enum(TenantStatus, "tenant_status"), default=TenantStatus.active)
    siren: Mapped[str | None] = mapped_column(String(9))
    commune_insee: Mapped[str | None] = mapped_column(ForeignKey("communes.insee"))
    epci_siren: Mapped[str | None] = mapped_column(ForeignKey("epcis.siren"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    commune = relationship("Commune", lazy="joined")
    epci = relationship("Epci", lazy="joined")

    @property
    def kind_label(self) -> str:
        return {"collectivite": "Collectivité", "startup": "Startup", "operator": "Opérateur"}[self.kind.value]

    @property
    def is_active(self) -> bool:
        return self.status is TenantStatus.active


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased: e-mail addresses are compared case-insensitively.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    is_platform_admin: Mapped[bool] = mapped_column(default=False)
    is_disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]

    # flask-login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return not self.is_disabled

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class Membership(TenantOwned, Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "tenant_id", name="uq_memberships_user_tenant"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(lazy="joined")
    tenant: Mapped[Tenant] = relationship(lazy="joined")


class Invitation(TenantOwned, Base):
    __tablename__ = "invitations"
    __table_args__ = (
        # At most one pending invitation per address and tenant.
        Index(
            "uq_invitations_pending",
            "tenant_id",
            "email",
            unique=True,
            sqlite_where=text("accepted_at IS NULL AND revoked_at IS NULL"),
            postgresql_where=text("accepted_at IS NULL AND revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    accepted_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    invited_by: Mapped[User | None] = relationship()
    tenant: Mapped[Tenant] = relationship(lazy="joined")

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "acceptée"
        if self.revoked_at:
            return "annulée"
        if self.expires_at < utcnow():
            return "expirée"
        return "en attente"


class ApiToken(TenantOwned, Base):
    """A personal API token: acts as its membership, in its tenant. Only a hash is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    membership: Mapped[Membership] = relationship(lazy="joined")


class ClaimStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class TerritoryClaim(TenantOwned, Base):
    """'Je représente Châteauroux': a person asks to open the collectivité's workspace."""

    __tablename__ = "territory_claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    job_title: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[ClaimStatus] = mapped_column(_enum(ClaimStatus, "claim_status"), default=ClaimStatus.pending)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None]
    decision_comment: Mapped[str] = mapped_column(Text, default="")

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
    tenant: Mapped[Tenant] = relationship(lazy="joined")


class AuditEventType(enum.StrEnum):
    user_signed_in = "user.signed_in"
    user_signed_out = "user.signed_out"
    user_sign_in_failed = "user.sign_in_failed"
    user_registered = "user.registered"
    password_reset_requested = "user.password_reset_requested"
    password_changed = "user.password_changed"
    tenant_created = "tenant.created"
    tenant_activated = "tenant.activated"
    tenant_switched = "tenant.switched"
    tenant_suspended = "tenant.suspended"
    tenant_reactivated = "tenant.reactivated"
    claim_submitted = "claim.submitted"
    claim_approved = "claim.approved"
    claim_rejected = "claim.rejected"
    invitation_sent = "invitation.sent"
    invitation_revoked = "invitation.revoked"
    invitation_accepted = "invitation.accepted"
    membership_role_changed = "membership.role_changed"
    membership_removed = "membership.removed"
    api_token_created = "api_token.created"
    api_token_revoked = "api_token.revoked"
    cross_tenant_read = "tenant.cross_tenant_read"
    job_retried = "job.retried"
    search_reindex_requested = "search.reindex_requested"
    territories_imported = "territories.imported"
    # The annuaire: every step of a solution's curation, and what buyers and cities do with it.
    solution_created = "solution.created"
    solution_updated = "solution.updated"
    solution_submitted = "solution.submitted"
    solution_withdrawn = "solution.withdrawn"
    solution_published = "solution.published"
    solution_rejected = "solution.rejected"
    solution_archived = "solution.archived"
    solution_restored = "solution.restored"
    solution_edit_proposed = "solution.edit_proposed"
    solution_edit_withdrawn = "solution.edit_withdrawn"
    solution_edit_approved = "solution.edit_approved"
    solution_edit_rejected = "solution.edit_rejected"
    reference_added = "reference.added"
    reference_removed = "reference.removed"
    reference_verified = "reference.verified"
    reference_declined = "reference.declined"
    shortlist_item_added = "shortlist.item_added"
    shortlist_item_removed = "shortlist.item_removed"
    lead_created = "lead.created"
    lead_handled = "lead.handled"
    # Funding plans of a collectivité (marketplace.funding.plan).
    funding_plan_created = "funding_plan.created"
    funding_plan_updated = "funding_plan.updated"
    funding_plan_duplicated = "funding_plan.duplicated"
    funding_plan_deleted = "funding_plan.deleted"
    # Saved searches of "Mes financements" with their digests (marketplace.funding.alerts).
    funding_alert_created = "funding_alert.created"
    funding_alert_confirmed = "funding_alert.confirmed"
    funding_alert_updated = "funding_alert.updated"
    funding_alert_unsubscribed = "funding_alert.unsubscribed"
    funding_alert_deleted = "funding_alert.deleted"
    # Funding programmes, their calls and labels (marketplace.funding): every curation step.
    programme_created = "programme.created"
    programme_updated = "programme.updated"
    programme_scope_changed = "programme.scope_changed"
    programme_submitted = "programme.submitted"
    programme_withdrawn = "programme.withdrawn"
    programme_published = "programme.published"
    programme_sent_back = "programme.sent_back"
    programme_closed = "programme.closed"
    programme_reopened = "programme.reopened"
    programme_archived = "programme.archived"
    programme_restored = "programme.restored"
    call_created = "call.created"
    call_updated = "call.updated"
    call_published = "call.published"
    call_closed = "call.closed"
    call_archived = "call.archived"
    call_restored = "call.restored"
    label_created = "label.created"
    label_updated = "label.updated"
    label_communes_uploaded = "label.communes_uploaded"
    # The programme import (marketplace.funding.importer): one event per file, and per held change.
    programmes_imported = "programmes.imported"
    programme_changes_held = "programme.changes_held"
    programme_changes_accepted = "programme.changes_accepted"
    programme_changes_discarded = "programme.changes_discarded"


class AuditEvent(Base):
    """Who did what to which object. Written in the same transaction as the change."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Nullable: platform-level events (a sign-in, an import) belong to no tenant.
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    event_type: Mapped[AuditEventType] = mapped_column(_enum(AuditEventType, "audit_event_type"))
    object_type: Mapped[str | None] = mapped_column(String(60))
    object_id: Mapped[str | None] = mapped_column(String(60))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    actor: Mapped[User | None] = relationship(lazy="joined")


class LoginAttempt(Base):
    """Failed sign-ins, counted per address and per IP to slow down password guessing."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(45))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
