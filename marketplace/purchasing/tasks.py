"""Group purchases' jobs: the close at the deadline, and the reminders before it."""
from __future__ import annotations

import datetime as dt

from flask import current_app

from jobs import job, job_context
from marketplace.core.clock import today
from marketplace.purchasing import mails, services
from marketplace.purchasing.models import GroupPurchase

PAGE = "/achats-groupes/{id}"


def page_url(purchase_id: int) -> str:
    return current_app.config["SETTINGS"].base_url.rstrip("/") + PAGE.format(id=purchase_id)


# Every ten minutes: a purchase closes soon after midnight in Paris, even when a run is missed.
@job(queue="default", timeout=600, cron="*/10 * * * *")
def close_due() -> int:
    """Close every open purchase whose deadline has passed, one transaction each (a failure leaves
    the others done): minimum met → closed, the tier reached applied to every member; else cancelled.
    Everyone concerned is told once. Safe to run late or twice."""
    with job_context() as session:
        ids = [p.id for p in services.due(session)]
    done = 0
    for purchase_id in ids:
        with job_context() as session:
            purchase = session.get(GroupPurchase, purchase_id)
            outcome = services.close_at_deadline(session, purchase)
            if outcome is not None:
                mails.tell(session, purchase, "closed" if outcome.closed else "cancelled", page_url(purchase.id),
                           outcome.figures)
                done += 1
    return done


# 07:00 UTC: the reminder is there when the working day starts in Paris.
@job(queue="default", timeout=600, cron="0 7 * * *")
def send_reminders(on: str | None = None) -> int:
    """J-7 and J-1 reminders to the members and the coordinator, once each."""
    day = dt.date.fromisoformat(on) if on else today()
    sent = 0
    with job_context() as session:
        for purchase, days in services.reminders_due(session, day):
            sent += mails.tell(session, purchase, f"reminder-{days}", page_url(purchase.id))
    return sent
