"""Matching benchmark: the nightly run of N programmes (and their calls) against M projects, and one
new call matched against every project, on SQLite (a fresh database in a temporary folder).

    .venv/bin/python bench/matching.py [--programmes 5000] [--projects 20000] [--tenants 1500]

The database holds every commune of the registry, the eligibility benchmark's programmes (varied
perimeters, population bounds, labels; ``bench/eligibility.py``), each given a French text and
themes from the search corpus's vocabulary, 2 000 open calls, and 1 500 collectivités (communes
drawn at random) owning the projects, whose texts come from the same vocabulary. Timed:

- full_s: the whole nightly run — every chunk of projects scored against every open target it is
  eligible to, and the matches written (upserts), as the chunk jobs do one after the other;
- one_call_s: a call published on one programme, matched against every project that can use it
  (``store.match_programme``), as the job its publication queues.

The funded-projects model is used when one is trained in ``PASSERELLE_HOME`` (not here: the timing
is of the matching itself). The last line is a key=value summary.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from bench.corpus import VOCAB, make_corpus  # noqa: E402
from bench.eligibility import migrate, populate  # noqa: E402
from marketplace.core.clock import today, utcnow  # noqa: E402
from marketplace.core.db import TenantSession, make_engine  # noqa: E402
from marketplace.funding import eligibility  # noqa: E402
from marketplace.funding.models import Programme, ProgrammeCall  # noqa: E402
from marketplace.projects import store  # noqa: E402
from marketplace.projects.models import Project, ProjectMatch  # noqa: E402
from tenants.models import Tenant  # noqa: E402
from tenants.territories.models import Commune  # noqa: E402


def fill(session, args, rng: random.Random) -> None:
    populate(session, args.programmes, rng)
    texts = make_corpus(args.programmes, seed=3)
    for programme, doc in zip(session.scalars(select(Programme).order_by(Programme.id)), texts, strict=False):
        programme.title = doc["title"].split(" — ")[-1].capitalize() + f" ({programme.id})"
        programme.summary = doc["summary"]
        programme.description = doc["body"]
        programme.themes = doc["domains"]
    session.flush()
    published = list(session.scalars(select(Programme.id).where(Programme.status == "published").order_by(Programme.id)))
    now = utcnow()
    session.execute(ProgrammeCall.__table__.insert(), [
        {"programme_id": pid, "status": "published", "kind": "aap", "title": f"Appel à projets {i}",
         "description": "Appel à projets de l'année.", "closes_on": today() + dt.timedelta(days=rng.randint(5, 200)),
         "url": "", "created_at": now, "updated_at": now, "published_at": now}
        for i, pid in enumerate(rng.sample(published, min(2000, len(published))))])
    communes = list(session.scalars(select(Commune.insee).where(Commune.population >= 1000).order_by(Commune.insee)))
    chosen = rng.sample(communes, args.tenants)
    session.execute(Tenant.__table__.insert(), [
        {"kind": "collectivite", "name": f"Collectivité {insee}", "slug": f"collectivite-{insee}", "status": "active",
         "commune_insee": insee, "created_at": now} for insee in chosen])
    tenants = list(session.execute(select(Tenant.id, Tenant.commune_insee).where(Tenant.kind == "collectivite")
                                   .order_by(Tenant.id)))
    docs = make_corpus(args.projects, seed=11)
    rows = []
    for doc in docs:
        tenant_id, insee = rng.choice(tenants)
        main = doc["domains"][0]
        rows.append({"tenant_id": tenant_id, "title": f"{rng.choice(VOCAB[main]).capitalize()} : projet de la commune",
                     "description": doc["body"][:600], "themes": doc["domains"], "commune_insee": insee,
                     "cost_ht_cents": rng.randint(20_000, 5_000_000) * 100, "stage": "etude", "status": "actif",
                     "need_text": "", "created_at": now, "updated_at": now})
    for i in range(0, len(rows), 2000):
        session.execute(Project.__table__.insert(), rows[i:i + 2000])
    eligibility.touch(session)
    session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programmes", type=int, default=5000)
    parser.add_argument("--projects", type=int, default=20000)
    parser.add_argument("--tenants", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="passerelle-bench-matching-"))
    os.environ.setdefault("PASSERELLE_HOME", str(workdir))
    from marketplace.app import create_app
    from marketplace.core.settings import load_settings

    url = f"sqlite:///{workdir / 'bench.db'}"
    t0 = time.perf_counter()
    migrate(url)
    engine = make_engine(url)
    session = sessionmaker(bind=engine, class_=TenantSession, expire_on_commit=False)()
    fill(session, args, rng)
    build_s = time.perf_counter() - t0
    app = create_app(load_settings(passerelle_home=workdir, database_url=url), engine=engine)
    with app.app_context():
        n_targets = len(store.load_targets(session, today()))
        print(f"database: {args.programmes} programmes, {n_targets} open targets (programmes and calls), "
              f"{args.projects} projects of {args.tenants} collectivités; built in {build_s:.1f} s")

        t = time.perf_counter()
        written = 0
        for first, last in store.nightly_chunks(session, 2000):
            written += store.match_range(session, first, last)
            session.commit()
        full_s = time.perf_counter() - t
        matched = session.scalar(select(func.count(func.distinct(ProjectMatch.project_id))))
        print(f"nightly run: {full_s:.1f} s, {written} matches written, {matched} projects with a match")

        t = time.perf_counter()
        again = sum(store.match_range(session, first, last) for first, last in store.nightly_chunks(session, 2000))
        session.commit()
        rerun_s = time.perf_counter() - t
        rows = session.scalar(select(func.count()).select_from(ProjectMatch))
        print(f"run again: {rerun_s:.1f} s, {again} upserts, {rows} rows (one per pair: unchanged)")

        programme = session.scalar(select(Programme).where(Programme.status == "published")
                                   .order_by(Programme.id).limit(1))
        now = utcnow()
        session.add(ProgrammeCall(programme_id=programme.id, status="published", kind="aap", title="Nouvel appel",
                                  description="Appel à projets publié à l'instant.",
                                  closes_on=today() + dt.timedelta(days=40), created_at=now, updated_at=now,
                                  published_at=now))
        session.commit()
        t = time.perf_counter()
        one = store.match_programme(session, programme.id)
        session.commit()
        one_call_s = time.perf_counter() - t
        print(f"one new call (programme {programme.id}): {one_call_s:.2f} s, {one} matches written")
    session.close()
    engine.dispose()
    shutil.rmtree(workdir, ignore_errors=True)  # 190 MB of SQLite and index per run
    print(f"programmes={args.programmes} projects={args.projects} full_s={full_s:.1f} one_call_s={one_call_s:.2f}")


if __name__ == "__main__":
    main()
