"""How facets are named in URLs (French, shareable) and labelled on pages."""
from __future__ import annotations

from marketplace.core.taxonomy import DOMAINS, HOSTING, PRICE_MODELS, SIZES

TYPES = {"solution": "Solutions", "programme": "Programmes de financement", "call": "Appels à projets"}

# facet field → (URL parameter of the HTML pages, URL parameter of the API, title, labels)
FACETS: dict[str, tuple[str, str, str, dict[str, str]]] = {
    "type": ("type", "type", "Type", TYPES),
    "domains": ("domaine", "domain", "Domaine", DOMAINS),
    "deployed_sizes": ("deploye", "deployed_size", "Déployée dans des territoires de",
                       {k: v[0] for k, v in SIZES.items()}),
    "verified": ("verifiee", "verified", "Références", {"oui": "Avec référence vérifiée", "non": "Sans référence vérifiée"}),
    "sizes": ("taille", "size", "Adaptée aux territoires de", {k: v[0] for k, v in SIZES.items()}),
    "hosting": ("hebergement", "hosting", "Hébergement des données", HOSTING),
    "price_model": ("tarif", "price_model", "Modèle de prix", PRICE_MODELS),
}


def label(fieldname: str, value: str) -> str:
    return FACETS[fieldname][3].get(value, value)


def filters_from_args(args, api: bool = False) -> dict[str, list[str]]:
    """Known values only: an unknown value in a shared URL is ignored, never an error page."""
    filters = {}
    for fieldname, (html_param, api_param, _, labels) in FACETS.items():
        values = [v for v in args.getlist(api_param if api else html_param) if v in labels]
        if values:
            filters[fieldname] = values
    return filters
