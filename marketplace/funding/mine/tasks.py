"""Alert digests: every morning, each active alert's digest for the day; each digest's mail apart."""
from __future__ import annotations

import datetime as dt

from flask import current_app

from jobs import job, job_context
from marketplace.core.clock import today
from marketplace.funding.mine import alerts, mails


def _mail_later(session, digest_id: int) -> None:
    send_digest.after_commit(session, digest_id, job_id=f"alert-digest-{digest_id}")


# 06:00 UTC is 07:00 or 08:00 in Paris: the digest is there when the working day starts.
@job(queue="default", timeout=1800, retries=2, backoff=(300, 1800), cron="0 6 * * *")
def send_digests(on: str | None = None) -> int:
    """Digests of the day (``on``: an ISO date, default today in Paris), one transaction per alert
    (a failure leaves the others done). Safe to run twice: each alert has one digest per period.
    Starts by re-enqueuing the mails still owed."""
    day = dt.date.fromisoformat(on) if on else today()
    with job_context() as session:
        for digest_id in alerts.owed_mails(session):
            _mail_later(session, digest_id)
        due = alerts.due_alert_ids(session)
        search_root = current_app.config["SETTINGS"].search_dir
    items = 0
    for alert_id in due:
        with job_context() as session:
            outcome = alerts.digest_alert_id(session, alert_id, on=day, search_root=search_root)
            if outcome is not None and outcome.items:
                _mail_later(session, outcome.digest_id)
                items += outcome.items
    return items


@job(queue="mail", timeout=60, retries=5, backoff=(30, 120, 600, 1800, 3600))
def send_digest(digest_id: int) -> bool:
    """Write one digest's mail (to the outbox) and mark the digest mailed."""
    with job_context() as session:
        settings = current_app.config["SETTINGS"]
        return mails.send_digest(session, digest_id, current_app.secret_key, settings.base_url)
