"""The annuaire's rules: curation, quota, references, shortlists, leads. No Flask here.

Services flush, never commit: the view (or job) commits once, then the side effects run (search
indexing and mails are registered with ``after_commit``). Every state change writes its audit
event in the same transaction.

Solutions are shared data, so the tenant guard does not protect them: ownership and visibility
are checked here, by ``get_owned_solution`` and ``get_visible_solution``, and nowhere else.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from marketplace.catalog.models import (
    CONTENT_FIELDS,
    SOLUTION_WORKFLOW,
    Lead,
    ReferenceStatus,
    RevisionStatus,
    ShortlistItem,
    Solution,
    SolutionReference,
    SolutionRevision,
    SolutionStatus,
)
from marketplace.catalog.models import (
    CatalogEvent as E,
)
from marketplace.core import audit, money, taxonomy
from marketplace.core.clock import utcnow
from marketplace.core.db import TenantSession, all_tenants, json_list_contains, page_in_order
from marketplace.core.entitlements import plan_of, upgrade_hint
from marketplace.core.errors import NotFound, ServiceError
from marketplace.core.exports import csv_text
from marketplace.core.rendering import plain_text
from marketplace.core.signals import solution_changed
from search.indexing import index_later, indexing_skipped
from tenants.access import Actor
from tenants.models import Tenant, TenantKind, User
from tenants.territories.models import Commune, Epci

MAX_COMPARE = 4

def _reindex(session: Session, solution: Solution) -> None:
    """The public document of this solution changed: re-index it once the transaction commits."""
    if not indexing_skipped(session):
        index_later(session, "solution", solution.id)
        solution_changed.send(session, solution_id=solution.id)


# Who is looking --------------------------------------------------------------------------------

def may_view(solution: Solution, actor: Actor) -> bool:
    """Published: everyone. Otherwise its startup, and the ANCT curators who moderate it."""
    return solution.is_published or actor.is_curator or actor.tenant_id == solution.owner_tenant_id


def get_visible_solution(session: Session, solution_id: int, actor: Actor) -> Solution:
    """A published solution for anyone; a draft, submitted or archived one only for its owner and
    the operators. Everyone else gets NotFound (404, never 403: no existence leak)."""
    solution = session.get(Solution, solution_id)
    if solution is None or not may_view(solution, actor):
        raise NotFound()
    return solution


def get_owned_solution(session: Session, tenant_id: int | None, solution_id: int) -> Solution:
    solution = session.get(Solution, solution_id)
    if solution is None or tenant_id is None or solution.owner_tenant_id != tenant_id:
        raise NotFound()
    return solution


def get_any_solution(session: Session, solution_id: int) -> Solution:
    """For operators (the views check the role)."""
    solution = session.get(Solution, solution_id)
    if solution is None:
        raise NotFound()
    return solution


# The plan limit --------------------------------------------------------------------------------

def publication_limit(session: Session, tenant: Tenant) -> int | None:
    """How many solutions this startup may have online at once; None means no limit (its plan)."""
    return plan_of(session, tenant).published_solutions


def _online_count(session: Session, tenant_id: int, statuses: list[SolutionStatus], excluding: int | None) -> int:
    stmt = select(func.count()).select_from(Solution).where(Solution.owner_tenant_id == tenant_id,
                                                            Solution.status.in_(statuses))
    if excluding is not None:
        stmt = stmt.where(Solution.id != excluding)
    return session.scalar(stmt) or 0


def can_publish(session: Session, tenant: Tenant, *, excluding: Solution | None = None,
                counting_submitted: bool = False) -> bool:
    """Whether one more solution of this tenant may go online.

    At submission, solutions already waiting for review count too: a startup should not wait for
    a review whose answer is already known.
    """
    limit = publication_limit(session, tenant)
    if limit is None:
        return True
    statuses = [SolutionStatus.published] + ([SolutionStatus.submitted] if counting_submitted else [])
    return _online_count(session, tenant.id, statuses, excluding.id if excluding else None) < limit


def check_publication_quota(session: Session, tenant: Tenant, solution: Solution | None = None, *,
                            counting_submitted: bool = False) -> None:
    if can_publish(session, tenant, excluding=solution, counting_submitted=counting_submitted):
        return
    limit = publication_limit(session, tenant)
    allowance = ("L'offre Découverte permet d'avoir une seule solution publiée à la fois" if limit == 1 else
                 f"Votre offre permet d'avoir {limit} solutions publiées à la fois")
    raise ServiceError(f"{allowance} (en comptant celles en cours de validation). Archivez une solution publiée, "
                       + upgrade_hint("ou publiez-en davantage"))


# Writing a solution ----------------------------------------------------------------------------

def _content(data: dict[str, Any]) -> dict[str, Any]:
    # Only the reviewed content fields: never Model(**request_data).
    return {name: data[name] for name in CONTENT_FIELDS if name in data}


def create_solution(session: Session, actor: User, tenant: Tenant, data: dict[str, Any]) -> Solution:
    if tenant.kind is not TenantKind.startup:
        raise ServiceError("Seules les startups proposent des solutions dans l'annuaire.")
    solution = Solution(owner_tenant_id=tenant.id, status=SolutionStatus.draft)
    solution.apply_content(_content(data))
    session.add(solution)
    session.flush()
    audit.record(session, E.solution_created, actor_id=actor.id, tenant_id=tenant.id, obj=solution,
                 name=solution.name)
    return solution


def update_solution(session: Session, actor: User, solution: Solution, data: dict[str, Any]) -> str:
    """Save an edit. Returns 'saved' (draft or submitted: changed in place), 'proposed' (published:
    stored as a revision for review, the published version stays online) or 'unchanged'."""
    content = _content(data)
    if solution.status is SolutionStatus.archived:
        raise ServiceError("Cette solution est archivée : remettez-la en brouillon pour la modifier.")
    if solution.status is not SolutionStatus.published:
        solution.apply_content(content)
        audit.record(session, E.solution_updated, actor_id=actor.id, tenant_id=solution.owner_tenant_id,
                     obj=solution)
        return "saved"
    pending = solution.pending_revision
    proposal = dict(pending.content if pending else solution.content(), **content)
    if proposal == solution.content():
        # Edited back to what is online: nothing left to review.
        if pending is not None:
            pending.status = RevisionStatus.withdrawn
            pending.updated_at = utcnow()
            audit.record(session, E.solution_edit_withdrawn, actor_id=actor.id,
                         tenant_id=solution.owner_tenant_id, obj=solution, revision_id=pending.id)
        return "unchanged"
    if pending is None:
        pending = SolutionRevision(solution=solution, content=proposal, author_id=actor.id)
        session.add(pending)
    else:
        pending.content = proposal
        pending.author_id = actor.id
        pending.updated_at = utcnow()
    session.flush()
    audit.record(session, E.solution_edit_proposed, actor_id=actor.id, tenant_id=solution.owner_tenant_id,
                 obj=solution, revision_id=pending.id, fields=pending.changed_fields())
    return "proposed"


def withdraw_edit(session: Session, actor: User, solution: Solution) -> None:
    pending = solution.pending_revision
    if pending is None:
        raise ServiceError("Aucune modification n'est en attente pour cette solution.")
    pending.status = RevisionStatus.withdrawn
    pending.updated_at = utcnow()
    audit.record(session, E.solution_edit_withdrawn, actor_id=actor.id, tenant_id=solution.owner_tenant_id,
                 obj=solution, revision_id=pending.id)


# The curation workflow (SOLUTION_WORKFLOW) -------------------------------------------------------

def _room_to_publish(session: Session, solution: Solution) -> None:
    try:
        check_publication_quota(session, solution.owner, solution)
    except ServiceError:
        raise ServiceError(f"{solution.owner.name} a déjà le nombre de solutions publiées que permet son "
                           "offre : elle doit en archiver une avant cette publication.") from None


def submit(session: Session, actor: User, solution: Solution) -> None:
    SOLUTION_WORKFLOW.apply(session, solution, "submit", actor, guard=lambda: check_publication_quota(
        session, solution.owner, solution, counting_submitted=True))


def withdraw_submission(session: Session, actor: User, solution: Solution) -> None:
    SOLUTION_WORKFLOW.apply(session, solution, "withdraw", actor)


def approve(session: Session, operator: User, solution: Solution, comment: str = "") -> str:
    """An operator publishes a submitted solution, or applies its pending edit. Returns which."""
    comment = comment.strip()
    now = utcnow()
    if solution.status is SolutionStatus.submitted:
        SOLUTION_WORKFLOW.apply(session, solution, "publish", operator, guard=lambda: _room_to_publish(session, solution),
                                comment=comment or None)
        solution.review_comment, solution.reviewed_at, solution.reviewed_by_id = comment, now, operator.id
        _reindex(session, solution)
        return "published"
    pending = solution.pending_revision
    if solution.is_published and pending is not None:
        changed = pending.changed_fields()
        solution.apply_content(pending.content)
        pending.status, pending.decided_by_id, pending.decided_at, pending.comment = (
            RevisionStatus.approved, operator.id, now, comment)
        solution.review_comment, solution.reviewed_at, solution.reviewed_by_id = comment, now, operator.id
        audit.record(session, E.solution_edit_approved, actor_id=operator.id, tenant_id=solution.owner_tenant_id,
                     obj=solution, revision_id=pending.id, fields=changed, comment=comment or None)
        _reindex(session, solution)
        return "edit_approved"
    raise ServiceError("Cette solution n'a rien en attente de validation.")


def reject(session: Session, operator: User, solution: Solution, comment: str) -> str:
    """Refuse a submission (back to draft) or a pending edit (the published version stays)."""
    comment = comment.strip()
    if not comment:
        raise ServiceError("Expliquez le refus : la startup lira ce commentaire pour corriger sa fiche.", "comment")
    now = utcnow()
    if solution.status is SolutionStatus.submitted:
        SOLUTION_WORKFLOW.apply(session, solution, "reject", operator, comment=comment)
        solution.review_comment, solution.reviewed_at, solution.reviewed_by_id = comment, now, operator.id
        return "rejected"
    pending = solution.pending_revision
    if solution.is_published and pending is not None:
        pending.status, pending.decided_by_id, pending.decided_at, pending.comment = (
            RevisionStatus.rejected, operator.id, now, comment)
        audit.record(session, E.solution_edit_rejected, actor_id=operator.id, tenant_id=solution.owner_tenant_id,
                     obj=solution, revision_id=pending.id, comment=comment)
        return "edit_rejected"
    raise ServiceError("Cette solution n'a rien en attente de validation.")


def archive(session: Session, actor: User | None, solution: Solution, note: str | None = None) -> None:
    """The owner or an operator takes a solution off the annuaire (pending edits are dropped);
    ``actor`` None: Passerelle itself (a plan that ends), saying why in ``note``."""
    was_published = solution.is_published
    SOLUTION_WORKFLOW.apply(session, solution, "archive", actor, was_published=was_published, note=note)
    pending = solution.pending_revision
    if pending is not None:
        pending.status = RevisionStatus.withdrawn
        pending.updated_at = utcnow()
    if was_published:
        _reindex(session, solution)


def restore(session: Session, actor: User, solution: Solution) -> None:
    """An archived solution goes back to draft; it must be reviewed again to be published."""
    SOLUTION_WORKFLOW.apply(session, solution, "restore", actor)


# Lists -----------------------------------------------------------------------------------------

def solutions_of(session: Session, tenant: Tenant) -> list[Solution]:
    # The workspace's list shows each one's pending change and last review: revisions in one query.
    stmt = (select(Solution).where(Solution.owner_tenant_id == tenant.id).order_by(Solution.updated_at.desc())
            .options(selectinload(Solution.revisions)))
    return list(session.scalars(stmt))


def _published():
    return select(Solution).where(Solution.status == SolutionStatus.published)


def published_solutions(session: Session, page: int = 1, per_page: int = 20, domain: str | None = None,
                        ranked: list[int] | None = None) -> tuple[list[Solution], int]:
    """A page of published solutions, newest first; ``ranked``: those matching words, in that order."""
    stmt = _published()
    if domain:
        if domain not in taxonomy.DOMAINS:
            return [], 0
        stmt = stmt.where(json_list_contains(Solution.domains, domain))
    if ranked is not None:
        return page_in_order(session, stmt, Solution, ranked, page, per_page)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Solution.published_at.desc(), Solution.id.desc())
                           .offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


@dataclass(frozen=True)
class ModerationQueue:
    submitted: list[Solution]  # the oldest submitted solutions
    submitted_total: int
    edits: list[SolutionRevision]  # the oldest pending edits of published solutions
    edits_total: int


def moderation_queue(session: Session, limit: int = 20) -> ModerationQueue:
    """Submitted solutions, then pending edits of published ones; oldest first (fair queue), the
    first ``limit`` of each with how many wait."""
    submitted = select(Solution).where(Solution.status == SolutionStatus.submitted)
    edits = (select(SolutionRevision).join(Solution)
             .where(SolutionRevision.status == RevisionStatus.pending, Solution.status == SolutionStatus.published))
    return ModerationQueue(
        list(session.scalars(submitted.order_by(Solution.submitted_at, Solution.id).limit(limit))),
        session.scalar(submitted.with_only_columns(func.count(Solution.id))) or 0,
        list(session.scalars(edits.order_by(SolutionRevision.updated_at, SolutionRevision.id).limit(limit))),
        session.scalar(edits.with_only_columns(func.count(SolutionRevision.id))) or 0)


def solutions_in(session: Session, status: SolutionStatus, page: int, per_page: int) -> tuple[list[Solution], int]:
    """A page of the solutions in one state, last changed first."""
    stmt = select(Solution).where(Solution.status == status)
    total = session.scalar(stmt.with_only_columns(func.count(Solution.id))) or 0
    rows = session.scalars(stmt.order_by(Solution.updated_at.desc(), Solution.id.desc())
                           .offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


# Compare ---------------------------------------------------------------------------------------

def parse_compare_ids(values: list[str]) -> list[int]:
    """'3,7' and repeated ids=3&ids=7 alike; order kept, duplicates dropped."""
    ids: list[int] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit():
                raise ServiceError(f"« {part[:20]} » n'est pas un identifiant de solution.")
            if int(part) not in ids:
                ids.append(int(part))
    return ids


def solutions_to_compare(session: Session, ids: list[int]) -> tuple[list[Solution], int]:
    """The published solutions among these ids, in the given order, and how many are not (any more)
    published: a shared link may outlive one of its solutions."""
    if len(ids) > MAX_COMPARE:
        raise ServiceError(f"Vous pouvez comparer {MAX_COMPARE} solutions au plus : "
                           f"retirez-en {len(ids) - MAX_COMPARE} de la comparaison.")
    if not ids:
        return [], 0
    found = {s.id: s for s in session.scalars(_published().where(Solution.id.in_(ids)))}
    solutions = [found[i] for i in ids if i in found]
    return solutions, len(ids) - len(solutions)


# References ------------------------------------------------------------------------------------

def add_reference(session: Session, actor: User, solution: Solution, *, commune: Commune | None = None,
                  epci: Epci | None = None, year: int, testimonial: str = "") -> SolutionReference:
    if (commune is None) == (epci is None):
        raise ServiceError("Choisissez une commune ou une intercommunalité.", "territory")
    if solution.status is SolutionStatus.archived:
        raise ServiceError("Cette solution est archivée.")
    if year > utcnow().year:
        raise ServiceError("L'année de déploiement ne peut pas être dans le futur.", "year")
    duplicate = select(SolutionReference.id).where(SolutionReference.solution_id == solution.id)
    duplicate = duplicate.where(SolutionReference.commune_insee == commune.insee) if commune else \
        duplicate.where(SolutionReference.epci_siren == epci.siren)
    if session.scalar(duplicate) is not None:
        raise ServiceError("Ce territoire figure déjà parmi les références de la solution.", "territory")
    reference = SolutionReference(solution=solution, commune_insee=commune.insee if commune else None,
                                  epci_siren=epci.siren if epci else None, year=year,
                                  testimonial=testimonial.strip())
    session.add(reference)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # the same territory added twice at once
        raise ServiceError("Ce territoire figure déjà parmi les références de la solution.", "territory") from None
    session.refresh(reference)
    audit.record(session, E.reference_added, actor_id=actor.id, tenant_id=solution.owner_tenant_id,
                 obj=reference, solution_id=solution.id, territory=reference.territory_code)
    if solution.is_published:
        _reindex(session, solution)
    return reference


def get_owned_reference(session: Session, tenant_id: int | None, reference_id: int) -> SolutionReference:
    reference = session.get(SolutionReference, reference_id)
    if reference is None or tenant_id is None or reference.solution.owner_tenant_id != tenant_id:
        raise NotFound()
    return reference


def remove_reference(session: Session, actor: User, reference: SolutionReference) -> None:
    # References are removed and added again, never edited: a city's confirmation is of the
    # testimonial it read, which must not change under it.
    solution = reference.solution
    audit.record(session, E.reference_removed, actor_id=actor.id, tenant_id=solution.owner_tenant_id,
                 obj=reference, solution_id=solution.id, territory=reference.territory_code)
    solution.references.remove(reference)
    session.flush()
    if solution.is_published:
        _reindex(session, solution)


def _naming(city: Tenant):
    if city.kind is not TenantKind.collectivite:
        return None
    if city.commune_insee:
        return SolutionReference.commune_insee == city.commune_insee
    return SolutionReference.epci_siren == city.epci_siren


def references_naming(session: Session, city: Tenant) -> list[SolutionReference]:
    """References that name this collectivité's own territory (its commune, or its EPCI)."""
    criterion = _naming(city)
    if criterion is None:
        return []
    stmt = (select(SolutionReference).join(Solution)
            .where(criterion, Solution.status != SolutionStatus.archived)
            .order_by(SolutionReference.status, SolutionReference.created_at.desc()))
    return list(session.scalars(stmt))


