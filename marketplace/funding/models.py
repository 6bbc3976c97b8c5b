"""Funding programmes, their calls, the territory rules that make them eligible, and labels.

All of it is **shared** data, like the annuaire's solutions: a published programme is read by
everyone, anonymous visitors included, so nothing here is ``TenantOwned`` (but the import reports,
``ProgrammeImport``, private to the operator that ran them). Each programme and each
label still has one owner (``owner_tenant_id``, an operator: ANCT, a Région, the Banque des
Territoires…), and ``marketplace.funding.services`` checks it on every change and on every read
of something unpublished.

Eligibility is data, never typed-in prose (see ``marketplace.funding.eligibility``):

- the **territory** of a programme is a set of ``ProgrammeScope`` rows, each including or
  excluding one place: the whole of France, a région, a département, an EPCI (its member
  communes), a commune, or a *label* (a list of communes such as Action Cœur de Ville). Eligible
  territory = union of the included places minus union of the excluded ones;
- the **beneficiaries**: kinds (communes, EPCI…), EPCI kinds (CC, CA…), population bounds for
  communes and for EPCI.

Every change of a programme (its content, its territory, its status, its calls) is recorded as a
``ProgrammeVersion``: a snapshot with its number, author, date and a summary.
"""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    exists,
    text,
    true,
)
from sqlalchemy.orm import Mapped, column_property, lazyload, mapped_column, relationship

from marketplace.core import taxonomy
from marketplace.core.audit import event_types
from marketplace.core.clock import utcnow
from marketplace.core.db import Base, TenantOwned, enum_column
from marketplace.core.workflow import Action, Workflow
from tenants.models import Tenant, User
from tenants.territories.models import Commune, Epci

# Vocabularies ---------------------------------------------------------------------------------
# Slugs are stored (and exposed by the API); labels are shown. Themes are the annuaire's domains
# (marketplace.core.taxonomy.DOMAINS), so that programmes and solutions match on them.


class FunderLevel(enum.StrEnum):
    eu = "eu"
    state = "state"
    region = "region"
    departement = "departement"
    banque_des_territoires = "banque_des_territoires"
    agency = "agency"  # ADEME, ANCT, Anah, agences de l'eau…

    @property
    def label(self) -> str:
        return FUNDER_LEVELS[self.value]


FUNDER_LEVELS: dict[str, str] = {
    "eu": "Union européenne",
    "state": "État",
    "region": "Région",
    "departement": "Département",
    "banque_des_territoires": "Banque des Territoires",
    "agency": "Agence ou opérateur public",
}

AID_TYPES: dict[str, str] = {
    "subvention": "Subvention",
    "pret": "Prêt",
    "avance_remboursable": "Avance remboursable",
    "ingenierie": "Ingénierie",
    "fonds_propres": "Fonds propres",
    "garantie": "Garantie",
}

# Who may apply. Passerelle's collectivité tenants are communes and EPCI: eligibility is computed
# for those two; the other kinds are shown, and filter the API.
BENEFICIARY_KINDS: dict[str, str] = {
    "commune": "Communes",
    "epci": "Intercommunalités (EPCI à fiscalité propre)",
    "departement": "Départements",
    "region": "Régions",
    "syndicat": "Syndicats et autres groupements de collectivités",
    "epl": "Entreprises publiques locales (SEM, SPL)",
    "etablissement_public": "Établissements publics",
    "association": "Associations",
    "entreprise": "Entreprises",
}

EPCI_KINDS: dict[str, str] = dict(Epci.KIND_LABELS)

EXPENSE_KINDS: dict[str, str] = {
    "investissement": "Investissement",
    "fonctionnement": "Fonctionnement",
}

PROJECT_STAGES: dict[str, str] = {
    "reflexion": "Réflexion et conception",
    "realisation": "Mise en œuvre et réalisation",
    "usage": "Usage et valorisation",
}


class Recurrence(enum.StrEnum):
    one_off = "one_off"
    recurring = "recurring"
    permanent = "permanent"

    @property
    def label(self) -> str:
        return {"one_off": "Ponctuel", "recurring": "Récurrent", "permanent": "Permanent"}[self.value]


