"""The pages of the load mix, persona by persona: what ``bench/load_mix.py`` sends through Locust
and ``bench/pages.py`` times inside one process. Plain data, no load tool imported.

A page is ``(weight, name, path)``: ``path`` takes the simulated person (its ``account`` from the
seed's manifest, or None for the anonymous personas) and gives the URL to ask; ``name`` groups the
URLs of one route (ids replaced by ``<id>``). A persona's ``share`` is its part of the people, so
of the requests.
"""
from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = json.loads(Path(os.environ["LOAD_MANIFEST"]).read_text(encoding="utf-8"))

Page = tuple[int, str, Callable[[object], str]]
# The sign-in form's token, whichever order the input's attributes come in.
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def pick(ids: list) -> object:
    return random.choice(ids)


def search_terms() -> list[str]:
    return MANIFEST.get("search_terms") or ["éclairage public"]


def q() -> str:
    return random.choice(search_terms())


def purchase_of(person) -> int:
    """A group purchase of the buyer's collectivité, else any (a non-member sees the public page)."""
    return pick(person.account.get("purchase_ids") or MANIFEST["purchase_ids"])


@dataclass(frozen=True)
class Persona:
    name: str
    share: float
    # The manifest's list of accounts this persona signs in with; None: anonymous.
    accounts: str | None
    pages: list[Page] = field(default_factory=list)


VISITOR = Persona("Visitor", 0.40, None, [
    (6, "/", lambda p: "/"),
    (6, "/financements?q=", lambda p: f"/financements?q={q()}"),
    (2, "/financements", lambda p: "/financements"),
    (8, "/financements/<id>", lambda p: f"/financements/{pick(MANIFEST['programme_ids'])}"),
    (6, "/recherche?type=solution&q=", lambda p: f"/recherche?type=solution&q={q()}"),
    (4, "/solutions/<id>", lambda p: f"/solutions/{pick(MANIFEST['solution_ids'])}"),
    (2, "/achats-groupes/", lambda p: "/achats-groupes/"),
    (2, "/achats-groupes/<id>", lambda p: f"/achats-groupes/{pick(MANIFEST['purchase_ids'])}"),
])

# A program reading the public JSON API.
API_CLIENT = Persona("ApiClient", 0.15, None, [
    (4, "/api/v1/programmes", lambda p: f"/api/v1/programmes?page={random.randint(1, 5)}"),
    (2, "/api/v1/programmes?q=", lambda p: f"/api/v1/programmes?q={q()}"),
    (3, "/api/v1/programmes/<id>", lambda p: f"/api/v1/programmes/{pick(MANIFEST['programme_ids'])}"),
    (4, "/api/v1/solutions", lambda p: f"/api/v1/solutions?page={random.randint(1, 5)}"),
    (2, "/api/v1/solutions/<id>", lambda p: f"/api/v1/solutions/{pick(MANIFEST['solution_ids'])}"),
    (2, "/api/v1/search?q=", lambda p: f"/api/v1/search?q={q()}"),
    (1, "/api/v1/group-purchases", lambda p: "/api/v1/group-purchases"),
])

# A city buyer, signed in to its collectivité: its funding, projects, group purchases, shortlist.
BUYER = Persona("Buyer", 0.30, "buyers", [
    (6, "/espace/financements", lambda p: "/espace/financements"),
    (2, "/espace/projets/", lambda p: "/espace/projets/"),
    (5, "/espace/projets/<id>", lambda p: f"/espace/projets/{pick(p.account['project_ids'])}"),
    # The live figures a purchase's page fetches every 15 s while it is open.
    (5, "/api/v1/group-purchases/<id> (chiffres)", lambda p: f"/api/v1/group-purchases/{purchase_of(p)}"),
    (2, "/achats-groupes/<id> (membre)", lambda p: f"/achats-groupes/{purchase_of(p)}"),
    (3, "/espace/selection", lambda p: "/espace/selection"),
    (1, "/espace/", lambda p: "/espace/"),
])

# A startup on its workspace: its solutions, leads, the cities' needs, group purchases.
STARTUP = Persona("Startup", 0.10, "startups", [
    (2, "/espace/", lambda p: "/espace/"),
    (3, "/espace/solutions", lambda p: "/espace/solutions"),
    (2, "/espace/demandes", lambda p: "/espace/demandes"),
    (2, "/espace/besoins/", lambda p: "/espace/besoins/"),
    (1, "/espace/achats-groupes/", lambda p: "/espace/achats-groupes/"),
])

# A curator or a funder on its lists: programmes (its own, or all for ANCT), solutions to moderate.
# A funder has no moderation (404): it keeps the first two pages (``FUNDER_PAGES``).
OPERATOR = Persona("Operator", 0.05, "operators", [
    (4, "/operateur/financements/", lambda p: f"/operateur/financements/?page={random.randint(1, 3)}"),
    (2, "/operateur/financements/?q=", lambda p: f"/operateur/financements/?q={q()}"),
    (3, "/operateur/solutions/", lambda p: "/operateur/solutions/"),
])
FUNDER_PAGES = OPERATOR.pages[:2]
# Asked once after an operator's sign-in, not counted: 200 for a curator, 404 for a funder.
MODERATION_PROBE = "/operateur/solutions/"

PERSONAS = [VISITOR, API_CLIENT, BUYER, STARTUP, OPERATOR]