def _names(reference: SolutionReference, city: Tenant) -> bool:
    """Whether this reference names the collectivité's own territory (never a member commune of
    its EPCI, nor the EPCI of its commune: each tenant answers for itself)."""
    if city.kind is not TenantKind.collectivite or not city.is_active:
        return False
    return (reference.commune_insee is not None and reference.commune_insee == city.commune_insee) or \
           (reference.epci_siren is not None and reference.epci_siren == city.epci_siren)


def get_reference_for_city(session: Session, city: Tenant, reference_id: int) -> SolutionReference:
    reference = session.get(SolutionReference, reference_id)
    if reference is None or not _names(reference, city) or reference.solution.status is SolutionStatus.archived:
        raise NotFound()
    return reference


def decide_reference(session: Session, actor: User, city: Tenant, reference: SolutionReference,
                     confirm: bool) -> None:
    """The city confirms (the badge "Référence vérifiée") or contests a reference naming it."""
    if not _names(reference, city):  # checked here too: the rule must not depend on the caller
        raise NotFound()
    status = ReferenceStatus.verified if confirm else ReferenceStatus.declined
    if reference.status is status:
        return
    reference.status = status
    reference.decided_at = utcnow()
    reference.decided_by_id = actor.id
    audit.record(session, E.reference_verified if confirm else E.reference_declined, actor_id=actor.id,
                 tenant_id=reference.solution.owner_tenant_id, obj=reference, solution_id=reference.solution_id,
                 city_tenant_id=city.id, city=city.name)
    if reference.solution.is_published:
        _reindex(session, reference.solution)


