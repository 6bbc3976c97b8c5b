"""Alerts: a collectivité's saved searches of "Mes financements", mailed as daily or weekly digests.

The rules:

- **Confirmed first.** A new alert is *pending*: a mail asks its recipient to confirm the address
  (a signed link, valid 7 days). Nothing else is sent before.
- **One digest per period.** The digest job runs every morning; a daily alert has one period per
  day ('2026-12-01'), a weekly one per ISO week, on Mondays ('2026-W49'). The period is unique per
  alert in the database: a second run, or a retried job, sends nothing more.
- **Only what is new or changed.** An item (an eligible programme or one of its open calls) is in
  a digest when its current version was never sent to this alert (``FundingAlertItem``: never
  twice the same item in the same version) and it was published or changed after the alert's
  baseline (``since``: its creation, or its resubscription). The sent items, not a moving time
  window, say what is new: an item the index or a late commit kept from one digest goes into the
  next one instead of being skipped.
- **No digest is lost.** The digest (its entries, its items) is written in one transaction; its
  mail is a job of its own, that marks the digest mailed. A digest still owed a mail (worker
  killed between the commit and the enqueue) is enqueued again by the next run.
- **One-click unsubscribe.** Each digest carries a signed link (and the List-Unsubscribe headers
  of RFC 8058): no sign-in needed to stop the mails. Links sign the alert's id *and* its creation
  time: SQLite reuses the id of a deleted row, and an old link must not reach a new alert.
- **No mail cannon.** A confirmation is sent again at most every ``RESEND_DELAY``, and one person
  creates at most ``MAX_NEW_ALERTS_PER_DAY`` alerts a day.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.core import audit
from marketplace.core.clock import utcnow
from marketplace.core.db import all_tenants, bound_to_tenant
from marketplace.core.errors import NotFound, ServiceError
from marketplace.core.signing import row_for_identity, row_identity
from marketplace.funding.mine import services as mine
from marketplace.funding.models import (
    AlertFrequency,
    AlertStatus,
    FundingAlert,
    FundingAlertDigest,
    FundingAlertItem,
)
from marketplace.funding.models import (
    FundingEvent as E,
)
from tenants.models import Tenant, TenantKind, TenantStatus, User

CONFIRM_SALT = "passerelle.funding-alert.confirm"
UNSUBSCRIBE_SALT = "passerelle.funding-alert.unsubscribe"
CONFIRM_MAX_AGE = 7 * 86400
MAX_ALERTS_PER_TENANT = 50
MAIL_GRACE = dt.timedelta(minutes=15)  # a digest older than this without its mail is re-enqueued
RESEND_DELAY = dt.timedelta(minutes=10)
MAX_NEW_ALERTS_PER_DAY = 10


class TokenExpired(ServiceError):
    pass


# Tokens ----------------------------------------------------------------------------------------

def confirm_token(secret: str, alert: FundingAlert) -> str:
    return URLSafeTimedSerializer(secret, salt=CONFIRM_SALT).dumps(row_identity(alert))


def unsubscribe_token(secret: str, alert: FundingAlert) -> str:
    # No expiry: a digest read months later must still stop the mails.
    return URLSafeSerializer(secret, salt=UNSUBSCRIBE_SALT).dumps(row_identity(alert))


def alert_for_token(session: Session, secret: str, token: str, *, purpose: str) -> FundingAlert:
    """The alert a mailed link names. The link is the authorisation: it is read across tenants."""
    try:
        if purpose == "confirm":
            identity = URLSafeTimedSerializer(secret, salt=CONFIRM_SALT).loads(token, max_age=CONFIRM_MAX_AGE)
        else:
            identity = URLSafeSerializer(secret, salt=UNSUBSCRIBE_SALT).loads(token)
    except SignatureExpired:
        raise TokenExpired("Ce lien de confirmation a expiré : demandez un nouvel envoi depuis la page "
                           "« Mes alertes ».") from None
    except BadSignature:
        raise NotFound("Ce lien n'est pas valide.") from None
    alert = row_for_identity(session, FundingAlert, identity)
    if alert is None:
        raise NotFound("Cette alerte n'existe plus.")
    return alert


# Creating and managing -------------------------------------------------------------------------

def _check_city(tenant: Tenant) -> None:
    if tenant.kind is not TenantKind.collectivite or not tenant.is_active:
        raise ServiceError("Les alertes sont réservées aux collectivités dont l'espace est actif.")


def alerts_of(session: Session, tenant: Tenant) -> list[FundingAlert]:
    return list(session.scalars(select(FundingAlert).where(FundingAlert.tenant_id == tenant.id)
                                .order_by(FundingAlert.created_at.desc(), FundingAlert.id.desc())))


def get_alert(session: Session, tenant: Tenant, alert_id: int) -> FundingAlert:
    alert = session.get(FundingAlert, alert_id)
    if alert is None or alert.tenant_id != tenant.id:
        raise NotFound("Alerte introuvable.")
    return alert


def create_alert(session: Session, actor: User, tenant: Tenant, data: dict[str, Any]) -> FundingAlert:
    """``data``: name, email, frequency (validated by AlertFormSchema) and criteria (a Criteria)."""
    _check_city(tenant)
    count = session.scalar(select(func.count()).select_from(FundingAlert)
                           .where(FundingAlert.tenant_id == tenant.id,
                                  FundingAlert.status != AlertStatus.unsubscribed))
    if count >= MAX_ALERTS_PER_TENANT:
        raise ServiceError(f"Votre organisation a déjà {MAX_ALERTS_PER_TENANT} alertes : supprimez-en une "
                           "avant d'en créer une autre.")
    now = utcnow()
    today_count = session.scalar(select(func.count()).select_from(FundingAlert)
                                 .where(FundingAlert.user_id == actor.id,
                                        FundingAlert.created_at > now - dt.timedelta(days=1)))
    if today_count >= MAX_NEW_ALERTS_PER_DAY:
        raise ServiceError(f"Vous avez créé {MAX_NEW_ALERTS_PER_DAY} alertes depuis hier : réessayez demain.")
    criteria: mine.Criteria = data["criteria"]
    # One line: the name goes into mail subjects.
    name = " ".join(data["name"].split())
    alert = FundingAlert(tenant_id=tenant.id, user_id=actor.id, name=name, email=data["email"],
                         criteria=criteria.to_dict(), frequency=AlertFrequency(data["frequency"]),
                         status=AlertStatus.pending, created_at=now, since=now, confirmation_sent_at=now)
    session.add(alert)
    session.flush()
    audit.record(session, E.funding_alert_created, actor_id=actor.id, tenant_id=tenant.id, obj=alert,
                 name=alert.name, frequency=alert.frequency.value, criteria=alert.criteria)
    return alert


def confirm(session: Session, alert: FundingAlert) -> bool:
    """Confirm the address; False when it already was (a second click changes nothing). The link is
    the authorisation: whoever opens it, signed in elsewhere or not, the alert's tenant is the one
    written to."""
    if alert.status is not AlertStatus.pending:
        return False
    with bound_to_tenant(session, alert.tenant_id):
        alert.status = AlertStatus.active
        alert.confirmed_at = utcnow()
        audit.record(session, E.funding_alert_confirmed, actor_id=None, tenant_id=alert.tenant_id, obj=alert,
                     email=alert.email)
        session.flush()
    return True


def resend_confirmation(session: Session, actor: User, alert: FundingAlert) -> None:
    """Pending: ask again (not more than every RESEND_DELAY). Unsubscribed: subscribe again."""
    now = utcnow()
    if alert.status is AlertStatus.active:
        raise ServiceError("Cette alerte est déjà confirmée.")
    if alert.confirmation_sent_at and now - alert.confirmation_sent_at < RESEND_DELAY:
        raise ServiceError("Un message de confirmation vient d'être envoyé : attendez quelques minutes avant "
                           "d'en demander un autre.")
    if alert.status is AlertStatus.unsubscribed:
        # Subscribed again: pending until confirmed again, and nothing from before is sent.
        alert.status = AlertStatus.pending
        alert.unsubscribed_at = None
        alert.since = now
        audit.record(session, E.funding_alert_updated, actor_id=actor.id, tenant_id=alert.tenant_id, obj=alert,
                     change="réabonnement")
    alert.confirmation_sent_at = now


def unsubscribe(session: Session, alert: FundingAlert, actor: User | None = None) -> bool:
    """Stop the mails (a mailed one-click link, or the alerts page). As ``confirm``, written in the
    alert's own tenant whoever opens the link."""
    if alert.status is AlertStatus.unsubscribed:
        return False
    with bound_to_tenant(session, alert.tenant_id):
        alert.status = AlertStatus.unsubscribed
        alert.unsubscribed_at = utcnow()
        _drop_owed_mails(session, alert)
        audit.record(session, E.funding_alert_unsubscribed, actor_id=actor.id if actor else None,
                     tenant_id=alert.tenant_id, obj=alert, email=alert.email)
        session.flush()
    return True


