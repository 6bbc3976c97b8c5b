"""Timed maintenance jobs, registered with RQ's cron by ``passerelle cron``."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete

from jobs import job
from jobs.context import job_context
from marketplace.db import utcnow


@job(queue="default", timeout=300)
def purge_login_attempts(older_than_days: int = 2) -> int:
    """Failed sign-ins only matter inside the throttling window; keep two days for inquiries."""
    from tenants.models import LoginAttempt

    with job_context() as session:
        result = session.execute(delete(LoginAttempt).where(LoginAttempt.at < utcnow() - dt.timedelta(days=older_than_days)))
        return result.rowcount or 0


@job(queue="default", timeout=30, retries=0)
def ping(message: str = "pong") -> str:
    """A job that only answers: operators use it to check that a worker is listening."""
    return message


# (function, cron expression): what ``passerelle cron`` schedules.
CRON = [
    (purge_login_attempts, "17 3 * * *"),
]