# Shortlist (private to the buyer's tenant) -----------------------------------------------------

def shortlist(session: TenantSession, tenant: Tenant) -> list[ShortlistItem]:
    # The guard filters by the bound tenant; the explicit criterion keeps a session bound to no
    # tenant (a job, a script) from reading every tenant's shortlist.
    stmt = select(ShortlistItem).where(ShortlistItem.tenant_id == tenant.id).order_by(ShortlistItem.created_at)
    return list(session.scalars(stmt))


def shortlisted_ids(session: TenantSession, tenant: Tenant | None) -> set[int]:
    if tenant is None or tenant.kind is not TenantKind.collectivite:
        return set()
    return set(session.scalars(select(ShortlistItem.solution_id).where(ShortlistItem.tenant_id == tenant.id)))


def add_to_shortlist(session: TenantSession, actor: User, tenant: Tenant, solution_id: int,
                     note: str = "") -> tuple[ShortlistItem, bool]:
    """Returns the item and whether it was added now (adding twice is not an error)."""
    if tenant.kind is not TenantKind.collectivite:
        raise ServiceError("La sélection est réservée aux collectivités.")
    solution = get_visible_solution(session, solution_id, Actor.anonymous())  # published only
    existing = session.scalar(select(ShortlistItem).where(ShortlistItem.tenant_id == tenant.id,
                                                          ShortlistItem.solution_id == solution.id))
    if existing is not None:
        return existing, False
    item = ShortlistItem(tenant_id=tenant.id, solution_id=solution.id, note=note.strip(), added_by_id=actor.id)
    session.add(item)
    session.flush()
    audit.record(session, E.shortlist_item_added, actor_id=actor.id, tenant_id=tenant.id, obj=item,
                 solution_id=solution.id)
    return item, True


