"""Background jobs on RQ — plumbing only: named queues, one decorator with defaults, the app handed
over once, enqueue-after-commit. Each feature owns its jobs in its ``tasks.py``::

    @job(queue="mail", timeout=60, retries=3)
    def send_mail(message_id: int) -> None: ...

    @job(queue="default", cron="0 6 * * *")      # periodic: the schedule sits beside the job
    def send_digests() -> int: ...

    send_mail.after_commit(session, 12)   # enqueued only if the transaction commits
    send_mail.enqueue(12)                  # enqueued now (outside any transaction)

``marketplace.app`` hands the application to this package once (:func:`init_app`, as Indico hands
its app to Celery), with the list of task modules: a worker process builds the app once and every
job it runs (in a forked work horse) finds it there. Job functions take plain, JSON-friendly
arguments and run inside :func:`job_context` (the app context and a session that commits once at
the end, or rolls back). This package imports no feature.
"""
from __future__ import annotations

import contextlib
import functools
import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import current_app
from rq import Queue, Retry

from jobs.connection import get_redis
from marketplace.core.db import after_commit

# Named queues, in the order a worker serves them.
QUEUES = ("default", "mail", "search", "matching")

_registry: dict[str, JobSpec] = {}
_app = None


@dataclass(frozen=True)
class JobSpec:
    func: Callable[..., Any]
    queue: str
    timeout: int
    retries: int
    backoff: tuple[int, ...]
    failure_ttl: int
    result_ttl: int
    cron: str | None = None  # a cron expression (UTC) for periodic jobs

    @property
    def name(self) -> str:
        return f"{self.func.__module__}.{self.func.__qualname__}"


def init_app(app, task_modules: Iterable[str] = ()) -> None:
    """Hand the application to the job machinery and import the features' task modules (so that
    the worker knows every job and the cron every schedule)."""
    global _app
    _app = app
    app.extensions["jobs"] = [importlib.import_module(name) for name in task_modules]


def current_app_for_jobs():
    if _app is None:
        raise RuntimeError("jobs.init_app(app) was not called: start workers with `passerelle worker`")
    return _app


@contextlib.contextmanager
def job_context() -> Iterator[Any]:
    """The app context and a session of the job's own: commits once on success, rolls back on error."""
    app = current_app_for_jobs()
    with app.app_context():
        session = app.extensions["passerelle"].session_factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def _connection():
    try:
        settings = current_app.config["SETTINGS"]
    except RuntimeError:  # outside a request or an app context: the app handed over by init_app
        settings = current_app_for_jobs().config["SETTINGS"]
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
        after_commit(session, lambda: self.enqueue(*args, job_id=job_id, **kwargs))


def job(queue: str = "default", *, timeout: int = 300, retries: int = 3,
        backoff: tuple[int, ...] = (10, 60, 300), failure_ttl: int = 30 * 86400, result_ttl: int = 86400,
        cron: str | None = None):
    """Declare a background job with defaults: 5 min timeout, 3 retries with backoff, failures kept
    30 days. ``cron``: run it on this schedule (UTC), registered by ``passerelle cron``."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")

    def decorate(func: Callable[..., Any]) -> BoundJob:
        spec = JobSpec(func, queue, timeout, retries, backoff, failure_ttl, result_ttl, cron)
        _registry[spec.name] = spec
        return BoundJob(spec)

    return decorate


def registered_jobs() -> dict[str, JobSpec]:
    return dict(_registry)


def periodic_jobs() -> list[JobSpec]:
    """The one list of periodic jobs, gathered from the task modules' declarations."""
    return sorted((spec for spec in _registry.values() if spec.cron), key=lambda spec: spec.name)
