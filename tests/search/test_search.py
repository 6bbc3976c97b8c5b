"""French full-text search: accents, plurals, synonyms, typos, facets, sorts, rebuilds and degradation."""
from __future__ import annotations

import multiprocessing

import pytest
from whoosh.filedb.filestore import FileStorage

from search import changes
from search import index as idx
from search.indexing import index_later
from search.query import SearchRequest, rank, search
from search.schema import to_fields
from search.service import index_document, rebuild, run_search
from tests.helpers import Documents
from tests.search.corpus import CORPUS, build, doc


@pytest.fixture
def root(tmp_path):
    build(tmp_path / "search", CORPUS)
    return tmp_path / "search"


def ids(response):
    return [h.object_id for h in response.hits]


@pytest.mark.parametrize("text", ["électricité", "electricite", "ELECTRICITÉ", "l'électricité"])
def test_accents_and_case_do_not_matter(root, text):
    assert ids(search(root, SearchRequest(q=text))) == [1]


def test_singular_and_plural_find_the_same_solutions(root):
    assert set(ids(search(root, SearchRequest(q="lampadaire")))) == set(ids(search(root, SearchRequest(q="lampadaires")))) == {1, 4}


def test_a_synonym_finds_the_same_solution(root):
    assert ids(search(root, SearchRequest(q="vidéo-protection"))) == [2]
    # The compound typed joined meets its hyphenated form in the text.
    assert ids(search(root, SearchRequest(q="videoprotection"))) == [2]
    assert ids(search(root, SearchRequest(q="vidéosurveillance"))) == [2]


def test_a_typo_is_corrected_when_nothing_matches(root):
    response = search(root, SearchRequest(q="eclairrage"))
    assert response.corrected_from == "eclairrage" and response.searched == "éclairage"
    assert response.total == 3 and response.suggestion is None


def test_a_typo_beside_a_known_word_is_offered_not_applied_when_the_rest_matches(root):
    # "budget" is known, "lampadaires" too: nothing to correct.
    assert search(root, SearchRequest(q="budget lampadaires")).suggestion is None
    # One word unknown, and no document holds both: the corrected query is searched.
    response = search(root, SearchRequest(q="budget partcipatif"))
    assert response.searched == "budget participatif" and ids(response) == [3]


def test_documents_holding_more_of_the_words_come_first(root):
    assert ids(search(root, SearchRequest(q="éclairage intelligent")))[0] == 1
    some = search(root, SearchRequest(q="éclairage intelligent"))
    assert some.complete == 1 and set(ids(some)) == {1, 4, 5} and not some.broadened
    broadened = search(root, SearchRequest(q="budget lampadaire"))
    assert broadened.broadened and set(ids(broadened)) == {1, 3, 4}


def test_facets_count_and_filter(root):
    response = search(root, SearchRequest(q="éclairage"))
    hosting = {f.value: f.count for f in response.facets["hosting"]}
    assert hosting == {"france": 2, "hors-ue": 1}
    filtered = search(root, SearchRequest(q="éclairage", filters={"hosting": ["france"], "verified": ["oui"]}))
    assert ids(filtered) == [1] and filtered.total == 1
    selected = [f for f in filtered.facets["hosting"] if f.selected]
    assert selected and selected[0].value == "france"
    deployed = search(root, SearchRequest(filters={"deployed_sizes": ["20000-100000"], "domains": ["eclairage-public"]}))
    assert set(ids(deployed)) == {1, 4}


def test_sorts_and_pagination(root):
    newest = search(root, SearchRequest(sort="recent", per_page=2))
    assert ids(newest) == [5, 4] and newest.total == 5 and newest.pages == 3
    assert ids(search(root, SearchRequest(sort="recent", per_page=2, page=3))) == [1]
    assert ids(search(root, SearchRequest(sort="deploiements", per_page=3))) == [3, 1, 2]


def test_the_name_weighs_more_than_the_description(root):
    # "lampadaire" is in the pitch of #1 and only in the description of #4.
    assert ids(search(root, SearchRequest(q="lampadaire")))[0] == 1


