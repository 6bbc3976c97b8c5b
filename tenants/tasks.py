"""Tenants' periodic maintenance."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete

from jobs import job, job_context
from marketplace.core.clock import utcnow
from tenants.models import LoginAttempt


@job(queue="default", timeout=300, cron="17 3 * * *")
def purge_login_attempts(older_than_days: int = 2) -> int:
    """Failed sign-ins only matter inside the throttling window; keep two days for inquiries."""
    with job_context() as session:
        result = session.execute(delete(LoginAttempt).where(LoginAttempt.at < utcnow() - dt.timedelta(days=older_than_days)))
        return result.rowcount or 0
