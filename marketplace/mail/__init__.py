"""Outgoing mail: written in the transaction of the change it tells about, delivered by a job.

``send(session, to, subject, body)`` adds an ``OutgoingMail`` row and enqueues its delivery once
the transaction commits. A mail is never lost: if the queue is down at that moment, or a worker is
killed before delivering, the periodic sweep (``tasks.deliver_pending``) finds the row still unsent
and delivers it. Delivery is SMTP in production, files in ``PASSERELLE_HOME/outbox`` in the
embedded mode (``delivery``). ``render`` writes a mail's text from its template.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from marketplace.mail import services, tasks
from marketplace.mail.models import OutgoingMail
from marketplace.mail.services import render

__all__ = ["render", "send"]


def send(session: Session, to: str, subject: str, body: str, headers: dict[str, str] | None = None) -> OutgoingMail:
    """Write the mail now; its delivery is enqueued when the transaction commits (never before,
    never for a rolled-back change)."""
    mail = services.write(session, to, subject, body, headers)
    tasks.deliver_mail.after_commit(session, mail.id, job_id=f"mail-{mail.id}")
    return mail
