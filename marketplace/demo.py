"""The demo dataset: real territories, fictional people. Idempotent: seeding twice changes nothing."""
from __future__ import annotations

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.catalog.demo import seed_catalog
from marketplace.catalog.models import Solution, SolutionStatus
from marketplace.funding.demo import FUNDERS, seed_funding, seed_plan
from marketplace.projects.demo import seed_projects, seed_reference
from marketplace.purchasing.demo import seed_purchasing
from tenants import services
from tenants.models import Role, Tenant, TenantKind, User
from tenants.territories.models import Commune, Epci

DEMO_PASSWORD = "passerelle-demo-2026"

OPERATOR = "Agence nationale de la cohésion des territoires (ANCT)"

# (name, EPCI SIREN or None, commune INSEE or None)
COLLECTIVITES = [
    ("Châteauroux Métropole", "243600327", None),
    ("Mulhouse Alsace Agglomération", "200066009", None),
    ("Rochefort Océan", "200041762", None),
    ("Ville de Vitré", None, "35360"),
    ("Ville de Gien", None, "45155"),
]

# Fictional startups; SIRENs are made up but pass the INSEE check digit.
STARTUPS = [
    ("Lumio Territoires", "912345675"),
    ("Civiweb", "901234567"),
    ("Mobicité", "923456784"),
    ("Tri'Sélect", "934567892"),
]

# (e-mail, name, tenant name, role, platform admin)
USERS = [
    ("admin@anct.test", "Hélène Marchand", OPERATOR, Role.admin, True),
    ("curatrice@anct.test", "Samia Benali", OPERATOR, Role.member, False),
    ("dgs@chateauroux-metropole.test", "Claire Dubois", "Châteauroux Métropole", Role.admin, False),
    ("projet@chateauroux-metropole.test", "Julien Moreau", "Châteauroux Métropole", Role.member, False),
    ("elu@chateauroux-metropole.test", "Nadia Perrin", "Châteauroux Métropole", Role.viewer, False),
    ("achats@mulhouse-alsace.test", "Thomas Keller", "Mulhouse Alsace Agglomération", Role.admin, False),
    ("numerique@rochefort-ocean.test", "Sophie Girard", "Rochefort Océan", Role.admin, False),
    ("dgs@vitre.test", "Yann Le Goff", "Ville de Vitré", Role.admin, False),
    ("mairie@gien.test", "Isabelle Fournier", "Ville de Gien", Role.admin, False),
    ("fondatrice@lumio.test", "Léa Martin", "Lumio Territoires", Role.admin, False),
    ("contact@civiweb.test", "Karim Haddad", "Civiweb", Role.admin, False),
    ("equipe@mobicite.test", "Paul Renard", "Mobicité", Role.admin, False),
    ("contact@triselect.test", "Inès Roussel", "Tri'Sélect", Role.admin, False),
]

# A claim waiting for ANCT, so the operator's review page has work in the demo.
PENDING_CLAIM = ("dgs@issoudun.test", "Marc Lefèvre", "36088", "Directeur général des services")


def seed(session: Session) -> list[tuple[str, str]]:
    if session.get(Commune, "36044") is None:
        raise RuntimeError("Le référentiel des territoires est vide : lancez « passerelle territories import ».")
    tenants: dict[str, Tenant] = {t.name: t for t in session.scalars(select(Tenant))}

    def tenant(name: str, kind: TenantKind, **kw) -> Tenant:
        if name not in tenants:
            tenants[name] = services.create_tenant(session, None, kind, name, **kw)
        return tenants[name]

    tenant(OPERATOR, TenantKind.operator)
    for name, epci, insee in COLLECTIVITES:
        if epci and session.get(Epci, epci) is None or insee and session.get(Commune, insee) is None:
            raise RuntimeError(f"Territoire introuvable pour {name}")
        tenant(name, TenantKind.collectivite, epci_siren=epci, commune_insee=insee)
    for name, siren in STARTUPS:
        tenant(name, TenantKind.startup, siren=siren)

    accounts = []
    for email, full_name, tenant_name, role, platform_admin in USERS:
        user = services.find_user_by_email(session, email) or services.create_user(
            session, email, full_name, DEMO_PASSWORD, is_platform_admin=platform_admin)
        if services.membership_for(session, user, tenants[tenant_name].id) is None:
            services.add_membership(session, user, tenants[tenant_name], role)
        accounts.append((email, f"{role.label} — {tenant_name}" + (" (admin. plateforme)" if platform_admin else "")))

    email, full_name, insee, job_title = PENDING_CLAIM
    if services.find_user_by_email(session, email) is None:
        user = services.create_user(session, email, full_name, DEMO_PASSWORD)
        services.claim_territory(session, user, commune=session.get(Commune, insee), job_title=job_title,
                                 message="Nous souhaitons rejoindre l'achat groupé d'éclairage public.")
    accounts.append((email, "demande d'ouverture en attente — Ville d'Issoudun"))
    session.flush()
    seed_catalog(session, tenants)
    accounts += seed_funding(session, tenants, operator=OPERATOR, password=DEMO_PASSWORD)
    seed_plan(session, tenants["Châteauroux Métropole"], services.find_user_by_email(session, USERS[2][0]))
    admins = {tenant_name: services.find_user_by_email(session, email)
              for email, _, tenant_name, role, _ in USERS if role is Role.admin}
    lighting = session.scalar(select(Solution).where(Solution.name == "Lumio Veille",
                                                     Solution.status == SolutionStatus.published))
    if lighting is not None:
        seed_purchasing(session, tenants, admins, lighting)
    seed_reference(session)
    seed_projects(session, tenants, admins)
    return accounts


def is_seeded(session: Session) -> bool:
    return session.scalar(select(User.id).where(User.email == USERS[0][0])) is not None


def print_accounts(accounts: list[tuple[str, str]]) -> None:
    click.echo(f"Comptes de démonstration (mot de passe : {DEMO_PASSWORD}) :")
    for email, label in accounts:
        click.echo(f"  {email:<40} {label}")


def demo_accounts() -> list[tuple[str, str]]:
    """The accounts the launcher prints once the site is ready, each with what it may do."""
    def label(tenant, role, platform_admin):
        if platform_admin:
            return f"Administration de la plateforme et curation — {tenant}"
        if tenant == OPERATOR:
            return f"Curation ANCT (modération, demandes, financements) — {tenant}"
        return f"{role.label} — {tenant}"

    people = [(email, label(tenant, role, admin)) for email, _, tenant, role, admin in USERS]
    return people + [(email, f"Financeur (ses programmes et appels) — {tenant}") for tenant, email, _ in FUNDERS]