def test_snippets_highlight_and_escape(root):
    hit = search(root, SearchRequest(q="éclairage public")).hits[0]
    assert "<mark>Éclairage</mark>" in hit.snippet and "<mark>public</mark>" in hit.snippet
    trap = next(h for h in search(root, SearchRequest(q="piégé")).hits)
    assert "<b>" not in trap.snippet and "&lt;b&gt;" in trap.snippet


def test_an_update_is_seen_by_the_next_search_without_duplicates(root):
    """whoosh-reloaded keeps merged-away segments when a searcher is refreshed: we never refresh."""
    ix = idx.open_current(root)
    for i in range(6):
        with idx.writer_for(ix) as writer:
            writer.update_document(**to_fields(doc(1, f"Lumio {i}", "Éclairage public intelligent")))
        search(root, SearchRequest(q="éclairage"))
    with ix.writer() as writer:
        writer.optimize = True  # force a merge
        writer.mergetype = __import__("whoosh.writing", fromlist=["OPTIMIZE"]).OPTIMIZE
    response = search(root, SearchRequest(q="éclairage"))
    assert response.total == 3 and len(set(ids(response))) == len(ids(response))
    assert search(root, SearchRequest(q="Lumio")).hits[0].title == "Lumio 5"


def test_a_search_asked_again_is_answered_the_same_until_the_index_changes(root):
    """Results are kept per index generation: the same request gets the same answer (its own
    request object), a commit shows a new document and a removed one on the very next search."""
    first = search(root, SearchRequest(q="éclairage public"))
    request = SearchRequest(q="éclairage public")
    again = search(root, request)
    assert ids(again) == ids(first) and again.total == first.total and again.request is request
    assert rank(root, "éclairage public", doc_type="solution").keys == [f"solution:{i}" for i in ids(first)]

    ix = idx.open_current(root)
    with idx.writer_for(ix) as writer:
        writer.update_document(**to_fields(doc(99, "Éclairage public Nouvelle Lune", "Candélabres solaires")))
        writer.delete_by_term("id", f"solution:{ids(first)[-1]}")
    after = search(root, SearchRequest(q="éclairage public"))
    assert 99 in ids(after) and ids(first)[-1] not in ids(after)
    ranked = rank(root, "éclairage public", doc_type="solution").keys
    assert "solution:99" in ranked and f"solution:{ids(first)[-1]}" not in ranked


@pytest.fixture
def store():
    documents = Documents()
    saved = documents.install()
    yield documents
    Documents.restore(saved)


def test_index_document_follows_the_database(tmp_path, store, db):
    root = tmp_path / "search"
    store.docs[7] = doc(7, "Compteurs d'eau", "Télérelève des compteurs")
    store.docs[8] = doc(8, "Capteurs de crue", "Alerte inondation")
    assert index_document(root, db, "solution", 7)
    # There was no index at all: it was built whole, not with this one document.
    assert ids(search(root, SearchRequest(q="inondation"))) == [8]
    assert ids(search(root, SearchRequest(q="compteurs"))) == [7]
    del store.docs[7]  # unpublished, archived or deleted
    assert not index_document(root, db, "solution", 7)
    assert search(root, SearchRequest(q="compteurs", correct=False)).total == 0


def test_rebuild_swaps_atomically_and_searches_keep_working(tmp_path, store, db):
    root = tmp_path / "search"
    build(root, CORPUS[:2])
    old = idx.current_dir(root)
    assert search(root, SearchRequest(q="budget")).total == 0
    store.docs.update({d["object_id"]: d for d in CORPUS})
    seen_during = []
    count = rebuild(root, db, progress=lambda n: seen_during.append(search(root, SearchRequest(q="vidéosurveillance")).total))
    assert count == 5 and set(seen_during) == {1}  # the old index answered during the build
    assert idx.current_dir(root) != old and search(root, SearchRequest(q="budget")).total == 1
    assert not idx.rebuild_running(root)
    # The new index knows where it starts in the change log.
    assert changes.read_position(idx.current_dir(root)).last == changes.bounds(db).head


def test_changes_committed_during_a_rebuild_are_replayed_before_the_swap(tmp_path, store, db):
    root = tmp_path / "search"
    build(root, [])
    store.docs.update({d["object_id"]: d for d in CORPUS[:3]})

    def change_midway(n):
        if 9 not in store.docs:  # a service publishing a solution while the rebuild reads
            store.docs[9] = doc(9, "Capteurs de stationnement", "Places libres en temps réel")
            index_later(db, "solution", 9)
            db.commit()

    rebuild(root, db, progress=change_midway)
    assert ids(search(root, SearchRequest(q="stationnement"))) == [9]


