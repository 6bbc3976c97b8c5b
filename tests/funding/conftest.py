"""Fixtures of the funding tests: the cast of people, and the indexing requests recorded."""
from __future__ import annotations

import pytest

from tenants.access import actor_for
from tenants.models import Role
from tests.factories import make_city, make_member, make_operator


@pytest.fixture
def indexed(monkeypatch):
    requests: list[tuple[str, int]] = []
    monkeypatch.setattr("marketplace.funding.versions.index_later",
                        lambda session, doc_type, object_id: requests.append((doc_type, object_id)))
    return requests


class People:
    """A Région funder, another funder, ANCT (a platform admin and a curator), a city."""

    def __init__(self, db):
        self.region = make_operator(db, "Région Centre-Val de Loire")
        self.funder, self.funder_m = make_member(db, self.region, Role.member)
        self.bank = make_operator(db, "Banque des Territoires")
        self.banker, self.banker_m = make_member(db, self.bank, Role.member)
        self.anct = make_operator(db, "ANCT")
        self.admin, self.admin_m = make_member(db, self.anct, Role.admin, platform_admin=True)
        self.curator, self.curator_m = make_member(db, self.anct, Role.member)
        self.city = make_city(db, "36088")
        self.mayor, self.mayor_m = make_member(db, self.city, Role.admin)

    def viewer(self, db, user, membership):
        return actor_for(db, user, membership)


@pytest.fixture
def people(db):
    cast = People(db)
    db.commit()
    return cast