def _drop_owed_mails(session: Session, alert: FundingAlert) -> None:
    """A digest not yet mailed is not sent any more (it would be stale after a resubscription)."""
    for digest in session.scalars(select(FundingAlertDigest).where(FundingAlertDigest.alert_id == alert.id,
                                                                   FundingAlertDigest.mailed_at.is_(None))):
        digest.mailed_at = utcnow()
        digest.item_count = 0
        digest.entries = []


def delete_alert(session: Session, actor: User, alert: FundingAlert) -> None:
    audit.record(session, E.funding_alert_deleted, actor_id=actor.id, tenant_id=alert.tenant_id, obj=alert,
                 name=alert.name, email=alert.email)
    session.delete(alert)


def criteria_of(alert: FundingAlert) -> mine.Criteria:
    return mine.Criteria.from_dict(alert.criteria or {})


# Digests ---------------------------------------------------------------------------------------

def period_for(alert: FundingAlert, on: dt.date) -> str | None:
    """The alert's period that ``on`` opens, or None when it is not a digest day for it."""
    if alert.frequency is AlertFrequency.daily:
        return on.isoformat()
    if on.weekday() == 0:
        year, week, _ = on.isocalendar()
        return f"{year}-W{week:02d}"
    return None


@dataclass
class DigestOutcome:
    alert_id: int
    digest_id: int
    items: int


