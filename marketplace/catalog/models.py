"""The annuaire raisonné: solutions, their proposed edits, their references, shortlists and leads.

Two kinds of data live here, and the difference decides how they are read:

- **Shared** rows (``Solution``, ``SolutionRevision``, ``SolutionReference``) are not
  ``TenantOwned``: a published solution is read by everyone, anonymous visitors included. They
  still have one owner (``Solution.owner_tenant_id``) and the services check it on every change
  and on every read of something unpublished.
- **Private** rows (``ShortlistItem``, ``Lead``) are ``TenantOwned``: the session guard filters
  them by construction.
"""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.catalog import taxonomy
from marketplace.db import Base, TenantOwned, utcnow
from tenants.models import Tenant, User, _enum
from tenants.territories.models import Commune, Epci


class SolutionStatus(enum.StrEnum):
    draft = "draft"
    submitted = "submitted"  # waiting for an operator's review
    published = "published"
    archived = "archived"

    @property
    def label(self) -> str:
        return {"draft": "Brouillon", "submitted": "En cours de validation", "published": "Publiée",
                "archived": "Archivée"}[self.value]

    @property
    def badge(self) -> str:
        return {"draft": "new", "submitted": "info", "published": "success", "archived": "warning"}[self.value]


# The curation workflow, in one place: Solution.move_to() refuses anything not listed here.
TRANSITIONS: dict[SolutionStatus, set[SolutionStatus]] = {
    SolutionStatus.draft: {SolutionStatus.submitted, SolutionStatus.archived},
    # back to draft: rejected by an operator (with a comment) or withdrawn by its owner
    SolutionStatus.submitted: {SolutionStatus.published, SolutionStatus.draft, SolutionStatus.archived},
    SolutionStatus.published: {SolutionStatus.archived},
    SolutionStatus.archived: {SolutionStatus.draft},
}


class IllegalTransition(ValueError):
    pass


# The fields a startup writes and an operator reviews. An edit to a published solution is stored
# as a dict of these keys (SolutionRevision.content) and copied onto the solution on approval.
CONTENT_FIELDS = (
    "name", "pitch", "description", "domains", "sizes", "price_model", "price_min_ht_cents",
    "price_max_ht_cents", "price_unit", "hosting", "gdpr_dpa", "secnumcloud", "rgaa_level", "licence",
    "open_data_standards", "contact_name", "contact_email", "website", "logo",
)


