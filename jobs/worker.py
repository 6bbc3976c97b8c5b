"""Worker and cron entry points (``passerelle worker``, ``passerelle cron``)."""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import socket

from rq import Worker
from rq.cron import CronScheduler
from rq.executions import Execution
from rq.job import Job
from rq.registry import StartedJobRegistry

from jobs import QUEUES, current_app_for_jobs, get_queue, periodic_jobs
from jobs.connection import get_redis
from marketplace.core.settings import Settings

log = logging.getLogger("passerelle.worker")
PR_SET_PDEATHSIG = 1


class PasserelleWorker(Worker):
    """RQ's forking worker. Each job runs in a work horse forked from this process, which already
    holds the application (built once, handed over by ``jobs.init_app``): a job builds nothing.
    A hard timeout kills the horse, not the worker, and a crash in a job cannot take it down."""

    def main_work_horse(self, job, queue):
        # The horse must not share the parent's pooled database connections (one socket, two
        # processes): it opens its own.
        current_app_for_jobs().extensions["passerelle"].engine.dispose(close=False)
        return super().main_work_horse(job, queue)


def _die_with_the_worker() -> None:
    """In every process the worker forks (RQ's scheduler, a job's work horse): die when the worker
    dies. A forked child holds a copy of the worker's Redis socket; a worker killed with -9 whose
    child lived on would still look, to Redis, like a worker waiting for a job — and the next job
    would be handed to it and lost. Linux only (prctl); elsewhere a supervisor kills the group."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def take_back_abandoned(connection, names: list[str]) -> list[str]:
    """Requeue the jobs a dead worker of this machine was running (killed with -9, the machine
    restarted…): RQ itself would only notice once their heartbeat expires, minutes later. Jobs are
    idempotent, so running one again rewrites what it had half written. Returns the job ids."""
    host = socket.gethostname()
    taken = []
    for name in names:
        queue = get_queue(name, connection)
        registry = StartedJobRegistry(queue=queue)
        for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False):
            try:
                execution = Execution.fetch(execution_id, job_id, connection=connection)
                job = Job.fetch(job_id, connection=connection)
            except Exception:  # noqa: BLE001 (expired or deleted meanwhile: nothing to take back)
                continue
            worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + execution.worker_name,
                                        connection=connection) if execution.worker_name else None
            if worker is not None and (worker.hostname != host or _alive(worker.pid)):
                continue  # alive, or on another machine (RQ's heartbeat expiry takes those back)
            registry.remove_executions(job)
            queue.enqueue_job(job)
            taken.append(job_id)
            log.warning("tâche %s reprise : son worker %s s'est arrêté sans la finir", job_id, execution.worker_name)
    return taken


def run_worker(settings: Settings, queues: list[str] | None = None, *, burst: bool = False,
               name: str | None = None) -> bool:
    os.register_at_fork(after_in_child=_die_with_the_worker)
    connection = get_redis(settings)
    names = queues or list(QUEUES)
    take_back_abandoned(connection, names)
    worker = PasserelleWorker([get_queue(n, connection) for n in names], connection=connection, name=name)
    # SIGTERM lets the current job finish (a warm shutdown).
    return worker.work(burst=burst, with_scheduler=True, logging_level="INFO")


def run_cron(settings: Settings) -> None:
    scheduler = CronScheduler(connection=get_redis(settings), name="passerelle-cron")
    schedule = periodic_jobs()
    for spec in schedule:
        scheduler.register(spec.func, spec.queue, cron=spec.cron, job_timeout=spec.timeout,
                           failure_ttl=spec.failure_ttl, name=spec.name)
    log.info("cron: %d tâche(s) périodique(s) enregistrée(s)", len(schedule))
    scheduler.start()
