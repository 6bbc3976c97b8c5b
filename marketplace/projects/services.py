"""Projects' rules: a collectivité's projects, their contacts, the need published to startups and
the answers, the digest threshold. Every change asks the matching jobs to look again (after the
commit: a rolled-back change matches nothing)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.catalog.public import published_solution
from marketplace.core import audit
from marketplace.core.clock import utcnow
from marketplace.core.db import all_tenants, json_list_contains
from marketplace.core.errors import NotFound, ServiceError
from marketplace.core.taxonomy import DOMAINS
from marketplace.projects import mails, tasks
from marketplace.projects.models import (
    MatchingSettings,
    NeedAnswer,
    Project,
    ProjectContact,
    ProjectStatus,
)
from marketplace.projects.models import ProjectEvent as E
from marketplace.projects.store import threshold_of  # noqa: F401 (the pages read it here)
from tenants.models import Membership, Tenant, TenantKind, User
from tenants.territories.models import Commune

CITY_KINDS = (TenantKind.collectivite,)
FIELDS = ("title", "description", "themes", "cost_ht_cents", "planned_start", "stage", "status")


# A tenant's projects -----------------------------------------------------------------------------

def _contacts(session: Session, tenant: Tenant, user_ids: list[int], fallback: User) -> list[int]:
    """Members of the tenant only; nobody named: the author."""
    wanted = list(dict.fromkeys(user_ids or [fallback.id]))
    members = set(session.scalars(select(Membership.user_id).where(Membership.tenant_id == tenant.id,
                                                                   Membership.user_id.in_(wanted))))
    unknown = [i for i in wanted if i not in members]
    if unknown:
        raise ServiceError("Un contact du projet doit être membre de votre organisation.", field="contacts")
    return wanted


def _apply(session: Session, project: Project, data: dict[str, Any], commune: Commune) -> list[str]:
    if any(t not in DOMAINS for t in data.get("themes") or []):
        raise ServiceError("Thème inconnu.", field="themes")
    changed = [f for f in FIELDS if f in data and getattr(project, f) != data[f]]
    for f in FIELDS:
        if f in data:
            setattr(project, f, data[f])
    if project.commune_insee != commune.insee:
        project.commune_insee = commune.insee
        project.commune = commune
        changed.append("commune")
    return changed


def _set_contacts(project: Project, user_ids: list[int]) -> None:
    current = {c.user_id: c for c in project.contacts}
    for user_id, contact in current.items():
        if user_id not in user_ids:
            project.contacts.remove(contact)
    for user_id in user_ids:
        if user_id not in current:
            project.contacts.append(ProjectContact(user_id=user_id, tenant_id=project.tenant_id))


def create_project(session: Session, actor: User, tenant: Tenant, data: dict[str, Any], commune: Commune) -> Project:
    if tenant.kind not in CITY_KINDS:
        raise ServiceError("Seule une collectivité enregistre des projets.")
    project = Project(tenant_id=tenant.id, title=data["title"], commune_insee=commune.insee, commune=commune,
                      created_by_id=actor.id)
    _apply(session, project, data, commune)
    session.add(project)
    _set_contacts(project, _contacts(session, tenant, data.get("contact_ids") or [], actor))
    session.flush()
    audit.record(session, E.created, actor_id=actor.id, tenant_id=tenant.id, obj=project, title=project.title)
    tasks.match_project_later(session, project.id)
    return project


def update_project(session: Session, actor: User, project: Project, data: dict[str, Any], commune: Commune) -> Project:
    changed = _apply(session, project, data, commune)
    if "contact_ids" in data:
        contacts = _contacts(session, project.tenant, data["contact_ids"], actor)
        if sorted(contacts) != sorted(c.user_id for c in project.contacts):
            _set_contacts(project, contacts)
            changed.append("contacts")
    if changed:
        project.updated_at = utcnow()
        audit.record(session, E.updated, actor_id=actor.id, tenant_id=project.tenant_id, obj=project, fields=changed)
        tasks.match_project_later(session, project.id)
        if project.need_published:
            tasks.match_need_later(session, project.id)
    return project


def delete_project(session: Session, actor: User, project: Project) -> None:
    audit.record(session, E.deleted, actor_id=actor.id, tenant_id=project.tenant_id, obj=project, title=project.title)
    session.delete(project)


def get_project(session: Session, project_id: int) -> Project:
    """One of the current tenant's projects (the session's tenant guard): another tenant's is 404."""
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound("Aucun projet de votre organisation ne porte ce numéro.")
    return project


def projects_page(session: Session, page: int, per_page: int, status: ProjectStatus | None = None
                  ) -> tuple[list[Project], int]:
    stmt = select(Project)
    if status is not None:
        stmt = stmt.where(Project.status == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Project.updated_at.desc(), Project.id.desc())
                           .offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


