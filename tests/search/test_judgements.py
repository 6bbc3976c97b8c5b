"""The judged relevance set (tests/search/judgements/) that bench/relevance.py measures the search
with: the files parse, every judged document exists in its corpus, and the metrics count the
queries without a relevant document the way the README says. Read statically: no app, no database."""
from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from bench import relevance
from marketplace.catalog.demo import SOLUTIONS
from marketplace.core.text import slugify

JUDGEMENTS = Path(__file__).parent / "judgements"
SAMPLE = Path(__file__).parent.parent / "funding" / "data" / "aides-territoires-sample-2022.csv"
NO_RELEVANT = "no-relevant:"  # how queries.tsv marks a query with no relevant document in its corpus


def read(name: str) -> list[dict[str, str]]:
    with open(JUDGEMENTS / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@pytest.fixture(scope="module")
def queries() -> list[dict[str, str]]:
    return read("queries.tsv")


@pytest.fixture(scope="module")
def qrels() -> list[dict[str, str]]:
    return read("qrels.tsv")


def corpus_keys() -> dict[str, set[str]]:
    with open(SAMPLE, encoding="utf-8", newline="") as fh:
        links = [row["Lien"] for row in csv.DictReader(fh)]
    assert len(links) == len(set(links)) == 274, "a sample row's link is its key: it must be unique"
    return {"aides": set(links), "solutions": {slugify(s["content"]["name"]) for s in SOLUTIONS}}


def test_the_files_have_their_columns_and_at_least_45_queries_over_both_corpora(queries, qrels):
    assert list(queries[0]) == ["query_id", "query", "corpus", "note"]
    assert list(qrels[0]) == ["query_id", "doc_key", "grade"]
    ids = [q["query_id"] for q in queries]
    assert len(ids) == len(set(ids)) >= 45
    assert all(q["query"].strip() == q["query"] and q["query"] for q in queries)
    corpora = Counter(q["corpus"] for q in queries)
    assert set(corpora) == {"aides", "solutions"} and min(corpora.values()) >= 5


def test_grades_are_0_1_or_2_and_each_pair_is_judged_once(queries, qrels):
    assert {r["grade"] for r in qrels} <= {"0", "1", "2"}
    pairs = Counter((r["query_id"], r["doc_key"]) for r in qrels)
    assert [pair for pair, n in pairs.items() if n > 1] == []
    assert {r["query_id"] for r in qrels} <= {q["query_id"] for q in queries}


def test_every_judged_document_exists_in_the_corpus_of_its_query(queries, qrels):
    keys = corpus_keys()
    corpus_of = {q["query_id"]: q["corpus"] for q in queries}
    unknown = [(r["query_id"], r["doc_key"]) for r in qrels if r["doc_key"] not in keys[corpus_of[r["query_id"]]]]
    assert unknown == []


def test_every_query_has_a_relevant_document_but_the_one_or_two_marked_as_having_none(queries, qrels):
    relevant = {r["query_id"] for r in qrels if int(r["grade"]) >= 1}
    marked = {q["query_id"] for q in queries if q["note"].startswith(NO_RELEVANT)}
    assert 1 <= len(marked) <= 2
    assert {q["query_id"] for q in queries} - relevant == marked


def test_the_bench_reads_the_same_set(queries, qrels):
    read_by_bench = relevance.read_judgements(JUDGEMENTS)
    assert [q.id for q in read_by_bench] == [q["query_id"] for q in queries]
    assert sum(len(q.grades) for q in read_by_bench) == len(qrels)


# The measures ------------------------------------------------------------------------------------

def test_ndcg_is_one_for_the_ideal_order_and_uses_every_judged_document_for_the_ideal():
    grades = {"a": 2, "b": 1, "c": 0}
    assert relevance.ndcg_at(["a", "b", "x"], grades) == pytest.approx(1.0)
    # b then a: (1 + 3/log2 3) / (3 + 1/log2 3)
    assert relevance.ndcg_at(["b", "a"], grades) == pytest.approx((1 + 3 / 1.5849625) / (3 + 1 / 1.5849625))
    # A relevant document the system never returns still counts in the ideal.
    assert relevance.ndcg_at(["a"], grades) == pytest.approx(3 / (3 + 1 / 1.5849625))
    assert relevance.ndcg_at([], grades) == 0.0


def test_a_query_without_relevant_document_is_left_out_of_the_averages_and_of_the_zero_rate():
    judged = relevance.Query("q1", "vélo", "aides", grades={"a": 2})
    none = relevance.Query("q2", "déneigement", "aides", note=NO_RELEVANT + " nothing", grades={"b": 0})
    answers = {"q1": relevance.Answer(["a"], 1), "q2": relevance.Answer([], 0)}
    figures = relevance.summarise([judged, none], answers)
    assert relevance.ndcg_at([], none.grades) is None and relevance.recall_at([], none.relevant) is None
    assert (figures["ndcg10"], figures["p5"], figures["recall20"], figures["zero"]) == (1.0, 0.2, 1.0, 0.0)
    assert figures["empty_when_none"] == 1
    # An empty answer to a judged query is a zero result; noise returned for q2 changes no average.
    answers = {"q1": relevance.Answer([], 0), "q2": relevance.Answer(["b", "c"], 2)}
    figures = relevance.summarise([judged, none], answers)
    assert (figures["ndcg10"], figures["zero"], figures["empty_when_none"]) == (0.0, 1.0, 0)
    assert relevance.summary_line([judged, none], figures) == "queries=2 ndcg10=0.000 p5=0.000 recall20=0.000 zero=1.000"
