"""The demo's projects and the funded-projects reference.

The reference is the shipped copy of the Fonds vert 2023 open data (half of the public file:
``marketplace/funding/data/fonds-vert-2023-dev.csv``, Licence Ouverte 2.0), imported as a real
operator would. The projects are fictional, in real communes, written as city officers write them.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.core.clock import today
from marketplace.core.db import bound_to_tenant
from marketplace.projects import funded, services
from marketplace.projects.models import FundedProject, Project, ProjectStage
from tenants.models import Tenant, User
from tenants.territories.models import Commune

REFERENCE = Path(__file__).resolve().parent.parent / "funding" / "data" / "fonds-vert-2023-dev.csv"
REFERENCE_SOURCE = "Fonds vert 2023 — données ouvertes du ministère de la Transition écologique (Licence Ouverte 2.0)"

# (tenant, commune INSEE, title, description, themes, cost HT in euros, start in months, stage, need)
PROJECTS = [
    ("Châteauroux Métropole", "36044", "Rénovation énergétique du groupe scolaire Jean-Zay",
     "Isolation des murs et des combles, remplacement des menuiseries et de la chaudière fioul par une pompe à "
     "chaleur dans une école élémentaire de 12 classes construite en 1968. Objectif : -45 % de consommation.",
     ["energie-batiments", "education-inclusion-numerique"], 1_850_000, 9, ProjectStage.design, None),
    ("Châteauroux Métropole", "36063", "Renaturation des berges de l'Indre à Déols",
     "Désimperméabilisation d'un parking de 3 000 m², plantation d'arbres et création d'un cheminement piéton le "
     "long de la rivière ; îlot de fraîcheur pour le quartier.",
     ["environnement-biodiversite", "eau-assainissement"], 640_000, 14, ProjectStage.study, None),
    ("Ville de Gien", "45155", "Collecte et valorisation des biodéchets",
     "Mise en place du tri à la source des biodéchets : composteurs de quartier, bornes d'apport volontaire "
     "et suivi du remplissage.",
     ["dechets-economie-circulaire"], 210_000, 6, ProjectStage.idea,
     "Nous cherchons une solution de suivi du remplissage des bornes d'apport volontaire de biodéchets, avec "
     "alertes de collecte et tableau de bord pour les élus."),
    ("Ville de Vitré", "35360", "Modernisation de l'éclairage public du centre-ville",
     "Remplacement de 900 luminaires par des LED pilotables, abaissement nocturne et détection de présence.",
     ["eclairage-public", "energie-batiments"], 720_000, 4, ProjectStage.design,
     "Nous cherchons une solution de télégestion de l'éclairage public : pilotage point par point, "
     "abaissement nocturne, alertes de panne."),
]


def seed_reference(session: Session) -> funded.Report | None:
    if session.scalar(select(func.count(FundedProject.id))):
        return None
    with open(REFERENCE, encoding="utf-8", newline="") as fh:
        return funded.import_csv(session, fh, source=REFERENCE_SOURCE)


def seed_projects(session: Session, tenants: dict[str, Tenant], admins: dict[str, User]) -> list[Project]:
    made = []
    for tenant_name, insee, title, description, themes, cost, months, stage, need in PROJECTS:
        tenant, author = tenants[tenant_name], admins[tenant_name]
        with bound_to_tenant(session, tenant.id):
            if session.scalar(select(Project.id).where(Project.title == title)) is not None:
                continue
            project = services.create_project(session, author, tenant, {
                "title": title, "description": description, "themes": themes, "cost_ht_cents": cost * 100,
                "planned_start": (today() + dt.timedelta(days=30 * months)).replace(day=1), "stage": stage,
            }, session.get(Commune, insee))
            if need:
                services.publish_need(session, author, project, need)
            session.flush()  # while bound to its tenant: the next one's queries would flush it
            made.append(project)
    session.flush()
    return made
