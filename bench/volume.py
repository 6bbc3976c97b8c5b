"""Production-volume dataset: fills an empty PostgreSQL (or SQLite) database with data shaped like
the real thing, through the product's own tables, and writes a manifest for the load benchmark.

    .venv/bin/python bench/volume.py --database-url URL [--scale 1.0] [--manifest FILE]

At scale 1.0 (the issue's volume): the whole territory registry (every commune and EPCI), the demo
dataset (real programmes, labels, the funded-projects reference), 1 500 collectivité tenants (real
communes and EPCIs, villes moyennes first) with their members, 3 000 startups, 20 000 solutions with
their references, 5 000 programmes of varied perimeters with their versions and 2 000 calls (most
closing in the future, some past), 20 000 projects matched by the product's own nightly run,
200 group purchases with their tiers and commitments, 5 000 contracts rendered by the contract kits,
10 000 funding alerts, shortlists and leads. Smaller scales divide every count (0.01–0.05 for
quick runs); the registry and the operators stay whole.

Rows are written in bulk (SQLAlchemy Core, a few thousand per statement), with the values the
services would write: one argon2 hash of the shared password, memberships and roles as
``tenants`` defines them, statuses with the timestamps their workflows set, eligibility rows the
guichet's index reads (the generation token is moved at the end, as the services do), matches
written by ``marketplace.projects.store`` itself, contract blocks and hashes made by
``marketplace.contracts``. Nothing is queued and the search index's change log is left empty: the
index is built afterwards by ``passerelle search reindex`` (or a follower's first start).

Every seeded person's password is ``passerelle-bench-2026``. The manifest (JSON) lists buyers with
their tenant, projects and joined purchases, startups with their solutions, operators, published
programme and solution ids, open purchase ids and realistic search terms. Each step's time and the
total are printed; the last line is a key=value summary.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import pathlib
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from bench.corpus import NAMES, SUFFIX, TAIL, VERBS, VOCAB, make_corpus  # noqa: E402
from marketplace.core import taxonomy  # noqa: E402
from marketplace.core.db import TenantSession, make_engine  # noqa: E402

PASSWORD = "passerelle-bench-2026"
BATCH = 4000

# The volume (scale 1.0).
VOLUME = {"collectivites": 1500, "startups": 3000, "solutions": 20000, "programmes": 5000, "calls": 2000,
          "projects": 20000, "purchases": 200, "contracts": 5000, "alerts": 10000}

FIRST_NAMES = ["Claire", "Julien", "Nadia", "Thomas", "Sophie", "Yann", "Isabelle", "Léa", "Karim", "Paul", "Inès",
               "Hélène", "Samia", "Antoine", "Camille", "Marc", "Élodie", "Nicolas", "Fatima", "Olivier", "Chloé",
               "Mathieu", "Aurélie", "Sébastien", "Manon", "Hugo", "Émilie", "Romain", "Sarah", "Guillaume",
               "Laure", "Vincent", "Amina", "Pierre", "Margaux", "Louis", "Anne", "Bruno", "Céline", "Damien"]
LAST_NAMES = ["Dubois", "Moreau", "Perrin", "Keller", "Girard", "Le Goff", "Fournier", "Martin", "Haddad", "Renard",
              "Roussel", "Marchand", "Benali", "Leroy", "Rousseau", "Lefèvre", "Bernard", "Petit", "Durand",
              "Lambert", "Bonnet", "François", "Mercier", "Garnier", "Faure", "Chevalier", "Robin", "Masson",
              "Morel", "Blanc", "Guérin", "Boyer", "Gauthier", "Roux", "Nicolas", "Henry", "Brunet", "Schmitt"]

# Who sits in a collectivité's space: (mailbox, role, share of tenants that have one).
CITY_PEOPLE = [("dgs", "admin", 1.0), ("projets", "member", 1.0), ("achats", "member", 0.6), ("elu", "viewer", 0.5)]
STARTUP_PEOPLE = [("fondateur", "admin", 1.0), ("commercial", "member", 0.5)]

PROGRAMME_TITLES = ["Soutien aux projets de {x}", "Aide à l'investissement : {x}", "Fonds pour {x}",
                    "Appel à projets {x}", "Accompagnement des collectivités : {x}", "Prêt pour {x}",
                    "Ingénierie territoriale : {x}", "Programme {x} des territoires"]
PROGRAMME_GLUE = ["Le programme finance", "L'aide soutient", "Les collectivités peuvent présenter des projets de",
                  "Sont éligibles les dépenses liées à", "Le financeur accompagne", "Les dossiers portant sur"]
UNITS_BY_DOMAIN = {"eclairage-public": ("per_device", "par point lumineux"),
                   "mobilite-stationnement": ("per_device", "par capteur"),
                   "eau-assainissement": ("per_device", "par compteur"),
                   "dechets-economie-circulaire": ("per_device", "par conteneur équipé")}


@contextlib.contextmanager
def timed(log: Callable[[str], Any], times: dict[str, float], name: str):
    """Log and record how long a step took."""
    start = time.perf_counter()
    yield
    times[name] = time.perf_counter() - start
    log(f"  {name}: {times[name]:.1f} s")


def scaled(name: str, scale: float, minimum: int = 1) -> int:
    return max(minimum, round(VOLUME[name] * scale))


def insert_rows(session, table, rows: list[dict], *, returning: bool = False) -> list[int]:
    """Insert in batches of a few thousand (one statement, many parameter sets); the new ids in
    the order of ``rows`` when asked."""
    ids: list[int] = []
    conn = session.connection()
    for start in range(0, len(rows), BATCH):
        chunk = rows[start:start + BATCH]
        if returning:
            stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
            ids += [r[0] for r in conn.execute(stmt, chunk)]
        else:
            conn.execute(insert(table), chunk)
    return ids


def siren_with_check_digit(rng: random.Random, taken: set[str]) -> str:
    """Nine digits passing the Luhn check (the INSEE rule ``tenants.services.is_valid_siren`` reads)."""
    while True:
        body = [rng.randint(0, 9) for _ in range(8)]
        body[0] = rng.randint(7, 9)  # away from real public bodies' 2xxxxxxxx
        for last in range(10):
            digits = body + [last]
            total = 0
            for i, d in enumerate(reversed(digits)):
                d = d * 2 if i % 2 else d
                total += d - 9 if d > 9 else d
            if total % 10 == 0:
                siren = "".join(map(str, digits))
                if siren not in taken:
                    taken.add(siren)
                    return siren
                break


def search_terms() -> list[str]:
    """What a city officer types: the corpus's phrases of one to three words, then single words."""
    phrases = [p for words in VOCAB.values() for p in words if len(p.split()) <= 3]
    singles = ["subvention", "fonds vert", "rénovation", "vélo", "école", "mobilité", "numérique", "eau", "énergie"]
    return list(dict.fromkeys(phrases + singles))


