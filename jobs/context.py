"""What a job runs inside: the Flask app (settings, mail) and a database session of its own."""
from __future__ import annotations

import contextlib
from typing import Iterator

from marketplace.db import TenantSession


_app = None


def get_app():
    global _app
    if _app is None:
        from marketplace.app import create_app

        _app = create_app()
    return _app


@contextlib.contextmanager
def job_context() -> Iterator[TenantSession]:
    """An app context and a session; commits on success, rolls back on error."""
    app = get_app()
    with app.app_context():
        session = app.extensions["passerelle"].session_factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
