"""Billing's mail: a failed payment (and its grace period), the return to the free plan."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace import mail
from marketplace.billing.models import Subscription
from marketplace.core.db import all_tenants
from marketplace.core.settings import Settings
from tenants.models import Membership, Role, User


def _admins(session: Session, tenant_id: int) -> list[str]:
    with all_tenants(session, because="billing mail goes to the startup's admins"):
        return list(session.scalars(select(User.email).join(Membership, Membership.user_id == User.id)
                                    .where(Membership.tenant_id == tenant_id, Membership.role == Role.admin)
                                    .order_by(User.email)))


def payment_failed(session: Session, row: Subscription, grace_until, settings: Settings) -> None:
    for address in _admins(session, row.tenant_id):
        mail.send(session, address, "Paiement refusé : votre offre Pro reste active quelques jours",
                  mail.render("billing/mail/payment_failed.txt", row=row, grace_until=grace_until,
                              url=settings.base_url + "/espace/abonnement"))


def back_to_free(session: Session, row: Subscription, archived: list, settings: Settings) -> None:
    for address in _admins(session, row.tenant_id):
        mail.send(session, address, "Votre startup est revenue à l'offre Découverte",
                  mail.render("billing/mail/back_to_free.txt", row=row, archived=archived,
                              url=settings.base_url + "/espace/abonnement"))