# The State investment grants that share the legal caps (CGCT R2334-27: DETR, DSIL, DPV and DSID
# together at most 80 % of the cost; the Fonds vert sits under the same cap). Set by the operator:
# a name cannot tell it reliably ("dotation de soutien…"), and the 2026 budget bill proposed merging
# DETR/DSIL/DPV into one fund ⚠, which would be one more value here.
STATE_FAMILIES: dict[str, str] = {
    "DETR": "DETR — dotation d'équipement des territoires ruraux",
    "DSIL": "DSIL — dotation de soutien à l'investissement local",
    "DPV": "DPV — dotation politique de la ville",
    "DSID": "DSID — dotation de soutien à l'investissement des départements",
    "FONDS_VERT": "Fonds vert — fonds d'accélération de la transition écologique",
}

# Territory levels of a scope row, from the broadest. ``france`` rows carry the code "FR".
SCOPE_LEVELS: dict[str, str] = {
    "france": "France entière",
    "region": "Région",
    "departement": "Département",
    "epci": "Intercommunalité (EPCI)",
    "commune": "Commune",
    "label": "Label (liste de communes)",
}
FRANCE_CODE = "FR"


class ProgrammeStatus(enum.StrEnum):
    draft = "draft"
    in_review = "in_review"  # waiting for ANCT's review
    published = "published"
    closed = "closed"  # past its closing date (the daily job), or closed by hand
    archived = "archived"

    @property
    def label(self) -> str:
        return {"draft": "Brouillon", "in_review": "En relecture", "published": "Publié", "closed": "Clos",
                "archived": "Archivé"}[self.value]

    @property
    def badge(self) -> str:
        return {"draft": "new", "in_review": "info", "published": "success", "closed": "warning",
                "archived": "warning"}[self.value]

    @property
    def is_public(self) -> bool:
        # A closed programme stays readable (its page, its history, its communes): cities cite it
        # in their files and check what it funded. It is no longer offered.
        return self in (ProgrammeStatus.published, ProgrammeStatus.closed)


class CallStatus(enum.StrEnum):
    draft = "draft"
    published = "published"
    closed = "closed"
    archived = "archived"

    @property
    def label(self) -> str:
        return {"draft": "Brouillon", "published": "Ouvert", "closed": "Clos", "archived": "Archivé"}[self.value]

    @property
    def badge(self) -> str:
        return {"draft": "new", "published": "success", "closed": "warning", "archived": "warning"}[self.value]


@event_types
class FundingEvent(enum.StrEnum):
    """Programmes, their calls and labels, the import, and the collectivités' alerts."""

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
    # The programme import: one event per file, and per held change.
    programmes_imported = "programmes.imported"
    programme_changes_held = "programme.changes_held"
    programme_changes_accepted = "programme.changes_accepted"
    programme_changes_discarded = "programme.changes_discarded"
    # Saved searches of "Mes financements" with their digests.
    funding_alert_created = "funding_alert.created"
    funding_alert_confirmed = "funding_alert.confirmed"
    funding_alert_updated = "funding_alert.updated"
    funding_alert_unsubscribed = "funding_alert.unsubscribed"
    funding_alert_deleted = "funding_alert.deleted"


