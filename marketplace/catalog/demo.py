"""The annuaire's demo data: fictional startups and texts, real territories, the real workflow.

Everything goes through the services (submission, review, confirmation by the city), so the demo
has the audit trail and the invariants of real data. Idempotent: a solution that exists (same
startup, same name) is left alone. The search index is filled by a rebuild, not job by job.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.catalog import services
from marketplace.catalog.models import Solution
from marketplace.catalog.schemas import SolutionSchema
from marketplace.core.db import bound_to_tenant
from search.indexing import without_indexing
from tenants.models import Tenant, User
from tenants.territories.models import Commune, Epci

CURATOR = "curatrice@anct.test"

# Who acts for each demo organisation.
ADMINS = {
    "Lumio Territoires": "fondatrice@lumio.test",
    "Civiweb": "contact@civiweb.test",
    "Mobicité": "equipe@mobicite.test",
    "Tri'Sélect": "contact@triselect.test",
    "Châteauroux Métropole": "dgs@chateauroux-metropole.test",
    "Mulhouse Alsace Agglomération": "achats@mulhouse-alsace.test",
    "Rochefort Océan": "numerique@rochefort-ocean.test",
    "Ville de Vitré": "dgs@vitre.test",
    "Ville de Gien": "mairie@gien.test",
}

# References: (INSEE code or EPCI SIREN, year, testimonial, demo tenant that confirms it or None)
SOLUTIONS = [
    {
        "owner": "Lumio Territoires",
        "status": "published",
        "content": {
            "name": "Lumio Veille",
            "pitch": "Télégestion de l'éclairage public : chaque point lumineux baisse la nuit et se rallume au "
                     "passage, jusqu'à 70 % d'énergie en moins.",
            "description": (
                "Lumio Veille pilote l'éclairage public point par point depuis un tableau de bord unique, "
                "sans changer les luminaires.\n\n"
                "## Ce que la collectivité y gagne\n\n"
                "- **Abaissement nocturne** programmable par rue, par quartier ou par saison ;\n"
                "- **détection de présence** : la lumière revient au passage d'un piéton ou d'un cycliste ;\n"
                "- alertes de panne automatiques, transmises au prestataire de maintenance ;\n"
                "- suivi des consommations, exportable pour le décret tertiaire et les dossiers de subvention.\n\n"
                "## Déploiement\n\n"
                "Les contrôleurs se posent sur les luminaires existants (prise NEMA ou Zhaga), sans tranchée : "
                "une équipe équipe une quarantaine de points lumineux par demi-journée. Le projet est "
                "éligible au Fonds vert, mesure « rénovation des parcs de luminaires d'éclairage public ».\n\n"
                "Les données restent la propriété de la collectivité et sont publiées au format du schéma "
                "national de l'éclairage public."),
            "domains": ["eclairage-public", "energie-batiments"],
            "sizes": ["2000-20000", "20000-100000", "plus-100000"],
            "price_model": "par-unite", "price_min_ht_cents": 4500, "price_max_ht_cents": 9000,
            "price_unit": "par point lumineux, contrôleur et pose compris",
            "hosting": "france", "gdpr_dpa": True, "secnumcloud": False, "rgaa_level": "partiel",
            "open_data_standards": ["Schéma de l'éclairage public"],
            "contact_name": "Léa Martin", "contact_email": "fondatrice@lumio.test",
            "website": "https://lumio-territoires.example.fr",
        },
        "references": [
            ("243600327", 2022, "Sur 9 000 points lumineux, la facture d'éclairage a baissé de 58 % dès la "
                                "première année.", "Châteauroux Métropole"),
            ("35360", 2023, "Les quartiers résidentiels sont éteints de 23 h à 5 h, sauf au passage : aucun "
                            "riverain ne s'en est plaint.", "Ville de Vitré"),
            ("36088", 2024, "", None),
            ("18279", 2021, "Un tableau de bord simple pour les services techniques.", None),
        ],
        # A price update the startup proposed: it waits for review while the version above stays online.
        "pending_edit": {"price_min_ht_cents": 4900, "price_max_ht_cents": 9500},
    },
    {
        "owner": "Civiweb",
        "status": "published",
        "content": {
            "name": "Civiweb Démarches",
            "pitch": "Un guichet en ligne pour les démarches de la mairie et les consultations citoyennes, "
                     "accessible et relié à FranceConnect.",
            "description": (
                "Civiweb Démarches réunit sur un seul site les démarches des habitants et la participation "
                "citoyenne.\n\n"
                "## Démarches\n\n"
                "Inscriptions scolaires et périscolaires, réservation de salles, signalements sur l'espace "
                "public, demandes d'actes : chaque demande arrive au bon service, avec son suivi.\n\n"
                "## Participation\n\n"
                "Consultations, budgets participatifs et questionnaires, avec des résultats publiés en "
                "données ouvertes.\n\n"
                "Le code est publié sous licence EUPL ; l'hébergement est qualifié SecNumCloud."),
            "domains": ["administration-numerique", "participation-citoyenne"],
            "sizes": ["moins-2000", "2000-20000", "20000-100000"],
            "price_model": "par-habitant", "price_min_ht_cents": 15, "price_max_ht_cents": 40,
            "price_unit": "par habitant et par an",
            "hosting": "france", "gdpr_dpa": True, "secnumcloud": True, "rgaa_level": "total",
            "licence": "EUPL-1.2",
            "open_data_standards": ["Délibérations (SCDL)", "Subventions (SCDL)"],
            "contact_name": "Karim Haddad", "contact_email": "contact@civiweb.test",
            "website": "https://civiweb.example.fr",
        },
        "references": [
            ("45155", 2023, "Inscriptions scolaires et réservations de salles en ligne : l'accueil de la "
                            "mairie a gagné deux demi-journées par semaine.", "Ville de Gien"),
            ("200041762", 2022, "La consultation sur le plan vélo a réuni 1 400 contributions.", "Rochefort Océan"),
            ("35115", 2024, "", None),
        ],
    },
    {
        "owner": "Mobicité",
        "status": "published",
        "content": {
            "name": "Mobicité Stationnement",
            "pitch": "Capteurs de places et paiement mobile : le stationnement du centre-ville mesuré en temps "
                     "réel, sans horodateur de plus.",
            "description": (
                "Des capteurs magnétiques collés sur la chaussée détectent l'occupation de chaque place. "
                "Les automobilistes voient les places libres et paient depuis leur téléphone ; les agents "
                "de surveillance reçoivent les dépassements de durée.\n\n"
                "## Pour les élus et le commerce\n\n"
                "- taux d'occupation et de rotation, rue par rue ;\n"
                "- effets d'une zone bleue ou d'une gratuité mesurés avant et après ;\n"
                "- données de stationnement publiées au format de la base nationale."),
            "domains": ["mobilite-stationnement", "commerce-centre-ville", "donnees-plateformes"],
            "sizes": ["20000-100000", "plus-100000"],
            "price_model": "par-unite", "price_min_ht_cents": 18000, "price_max_ht_cents": 30000,
            "price_unit": "par capteur et par an, application comprise",
            "hosting": "ue", "gdpr_dpa": True, "secnumcloud": False, "rgaa_level": "partiel",
            "open_data_standards": ["Base nationale des lieux de stationnement", "GTFS"],
            "contact_name": "Paul Renard", "contact_email": "equipe@mobicite.test",
            "website": "https://mobicite.example.fr",
        },
        "references": [
            ("200066009", 2021, "En hypercentre, la rotation est passée de 3,1 à 4,6 véhicules par place et "
                                "par jour.", "Mulhouse Alsace Agglomération"),
            ("36044", 2023, "", None),
            ("79191", 2022, "Des chiffres d'occupation enfin partagés avec les commerçants.", None),
        ],
    },
    {
        # A second solution of a startup on the free plan: it stays a draft (the quota shows).
        "owner": "Mobicité",
        "status": "draft",
        "content": {
            "name": "Mobicité Flux",
            "pitch": "Comptage anonyme des piétons et des vélos aux entrées du centre-ville, pour mesurer "
                     "l'effet des aménagements.",
            "description": "Capteurs optiques sans image stockée : seuls des comptages agrégés sortent du boîtier.",
            "domains": ["mobilite-stationnement", "commerce-centre-ville"],
            "sizes": ["20000-100000"],
            "price_model": "forfait", "price_min_ht_cents": 350000, "price_max_ht_cents": None,
            "price_unit": "par an pour 5 points de comptage",
            "hosting": "france", "gdpr_dpa": True, "rgaa_level": "non-evalue",
            "contact_name": "Paul Renard", "contact_email": "equipe@mobicite.test",
        },
        "references": [],
    },
    {
        # Waiting for ANCT: the moderation queue has work in the demo.
        "owner": "Tri'Sélect",
        "status": "submitted",
        "content": {
            "name": "Tri'Sélect Collecte",
            "pitch": "Des sondes de remplissage dans les points d'apport volontaire pour collecter au bon "
                     "moment, et des tournées recalculées chaque matin.",
            "description": (
                "Les sondes mesurent le remplissage des colonnes à verre, papier et emballages. Les tournées "
                "ne passent plus que par les colonnes pleines, et les débordements sont signalés avant les "
                "habitants."),
            "domains": ["dechets-economie-circulaire"],
            "sizes": ["2000-20000", "20000-100000"],
            "price_model": "par-unite", "price_min_ht_cents": 9000, "price_max_ht_cents": 14000,
            "price_unit": "par sonde, pose comprise",
            "hosting": "france", "gdpr_dpa": True, "rgaa_level": "non-evalue",
            "open_data_standards": ["Points d'apport volontaire"],
            "contact_name": "Inès Roussel", "contact_email": "contact@triselect.test",
        },
        "references": [("241800507", 2024, "Sur 120 colonnes à verre, 30 % de passages de camion en moins.", None)],
    },
]

# Buyers at work: a shortlist with notes, and a contact request waiting in a startup's dashboard.
SHORTLISTS = [
    ("Châteauroux Métropole", "Lumio Veille", "À comparer avec la régie ; demander le coût de maintenance."),
    ("Châteauroux Métropole", "Mobicité Stationnement", "Pour le projet cœur de ville 2027."),
]
LEADS = [
    ("Ville de Gien", "Lumio Veille",
     "Bonjour, nous renouvelons 1 200 points lumineux en 2027 et préparons un dossier Fonds vert. Pourriez-vous "
     "nous présenter la solution et un ordre de prix pour notre parc ?"),
]


def seed_catalog(session: Session, tenants: dict[str, Tenant]) -> None:
    people = {email: session.scalar(select(User).where(User.email == email))
              for email in set(ADMINS.values()) | {CURATOR}}
    curator = people[CURATOR]
    created: dict[str, Solution] = {}
    with without_indexing(session):
        for spec in SOLUTIONS:
            owner = tenants[spec["owner"]]
            exists = session.scalar(select(Solution).where(Solution.owner_tenant_id == owner.id,
                                                           Solution.name == spec["content"]["name"]))
            if exists is not None:
                continue
            founder = people[ADMINS[spec["owner"]]]
            solution = services.create_solution(session, founder, owner, SolutionSchema().load(spec["content"]))
            created[solution.name] = solution
            for code, year, testimonial, _confirmed_by in spec["references"]:
                services.add_reference(session, founder, solution,
                                       commune=session.get(Commune, code) if len(code) == 5 else None,
                                       epci=session.get(Epci, code) if len(code) == 9 else None,
                                       year=year, testimonial=testimonial)
            if spec["status"] in ("submitted", "published"):
                services.submit(session, founder, solution)
            if spec["status"] == "published":
                services.approve(session, curator, solution, "Fiche complète, références cohérentes.")
                for reference in list(solution.references):
                    confirmed_by = next(c for code, _, _, c in spec["references"] if code == reference.territory_code)
                    if confirmed_by:
                        city = tenants[confirmed_by]
                        services.decide_reference(session, people[ADMINS[confirmed_by]], city, reference, True)
            if spec.get("pending_edit"):
                services.update_solution(session, founder, solution, spec["pending_edit"])
        for city_name, solution_name, note in SHORTLISTS:
            if solution_name in created:
                city = tenants[city_name]
                with bound_to_tenant(session, city.id):
                    services.add_to_shortlist(session, people[ADMINS[city_name]], city,
                                              created[solution_name].id, note)
        for city_name, solution_name, message in LEADS:
            if solution_name in created:
                city = tenants[city_name]
                with bound_to_tenant(session, city.id):
                    services.contact_startup(session, people[ADMINS[city_name]], city, created[solution_name].id,
                                             message)
    session.flush()
