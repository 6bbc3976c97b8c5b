"""Worker and cron entry points (``passerelle worker``, ``passerelle cron``)."""
from __future__ import annotations

import logging

from rq import Worker
from rq.cron import CronScheduler

from jobs import QUEUES, get_queue
from jobs.connection import get_redis
from marketplace.settings import Settings

log = logging.getLogger("passerelle.worker")


def _import_job_modules() -> None:
    # Every module that declares jobs, so the worker can resolve them by name.
    import jobs.alerts  # noqa: F401
    import jobs.funding  # noqa: F401
    import jobs.housekeeping  # noqa: F401
    import jobs.mail  # noqa: F401
    import jobs.search  # noqa: F401


def run_worker(settings: Settings, queues: list[str] | None = None, *, burst: bool = False,
               name: str | None = None) -> bool:
    _import_job_modules()
    connection = get_redis(settings)
    names = queues or list(QUEUES)
    worker = Worker([get_queue(n, connection) for n in names], connection=connection, name=name)
    # The default Worker forks a work horse per job: a hard timeout kills the horse, not the worker,
    # and a crash in a job cannot take the worker down. SIGTERM lets the current job finish.
    return worker.work(burst=burst, with_scheduler=True, logging_level="INFO")


def run_cron(settings: Settings) -> None:
    from jobs.alerts import CRON as ALERTS_CRON
    from jobs.funding import CRON as FUNDING_CRON
    from jobs.housekeeping import CRON as HOUSEKEEPING_CRON

    _import_job_modules()
    CRON = HOUSEKEEPING_CRON + FUNDING_CRON + ALERTS_CRON
    scheduler = CronScheduler(connection=get_redis(settings), name="passerelle-cron")
    for bound, expression in CRON:
        spec = bound.spec
        scheduler.register(spec.func, spec.queue, cron=expression, job_timeout=spec.timeout,
                           failure_ttl=spec.failure_ttl, name=spec.name)
    log.info("cron: %d tâche(s) périodique(s) enregistrée(s)", len(CRON))
    scheduler.start()