def get_shortlist_item(session: TenantSession, tenant: Tenant, item_id: int) -> ShortlistItem:
    item = session.get(ShortlistItem, item_id)
    if item is None or item.tenant_id != tenant.id:
        raise NotFound()
    return item


def update_note(session: TenantSession, actor: User, item: ShortlistItem, note: str) -> None:
    item.note = note.strip()
    item.updated_at = utcnow()


def remove_from_shortlist(session: TenantSession, actor: User, item: ShortlistItem) -> None:
    audit.record(session, E.shortlist_item_removed, actor_id=actor.id, tenant_id=item.tenant_id, obj=item,
                 solution_id=item.solution_id)
    session.delete(item)
    session.flush()


CSV_HEADER = ["Solution", "Startup", "Accroche", "Domaines", "Tailles de territoire", "Modèle de prix",
              "Prix minimum HT (€)", "Prix maximum HT (€)", "Unité de prix", "Hébergement",
              "Accord de traitement RGPD", "SecNumCloud", "Accessibilité (RGAA)", "Licence libre",
              "Standards de données ouvertes", "Références", "Références vérifiées", "Statut", "Note",
              "Ajoutée le", "Lien"]


def shortlist_csv(items: list[ShortlistItem], base_url: str) -> str:
    """The shortlist for French Excel (``marketplace.core.exports``)."""
    yes_no = {True: "oui", False: "non"}
    rows = []
    for item in items:
        s = item.solution
        rows.append([
            s.name, s.owner.name, s.pitch, ", ".join(s.domain_labels), ", ".join(s.size_labels),
            taxonomy.PRICE_MODELS.get(s.price_model, s.price_model),
            money.euros_cell(s.price_min_ht_cents), money.euros_cell(s.price_max_ht_cents), s.price_unit,
            taxonomy.HOSTING.get(s.hosting, s.hosting), yes_no[s.gdpr_dpa], yes_no[s.secnumcloud],
            taxonomy.RGAA_LEVELS.get(s.rgaa_level, s.rgaa_level), s.licence or "",
            ", ".join(s.open_data_standards or []), s.deployments, s.verified_count, s.status.label, item.note,
            item.created_at.date().isoformat(), f"{base_url}/solutions/{s.id}",
        ])
    return csv_text(CSV_HEADER, rows)