class Seeder:
    def __init__(self, session, scale: float, rng: random.Random, log):
        self.s, self.scale, self.rng, self.log = session, scale, rng, log
        from marketplace.core.clock import today, utcnow

        self.now, self.today = utcnow(), today()
        self.manifest: dict[str, Any] = {"password": PASSWORD}
        self.counts: dict[str, int] = {}

    def ago(self, days_min: int, days_max: int) -> dt.datetime:
        return self.now - dt.timedelta(days=self.rng.randint(days_min, days_max), minutes=self.rng.randint(0, 1440))

    def person(self) -> str:
        return f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"

    # People and organisations -----------------------------------------------------------------

    def users_and_memberships(self, tenants: list[dict], people: list[tuple[str, str, float]]) -> dict[int, list]:
        """Users for each tenant (``mailbox@slug.test``), one membership each; tenant id → [(user id, role, email)]."""
        from tenants.models import Membership, User
        from tenants.security import hash_password

        if not hasattr(self, "password_hash"):
            self.password_hash = hash_password(PASSWORD)  # argon2 once: every seeded person shares it
        planned = []
        for tenant in tenants:
            for i, (box, role, share) in enumerate(people):
                if i == 0 or self.rng.random() < share:
                    planned.append((tenant["id"], role, f"{box}@{tenant['slug']}.test"))
        ids = insert_rows(self.s, User.__table__, [
            {"email": email, "full_name": self.person(), "password_hash": self.password_hash,
             "is_platform_admin": False, "is_disabled": False, "created_at": self.ago(30, 700)}
            for _, _, email in planned], returning=True)
        insert_rows(self.s, Membership.__table__, [
            {"tenant_id": tid, "user_id": uid, "role": role, "created_at": self.now}
            for (tid, role, _), uid in zip(planned, ids, strict=True)])
        out: dict[int, list] = defaultdict(list)
        for (tid, role, email), uid in zip(planned, ids, strict=True):
            out[tid].append((uid, role, email))
        self.counts["users"] = self.counts.get("users", 0) + len(ids)
        return out

    def _slug(self, name: str) -> str:
        from marketplace.core.text import slugify

        base = slugify(name)[:100]
        slug, n = base, 1
        while slug in self.slugs:
            n += 1
            slug = f"{base}-{n}"
        self.slugs.add(slug)
        return slug

    def operators(self) -> None:
        """ANCT curators (one of them a platform admin), the Régions, some Départements, the Banque des
        Territoires and ADEME as funders, each with its members."""
        from tenants.models import Membership, Tenant, User
        from tenants.territories.models import Departement, Region

        existing = {t.name: t for t in self.s.scalars(select(Tenant))}
        self.slugs = {t.slug for t in existing.values()}
        anct = next(t for t in existing.values() if t.kind == "operator" and "ANCT" in t.name)
        specs = [(r.name if r.name.startswith("Région") else f"Région {r.name}", "region", r.code)
                 for r in self.s.scalars(select(Region).order_by(Region.code)) if r.code not in ("01", "02", "03", "04", "06")]
        specs += [(f"Département {d.name}" if d.name[:1] in "AEIOUYÉ" else f"Département de {d.name}", "departement", d.code)
                  for d in self.s.scalars(select(Departement).order_by(Departement.code)).all()[:12]]
        specs += [("Banque des Territoires", "banque_des_territoires", None), ("ADEME", "agency", None)]
        rows, self.funders = [], []
        for name, level, code in specs:
            if name in existing:
                self.funders.append({"id": existing[name].id, "level": level, "code": code, "name": name})
                continue
            rows.append({"kind": "operator", "name": name, "slug": self._slug(name), "status": "active",
                         "created_at": self.now})
            self.funders.append({"id": None, "level": level, "code": code, "name": name})
        ids = iter(insert_rows(self.s, Tenant.__table__, rows, returning=True))
        for f in self.funders:
            if f["id"] is None:
                f["id"] = next(ids)
        self.anct_id = anct.id
        # ANCT's own staff: five curators, the first a platform admin (curators are the members of the
        # operator tenant a platform admin belongs to: tenants.access).
        from tenants.security import hash_password

        self.password_hash = hash_password(PASSWORD)
        staff = [(f"curation{i}@anct-bench.test", i == 1) for i in range(1, 6)]
        uids = insert_rows(self.s, User.__table__, [
            {"email": email, "full_name": self.person(), "password_hash": self.password_hash,
             "is_platform_admin": admin, "is_disabled": False, "created_at": self.now} for email, admin in staff],
            returning=True)
        insert_rows(self.s, Membership.__table__, [
            {"tenant_id": anct.id, "user_id": uid, "role": "admin" if i == 0 else "member", "created_at": self.now}
            for i, uid in enumerate(uids)])
        self.curator_ids = uids
        funder_people = self.users_and_memberships(
            [{"id": f["id"], "slug": self.s.get(Tenant, f["id"]).slug} for f in self.funders],
            [("financements", "admin", 1.0)])
        self.counts["users"] += len(uids)
        self.manifest["operators"] = (
            [{"email": email, "tenant_id": anct.id, "role": "curator"} for email, _ in staff]
            + [{"email": people[0][2], "tenant_id": tid, "role": "funder"} for tid, people in funder_people.items()])
        self.counts["operators"] = len(self.funders) + 1

    def collectivites(self) -> None:
        """Real communes and EPCIs, villes moyennes first (20 000–100 000 inhabitants, then 10 000–20 000),
        then agglomerations and communautés de communes by size; six in ten are communes."""
        from tenants.models import Tenant
        from tenants.services import city_name
        from tenants.territories.models import Commune, Epci

        n = scaled("collectivites", self.scale)
        taken_c = set(self.s.scalars(select(Tenant.commune_insee).where(Tenant.commune_insee.is_not(None))))
        taken_e = set(self.s.scalars(select(Tenant.epci_siren).where(Tenant.epci_siren.is_not(None))))
        communes = [c for c in self.s.execute(select(Commune.insee, Commune.name, Commune.population)
                                              .order_by(Commune.population.desc(), Commune.insee))
                    if c.insee not in taken_c]
        ordered = ([c for c in communes if 20_000 <= c.population < 100_000]
                   + [c for c in communes if 10_000 <= c.population < 20_000]
                   + [c for c in communes if c.population < 10_000] + [c for c in communes if c.population >= 100_000])
        epcis = [e for e in self.s.execute(select(Epci.siren, Epci.name, Epci.kind, Epci.population)
                                           .order_by(Epci.population.desc(), Epci.siren)) if e.siren not in taken_e]
        epcis = [e for e in epcis if e.kind == "CA"] + [e for e in epcis if e.kind == "CC"] + \
                [e for e in epcis if e.kind not in ("CA", "CC")]
        n_communes = min(len(ordered), round(n * 0.6))
        rows = [{"kind": "collectivite", "name": city_name(c.name), "commune_insee": c.insee} for c in ordered[:n_communes]]
        rows += [{"kind": "collectivite", "name": e.name, "epci_siren": e.siren} for e in epcis[:n - n_communes]]
        for r in rows:
            r.update(slug=self._slug(r["name"]), status="active", created_at=self.ago(60, 900))
            r.setdefault("commune_insee", None)
            r.setdefault("epci_siren", None)
        ids = insert_rows(self.s, Tenant.__table__, rows, returning=True)
        for r, tid in zip(rows, ids, strict=True):
            r["id"] = tid
        self.cities = rows
        self.city_people = self.users_and_memberships(rows, CITY_PEOPLE)
        # The communes where each collectivité's projects happen: its own, or its EPCI's members.
        members: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for insee, epci, dep in self.s.execute(select(Commune.insee, Commune.epci_siren, Commune.departement_code)
                                               .where(Commune.epci_siren.is_not(None)).order_by(Commune.insee)):
            members[epci].append((insee, dep))
        dep_of = dict(self.s.execute(select(Commune.insee, Commune.departement_code)).all())
        for r in rows:
            r["communes"] = [r["commune_insee"]] if r["commune_insee"] else [i for i, _ in members[r["epci_siren"]]]
            r["departement"] = dep_of.get(r["communes"][0], "") if r["communes"] else ""
        self.counts["collectivites"] = len(rows)

    def startups(self) -> None:
        from marketplace.core.entitlements import TenantPlan
        from tenants.models import Tenant
        from tenants.territories.models import Commune

        n = scaled("startups", self.scale)
        cities = list(self.s.scalars(select(Commune.name).where(Commune.population >= 30_000)
                                     .order_by(Commune.population.desc())))
        taken = set(self.s.scalars(select(Tenant.siren).where(Tenant.siren.is_not(None))))
        names: set[str] = set()
        rows = []
        while len(rows) < n:
            name = f"{self.rng.choice(NAMES)}{self.rng.choice(SUFFIX).lower()} {self.rng.choice(cities)}"
            if name in names:
                continue
            names.add(name)
            rows.append({"kind": "startup", "name": name, "slug": self._slug(name), "status": "active",
                         "siren": siren_with_check_digit(self.rng, taken), "commune_insee": None, "epci_siren": None,
                         "created_at": self.ago(60, 1200)})
        ids = insert_rows(self.s, Tenant.__table__, rows, returning=True)
        for r, tid in zip(rows, ids, strict=True):
            r["id"] = tid
            # Seven in ten on the Pro plan (several published solutions, tiered offers); the others on
            # the free plan, with at most one published solution (catalog's publication_limit).
            r["pro"] = self.rng.random() < 0.7
        self.startup_rows = rows
        self.startup_people = self.users_and_memberships(rows, STARTUP_PEOPLE)
        insert_rows(self.s, TenantPlan.__table__, [
            {"tenant_id": r["id"], "plan": "pro", "status": "active", "note": "jeu de données de volume",
             "updated_at": self.now} for r in rows if r["pro"]])
        self.counts["startups"] = len(rows)

    # The annuaire ----------------------------------------------------------------------------------

    def solutions(self) -> None:
        from marketplace.catalog.models import Lead, ShortlistItem, Solution, SolutionReference
        from tenants.territories.models import Commune, Epci

        n = scaled("solutions", self.scale)
        owners = list(self.startup_rows)  # every startup has a solution; the Pro ones share the rest
        pro = [r for r in self.startup_rows if r["pro"]] or self.startup_rows
        while len(owners) < n:
            owners.append(self.rng.choice(pro))
        owners = owners[:n]
        self.rng.shuffle(owners)
        docs = make_corpus(n, seed=self.rng.randint(0, 10**6))
        published_of: dict[int, int] = defaultdict(int)
        rows = []
        for doc, owner in zip(docs, owners, strict=True):
            doc["domains"] = list(dict.fromkeys(doc["domains"]))  # the corpus may draw one domain twice
            main = doc["domains"][0]
            status = self.rng.choices(["published", "submitted", "draft", "archived"], [90, 4, 4, 2])[0]
            if status == "published" and not owner["pro"] and published_of[owner["id"]] >= 1:
                status = "draft"  # the free plan publishes one solution
            if status == "published":
                published_of[owner["id"]] += 1
            brand = owner["name"].split(" ")[0]
            low = self.rng.choice([500, 1_000, 2_000, 4_500, 9_000, 25_000, 120_000, 600_000])
            created = doc["published_at"] - dt.timedelta(days=self.rng.randint(1, 60))
            founder = self.startup_people[owner["id"]][0]
            rows.append({
                "owner_tenant_id": owner["id"], "status": status,
                "name": f"{brand} {self.rng.choice(VOCAB[main])}"[:120],
                "pitch": doc["summary"][:200], "description": doc["body"], "domains": doc["domains"],
                "sizes": doc["sizes"], "price_model": doc["price_model"], "price_min_ht_cents": low,
                "price_max_ht_cents": low * self.rng.choice([1, 2, 3, 5]), "price_unit": "",
                "hosting": doc["hosting"], "gdpr_dpa": self.rng.random() < 0.8, "secnumcloud": self.rng.random() < 0.1,
                "rgaa_level": self.rng.choice(list(taxonomy.RGAA_LEVELS)),
                "licence": self.rng.choice([None, None, "Propriétaire", "AGPL-3.0", "MIT"]),
                "open_data_standards": [], "contact_name": self.person(), "contact_email": founder[2],
                "website": f"https://{owner['slug']}.example", "logo": None,
                "created_at": created, "updated_at": doc["published_at"],
                "submitted_at": created + dt.timedelta(days=1) if status in ("published", "submitted", "archived") else None,
                "published_at": doc["published_at"] if status in ("published", "archived") else None,
                "archived_at": self.now if status == "archived" else None, "review_comment": "",
                "reviewed_at": doc["published_at"] if status in ("published", "archived") else None,
                "reviewed_by_id": self.curator_ids[1] if status in ("published", "archived") else None,
            })
        ids = insert_rows(self.s, Solution.__table__, rows, returning=True)
        for r, sid in zip(rows, ids, strict=True):
            r["id"] = sid
        self.solution_rows = rows
        self.published = [r for r in rows if r["status"] == "published"]

        # References: real territories, more often towns of some size; a collectivité on Passerelle
        # confirmed some of those naming it (verified, decided by its admin).
        pool_c = list(self.s.scalars(select(Commune.insee).where(Commune.population >= 2_000).order_by(Commune.insee)))
        pool_e = list(self.s.scalars(select(Epci.siren).order_by(Epci.siren)))
        tenant_of_c = {c["commune_insee"]: c for c in self.cities if c["commune_insee"]}
        tenant_of_e = {c["epci_siren"]: c for c in self.cities if c["epci_siren"]}
        cities_c, cities_e = list(tenant_of_c), list(tenant_of_e)
        refs = []
        for doc, r in zip(docs, rows, strict=True):
            seen = set()
            for _ in range(max(1, doc["deployments"])):
                as_city = self.rng.random() < 0.25
                if self.rng.random() < 0.7:
                    code = self.rng.choice(cities_c) if as_city and cities_c else self.rng.choice(pool_c)
                    key = ("c", code)
                else:
                    code = self.rng.choice(cities_e) if as_city and cities_e else self.rng.choice(pool_e)
                    key = ("e", code)
                if key in seen:
                    continue
                seen.add(key)
                city = (tenant_of_c if key[0] == "c" else tenant_of_e).get(code)
                status = "declared"
                if city is not None:
                    status = self.rng.choices(["verified", "declared", "declined"], [6, 3, 1])[0]
                refs.append({"solution_id": r["id"], "commune_insee": code if key[0] == "c" else None,
                             "epci_siren": code if key[0] == "e" else None, "year": self.rng.randint(2018, 2026),
                             "testimonial": "" if self.rng.random() < 0.6 else
                             f"{self.rng.choice(VERBS).capitalize()} {self.rng.choice(VOCAB[doc['domains'][0]])} "
                             f"{self.rng.choice(TAIL)} : les services sont satisfaits.",
                             "status": status, "created_at": r["created_at"],
                             "decided_at": self.now if status != "declared" else None,
                             "decided_by_id": self.city_people[city["id"]][0][0] if status != "declared" else None})
        insert_rows(self.s, SolutionReference.__table__, refs)
        self.counts.update(solutions=len(rows), published_solutions=len(self.published), references=len(refs))

        # Buyers at work: shortlists with notes, and contact requests in the startups' workspace.
        items, leads = [], []
        for city in self.cities:
            people = self.city_people[city["id"]]
            for sol in self.rng.sample(self.published, min(len(self.published), self.rng.randint(0, 8))):
                items.append({"tenant_id": city["id"], "solution_id": sol["id"], "added_by_id": people[0][0],
                              "note": self.rng.choice(["", "À comparer avec la régie.", "Demander un devis.",
                                                       "Pour le budget de l'an prochain."]),
                              "created_at": self.ago(1, 200), "updated_at": self.now})
            for sol in self.rng.sample(self.published, min(len(self.published), self.rng.randint(0, 6))):
                leads.append({"tenant_id": city["id"], "solution_id": sol["id"],
                              "startup_tenant_id": sol["owner_tenant_id"], "buyer_user_id": people[0][0],
                              "message": f"Bonjour, nous étudions un projet de {self.rng.choice(VOCAB[sol['domains'][0]])}"
                                         f" pour {city['name']}. Pourriez-vous nous présenter votre solution et un ordre "
                                         "de prix ?",
                              "created_at": self.ago(1, 300),
                              "handled_at": self.now if self.rng.random() < 0.5 else None})
        insert_rows(self.s, ShortlistItem.__table__, items)
        insert_rows(self.s, Lead.__table__, leads)
        self.counts.update(shortlist_items=len(items), leads=len(leads))

    # The funding guichet ---------------------------------------------------------------------------

    def labels(self) -> list[str]:
        """Lists of communes the Régions uploaded (rural communes of their territory), beside the demo's
        Action Cœur de Ville and Petites Villes de Demain."""
        from marketplace.funding.models import Label, LabelCommune
        from tenants.territories.models import Commune

        slugs = list(self.s.scalars(select(Label.slug).order_by(Label.slug)))
        regions = [f for f in self.funders if f["level"] == "region"][:10]
        rows = [{"slug": f"communes-rurales-{f['code']}", "name": f"Communes rurales prioritaires — {f['name']}",
                 "description": "Liste de communes chargée par la Région (codes INSEE).", "source_url": "",
                 "licence": "", "owner_tenant_id": f["id"], "created_at": self.now, "updated_at": self.now,
                 "communes_updated_at": self.now} for f in regions]
        ids = insert_rows(self.s, Label.__table__, rows, returning=True)
        members = []
        for f, label_id in zip(regions, ids, strict=True):
            rural = list(self.s.scalars(select(Commune.insee).where(Commune.region_code == f["code"],
                                                                    Commune.population < 3_500).order_by(Commune.insee)))
            members += [{"label_id": label_id, "commune_insee": c}
                        for c in self.rng.sample(rural, min(len(rural), self.rng.randint(50, 800)))]
        insert_rows(self.s, LabelCommune.__table__, members)
        self.region_labels = {f["code"]: r["slug"] for f, r in zip(regions, rows, strict=True)}
        return slugs + [r["slug"] for r in rows]

    def programmes(self) -> None:
        from marketplace.funding.models import (
            CONTENT_FIELDS,
            STATE_FAMILIES,
            Programme,
            ProgrammeCall,
            ProgrammeScope,
            ProgrammeVersion,
        )
        from marketplace.funding.versions import json_value
        from tenants.territories.models import Commune, Departement, Epci

        label_slugs = self.labels()
        n = scaled("programmes", self.scale)
        deps_of_region: dict[str, list[str]] = defaultdict(list)
        for code, region in self.s.execute(select(Departement.code, Departement.region_code).order_by(Departement.code)):
            deps_of_region[region].append(code)
        regions = sorted(deps_of_region)
        epcis_of_dep: dict[str, list[str]] = defaultdict(list)
        for siren, dep in self.s.execute(select(Epci.siren, func.min(Commune.departement_code))
                                         .join(Commune, Commune.epci_siren == Epci.siren).group_by(Epci.siren)
                                         .order_by(Epci.siren)):
            epcis_of_dep[dep].append(siren)
        epcis = [e for es in epcis_of_dep.values() for e in es]
        insee = list(self.s.scalars(select(Commune.insee).order_by(Commune.insee)))
        by_level = defaultdict(list)
        for f in self.funders:
            by_level[f["level"]].append(f)
        anct = {"id": self.anct_id, "level": "anct", "code": None, "name": "ANCT"}
        levels = [(anct, 30), *((f, 35 / len(by_level["region"])) for f in by_level["region"]),
                  *((f, 20 / len(by_level["departement"])) for f in by_level["departement"]),
                  *((f, 8) for f in by_level["banque_des_territoires"]), *((f, 7) for f in by_level["agency"])]
        owners, weights = zip(*levels, strict=True)
        domains = list(taxonomy.DOMAINS)

        def scope_for(owner) -> list[tuple[bool, str, str]]:
            level, r = owner["level"], self.rng.random()
            if level == "region":
                if r < 0.6:
                    rows = [(True, "region", owner["code"])]
                    if self.rng.random() < 0.2:
                        rows.append((False, "departement", self.rng.choice(deps_of_region[owner["code"]])))
                    return rows
                if r < 0.85 or owner["code"] not in self.region_labels:
                    ds = deps_of_region[owner["code"]]
                    return [(True, "departement", d) for d in self.rng.sample(ds, self.rng.randint(1, min(3, len(ds))))]
                return [(True, "label", self.region_labels[owner["code"]])]
            if level == "departement":
                es = epcis_of_dep.get(owner["code"]) or []
                if r < 0.7 or not es:
                    return [(True, "departement", owner["code"])]
                return [(True, "epci", e) for e in self.rng.sample(es, self.rng.randint(1, min(6, len(es))))]
            if level in ("banque_des_territoires", "agency"):
                if r < 0.6:
                    return [(True, "france", "FR")]
                return [(True, "region", g) for g in self.rng.sample(regions, self.rng.randint(1, 3))]
            # ANCT and the State: national programmes, labels, lists of places, or a mix.
            kind = self.rng.choices(["france", "label", "communes", "epci", "mix"], [45, 15, 15, 15, 10])[0]
            if kind == "france":
                rows = [(True, "france", "FR")]
                if self.rng.random() < 0.2:
                    rows += [(False, "region", g) for g in self.rng.sample(regions, 2)]
                return rows
            if kind == "label":
                return [(True, "label", self.rng.choice(label_slugs))]
            if kind == "communes":
                return [(True, "commune", c) for c in self.rng.sample(insee, self.rng.randint(5, 300))]
            if kind == "epci":
                return [(True, "epci", e) for e in self.rng.sample(epcis, self.rng.randint(1, 10))]
            return [(True, "region", self.rng.choice(regions)), (True, "label", self.rng.choice(label_slugs)),
                    (False, "epci", self.rng.choice(epcis))]

        rows, scopes = [], []
        for _ in range(n):
            owner = self.rng.choices(owners, weights)[0]
            level = owner["level"]
            funder_level = {"anct": self.rng.choice(["state", "state", "agency", "eu"])}.get(level, level)
            themes = self.rng.sample(domains, self.rng.choice([1, 1, 2, 3]))
            phrase = self.rng.choice(VOCAB[themes[0]])
            aid_types = self.rng.choice([["subvention"], ["subvention"], ["subvention", "ingenierie"], ["pret"],
                                         ["ingenierie"], ["avance_remboursable"]])
            if funder_level == "banque_des_territoires":
                aid_types = self.rng.choice([["pret"], ["ingenierie"], ["fonds_propres"]])
            status = self.rng.choices(["published", "closed", "in_review", "draft", "archived"], [85, 5, 4, 4, 2])[0]
            recurrence = self.rng.choice(["permanent", "recurring", "one_off"])
            closes_on = None
            if status == "closed":
                recurrence, closes_on = "one_off", self.today - dt.timedelta(days=self.rng.randint(1, 300))
            elif recurrence != "permanent":
                closes_on = self.today + dt.timedelta(days=self.rng.randint(10, 400))
            opens_on = (closes_on or self.today) - dt.timedelta(days=self.rng.randint(60, 500))
            below = self.rng.choice([None] * 6 + [2_000, 3_500, 5_000, 20_001, 50_000])
            minimum = self.rng.choice([None] * 8 + [500, 1_000, 3_500])
            if minimum is not None and below is not None and minimum >= below:
                minimum = None
            kinds = ["commune"] if self.rng.random() < 0.85 else []
            if self.rng.random() < 0.6 or not kinds:
                kinds.append("epci")
            rate_max = self.rng.choice([None, 3_000, 5_000, 8_000])
            ceiling = self.rng.choice([None, 5_000_000, 20_000_000, 100_000_000])
            created = self.ago(30, 900)
            public = status in ("published", "closed", "archived")
            title = self.rng.choice(PROGRAMME_TITLES).format(x=phrase)
            sentences = [f"{self.rng.choice(PROGRAMME_GLUE)} {self.rng.choice(VOCAB[t])} et "
                         f"{self.rng.choice(VOCAB[t])} {self.rng.choice(TAIL)}." for t in themes for _ in range(3)]
            rows.append({
                "owner_tenant_id": owner["id"], "status": status, "version": 1,
                "title": f"{title[0].upper()}{title[1:]}"[:200],
                "summary": f"{owner['name']} soutient les projets de {phrase} des collectivités {self.rng.choice(TAIL)}."[:400],
                "description": " ".join(sentences), "funders": [owner["name"]],
                "instructing_body": owner["name"], "funder_level": funder_level,
                "state_family": (self.rng.choice([None, None, *STATE_FAMILIES]) if funder_level == "state"
                                 and "subvention" in aid_types else None),
                "aid_types": aid_types, "themes": themes, "beneficiary_kinds": kinds,
                "epci_kinds": self.rng.choice([[], [], ["CC"], ["CA", "CU", "METRO"]]) if "epci" in kinds else [],
                "population_min": minimum, "population_below": below, "epci_population_min": None,
                "epci_population_below": self.rng.choice([None, None, 50_000, 75_001]) if "epci" in kinds else None,
                "rate_min_bp": 2_000 if rate_max and self.rng.random() < 0.3 else None, "rate_max_bp": rate_max,
                "amount_floor_cents": 1_000_000 if ceiling and self.rng.random() < 0.3 else None,
                "amount_ceiling_cents": ceiling, "expense_kinds": self.rng.choice([["investissement"], ["fonctionnement"],
                                                                                 ["investissement", "fonctionnement"]]),
                "project_stages": self.rng.sample(["reflexion", "realisation", "usage"], self.rng.randint(1, 2)),
                "recurrence": recurrence, "opens_on": opens_on,
                "prefiling_on": closes_on - dt.timedelta(days=30) if closes_on and self.rng.random() < 0.2 else None,
                "closes_on": closes_on,
                "how_to_apply": "Dossier à déposer en ligne sur la plateforme du financeur, après un échange avec "
                                "ses services.",
                "contacts": f"{self.person()} — service des aides aux collectivités",
                "source_url": f"https://aides.example/{owner['id']}/{len(rows) + 1}",
                "provenance": f"Fiche rédigée par {owner['name']}.", "licence": "Licence Ouverte 2.0",
                "curation_note": "", "perimeter_check": "",
                "facts_checked_on": (self.today - dt.timedelta(days=self.rng.randint(0, 500))),
                "created_at": created, "updated_at": created + dt.timedelta(days=2),
                "submitted_at": created + dt.timedelta(days=1) if status != "draft" else None,
                "published_at": created + dt.timedelta(days=2) if public else None,
                "closed_at": self.now if status == "closed" else None,
                "archived_at": self.now if status == "archived" else None, "review_comment": "",
                "reviewed_at": created + dt.timedelta(days=2) if public else None,
                "reviewed_by_id": self.curator_ids[0] if public else None,
            })
            scopes.append(scope_for(owner))
        ids = insert_rows(self.s, Programme.__table__, rows, returning=True)
        scope_rows = []
        for r, pid, scope in zip(rows, ids, scopes, strict=True):
            r["id"] = pid
            seen = set()
            for include, level, code in scope:
                if (level, code) not in seen:
                    seen.add((level, code))
                    scope_rows.append({"programme_id": pid, "include": include, "level": level, "code": code})
        insert_rows(self.s, ProgrammeScope.__table__, scope_rows)

        # Calls: dated windows of published programmes, most closing ahead, some already closed.
        published = [r for r in rows if r["status"] == "published"]
        calls = []
        for i in range(scaled("calls", self.scale) if published else 0):
            programme = published[i % len(published)] if i < len(published) else self.rng.choice(published)
            status = self.rng.choices(["published", "closed", "draft"], [70, 25, 5])[0]
            closes = (self.today + dt.timedelta(days=self.rng.randint(3, 240)) if status != "closed"
                      else self.today - dt.timedelta(days=self.rng.randint(1, 200)))
            opened = self.now - dt.timedelta(days=self.rng.randint(5, 120))
            calls.append({"programme_id": programme["id"], "status": status, "kind": self.rng.choice(["aap", "aap", "ami"]),
                          "title": f"{'Appel à projets' if self.rng.random() < 0.7 else 'Appel à manifestation d’intérêt'}"
                                   f" {closes.year} — {self.rng.choice(VOCAB[programme['themes'][0]])}",
                          "description": f"Édition {closes.year} : dossiers attendus avant la date de clôture.",
                          "opens_on": min(closes, opened.date()),
                          "prefiling_on": closes - dt.timedelta(days=20) if self.rng.random() < 0.2 else None,
                          "closes_on": closes, "url": f"https://aides.example/appels/{i + 1}",
                          "created_at": opened, "updated_at": opened,
                          "published_at": opened if status != "draft" else None,
                          "closed_at": self.now if status == "closed" else None})
        call_ids = insert_rows(self.s, ProgrammeCall.__table__, calls, returning=True)
        calls_of: dict[int, list] = defaultdict(list)
        for c, cid in zip(calls, call_ids, strict=True):
            c["id"] = cid
            calls_of[c["programme_id"]].append(c)

        # One version per programme: the snapshot ``versions.snapshot`` writes, as the history reads it.
        scope_of: dict[int, list] = defaultdict(list)
        for s in scope_rows:
            scope_of[s["programme_id"]].append(["+" if s["include"] else "-", s["level"], s["code"]])
        versions = []
        for r in rows:
            snap = {name: json_value(r[name]) for name in CONTENT_FIELDS}
            snap["status"] = r["status"]
            snap["scope"] = sorted(scope_of[r["id"]], key=lambda x: (x[0] != "+", x[1], x[2]))
            snap["calls"] = [{"id": c["id"], "status": c["status"],
                              **{k: json_value(c[k]) for k in ProgrammeCall.CONTENT_FIELDS}} for c in calls_of[r["id"]]]
            versions.append({"programme_id": r["id"], "number": 1, "snapshot": snap,
                             "actor_id": self.curator_ids[0] if r["reviewed_by_id"] else None,
                             "at": r["updated_at"], "summary": "Programme publié." if r["published_at"]
                             else "Programme créé.", "public": True})
        insert_rows(self.s, ProgrammeVersion.__table__, versions)
        self.programme_rows = rows
        self.counts.update(programmes=len(rows), published_programmes=len(published), scope_rows=len(scope_rows),
                           calls=len(calls), open_calls=sum(1 for c in calls if c["status"] == "published"))

    # Projects and matching -----------------------------------------------------------------------------

    def projects(self) -> None:
        from marketplace.projects.models import Project, ProjectContact

        n = scaled("projects", self.scale)
        cities = [c for c in self.cities if c["communes"]]
        owners = list(cities) + [self.rng.choice(cities) for _ in range(max(0, n - len(cities)))]
        owners = owners[:n]
        domains = list(taxonomy.DOMAINS)
        acts = ["Modernisation", "Déploiement", "Étude", "Rénovation", "Création", "Extension", "Mise en place"]
        rows = []
        for city in owners:
            themes = self.rng.sample(domains, self.rng.choice([1, 1, 2]))
            words = [w for t in themes for w in VOCAB[t]]
            phrase = self.rng.choice(VOCAB[themes[0]])
            status = self.rng.choices(["actif", "en_pause", "realise", "abandonne"], [85, 8, 5, 2])[0]
            people = self.city_people[city["id"]]
            author = people[1][0] if len(people) > 1 else people[0][0]
            sentences = [f"Le projet vise à {self.rng.choice(VERBS)} {self.rng.choice(words)} et "
                         f"{self.rng.choice(words)} {self.rng.choice(TAIL)}." for _ in range(self.rng.randint(3, 6))]
            need = status == "actif" and self.rng.random() < 0.1
            created = self.ago(1, 600)
            rows.append({
                "tenant_id": city["id"], "title": f"{self.rng.choice(acts)} : {phrase}"[:200],
                "description": " ".join(sentences), "themes": themes,
                "commune_insee": self.rng.choice(city["communes"]),
                "cost_ht_cents": self.rng.randint(20_000, 5_000_000) * 100,
                "planned_start": (self.today + dt.timedelta(days=self.rng.randint(-200, 500))).replace(day=1),
                "stage": self.rng.choice(["idee", "etude", "conception", "travaux", "exploitation"]), "status": status,
                "need_text": (f"Nous cherchons une solution de {self.rng.choice(words)} : {self.rng.choice(VERBS)} "
                              f"{self.rng.choice(words)} {self.rng.choice(TAIL)}.") if need else "",
                "need_published_at": created + dt.timedelta(days=3) if need else None,
                "created_by_id": author, "created_at": created, "updated_at": created + dt.timedelta(days=3),
            })
        ids = insert_rows(self.s, Project.__table__, rows, returning=True)
        for r, pid in zip(rows, ids, strict=True):
            r["id"] = pid
        insert_rows(self.s, ProjectContact.__table__, [
            {"tenant_id": r["tenant_id"], "project_id": r["id"], "user_id": r["created_by_id"]} for r in rows])
        self.project_rows = rows
        self.counts.update(projects=len(rows), published_needs=sum(1 for r in rows if r["need_published_at"]))

    def matching(self) -> None:
        """The product's nightly run (``marketplace.projects.store``), chunk after chunk, as its jobs do."""
        from marketplace.projects import store
        from marketplace.projects.models import ProjectMatch

        written = 0
        for first, last in store.nightly_chunks(self.s, 2000):
            written += store.match_range(self.s, first, last)
            self.s.commit()
        # What the daily digest already told: the older matches were notified.
        self.s.execute(ProjectMatch.__table__.update().where(ProjectMatch.first_matched_at < self.now)
                       .values(notified_at=self.now))
        self.counts["project_matches"] = self.s.scalar(select(func.count()).select_from(ProjectMatch))

    def need_matches(self) -> None:
        """Published needs ↔ published solutions of their domain, the rows ``projects.needs`` writes
        (its TF-IDF over every solution per need is the job's, too slow for thousands at once)."""
        from marketplace.core.taxonomy import DOMAINS
        from marketplace.projects.models import SolutionMatch

        by_domain: dict[str, list[dict]] = defaultdict(list)
        for sol in self.published:
            for d in sol["domains"]:
                by_domain[d].append(sol)
        rows = []
        for project in self.project_rows:
            if not project["need_published_at"]:
                continue
            pool = by_domain.get(project["themes"][0]) or []
            for sol in self.rng.sample(pool, min(5, len(pool))):
                rows.append({"tenant_id": project["tenant_id"], "project_id": project["id"], "solution_id": sol["id"],
                             "startup_tenant_id": sol["owner_tenant_id"], "score": self.rng.randint(40, 92),
                             "explanation": f"domaine : {DOMAINS[project['themes'][0]]}.", "active": True,
                             "first_matched_at": project["need_published_at"], "told_at": project["need_published_at"]})
        insert_rows(self.s, SolutionMatch.__table__, rows)
        self.counts["solution_matches"] = len(rows)

    # Group purchases -----------------------------------------------------------------------------------

    def purchases(self) -> None:
        from marketplace.purchasing import pricing
        from marketplace.purchasing.models import Commitment, GroupOffer, GroupPurchase
        from tenants.territories.models import Commune, Epci

        pro = {r["id"] for r in self.startup_rows if r["pro"]}
        candidates = [s for s in self.published if s["owner_tenant_id"] in pro]
        chosen = self.rng.sample(candidates, min(len(candidates), scaled("purchases", self.scale)))
        population = dict(self.s.execute(select(Commune.insee, Commune.population)).all())
        population.update(self.s.execute(select(Epci.siren, Epci.population)).all())
        offers, purchases, plans = [], [], []
        for sol in chosen:
            main = sol["domains"][0]
            unit, unit_label = UNITS_BY_DOMAIN.get(main, self.rng.choice([
                ("per_inhabitant", "par habitant et par an"), ("per_licence", "par agent utilisateur"),
                ("flat_per_city", "forfait annuel par collectivité")]))
            price, steps = {"per_device": (self.rng.randint(40, 150) * 100, (300, 1_000, 3_000)),
                            "per_inhabitant": (self.rng.randint(5, 30) * 10, (20_000, 100_000, 300_000)),
                            "per_licence": (self.rng.randint(20, 500) * 100, (50, 200, 500)),
                            "flat_per_city": (self.rng.randint(50, 300) * 10_000, (3, 6, 10))}[unit]
            tiers = [{"min_units": steps[0], "min_cities": 0, "unit_price_ht_cents": price * 93 // 100},
                     {"min_units": steps[1], "min_cities": 3, "unit_price_ht_cents": price * 85 // 100},
                     {"min_units": steps[2], "min_cities": 5, "unit_price_ht_cents": price * 76 // 100}]
            pricing.check_tiers(price, [pricing.Tier(**t) for t in tiers])
            offers.append({"solution_id": sol["id"], "owner_tenant_id": sol["owner_tenant_id"], "unit": unit,
                           "unit_label": unit_label, "list_price_ht_cents": price, "tiers": tiers,
                           "conditions": "Mise en service et formation des agents incluses la première année.",
                           "updated_at": self.now})
            status = self.rng.choices(["open", "closed", "awarded", "cancelled", "draft"], [65, 8, 10, 10, 7])[0]
            if len(purchases) < 2:
                status = "open"  # a quick run has open purchases too
            members = self.rng.sample(self.cities, min(len(self.cities), self.rng.randint(2, 25)))
            coordinator = members[0]
            quantities = {}
            for city in ([] if status == "draft" else members):
                code = city["commune_insee"] or city["epci_siren"]
                quantities[city["id"]] = {"per_device": self.rng.randint(100, 2_000),
                                          "per_inhabitant": population.get(code, 10_000),
                                          "per_licence": self.rng.randint(5, 100), "flat_per_city": 1}[unit]
            figures = pricing.figures(price, [pricing.Tier(**t) for t in tiers], quantities)
            met = figures.total_units >= steps[0] and figures.member_count >= 3
            if status in ("closed", "awarded") and not met:
                status = "cancelled"
            deadline = (self.today + dt.timedelta(days=self.rng.randint(5, 90)) if status in ("open", "draft")
                        else self.today - dt.timedelta(days=self.rng.randint(1, 120)))
            created = self.now - dt.timedelta(days=self.rng.randint(20, 200))
            ended = dt.datetime.combine(deadline + dt.timedelta(days=1), dt.time(0, 10), tzinfo=dt.UTC)
            final = figures.unit_price_ht_cents if status in ("closed", "awarded") else None
            phrase = self.rng.choice(VOCAB[main])
            purchases.append({
                "coordinator_tenant_id": coordinator["id"], "solution_id": sol["id"],
                "startup_tenant_id": sol["owner_tenant_id"], "status": status,
                "title": f"{phrase[0].upper()}{phrase[1:]} — achat groupé {deadline.year}"[:200],
                "description": f"Groupement de commandes autour de {sol['name']} : {sol['pitch']}",
                "lots": "", "nature": "services", "innovative": self.rng.random() < 0.2, "unit": unit,
                "unit_label": unit_label, "list_price_ht_cents": price, "tiers": tiers, "min_units": steps[0],
                "min_cities": 3, "deadline": deadline, "extended": False,
                "created_by_id": self.city_people[coordinator["id"]][0][0], "created_at": created,
                "opened_at": created + dt.timedelta(days=1) if status != "draft" else None,
                "closed_at": ended if status in ("closed", "awarded") else None,
                "awarded_at": ended + dt.timedelta(days=20) if status == "awarded" else None,
                "cancelled_at": ended if status == "cancelled" else None,
                "cancel_reason": "Minimum non atteint à la date limite." if status == "cancelled" else "",
                "final_unit_price_ht_cents": final,
                "contract_reference": f"MAPA-{deadline.year}-{len(purchases) + 1:03d}" if status == "awarded" else None,
                "award_date": (deadline + dt.timedelta(days=20)) if status == "awarded" else None,
                "award_note": "",
            })
            plans.append((quantities, final, created))
        insert_rows(self.s, GroupOffer.__table__, offers)
        ids = insert_rows(self.s, GroupPurchase.__table__, purchases, returning=True)
        commitments = []
        self.joined: dict[int, list[int]] = defaultdict(list)
        for p, pid, (quantities, final, created) in zip(purchases, ids, plans, strict=True):
            p["id"] = pid
            for tenant_id, quantity in quantities.items():
                at = created + dt.timedelta(days=self.rng.randint(1, 15))
                commitments.append({"tenant_id": tenant_id, "purchase_id": pid, "quantity": quantity,
                                    "note": "", "committed_by_id": self.city_people[tenant_id][0][0],
                                    "created_at": at, "updated_at": at,
                                    "final_amount_ht_cents": quantity * final if final is not None else None})
                self.joined[tenant_id].append(pid)
        insert_rows(self.s, Commitment.__table__, commitments)
        self.purchase_rows = purchases
        self.counts.update(purchases=len(purchases), open_purchases=sum(1 for p in purchases if p["status"] == "open"),
                           commitments=len(commitments))

    # Contracts and alerts ------------------------------------------------------------------------------

    def contracts(self) -> None:
        """Conventions constitutives de groupement de commandes rendered by the kit itself
        (``contracts.services.render_all``: blocks and content hash as ``generate`` stores them); the
        first one goes through the whole interview and ``generate``, which checks the answers."""
        from marketplace.contracts import services as contracts
        from marketplace.contracts.models import ContractDocument, ContractDossier
        from tenants.models import Tenant
        from tenants.territories.models import Commune, Epci

        n = scaled("contracts", self.scale)
        template = contracts.published_template(self.s, "groupement-commandes")
        sirens = dict(self.s.execute(select(Commune.insee, Commune.siren)).all())
        sirens.update({e: e for e in self.s.scalars(select(Epci.siren))})
        coordinators = [self.s.get(Tenant, p["coordinator_tenant_id"]) for p in self.purchase_rows] or []

        def answers_for(city: dict, others: list[dict], title: str, phrase: str) -> dict:
            members = [{"name": c["name"], "siren": sirens.get(c["commune_insee"] or c["epci_siren"]) or "",
                        "deliberation": f"n° {self.today.year}-{self.rng.randint(1, 90):02d}",
                        "estimated_need_ht": self.rng.randint(5_000, 300_000) * 100} for c in [city, *others]]
            return {"object_short": title, "object": f"Achat groupé : {phrase}, pour les membres du groupement.",
                    "nature": "services", "duration": "ponctuel",
                    "launch_date": (self.today + dt.timedelta(days=self.rng.randint(20, 200))).isoformat(),
                    "members": members, "coordinator": city["name"], "coordinator_mission": "passation",
                    "cao": "coordinator", "court": "tribunal administratif territorialement compétent",
                    "cost_sharing": "Chaque membre supporte les frais de la procédure au prorata de son besoin estimé."}

        cities_by_id = {c["id"]: c for c in self.cities}
        dossiers, docs = [], []
        self._contract_rows(n, template, coordinators, cities_by_id, answers_for, dossiers, docs)
        ids = insert_rows(self.s, ContractDossier.__table__, dossiers, returning=True)
        for d in docs:
            d["dossier_id"] = ids[d.pop("_dossier")]
        insert_rows(self.s, ContractDocument.__table__, docs)
        self.counts["contracts"] = len(docs) + (1 if n else 0)

    def _contract_rows(self, n, template, coordinators, cities_by_id, answers_for, dossiers, docs) -> None:
        from marketplace.contracts import document
        from marketplace.contracts import services as contracts
        from marketplace.core.db import bound_to_tenant
        from tenants.models import Tenant, User

        for i in range(n):
            city = cities_by_id[coordinators[i].id] if i < len(coordinators) else self.rng.choice(self.cities)
            domain = self.rng.choice(list(taxonomy.DOMAINS))
            phrase = self.rng.choice(VOCAB[domain])
            title = f"{phrase[0].upper()}{phrase[1:]}"
            others = self.rng.sample(self.cities, min(len(self.cities) - 1, self.rng.randint(1, 4)))
            others = [c for c in others if c["id"] != city["id"]]
            answers = answers_for(city, others, title, phrase)
            author = self.city_people[city["id"]][0][0]
            if i == 0:
                tenant, actor = self.s.get(Tenant, city["id"]), self.s.get(User, author)
                with bound_to_tenant(self.s, tenant.id):
                    dossier = contracts.create_dossier(self.s, actor, tenant, title)
                    draft = contracts.start_draft(self.s, actor, dossier, template, contracts.prefill_values(tenant))
                    draft.answers = {**draft.answers, **answers}
                    contracts.generate(self.s, actor, draft)
                continue
            created = self.ago(1, 400)
            dossiers.append({"tenant_id": city["id"], "title": title, "solution_id": None, "answers": answers,
                             "created_by_id": author, "created_at": created, "updated_at": created})
            for rendered in contracts.render_all(self.s, template, answers):
                docs.append({"tenant_id": city["id"], "template_id": template.id, "document_key": rendered.key,
                             "title": rendered.title[:300], "answers": answers, "party_index": rendered.party_index,
                             "blocks": rendered.blocks, "content_hash": document.content_hash(rendered.blocks),
                             "created_by_id": author, "created_at": created, "_dossier": len(dossiers) - 1})

    def alerts(self) -> None:
        from marketplace.funding.models import FundingAlert

        n = scaled("alerts", self.scale)
        terms = search_terms()
        domains = list(taxonomy.DOMAINS)
        rows = []
        per_city: dict[int, int] = defaultdict(int)
        while len(rows) < n:
            city = self.rng.choice(self.cities)
            if per_city[city["id"]] >= 40:  # under MAX_ALERTS_PER_TENANT
                continue
            per_city[city["id"]] += 1
            uid, _, email = self.rng.choice([p for p in self.city_people[city["id"]] if p[1] != "viewer"])
            criteria: dict[str, Any] = {"q": self.rng.choice(terms) if self.rng.random() < 0.6 else ""}
            if self.rng.random() < 0.5:
                criteria["theme"] = [self.rng.choice(domains)]
            if self.rng.random() < 0.3:
                criteria["aide"] = ["subvention"]
            status = self.rng.choices(["active", "pending", "unsubscribed"], [80, 10, 10])[0]
            created = self.ago(1, 300)
            rows.append({"tenant_id": city["id"], "user_id": uid,
                         "name": (criteria["q"] or "Mes financements").capitalize()[:120], "email": email,
                         "criteria": criteria, "frequency": self.rng.choice(["daily", "weekly"]), "status": status,
                         "created_at": created, "confirmed_at": created if status != "pending" else None,
                         "confirmation_sent_at": created,
                         "unsubscribed_at": self.now if status == "unsubscribed" else None, "since": created,
                         "last_digest_at": None})
        insert_rows(self.s, FundingAlert.__table__, rows)
        self.counts["alerts"] = len(rows)

    def write_manifest(self) -> dict[str, Any]:
        projects_of: dict[int, list[int]] = defaultdict(list)
        for p in self.project_rows:
            projects_of[p["tenant_id"]].append(p["id"])
        published_of: dict[int, list[int]] = defaultdict(list)
        for s in self.published:
            published_of[s["owner_tenant_id"]].append(s["id"])
        m = self.manifest
        m["buyers"] = [{"email": self.city_people[c["id"]][0][2], "tenant_id": c["id"],
                        "project_ids": projects_of[c["id"]], "purchase_ids": sorted(self.joined.get(c["id"], []))}
                       for c in self.cities if projects_of[c["id"]]]
        m["startups"] = [{"email": self.startup_people[s["id"]][0][2], "organisation_id": s["id"],
                          "solution_ids": published_of[s["id"]]} for s in self.startup_rows if published_of[s["id"]]]
        m["programme_ids"] = [p["id"] for p in self.programme_rows if p["status"] == "published"]
        m["solution_ids"] = [s["id"] for s in self.published]
        m["purchase_ids"] = [p["id"] for p in self.purchase_rows if p["status"] == "open"]
        m["search_terms"] = search_terms()
        m["counts"] = dict(self.counts)
        return m


# The whole run ----------------------------------------------------------------------------------------

def _drop_queued_work(session) -> None:
    """The services the demo goes through queue jobs after the commit (matching, mails): this seed runs
    the matching itself and leaves the search index to ``passerelle search reindex``."""
    session.info.pop("after_commit", None)


def seed(database_url: str, *, scale: float = 1.0, manifest: pathlib.Path | None = None, log=print) -> dict:
    """Fill the empty database at ``database_url``; return the manifest (also written to ``manifest``)."""
    from alembic import command

    from marketplace import demo
    from marketplace.app import create_app
    from marketplace.cli import alembic_config
    from marketplace.contracts import library
    from marketplace.core.settings import load_settings
    from marketplace.funding import eligibility
    from search.indexing import without_indexing
    from tenants.territories import services as territories

    times: dict[str, float] = {}
    t_all = time.perf_counter()
    log(f"Jeu de données de volume (échelle {scale:g}) :")
    engine = make_engine(database_url)
    home = pathlib.Path(tempfile.mkdtemp(prefix="passerelle-volume-"))
    app = create_app(load_settings(passerelle_home=home, database_url=database_url), engine=engine)
    with timed(log, times, "migrations"):
        command.upgrade(alembic_config(database_url), "head")
    session = sessionmaker(bind=engine, class_=TenantSession, expire_on_commit=False)()
    rng = random.Random(2026)
    try:
        with app.app_context(), without_indexing(session):
            with timed(log, times, "contract_kits_and_territories"):
                library.sync(session)
                territories.import_snapshot(session, territories.read_snapshot())
                session.commit()
            with timed(log, times, "demo"):
                demo.seed(session)
                _drop_queued_work(session)
                session.commit()
            seeder = Seeder(session, scale, rng, log)
            steps = [("organisations_and_people", lambda: (seeder.operators(), seeder.collectivites(), seeder.startups())),
                     ("solutions_references_shortlists", seeder.solutions),
                     ("programmes_calls_versions", seeder.programmes),
                     ("projects", seeder.projects)]
            for name, step in steps:
                with timed(log, times, name):
                    step()
                    if name == "programmes_calls_versions":
                        eligibility.touch(session)  # rows written around the services: tell the index
                    session.commit()
            with timed(log, times, "matching_nightly_run"):
                seeder.matching()
                session.commit()
            for name, step in [("need_matches", seeder.need_matches), ("group_purchases", seeder.purchases),
                               ("contracts", seeder.contracts), ("alerts", seeder.alerts)]:
                with timed(log, times, name):
                    step()
                    _drop_queued_work(session)
                    session.commit()
            with timed(log, times, "analyze"):
                session.close()
                with engine.connect() as conn:
                    conn.execute(text("ANALYZE"))
                    conn.commit()
            result = seeder.write_manifest()
    finally:
        session.close()
        engine.dispose()
    total = time.perf_counter() - t_all
    result["timings_s"] = {k: round(v, 1) for k, v in times.items()} | {"total": round(total, 1)}
    if manifest is not None:
        manifest.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    counts = result["counts"]
    log("  " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    log(f"Total : {total:.1f} s")
    log(f"scale={scale:g} total_s={total:.1f} " + " ".join(f"{k}={v}" for k, v in counts.items()))
    return result


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                        help="an empty database (postgresql+psycopg://…); DATABASE_URL by default")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: the issue's volume; 0.01–0.05: quick runs")
    parser.add_argument("--manifest", type=pathlib.Path, default=None, help="where to write the manifest (JSON)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if not args.database_url:
        parser.error("--database-url (ou DATABASE_URL) est obligatoire")
    seed(args.database_url, scale=args.scale, manifest=args.manifest)


if __name__ == "__main__":
    main()
