"""A realistic corpus for the search benchmarks: French solution sheets of real length (≈150 words),
spread over the 16 domains of the annuaire, with facets and references, from a fixed seed."""
from __future__ import annotations

import datetime as dt
import random

from marketplace.core.taxonomy import DOMAINS, HOSTING, PRICE_MODELS, SIZES

VOCAB = {
    "eclairage-public": ["éclairage public", "lampadaires", "LED", "points lumineux", "télégestion", "détection de présence",
                         "abaissement nocturne", "pollution lumineuse", "économies d'électricité", "armoires de commande"],
    "mobilite-stationnement": ["stationnement", "places de parking", "capteurs au sol", "covoiturage", "vélos en libre-service",
                               "transport à la demande", "zones à faibles émissions", "horodateurs", "bornes de recharge", "intermodalité"],
    "energie-batiments": ["rénovation énergétique", "bâtiments publics", "consommation d'énergie", "chaufferie", "isolation",
                          "compteurs communicants", "pilotage du chauffage", "décret tertiaire", "photovoltaïque", "audit énergétique"],
    "eau-assainissement": ["réseau d'eau potable", "fuites", "assainissement", "station d'épuration", "eaux pluviales",
                           "télérelève", "compteurs d'eau", "qualité de l'eau", "sécheresse", "inondations"],
    "dechets-economie-circulaire": ["collecte des déchets", "tri sélectif", "biodéchets", "recyclage", "conteneurs connectés",
                                    "tournées de collecte", "déchetterie", "réemploi", "compostage", "taux de remplissage"],
    "participation-citoyenne": ["budget participatif", "concertation", "consultation des habitants", "démocratie locale",
                                "conseils de quartier", "pétitions", "signalements", "vote en ligne", "réunions publiques", "ateliers"],
    "administration-numerique": ["démarches en ligne", "dématérialisation", "guichet numérique", "état civil", "prise de rendez-vous",
                                 "gestion de la relation usager", "formulaires", "signature électronique", "archivage", "portail citoyen"],
    "donnees-plateformes": ["données ouvertes", "open data", "jumeau numérique", "plateforme de données", "tableaux de bord",
                            "interopérabilité", "capteurs", "hyperviseur urbain", "API", "gouvernance de la donnée"],
    "commerce-centre-ville": ["commerce de proximité", "centre-ville", "vitrines vacantes", "marketplace locale", "carte de fidélité",
                              "chèques cadeaux", "fréquentation", "animations commerciales", "click and collect", "artisans"],
    "tourisme-culture": ["office de tourisme", "patrimoine", "visites guidées", "billetterie", "médiathèque", "musée",
                         "réalité augmentée", "itinéraires", "événements culturels", "fréquentation touristique"],
    "sante-autonomie": ["maintien à domicile", "personnes âgées", "téléconsultation", "centre de santé", "aidants",
                        "prévention", "téléassistance", "autonomie", "désert médical", "CCAS"],
    "education-inclusion-numerique": ["écoles", "inclusion numérique", "conseillers numériques", "cantine scolaire", "périscolaire",
                                      "tablettes", "espace numérique de travail", "médiation numérique", "illettrisme", "inscriptions scolaires"],
    "securite-risques": ["vidéoprotection", "gestion de crise", "alerte des populations", "plan communal de sauvegarde",
                         "risques naturels", "police municipale", "incendies", "main courante", "sirènes", "inondations"],
    "environnement-biodiversite": ["biodiversité", "îlots de chaleur", "végétalisation", "qualité de l'air", "arbres",
                                   "trame verte", "espaces naturels", "pollinisateurs", "bruit", "renaturation"],
    "tiers-lieux": ["tiers-lieu", "coworking", "fablab", "espace partagé", "réservation de salles", "communauté",
                    "animation", "télétravail", "ateliers", "économie sociale et solidaire"],
    "agriculture-urbaine": ["circuits courts", "restauration collective", "producteurs locaux", "jardins partagés",
                            "fermes urbaines", "projet alimentaire territorial", "marchés", "approvisionnement", "maraîchage", "cantines"],
}
GLUE = ["La solution permet aux collectivités de", "Notre plateforme aide les services techniques à",
        "Les agents peuvent", "Les élus disposent d'outils pour", "Le dispositif permet de", "Les habitants peuvent",
        "Grâce à une interface simple, les communes", "Déployée en quelques semaines, elle aide à"]
