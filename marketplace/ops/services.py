"""What operators see of the background machinery: queues, workers, running and failed jobs."""
from __future__ import annotations

import enum
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from jobs import QUEUES
from marketplace.core.audit import event_types


@event_types
class OpsEvent(enum.StrEnum):
    """What operators do to the background machinery."""

    job_retried = "job.retried"
    search_reindex_requested = "search.reindex_requested"


@dataclass
class QueueState:
    name: str
    queued: int
    started: int
    scheduled: int
    failed: int


@dataclass
class JobState:
    id: str
    queue: str
    description: str
    status: str
    enqueued_at: object
    started_at: object
    ended_at: object
    error: str


@dataclass
class Overview:
    available: bool
    error: str = ""
    queues: list[QueueState] | None = None
    workers: list[dict] | None = None
    running: list[JobState] | None = None
    failed: list[JobState] | None = None


def _job_state(job: Job, queue: str) -> JobState:
    error = ""
    if job.is_failed:
        result = job.latest_result()
        error = (result.exc_string if result and result.exc_string else "") or ""
        error = error.strip().splitlines()[-1] if error.strip() else ""
    return JobState(job.id, queue, job.description or job.func_name, job.get_status(refresh=False) or "",
                    job.enqueued_at, job.started_at, job.ended_at, error)


# RQ's worker states, in French.
WORKER_STATES = {"idle": "en attente de tâches", "busy": "au travail", "started": "démarrage",
                 "suspended": "suspendu"}


def _worker_state(state) -> str:
    value = str(getattr(state, "value", state) or "")
    return WORKER_STATES.get(value, value)


def overview(connection: Redis, limit: int = 50) -> Overview:
    try:
        connection.ping()
    except RedisError as exc:
        return Overview(False, error=str(exc))
    queues, running, failed = [], [], []
    for name in QUEUES:
        q = Queue(name, connection=connection)
        started, failed_reg = StartedJobRegistry(queue=q), FailedJobRegistry(queue=q)
        queues.append(QueueState(name, q.count, started.count, ScheduledJobRegistry(queue=q).count, failed_reg.count))
        for job in Job.fetch_many(started.get_job_ids()[:limit], connection=connection):
            if job:
                running.append(_job_state(job, name))
        for job in Job.fetch_many(failed_reg.get_job_ids()[:limit], connection=connection):
            if job:
                failed.append(_job_state(job, name))
    workers = [
        {"name": w.name, "state": _worker_state(w.get_state()),
         "queues": ", ".join(w.queue_names()),
         "current_job": (w.get_current_job_id() or ""), "birth": w.birth_date}
        for w in Worker.all(connection=connection)
    ]
    failed.sort(key=lambda j: j.ended_at or 0, reverse=True)
    return Overview(True, queues=queues, workers=workers, running=running, failed=failed)


def retry_failed(connection: Redis, job_id: str) -> bool:
    for name in QUEUES:
        registry = FailedJobRegistry(queue=Queue(name, connection=connection))
        if job_id in registry.get_job_ids():
            registry.requeue(job_id)
            return True
    return False