def digest_alert(session: Session, alert: FundingAlert, *, on: dt.date, now: dt.datetime | None = None,
                 search_root: Path | None = None) -> DigestOutcome | None:
    """Write this period's digest of one alert (its items and entries), or None when there is
    nothing to do: not active, not a digest day, or the period already done. The caller commits,
    then the mail job (``jobs.alerts.send_digest``) sends it."""
    if alert.status is not AlertStatus.active or alert.tenant.status is not TenantStatus.active:
        return None
    period = period_for(alert, on)
    if period is None:
        return None
    done = session.scalar(select(FundingAlertDigest.id).where(FundingAlertDigest.alert_id == alert.id,
                                                               FundingAlertDigest.period == period))
    if done is not None:
        return None
    now = now or utcnow()
    result = mine.find(session, alert.tenant, criteria_of(alert), on=on, search_root=search_root, all_words=True)
    sent = set(session.execute(select(FundingAlertItem.item_key, FundingAlertItem.stamp)
                               .where(FundingAlertItem.alert_id == alert.id)).all())
    sent_keys = {key for key, _ in sent}
    fresh = [item for item in result.items if item.changed_at > alert.since and (item.key, item.stamp) not in sent]
    entries = []
    for item in fresh:
        published = (item.call or item.programme).published_at
        change = "nouveau" if item.key not in sent_keys and published and published > alert.since else "modifié"
        entries.append({"key": item.key, "stamp": item.stamp, "change": change, "title": item.title,
                        "summary": item.summary, "path": item.path, "reason": item.offer.reason,
                        "closes_on": item.closes_on.isoformat() if item.closes_on else None})
    digest = FundingAlertDigest(tenant_id=alert.tenant_id, alert_id=alert.id, period=period,
                                item_count=len(entries), entries=entries,
                                mailed_at=None if entries else now)
    try:
        with session.begin_nested():
            session.add(digest)
            session.flush()
    except IntegrityError:  # another worker wrote this period in the meantime
        return None
    session.add_all(FundingAlertItem(tenant_id=alert.tenant_id, alert_id=alert.id, item_key=e["key"],
                                     stamp=e["stamp"], digest_id=digest.id) for e in entries)
    alert.last_digest_at = now
    return DigestOutcome(alert.id, digest.id, len(entries))


def due_alert_ids(session: Session) -> list[int]:
    with all_tenants(session, because="the daily digest job serves every tenant's alerts"):
        return list(session.scalars(select(FundingAlert.id).where(FundingAlert.status == AlertStatus.active)
                                    .order_by(FundingAlert.id)))


def owed_mails(session: Session, now: dt.datetime | None = None) -> list[int]:
    """Digests with items whose mail was never marked sent, older than a grace delay."""
    limit = (now or utcnow()) - MAIL_GRACE
    with all_tenants(session, because="the daily digest job serves every tenant's alerts"):
        return list(session.scalars(select(FundingAlertDigest.id).join(FundingAlert).where(
            FundingAlertDigest.mailed_at.is_(None), FundingAlertDigest.item_count > 0,
            FundingAlertDigest.created_at <= limit, FundingAlert.status == AlertStatus.active)
            .order_by(FundingAlertDigest.id)))


def digest_alert_id(session: Session, alert_id: int, *, on: dt.date,
                    search_root: Path | None = None) -> DigestOutcome | None:
    """``digest_alert`` for one alert known by its id, whichever tenant it belongs to (the digest
    job serves every tenant: the session is bound to the alert's tenant for the work)."""
    # The digest job serves every tenant; the alert's own tenant is bound just below.
    with all_tenants(session, because="the daily digest job serves every tenant's alerts"):
        alert = session.get(FundingAlert, alert_id)
    if alert is None:
        return None
    with bound_to_tenant(session, alert.tenant_id):
        return digest_alert(session, alert, on=on, search_root=search_root)
