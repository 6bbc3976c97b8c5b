"""Tenants, people, memberships, invitations, API tokens and territory claims."""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.core.audit import event_types
from marketplace.core.clock import utcnow
from marketplace.core.db import Base, TenantOwned, enum_column


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

    def at_least(self, other: Role) -> bool:
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
    kind: Mapped[TenantKind] = mapped_column(enum_column(TenantKind, "tenant_kind"))
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    status: Mapped[TenantStatus] = mapped_column(enum_column(TenantStatus, "tenant_status"), default=TenantStatus.active)
    siren: Mapped[str | None] = mapped_column(String(9))
    commune_insee: Mapped[str | None] = mapped_column(ForeignKey("communes.insee"))
    epci_siren: Mapped[str | None] = mapped_column(ForeignKey("epcis.siren"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    # Loaded when read (a tenant is loaded with every membership, programme and solution; its
    # territory, a join of five tables, only by the pages that show or use it).
    commune = relationship("Commune")
    epci = relationship("Epci")

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
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
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
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
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
    status: Mapped[ClaimStatus] = mapped_column(enum_column(ClaimStatus, "claim_status"), default=ClaimStatus.pending)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None]
    decision_comment: Mapped[str] = mapped_column(Text, default="")

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
    tenant: Mapped[Tenant] = relationship(lazy="joined")


@event_types
class TenantEvent(enum.StrEnum):
    """Tenants, people, memberships, invitations, tokens, claims and the territory registry."""

    user_signed_in = "user.signed_in"
    user_signed_out = "user.signed_out"
    user_sessions_ended = "user.sessions_ended"
    user_sign_in_failed = "user.sign_in_failed"
    user_registered = "user.registered"
    password_reset_requested = "user.password_reset_requested"
    password_changed = "user.password_changed"
    user_disabled = "user.disabled"
    user_enabled = "user.enabled"
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
    territories_imported = "territories.imported"


class UserSession(Base):
    """A signed-in browser, known on the server: signing out, a password change or the end of a
    membership ends it, whatever copy of the cookie exists. Only a hash of its token is stored."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[dt.datetime | None]
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")


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
