"""The index-change log: one row per change of a searchable document, in the database.

Written in the transaction of the change itself (``search.indexing.index_later``), so a change
that rolls back leaves no row, and a committed one cannot be lost between the commit and a queue.
Every process that serves searches applies the log to its own index, in id order
(``search.follower``); a row says only *which* document changed: the follower reads the document
as it is now, so applying a row twice, or late, is harmless.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.core.clock import utcnow
from marketplace.core.db import Base

# A row whose key is this asks every node to rebuild its index from the database.
REBUILD_KEY = "*"


class SearchChange(Base):
    """Not tenant-owned: it names public documents only ("solution:12"), never their content."""

    __tablename__ = "search_changes"
    # SQLite's AUTOINCREMENT never hands out an id again, even after the newest rows are deleted:
    # a follower at position 100 must never see a new change numbered 100.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    doc_key: Mapped[str] = mapped_column(String(80))
    # The log is trimmed by age (search.tasks.trim_changes).
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
