"""A collectivité's projects, what Passerelle matches to them, and the funded projects it learns from.

- ``Project``: private to its tenant (title, description, themes, the commune where it happens,
  cost HT, planned start, stage, status, contacts). Published as a **need** (*appel à solutions*),
  its title, need text, commune and themes are seen by startups, which answer with a solution.
- ``ProjectMatch``: a programme or a call matched to a project by the matching jobs, one row per
  (project, target) updated in place, with its score and a short French explanation; ``active``
  turns off when the pair no longer matches (the row stays, so a match that comes back is never
  announced twice); ``notified_at`` / ``reminded_at`` say the digest and the deadline reminder went.
- ``SolutionMatch``: a published solution matched to a published need (a lead for the startup).
- ``NeedAnswer``: a startup's answer to a need: one of its published solutions and a message.
  Owned by the city's tenant (it is the city's mail); the startup reaches its own answers through
  ``services.answers_sent``, filtered on ``startup_tenant_id``, like the annuaire's leads.
- ``FundedProject``: the reference: real projects funded by a programme (the Fonds vert open data),
  shared, imported idempotently by a key of their own.
- ``MatchingSettings``: a tenant's threshold for the daily digest.
"""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.core.audit import event_types
from marketplace.core.clock import utcnow
from marketplace.core.db import Base, TenantOwned, enum_column
from tenants.models import Tenant, User
from tenants.territories.models import Commune


class ProjectStage(enum.StrEnum):
    idea = "idee"
    study = "etude"
    design = "conception"
    works = "travaux"
    operation = "exploitation"

    @property
    def label(self) -> str:
        return {"idee": "Idée", "etude": "Étude", "conception": "Conception", "travaux": "Travaux",
                "exploitation": "Exploitation"}[self.value]


class ProjectStatus(enum.StrEnum):
    active = "actif"
    paused = "en_pause"
    done = "realise"
    abandoned = "abandonne"

    @property
    def label(self) -> str:
        return {"actif": "En cours", "en_pause": "En pause", "realise": "Réalisé", "abandonne": "Abandonné"}[self.value]

    @property
    def is_open(self) -> bool:
        """Matched, digested and reminded: only a project that is going on."""
        return self is ProjectStatus.active


@event_types
class ProjectEvent(enum.StrEnum):
    created = "project.created"
    updated = "project.updated"
    deleted = "project.deleted"
    need_published = "project.need_published"
    need_withdrawn = "project.need_withdrawn"
    need_answered = "project.need_answered"
    funded_imported = "funded_projects.imported"


class Project(TenantOwned, Base):
    __tablename__ = "projects"
    __table_args__ = (
        # The needs startups see, last published first, a page at a time, and their count (without
        # it both read every project: 15 ms and 8 ms of PostgreSQL at 20 000 projects).
        Index("ix_projects_published_needs", "status", "need_published_at", "id",
              postgresql_where=text("need_published_at IS NOT NULL"), sqlite_where=text("need_published_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    themes: Mapped[list[str]] = mapped_column(JSON, default=list)  # taxonomy.DOMAINS slugs
    commune_insee: Mapped[str] = mapped_column(ForeignKey("communes.insee"), index=True)
    cost_ht_cents: Mapped[int | None] = mapped_column(BigInteger)
    planned_start: Mapped[dt.date | None] = mapped_column(Date)
    stage: Mapped[ProjectStage] = mapped_column(enum_column(ProjectStage, "project_stage"), default=ProjectStage.idea)
    status: Mapped[ProjectStatus] = mapped_column(enum_column(ProjectStatus, "project_status"),
                                                  default=ProjectStatus.active)
    need_text: Mapped[str] = mapped_column(Text, default="")  # what the city asks of startups
    need_published_at: Mapped[dt.datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    commune: Mapped[Commune] = relationship(lazy="joined")
    tenant: Mapped[Tenant] = relationship(lazy="joined")
    contacts: Mapped[list[ProjectContact]] = relationship(back_populates="project", cascade="all, delete-orphan",
                                                          order_by="ProjectContact.id")

    @property
    def need_published(self) -> bool:
        return self.need_published_at is not None


class ProjectContact(TenantOwned, Base):
    """A person of the tenant who hears about the project's matches."""

    __tablename__ = "project_contacts"
    __table_args__ = (UniqueConstraint("project_id", "user_id", name="uq_project_contacts_project_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))

    project: Mapped[Project] = relationship(back_populates="contacts")
    user: Mapped[User] = relationship(lazy="joined")


class ProjectMatch(TenantOwned, Base):
    __tablename__ = "project_matches"
    __table_args__ = (UniqueConstraint("project_id", "target", name="uq_project_matches_project_target"),
                      Index("ix_project_matches_programme", "programme_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    target: Mapped[str] = mapped_column(String(30))  # "programme:12" | "call:34"
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("programme_calls.id", ondelete="CASCADE"))
    score: Mapped[int] = mapped_column(Integer)  # 0–100
    explanation: Mapped[str] = mapped_column(Text)
    closes_on: Mapped[dt.date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    first_matched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    notified_at: Mapped[dt.datetime | None]
    reminded_at: Mapped[dt.datetime | None]


class SolutionMatch(TenantOwned, Base):
    __tablename__ = "solution_matches"
    __table_args__ = (UniqueConstraint("project_id", "solution_id", name="uq_solution_matches_project_solution"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    solution_id: Mapped[int] = mapped_column(ForeignKey("solutions.id", ondelete="CASCADE"))
    startup_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    score: Mapped[int] = mapped_column(Integer)
    explanation: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    first_matched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    told_at: Mapped[dt.datetime | None]  # the startup was told of the need (once)


class NeedAnswer(TenantOwned, Base):
    __tablename__ = "need_answers"
    __table_args__ = (UniqueConstraint("project_id", "solution_id", name="uq_need_answers_project_solution"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    solution_id: Mapped[int] = mapped_column(ForeignKey("solutions.id", ondelete="CASCADE"))
    startup_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    project: Mapped[Project] = relationship(lazy="joined")
    startup: Mapped[Tenant] = relationship(foreign_keys="NeedAnswer.startup_tenant_id", lazy="joined")


class FundedProject(Base):
    __tablename__ = "funded_projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # the importer's identity of a row
    source: Mapped[str] = mapped_column(String(200))
    commune_insee: Mapped[str] = mapped_column(String(5), index=True)
    departement: Mapped[str] = mapped_column(String(3), default="")
    measure: Mapped[str] = mapped_column(String(300), index=True)  # the programme's title
    title: Mapped[str] = mapped_column(Text)
    beneficiary: Mapped[str] = mapped_column(String(300), default="")
    siren: Mapped[str] = mapped_column(String(9), default="")
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    # Indexed: a project page asks for the newest import on every visit (store._funded_index).
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class MatchingSettings(TenantOwned, Base):
    __tablename__ = "matching_settings"
    __table_args__ = (UniqueConstraint("tenant_id", name="uq_matching_settings_tenant"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    threshold: Mapped[int] = mapped_column(Integer, default=50)  # digest: matches scored at least this
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


DEFAULT_THRESHOLD = 50
