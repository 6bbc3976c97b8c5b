"""A collectivité's offers and a programme's count of communes are computed by one process of the
site and read by the others (each web worker used to compute them again), never across sites,
and computed where needed when Redis is gone."""
from __future__ import annotations

import pytest
from redis import Redis

from marketplace.core import shared
from marketplace.funding import eligibility
from tests.factories import make_city, make_epci, make_programme

pytestmark = pytest.mark.usefixtures("indexed", "app")  # the app registers the site's store

GIEN = "45155"
CENTRE_UNDER_20000 = dict(scope=(("include", "region", "24"),), population_below=20000)


def another_process() -> None:
    """What a process that never computed anything has: no index, no kept offers."""
    eligibility._indexes.clear()


def computing_forbidden(monkeypatch) -> None:
    def forbidden(*args, **kwargs):
        raise AssertionError("computed again")

    monkeypatch.setattr(eligibility, "_offers_in", forbidden)
    monkeypatch.setattr(eligibility, "_epci_offers_in", forbidden)
    monkeypatch.setattr(eligibility, "eligible_communes_filter", forbidden)


def test_a_second_process_reads_the_offers_and_the_count_the_first_computed(db, monkeypatch):
    programme = make_programme(db, **CENTRE_UNDER_20000)
    city, epci = make_city(db, GIEN), make_epci(db)
    db.commit()
    first = [eligibility.tenant_offers(db, city), eligibility.tenant_offers(db, epci)]
    count = eligibility.eligible_communes_count(db, programme)
    assert programme.id in {o.programme_id for o in first[0][1]} and count > 1500
    another_process()
    computing_forbidden(monkeypatch)
    assert [eligibility.tenant_offers(db, city), eligibility.tenant_offers(db, epci)] == first
    assert eligibility.eligible_communes_count(db, programme) == count


def test_a_new_generation_is_computed_again_and_another_site_reads_nothing(db, monkeypatch):
    make_programme(db, **CENTRE_UNDER_20000)
    city = make_city(db, GIEN)
    db.commit()
    before = {o.programme_id for o in eligibility.tenant_offers(db, city)[1]}
    national = make_programme(db, scope=(("include", "france", "FR"),), population_below=None)
    db.commit()  # a new generation: what was stored for the old one is not read
    another_process()
    assert {o.programme_id for o in eligibility.tenant_offers(db, city)[1]} == before | {national.id}
    # The same database under another site's name (another database sharing the Redis) reads nothing.
    engine = db.get_bind().engine
    ours = shared._by_engine[engine]
    monkeypatch.setitem(shared._by_engine, engine, shared.SharedStore(ours.redis, "un-autre-site"))
    another_process()
    computing_forbidden(monkeypatch)
    with pytest.raises(AssertionError, match="computed again"):
        eligibility.tenant_offers(db, city)


def test_offers_are_computed_where_needed_when_redis_is_gone(db, monkeypatch):
    programme = make_programme(db, **CENTRE_UNDER_20000)
    city = make_city(db, GIEN)
    db.commit()
    engine = db.get_bind().engine
    gone = shared.SharedStore(Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2), "gone")
    monkeypatch.setitem(shared._by_engine, engine, gone)
    assert programme.id in {o.programme_id for o in eligibility.tenant_offers(db, city)[1]}
    assert eligibility.eligible_communes_count(db, programme) > 1500
