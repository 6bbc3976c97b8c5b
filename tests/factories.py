"""Factories for tests: real services, real territories."""
from __future__ import annotations

import itertools
from functools import lru_cache

from marketplace.funding import labels, territory
from search.indexing import without_indexing
from tenants import services
from tenants.models import Membership, Role, Tenant, TenantKind, User
from tenants.security import hash_password
from tenants.territories.models import Commune

PASSWORD = "mot-de-passe-de-test-42"
_seq = itertools.count(1)


@lru_cache(maxsize=1)
def _password_hash() -> str:
    return hash_password(PASSWORD)  # argon2 is slow on purpose: hash once per process


def make_user(db, email: str | None = None, name: str | None = None, *, platform_admin: bool = False) -> User:
    n = next(_seq)
    user = User(email=email or f"personne{n}@exemple.test", full_name=name or f"Personne {n}",
                password_hash=_password_hash(), is_platform_admin=platform_admin)
    db.add(user)
    db.flush()
    return user


def make_city(db, insee: str = "36044", name: str | None = None) -> Tenant:
    commune = db.get(Commune, insee)
    return services.create_tenant(db, None, TenantKind.collectivite, name or f"Ville de {commune.name}",
                                  commune_insee=insee)


def make_epci(db, siren: str = "243600327", name: str = "Châteauroux Métropole") -> Tenant:
    return services.create_tenant(db, None, TenantKind.collectivite, name, epci_siren=siren)


def make_startup(db, name: str | None = None, siren: str = "912345675") -> Tenant:
    return services.create_tenant(db, None, TenantKind.startup, name or f"Startup {next(_seq)}", siren=siren)


def make_operator(db, name: str = "ANCT") -> Tenant:
    return services.create_tenant(db, None, TenantKind.operator, name)


def make_anct(db, name: str = "ANCT") -> Tenant:
    """ANCT's operator tenant: the one a platform admin belongs to, whose members are the curators."""
    tenant = make_operator(db, name)
    make_member(db, tenant, Role.admin, platform_admin=True)
    return tenant


def make_member(db, tenant: Tenant, role: Role = Role.admin, **user_kw) -> tuple[User, Membership]:
    user = make_user(db, **user_kw)
    return user, services.add_membership(db, user, tenant, role)


# The annuaire ------------------------------------------------------------------------------------

SOLUTION_DATA = {
    "name": "Lumière douce",
    "pitch": "Éclairage public piloté à distance, qui baisse la nuit et s'allume au passage.",
    "description": "## Ce que fait la solution\n\nDes **contrôleurs** sur chaque point lumineux.\n\n- abaissement nocturne\n- détection de présence",
    "domains": ["eclairage-public"],
    "sizes": ["2000-20000", "20000-100000"],
    "price_model": "par-unite",
    "price_min_ht_cents": 8000,
    "price_max_ht_cents": 15000,
    "price_unit": "par point lumineux",
    "hosting": "france",
    "gdpr_dpa": True,
    "secnumcloud": False,
    "rgaa_level": "partiel",
    "licence": None,
    "open_data_standards": ["schéma éclairage public"],
    "contact_name": "Léa Martin",
    "contact_email": "contact@lumiere.test",
    "website": "https://lumiere.test",
}


def make_solution(db, owner: Tenant | None = None, *, status: str = "draft", actor: User | None = None, **content):
    """A solution through the services; ``status='published'`` goes through submission and review."""
    from marketplace.catalog import services as catalog
    from marketplace.catalog.models import SolutionStatus

    owner = owner or make_startup(db)
    actor = actor or make_user(db)
    # Factories make data; whether the index is told is tested where it matters (tests/catalog).
    with without_indexing(db):
        solution = catalog.create_solution(db, actor, owner, {**SOLUTION_DATA, **content})
        if status in ("submitted", "published", "archived"):
            catalog.submit(db, actor, solution)
        if status in ("published", "archived"):
            catalog.approve(db, make_user(db), solution)
        if status == "archived":
            catalog.archive(db, actor, solution)
        db.flush()
    assert solution.status is SolutionStatus(status)
    return solution


