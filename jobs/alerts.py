"""Alert digests: every morning, each active alert's digest for the day; each digest's mail apart."""
from __future__ import annotations

import datetime as dt

from jobs import job
from jobs.context import job_context


def _enqueue_mail(digest_id: int) -> None:
    send_digest.enqueue(digest_id, job_id=f"alert-digest-{digest_id}")


@job(queue="default", timeout=1800, retries=2, backoff=(300, 1800))
def send_digests(on: str | None = None) -> int:
    """Digests of the day (``on``: an ISO date, default today in Paris). Safe to run twice: each
    alert has one digest per period. Starts by re-enqueuing the mails still owed."""
    from flask import current_app

    from marketplace.funding import alerts
    from marketplace.funding.services import today

    with job_context() as session:
        for digest_id in alerts.owed_mails(session):
            _enqueue_mail(digest_id)
        day = dt.date.fromisoformat(on) if on else today()
        outcomes = alerts.run_digests(session, on=day, search_root=current_app.config["SETTINGS"].search_dir,
                                      enqueue_mail=_enqueue_mail)
        return sum(o.items for o in outcomes)


@job(queue="mail", timeout=60, retries=5, backoff=(30, 120, 600, 1800, 3600))
def send_digest(digest_id: int) -> bool:
    """Mail one digest, then mark it mailed. A retry after a delivered mail whose mark was lost
    sends it again (at least once, never lost)."""
    from flask import current_app

    from marketplace.funding import alerts
    from marketplace.mail import compose, deliver

    with job_context() as session:
        settings = current_app.config["SETTINGS"]
        mail = alerts.digest_mail(session, digest_id, current_app.secret_key, settings.base_url)
        if mail is None:
            return False
        # The template alone, without the pages' context processors (there is no request here).
        body = current_app.jinja_env.get_template("mail/funding_digest.txt").render(**mail.context)
        message = compose(settings, mail.to, mail.subject, body)
        # RFC 8058 one-click unsubscribe: mail clients POST to this address.
        message["List-Unsubscribe"] = f"<{mail.context['unsubscribe_url']}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        deliver(settings, message)
        alerts.mark_mailed(session, digest_id)
        return True


# (function, cron expression): registered by ``passerelle cron``. 06:00 UTC is 07:00 or 08:00 in
# Paris: the digest is there when the working day starts.
CRON = [
    (send_digests, "0 6 * * *"),
]
