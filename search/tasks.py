"""Index jobs, on the 'search' queue.

Documents no longer go through the queue: services write the change log and every node's
follower applies it (``search.follower``). What is left here: trimming the log, and rebuilding
the index of the node a worker runs on (the embedded mode's only node, or a web node that also
runs workers).
"""
from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import delete, func, select

from jobs import job, job_context
from marketplace.core.clock import utcnow
from search.changes import KEEP_DAYS
from search.index import read_follower_status
from search.models import SearchChange
from search.service import rebuild


def _root():
    return current_app.config["SETTINGS"].search_dir


@job(queue="search", timeout=600, cron="40 3 * * *")
def trim_changes(keep_days: int = KEEP_DAYS) -> int:
    """Delete the log's rows older than ``keep_days``, but the newest one: the head of the log
    stays known (an index ahead of it belongs to another database). A node whose follower was
    stopped for longer rebuilds its index when it starts (search.changes.STALE_AFTER_S)."""
    with job_context() as session:
        newest = session.scalar(select(func.max(SearchChange.id)))
        if newest is None:
            return 0
        result = session.execute(delete(SearchChange).where(
            SearchChange.created_at < utcnow() - dt.timedelta(days=keep_days), SearchChange.id < newest))
        return result.rowcount or 0


@job(queue="search", timeout=3600, retries=1, backoff=(300,))
def rebuild_index() -> int:
    with job_context() as session:
        app = current_app._get_current_object()
        return rebuild(_root(), session, fresh_session=app.extensions["passerelle"].session_factory)


def rebuild_soon() -> None:
    """The index is missing or unreadable: have it rebuilt (once, whatever the traffic). A node's
    follower, when it runs, rebuilds its own index by itself; otherwise a worker is asked to."""
    status = read_follower_status(_root())
    if status and status["alive"]:
        return
    try:
        rebuild_index.enqueue(job_id="search-rebuild")
    except Exception:  # the queue itself may be down: the page still answers
        pass
