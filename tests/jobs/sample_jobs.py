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
