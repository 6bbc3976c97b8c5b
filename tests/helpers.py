"""Helpers the tests share (plain functions; fixtures live in the conftest files)."""
from __future__ import annotations


def sign_in(client, user, membership=None) -> str:
    """Open a session for this user as the sign-in view would (a session known on the server, its
    token in the cookie); returns the session's token."""
    from tenants.services import open_web_session

    db = client.application.extensions["passerelle"].session_factory()
    try:
        token = open_web_session(db, user, "127.0.0.1", "tests")
        db.commit()
    finally:
        db.close()
    with client.session_transaction() as s:
        s.clear()
        s["_user_id"] = str(user.id)
        s["_fresh"] = True
        s["sid"] = token
        if membership is not None:
            s["tenant_id"] = membership.tenant_id
    return token


def run_jobs(redis_conn, queues=("default", "mail", "search", "matching")):
    """Run queued jobs in this process (RQ SimpleWorker): retries and timeouts are honoured."""
    from rq import SimpleWorker

    from jobs import get_queue

    worker = SimpleWorker([get_queue(q, redis_conn) for q in queues], connection=redis_conn)
    worker.work(burst=True)
    return worker


class Documents:
    """Search documents held in memory, served by a provider of type "solution" that replaces the
    product's: tests of the index set ``docs[n]`` and say that it changed, as a service would."""

    def __init__(self):
        self.docs: dict[int, dict] = {}
        self.loads: dict[int, int] = {}  # how many times each document was read

    def load(self, session, object_id: int):
        self.loads[object_id] = self.loads.get(object_id, 0) + 1
        return self.docs.get(object_id)

    def install(self):
        from search import documents

        saved = dict(documents.providers())  # the product's providers are loaded first, then set aside
        documents._providers.clear()
        documents.register("solution", self.load, lambda s: sorted(self.docs),
                           fallback=lambda s, text, limit: [d for d in self.docs.values()
                                                            if text.lower() in d["title"].lower()][:limit])
        return saved

    @staticmethod
    def restore(saved):
        from search import documents

        documents._providers.clear()
        documents._providers.update(saved)