VERBS = ["réduire", "piloter", "suivre", "optimiser", "améliorer", "mesurer", "simplifier", "anticiper", "partager", "maîtriser"]
TAIL = ["en temps réel", "sans investissement lourd", "avec des indicateurs clairs", "dans le respect du RGPD",
        "avec un hébergement en France", "pour les villes moyennes", "à l'échelle de l'intercommunalité",
        "en lien avec les usagers", "sur l'ensemble du territoire", "avec un accompagnement dédié"]
NAMES = ["Lumi", "Civi", "Mobi", "Terra", "Eco", "Data", "Agora", "Vita", "Urba", "Geo", "Hydro", "Flux"]
SUFFIX = ["Cité", "Territoires", "Ville", "Commune", "Lab", "Connect", "Plus", "Pilot", "Sens", "Vision"]


def make_corpus(n: int, seed: int = 42) -> list[dict]:
    rnd = random.Random(seed)
    domains = list(DOMAINS)
    docs = []
    start = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
    for i in range(n):
        main = rnd.choice(domains)
        doms = [main] + ([rnd.choice(domains)] if rnd.random() < 0.3 else [])
        words = VOCAB[main] + (VOCAB[doms[1]] if len(doms) > 1 else [])
        title = f"{rnd.choice(NAMES)}{rnd.choice(SUFFIX).lower()} — {rnd.choice(VOCAB[main])}"
        pitch = f"{rnd.choice(VERBS).capitalize()} {rnd.choice(words)} {rnd.choice(TAIL)}."
        sentences = []
        while sum(len(s.split()) for s in sentences) < 150:
            sentences.append(f"{rnd.choice(GLUE)} {rnd.choice(VERBS)} {rnd.choice(words)} et {rnd.choice(words)} "
                             f"{rnd.choice(TAIL)}.")
        body = " ".join(sentences)
        deployments = int(rnd.expovariate(1 / 3))
        verified = min(deployments, int(rnd.random() * (deployments + 1)))
        docs.append({
            "id": f"solution:{i + 1}", "type": "solution", "object_id": i + 1, "title": title, "summary": pitch,
            "body": body, "extra": "", "domains": doms, "hosting": rnd.choices(list(HOSTING), [6, 3, 1])[0],
            "price_model": rnd.choice(list(PRICE_MODELS)), "sizes": rnd.sample(list(SIZES), rnd.randint(1, 3)),
            "deployed_sizes": rnd.sample(list(SIZES), min(deployments, rnd.randint(0, 2))),
            "verified": verified > 0, "verified_count": verified, "deployments": deployments,
            "published_at": start + dt.timedelta(minutes=rnd.randint(0, 2_000_000)), "owner": "Startup", "url": "",
        })
    return docs


def make_queries(seed: int = 7, n: int = 200) -> list[tuple[str, dict]]:
    """(text, filters) pairs: 1–3 words, with and without accents, often with facet filters."""
    rnd = random.Random(seed)
    out = []
    domains = list(DOMAINS)
    for _ in range(n):
        d = rnd.choice(domains)
        phrase = rnd.choice(VOCAB[d])
        words = phrase.split()[:3]
        text = " ".join(words)
        if rnd.random() < 0.3:
            from marketplace.core.text import fold
            text = fold(text)
        filters: dict[str, list[str]] = {}
        r = rnd.random()
        if r < 0.5:
            filters["domains"] = [d]
        if rnd.random() < 0.3:
            filters["hosting"] = ["france"]
        if rnd.random() < 0.3:
            filters["verified"] = ["oui"]
        if rnd.random() < 0.2:
            filters["deployed_sizes"] = ["20000-100000"]
        out.append((text, filters))
    return out