# Needs (appels à solutions) -----------------------------------------------------------------------

def publish_need(session: Session, actor: User, project: Project, need_text: str) -> Project:
    if not need_text.strip():
        raise ServiceError("Dites aux startups ce que vous cherchez.", field="need_text")
    project.need_text = need_text.strip()
    first = project.need_published_at is None
    project.need_published_at = project.need_published_at or utcnow()
    project.updated_at = utcnow()
    audit.record(session, E.need_published, actor_id=actor.id, tenant_id=project.tenant_id, obj=project,
                 first=first)
    tasks.match_need_later(session, project.id)
    return project


def withdraw_need(session: Session, actor: User, project: Project) -> Project:
    if project.need_published_at is None:
        raise ServiceError("Ce besoin n'est pas publié.")
    project.need_published_at = None
    audit.record(session, E.need_withdrawn, actor_id=actor.id, tenant_id=project.tenant_id, obj=project)
    return project


def _published_needs(session: Session):
    return select(Project).where(Project.need_published_at.is_not(None), Project.status == ProjectStatus.active)


def published_needs(session: Session, page: int, per_page: int, theme: str | None = None) -> tuple[list[Project], int]:
    """Every collectivité's published needs, newest first: what startups answer."""
    with all_tenants(session, because="a published need is shown to every startup (title, need, commune, themes)"):
        stmt = _published_needs(session)
        if theme is not None:
            stmt = stmt.where(json_list_contains(Project.themes, theme))
        total = session.scalar(stmt.with_only_columns(func.count(Project.id)))
        rows = list(session.scalars(stmt.order_by(Project.need_published_at.desc(), Project.id.desc())
                                    .offset((page - 1) * per_page).limit(per_page)))
    return rows, total


def get_published_need(session: Session, project_id: int) -> Project:
    with all_tenants(session, because="a published need is shown to every startup"):
        project = session.scalar(_published_needs(session).where(Project.id == project_id))
    if project is None:
        raise NotFound("Aucun besoin publié ne porte ce numéro.")
    return project


def answer_need(session: Session, actor: User, startup: Tenant, project_id: int, solution_id: int,
                message: str) -> NeedAnswer:
    """A startup answers a published need with one of its published solutions (once per solution)."""
    project = get_published_need(session, project_id)
    solution = published_solution(session, solution_id)
    if solution is None or solution.owner_tenant_id != startup.id:
        raise ServiceError("Choisissez une de vos solutions publiées.", field="solution_id")
    if not message.strip():
        raise ServiceError("Écrivez quelques lignes à la collectivité.", field="message")
    with all_tenants(session, because="a startup writes its answer into the city's mail for this need"):
        existing = session.scalar(select(NeedAnswer).where(NeedAnswer.project_id == project.id,
                                                           NeedAnswer.solution_id == solution.id))
        if existing is not None:
            raise ServiceError("Vous avez déjà répondu à ce besoin avec cette solution.", field="solution_id")
        answer = NeedAnswer(tenant_id=project.tenant_id, project_id=project.id, solution_id=solution.id,
                            startup_tenant_id=startup.id, author_id=actor.id, message=message.strip())
        session.add(answer)
        session.flush()
        audit.record(session, E.need_answered, actor_id=actor.id, tenant_id=startup.id, obj=answer,
                     project_id=project.id, solution_id=solution.id)
        mails.tell_city_of_answer(session, answer, solution.name)
    return answer


def answers_for(session: Session, project: Project) -> list[NeedAnswer]:
    return list(session.scalars(select(NeedAnswer).where(NeedAnswer.project_id == project.id)
                                .order_by(NeedAnswer.created_at.desc(), NeedAnswer.id.desc())))


def answers_sent(session: Session, startup: Tenant) -> list[NeedAnswer]:
    with all_tenants(session, because="a startup reads the answers it wrote (filtered on startup_tenant_id)"):
        return list(session.scalars(select(NeedAnswer).where(NeedAnswer.startup_tenant_id == startup.id)
                                    .order_by(NeedAnswer.created_at.desc(), NeedAnswer.id.desc())))


# The digest's threshold --------------------------------------------------------------------------

def set_threshold(session: Session, actor: User, tenant: Tenant, threshold: int) -> None:
    if not 0 <= threshold <= 100:
        raise ServiceError("Entre 0 et 100.", field="threshold")
    row = session.scalar(select(MatchingSettings).where(MatchingSettings.tenant_id == tenant.id))
    if row is None:
        row = MatchingSettings(tenant_id=tenant.id)
        session.add(row)
    row.threshold = threshold
    row.updated_at = utcnow()
