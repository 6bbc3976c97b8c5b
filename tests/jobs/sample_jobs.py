"""Jobs declared for the tests only; workers resolve them by this module path."""
from __future__ import annotations

from rq import get_current_job

from jobs import job


@job(queue="default", retries=3, backoff=(0,))
def flaky(counter_key: str, failures: int) -> str:
    """Fails ``failures`` times, then succeeds. Retries are immediate (backoff 0)."""
    attempt = get_current_job().connection.incr(counter_key)
    if attempt <= failures:
        raise RuntimeError(f"échec simulé n° {attempt}")
    return f"réussi au {attempt}e essai"


@job(queue="mail", retries=0)
def always_fails(message: str) -> None:
    raise RuntimeError(message)


@job(queue="default", retries=0)
def uses_the_app(counter_key: str) -> int:
    """Opens the job's app context and session, as every feature's job does; counts its runs."""
    from sqlalchemy import text

    from jobs import job_context

    with job_context() as session:
        session.execute(text("SELECT 1"))
    return get_current_job().connection.incr(counter_key)
