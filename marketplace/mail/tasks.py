"""Mail jobs: one delivery per mail, retried with backoff; a sweep for the mails still owed."""
from __future__ import annotations

from flask import current_app

from jobs import job, job_context
from marketplace.mail.services import deliver, owed


@job(queue="mail", timeout=60, retries=5, backoff=(30, 120, 600, 1800, 3600))
def deliver_mail(mail_id: int) -> bool:
    with job_context() as session:
        return deliver(session, current_app.config["SETTINGS"], mail_id)


@job(queue="mail", timeout=300, retries=0, cron="*/5 * * * *")
def deliver_pending() -> int:
    """Every five minutes: enqueue the delivery of every mail still owed (same job id as its first
    delivery, so a delivery already queued is not doubled)."""
    with job_context() as session:
        ids = owed(session)
    for mail_id in ids:
        deliver_mail.enqueue(mail_id, job_id=f"mail-{mail_id}")
    return len(ids)
