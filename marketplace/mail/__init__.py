"""Outgoing mail: written in the transaction of the change it tells about, delivered by a job.

``send(session, to, subject, body)`` adds an ``OutgoingMail`` row and enqueues its delivery once
the transaction commits. A mail is never lost: if the queue is down at that moment, or a worker is
killed before delivering, the periodic sweep (``tasks.deliver_pending``) finds the row still unsent
and delivers it. Delivery is SMTP in production, files in ``PASSERELLE_HOME/outbox`` in the
embedded mode (``delivery``).
"""
from marketplace.mail.services import render, send

__all__ = ["render", "send"]
