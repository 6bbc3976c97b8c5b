"""Write a mail in the current transaction; deliver one; find the ones still owed; render a template."""
from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.core.clock import utcnow
from marketplace.core.settings import Settings
from marketplace.core.text import clean_text, one_line
from marketplace.mail.delivery import compose, deliver_message
from marketplace.mail.models import OutgoingMail

# A mail still unsent after this is delivered by the sweep (its job was lost, or is failing).
SWEEP_AFTER = dt.timedelta(minutes=2)


def write(session: Session, to: str, subject: str, body: str, headers: dict[str, str] | None = None) -> OutgoingMail:
    """The mail's row, in the current transaction (``marketplace.mail.send`` enqueues its delivery)."""
    mail = OutgoingMail(to=one_line(to)[:254], subject=one_line(subject)[:300], body=clean_text(body),
                        headers={k: one_line(v) for k, v in (headers or {}).items()})
    session.add(mail)
    session.flush()
    return mail


def deliver(session: Session, settings: Settings, mail_id: int) -> bool:
    """Deliver one mail unless it already was. At least once: a delivery whose mark is lost
    (the worker killed just after SMTP answered) is delivered again."""
    mail = session.get(OutgoingMail, mail_id, with_for_update=True)
    if mail is None or mail.sent_at is not None:
        return False
    mail.attempts += 1
    message = compose(settings, mail.to, mail.subject, mail.body)
    for name, value in (mail.headers or {}).items():
        message[name] = value
    mail.message_id = deliver_message(settings, message)
    mail.sent_at = utcnow()
    return True


def owed(session: Session, now: dt.datetime | None = None, limit: int = 500) -> list[int]:
    """Mails still unsent, older than the delay a queued delivery normally takes."""
    cutoff = (now or utcnow()) - SWEEP_AFTER
    return list(session.scalars(select(OutgoingMail.id).where(OutgoingMail.sent_at.is_(None),
                                                              OutgoingMail.created_at <= cutoff)
                                .order_by(OutgoingMail.created_at, OutgoingMail.id).limit(limit)))


def render(template: str, **context) -> str:
    """A mail's text from its template, with the context given only (no page globals: a job has
    no request, and a mail must not depend on who happens to be signed in)."""
    return current_app.jinja_env.get_template(template).render(**context)