def test_a_missing_index_degrades_with_a_message(tmp_path, store):
    store.docs[3] = CORPUS[2]
    asked = []
    response = run_search(tmp_path / "nothing-here", None, SearchRequest(q="agora"), on_unavailable=lambda: asked.append(1))
    assert response.degraded and "momentanément indisponible" in response.message
    assert ids(response) == [3] and asked == [1]


def _writer_process(root, start):
    ix = idx.open_current(root)
    for i in range(start, start + 8):
        with idx.writer_for(ix) as writer:
            writer.update_document(**to_fields(doc(i, f"Doc {i}", "concurrence")))


def test_concurrent_writers_lose_nothing(tmp_path):
    root = tmp_path / "search"
    build(root, [])
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer_process, args=(root, start)) for start in (100, 200)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert search(root, SearchRequest(q="concurrence", per_page=100)).total == 16


def test_an_index_opened_during_another_writers_commit_reads_the_new_generation(root, monkeypatch):
    """A reader lists the directory, another process commits (its commit removes the table of
    contents the reader was about to open), the reader opens the new one."""
    real_open = FileStorage.open_file
    committed = []

    def open_file(self, name, *args, **kwargs):
        if name.endswith(".toc") and not committed:
            committed.append(name)
            with idx.writer_for(idx.open_current(root)) as writer:
                writer.update_document(**to_fields(doc(77, "Bancs connectés", "concurrence")))
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(FileStorage, "open_file", open_file)
    ix, searcher = idx.open_current(root, then=lambda ix: ix.searcher())
    with searcher:
        assert searcher.doc_count() == len(CORPUS) + 1
    assert committed and not (idx.current_dir(root) / committed[0]).exists()


def test_a_search_can_be_restricted_to_given_documents(root):
    # "Mes financements": only what the tenant is eligible to, with facets counted on that set.
    response = search(root, SearchRequest(q="éclairage", only=frozenset({"solution:4", "solution:2", "solution:99"})))
    assert ids(response) == [4]
    assert {f.value: f.count for f in response.facets["hosting"]} == {"hors-ue": 1}
    assert search(root, SearchRequest(only=frozenset())).total == 0


def test_an_index_of_no_document_answers_nothing_rather_than_failing(tmp_path):
    """A fresh install with nothing published yet."""
    root = tmp_path / "search"
    build(root, [])
    for request in (SearchRequest(), SearchRequest(q="éclairage"), SearchRequest(sort="recent")):
        response = search(root, request)
        assert response.total == 0 and response.hits == []


def test_postings_read_a_block_at_a_time_are_the_ones_whoosh_decodes(tmp_path):
    """Several segments, postings longer than a block, deleted documents: the fast reading gives
    what whoosh's own decoding gives, for every word of the index."""
    from whoosh import index as whoosh_index

    from search.query import _read_postings
    from search.schema import MATCH_FIELD

    root = tmp_path / "search"
    build(root, CORPUS + [doc(100 + i, f"Éclairage {i}", "Lampadaires LED " * (1 + i % 3)) for i in range(300)])
    ix = whoosh_index.open_dir(str(idx.current_dir(root)))
    for start in (400, 500):
        with idx.writer_for(ix) as writer:
            for i in range(start, start + 40):
                writer.add_document(**to_fields(doc(i, f"Éclairage {i}", "Télégestion des lampadaires")))
            writer.delete_by_term("id", f"solution:{start - 290}")
    with ix.searcher() as searcher:
        reader = searcher.reader()
        assert reader.has_deletions() and len(list(reader.leaf_readers())) > 1
        deleted = frozenset(d for d in range(reader.doc_count_all()) if reader.is_deleted(d))
        terms = list(reader.field_terms(MATCH_FIELD))
        assert max(reader.doc_frequency(MATCH_FIELD, t) for t in terms) > 300
        for term in terms:
            expected = {d: w for d, w in reader.postings(MATCH_FIELD, term).items_as("weight") if d not in deleted}
            assert _read_postings(reader, term, deleted) == expected, term