# Leads -------------------------------------------------------------------------------------------
# A lead is the buyer's row (tenant_id, guarded like any private row) that the startup also reads,
# through the two functions below only: see the Lead model for why.

def contact_startup(session: TenantSession, actor: User, buyer: Tenant, solution_id: int, message: str) -> Lead:
    if buyer.kind is not TenantKind.collectivite or not buyer.is_active:
        raise ServiceError("Seules les collectivités peuvent contacter une startup depuis l'annuaire.")
    solution = get_visible_solution(session, solution_id, Actor.anonymous())  # published only
    message = message.strip()
    if len(message) < 20:
        raise ServiceError("Décrivez votre besoin en quelques mots (20 caractères au moins).", "message")
    lead = Lead(tenant_id=buyer.id, solution_id=solution.id, startup_tenant_id=solution.owner_tenant_id,
                buyer_user_id=actor.id, message=message)
    session.add(lead)
    session.flush()
    audit.record(session, E.lead_created, actor_id=actor.id, tenant_id=buyer.id, obj=lead, solution_id=solution.id,
                 startup_tenant_id=solution.owner_tenant_id)
    return lead


def leads_sent(session: TenantSession, buyer: Tenant, solution_id: int | None = None) -> list[Lead]:
    stmt = select(Lead).where(Lead.tenant_id == buyer.id).order_by(Lead.created_at.desc())
    if solution_id is not None:
        stmt = stmt.where(Lead.solution_id == solution_id)
    return list(session.scalars(stmt))


