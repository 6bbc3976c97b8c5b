"""Funding guichet jobs: the daily closing of programmes and calls past their closing date."""
from __future__ import annotations

from jobs import job, job_context
from marketplace.funding.services import close_expired


# 00:20 UTC is past midnight in Paris in winter and summer alike, so "yesterday" is really over.
@job(queue="default", timeout=600, cron="20 0 * * *")
def close_expired_programmes() -> int:
    """Close published programmes (except permanent ones) and calls whose closing date has passed,
    in the calendar of Paris. Idempotent: a second run the same day closes nothing. Each closing is
    versioned and audited with no actor (the job), and leaves the search index."""
    with job_context() as session:
        return close_expired(session)
