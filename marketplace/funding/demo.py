"""The guichet's demo data: real programmes with their sources and licences, entered through the
real workflow (created by a funder or ANCT, reviewed and published by ANCT).

What is known is written; what is not is left empty, never invented: rates and ceilings are set
only where the law or the funder states them (DETR, the FEDER's EU maximum), and every fact that
could not be checked against its primary text carries a ⚠ in the programme's "points d'attention".
The Action Cœur de Ville and Petites Villes de Demain lists cannot be downloaded here: the first is a
small partial list of towns known to be in the programme, the second is empty; both say so and ask
an operator to upload the official ANCT list.

Idempotent: a label (same slug) or a programme (same owner, same title) that exists is left alone.
The search index is filled by a rebuild, not job by job.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.core.db import bound_to_tenant
from marketplace.funding import labels, services, territory
from marketplace.funding.models import Label, Programme
from marketplace.funding.plan import services as plans
from marketplace.funding.plan.models import FundingPlan
from search.indexing import without_indexing
from tenants import services as tenants
from tenants.models import Role, Tenant, TenantKind, User

ANCT_CURATOR = "curatrice@anct.test"  # writes ANCT's programmes
ANCT_REVIEWER = "admin@anct.test"  # reviews and publishes every programme

# Funders with their own operator tenant and one (fictional) member each.
FUNDERS = [
    ("Banque des Territoires", "prets@banquedesterritoires.test", "Antoine Leroy"),
    ("Région Centre-Val de Loire", "europe@centre-valdeloire.test", "Camille Rousseau"),
]

LICENCE_OUVERTE = "Licence Ouverte 2.0"

ACV = "action-coeur-de-ville"
PVD = "petites-villes-de-demain"

LABELS = [
    {
        "slug": ACV,
        "name": "Action Cœur de Ville",
        "description": (
            "Villes moyennes du programme Action Cœur de Ville (222 territoires, 234 communes ; phase 2 de 2023 à "
            "2026). LISTE PARTIELLE DE DÉMONSTRATION : seules quelques communes dont l'appartenance est certaine "
            "y figurent. Un opérateur doit charger la liste officielle publiée par l'ANCT (fichier CSV de codes "
            "INSEE) avant tout usage réel."),
        "source_url": "https://agence-cohesion-territoires.gouv.fr/action-coeur-de-ville-42",
        "licence": LICENCE_OUVERTE,
        # Châteauroux, Bourges, Blois, Mulhouse: villes moyennes signataires d'une convention ACV.
        "communes": ["36044", "18033", "41018", "68224"],
    },
    {
        "slug": PVD,
        "name": "Petites Villes de Demain",
        "description": (
            "Communes de moins de 20 000 habitants exerçant des fonctions de centralité, lauréates du programme "
            "Petites Villes de Demain (environ 1 646 communes). LISTE VIDE EN DÉMONSTRATION : elle ne peut pas être "
            "téléchargée ici ; un opérateur doit charger la liste officielle de l'ANCT (fichier CSV de codes INSEE)."),
        "source_url": "https://agence-cohesion-territoires.gouv.fr/petites-villes-de-demain-45",
        "licence": LICENCE_OUVERTE,
        "communes": [],
    },
]

FONDS_VERT_SOURCE = "https://www.ecologie.gouv.fr/fonds-vert"
FONDS_VERT_PROVENANCE = ("Intitulés et axes des 14 mesures de l'édition 2023, d'après les données ouvertes des projets "
                         "financés par le Fonds vert (ministère de la Transition écologique, Licence Ouverte 2.0).")
FONDS_VERT_AXES = {
    1: "Renforcer la performance environnementale",
    2: "Adapter les territoires au changement climatique",
    3: "Améliorer le cadre de vie",
}
FONDS_VERT_NOTE = (
    "⚠ Mesures de l'édition 2023 : le Fonds vert a été reconduit depuis (2 Md€ en 2023 et 2024, 1,15 Md€ en 2025, "
    "environ 650 M€ proposés pour 2026 ⚠) avec des mesures, des taux et des conditions qui changent chaque année ; "
    "vérifiez la mesure de l'année en cours auprès de la préfecture. Taux et plafonds non renseignés : ils sont fixés "
    "mesure par mesure (cahiers d'accompagnement). Les subventions du Fonds vert entrent dans le plafond de 80 % des "
    "aides de l'État (CGCT R2334-27).")

# (measure as named in the open data, axis, themes, territory note or None, scope rows)
FRANCE = (("include", "france", ""),)
FONDS_VERT_MEASURES = [
    ("Rénovation énergétique des bâtiments publics locaux", 1, ["energie-batiments"], None, FRANCE),
    ("Rénovation des parcs de luminaires d’éclairage public", 1, ["eclairage-public", "energie-batiments"], None, FRANCE),
    ("Soutien au tri à la source et à la valorisation des biodéchets", 1, ["dechets-economie-circulaire"], None, FRANCE),
    ("Accompagnement pour l’adaptation des territoires littoraux au recul du trait de côte", 2, ["securite-risques"],
     "⚠ Réservée aux communes exposées au recul du trait de côte listées par décret : cette liste n'est pas chargée, "
     "le périmètre ci-dessous est trop large. Créez un label avec la liste officielle et remplacez « France entière ».",
     FRANCE),
    ("Appui aux collectivités de montagne soumises à des risques émergents", 2, ["securite-risques"],
     "⚠ Réservée aux collectivités de montagne : la liste des communes concernées n'est pas chargée, le périmètre "
     "ci-dessous est trop large.", FRANCE),
    ("Ingénierie", 2, [], None, FRANCE),
    ("Prévention des risques d’incendies de forêt et de végétation", 2, ["securite-risques"],
     "⚠ Réservée aux territoires exposés au risque d'incendie de forêt : périmètre à préciser.", FRANCE),
    ("Renaturation des villes et des villages", 2, ["environnement-biodiversite"], None, FRANCE),
    ("Renforcement de la protection des bâtiments contre les vents cycloniques", 2, ["securite-risques"],
     "⚠ Périmètre retenu : les régions d'outre-mer exposées aux cyclones (Guadeloupe, Martinique, La Réunion, "
     "Mayotte) ; à vérifier dans le cahier d'accompagnement de la mesure.",
     (("include", "region", "01"), ("include", "region", "02"), ("include", "region", "04"), ("include", "region", "06"))),
    ("Renforcement des aides apportées par les PAPI et appui financier aux collectivités, gestionnaires de digues, "
     "dans le cadre de la compétence GEMAPI", 2, ["securite-risques", "eau-assainissement"], None, FRANCE),
    ("Accompagnement de la stratégie nationale biodiversité 2030", 3, ["environnement-biodiversite"], None, FRANCE),
    ("Accompagnement du déploiement des zones à faibles émissions mobilité (ZFE)", 3, ["mobilite-stationnement"],
     "⚠ Réservée aux territoires qui mettent en place une zone à faibles émissions : périmètre à préciser.", FRANCE),
    ("Développement du covoiturage", 3, ["mobilite-stationnement"], None, FRANCE),
    ("Recyclage foncier", 3, ["environnement-biodiversite", "commerce-centre-ville"], None, FRANCE),
]


# The measures whose texts name territories we do not hold (a decree's list, the mountain areas…):
# their perimeter is wider than the text's, and the cities are told so.
FONDS_VERT_TO_CHECK = {
    "Accompagnement pour l’adaptation des territoires littoraux au recul du trait de côte":
        "réservée aux communes exposées au recul du trait de côte listées par décret, liste non chargée",
    "Appui aux collectivités de montagne soumises à des risques émergents":
        "réservée aux collectivités de montagne, liste des communes non chargée",
    "Prévention des risques d’incendies de forêt et de végétation":
        "réservée aux territoires exposés au risque d'incendie de forêt, non délimités ici",
    "Renforcement de la protection des bâtiments contre les vents cycloniques":
        "périmètre retenu : les régions d'outre-mer exposées aux cyclones, à confirmer dans le cahier de la mesure",
    "Renforcement des aides apportées par les PAPI et appui financier aux collectivités, gestionnaires de digues, "
    "dans le cadre de la compétence GEMAPI":
        "réservée aux territoires couverts par un PAPI et aux gestionnaires de digues, non délimités ici",
    "Accompagnement du déploiement des zones à faibles émissions mobilité (ZFE)":
        "réservée aux territoires qui mettent en place une zone à faibles émissions, non délimités ici",
}
# The rules are those of the 2023 edition (the open data of funded projects): checked for that year.
FONDS_VERT_CHECKED_ON = dt.date(2023, 12, 31)
# The other demo sheets were written from their sources on this day.
SHEETS_CHECKED_ON = dt.date(2026, 11, 22)


def _fonds_vert(measure: str, axis: int, themes: list[str], territory_note: str | None) -> dict:
    return {
        "title": f"Fonds vert — {measure}",
        "summary": f"Subvention de l'État aux projets des collectivités : mesure « {measure} » du Fonds vert, "
                   f"règles de l'édition 2023 (axe {axis} : {FONDS_VERT_AXES[axis].lower()})."[:400],
        "perimeter_check": FONDS_VERT_TO_CHECK.get(measure, ""),
        "facts_checked_on": FONDS_VERT_CHECKED_ON,
        "description": (
            f"Mesure « {measure} » du **Fonds vert** (fonds d'accélération de la transition écologique dans les "
            f"territoires), axe {axis} « {FONDS_VERT_AXES[axis]} ».\n\n"
            "Le dossier se dépose en ligne sur la démarche de la mesure (démarches simplifiées) ; il est instruit par "
            "les services de l'État du département, qui décident de l'aide."),
        "funders": ["État — Fonds vert"],
        "instructing_body": "Préfecture de département (services de l'État)",
        "funder_level": "state", "state_family": "FONDS_VERT",
        "aid_types": ["subvention", "ingenierie"] if measure == "Ingénierie" else ["subvention"],
        "themes": themes, "beneficiary_kinds": ["commune", "epci"],
        "expense_kinds": ["fonctionnement"] if measure == "Ingénierie" else ["investissement"],
        "project_stages": ["reflexion"] if measure == "Ingénierie" else ["realisation"],
        "recurrence": "recurring",
        "how_to_apply": "Dépôt en ligne sur la démarche de la mesure, après échange avec la préfecture (sous-préfecture "
                        "ou direction départementale des territoires).",
        "source_url": FONDS_VERT_SOURCE, "provenance": FONDS_VERT_PROVENANCE, "licence": LICENCE_OUVERTE,
        "curation_note": "\n\n".join(filter(None, [territory_note, FONDS_VERT_NOTE,
                                                   "⚠ Bénéficiaires : communes et intercommunalités retenus ici ; "
                                                   "d'autres porteurs publics peuvent être éligibles selon la mesure."])),
    }


STATE_PROGRAMMES = [
    {
        "title": "Dotation de soutien à l'investissement local (DSIL)",
        "summary": "Subvention de l'État aux investissements des communes et des intercommunalités : rénovation "
                   "thermique, transition énergétique, mise aux normes des équipements publics, mobilité, numérique, "
                   "bâtiments scolaires.",
        "description": (
            "Dotation de l'État prévue par l'article **L2334-42 du CGCT**. Elle finance les grandes priorités "
            "d'investissement des communes et de leurs groupements : rénovation thermique, transition énergétique et "
            "énergies renouvelables ; mise aux normes et sécurisation des équipements publics ; mobilité et "
            "logement ; numérique et téléphonie mobile ; bâtiments scolaires ; équipements rendus nécessaires par "
            "l'accroissement de la population.\n\n"
            "Les préfets de région répartissent l'enveloppe et publient chaque année leurs priorités et leur "
            "calendrier."),
        "funders": ["État"], "instructing_body": "Préfecture de région, avec les préfectures de département",
        "funder_level": "state", "state_family": "DSIL", "aid_types": ["subvention"],
        "themes": ["energie-batiments", "mobilite-stationnement", "education-inclusion-numerique", "securite-risques"],
        "beneficiary_kinds": ["commune", "epci"], "expense_kinds": ["investissement"],
        "project_stages": ["realisation"], "recurrence": "recurring",
        "how_to_apply": "Dossier à déposer auprès de la préfecture selon l'appel à projets annuel du préfet de région.",
        "source_url": "https://www.collectivites-locales.gouv.fr/",
        "provenance": "Fiche rédigée par l'ANCT d'après le CGCT (art. L2334-42 et R2334-27).",
        "licence": LICENCE_OUVERTE,
        "curation_note": (
            "Taux : pas de taux propre à la DSIL ; les subventions d'investissement de l'État (DETR, DSIL, DPV, DSID, "
            "Fonds vert) ne peuvent dépasser ensemble 80 % du coût prévisionnel HT (CGCT R2334-27).\n\n"
            "⚠ Le projet de loi de finances pour 2026 proposait de fusionner DETR, DSIL et DPV en un fonds unique : "
            "vérifiez le nom et les règles de l'année."),
        "scope": FRANCE,
    },
    {
        "title": "Dotation d'équipement des territoires ruraux (DETR)",
        "summary": "Subvention de l'État aux investissements des communes rurales et de leurs intercommunalités, "
                   "selon les catégories d'opérations fixées chaque année par la commission départementale d'élus.",
        "description": (
            "Dotation de l'État prévue par les articles **L2334-32 à L2334-39 du CGCT**. Chaque département fixe, "
            "avec une commission d'élus, les catégories d'opérations prioritaires et les taux appliqués.\n\n"
            "Sont éligibles les communes de moins de 2 000 habitants (3 500 outre-mer), les communes de 2 001 à "
            "20 000 habitants dont le potentiel financier est faible, et les intercommunalités rurales."),
        "funders": ["État"], "instructing_body": "Préfecture de département (commission DETR)",
        "funder_level": "state", "state_family": "DETR", "aid_types": ["subvention"],
        "themes": ["energie-batiments", "securite-risques", "eau-assainissement", "mobilite-stationnement"],
        "beneficiary_kinds": ["commune", "epci"], "population_below": 20001, "epci_population_below": 75001,
        "rate_min_bp": 2000, "rate_max_bp": 8000, "expense_kinds": ["investissement"],
        "project_stages": ["realisation"], "recurrence": "recurring",
        "how_to_apply": "Dossier à déposer en préfecture avant la date fixée chaque année par l'appel à projets "
                        "départemental.",
        "source_url": "https://www.collectivites-locales.gouv.fr/",
        "provenance": "Fiche rédigée par l'ANCT d'après le CGCT (art. L2334-32 à L2334-39 et R2334-27).",
        "licence": LICENCE_OUVERTE,
        "curation_note": (
            "Taux : au moins 20 % ; les subventions d'investissement de l'État ensemble au plus 80 % du coût "
            "prévisionnel HT (CGCT R2334-27).\n\n"
            "⚠ Le calcul de Passerelle retient les communes de 20 000 habitants au plus et les intercommunalités de "
            "75 000 habitants au plus ; il ne vérifie pas la condition de potentiel financier des communes de 2 001 à "
            "20 000 habitants ni les conditions propres à l'outre-mer et aux intercommunalités : la liste des "
            "communes éligibles est donc un majorant.\n\n"
            "⚠ Le projet de loi de finances pour 2026 proposait de fusionner DETR, DSIL et DPV en un fonds unique."),
        "scope": FRANCE,
    },
    {
        "title": "Action Cœur de Ville",
        "summary": "Programme national de revitalisation des centres des villes moyennes : ingénierie, "
                   "subventions et prêts des partenaires pour les communes labellisées et leur intercommunalité.",
        "description": (
            "Lancé en 2018 par l'État et ses partenaires (Banque des Territoires, Action Logement, Anah), le "
            "programme accompagne 222 territoires (234 communes) dans la revitalisation de leur centre-ville : "
            "habitat, commerce, mobilité, espaces publics, équipements. La phase 2 couvre 2023 à 2026.\n\n"
            "Les aides passent par la convention signée par la commune, son intercommunalité et les partenaires."),
        "funders": ["État (ANCT)", "Banque des Territoires", "Action Logement", "Anah"],
        "instructing_body": "Agence nationale de la cohésion des territoires (ANCT), avec le préfet de département",
        "funder_level": "agency", "aid_types": ["ingenierie", "subvention", "pret"],
        "themes": ["commerce-centre-ville", "energie-batiments", "mobilite-stationnement"],
        "beneficiary_kinds": ["commune", "epci"], "expense_kinds": ["investissement", "fonctionnement"],
        "project_stages": ["reflexion", "realisation"], "recurrence": "permanent",
        "how_to_apply": "Réservé aux communes retenues et à leur intercommunalité : contactez le chef de projet "
                        "Action Cœur de Ville de la commune ou la préfecture.",
        "source_url": "https://agence-cohesion-territoires.gouv.fr/action-coeur-de-ville-42",
        "provenance": "Fiche rédigée par l'ANCT.", "licence": LICENCE_OUVERTE,
        "curation_note": (
            "⚠ La liste des communes du label « Action Cœur de Ville » est PARTIELLE en démonstration : chargez la "
            "liste officielle de l'ANCT dans « Labels ».\n\n⚠ Prolongation du programme au-delà de 2026 à vérifier."),
        "scope": (("include", "label", ACV),),
    },
    {
        "title": "Petites Villes de Demain",
        "summary": "Programme national pour les communes de moins de 20 000 habitants qui exercent des fonctions de "
                   "centralité : ingénierie (chef de projet), subventions et prêts des partenaires.",
        "description": (
            "Lancé en 2020, le programme accompagne environ 1 646 petites villes et leur intercommunalité dans "
            "leur projet de revitalisation : un chef de projet cofinancé, des études, puis les aides des "
            "partenaires (Banque des Territoires, Anah, Cerema…)."),
        "funders": ["État (ANCT)", "Banque des Territoires", "Anah"],
        "instructing_body": "Agence nationale de la cohésion des territoires (ANCT), avec le préfet de département",
        "funder_level": "agency", "aid_types": ["ingenierie", "subvention"],
        "themes": ["commerce-centre-ville", "energie-batiments"],
        "beneficiary_kinds": ["commune", "epci"], "expense_kinds": ["investissement", "fonctionnement"],
        "project_stages": ["reflexion", "realisation"], "recurrence": "permanent",
        "how_to_apply": "Réservé aux communes lauréates et à leur intercommunalité : contactez le chef de projet "
                        "Petites Villes de Demain ou la préfecture.",
        "source_url": "https://agence-cohesion-territoires.gouv.fr/petites-villes-de-demain-45",
        "provenance": "Fiche rédigée par l'ANCT.", "licence": LICENCE_OUVERTE,
        "curation_note": (
            "⚠ La liste des communes du label « Petites Villes de Demain » est VIDE en démonstration : aucune "
            "commune n'est éligible tant que la liste officielle de l'ANCT n'est pas chargée dans « Labels ».\n\n"
            "⚠ Prolongation du programme au-delà de 2026 à vérifier."),
        "scope": (("include", "label", PVD),),
    },
]

FUNDER_PROGRAMMES = {
    "Région Centre-Val de Loire": [{
        "title": "FEDER Centre-Val de Loire 2021-2027 — efficacité énergétique des bâtiments publics",
        "summary": "Cofinancement européen (FEDER) des travaux d'efficacité énergétique des bâtiments publics en "
                   "Centre-Val de Loire, géré par la Région.",
        "description": (
            "Le Fonds européen de développement régional (FEDER) cofinance, au titre de l'objectif spécifique "
            "« efficacité énergétique » du programme régional 2021-2027, la rénovation énergétique des bâtiments "
            "publics. La Région Centre-Val de Loire est l'autorité de gestion : elle instruit les dossiers et fixe "
            "le taux de chaque action dans la limite du règlement européen."),
        "funders": ["Union européenne (FEDER)"], "instructing_body": "Région Centre-Val de Loire (autorité de gestion)",
        "funder_level": "eu", "aid_types": ["subvention"], "themes": ["energie-batiments"],
        "beneficiary_kinds": ["commune", "epci", "departement", "etablissement_public"],
        "rate_max_bp": 6000, "expense_kinds": ["investissement"], "project_stages": ["realisation"],
        "recurrence": "permanent",
        "how_to_apply": "Prendre contact avec le service des fonds européens de la Région avant le dépôt du dossier.",
        "source_url": "https://www.centre-valdeloire.fr/",
        "provenance": "Fiche rédigée par la Région Centre-Val de Loire (démonstration).", "licence": LICENCE_OUVERTE,
        "curation_note": (
            "⚠ Taux maximal de 60 % : plafond du cofinancement européen pour une région en transition (règlement "
            "(UE) 2021/1060, art. 112) ; Centre-Val de Loire est classée région en transition pour 2021-2027 ⚠. Le "
            "taux réel de l'action est fixé par le programme régional.\n\n⚠ Intitulé d'action simplifié : vérifiez "
            "l'action exacte et ses conditions dans le programme FEDER-FSE+ Centre-Val de Loire 2021-2027."),
        "scope": (("include", "region", "24"),),
    }],
    "Banque des Territoires": [{
        "title": "Prêt sur fonds d'épargne pour la transition écologique",
        "summary": "Prêt de long terme de la Banque des Territoires aux collectivités pour leurs investissements de "
                   "transition écologique : rénovation des bâtiments, eau, mobilités, énergies renouvelables.",
        "description": (
            "Prêt sur les fonds d'épargne (Livret A) gérés par la Caisse des Dépôts : **taux Livret A + 0,40 %**, "
            "durée jusqu'à **60 ans**. Une enveloppe de 28 Md€ est ouverte jusqu'en 2027.\n\n"
            "Un prêt n'est pas une subvention : il n'entre pas dans le plafond de 80 % des aides de l'État, et la "
            "collectivité le rembourse sur sa part d'autofinancement."),
        "funders": ["Banque des Territoires (Caisse des Dépôts)"],
        "instructing_body": "Direction régionale de la Banque des Territoires",
        "funder_level": "banque_des_territoires", "aid_types": ["pret"],
        "themes": ["energie-batiments", "eau-assainissement", "mobilite-stationnement", "environnement-biodiversite"],
        "beneficiary_kinds": ["commune", "epci", "departement", "region", "syndicat", "epl"],
        "expense_kinds": ["investissement"], "project_stages": ["realisation"], "recurrence": "permanent",
        "how_to_apply": "Demande auprès de la direction régionale de la Banque des Territoires.",
        "source_url": "https://www.banquedesterritoires.fr/",
        "provenance": "Fiche rédigée par la Banque des Territoires (démonstration).", "licence": LICENCE_OUVERTE,
        "curation_note": "Livret A à 1,5 % depuis le 1er février 2026, soit un taux de prêt de 1,9 % à cette date. "
                         "⚠ Conditions (durées, quotités) à vérifier auprès de la direction régionale.",
        "scope": FRANCE,
    }],
}


def seed_funding(session: Session, tenants_by_name: dict[str, Tenant], *, operator: str,
                 password: str) -> list[tuple[str, str]]:
    """Seed labels, funders and programmes; returns the funders' demo accounts (e-mail, what).
    ``operator``: the name of ANCT's tenant; ``password``: the demo accounts' password."""
    anct = tenants_by_name[operator]
    curator = tenants.find_user_by_email(session, ANCT_CURATOR)
    reviewer = tenants.find_user_by_email(session, ANCT_REVIEWER)
    accounts = []
    funders: dict[str, tuple[Tenant, User]] = {}
    for name, email, full_name in FUNDERS:
        tenant = tenants_by_name.get(name) or session.scalar(select(Tenant).where(Tenant.name == name))
        if tenant is None:
            tenant = tenants_by_name[name] = tenants.create_tenant(session, None, TenantKind.operator, name)
        user = tenants.find_user_by_email(session, email) or tenants.create_user(session, email, full_name, password)
        if tenants.membership_for(session, user, tenant.id) is None:
            tenants.add_membership(session, user, tenant, Role.member)
        funders[name] = (tenant, user)
        accounts.append((email, f"{Role.member.label} — {name} (financeur)"))

    with without_indexing(session):
        for spec in LABELS:
            if session.scalar(select(Label.id).where(Label.slug == spec["slug"])) is None:
                label = labels.create_label(session, curator, anct, spec)
                if spec["communes"]:
                    labels.upload_label_communes(session, curator, label, "\n".join(spec["communes"]))
        for measure, axis, themes, note, scope in FONDS_VERT_MEASURES:
            _programme(session, anct, curator, reviewer, {**_fonds_vert(measure, axis, themes, note), "scope": scope})
        for spec in STATE_PROGRAMMES:
            _programme(session, anct, curator, reviewer, {"facts_checked_on": SHEETS_CHECKED_ON, **spec})
        for name, specs in FUNDER_PROGRAMMES.items():
            tenant, user = funders[name]
            for spec in specs:
                _programme(session, tenant, user, reviewer, {"facts_checked_on": SHEETS_CHECKED_ON, **spec})
    session.flush()
    return accounts


def _programme(session: Session, owner: Tenant, author: User, reviewer: User, spec: dict) -> Programme:
    existing = session.scalar(select(Programme).where(Programme.owner_tenant_id == owner.id,
                                                      Programme.title == spec["title"]))
    if existing is not None:
        return existing
    programme = services.create_programme(session, author, owner, spec)
    for mode, level, value in spec["scope"]:
        territory.add_scope(session, author, programme, include=mode == "include", level=level, value=value)
    services.submit(session, author, programme)
    services.publish(session, reviewer, programme, "Fiche relue : sources et points d'attention vérifiés.")
    return programme


# A funding plan in the demo: the example the guichet was built on (1 M€ of public lighting, with DSIL
# 50 %, DETR 40 % and FEDER 40 % asked; the caps bring the grants to 800 000 €).
DEMO_PLAN = {
    "title": "Rénovation de l'éclairage public (démonstration)",
    "cost_ht_cents": 100_000_000, "eligible_cost_ht_cents": 100_000_000,
    "reference_date": SHEETS_CHECKED_ON, "ordering": "priority",
    "notes": "Plan d'exemple : les taux demandés dépassent les plafonds, Passerelle applique les règles de cumul.",
    "lines": [
        {"label": "DSIL 2026", "category": "state_grant", "state_family": "DSIL", "requested_rate_bp": 5000, "priority": 1},
        {"label": "DETR 2026", "category": "state_grant", "state_family": "DETR", "requested_rate_bp": 4000, "priority": 2},
        {"label": "FEDER Centre-Val de Loire", "category": "eu_grant", "requested_rate_bp": 4000, "priority": 3},
    ],
}


def seed_plan(session: Session, city: Tenant, author: User) -> None:
    """The demo city's funding plan, once."""
    with bound_to_tenant(session, city.id):
        if session.scalar(select(FundingPlan.id).where(FundingPlan.title == DEMO_PLAN["title"])) is None:
            plans.create_plan(session, author, city, DEMO_PLAN)
