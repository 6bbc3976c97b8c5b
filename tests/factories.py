"""Factories for tests: real services, real territories."""
from __future__ import annotations

import itertools
from functools import lru_cache

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


def make_member(db, tenant: Tenant, role: Role = Role.admin, **user_kw) -> tuple[User, Membership]:
    user = make_user(db, **user_kw)
    return user, services.add_membership(db, user, tenant, role)
