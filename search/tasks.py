"""Index jobs, on the 'search' queue. The index has one writer at a time (Whoosh's lock, waited for)."""
from __future__ import annotations

from flask import current_app

from jobs import job, job_context
from search.service import index_document as index_one
from search.service import rebuild


def _root():
    return current_app.config["SETTINGS"].search_dir


@job(queue="search", timeout=120, retries=5, backoff=(5, 30, 120, 600, 1800))
def index_document(doc_type: str, object_id: int) -> bool:
    with job_context() as session:
        return index_one(_root(), session, doc_type, object_id)


@job(queue="search", timeout=3600, retries=1, backoff=(300,))
def rebuild_index() -> int:
    with job_context() as session:
        return rebuild(_root(), session)


def rebuild_soon() -> None:
    """The index is missing or unreadable: ask a worker to rebuild it (once, whatever the traffic)."""
    try:
        rebuild_index.enqueue(job_id="search-rebuild")
    except Exception:  # the queue itself may be down: the page still answers
        pass
