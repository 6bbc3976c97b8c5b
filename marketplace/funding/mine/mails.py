"""The alerts' two mails, each composed here only: the confirmation (asked from the alerts page) and
the digest (written by the morning job). Links are built from the configured base URL, so that a
job, which has no request, writes the same links as a page."""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from marketplace import mail
from marketplace.core.clock import utcnow
from marketplace.core.db import all_tenants
from marketplace.funding.mine.alerts import confirm_token, criteria_of, unsubscribe_token
from marketplace.funding.models import AlertStatus, FundingAlert, FundingAlertDigest
from tenants.models import User

CONFIRM_PATH = "/alertes/confirmer/{token}"
UNSUBSCRIBE_PATH = "/alertes/desabonnement/{token}"


def send_confirmation(session: Session, secret: str, base_url: str, alert: FundingAlert, actor: User) -> None:
    url = base_url.rstrip("/") + CONFIRM_PATH.format(token=confirm_token(secret, alert))
    body = mail.render("mail/funding_alert_confirm.txt", alert=alert, actor=actor, url=url,
                       criteria=criteria_of(alert).describe())
    mail.send(session, alert.email, f"Passerelle — confirmez l'alerte « {alert.name} »", body)


def send_digest(session: Session, digest_id: int, secret: str, base_url: str) -> bool:
    """Write the digest's mail and mark the digest mailed, in the same transaction: the mail then
    waits in the outbox until delivered. False when there is nothing (more) to send."""
    # A signed job argument names the digest; the job serves every tenant.
    with all_tenants(session, because="the digest mail job serves every tenant's alerts"):
        digest = session.get(FundingAlertDigest, digest_id)
        if digest is None or digest.mailed_at is not None or not digest.item_count:
            return False
        alert = digest.alert
        if alert.status is not AlertStatus.active:
            return False
        count = digest.item_count
        subject = (f"Passerelle — {count} financement{'s' if count > 1 else ''} "
                   f"{'nouveaux ou modifiés' if count > 1 else 'nouveau ou modifié'} : {alert.name}")
        base = base_url.rstrip("/")
        unsubscribe_url = base + UNSUBSCRIBE_PATH.format(token=unsubscribe_token(secret, alert))
        body = mail.render(
            "mail/funding_digest.txt", alert=alert, digest=digest, criteria=criteria_of(alert).describe(),
            base_url=base, unsubscribe_url=unsubscribe_url,
            entries=[{**e, "closes_on": dt.date.fromisoformat(e["closes_on"]) if e.get("closes_on") else None}
                     for e in digest.entries])
        # RFC 8058 one-click unsubscribe: mail clients POST to this address.
        mail.send(session, alert.email, subject, body, headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
        digest.mailed_at = utcnow()
        session.flush()
    return True
