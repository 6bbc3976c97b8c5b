"""The rebuild's bulk writer writes the index Whoosh's own writer writes: same terms, postings,
block statistics, lengths, stored fields and columns, hence the same searches."""
from __future__ import annotations

import pytest
from whoosh import index as whoosh_index
from whoosh.fields import NUMERIC, TEXT, Schema

from bench.corpus import make_corpus
from search import index as idx
from search.bulk import BulkWriter, ParallelBuild, Unsupported
from search.query import SearchRequest, search
from search.schema import to_fields
from tests.search.corpus import CORPUS


def _build(root, docs, bulk: bool):
    path = idx.create_empty(root)
    ix = whoosh_index.open_dir(str(path))
    writer = BulkWriter(ix) if bulk else ix.writer()
    for d in docs:
        writer.add_document(**to_fields(d))
    writer.commit()
    idx.make_current(root, path)
    return whoosh_index.open_dir(str(path))


def _dump(ix):
    with ix.reader() as r:
        out = {"docs": r.doc_count_all(), "stored": [r.stored_fields(d) for d in range(r.doc_count_all())]}
        for name in ix.schema.names():
            field = ix.schema[name]
            if field.indexed:
                terms = {}
                for term in r.lexicon(name):
                    info = r.term_info(name, term)
                    postings = r.postings(name, term)
                    terms[term] = (list(postings.items_as("weight")), [postings.value() for _ in _walk(postings)],
                                   info.doc_frequency(), info.weight(), info.max_weight(), info.min_length(),
                                   info.max_length(), info.min_id(), info.max_id())
                out[f"terms:{name}"] = terms
                out[f"length:{name}"] = (r.field_length(name), [r.doc_field_length(d, name)
                                                                 for d in range(r.doc_count_all())])
            if field.column_type:
                out[f"column:{name}"] = list(r.column_reader(name))
        return out


def _walk(matcher):
    while matcher.is_active():
        yield matcher.id()
        matcher.next()


@pytest.mark.parametrize("docs", [CORPUS, make_corpus(400)], ids=["small", "blocks of 128"])
def test_the_bulk_writer_writes_what_whoosh_writes(tmp_path, docs):
    ours = _build(tmp_path / "bulk", docs, bulk=True)
    theirs = _build(tmp_path / "whoosh", docs, bulk=False)
    a, b = _dump(ours), _dump(theirs)
    assert a.keys() == b.keys()
    for key in b:
        assert a[key] == b[key], key
    for q in ("éclairage public", "stationnement", "budget participatif", "lampadaire", "données ouvertes"):
        got = search(tmp_path / "bulk", SearchRequest(q=q, per_page=50))
        want = search(tmp_path / "whoosh", SearchRequest(q=q, per_page=50))
        assert [h.id for h in got.hits] == [h.id for h in want.hits] and got.total == want.total, q


def test_the_bulk_writer_refuses_what_it_cannot_write(tmp_path):
    path = tmp_path / "ix"
    path.mkdir()
    ix = whoosh_index.create_in(str(path), Schema(body=TEXT(phrase=True), n=NUMERIC()))
    assert not BulkWriter.supports(ix.schema)  # positions: Whoosh's writer does that
    with pytest.raises(Unsupported):
        BulkWriter(ix)
    with ix.writer() as writer:
        writer.add_document(body="un", n=1)
    with pytest.raises(ValueError):
        BulkWriter(whoosh_index.open_dir(str(path)))  # not an empty index


def test_a_parallel_build_writes_every_document_once(tmp_path):
    docs = make_corpus(1200)
    single = _build(tmp_path / "single", docs, bulk=True)
    path = idx.create_empty(tmp_path / "parallel")
    build = ParallelBuild(whoosh_index.open_dir(str(path)), procs=2)
    for d in docs:
        build.add_document(**to_fields(d))
    build.commit()
    idx.make_current(tmp_path / "parallel", path)
    parallel = whoosh_index.open_dir(str(path))
    assert len(parallel._segments()) == 2  # one per process
    with parallel.reader() as r, single.reader() as s:
        assert sorted(f["id"] for _, f in r.iter_docs()) == sorted(f["id"] for _, f in s.iter_docs())
        assert r.doc_count() == len(docs) and r.field_length("text") == s.field_length("text")
    for q in ("éclairage public", "stationnement", "budget participatif"):
        got = search(tmp_path / "parallel", SearchRequest(q=q, per_page=100))
        want = search(tmp_path / "single", SearchRequest(q=q, per_page=100))
        assert got.total == want.total and got.facets == want.facets, q
    # The index is usable for the follower's updates afterwards.
    with idx.writer_for(whoosh_index.open_dir(str(path))) as writer:
        writer.delete_by_term("id", docs[0]["id"])
    assert search(tmp_path / "parallel", SearchRequest(q="", per_page=1)).total == len(docs) - 1


def test_a_parallel_build_that_fails_leaves_no_lock(tmp_path):
    path = idx.create_empty(tmp_path / "ix")
    ix = whoosh_index.open_dir(str(path))
    build = ParallelBuild(ix, procs=2)
    build.add_document(id="solution:1", published="hier")  # not a number: a worker fails on it
    with pytest.raises(RuntimeError):
        build.commit()
    with ix.writer() as writer:  # the lock was released
        writer.add_document(**to_fields(CORPUS[0]))
