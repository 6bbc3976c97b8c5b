"""The demo's group purchase: public lighting around Lumio Veille, coordinated by Châteauroux
Métropole, open for a month, with two cities already committed, so that `make run` shows the
capability at once and the other demo cities can join it. Idempotent: seeded once."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.core import entitlements
from marketplace.core.clock import today
from marketplace.core.db import bound_to_tenant
from marketplace.purchasing import services
from marketplace.purchasing.models import GroupPurchase
from tenants.models import Tenant, User

TITLE = "Télégestion de l'éclairage public 2027"
# Points lumineux: from 1 000 in all and 3 cities, 34 € HT each instead of 45 €.
OFFER = {"unit": "per_device", "unit_label": "par point lumineux", "list_price_ht_cents": 4_500,
         "conditions": "Contrôleur posé et mis en service, télégestion et maintenance incluses la première année.",
         "tiers": [{"min_units": 300, "min_cities": 0, "unit_price_ht_cents": 4_200},
                   {"min_units": 1_000, "min_cities": 3, "unit_price_ht_cents": 3_800},
                   {"min_units": 3_000, "min_cities": 5, "unit_price_ht_cents": 3_400}]}
COMMITMENTS = [("Châteauroux Métropole", 1_200, "Première tranche : boulevards et zones d'activité."),
               ("Ville de Gien", 450, "")]


def seed_purchasing(session: Session, tenants: dict[str, Tenant], people: dict[str, User], solution) -> None:
    if session.scalar(select(GroupPurchase.id).where(GroupPurchase.title == TITLE)) is not None:
        return
    startup, coordinator = tenants["Lumio Territoires"], tenants["Châteauroux Métropole"]
    # Tiered offers are a Pro feature: the demo gives Lumio the Pro plan (no Stripe in the demo).
    entitlements.set_plan(session, startup.id, "pro", "active", note="offerte pour la démonstration")
    services.save_offer(session, people["Lumio Territoires"], startup, solution, OFFER)
    author = people["Châteauroux Métropole"]
    purchase = services.create(session, author, coordinator, solution.id, {
        "title": TITLE, "description": "Équiper les points lumineux des membres de contrôleurs pilotés à distance : "
                                       "abaissement nocturne, détection de présence, alertes de panne.",
        "nature": "services", "innovative": False, "min_units": 1_000, "min_cities": 3,
        "deadline": today() + dt.timedelta(days=30)})
    services.open_purchase(session, author, purchase)
    for name, quantity, note in COMMITMENTS:
        city = tenants[name]
        with bound_to_tenant(session, city.id):
            services.commit(session, people[name], city, purchase, quantity, note)
    session.flush()
