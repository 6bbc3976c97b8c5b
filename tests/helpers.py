"""Helpers the tests share (plain functions; fixtures live in the conftest files)."""
from __future__ import annotations


def sign_in(client, user, membership=None):
    """Open a session for this user as the sign-in view would."""
    with client.session_transaction() as s:
        s["_user_id"] = str(user.id)
        s["_fresh"] = True
        s["pwd"] = (user.password_hash or "")[-16:]
        if membership is not None:
            s["tenant_id"] = membership.tenant_id


def run_jobs(redis_conn, queues=("default", "mail", "search", "matching")):
    """Run queued jobs in this process (RQ SimpleWorker): retries and timeouts are honoured."""
    from rq import SimpleWorker

    from jobs import get_queue

    worker = SimpleWorker([get_queue(q, redis_conn) for q in queues], connection=redis_conn)
    worker.work(burst=True)
    return worker