def leads_received(session: TenantSession, startup: Tenant) -> list[Lead]:
    if startup.kind is not TenantKind.startup:
        return []
    # The guard would keep only leads *written* by this tenant (none): lifted for this one
    # statement, whose criterion is the startup side.
    with all_tenants(session, because="a startup reads the leads written to it, filtered on its own id just below"):
        stmt = select(Lead).where(Lead.startup_tenant_id == startup.id).order_by(Lead.created_at.desc())
        return list(session.scalars(stmt))


def get_received_lead(session: TenantSession, startup: Tenant, lead_id: int) -> Lead:
    with all_tenants(session, because="a startup reads one lead written to it, checked against its own id just below"):
        lead = session.get(Lead, lead_id)
    if lead is None or startup.kind is not TenantKind.startup or lead.startup_tenant_id != startup.id:
        raise NotFound()
    return lead


def mark_lead_handled(session: TenantSession, actor: User, startup: Tenant, lead: Lead) -> None:
    if lead.startup_tenant_id != startup.id:
        raise NotFound()
    if lead.handled_at is not None:
        return
    # The row is the buyer's: the guard refuses to flush it from the startup's session unless
    # lifted, so the change is flushed inside the lifted block.
    with all_tenants(session, because="the lead is the buyer's row; the startup marks it handled after the check above"):
        lead.handled_at = utcnow()
        audit.record(session, E.lead_handled, actor_id=actor.id, tenant_id=startup.id, obj=lead)
        session.flush()


