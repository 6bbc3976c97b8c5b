"""Search benchmark: our Whoosh search vs SQLite FTS5 (and PostgreSQL full-text search when
DATABASE_URL points at PostgreSQL), on the same corpus and the same 200 queries.

    .venv/bin/python bench/search.py [--docs 50000] [--queries 200] [--procs N]

Indexing: the full rebuild of our index as the product runs it (``search.service.rebuild``: the
documents read from a provider — here the corpus in memory —, the bulk writer, the position in
the change log, the swap), against building the FTS5 table of the same corpus (pre-stemmed with
our analysis); both timed on the wall clock, and their ratio. Each query asks what the search page
asks: the top 20 by relevance with the exact total, facet counts on the domains (and the other
facets, for ours), under 0–4 facet filters. Timings are warm (one untimed pass first). The last
line is a key=value summary.
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import make_corpus, make_queries  # noqa: E402
from search import analysis, documents, service  # noqa: E402
from search.analysis import stem_terms  # noqa: E402
from search.models import SearchChange  # noqa: E402
from search.query import SearchRequest, search  # noqa: E402


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    s = sorted(samples_ms)
    q = statistics.quantiles(s, n=100, method="inclusive")
    return {"p50": statistics.median(s), "p95": q[94], "p99": q[98]}


def cold_analysis() -> None:
    """Empty the analysis's word caches, so that neither build profits from the other's."""
    analysis.clear_caches()


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def bench_whoosh(docs, queries, root: Path, procs: int | None):
    """Our full rebuild (the product's code path), then the queries."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    by_id = {d["object_id"]: d for d in docs}
    documents.register("solution", lambda session, i: by_id.get(i), lambda session: list(by_id))
    engine = create_engine("sqlite://")  # the change log the rebuild records its position in
    SearchChange.__table__.create(engine)
    cold_analysis()
    with Session(engine) as session:
        t0 = time.perf_counter()
        count = service.rebuild(root, session, procs=procs)
        index_s = time.perf_counter() - t0
    engine.dispose()
    assert count == len(docs), count
    path = root.joinpath("current").resolve()

    def run(q, filters):
        return search(root, SearchRequest(q=q, filters=filters, per_page=20))

    for q, f in queries:  # warm: caches per index generation, OS page cache
        run(q, f)
    times, totals = [], []
    for q, f in queries:
        t = time.perf_counter()
        r = run(q, f)
        times.append((time.perf_counter() - t) * 1000)
        totals.append(r.total)
    return index_s, dir_size(path), times, totals


def bench_fts5(docs, queries, workdir: Path):
    db = sqlite3.connect(workdir / "fts5.db")
    cold_analysis()
    t0 = time.perf_counter()
    db.executescript("""
        CREATE VIRTUAL TABLE docs USING fts5(title, summary, body, tokenize='unicode61 remove_diacritics 2');
        CREATE TABLE facets(docid INTEGER, field TEXT, value TEXT);
        CREATE INDEX facets_fv ON facets(field, value, docid);
        CREATE INDEX facets_doc ON facets(docid);
    """)
    with db:
        for i, d in enumerate(docs, start=1):
            # Pre-stemmed with our French analyzer (FTS5 has no French stemmer): the fastest and
            # closest FTS5 set-up to our analysis.
            db.execute("INSERT INTO docs(rowid, title, summary, body) VALUES (?, ?, ?, ?)",
                       (i, " ".join(stem_terms(d["title"])), " ".join(stem_terms(d["summary"])),
                        " ".join(stem_terms(d["body"]))))
            rows = [(i, "domains", v) for v in d["domains"]] + [(i, "deployed_sizes", v) for v in d["deployed_sizes"]]
            rows += [(i, "hosting", d["hosting"]), (i, "verified", "oui" if d["verified"] else "non")]
            db.executemany("INSERT INTO facets VALUES (?, ?, ?)", rows)
    index_s = time.perf_counter() - t0

    def run(q, filters):
        terms = " AND ".join(f'"{t}"' for t in stem_terms(q)) or '""'
        # Materialised CTEs: with the facet filter inlined next to MATCH, SQLite probed the FTS
        # table row by row (hundreds of ms).
        ctes = ["scored AS MATERIALIZED (SELECT rowid AS id, bm25(docs, 3.0, 2.0, 1.0) AS s FROM docs "
                "WHERE docs MATCH ?)"]
        params: list = [terms]
        where = ""
        if filters:
            parts = []
            for field, values in filters.items():
                parts.append(f"SELECT docid FROM facets WHERE field = ? AND value IN ({','.join('?' * len(values))})")
                params += [field] + values
            ctes.append(f"allowed AS MATERIALIZED ({' INTERSECT '.join(parts)})")
            where = "WHERE scored.id IN allowed"
        with_ = "WITH " + ", ".join(ctes) + " "
        total = db.execute(with_ + f"SELECT count(*) FROM scored {where}", params).fetchone()[0]
        top = db.execute(with_ + f"SELECT id, s FROM scored {where} ORDER BY s LIMIT 20", params).fetchall()
        facets = db.execute(with_ + "SELECT f.value, count(*) FROM scored JOIN facets f ON f.docid = scored.id "
                            f"AND f.field = 'domains' {where} GROUP BY f.value", params).fetchall()
        return total, top, facets

    for q, f in queries:
        run(q, f)
    times = []
    for q, f in queries:
        t = time.perf_counter()
        run(q, f)
        times.append((time.perf_counter() - t) * 1000)
    db.close()
    return index_s, os.path.getsize(workdir / "fts5.db"), times


def bench_postgres(docs, queries, url: str):
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS unaccent"))
        conn.execute(text("DROP TABLE IF EXISTS bench_docs"))
        conn.execute(text("CREATE TABLE bench_docs (id int PRIMARY KEY, title text, summary text, body text, "
                          "domains text[], hosting text, verified text, deployed_sizes text[], tsv tsvector)"))
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO bench_docs VALUES (:id, :title, :summary, :body, :domains, :hosting, :verified, :sizes, "
            "setweight(to_tsvector('french', unaccent(:title)), 'A') || setweight(to_tsvector('french', unaccent(:summary)), 'B') "
            "|| to_tsvector('french', unaccent(:body)))"),
            [{"id": i, "title": d["title"], "summary": d["summary"], "body": d["body"], "domains": d["domains"],
              "hosting": d["hosting"], "verified": "oui" if d["verified"] else "non", "sizes": d["deployed_sizes"]}
             for i, d in enumerate(docs, start=1)])
        conn.execute(text("CREATE INDEX ON bench_docs USING gin(tsv)"))
        conn.execute(text("CREATE INDEX ON bench_docs USING gin(domains)"))
        conn.execute(text("ANALYZE bench_docs"))
    index_s = time.perf_counter() - t0

    def run(conn, q, filters):
        where = ["tsv @@ plainto_tsquery('french', unaccent(:q))"]
        params = {"q": q}
        for n, (field, values) in enumerate(filters.items()):
            if field in ("domains", "deployed_sizes"):
                where.append(f"{field} && :v{n}")
                params[f"v{n}"] = values
            else:
                where.append(f"{field} = ANY(:v{n})")
                params[f"v{n}"] = values
        w = " AND ".join(where)
        conn.execute(text(f"SELECT count(*) FROM bench_docs WHERE {w}"), params).scalar()
        conn.execute(text(f"SELECT id, ts_rank(tsv, plainto_tsquery('french', unaccent(:q))) AS r FROM bench_docs "
                          f"WHERE {w} ORDER BY r DESC LIMIT 20"), params).all()
        conn.execute(text(f"SELECT d, count(*) FROM bench_docs, unnest(domains) d WHERE {w} GROUP BY d"), params).all()

    times = []
    with engine.connect() as conn:
        for q, f in queries:
            run(conn, q, f)
        for q, f in queries:
            t = time.perf_counter()
            run(conn, q, f)
            times.append((time.perf_counter() - t) * 1000)
        size = conn.execute(text("SELECT pg_total_relation_size('bench_docs')")).scalar()
        conn.execute(text("DROP TABLE bench_docs"))
        conn.commit()
    engine.dispose()
    return index_s, size, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--procs", type=int, default=None,
                        help="processes writing our index (default: the product's, one per core from 5 000 documents)")
    args = parser.parse_args()

    docs = make_corpus(args.docs)
    queries = make_queries(n=args.queries)
    words = statistics.mean(len(d["body"].split()) for d in docs)
    print(f"corpus: {len(docs)} solutions, {words:.0f} words of description on average; {len(queries)} queries, "
          f"{sum(1 for _, f in queries if f)} with facet filters")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        procs = args.procs or (min(os.cpu_count() or 1, service.MAX_PROCS) if len(docs) >= service.PARALLEL_FROM else 1)
        index_s, size, times, totals = bench_whoosh(docs, queries, tmp / "whoosh", args.procs)
        ours = percentiles(times)
        print(f"passerelle (whoosh-reloaded): full rebuild {index_s:.1f} s ({procs} process(es)), {size / 1e6:.1f} MB; "
              f"query p50 {ours['p50']:.1f} ms, p95 {ours['p95']:.1f} ms, p99 {ours['p99']:.1f} ms "
              f"(median hits {statistics.median(totals):.0f})")
        f_index_s, f_size, f_times = bench_fts5(docs, queries, tmp)
        fts = percentiles(f_times)
        print(f"sqlite fts5: full build {f_index_s:.1f} s, {f_size / 1e6:.1f} MB; "
              f"query p50 {fts['p50']:.1f} ms, p95 {fts['p95']:.1f} ms, p99 {fts['p99']:.1f} ms")
        print(f"rebuild: ours {index_s:.1f} s, sqlite fts5 {f_index_s:.1f} s, ratio {index_s / f_index_s:.2f}")
        summary = (f"docs={len(docs)} index_s={index_s:.1f} index_procs={procs} index_mb={size / 1e6:.1f} "
                   f"fts5_index_s={f_index_s:.1f} ratio_index={index_s / f_index_s:.2f} p50_ms={ours['p50']:.1f} "
                   f"p95_ms={ours['p95']:.1f} p99_ms={ours['p99']:.1f} fts5_p50_ms={fts['p50']:.1f} "
                   f"fts5_p95_ms={fts['p95']:.1f} ratio_p95={ours['p95'] / fts['p95']:.2f}")
        url = os.environ.get("DATABASE_URL", "")
        if url.startswith("postgresql"):
            url = url.replace("postgresql://", "postgresql+psycopg://", 1) if "+psycopg" not in url else url
            p_index_s, p_size, p_times = bench_postgres(docs, queries, url)
            pg = percentiles(p_times)
            print(f"postgresql fts: index {p_index_s:.1f} s, {p_size / 1e6:.1f} MB; "
                  f"query p50 {pg['p50']:.1f} ms, p95 {pg['p95']:.1f} ms, p99 {pg['p99']:.1f} ms")
            summary += f" pg_p50_ms={pg['p50']:.1f} pg_p95_ms={pg['p95']:.1f} pg_ratio_p95={ours['p95'] / pg['p95']:.2f}"
    print(summary)


if __name__ == "__main__":
    main()