def make_reference(db, solution, *, insee: str | None = "36044", siren: str | None = None, year: int = 2023,
                   testimonial: str = "Un service technique ravi."):
    from marketplace.catalog import services as catalog
    from tenants.territories.models import Commune, Epci

    with without_indexing(db):
        return catalog.add_reference(db, make_user(db), solution,
                                     commune=db.get(Commune, insee) if insee and not siren else None,
                                     epci=db.get(Epci, siren) if siren else None, year=year,
                                     testimonial=testimonial)


# The funding guichet -------------------------------------------------------------------------------

PROGRAMME_DATA = {
    "title": "Investissements des petites communes",
    "summary": "Subvention aux investissements des communes de moins de 20 000 habitants de la région.",
    "description": "Travaux de **rénovation** des bâtiments communaux.",
    "funders": ["Région Centre-Val de Loire"],
    "instructing_body": "Direction de l'aménagement du territoire",
    "funder_level": "region",
    "state_family": None,
    "aid_types": ["subvention"],
    "themes": ["energie-batiments"],
    "beneficiary_kinds": ["commune"],
    "epci_kinds": [],
    "population_below": 20000,
    "rate_max_bp": 4000,
    "amount_ceiling_cents": 20_000_000,
    "expense_kinds": ["investissement"],
    "project_stages": ["realisation"],
    "recurrence": "permanent",
    "source_url": "https://www.centre-valdeloire.fr/",
    "licence": "Licence Ouverte 2.0",
}


def make_programme(db, owner: Tenant | None = None, *, status: str = "published",
                   scope: tuple = (("include", "region", "24"),), actor: User | None = None, **content):
    """A programme through the services: ``scope`` rows are (mode, level, value); ``status`` goes
    through submission and ANCT's review (``published``, ``closed``, ``archived``)."""
    from marketplace.funding import services as funding
    from marketplace.funding.models import ProgrammeStatus

    owner = owner or make_operator(db, f"Financeur {next(_seq)}")
    actor = actor or make_user(db)
    with without_indexing(db):
        programme = funding.create_programme(db, actor, owner, {**PROGRAMME_DATA, **content})
        for mode, level, value in scope:
            territory.add_scope(db, actor, programme, include=mode == "include", level=level, value=value)
        if status != "draft":
            funding.submit(db, actor, programme)
        if status in ("published", "closed", "archived"):
            funding.publish(db, make_user(db, platform_admin=True), programme)
        if status == "closed":
            funding.close(db, actor, programme)
        if status == "archived":
            funding.archive(db, actor, programme)
        db.flush()
    assert programme.status is ProgrammeStatus(status)
    return programme


def make_label(db, name: str = "Action Cœur de Ville", codes: tuple[str, ...] = ("36044",), owner: Tenant | None = None):

    owner = owner or make_operator(db, f"Opérateur {next(_seq)}")
    label = labels.create_label(db, make_user(db), owner, {"name": name})
    if codes:
        labels.upload_label_communes(db, make_user(db), label, "\n".join(codes))
    return label


# Contracts --------------------------------------------------------------------------------------

GROUP_MEMBERS = [
    {"name": "Ville de Gien", "siren": "214501553", "deliberation": "n° 2026-12 du 3 février 2026",
     "estimated_need_ht": 4_000_000},
    {"name": "Ville de Vitré", "siren": "213503608", "deliberation": "n° 2026-08 du 9 février 2026",
     "estimated_need_ht": 2_500_000},
    {"name": "Rochefort Océan", "siren": "200041762", "deliberation": "", "estimated_need_ht": 1_500_000},
]


def make_contract_draft(db, city: Tenant, kit: str = "groupement-commandes", answers: dict | None = None,
                        title: str = "Éclairage public"):
    """A dossier and an interview for a kit, with these answers (bound to the city's tenant)."""
    from marketplace.contracts import services as contracts
    from marketplace.core.db import bound_to_tenant

    with bound_to_tenant(db, city.id):
        dossier = contracts.create_dossier(db, make_user(db), city, title)
        draft = contracts.start_draft(db, make_user(db), dossier, contracts.published_template(db, kit),
                                      contracts.prefill_values(city))
        draft.answers = {**draft.answers, **(answers or {})}
        db.flush()
        return draft


