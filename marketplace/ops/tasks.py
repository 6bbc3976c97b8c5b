"""The operators' check that a worker listens."""
from __future__ import annotations

from jobs import job


@job(queue="default", timeout=30, retries=0)
def ping(message: str = "pong") -> str:
    """A job that only answers: operators use it to check that a worker is listening."""
    return message
