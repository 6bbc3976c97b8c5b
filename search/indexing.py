"""The one entry point through which services feed the index.

    from search.indexing import index_later
    index_later(session, "solution", solution.id)   # in the transaction of the change

``index_later`` writes a row of the index-change log (``search_changes``) in the session's own
transaction: a change that rolls back leaves no row, a committed one is in the log with it. Every
web node applies the log to its own index within a second or two (``search.follower``), reading
the document as the database holds it then; ten changes to one document in one transaction write
one row.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy.orm import Session

from search.models import REBUILD_KEY, SearchChange

# Set on a session to skip the log: bulk writers (the demo seed, test factories) have their data
# indexed by a full rebuild.
SKIP_INDEXING = "search.skip_indexing"


@contextlib.contextmanager
def without_indexing(session: Session) -> Iterator[Session]:
    previous = session.info.get(SKIP_INDEXING, False)
    session.info[SKIP_INDEXING] = True
    try:
        yield session
    finally:
        session.info[SKIP_INDEXING] = previous


def indexing_skipped(session: Session) -> bool:
    return bool(session.info.get(SKIP_INDEXING))


def index_later(session: Session, doc_type: str, object_id: int) -> None:
    """Say that this document changed (or appeared, or went away): every node re-reads it."""
    if indexing_skipped(session):
        return
    _log(session, f"{doc_type}:{object_id}")


def request_rebuild(session: Session) -> SearchChange:
    """Ask every node to rebuild its index from the database, once this transaction commits."""
    return _log(session, REBUILD_KEY)


def _log(session: Session, key: str) -> SearchChange:
    # Not yet flushed rows only: once flushed, a row may belong to a savepoint that rolls back.
    for pending in session.new:
        if isinstance(pending, SearchChange) and pending.doc_key == key:
            return pending
    change = SearchChange(doc_key=key)
    session.add(change)
    return change
