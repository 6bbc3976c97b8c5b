"""The mails of accounts and organisations, each composed here only."""
from __future__ import annotations

from sqlalchemy.orm import Session

from marketplace import mail
from tenants.models import Invitation, TerritoryClaim, User


def send_password_reset(session: Session, user: User, url: str) -> None:
    mail.send(session, user.email, "Réinitialisation de votre mot de passe Passerelle",
              mail.render("mail/reset.txt", user=user, url=url))


def send_invitation(session: Session, invitation: Invitation, inviter: User, url: str) -> None:
    mail.send(session, invitation.email, f"Invitation à rejoindre {invitation.tenant.name} sur Passerelle",
              mail.render("mail/invitation.txt", invitation=invitation, inviter=inviter, url=url))


def send_claim_decision(session: Session, claim: TerritoryClaim, approve: bool, url: str) -> None:
    mail.send(session, claim.user.email,
              "Votre espace Passerelle est ouvert" if approve else "Votre demande sur Passerelle",
              mail.render("mail/claim_decision.txt", claim=claim, approve=approve, url=url))
