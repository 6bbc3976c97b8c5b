"""Model contracts: the procurement thresholds as data, the versioned template kits, and the documents
a collectivité generates from them.

- ``ProcurementThreshold``: a threshold of the Code de la commande publique (the dispense threshold,
  the achat innovant's, the EU thresholds), for some natures of purchase, with its article and its
  validity; a change of the law is a new row (``marketplace.core.rules``).
- ``ContractTemplate``: one version of a kit (partenariat d'innovation, achat innovant…): its
  questionnaire and the source of each document it produces, as reviewable text. Kits are written in
  the repository (``marketplace/contracts/library/``); operators publish new versions; a document
  keeps the version it was made with.
- ``ContractDossier``: a collectivité's file for one purchase: the answers shared by its documents
  (so that the next document of the same purchase starts from them), its drafts and documents.
- ``ContractDraft``: an interview in progress for one kit; ``ContractDocument``: a generated
  document, with its answers, its template version and the hash of its text.
"""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.core.audit import event_types
from marketplace.core.clock import utcnow
from marketplace.core.db import Base, TenantOwned, enum_column
from marketplace.core.rules import DatedRule
from marketplace.core.workflow import Action, Workflow
from tenants.models import User

NATURES = {"services": "Services", "supplies": "Fournitures", "works": "Travaux"}


class ProcurementThreshold(DatedRule, Base):
    __tablename__ = "procurement_thresholds"
    __table_args__ = (
        # Successive versions of one threshold share its code and natures and differ by their start.
        UniqueConstraint("code", "natures_key", "valid_from", name="uq_procurement_thresholds_version"),
        CheckConstraint("amount_ht_cents > 0", name="amount_positive"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    amount_ht_cents: Mapped[int] = mapped_column(BigInteger)
    # The natures of purchase it applies to ("services", "supplies", "works"), and the same sorted and
    # joined, so that a database constraint can hold one version per day.
    natures: Mapped[list[str]] = mapped_column(JSON, default=list)
    natures_key: Mapped[str] = mapped_column(String(40))
    # The law compares "inférieur à": a need equal to the threshold is not under it.
    strictly_below: Mapped[bool] = mapped_column(Boolean, default=True)


class TemplateStatus(enum.StrEnum):
    draft = "draft"
    published = "published"
    archived = "archived"

    @property
    def label(self) -> str:
        return {"draft": "Brouillon", "published": "Publiée", "archived": "Archivée"}[self.value]

    @property
    def badge(self) -> str:
        return {"draft": "new", "published": "success", "archived": "warning"}[self.value]


@event_types
class ContractEvent(enum.StrEnum):
    template_version_created = "contract_template.version_created"
    template_version_published = "contract_template.version_published"
    template_version_archived = "contract_template.version_archived"
    threshold_superseded = "procurement_threshold.superseded"
    dossier_created = "contract_dossier.created"
    document_generated = "contract_document.generated"
    document_deleted = "contract_document.deleted"


# Operators publish a new version of a kit; documents keep the version they were made with.
TEMPLATE_WORKFLOW = Workflow("contract_template", {
    "publish": Action({TemplateStatus.draft}, TemplateStatus.published,
                      "Seule une version en brouillon peut être publiée.",
                      ContractEvent.template_version_published, sets=("published_at",)),
    "archive": Action({TemplateStatus.draft, TemplateStatus.published}, TemplateStatus.archived,
                      "Cette version est déjà archivée.", ContractEvent.template_version_archived,
                      sets=("archived_at",)),
}, owner=lambda template: None)


class ContractTemplate(Base):
    """One version of a kit. Shared data: every collectivité reads the published versions."""

    __tablename__ = "contract_templates"
    __table_args__ = (
        UniqueConstraint("slug", "version", name="uq_contract_templates_slug_version"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60))  # the kit: "partenariat-innovation"
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[TemplateStatus] = mapped_column(enum_column(TemplateStatus, "contract_template_status"),
                                                   default=TemplateStatus.draft)
    questionnaire: Mapped[str] = mapped_column(Text)  # TOML: the questions, their steps and conditions
    documents: Mapped[dict[str, str]] = mapped_column(JSON)  # document key → source text
    checksum: Mapped[str] = mapped_column(String(64))  # of the questionnaire and the sources
    change_note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    published_at: Mapped[dt.datetime | None]
    archived_at: Mapped[dt.datetime | None]

    created_by: Mapped[User | None] = relationship()


class ContractDossier(TenantOwned, Base):
    """A collectivité's file for one purchase (a solution, a group purchase): its shared answers."""

    __tablename__ = "contract_dossiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    solution_id: Mapped[int | None] = mapped_column(ForeignKey("solutions.id", ondelete="SET NULL"))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    drafts: Mapped[list[ContractDraft]] = relationship(back_populates="dossier", cascade="all, delete-orphan",
                                                       order_by="ContractDraft.id")
    documents: Mapped[list[ContractDocument]] = relationship(
        back_populates="dossier", cascade="all, delete-orphan", order_by="ContractDocument.id")


class ContractDraft(TenantOwned, Base):
    """An interview in progress: one kit, the answers typed so far, the step reached."""

    __tablename__ = "contract_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("contract_dossiers.id", ondelete="CASCADE"), index=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("contract_templates.id", ondelete="RESTRICT"))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    step: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    dossier: Mapped[ContractDossier] = relationship(back_populates="drafts")
    template: Mapped[ContractTemplate] = relationship(lazy="joined")


class ContractDocument(TenantOwned, Base):
    """A generated document. Its text (the blocks every output is made from) and the hash of it are
    kept, so that regenerating from the same answers and version can be checked to say the same."""

    __tablename__ = "contract_documents"
    __table_args__ = (Index("ix_contract_documents_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("contract_dossiers.id", ondelete="CASCADE"), index=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("contract_templates.id", ondelete="RESTRICT"))
    document_key: Mapped[str] = mapped_column(String(60))  # which document of the kit ("contrat", "note")
    title: Mapped[str] = mapped_column(String(300))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The partner this copy names, for kits that make one contract per partner (identical terms).
    party_index: Mapped[int | None]
    blocks: Mapped[list[Any]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    dossier: Mapped[ContractDossier] = relationship(back_populates="documents")
    template: Mapped[ContractTemplate] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship()