_P = ProgrammeStatus
_E = FundingEvent
# The curation workflow (marketplace.core.workflow). Back to draft: sent back by ANCT (with a
# comment) or withdrawn by its funder. Reopened: the funder pushed the closing date back, or the
# programme was closed by mistake.
PROGRAMME_WORKFLOW = Workflow("programme", {
    "submit": Action({_P.draft}, _P.in_review, "Seul un brouillon peut être soumis à relecture.",
                     _E.programme_submitted, sets=("submitted_at",)),
    "withdraw": Action({_P.in_review}, _P.draft, "Ce programme n'est pas en relecture.", _E.programme_withdrawn),
    "publish": Action({_P.in_review}, _P.published, "Ce programme n'attend pas de relecture.",
                      _E.programme_published, keeps_first=("published_at",), clears=("closed_at", "archived_at")),
    "send_back": Action({_P.in_review}, _P.draft, "Ce programme n'attend pas de relecture.", _E.programme_sent_back),
    "close": Action({_P.published}, _P.closed, "Seul un programme publié peut être clos.", _E.programme_closed,
                    sets=("closed_at",)),
    "reopen": Action({_P.closed}, _P.published, "Seul un programme clos peut être rouvert.", _E.programme_reopened,
                     keeps_first=("published_at",), clears=("closed_at", "archived_at")),
    "archive": Action({_P.draft, _P.in_review, _P.published, _P.closed}, _P.archived, "Ce programme est déjà archivé.",
                      _E.programme_archived, sets=("archived_at",)),
    "restore": Action({_P.archived}, _P.draft, "Seul un programme archivé peut être remis en brouillon.",
                      _E.programme_restored, clears=("archived_at",)),
}, owner=lambda programme: programme.owner_tenant_id)

_C = CallStatus
# A call is a dated window of a programme ANCT already reviewed: its funder opens and closes it.
# "Ouvrir" and "Rouvrir" both lead to published, each from its own state only.
CALL_WORKFLOW = Workflow("call", {
    "publish": Action({_C.draft}, _C.published, "Un appel s'ouvre depuis un brouillon (ou rouvrez-le s'il est clos).",
                      _E.call_published, keeps_first=("published_at",), clears=("closed_at",)),
    "close": Action({_C.published}, _C.closed, "Seul un appel ouvert peut être clos.", _E.call_closed,
                    sets=("closed_at",)),
    "reopen": Action({_C.closed}, _C.published, "Seul un appel clos peut être rouvert.", _E.call_published,
                     clears=("closed_at",)),
    "archive": Action({_C.draft, _C.published, _C.closed}, _C.archived, "Cet appel est déjà archivé.", _E.call_archived),
    "restore": Action({_C.archived}, _C.draft, "Seul un appel archivé peut être remis en brouillon.", _E.call_restored),
}, owner=lambda call: call.programme.owner_tenant_id)


# The fields an operator writes. Versions snapshot them (plus the status, territory and calls).
CONTENT_FIELDS = (
    "title", "summary", "description", "funders", "instructing_body", "funder_level", "state_family",
    "aid_types", "themes", "beneficiary_kinds", "epci_kinds", "population_min", "population_below",
    "epci_population_min", "epci_population_below", "rate_min_bp", "rate_max_bp", "amount_floor_cents",
    "amount_ceiling_cents", "expense_kinds", "project_stages", "recurrence", "opens_on", "prefiling_on",
    "closes_on", "how_to_apply", "contacts", "source_url", "provenance", "licence", "curation_note",
    "perimeter_check", "facts_checked_on",
)

# Facts checked longer ago than this are badged "à vérifier" and listed for the curators.
FACTS_FRESH_DAYS = 365

FIELD_LABELS: dict[str, str] = {
    "title": "Intitulé", "summary": "Résumé", "description": "Description", "funders": "Financeurs",
    "instructing_body": "Service instructeur", "funder_level": "Échelon du financeur",
    "state_family": "Dotation de l'État", "aid_types": "Types d'aide", "themes": "Thématiques",
    "beneficiary_kinds": "Bénéficiaires", "epci_kinds": "Types d'intercommunalité",
    "population_min": "Population minimale des communes", "population_below": "Population des communes inférieure à",
    "epci_population_min": "Population minimale des EPCI", "epci_population_below": "Population des EPCI inférieure à",
    "rate_min_bp": "Taux minimal", "rate_max_bp": "Taux maximal", "amount_floor_cents": "Montant plancher",
    "amount_ceiling_cents": "Montant plafond", "expense_kinds": "Dépenses éligibles",
    "project_stages": "Étapes du projet", "recurrence": "Récurrence", "opens_on": "Date d'ouverture",
    "prefiling_on": "Date de pré-dépôt", "closes_on": "Date de clôture", "how_to_apply": "Comment candidater",
    "contacts": "Contacts", "source_url": "Source", "provenance": "Provenance", "licence": "Licence",
    "curation_note": "Points d'attention", "perimeter_check": "Périmètre à vérifier",
    "facts_checked_on": "Faits vérifiés le", "status": "État", "scope": "Périmètre", "calls": "Appels",
}


