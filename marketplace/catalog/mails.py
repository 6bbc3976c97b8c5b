"""The annuaire's mail, composed here only: a buyer's message to a startup."""
from __future__ import annotations

from sqlalchemy.orm import Session

from marketplace import mail
from marketplace.catalog.models import Lead
from tenants.models import User


def send_lead(session: Session, lead: Lead, buyer: User, url: str) -> None:
    solution = lead.solution
    mail.send(session, solution.contact_email, f"Demande de contact de {lead.buyer_tenant.name} sur Passerelle",
              mail.render("catalog/mail/lead.txt", lead=lead, solution=solution, buyer=buyer, url=url))
