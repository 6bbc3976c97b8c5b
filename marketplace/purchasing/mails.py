"""Group purchases' mail, composed here only: each notice once (``services.notice_once``), to the
members (who committed), the coordinator and the startup, as each concerns them."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace import mail
from marketplace.catalog.public import published_solution
from marketplace.core import money
from marketplace.core.db import all_tenants
from marketplace.purchasing import pricing, services
from marketplace.purchasing.models import Commitment, GroupPurchase

SUBJECTS = {
    "opened": "Achat groupé ouvert : « {title} »",
    "extended": "Achat groupé prolongé : « {title} », nouvelle date limite",
    "reminder-7": "Plus que 7 jours pour s'engager : « {title} »",
    "reminder-1": "Dernier jour pour s'engager : « {title} »",
    "closed": "Achat groupé clos, minimum atteint : « {title} »",
    "cancelled": "Achat groupé annulé : « {title} »",
    "awarded": "Achat groupé attribué : « {title} »",
}
# Who hears of what.
TO_MEMBERS = {"extended", "reminder-7", "reminder-1", "closed", "cancelled", "awarded"}
TO_STARTUP = {"opened", "closed", "cancelled", "awarded"}
TO_COORDINATOR = {"reminder-1", "closed", "cancelled"}


def tell(session: Session, purchase: GroupPurchase, kind: str, url: str,
         result: pricing.Figures | None = None) -> int:
    """Send this notice about the purchase, once; returns the number of mails written."""
    if not services.notice_once(session, purchase, kind):
        return 0
    result = result or services.figures(session, purchase)
    with all_tenants(session, because="a group purchase's notices go to every member who committed"):
        commitments = list(session.scalars(select(Commitment).where(Commitment.purchase_id == purchase.id)
                                           .order_by(Commitment.id)))
        recipients: list[tuple[str, str, Commitment | None]] = []
        if kind in TO_MEMBERS:
            recipients += [(c.committed_by.email, c.tenant.name, c) for c in commitments if c.committed_by]
    if kind in TO_COORDINATOR and purchase.created_by is not None:
        recipients.append((purchase.created_by.email, purchase.coordinator.name, None))
    solution = published_solution(session, purchase.solution_id)
    if kind in TO_STARTUP and solution is not None and solution.contact_email:
        recipients.append((solution.contact_email, purchase.startup.name if purchase.startup else "", None))
    seen, sent = set(), 0
    subject = SUBJECTS[kind].format(title=purchase.title)
    for address, organisation, commitment in recipients:
        if address.lower() in seen:
            continue
        seen.add(address.lower())
        share = next((s for s in result.shares if commitment is not None and s.key == commitment.tenant_id), None)
        body = mail.render("purchasing/mail/notice.txt", kind=kind, purchase=purchase, figures=result,
                           organisation=organisation, commitment=commitment, share=share, url=url,
                           euros=money.euros, fallback=services.alone(session, purchase, commitment.quantity)
                           if kind == "cancelled" and commitment is not None else "")
        mail.send(session, address, subject, body)
        sent += 1
    return sent
