"""The demo annuaire follows the rules it shows: quota, review, confirmation by the cities."""
from __future__ import annotations

from sqlalchemy import func, select

from marketplace.catalog.models import Lead, ReferenceStatus, ShortlistItem, Solution, SolutionStatus
from marketplace.core.db import all_tenants
from marketplace.demo import seed


def test_the_demo_seeds_published_verified_and_waiting_solutions_once(db, indexed):
    seed(db)
    db.flush()
    solutions = {s.name: s for s in db.scalars(select(Solution))}
    assert {n for n, s in solutions.items() if s.status is SolutionStatus.published} == {
        "Lumio Veille", "Civiweb Démarches", "Mobicité Stationnement"}
    assert solutions["Tri'Sélect Collecte"].status is SolutionStatus.submitted
    assert solutions["Mobicité Flux"].status is SolutionStatus.draft
    lumio = solutions["Lumio Veille"]
    verified = {r.territory_name for r in lumio.references if r.status is ReferenceStatus.verified}
    assert verified == {"CA Châteauroux Métropole", "Vitré"}
    assert lumio.pending_revision is not None and lumio.price_min_ht_cents == 4500
    with all_tenants(db, because="the test reads every tenant"):
        assert db.scalar(select(func.count()).select_from(ShortlistItem)) == 2
        assert db.scalar(select(func.count()).select_from(Lead)) == 1
    assert indexed == []  # the demo is indexed by a rebuild, not one job per row

    seed(db)  # idempotent
    db.flush()
    assert db.scalar(select(func.count()).select_from(Solution)) == len(solutions)
