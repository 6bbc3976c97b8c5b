"""Projects' jobs, on the 'matching' queue, each with its schedule beside it.

- ``match_project``: a project created or changed, against every open programme and call;
- ``match_programme``: a programme or a call published or changed (the guichet's
  ``programme_changed`` signal), against every project of the collectivités eligible to it;
- ``nightly``: every open project, cut into chunks of project ids with deterministic job ids
  (``matching-<date>-<first id>``), so that N workers on N machines share the night and a chunk run
  again after a crash rewrites the same rows (upserts);
- ``match_need``: a published need against the published solutions;
- ``send_digests`` (07:15) and ``send_reminders`` (07:30): the daily digest of new matches above each
  collectivité's threshold, and calls closing within 30 days; each notice once.

Every job is idempotent and retried with backoff; a killed worker's job is retried by RQ (its
abandoned-job handling) or done again by the next night's run, without duplicates.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs import job, job_context
from marketplace.core.clock import today
from marketplace.core.db import all_tenants
from marketplace.core.signals import programme_changed, solution_changed
from marketplace.projects import mails, model_store, store
from marketplace.projects.models import Project, ProjectStatus
from tenants.models import Tenant, TenantKind

BACKOFF = (10, 60, 300, 900, 3600)


def match_project_later(session: Session, project_id: int) -> None:
    """Match this project against every open programme, once the change is committed."""
    match_project.after_commit(session, project_id, job_id=f"match-project-{project_id}")


def match_need_later(session: Session, project_id: int) -> None:
    match_need.after_commit(session, project_id, job_id=f"match-need-{project_id}")


@programme_changed.connect
def _programme_changed(session: Session, programme_id: int, **_) -> None:
    match_programme.after_commit(session, programme_id, job_id=f"match-programme-{programme_id}")


@solution_changed.connect
def _solution_changed(session: Session, solution_id: int, **_) -> None:
    match_needs.after_commit(session, job_id="match-needs")


@job(queue="matching", timeout=600, retries=5, backoff=BACKOFF)
def match_project(project_id: int) -> int:
    with job_context() as session:
        return store.match_project(session, project_id)


@job(queue="matching", timeout=1800, retries=5, backoff=BACKOFF)
def match_programme(programme_id: int) -> int:
    with job_context() as session:
        return store.match_programme(session, programme_id)


@job(queue="matching", timeout=600, retries=5, backoff=BACKOFF)
def match_need(project_id: int) -> int:
    with job_context() as session:
        return store.match_need(session, project_id)


@job(queue="matching", timeout=1800, retries=3, backoff=BACKOFF)
def match_needs() -> int:
    """Every published need again (a solution was published or changed)."""
    with job_context() as session:
        with all_tenants(session, because=store.BECAUSE):
            ids = list(session.scalars(select(Project.id).where(Project.need_published_at.is_not(None),
                                                                Project.status == ProjectStatus.active)
                                       .order_by(Project.id)))
        return sum(store.match_need(session, i) for i in ids)


CHUNK_PROJECTS = 2000


@job(queue="matching", timeout=600, cron="30 2 * * *")
def nightly(size: int = CHUNK_PROJECTS) -> int:
    """Cut tonight's run into chunks of ``size`` projects, one job each (deterministic ids: a second
    start queues nothing new)."""
    with job_context() as session:
        chunks = store.nightly_chunks(session, size)
    day = today().isoformat()
    for first, last in chunks:
        match_chunk.enqueue(first, last, job_id=f"matching-{day}-{first}")
    return len(chunks)


@job(queue="matching", timeout=3600, retries=5, backoff=BACKOFF)
def match_chunk(first_id: int, last_id: int) -> int:
    with job_context() as session:
        return store.match_range(session, first_id, last_id)


@job(queue="matching", timeout=1800, retries=3, backoff=BACKOFF)
def retrain_model() -> bool:
    """Train the funded-projects model if the reference changed (or there is none yet), then match
    every project again with it."""
    with job_context() as session:
        trained = model_store.train_if_changed(session) is not None
    if trained:
        nightly.enqueue(job_id=f"matching-after-training-{today().isoformat()}")
    return trained


@job(queue="default", timeout=1800, cron="15 7 * * *")
def send_digests() -> int:
    """One transaction per collectivité: a failure leaves the others sent."""
    with job_context() as session:
        tenant_ids = list(session.scalars(select(Tenant.id).where(Tenant.kind == TenantKind.collectivite)
                                          .order_by(Tenant.id)))
    sent = 0
    for tenant_id in tenant_ids:
        with job_context() as session:
            tenant = session.get(Tenant, tenant_id)
            sent += mails.send_digest(session, tenant, store.threshold_of(session, tenant_id))
    return sent


@job(queue="default", timeout=1800, cron="30 7 * * *")
def send_reminders() -> int:
    with job_context() as session:
        return mails.send_reminders(session)
