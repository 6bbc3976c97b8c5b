"""The one entry point through which services feed the index.

    from search.indexing import index_later
    index_later(session, "solution", solution.id)   # after a committed change

The job runs after the commit (never for a rolled-back change), reads the database (the source
of truth) and updates or removes the document. Jobs carry deterministic ids, so ten edits in a
row queue one indexing job.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy.orm import Session

from search.tasks import index_document

# Set on a session to skip per-row indexing jobs: bulk writers (the demo seed, test factories)
# have their data indexed by a full rebuild, and may run where no queue is configured.
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
    if indexing_skipped(session):
        return
    index_document.after_commit(session, doc_type, object_id, job_id=f"index-{doc_type}-{object_id}")
