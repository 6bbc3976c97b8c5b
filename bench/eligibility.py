"""Eligibility benchmark: 'programmes for one commune' and 'eligible communes for one programme'
with N programmes of varied rules over every commune of the registry (34 969), on SQLite — and
on PostgreSQL too when DATABASE_URL points at a PostgreSQL server (a throwaway database is
created there, then dropped).

    .venv/bin/python bench/eligibility.py [--programmes 5000] [--communes 1000] [--sample 200]

The database is built from scratch: migrations, the territory registry shipped in the repository,
labels (an "Action Cœur de Ville"-sized list of 234 communes, a "Petites Villes de Demain"-sized
one of 1 646, and 20 uploaded lists of 50 to 2 000 communes), then programmes whose territory is
France, régions (some minus départements), départements, EPCI lists, commune lists, labels or a
mix, with population bounds, beneficiary kinds and EPCI kinds drawn at random (fixed seed).

Timed, warm (one untimed pass first), in one long-lived session:
- for_commune: ``eligibility.offers_for_commune`` for random communes — the whole answer with its
  reasons (the commune's labels and the index token read from the database, then the in-memory
  index); the index build (once per process and per change) and ``with_programmes`` (loading the
  20 programmes of a page as ORM objects) are reported apart;
- eligible_communes: ``eligibility.eligible_insee_codes`` (the full sorted list) and
  ``eligible_communes_count`` for random programmes.
- mine: the data of a "Mes financements" page (``mine.find`` with one facet, no words, and its
  first page of 20 items): the eligible items ordered, filtered and their facets counted on the
  entries cached per eligibility generation, then the page's programmes and calls loaded; in a
  fresh session per commune, as a request has.

A consistency check compares both directions on a sample (fast lookup vs exact SQL). The last line
is a key=value summary.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import selectinload, sessionmaker  # noqa: E402

from marketplace.core.clock import utcnow
from marketplace.core.db import TenantSession, make_engine
from marketplace.funding import eligibility  # noqa: E402
from marketplace.funding.mine import services as mine  # noqa: E402
from marketplace.funding.models import Label, LabelCommune, Programme, ProgrammeScope  # noqa: E402
from tenants import services as tenants  # noqa: E402
from tenants.models import TenantKind  # noqa: E402
from tenants.territories import services as territories  # noqa: E402
from tenants.territories.models import Commune  # noqa: E402


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    s = sorted(samples_ms)
    q = statistics.quantiles(s, n=100, method="inclusive")
    return {"p50": statistics.median(s), "p95": q[94], "max": s[-1]}


def migrate(url: str) -> None:
    from alembic import command

    from marketplace.cli import alembic_config

    command.upgrade(alembic_config(url), "head")


def populate(session, n_programmes: int, rng: random.Random) -> dict:
    snapshot = territories.read_snapshot()
    territories.import_snapshot(session, snapshot)
    owner = tenants.create_tenant(session, None, TenantKind.operator, "Financeur du banc d'essai")
    session.flush()
    communes = snapshot.communes
    regions = sorted({c["region_code"] for c in communes})
    departements_of: dict[str, list[str]] = {}
    for c in communes:
        departements_of.setdefault(c["region_code"], [])
        if c["departement_code"] not in departements_of[c["region_code"]]:
            departements_of[c["region_code"]].append(c["departement_code"])
    departements = sorted({c["departement_code"] for c in communes})
    epcis = [e["siren"] for e in snapshot.epcis]
    insee = [c["insee"] for c in communes]
    mid_towns = [c["insee"] for c in communes if 10_000 <= c["population"] < 100_000]
    small_towns = [c["insee"] for c in communes if 1_000 <= c["population"] < 20_000]

    label_sizes = [("acv", rng.sample(mid_towns, 234)), ("pvd", rng.sample(small_towns, 1646))]
    label_sizes += [(f"liste-{i}", rng.sample(insee, rng.randint(50, 2000))) for i in range(20)]
    slugs = []
    for slug, members in label_sizes:
        label = Label(slug=slug, name=slug.upper(), owner_tenant_id=owner.id)
        session.add(label)
        session.flush()
        session.execute(LabelCommune.__table__.insert(), [{"label_id": label.id, "commune_insee": c} for c in members])
        slugs.append(slug)

    now = utcnow()
    programme_rows, scope_rows = [], []
    for pid in range(1, n_programmes + 1):
        kind = rng.choices(["france", "region", "departement", "epci", "commune", "label", "mix"],
                           weights=[8, 35, 25, 10, 10, 7, 5])[0]
        rows: list[tuple[bool, str, str]] = []
        if kind == "france":
            rows.append((True, "france", "FR"))
            if rng.random() < 0.2:
                rows += [(False, "region", r) for r in rng.sample(regions, 2)]
        elif kind == "region":
            chosen = rng.sample(regions, rng.choice([1, 1, 1, 2]))
            rows += [(True, "region", r) for r in chosen]
            if rng.random() < 0.3:
                rows.append((False, "departement", rng.choice(departements_of[chosen[0]])))
        elif kind == "departement":
            rows += [(True, "departement", d) for d in rng.sample(departements, rng.randint(1, 4))]
        elif kind == "epci":
            rows += [(True, "epci", e) for e in rng.sample(epcis, rng.randint(1, 10))]
        elif kind == "commune":
            rows += [(True, "commune", c) for c in rng.sample(insee, rng.randint(5, 300))]
        elif kind == "label":
            rows.append((True, "label", rng.choice(slugs)))
        else:
            region = rng.choice(regions)
            rows += [(True, "region", region), (True, "label", rng.choice(slugs)),
                     (False, "epci", rng.choice(epcis))]
        below = rng.choice([None] * 6 + [2000, 3500, 5000, 20000, 50000])
        minimum = rng.choice([None] * 8 + [500, 1000, 3500])
        if minimum is not None and below is not None and minimum >= below:
            minimum = None
        kinds = ["commune"] if rng.random() < 0.85 else []
        if rng.random() < 0.6 or not kinds:
            kinds.append("epci")
        status = "published" if rng.random() < 0.9 else rng.choice(["draft", "closed"])
        programme_rows.append({
            "id": pid, "owner_tenant_id": owner.id, "status": status, "version": 1,
            "title": f"Programme {pid}", "summary": "Programme du banc d'essai.", "funders": ["Banc d'essai"],
            "funder_level": rng.choice(["state", "region", "departement", "eu", "agency"]),
            "aid_types": ["subvention"], "themes": [], "beneficiary_kinds": kinds,
            "epci_kinds": rng.choice([[], [], ["CC"], ["CA", "CU", "METRO"]]) if "epci" in kinds else [],
            "population_min": minimum, "population_below": below,
            "epci_population_below": rng.choice([None, None, 50000, 75001]) if "epci" in kinds else None,
            "recurrence": "permanent", "published_at": now if status != "draft" else None,
        })
        scope_rows += [{"programme_id": pid, "include": inc, "level": level, "code": code} for inc, level, code in rows]
    for i in range(0, len(programme_rows), 1000):
        session.execute(Programme.__table__.insert(), programme_rows[i:i + 1000])
    for i in range(0, len(scope_rows), 5000):
        session.execute(ProgrammeScope.__table__.insert(), scope_rows[i:i + 5000])
    eligibility.touch(session)  # rows written around the services: tell the index, as they do
    session.commit()
    return {"communes": len(communes), "scope_rows": len(scope_rows), "labels": len(label_sizes)}


def run(url: str, args, label: str) -> dict:
    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    migrate(url)
    engine = make_engine(url)
    Session = sessionmaker(bind=engine, class_=TenantSession, expire_on_commit=False)
    session = Session()
    stats = populate(session, args.programmes, rng)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    elif engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    build_s = time.perf_counter() - t0

    all_insee = list(session.scalars(select(Commune.insee)))
    sample_insee = rng.sample(all_insee, min(args.communes, len(all_insee)))
    communes = {c.insee: c for c in session.scalars(select(Commune).where(Commune.insee.in_(sample_insee))
                                                   .options(selectinload(Commune.epci)))}
    sample = [communes[i] for i in sample_insee]

    t = time.perf_counter()
    eligibility.scope_index(session)
    index_build_ms = (time.perf_counter() - t) * 1000
    for commune in sample:  # warm
        eligibility.offers_for_commune(session, commune)
    times, counts, page_times = [], [], []
    for commune in sample:
        t = time.perf_counter()
        offers = eligibility.offers_for_commune(session, commune)
        times.append((time.perf_counter() - t) * 1000)
        counts.append(len(offers))
    for commune in sample[:200]:
        offers = eligibility.offers_for_commune(session, commune)
        with Session() as page_session:  # a page loads its 20 programmes afresh
            t = time.perf_counter()
            eligibility.with_programmes(page_session, offers[:20])
            page_times.append((time.perf_counter() - t) * 1000)

    # "Mes financements" without words: the eligible items ordered and counted, the first page
    # loaded — what the page's data costs for a collectivité of that commune.
    mine_times, mine_counts = [], []
    criteria = mine.Criteria(facets={"aide": ("subvention",)})
    for commune in sample[:100]:
        with Session() as page_session:
            t = time.perf_counter()
            result = mine.find(page_session, SimpleNamespace(commune=commune, epci=None), criteria, on=dt.date.today())
            result.page(1, 20)
            mine_times.append((time.perf_counter() - t) * 1000)
            mine_counts.append(result.eligible_count)

    programme_ids = rng.sample(list(session.scalars(select(Programme.id))), min(args.sample, args.programmes))
    programmes = [session.get(Programme, pid) for pid in programme_ids]
    for programme in programmes:  # warm
        eligibility.eligible_insee_codes(session, programme)
    list_times, count_times, sizes = [], [], []
    for programme in programmes:
        t = time.perf_counter()
        codes = eligibility.eligible_insee_codes(session, programme)
        list_times.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        eligibility.eligible_communes_count(session, programme)
        count_times.append((time.perf_counter() - t) * 1000)
        sizes.append(len(codes))

    # Consistency: both directions agree on a sample of pairs (published programmes only: the
    # fast lookup offers published ones).
    checked = mismatches = 0
    for programme in programmes[:30]:
        if programme.status.value != "published":
            continue
        codes = set(eligibility.eligible_insee_codes(session, programme))
        for commune in sample[:30]:
            fast = programme.id in {o.programme_id for o in eligibility.offers_for_commune(session, commune)}
            checked += 1
            mismatches += fast != (commune.insee in codes)
    session.close()
    engine.dispose()

    fc, pg, el, ct = percentiles(times), percentiles(page_times), percentiles(list_times), percentiles(count_times)
    print(f"[{label}] built in {build_s:.1f} s: {args.programmes} programmes, {stats['scope_rows']} scope rows, "
          f"{stats['labels']} labels, {stats['communes']} communes")
    print(f"[{label}] in-memory eligibility index built in {index_build_ms:.0f} ms (once per process and change)")
    print(f"[{label}] programmes for one commune ({len(sample)} communes, median {statistics.median(counts):.0f} "
          f"programmes offered, max {max(counts)}): p50 {fc['p50']:.2f} ms, p95 {fc['p95']:.2f} ms, "
          f"max {fc['max']:.2f} ms; loading a page of 20 of them: p50 {pg['p50']:.2f} ms, p95 {pg['p95']:.2f} ms")
    print(f"[{label}] eligible communes for one programme ({len(programmes)} programmes, median "
          f"{statistics.median(sizes):.0f} communes, max {max(sizes)}): full list p50 {el['p50']:.2f} ms, "
          f"p95 {el['p95']:.2f} ms, max {el['max']:.2f} ms; count p50 {ct['p50']:.2f} ms, p95 {ct['p95']:.2f} ms")
    mf = percentiles(mine_times)
    print(f"[{label}] Mes financements page data ({len(mine_times)} communes, median {statistics.median(mine_counts):.0f} "
          f"eligible items): p50 {mf['p50']:.1f} ms, p95 {mf['p95']:.1f} ms, max {mf['max']:.1f} ms")
    print(f"[{label}] consistency: {checked} (programme, commune) pairs checked, {mismatches} mismatch(es)")
    return {"communes": stats["communes"], "for_commune_p50_ms": fc["p50"], "for_commune_p95_ms": fc["p95"],
            "eligible_communes_ms": el["p95"], "eligible_communes_max_ms": el["max"],
            "page_p95_ms": pg["p95"], "mismatches": mismatches, "index_build_ms": index_build_ms,
            "mine_p95_ms": mf["p95"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--programmes", type=int, default=5000)
    parser.add_argument("--communes", type=int, default=1000, help="communes queried (random)")
    parser.add_argument("--sample", type=int, default=200, help="programmes whose communes are listed (random)")
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        lite = run(f"sqlite:///{Path(tmp) / 'eligibility.db'}", args, "sqlite")
    summary = (f"programmes={args.programmes} communes={lite['communes']} "
               f"for_commune_p50_ms={lite['for_commune_p50_ms']:.2f} for_commune_p95_ms={lite['for_commune_p95_ms']:.2f} "
               f"eligible_communes_ms={lite['eligible_communes_ms']:.2f} "
               f"eligible_communes_max_ms={lite['eligible_communes_max_ms']:.2f} index_build_ms={lite['index_build_ms']:.0f} "
               f"mine_p95_ms={lite['mine_p95_ms']:.1f} mismatches={lite['mismatches']}")

    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgresql"):
        if "+psycopg" not in url:
            url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        name = f"passerelle_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            pg = run(make_url(url).set(database=name).render_as_string(hide_password=False), args, "postgresql")
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        summary += (f" pg_for_commune_p50_ms={pg['for_commune_p50_ms']:.2f} pg_for_commune_p95_ms={pg['for_commune_p95_ms']:.2f}"
                    f" pg_eligible_communes_ms={pg['eligible_communes_ms']:.2f}"
                    f" pg_eligible_communes_max_ms={pg['eligible_communes_max_ms']:.2f} pg_mine_p95_ms={pg['mine_p95_ms']:.1f}"
                    f" pg_mismatches={pg['mismatches']}")
    print(summary)


if __name__ == "__main__":
    main()