def make_contract_document(db, city: Tenant, title: str = "Éclairage public"):
    """A generated convention of groupement de commandes, in the city's tenant."""
    from marketplace.contracts import services as contracts
    from marketplace.core.db import bound_to_tenant

    answers = {"object_short": title, "object": "Pilotage de l'éclairage public.", "nature": "services",
               "duration": "ponctuel", "launch_date": "2026-06-01", "members": GROUP_MEMBERS,
               "coordinator": "Ville de Gien", "coordinator_mission": "passation", "cao": "coordinator",
               "court": "tribunal administratif d'Orléans"}
    draft = make_contract_draft(db, city, answers=answers, title=title)
    with bound_to_tenant(db, city.id):
        return contracts.generate(db, make_user(db), draft)[0]


# Group purchases --------------------------------------------------------------------------------

LIGHTING_TIERS = [{"min_units": 100, "min_cities": 0, "unit_price_ht_cents": 13_500},
                  {"min_units": 500, "min_cities": 0, "unit_price_ht_cents": 12_000},
                  {"min_units": 1_000, "min_cities": 3, "unit_price_ht_cents": 10_000}]


def make_pro(db, tenant: Tenant):
    """The startup on the Pro plan, as billing writes it once Stripe confirms a subscription."""
    from marketplace.core import entitlements

    return entitlements.set_plan(db, tenant.id, "pro", "active", note="tests")


def make_offer(db, solution, *, unit: str = "per_device", list_price: int = 15_000, tiers=None):
    from marketplace.purchasing import services as purchasing

    make_pro(db, solution.owner)
    return purchasing.save_offer(db, make_user(db), solution.owner, solution,
                                 {"unit": unit, "unit_label": "par point lumineux", "list_price_ht_cents": list_price,
                                  "tiers": tiers or LIGHTING_TIERS})


def make_purchase(db, coordinator: Tenant, solution=None, *, status: str = "open", deadline=None, **content):
    """A group purchase around a published solution with an offer (made if missing), opened by default."""
    import datetime as dt

    from marketplace.core.clock import today
    from marketplace.purchasing import services as purchasing

    solution = solution or make_solution(db, make_startup(db, "Lumio Territoires"), status="published",
                                         name="Lumière douce", contact_email="contact@lumiere.test")
    if purchasing.offer_for(db, solution.id) is None:
        make_offer(db, solution)
    user = make_user(db)
    data = {"title": "Éclairage public intelligent", "description": "Pilotage des points lumineux.",
            "nature": "services", "min_units": 500, "min_cities": 3,
            "deadline": deadline or today() + dt.timedelta(days=30), **content}
    purchase = purchasing.create(db, user, coordinator, solution.id, data)
    if status != "draft":
        purchasing.open_purchase(db, user, purchase)
    db.flush()
    return purchase


# Projects ----------------------------------------------------------------------------------------

PROJECT_DATA = {
    "title": "Rénovation énergétique de l'école Jean-Zay",
    "description": "Isolation des combles, remplacement de la chaudière fioul par une pompe à chaleur.",
    "themes": ["energie-batiments"],
    "cost_ht_cents": 45_000_000,
    "planned_start": None,
}


def make_project(db, city: Tenant, *, actor: User | None = None, commune_insee: str | None = None,
                 need_text: str | None = None, **content):
    """A collectivité's project through the services (in its own commune, or ``commune_insee``);
    ``need_text`` publishes it as a need."""
    from marketplace.core.db import bound_to_tenant
    from marketplace.projects import services as projects
    from marketplace.projects.models import ProjectStage, ProjectStatus

    actor = actor or make_member(db, city, Role.member)[0]
    if commune_insee is None:
        commune_insee = city.commune_insee or max(city.epci.communes, key=lambda c: c.population).insee
    data = {**PROJECT_DATA, "stage": ProjectStage.study, "status": ProjectStatus.active, **content}
    with bound_to_tenant(db, city.id):
        project = projects.create_project(db, actor, city, data, db.get(Commune, commune_insee))
        if need_text:
            projects.publish_need(db, actor, project, need_text)
        db.flush()
    return project
