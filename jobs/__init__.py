"""Background jobs on RQ: named queues, one decorator with defaults, enqueue-after-commit.

    @job(queue="mail", timeout=60, retries=3)
    def send_mail(message_id: str) -> None: ...

    send_mail.after_commit(session, "abc")   # enqueued only if the transaction commits
    send_mail.enqueue("abc")                  # enqueued now (outside any transaction)

Job functions take plain, JSON-friendly arguments and open their own session and app
context through :func:`jobs.context.job_context`: they call services, never views.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

from rq import Queue, Retry

# Named queues, in the order a worker serves them.
QUEUES = ("default", "mail", "search", "matching")

_registry: dict[str, "JobSpec"] = {}


@dataclass(frozen=True)
class JobSpec:
    func: Callable[..., Any]
    queue: str
    timeout: int
    retries: int
    backoff: tuple[int, ...]
    failure_ttl: int
    result_ttl: int

    @property
    def name(self) -> str:
        return f"{self.func.__module__}.{self.func.__qualname__}"


def _connection():
    from jobs.connection import get_redis
    from marketplace.settings import load_settings

    try:
        from flask import current_app

        settings = current_app.config["SETTINGS"]
    except (RuntimeError, KeyError):
        settings = load_settings()
    return get_redis(settings)


def get_queue(name: str, connection=None) -> Queue:
    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=connection or _connection())


class BoundJob:
    def __init__(self, spec: JobSpec):
        self.spec = spec
        functools.update_wrapper(self, spec.func)

    def __call__(self, *args, **kwargs):
        return self.spec.func(*args, **kwargs)

    def enqueue(self, *args, job_id: str | None = None, connection=None, **kwargs):
        """Enqueue now. A deterministic ``job_id`` makes a re-enqueue of queued work a no-op."""
        queue = get_queue(self.spec.queue, connection)
        if job_id is not None:
            existing = queue.fetch_job(job_id)
            if existing is not None and existing.get_status(refresh=True) in ("queued", "scheduled", "deferred"):
                return existing
        return queue.enqueue(
            self.spec.func,
            args=args,
            kwargs=kwargs,
            job_id=job_id,
            job_timeout=self.spec.timeout,
            result_ttl=self.spec.result_ttl,
            failure_ttl=self.spec.failure_ttl,
            retry=Retry(max=self.spec.retries, interval=list(self.spec.backoff)) if self.spec.retries else None,
            description=self.spec.name,
        )

    def after_commit(self, session, *args, job_id: str | None = None, **kwargs) -> None:
        from marketplace.db import after_commit

        after_commit(session, lambda: self.enqueue(*args, job_id=job_id, **kwargs))


def job(queue: str = "default", *, timeout: int = 300, retries: int = 3,
        backoff: tuple[int, ...] = (10, 60, 300), failure_ttl: int = 30 * 86400, result_ttl: int = 86400):
    """Declare a background job with defaults: 5 min timeout, 3 retries with backoff, failures kept 30 days."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")

    def decorate(func: Callable[..., Any]) -> BoundJob:
        spec = JobSpec(func, queue, timeout, retries, backoff, failure_ttl, result_ttl)
        _registry[spec.name] = spec
        return BoundJob(spec)

    return decorate


def registered_jobs() -> dict[str, JobSpec]:
    return dict(_registry)
