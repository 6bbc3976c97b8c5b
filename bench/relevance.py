"""Relevance benchmark: how well does the search answer what a city officer types?

    .venv/bin/python bench/relevance.py [--verbose]

Builds a throw-away Passerelle home (embedded SQLite) the way an operator would fill one: the
territory registry (the demo's organisations, labels and programmes are tied to real communes, EPCI,
départements), the demo (`passerelle demo seed`), the Aides-territoires 2022 sample imported by
ANCT, each imported programme given France as its territory, submitted and published (a closing
date already past is pushed a year ahead first: the workflow refuses to publish it otherwise). The
index is then rebuilt by the product's own rebuild, and every judged query of
tests/search/judgements/ is run through the product's query entry point
(``search.service.run_search``, top 20): aid queries restricted to the programmes and calls of
the sample, solution queries to solutions. The same documents' texts (title, summary, body,
extra) go into SQLite FTS5 (``unicode61 remove_diacritics 2``, BM25, the query's words OR-ed) as
a baseline.

Metrics, per system: nDCG@10 (gain 2^grade − 1, the ideal ranking made of every judged document
of the query), P@5 (grade ≥ 1 is relevant), recall@20, and the zero-result rate. Queries judged
to have no relevant document in their corpus take no part in nDCG, P@5 and recall (their ideal
DCG is 0: the measures are undefined) nor in the zero-result rate (an empty page is the right
answer there); a line of their own says how many of them each system answered with nothing. The
last line is ours: ``queries=N ndcg10=… p5=… recall20=… zero=…`` (N counts every judged query).

Nothing is committed: the whole build is one transaction that is thrown away with the folder, so
no background job is ever enqueued (the index is filled by the rebuild, as for the demo).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import logging
import math
import re
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

JUDGEMENTS = ROOT / "tests" / "search" / "judgements"
SAMPLE = ROOT / "tests" / "funding" / "data" / "aides-territoires-sample-2022.csv"
TOP = 20
CORPUS_TYPES = {"aides": ["programme", "call"], "solutions": ["solution"]}


# Judgements -------------------------------------------------------------------------------------

@dataclass
class Query:
    id: str
    text: str
    corpus: str
    note: str = ""
    grades: dict[str, int] = field(default_factory=dict)  # doc_key → grade (0 kept: judged, not relevant)

    @property
    def relevant(self) -> set[str]:
        return {k for k, g in self.grades.items() if g >= 1}


def read_judgements(directory: Path = JUDGEMENTS) -> list[Query]:
    with open(directory / "queries.tsv", encoding="utf-8", newline="") as fh:
        queries = {row["query_id"]: Query(row["query_id"], row["query"], row["corpus"], row.get("note") or "")
                   for row in csv.DictReader(fh, delimiter="\t")}
    with open(directory / "qrels.tsv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            queries[row["query_id"]].grades[row["doc_key"]] = int(row["grade"])
    return list(queries.values())


# Metrics ----------------------------------------------------------------------------------------

def dcg(gains: list[int]) -> float:
    return sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at(ranked: list[str], grades: dict[str, int], k: int = 10) -> float | None:
    ideal = dcg(sorted((g for g in grades.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return None
    return dcg([grades.get(key, 0) for key in ranked[:k]]) / ideal


def precision_at(ranked: list[str], relevant: set[str], k: int = 5) -> float:
    return sum(1 for key in ranked[:k] if key in relevant) / k


def recall_at(ranked: list[str], relevant: set[str], k: int = TOP) -> float | None:
    if not relevant:
        return None
    return len(relevant & set(ranked[:k])) / len(relevant)


@dataclass
class Answer:
    ranked: list[str]  # document keys, best first (top 20)
    total: int


def summarise(queries: list[Query], answers: dict[str, Answer]) -> dict[str, float]:
    judged = [q for q in queries if q.relevant]
    n = max(1, len(judged))
    return {
        "ndcg10": sum(ndcg_at(answers[q.id].ranked, q.grades) for q in judged) / n,
        "p5": sum(precision_at(answers[q.id].ranked, q.relevant) for q in judged) / n,
        "recall20": sum(recall_at(answers[q.id].ranked, q.relevant) for q in judged) / n,
        "zero": sum(1 for q in judged if answers[q.id].total == 0) / n,
        "empty_when_none": sum(1 for q in queries if not q.relevant and answers[q.id].total == 0),
    }


def summary_line(queries: list[Query], figures: dict[str, float]) -> str:
    return (f"queries={len(queries)} ndcg10={figures['ndcg10']:.3f} p5={figures['p5']:.3f} "
            f"recall20={figures['recall20']:.3f} zero={figures['zero']:.3f}")


# The instance -----------------------------------------------------------------------------------

@dataclass
class Instance:
    session: Any  # the SQLAlchemy session the whole build ran in (never committed)
    search_root: Path
    keys: dict[str, str]  # index document id → judged document key
    sample_ids: frozenset[str]  # index document ids of the sample's programmes
    documents: list[dict]  # every indexed document, as its provider gives it


def sample_keys() -> dict[str, str]:
    """The source id Passerelle keeps for a sample row (its link's stable part) → the row's key."""
    from marketplace.funding.importer.mapping import source_id_of

    with open(SAMPLE, encoding="utf-8", newline="") as fh:
        return {source_id_of(row["Lien"]): row["Lien"] for row in csv.DictReader(fh)}


def build_instance(home: Path) -> Instance:
    from alembic import command
    from sqlalchemy import select

    from marketplace import demo
    from marketplace.app import create_app
    from marketplace.catalog.models import Solution
    from marketplace.cli import alembic_config
    from marketplace.core.clock import today
    from marketplace.core.settings import load_settings
    from marketplace.core.text import slugify
    from marketplace.funding import services as funding
    from marketplace.funding import territory
    from marketplace.funding.importer import runs
    from marketplace.funding.models import Programme, Recurrence
    from search import service
    from search.documents import providers
    from search.indexing import without_indexing
    from tenants import services as tenants
    from tenants.models import Tenant
    from tenants.territories import services as territories

    home.mkdir(parents=True, exist_ok=True)
    settings = load_settings(passerelle_home=home, secret_key="bench-relevance", base_url="http://passerelle.bench")
    command.upgrade(alembic_config(settings.sqlalchemy_url), "head")
    app = create_app(settings)
    logging.getLogger().setLevel(logging.WARNING)  # the app logs each step at INFO: keep the figures readable
    session = app.extensions["passerelle"].session_factory()
    with without_indexing(session):
        territories.import_snapshot(session, territories.read_snapshot())
        demo.seed(session)
        anct = session.scalar(select(Tenant).where(Tenant.name == demo.OPERATOR))
        author = tenants.find_user_by_email(session, "curatrice@anct.test")
        reviewer = tenants.find_user_by_email(session, "admin@anct.test")
        # ANCT imports the national list; Aides-territoires rows whose funder does not say its
        # level (ID77, ENEDIS, associations…) are taken as agencies, as an operator would choose.
        run = runs.import_programmes(session, author, anct, SAMPLE.name, SAMPLE.read_bytes(), default_level="agency")
        ahead = today() + dt.timedelta(days=365)
        for entry in run.report["entries"]:
            if entry["outcome"] != "created":
                continue
            programme = session.get(Programme, entry["programme_id"])
            if (programme.recurrence is not Recurrence.permanent and programme.closes_on is not None
                    and programme.closes_on < today()):
                funding.update_programme(session, author, programme, {"closes_on": ahead})
            territory.add_scope(session, author, programme, include=True, level="france")
            funding.submit(session, author, programme)
            funding.publish(session, reviewer, programme)
    session.flush()
    root = settings.search_dir
    service.rebuild(root, session)

    by_source = sample_keys()
    keys, sample_ids = {}, set()
    for programme in session.scalars(select(Programme).where(Programme.owner_tenant_id == anct.id,
                                                             Programme.source_id.is_not(None))):
        if programme.source_id in by_source:
            keys[f"programme:{programme.id}"] = by_source[programme.source_id]
            sample_ids.add(f"programme:{programme.id}")
    for solution in session.scalars(select(Solution)):
        keys[f"solution:{solution.id}"] = slugify(solution.name)
    documents = [doc for p in providers().values() for i in p.all_ids(session)
                 if (doc := p.load(session, i)) is not None]
    return Instance(session, root, keys, frozenset(sample_ids), documents)


# The systems ------------------------------------------------------------------------------------

def run_ours(instance: Instance, query: Query) -> Answer:
    from search import service
    from search.query import SearchRequest

    only = instance.sample_ids if query.corpus == "aides" else None
    request = SearchRequest(q=query.text, filters={"type": CORPUS_TYPES[query.corpus]}, per_page=TOP, only=only)
    response = service.run_search(instance.search_root, instance.session, request)
    if response.degraded:
        # The database fallback would be measured instead of the search: say so and stop.
        raise SystemExit(f"the search index did not answer «{query.text}»: {response.message}")
    return Answer([instance.keys.get(hit.id, hit.id) for hit in response.hits], response.total)


class Fts5:
    """SQLite FTS5 over the same documents: BM25, words OR-ed, accents folded by unicode61."""

    def __init__(self, instance: Instance):
        self.db = sqlite3.connect(":memory:")
        self.db.execute("CREATE VIRTUAL TABLE docs USING fts5(corpus UNINDEXED, key UNINDEXED, title, summary, "
                        "body, extra, tokenize='unicode61 remove_diacritics 2')")
        for doc in instance.documents:
            if doc["type"] == "solution":
                corpus = "solutions"
            elif doc["id"] in instance.sample_ids:
                corpus = "aides"
            else:
                continue  # the demo's own programmes and calls: not judged, not searched
            self.db.execute("INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?)",
                            (corpus, instance.keys[doc["id"]], doc["title"], doc.get("summary") or "",
                             doc.get("body") or "", doc.get("extra") or ""))

    def run(self, query: Query) -> Answer:
        words = re.findall(r"\w+", query.text.lower())
        if not words:
            return Answer([], 0)
        match = " OR ".join('"' + w + '"' for w in words)
        ranked = [row[0] for row in self.db.execute(
            "SELECT key FROM docs WHERE docs MATCH ? AND corpus = ? ORDER BY bm25(docs), key LIMIT ?",
            (match, query.corpus, TOP))]
        total = self.db.execute("SELECT count(*) FROM docs WHERE docs MATCH ? AND corpus = ?",
                                (match, query.corpus)).fetchone()[0]
        return Answer(ranked, total)


# Main -------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verbose", action="store_true", help="one line per query")
    args = parser.parse_args(argv)

    queries = read_judgements()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="passerelle-relevance-") as tmp:
        instance = build_instance(Path(tmp) / "home")
        build_s = time.perf_counter() - t0
        fts = Fts5(instance)
        ours = {q.id: run_ours(instance, q) for q in queries}
        theirs = {q.id: fts.run(q) for q in queries}
        instance.session.rollback()
        instance.session.close()
    solutions = sum(1 for d in instance.documents if d["type"] == "solution")
    print(f"corpus: {len(instance.sample_ids)} aid programmes of the 2022 sample, {solutions} demo solutions; "
          f"built and indexed in {build_s:.1f} s")
    indexed = set(instance.keys.values())
    missing = sorted({k for q in queries for k in q.relevant if k not in indexed})
    if missing:
        # Rows the importer refuses (a "Permanente" aid with a closing date): judged, never findable.
        print(f"judged relevant but not in the index: {len(missing)} document(s) ({', '.join(missing)})")
    if args.verbose:
        for q in queries:
            a, b = ours[q.id], theirs[q.id]
            na, nb = ndcg_at(a.ranked, q.grades), ndcg_at(b.ranked, q.grades)
            fmt = lambda v: "  —  " if v is None else f"{v:.3f}"  # noqa: E731
            print(f"{q.id:<4} {q.corpus:<9} {q.text[:38]:<38} rel={len(q.relevant):<3} "
                  f"ours ndcg10={fmt(na)} hits={a.total:<4} fts5 ndcg10={fmt(nb)} hits={b.total}")
    none = [q for q in queries if not q.relevant]
    figures = {"fts5": summarise(queries, theirs), "ours": summarise(queries, ours)}
    if none:
        print(f"queries without any relevant document: {len(none)}; answered with nothing: "
              f"ours {figures['ours']['empty_when_none']}, fts5 {figures['fts5']['empty_when_none']}")
    for corpus in CORPUS_TYPES:
        part = [q for q in queries if q.corpus == corpus]
        for name, answers in (("fts5", theirs), ("ours", ours)):
            print(f"{name} {corpus}: " + summary_line(part, summarise(part, answers)))
    print("fts5: " + summary_line(queries, figures["fts5"]))
    print(summary_line(queries, figures["ours"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
