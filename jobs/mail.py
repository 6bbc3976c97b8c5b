"""Mail delivery job: retried with backoff when the SMTP server is unavailable."""
from __future__ import annotations

from jobs import job


@job(queue="mail", timeout=60, retries=5, backoff=(30, 120, 600, 1800, 3600))
def send_mail(to: str, subject: str, body: str) -> str:
    from flask import current_app

    from jobs.context import get_app
    from marketplace.mail import compose, deliver

    with get_app().app_context():
        settings = current_app.config["SETTINGS"]
        return deliver(settings, compose(settings, to, subject, body))