def new_leads_count(session: TenantSession, startup: Tenant) -> int:
    with all_tenants(session, because="a startup counts the leads written to it, filtered on its own id"):
        return session.scalar(select(func.count()).select_from(Lead).where(
            Lead.startup_tenant_id == startup.id, Lead.handled_at.is_(None))) or 0


# Search fallback -----------------------------------------------------------------------------------

def search_published(session: Session, text: str, limit: int) -> list[Solution]:
    """Published solutions whose name or pitch holds every word: the search package's fallback
    when its index is unavailable. Word by word, accent-sensitive: a stopgap, not a search engine."""
    words = [w for w in re.split(r"\s+", text.strip()) if len(w) > 1][:6]
    stmt = _published()
    for word in words:
        pattern = f"%{word.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(or_(Solution.name.ilike(pattern), Solution.pitch.ilike(pattern)))
    return list(session.scalars(stmt.order_by(Solution.published_at.desc(), Solution.id.desc()).limit(limit)))


def description_text(solution: Solution) -> str:
    return plain_text(solution.description)


# Pro features: the leads export and the statistics -------------------------------------------------

LEADS_CSV_HEADER = ["Reçue le", "Solution", "Collectivité", "Contact", "Adresse", "Message", "Traitée le"]


def check_pro(session: Session, tenant: Tenant, feature: str, what: str) -> None:
    if not getattr(plan_of(session, tenant), feature):
        raise ServiceError(upgrade_hint(what))


def leads_csv(session: TenantSession, startup: Tenant) -> str:
    """The leads received, for the startup's spreadsheet (a Pro feature)."""
    check_pro(session, startup, "leads_export", "L'export des demandes de contact est réservé à l'offre Pro")
    rows = [[lead.created_at.date().isoformat(), lead.solution.name, lead.buyer_tenant.name,
             lead.buyer_user.full_name if lead.buyer_user else "", lead.buyer_user.email if lead.buyer_user else "",
             lead.message, lead.handled_at.date().isoformat() if lead.handled_at else ""]
            for lead in leads_received(session, startup)]
    return csv_text(LEADS_CSV_HEADER, rows)


def statistics(session: TenantSession, startup: Tenant) -> list[dict[str, Any]]:
    """Per solution: how many collectivités shortlisted it, wrote to the startup, confirmed a
    reference (counts only: nothing of who shortlisted). A Pro feature."""
    check_pro(session, startup, "statistics", "Les statistiques de vos solutions sont réservées à l'offre Pro")
    solutions = list(session.scalars(select(Solution).where(Solution.owner_tenant_id == startup.id)
                                     .order_by(Solution.name, Solution.id)))
    ids = [s.id for s in solutions]
    with all_tenants(session, because="a startup's statistics count the shortlists and leads of its solutions"):
        shortlists = dict(session.execute(select(ShortlistItem.solution_id, func.count()).where(
            ShortlistItem.solution_id.in_(ids)).group_by(ShortlistItem.solution_id)).all()) if ids else {}
        leads = dict(session.execute(select(Lead.solution_id, func.count()).where(
            Lead.solution_id.in_(ids)).group_by(Lead.solution_id)).all()) if ids else {}
    return [{"solution": s, "shortlists": shortlists.get(s.id, 0), "leads": leads.get(s.id, 0),
             "references": s.deployments, "verified": s.verified_count} for s in solutions]
