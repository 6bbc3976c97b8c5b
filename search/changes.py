"""Reading the index-change log, and where an index stands in it.

An index directory holds, beside Whoosh's files, ``position.json``: the id of the last log row it
has applied and the *gaps* below it. On PostgreSQL ids are handed out when a row is inserted and
become visible when its transaction commits, so they commit out of order: while a transaction
holding id 10 is still open, 11 may be committed and applied. Id 10 is then a gap: re-read at each
step until it shows up (applied then) or until ``GAP_TTL_S`` has passed (its transaction rolled
back, or an id the sequence skipped). On SQLite writers take turns, so gaps are rollbacks only.

The position lives in the index directory, not beside it: a rebuilt index starts from the
position its rebuild recorded, whatever the index it replaces had reached.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.core.clock import utcnow
from search.models import SearchChange

POSITION_FILE = "position.json"
# How long an id below the position that has not shown up is waited for: longer than the longest
# transaction that writes to the log (an import of programmes runs in one).
GAP_TTL_S = 600.0
# Gaps kept at most (a sequence that jumps far ahead makes no more than this many).
MAX_GAPS = 10_000
# At a rebuild's start, ids this far below the head that are missing are taken as gaps.
REBUILD_GAP_WINDOW = 1_000
# The log keeps a change this long (search.tasks.trim_changes). An index whose follower last read
# the log more than a day less than that ago may have missed trimmed rows: it is rebuilt. (A
# missing id cannot tell: it may be a trimmed row, a rollback or a transaction still open.)
KEEP_DAYS = 7
STALE_AFTER_S = (KEEP_DAYS - 1) * 86_400.0
# An idle follower still notes, this often, that it has read the log.
CHECKED_EVERY_S = 3_600.0


@dataclass
class Position:
    """Where an index stands in the log."""

    last: int = 0
    gaps: dict[int, float] = field(default_factory=dict)  # missing id → when it was first missed (epoch s)
    checked_at: float = 0.0  # when the log was last read up to ``last`` (epoch s)

    def to_json(self) -> str:
        return json.dumps({"last": self.last, "checked_at": self.checked_at,
                           "gaps": {str(k): v for k, v in sorted(self.gaps.items())}})

    @classmethod
    def from_json(cls, text: str) -> Position:
        data = json.loads(text)
        return cls(int(data["last"]), {int(k): float(v) for k, v in data.get("gaps", {}).items()},
                   float(data.get("checked_at", 0)))

    def advance(self, seen: Iterable[int], now: float) -> None:
        """The ids of one read (every row after ``last``, in order, then the gaps that showed up):
        move past them, note the ids skipped as gaps, forget the gaps seen or expired."""
        seen = set(seen)
        for found in seen & self.gaps.keys():
            del self.gaps[found]
        newest = max((i for i in seen if i > self.last), default=self.last)
        if newest - self.last > 1:
            start = max(self.last + 1, newest - MAX_GAPS)
            for missing in range(start, newest):
                if missing not in seen:
                    self.gaps.setdefault(missing, now)
        self.last = newest
        self.checked_at = now
        self.expire(now)

    def expire(self, now: float) -> None:
        for old in [i for i, since in self.gaps.items() if now - since > GAP_TTL_S]:
            del self.gaps[old]
        if len(self.gaps) > MAX_GAPS:
            for old in sorted(self.gaps)[:len(self.gaps) - MAX_GAPS]:
                del self.gaps[old]


def read_position(index_dir: Path) -> Position | None:
    """The position recorded in an index directory; None if it has none (an index built before
    the log, or a damaged file): such an index is rebuilt."""
    try:
        return Position.from_json((index_dir / POSITION_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_position(index_dir: Path, position: Position) -> None:
    tmp = index_dir / f".{POSITION_FILE}.{uuid.uuid4().hex}"
    tmp.write_text(position.to_json(), encoding="utf-8")
    os.replace(tmp, index_dir / POSITION_FILE)


@dataclass(frozen=True)
class Bounds:
    first: int | None  # oldest id kept (None: empty log)
    head: int  # newest id (0: empty log)


def bounds(session: Session) -> Bounds:
    first, head = session.execute(select(func.min(SearchChange.id), func.max(SearchChange.id))).one()
    return Bounds(first, head or 0)


def read_after(session: Session, position: Position, limit: int) -> list[tuple[int, str]]:
    """The next rows after the position, in id order, and the gaps that have shown up."""
    rows = [(i, key) for i, key in session.execute(select(SearchChange.id, SearchChange.doc_key)
                                                   .where(SearchChange.id > position.last)
                                                   .order_by(SearchChange.id).limit(limit))]
    gaps = sorted(position.gaps)
    for start in range(0, len(gaps), 500):
        rows += [(i, key) for i, key in session.execute(select(SearchChange.id, SearchChange.doc_key)
                                                        .where(SearchChange.id.in_(gaps[start:start + 500]))
                                                        .order_by(SearchChange.id))]
    return rows


def start_position(session: Session, now: float | None = None) -> Position:
    """The position of an index about to be built from the database: the head of the log, with the
    ids just below it that are not visible yet as gaps (their transactions may still commit after
    the build has read the documents they changed)."""
    now = time.time() if now is None else now
    head = bounds(session).head
    floor = max(0, head - REBUILD_GAP_WINDOW)
    seen = set(session.scalars(select(SearchChange.id).where(SearchChange.id > floor)))
    return Position(head, {i: now for i in range(floor + 1, head) if i not in seen}, now)


def pending(session: Session, position: Position) -> tuple[int, float | None]:
    """How far behind an index is: rows after its position, and the age in seconds of the oldest."""
    count, oldest = session.execute(select(func.count(), func.min(SearchChange.created_at))
                                    .where(SearchChange.id > position.last)).one()
    age = max(0.0, (utcnow() - oldest).total_seconds()) if oldest is not None else None
    return count, age