class Solution(Base):
    __tablename__ = "solutions"
    __table_args__ = (
        CheckConstraint("price_min_ht_cents IS NULL OR price_min_ht_cents >= 0", name="price_min_positive"),
        CheckConstraint("price_max_ht_cents IS NULL OR price_min_ht_cents IS NULL"
                        " OR price_max_ht_cents >= price_min_ht_cents", name="price_range_ordered"),
        # A published solution always knows when it was first published (sort key of the annuaire).
        CheckConstraint("status <> 'published' OR published_at IS NOT NULL", name="published_has_date"),
        Index("ix_solutions_owner_status", "owner_tenant_id", "status"),
        Index("ix_solutions_status_published", "status", "published_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Not tenant_id: the guard must not hide a published solution from buyers. Ownership is
    # checked by the services (marketplace.catalog.services.get_owned_solution).
    owner_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    status: Mapped[SolutionStatus] = mapped_column(_enum(SolutionStatus, "solution_status"),
                                                   default=SolutionStatus.draft)

    # Content: the published version once the solution is published.
    name: Mapped[str] = mapped_column(String(120))
    pitch: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")  # Markdown, rendered sanitised
    domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    sizes: Mapped[list[str]] = mapped_column(JSON, default=list)
    price_model: Mapped[str] = mapped_column(String(20))
    price_min_ht_cents: Mapped[int | None]
    price_max_ht_cents: Mapped[int | None]
    price_unit: Mapped[str] = mapped_column(String(120), default="")  # "par point lumineux et par an"
    hosting: Mapped[str] = mapped_column(String(10))
    gdpr_dpa: Mapped[bool] = mapped_column(default=False)  # accord de traitement (RGPD art. 28)
    secnumcloud: Mapped[bool] = mapped_column(default=False)
    rgaa_level: Mapped[str] = mapped_column(String(20), default="non-evalue")
    licence: Mapped[str | None] = mapped_column(String(100))
    open_data_standards: Mapped[list[str]] = mapped_column(JSON, default=list)
    contact_name: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str] = mapped_column(String(254))
    website: Mapped[str | None] = mapped_column(String(300))
    logo: Mapped[str | None] = mapped_column(String(60))  # file name under uploads/logos

    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[dt.datetime | None]
    published_at: Mapped[dt.datetime | None]  # first publication; kept across approved edits
    archived_at: Mapped[dt.datetime | None]
    # The operator's last decision, shown to the startup (a rejection says what to fix).
    review_comment: Mapped[str] = mapped_column(Text, default="")
    reviewed_at: Mapped[dt.datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    owner: Mapped[Tenant] = relationship(lazy="joined")
    references: Mapped[list["SolutionReference"]] = relationship(
        back_populates="solution", lazy="selectin", order_by="SolutionReference.year.desc()",
        cascade="all, delete-orphan")
    revisions: Mapped[list["SolutionRevision"]] = relationship(
        back_populates="solution", order_by="SolutionRevision.id.desc()", cascade="all, delete-orphan")

    def move_to(self, status: SolutionStatus) -> None:
        if status not in TRANSITIONS[self.status]:
            raise IllegalTransition(f"{self.status.value} → {status.value}")
        now = utcnow()
        self.status = status
        if status is SolutionStatus.submitted:
            self.submitted_at = now
        elif status is SolutionStatus.published:
            self.published_at = self.published_at or now
            self.archived_at = None
        elif status is SolutionStatus.archived:
            self.archived_at = now

    @property
    def is_published(self) -> bool:
        return self.status is SolutionStatus.published

    def content(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CONTENT_FIELDS}

    def apply_content(self, content: dict[str, Any]) -> None:
        for name in CONTENT_FIELDS:
            if name in content:
                value = content[name]
                setattr(self, name, list(value) if isinstance(value, list) else value)
        self.updated_at = utcnow()

    # Public references: those a city declined are not shown to anyone but the startup.
    @property
    def public_references(self) -> list["SolutionReference"]:
        return [r for r in self.references if r.status is not ReferenceStatus.declined]

    @property
    def verified_count(self) -> int:
        return sum(1 for r in self.references if r.status is ReferenceStatus.verified)

    @property
    def deployments(self) -> int:
        return len(self.public_references)

    @property
    def pending_revision(self) -> "SolutionRevision | None":
        return next((r for r in self.revisions if r.status is RevisionStatus.pending), None)

    # Labels for the pages and exports.
    @property
    def domain_labels(self) -> list[str]:
        return [taxonomy.DOMAINS.get(d, d) for d in self.domains or []]

    @property
    def size_labels(self) -> list[str]:
        return [taxonomy.SIZES[s][0] if s in taxonomy.SIZES else s for s in self.sizes or []]


class RevisionStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    withdrawn = "withdrawn"  # the startup cancelled it, or the solution was archived

    @property
    def label(self) -> str:
        return {"pending": "En cours de validation", "approved": "Acceptée", "rejected": "Refusée",
                "withdrawn": "Retirée"}[self.value]


class SolutionRevision(Base):
    """A proposed edit to a published solution: the published version stays online until an
    operator approves this one (its content then replaces the solution's)."""

    __tablename__ = "solution_revisions"
    __table_args__ = (
        # One proposal under review at a time: a new edit updates it rather than queueing another.
        Index("uq_solution_revisions_pending", "solution_id", unique=True,
              sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    solution_id: Mapped[int] = mapped_column(ForeignKey("solutions.id", ondelete="CASCADE"), index=True)
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[RevisionStatus] = mapped_column(_enum(RevisionStatus, "revision_status"),
                                                   default=RevisionStatus.pending)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None]
    comment: Mapped[str] = mapped_column(Text, default="")

    solution: Mapped[Solution] = relationship(back_populates="revisions")
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])

    def changed_fields(self) -> list[str]:
        return [name for name in CONTENT_FIELDS
                if name in self.content and self.content[name] != getattr(self.solution, name)]


class ReferenceStatus(enum.StrEnum):
    declared = "declared"  # said by the startup, not yet confirmed
    verified = "verified"  # confirmed by the city's own tenant
    declined = "declined"  # the city says it is not (or no longer) a user: hidden from buyers

    @property
    def label(self) -> str:
        return {"declared": "Déclarée par la startup", "verified": "Référence vérifiée",
                "declined": "Contestée par la collectivité"}[self.value]


class SolutionReference(Base):
    """A commune or an EPCI that deployed the solution, from the territory registry."""

    __tablename__ = "solution_references"
    __table_args__ = (
        CheckConstraint("(commune_insee IS NULL) <> (epci_siren IS NULL)", name="one_territory"),
        CheckConstraint("year BETWEEN 1990 AND 2100", name="year_plausible"),
        # A territory is listed once per solution (NULLs never collide, so one constraint each).
        UniqueConstraint("solution_id", "commune_insee", name="uq_solution_references_commune"),
        UniqueConstraint("solution_id", "epci_siren", name="uq_solution_references_epci"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    solution_id: Mapped[int] = mapped_column(ForeignKey("solutions.id", ondelete="CASCADE"), index=True)
    commune_insee: Mapped[str | None] = mapped_column(ForeignKey("communes.insee"), index=True)
    epci_siren: Mapped[str | None] = mapped_column(ForeignKey("epcis.siren"), index=True)
    year: Mapped[int]
    testimonial: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[ReferenceStatus] = mapped_column(_enum(ReferenceStatus, "reference_status"),
                                                    default=ReferenceStatus.declared)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    solution: Mapped[Solution] = relationship(back_populates="references")
    commune: Mapped[Commune | None] = relationship(lazy="joined")
    epci: Mapped[Epci | None] = relationship(lazy="joined")

    @property
    def territory_name(self) -> str:
        return self.commune.name if self.commune else self.epci.name

    @property
    def territory_code(self) -> str:
        return self.commune_insee or self.epci_siren

    @property
    def territory_kind(self) -> str:
        return "Commune" if self.commune else self.epci.kind_label

    @property
    def population(self) -> int:
        return self.commune.population if self.commune else self.epci.population

    @property
    def is_verified(self) -> bool:
        return self.status is ReferenceStatus.verified


class ShortlistItem(TenantOwned, Base):
    """One solution in a buyer's shortlist, with the buyer's note.

    A tenant has a single shortlist, so the items are the shortlist: no parent row to keep in step.
    """

    __tablename__ = "shortlist_items"
    __table_args__ = (UniqueConstraint("tenant_id", "solution_id", name="uq_shortlist_items_tenant_solution"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    solution_id: Mapped[int] = mapped_column(ForeignKey("solutions.id", ondelete="CASCADE"), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    solution: Mapped[Solution] = relationship(lazy="joined")


class Lead(TenantOwned, Base):
    """'Contacter la startup': a buyer's message about a solution.

    Two tenants see a lead, and each must reach only its own:
    - the buyer's side is the row's ``tenant_id``: the session guard filters it like any private row;
    - the startup's side is ``startup_tenant_id``. The guard cannot express "either column", so the
      startup reaches its leads only through ``services.leads_received`` and
      ``services.get_received_lead``, which lift the guard for one statement filtered on
      ``startup_tenant_id = <the startup>`` (tests/catalog/test_leads.py proves another startup
      gets 404). ``startup_tenant_id`` is copied from the solution's owner at creation, so the
      filter never needs a join.
    """

    __tablename__ = "leads"
    __table_args__ = (Index("ix_leads_startup_created", "startup_tenant_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    solution_id: Mapped[int] = mapped_column(ForeignKey("solutions.id", ondelete="CASCADE"), index=True)
    startup_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    buyer_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    handled_at: Mapped[dt.datetime | None]

    solution: Mapped[Solution] = relationship(lazy="joined")
    buyer_tenant: Mapped[Tenant] = relationship(foreign_keys="Lead.tenant_id", lazy="joined")
    buyer_user: Mapped[User | None] = relationship(lazy="joined")
