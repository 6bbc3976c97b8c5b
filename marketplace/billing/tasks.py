"""Billing's jobs: each Stripe event processed apart from the webhook that received it, the grace
periods that end, the success fee of an awarded group purchase."""
from __future__ import annotations

from flask import current_app

from jobs import job, job_context
from marketplace.billing import services


def _settings():
    return current_app.config["SETTINGS"]


@job(queue="default", timeout=120, retries=5, backoff=(10, 60, 300, 900, 3600))
def process_stripe_event(event_id: str) -> str:
    """One stored event; safe to run twice (a processed event is not processed again)."""
    with job_context() as session:
        return services.process_event(session, _settings(), event_id)


@job(queue="default", timeout=300, cron="30 6 * * *")
def expire_grace_periods() -> int:
    """Every morning: a Pro startup whose payment failed and whose grace period is over is back on
    Découverte (its extra solutions archived, its admins told)."""
    with job_context() as session:
        return services.expire_grace(session, _settings())


@job(queue="default", timeout=120, retries=5, backoff=(30, 120, 600, 1800, 3600))
def bill_success_fee(purchase_id: int, startup_tenant_id: int, awarded_ht_cents: int, title: str) -> int | None:
    """The success-fee invoice of an awarded group purchase; retried safely (idempotency keys)."""
    with job_context() as session:
        fee = services.bill_success_fee(session, _settings(), purchase_id, startup_tenant_id, awarded_ht_cents, title)
        return fee.id if fee is not None else None
