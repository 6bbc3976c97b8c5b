"""What other features use of billing: the success fee of an awarded group purchase, billed by a job
after the award's transaction commits (never for an award that is rolled back)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from marketplace.billing import tasks


def success_fee_later(session: Session, purchase_id: int, startup_tenant_id: int, awarded_ht_cents: int,
                      title: str) -> None:
    tasks.bill_success_fee.after_commit(session, purchase_id, startup_tenant_id, awarded_ht_cents, title,
                                        job_id=f"success-fee-{purchase_id}")
