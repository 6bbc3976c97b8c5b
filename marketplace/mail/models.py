"""The mails waiting to be delivered, and those delivered (kept a while for inquiries)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.core.clock import utcnow
from marketplace.core.db import Base


class OutgoingMail(Base):
    """One mail to one address. Not tenant-owned: a password reset belongs to no organisation, and
    no page lists these rows (the embedded outbox page reads the delivered files)."""

    __tablename__ = "outgoing_mails"
    __table_args__ = (
        # The sweep reads the unsent ones, oldest first.
        Index("ix_outgoing_mails_unsent", "sent_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    to: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # Extra headers (RFC 8058 List-Unsubscribe…).
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    message_id: Mapped[str | None] = mapped_column(String(300))
