"""The one entry point through which services feed the index.

    from search.indexing import index_later
    index_later(session, "solution", solution.id)   # after a committed change

The job runs after the commit (never for a rolled-back change), reads the database (the source
of truth) and updates or removes the document. Jobs carry deterministic ids, so ten edits in a
row queue one indexing job.
"""
from __future__ import annotations

from sqlalchemy.orm import Session


def index_later(session: Session, doc_type: str, object_id: int) -> None:
    from jobs.search import index_document

    index_document.after_commit(session, doc_type, object_id, job_id=f"index-{doc_type}-{object_id}")