class Programme(Base):
    __tablename__ = "programmes"
    __table_args__ = (
        # Rates are basis points of the eligible cost (8000 = 80 %); money is integer cents.
        CheckConstraint("rate_min_bp IS NULL OR rate_min_bp BETWEEN 0 AND 10000", name="rate_min_is_a_share"),
        CheckConstraint("rate_max_bp IS NULL OR rate_max_bp BETWEEN 0 AND 10000", name="rate_max_is_a_share"),
        CheckConstraint("rate_min_bp IS NULL OR rate_max_bp IS NULL OR rate_min_bp <= rate_max_bp",
                        name="rate_range_ordered"),
        CheckConstraint("amount_floor_cents IS NULL OR amount_floor_cents >= 0", name="floor_positive"),
        CheckConstraint("amount_floor_cents IS NULL OR amount_ceiling_cents IS NULL"
                        " OR amount_floor_cents <= amount_ceiling_cents", name="amount_range_ordered"),
        # Population bounds: at least ``min``, strictly below ``below`` ("moins de 20 000 habitants").
        CheckConstraint("population_min IS NULL OR population_below IS NULL OR population_min < population_below",
                        name="population_range_ordered"),
        CheckConstraint("epci_population_min IS NULL OR epci_population_below IS NULL"
                        " OR epci_population_min < epci_population_below", name="epci_population_range_ordered"),
        # Only State programmes belong to a State grant family (the plan's 80 % cap reads it).
        CheckConstraint("state_family IS NULL OR funder_level = 'state'", name="state_family_is_state"),
        CheckConstraint("status NOT IN ('published', 'closed') OR published_at IS NOT NULL",
                        name="public_has_publication_date"),
        Index("ix_programmes_owner_status", "owner_tenant_id", "status"),
        # The operators' desk: the last changed first; the programmes with a held import change.
        Index("ix_programmes_updated", "updated_at", "id"),
        Index("ix_programmes_pending", "pending_since", postgresql_where=text("pending_since IS NOT NULL"),
              sqlite_where=text("pending_since IS NOT NULL")),
        Index("ix_programmes_status_published", "status", "published_at"),
        # The guichet's list and the API's pages: published programmes by title, a page at a time
        # (without it, every page sorted the whole table: 12 ms of PostgreSQL at 5 000 programmes).
        Index("ix_programmes_status_title", "status", "title", "id"),
        # An imported programme is found again by its id in the source (marketplace.funding.importer).
        UniqueConstraint("owner_tenant_id", "source_id", name="uq_programmes_owner_source_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Not tenant_id: the guard must not hide a published programme. Ownership is checked by the
    # services (marketplace.funding.services.get_editable_programme).
    owner_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    status: Mapped[ProgrammeStatus] = mapped_column(enum_column(ProgrammeStatus, "programme_status"),
                                                    default=ProgrammeStatus.draft)
    version: Mapped[int] = mapped_column(default=0)  # number of the last ProgrammeVersion

    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(400))
    description: Mapped[str] = mapped_column(Text, default="")  # Markdown, rendered sanitised
    funders: Mapped[list[str]] = mapped_column(JSON, default=list)
    instructing_body: Mapped[str] = mapped_column(String(200), default="")
    funder_level: Mapped[FunderLevel] = mapped_column(enum_column(FunderLevel, "funder_level"))
    state_family: Mapped[str | None] = mapped_column(String(20))
    aid_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    themes: Mapped[list[str]] = mapped_column(JSON, default=list)

    # Eligibility (with the scope rows).
    beneficiary_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    epci_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every kind
    population_min: Mapped[int | None]
    population_below: Mapped[int | None]
    epci_population_min: Mapped[int | None]
    epci_population_below: Mapped[int | None]

    rate_min_bp: Mapped[int | None]
    rate_max_bp: Mapped[int | None]
    # BIGINT: a 32-bit integer of cents stops at 21 M€, below some FEDER or loan ceilings.
    amount_floor_cents: Mapped[int | None] = mapped_column(BigInteger)
    amount_ceiling_cents: Mapped[int | None] = mapped_column(BigInteger)
    expense_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    project_stages: Mapped[list[str]] = mapped_column(JSON, default=list)

    recurrence: Mapped[Recurrence] = mapped_column(enum_column(Recurrence, "programme_recurrence"),
                                                   default=Recurrence.permanent)
    opens_on: Mapped[dt.date | None] = mapped_column(Date)
    prefiling_on: Mapped[dt.date | None] = mapped_column(Date)  # date limite de pré-dépôt
    closes_on: Mapped[dt.date | None] = mapped_column(Date, index=True)

    how_to_apply: Mapped[str] = mapped_column(Text, default="")
    contacts: Mapped[str] = mapped_column(Text, default="")
    source_url: Mapped[str] = mapped_column(String(500), default="")
    provenance: Mapped[str] = mapped_column(String(500), default="")  # who wrote it, from what
    licence: Mapped[str] = mapped_column(String(120), default="")
    # What the curator could not confirm (⚠), shown on the page: facts stay editable, never hidden.
    curation_note: Mapped[str] = mapped_column(Text, default="")
    # Why the perimeter is wider than the text's (a list of communes not loaded…): empty when the
    # perimeter is the text's own. Such a programme is offered after the exact ones, with this reason.
    perimeter_check: Mapped[str] = mapped_column(String(300), default="", server_default="")
    # When its facts were last checked against the source (None: never said).
    facts_checked_on: Mapped[dt.date | None] = mapped_column(Date)

    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[dt.datetime | None]
    published_at: Mapped[dt.datetime | None]  # first publication
    closed_at: Mapped[dt.datetime | None]
    archived_at: Mapped[dt.datetime | None]
    review_comment: Mapped[str] = mapped_column(Text, default="")
    reviewed_at: Mapped[dt.datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    # Import (marketplace.funding.importer). ``source_id``: the programme's stable id in its source
    # (the Aides-territoires page…). ``source_content``: the imported fields as the source last gave
    # them (JSON values, dates ISO); the next file is compared with it, not with the live programme
    # its funder may have edited since. ``pending_changes``: what a later file changed that a
    # curator has not yet accepted or discarded ({"fields": {name: value}, "import_id", "line",
    # "filename"}); the published version stays online meanwhile.
    source_id: Mapped[str | None] = mapped_column(String(300))
    # none_as_null: None is SQL NULL, not the JSON value null ("no change held" is one state).
    source_content: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    pending_changes: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    pending_since: Mapped[dt.datetime | None]

    owner: Mapped[Tenant] = relationship(lazy="joined")
    scope: Mapped[list[ProgrammeScope]] = relationship(
        back_populates="programme", lazy="selectin", cascade="all, delete-orphan",
        order_by="(ProgrammeScope.include.desc(), ProgrammeScope.id)")
    calls: Mapped[list[ProgrammeCall]] = relationship(
        back_populates="programme", lazy="selectin", cascade="all, delete-orphan",
        order_by="(ProgrammeCall.closes_on, ProgrammeCall.id)")
    versions: Mapped[list[ProgrammeVersion]] = relationship(
        back_populates="programme", cascade="all, delete-orphan", order_by="ProgrammeVersion.number.desc()")

    @property
    def is_published(self) -> bool:
        return self.status is ProgrammeStatus.published

    def facts_stale(self, on: dt.date) -> bool:
        """Facts never dated, or checked more than a year ago: to be checked again."""
        return self.facts_checked_on is None or (on - self.facts_checked_on).days > FACTS_FRESH_DAYS

    def content(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CONTENT_FIELDS}

    def apply_content(self, content: dict[str, Any]) -> None:
        for name in CONTENT_FIELDS:
            if name in content:
                value = content[name]
                setattr(self, name, list(value) if isinstance(value, list) else value)
        self.updated_at = utcnow()

    # The duck-typed face the funding plan reads (marketplace.funding.plan.engine.line_from_programme):
    # title, id, plan_category, state_family, rate_max_bp, amount_ceiling_cents.
    @property
    def plan_category(self) -> str:
        """How a funding plan counts this programme.

        ``state_grant`` is kept for the State investment grants that share the 80 % cap (a
        ``state_family`` is set): the plan engine requires a family for every State grant. Other
        State subsidies (a ministry's call) are ``other_public_grant``. With several aid types, a
        subsidy wins (it is what caps count), then engineering credits, then loans, then equity.
        """
        kinds = set(self.aid_types or [])
        if self.state_family:
            return "state_grant"
        if "subvention" in kinds:
            return {FunderLevel.eu: "eu_grant", FunderLevel.region: "region_grant",
                    FunderLevel.departement: "departement_grant"}.get(self.funder_level, "other_public_grant")
        if "ingenierie" in kinds:
            return "engineering"
        # A guarantee backs a loan: like a loan, it is outside the grant caps.
        if kinds & {"pret", "avance_remboursable", "garantie"}:
            return "loan"
        if "fonds_propres" in kinds:
            return "equity"
        return "other_public_grant"

    # Labels for the pages and exports.
    @property
    def theme_labels(self) -> list[str]:
        return [taxonomy.DOMAINS.get(t, t) for t in self.themes or []]

    @property
    def aid_type_labels(self) -> list[str]:
        return [AID_TYPES.get(a, a) for a in self.aid_types or []]

    @property
    def beneficiary_labels(self) -> list[str]:
        return [BENEFICIARY_KINDS.get(b, b) for b in self.beneficiary_kinds or []]

    @property
    def public_calls(self) -> list[ProgrammeCall]:
        return [c for c in self.calls if c.status in (CallStatus.published, CallStatus.closed)]

    @property
    def includes(self) -> list[ProgrammeScope]:
        return [s for s in self.scope if s.include]

    @property
    def excludes(self) -> list[ProgrammeScope]:
        return [s for s in self.scope if not s.include]


class ProgrammeScope(Base):
    """One place a programme's territory includes or excludes (see the module docstring)."""

    __tablename__ = "programme_scopes"
    __table_args__ = (
        CheckConstraint("level IN ('france', 'region', 'departement', 'epci', 'commune', 'label')",
                        name="level_known"),
        CheckConstraint("level <> 'france' OR code = 'FR'", name="france_code"),
        # A place is named once per programme: included or excluded, not both.
        UniqueConstraint("programme_id", "level", "code", name="uq_programme_scopes_place"),
        # The inverted lookup of "programmes for this commune" (eligibility.programme_rows_for):
        # the commune's places → scope rows, read from the index alone.
        Index("ix_programme_scopes_lookup", "level", "code", "programme_id", "include"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"))
    include: Mapped[bool] = mapped_column(default=True)
    level: Mapped[str] = mapped_column(String(12))
    # INSEE code (région, département, commune), SIREN (EPCI), label slug, or "FR". No foreign key:
    # one column names several kinds of places; a code that leaves the registry matches nothing.
    code: Mapped[str] = mapped_column(String(60))

    programme: Mapped[Programme] = relationship(back_populates="scope")

    def as_dict(self) -> dict[str, Any]:
        return {"include": self.include, "level": self.level, "code": self.code}


# Whether a programme's territory includes anything, without loading its places (a commune list
# may hold thousands): deferred, the desk's lists ask for it (``undefer``) instead of the scope.
Programme.has_perimeter = column_property(
    exists().where(ProgrammeScope.programme_id == Programme.id, ProgrammeScope.include.is_(True))
    .correlate_except(ProgrammeScope), deferred=True)


class ProgrammeCall(Base):
    """An *appel à projets* or *appel à manifestation d'intérêt*: a dated window of a programme."""

    __tablename__ = "programme_calls"
    __table_args__ = (
        CheckConstraint("opens_on IS NULL OR closes_on IS NULL OR opens_on <= closes_on", name="dates_ordered"),
        CheckConstraint("status <> 'published' OR published_at IS NOT NULL", name="published_has_date"),
        Index("ix_programme_calls_status_closes", "status", "closes_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"), index=True)
    status: Mapped[CallStatus] = mapped_column(enum_column(CallStatus, "call_status"), default=CallStatus.draft)
    kind: Mapped[str] = mapped_column(String(3), default="aap")  # aap | ami
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    opens_on: Mapped[dt.date | None] = mapped_column(Date)
    prefiling_on: Mapped[dt.date | None] = mapped_column(Date)
    closes_on: Mapped[dt.date | None] = mapped_column(Date)
    url: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    published_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]

    programme: Mapped[Programme] = relationship(back_populates="calls")

    KINDS = {"aap": "Appel à projets", "ami": "Appel à manifestation d'intérêt"}
    CONTENT_FIELDS = ("kind", "title", "description", "opens_on", "prefiling_on", "closes_on", "url")

    @property
    def kind_label(self) -> str:
        return self.KINDS.get(self.kind, self.kind)

    @property
    def is_public(self) -> bool:
        return self.status in (CallStatus.published, CallStatus.closed) and self.programme.status.is_public


class ProgrammeVersion(Base):
    """A programme as it was after one change: who, when, what, and the whole snapshot."""

    __tablename__ = "programme_versions"
    __table_args__ = (UniqueConstraint("programme_id", "number", name="uq_programme_versions_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"))
    number: Mapped[int]
    snapshot: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # NULL: the daily job (an automatic closing), or an account since deleted.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    summary: Mapped[str] = mapped_column(String(500))
    # False: a change of what only the funder and ANCT see (a draft call): kept from the public history.
    public: Mapped[bool] = mapped_column(default=True, server_default=true())

    programme: Mapped[Programme] = relationship(back_populates="versions")
    actor: Mapped[User | None] = relationship(lazy="joined")


class ProgrammeImport(TenantOwned, Base):
    """One run of the programme import: who sent which file, what it did, line by line.

    Tenant-owned: an operator reads the reports of its own imports. ``report`` holds the per-line
    entries (``{"line", "outcome", "title", "message", "programme_id", "notes"}``) and how the file
    was read (format, encoding, separator, recognised and ignored columns), as built by
    ``marketplace.funding.importer``. A file refused as a whole leaves no row: nothing changed."""

    __tablename__ = "programme_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(120), default="")  # "Aides-territoires"
    licence: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    rows: Mapped[int] = mapped_column(default=0)
    created_count: Mapped[int] = mapped_column(default=0)
    dates_count: Mapped[int] = mapped_column(default=0)
    held_count: Mapped[int] = mapped_column(default=0)
    unchanged_count: Mapped[int] = mapped_column(default=0)
    rejected_count: Mapped[int] = mapped_column(default=0)
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)

    actor: Mapped[User | None] = relationship(lazy="joined")


class Label(Base):
    """A named list of communes a programme can target: Action Cœur de Ville, Petites Villes de
    Demain, or any list an operator uploads as INSEE codes."""

    __tablename__ = "labels"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The code scope rows name: never changed once created (rows would point at nothing).
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    source_url: Mapped[str] = mapped_column(String(500), default="")
    licence: Mapped[str] = mapped_column(String(120), default="")
    owner_tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    communes_updated_at: Mapped[dt.datetime | None]

    owner: Mapped[Tenant] = relationship(lazy="joined")


class LabelCommune(Base):
    __tablename__ = "label_communes"
    __table_args__ = (
        # "Labels of this commune" (the eligibility lookup) reads this index.
        Index("ix_label_communes_commune", "commune_insee", "label_id"),
    )

    label_id: Mapped[int] = mapped_column(ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True)
    # CASCADE: a commune that leaves the registry (merged into a commune nouvelle) leaves its
    # labels too; the territory import must not fail on it.
    commune_insee: Mapped[str] = mapped_column(ForeignKey("communes.insee", ondelete="CASCADE"), primary_key=True)

    commune: Mapped[Commune] = relationship()


class EligibilityGeneration(Base):
    """One row: a random token replaced in the same transaction as every change that can alter
    eligibility (a programme's rules, territory or status). Each process keeps an in-memory index
    of published programmes' scope rows tagged with the token it was built from
    (``marketplace.funding.eligibility.scope_index``) and rebuilds it when the token differs.

    A random token rather than a counter: a rolled-back change restores the old token with the old
    data, so a token always names one state of the data; a counter would be reused by the next
    change after a rollback, and a process could trust an index built from the rolled-back one."""

    __tablename__ = "eligibility_generation"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# Alerts: saved searches of "Mes financements" (marketplace.funding.alerts) ----------------------

class AlertFrequency(enum.StrEnum):
    daily = "daily"
    weekly = "weekly"

    @property
    def label(self) -> str:
        return {"daily": "Chaque jour", "weekly": "Chaque semaine (le lundi)"}[self.value]


class AlertStatus(enum.StrEnum):
    pending = "pending"  # waiting for the address to be confirmed: nothing is sent
    active = "active"
    unsubscribed = "unsubscribed"

    @property
    def label(self) -> str:
        return {"pending": "En attente de confirmation", "active": "Active",
                "unsubscribed": "Désabonnée"}[self.value]


class FundingAlert(TenantOwned, Base):
    """A collectivité's saved search, mailed as a digest of what is new or changed.

    ``since`` is the baseline: nothing published or changed before it is sent (the alert's
    creation, or its resubscription). What was sent is kept (``FundingAlertItem``): the same item,
    in the same version, is never sent twice, and a version not yet sent is in the next digest.
    """

    __tablename__ = "funding_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    frequency: Mapped[AlertFrequency] = mapped_column(enum_column(AlertFrequency, "alert_frequency"))
    status: Mapped[AlertStatus] = mapped_column(enum_column(AlertStatus, "alert_status"), default=AlertStatus.pending)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[dt.datetime | None]
    confirmation_sent_at: Mapped[dt.datetime | None]  # the last confirmation mail (resends are spaced)
    unsubscribed_at: Mapped[dt.datetime | None]
    since: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_digest_at: Mapped[dt.datetime | None]

    user: Mapped[User | None] = relationship(lazy="joined")
    tenant: Mapped[Tenant] = relationship(lazy="joined")


class FundingAlertDigest(TenantOwned, Base):
    """One digest of one alert for one period ('2026-12-01', or '2026-W49' for a weekly alert).

    The unique period makes the digest job idempotent: a second run, or a worker killed after the
    commit and retried, finds the period done and sends nothing.
    """

    __tablename__ = "funding_alert_digests"
    __table_args__ = (UniqueConstraint("alert_id", "period", name="uq_funding_alert_digests_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("funding_alerts.id", ondelete="CASCADE"), index=True)
    period: Mapped[str] = mapped_column(String(10))
    item_count: Mapped[int] = mapped_column(default=0)
    # What the mail says, written with the digest (title, path, change, reason, closing date): the
    # mail job renders it, so a retried mail says the same thing.
    entries: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    mailed_at: Mapped[dt.datetime | None]  # None while its mail is owed (item_count > 0)

    alert: Mapped[FundingAlert] = relationship(lazy="joined")


class FundingAlertItem(TenantOwned, Base):
    """An item as sent in a digest: its key ('programme:12', 'call:3') and the version sent."""

    __tablename__ = "funding_alert_items"

    alert_id: Mapped[int] = mapped_column(ForeignKey("funding_alerts.id", ondelete="CASCADE"), primary_key=True)
    item_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    stamp: Mapped[str] = mapped_column(String(40), primary_key=True)
    digest_id: Mapped[int] = mapped_column(ForeignKey("funding_alert_digests.id", ondelete="CASCADE"), index=True)


# Loader options for lists of programmes that show neither their territory rows (a commune list may
# hold thousands) nor their calls: both loaded on access only.
WITHOUT_PLACES_NOR_CALLS = (lazyload(Programme.scope), lazyload(Programme.calls))
