"""The annuaire's tests record indexing requests instead of queueing jobs: they stay independent of
the search package's jobs (tested there), and can still check *that* the index is told."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def indexed(monkeypatch):
    requests: list[tuple[str, int]] = []
    monkeypatch.setattr("marketplace.catalog.services.index_later",
                        lambda session, doc_type, object_id: requests.append((doc_type, object_id)))
    return requests


class People:
    """The usual cast: a startup, a city, ANCT, each with a signed-in-able member."""

    def __init__(self, db):
        from tenants.models import Role
        from tests.factories import make_anct, make_city, make_member, make_startup

        self.startup = make_startup(db, "Lumio Territoires")
        self.founder, self.startup_m = make_member(db, self.startup, Role.admin)
        self.city = make_city(db, "36044")
        self.buyer, self.city_m = make_member(db, self.city, Role.member)
        self.operator = make_anct(db)
        self.curator, self.operator_m = make_member(db, self.operator, Role.member)


@pytest.fixture
def people(db):
    cast = People(db)
    db.commit()
    return cast
