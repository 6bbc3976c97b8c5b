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
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.core import taxonomy
from marketplace.core.audit import event_types
from marketplace.core.clock import utcnow
from marketplace.core.db import Base, TenantOwned, enum_column
from marketplace.core.workflow import Action, Workflow
from tenants.models import Tenant, User
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


@event_types
class CatalogEvent(enum.StrEnum):
    """Every step of a solution's curation, and what buyers and cities do with it."""

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


_S = SolutionStatus
# The curation workflow, in one place (marketplace.core.workflow): back to draft when an operator
# rejects a submission (with a comment) or its owner withdraws it; an archived solution is
# reviewed again before it is published again.
SOLUTION_WORKFLOW = Workflow("solution", {
    "submit": Action({_S.draft}, _S.submitted, "Seul un brouillon peut être soumis à validation.",
                     CatalogEvent.solution_submitted, sets=("submitted_at",)),
    "withdraw": Action({_S.submitted}, _S.draft, "Cette solution n'est pas en cours de validation.",
                       CatalogEvent.solution_withdrawn),
    "publish": Action({_S.submitted}, _S.published, "Cette solution n'attend pas de validation.",
                      CatalogEvent.solution_published, keeps_first=("published_at",), clears=("archived_at",)),
    "reject": Action({_S.submitted}, _S.draft, "Cette solution n'attend pas de validation.",
                     CatalogEvent.solution_rejected),
    "archive": Action({_S.draft, _S.submitted, _S.published}, _S.archived, "Cette solution est déjà archivée.",
                      CatalogEvent.solution_archived, sets=("archived_at",)),
    "restore": Action({_S.archived}, _S.draft, "Seule une solution archivée peut être remise en brouillon.",
                      CatalogEvent.solution_restored, clears=("archived_at",)),
}, owner=lambda solution: solution.owner_tenant_id)


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
    status: Mapped[SolutionStatus] = mapped_column(enum_column(SolutionStatus, "solution_status"),
                                                   default=SolutionStatus.draft)

    # Content: the published version once the solution is published.
    name: Mapped[str] = mapped_column(String(120))
    pitch: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")  # Markdown, rendered sanitised
    domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    sizes: Mapped[list[str]] = mapped_column(JSON, default=list)
    price_model: Mapped[str] = mapped_column(String(20))
    # BIGINT: amounts are bounded once for the whole product (marketplace.core.money.MAX_CENTS).
    price_min_ht_cents: Mapped[int | None] = mapped_column(BigInteger)
    price_max_ht_cents: Mapped[int | None] = mapped_column(BigInteger)
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
    references: Mapped[list[SolutionReference]] = relationship(
        back_populates="solution", lazy="selectin", order_by="SolutionReference.year.desc()",
        cascade="all, delete-orphan")
    revisions: Mapped[list[SolutionRevision]] = relationship(
        back_populates="solution", order_by="SolutionRevision.id.desc()", cascade="all, delete-orphan")

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
    def public_references(self) -> list[SolutionReference]:
        return [r for r in self.references if r.status is not ReferenceStatus.declined]

    @property
    def verified_count(self) -> int:
        return sum(1 for r in self.references if r.status is ReferenceStatus.verified)

    @property
    def deployments(self) -> int:
        return len(self.public_references)

    @property
    def pending_revision(self) -> SolutionRevision | None:
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
    status: Mapped[RevisionStatus] = mapped_column(enum_column(RevisionStatus, "revision_status"),
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
    status: Mapped[ReferenceStatus] = mapped_column(enum_column(ReferenceStatus, "reference_status"),
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
