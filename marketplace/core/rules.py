"""Rules of law as data: a value with its legal reference and its validity dates.

The funding plan's caps (``funding_rules``) and the procurement thresholds (``procurement_thresholds``)
are stored the same way: each version of a rule is a row with the date it starts and, once another
version follows, the last day it applies (both inclusive). A change of the law is a new row, never an
edit of the old one, so that a plan or a consultation dated before the change still reads the rule of
its day, and the rows themselves are the rule's history.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, String, Text, and_, or_
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.core.clock import utcnow


class DatedRule:
    """Columns every rule table shares (a declarative mixin)."""

    code: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(200))
    legal_reference: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)  # inclusive; NULL: in force
    source_url: Mapped[str] = mapped_column(String(300), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    @classmethod
    def in_force_on(cls, day: dt.date):
        """The SQL condition "this version applies on that day"."""
        return and_(cls.valid_from <= day, or_(cls.valid_to.is_(None), cls.valid_to >= day))
