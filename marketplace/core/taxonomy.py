"""The fixed vocabularies of the annuaire: domains, territory sizes, hosting, pricing models.

Slugs are stored and indexed; labels are shown. Domains are shared with the funding programmes'
themes, so that a solution and a programme can be matched on them.
"""
from __future__ import annotations

DOMAINS: dict[str, str] = {
    "eclairage-public": "Éclairage public",
    "mobilite-stationnement": "Mobilité et stationnement",
    "energie-batiments": "Énergie et bâtiments",
    "eau-assainissement": "Eau et assainissement",
    "dechets-economie-circulaire": "Déchets et économie circulaire",
    "participation-citoyenne": "Participation citoyenne",
    "administration-numerique": "Administration numérique et démarches en ligne",
    "donnees-plateformes": "Données et plateformes territoriales",
    "commerce-centre-ville": "Commerce de centre-ville",
    "tourisme-culture": "Tourisme et culture",
    "sante-autonomie": "Santé et autonomie",
    "education-inclusion-numerique": "Éducation et inclusion numérique",
    "securite-risques": "Sécurité et risques",
    "environnement-biodiversite": "Environnement et biodiversité",
    "tiers-lieux": "Tiers-lieux",
    "agriculture-urbaine": "Agriculture urbaine et circuits courts",
}

# Territory size classes, by population (municipal population of the commune or EPCI).
SIZES: dict[str, tuple[str, int, int | None]] = {
    "moins-2000": ("Moins de 2 000 habitants", 0, 2_000),
    "2000-20000": ("De 2 000 à 20 000 habitants", 2_000, 20_000),
    "20000-100000": ("De 20 000 à 100 000 habitants", 20_000, 100_000),
    "plus-100000": ("Plus de 100 000 habitants", 100_000, None),
}

HOSTING: dict[str, str] = {
    "france": "En France",
    "ue": "Dans l'Union européenne",
    "hors-ue": "Hors de l'Union européenne",
}

PRICE_MODELS: dict[str, str] = {
    "par-habitant": "Par habitant",
    "par-unite": "Par unité (point lumineux, capteur, borne…)",
    "par-licence": "Par licence ou utilisateur",
    "forfait": "Forfait",
}

RGAA_LEVELS: dict[str, str] = {
    "non-evalue": "Non évalué",
    "non-conforme": "Non conforme",
    "partiel": "Partiellement conforme",
    "total": "Totalement conforme",
}


def size_class(population: int) -> str:
    for slug, (_, low, high) in SIZES.items():
        if population >= low and (high is None or population < high):
            return slug
    return "plus-100000"
