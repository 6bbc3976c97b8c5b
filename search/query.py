"""Querying: French full text with synonyms, filters, facet counts, sorts, snippets, suggestions.

Performance (see bench/search.py): Whoosh's own filtering and faceting rebuild their document
sets on every query, which put the p95 of a faceted query near half a second on 50 000
documents. Here, per index generation, we build once the set of documents of every facet value
and the sort keys by document number; a query then costs one unscored pass over its matching
documents, a few set intersections, and a top-N scoring restricted to the filtered set.
"""
from __future__ import annotations

import logging
import math
import re
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from markupsafe import escape

from marketplace.core.text import fold
from search import vocabulary
from search.analysis import ANALYSIS_VERSION, FRENCH_STOPWORDS, stem, synonym_key, synonyms, terms
from search.index import IndexUnavailable, handle_for
from search.schema import FACET_FIELDS, MATCH_FIELD

log = logging.getLogger("passerelle.search")

SORTS = {"pertinence": "Pertinence", "recent": "Les plus récentes", "deploiements": "Les plus déployées"}
PER_PAGE_MAX = 100
MAX_FILTER_CACHE = 256
# What each index generation keeps, most recently used first (see ``_kept``): search responses and
# rankings, BM25 vectors of terms.
MAX_KEPT_RESULTS = 1000
MAX_KEPT_TERMS = 5000
MAX_CACHED_POSTINGS = 3_000_000


@dataclass
class SearchRequest:
    q: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)  # facet field → values (OR within)
    sort: str = "pertinence"
    page: int = 1
    per_page: int = 20
    highlight: bool = True
    facets: bool = True
    # Restrict to these documents ("programme:12", …): what a tenant is eligible to, say. None: all.
    only: frozenset[str] | None = None
    correct: bool = True  # False: the words as typed, even when the index knows none of them


@dataclass
class Hit:
    id: str
    type: str
    object_id: int
    title: str
    summary: str
    snippet: str  # HTML, escaped, with <mark> around matches
    url: str
    owner: str
    domains: list[str]
    hosting: str
    price_model: str
    verified: bool
    verified_count: int
    deployments: int
    score: float | None = None


@dataclass
class FacetValue:
    value: str
    count: int
    selected: bool


@dataclass
class SearchResponse:
    request: SearchRequest
    hits: list[Hit]
    total: int
    facets: dict[str, list[FacetValue]]
    suggestion: str | None = None
    degraded: bool = False
    message: str | None = None
    broadened: bool = False  # no document holds every concept: showing those holding some
    complete: int = 0  # how many results hold every concept of the query
    corrected_from: str | None = None  # the query as typed, when a corrected one was searched
    searched: str | None = None  # the corrected query searched instead

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.request.per_page))


# Query building -----------------------------------------------------------------------------------

_CHUNK = re.compile(r"\w+(?:-\w+)*")


@dataclass(frozen=True)
class Concept:
    """One word of the query, with its alternatives. An alternative is a tuple of terms that
    must all be present (anywhere: a multi-word synonym is never a required phrase). The first
    ``typed`` alternatives are what was typed (a split form included); the others are synonyms,
    which weigh less."""
    text: str
    alternatives: tuple[tuple[str, ...], ...]
    typed: int = 1


@dataclass(frozen=True)
class Group:
    """Consecutive words that also mean something together — a compound ("centre-bourg"), a
    phrase of the synonym lists ("maison de santé"), two words the texts write as one: a document
    holding one of these alternatives holds every word of the group. ``typed`` alternatives (the
    joined form) weigh as typed words, the others as synonyms."""
    members: tuple[int, ...]
    alternatives: tuple[tuple[str, ...], ...]
    typed: int = 0


@dataclass(frozen=True)
class Plan:
    """A parsed query: its concepts (words), the groups of words that mean something together,
    and how many concepts a document must hold to be a result (``min_match``). Results are ranked
    by the number of concepts they hold, then by BM25."""
    concepts: tuple[Concept, ...]
    groups: tuple[Group, ...] = ()
    min_match: int = 1

    @property
    def stems(self) -> frozenset[str]:
        own = {s for c in self.concepts for alt in c.alternatives for s in alt}
        return frozenset(own | {s for g in self.groups for alt in g.alternatives for s in alt})

    @property
    def typed_stems(self) -> frozenset[str]:
        return frozenset(s for c in self.concepts for alt in c.alternatives[:c.typed] for s in alt)

    @property
    def complete(self) -> int:
        return len(self.concepts)


def default_min_match(concepts: int) -> int:
    """Short queries: any concept (ranked by how many); long ones: at least half of them."""
    return 1 if concepts <= 3 else (concepts + 1) // 2


def _split(word: str, known) -> tuple[str, ...] | None:
    """"videoprotection" typed, "vidéo protection" written: the split whose halves are both known."""
    for i in range(4, len(word) - 3):
        left, right = stem(word[:i]), stem(word[i:])
        if known(left) and known(right):
            return (left, right)
    return None


def _alternatives_of(phrase: str, table) -> list[tuple[str, ...]]:
    return [alt for synonym in table.get(phrase, ()) if (alt := tuple(dict.fromkeys(terms(synonym))))]


def build_plan(text: str, *, all_words: bool = False, known=None) -> Plan | None:
    """The concepts of a query. ``known(term)`` (the index's vocabulary, when there is one) lets
    two typed words meet their joined form, and an unknown word its split form."""
    words: list[str] = []
    hyphen_after: set[int] = set()  # index i: word i and i+1 were typed joined by a hyphen
    for chunk in _CHUNK.findall(fold(text)):
        parts = [w for w in chunk.split("-") if w]
        kept = [w for w in parts if w not in FRENCH_STOPWORDS]
        if len(kept) > 1 and len(kept) == len(parts):
            hyphen_after.update(range(len(words), len(words) + len(kept) - 1))
        words.extend(kept)
    table = synonyms()
    concepts: list[Concept] = []
    for word in words:
        own = (stem(word),)
        typed = [own]
        if known is not None and not known(own[0]):
            parts = _split(word, known)
            if parts:
                typed.append(parts)
        alternatives = list(dict.fromkeys(typed))
        alternatives += [a for a in _alternatives_of(synonym_key([word]), table) if a not in alternatives]
        concepts.append(Concept(word, tuple(alternatives), len(typed)))
    groups: list[Group] = []
    covered: set[int] = set()
    for n in (4, 3, 2):
        for i in range(len(words) - n + 1):
            members = tuple(range(i, i + n))
            if covered.issuperset(members):
                continue
            phrase = synonym_key(words[i:i + n])
            joined = stem("".join(words[i:i + n]))
            hyphenated = all(j in hyphen_after for j in range(i, i + n - 1))
            joined_known = known is not None and known(joined)
            synonyms_of = _alternatives_of(phrase, table)
            if not (hyphenated or joined_known or synonyms_of):
                continue
            typed = [(joined,)] if (hyphenated or joined_known) else []
            groups.append(Group(members, tuple(dict.fromkeys(typed + synonyms_of)), len(typed)))
            covered.update(members)
    if not concepts:
        return None
    return Plan(tuple(concepts), tuple(groups), len(concepts) if all_words else default_min_match(len(concepts)))


# Per-generation caches ------------------------------------------------------------------------------

def _kept(cache: dict, name: str, key, compute, limit: int = MAX_KEPT_RESULTS):
    """``compute()``, kept in this generation's cache (the ``limit`` most recently used of ``name``):
    a generation's documents never change (a commit makes a new generation, which starts with empty
    caches), so the same key gets the same answer."""
    lru: OrderedDict = cache.setdefault(name, OrderedDict())
    if key in lru:
        lru.move_to_end(key)
        return lru[key]
    lru[key] = value = compute()
    if len(lru) > limit:
        lru.popitem(last=False)
    return value


def _deleted(searcher, cache) -> frozenset[int]:
    if "deleted" not in cache:
        reader = searcher.reader()
        cache["deleted"] = (frozenset(d for d in range(reader.doc_count_all()) if reader.is_deleted(d))
                            if reader.has_deletions() else frozenset())
    return cache["deleted"]


def _facet_sets(searcher, cache) -> dict[str, dict[str, frozenset[int]]]:
    if "facets" not in cache:
        reader = searcher.reader()
        deleted = _deleted(searcher, cache)
        sets: dict[str, dict[str, frozenset[int]]] = {}
        for fieldname in FACET_FIELDS:
            values = {}
            for term in reader.lexicon(fieldname):
                values[term.decode("utf-8")] = frozenset(reader.postings(fieldname, term).all_ids()) - deleted
            sets[fieldname] = values
        cache["facets"] = sets
        cache["all"] = frozenset(range(reader.doc_count_all())) - deleted
    return cache["facets"]


def _postings(searcher, cache, stem: str) -> dict[int, float]:
    """docnum → term frequency of a stem in the text field, cached per generation (LRU bounded by
    the number of postings): the vocabulary of real queries is small, so most words are served
    from memory."""
    lru: OrderedDict = cache.setdefault("postings", OrderedDict())
    if stem in lru:
        lru.move_to_end(stem)
        return lru[stem]
    reader = searcher.reader()
    deleted = _deleted(searcher, cache)
    postings = _read_postings(reader, stem, deleted) if (MATCH_FIELD, stem) in reader else {}
    lru[stem] = postings
    cache["postings_size"] = cache.get("postings_size", 0) + len(postings)
    while cache["postings_size"] > MAX_CACHED_POSTINGS and len(lru) > 1:
        _, dropped = lru.popitem(last=False)
        cache["postings_size"] -= len(dropped)
    return postings


def _read_postings(reader, stem: str, deleted) -> dict[int, float]:
    """docnum → weight of a stem's postings, read a block at a time: each block's ids and weights
    are arrays on disk, and decoding them posting by posting (``items_as``) cost 2.5 µs a posting,
    a first search for common words 10 to 40 ms in every web worker. whoosh's leaf matchers
    (one per segment) keep them as ``_ids`` and ``_weights``; another matcher is read the public way."""
    matcher = reader.postings(MATCH_FIELD, stem)
    parts = list(zip(matcher.matchers, matcher.offsets)) if hasattr(matcher, "matchers") else [(matcher, 0)]
    if not all(hasattr(m, "_read_ids") and hasattr(m, "_next_block") for m, _ in parts):
        return {d: w for d, w in matcher.items_as("weight") if d not in deleted}
    ids: list[int] = []
    weights: list[float] = []
    for leaf, offset in parts:
        while leaf.is_active():
            leaf._read_ids()
            leaf._read_weights()
            ids.extend([i + offset for i in leaf._ids] if offset else leaf._ids)
            weights.extend(leaf._weights)
            leaf._next_block()
    postings = dict(zip(ids, weights))
    for d in deleted.intersection(postings) if deleted else ():
        del postings[d]
    return postings


def _size(searcher, cache) -> int:
    if "size" not in cache:
        cache["size"] = searcher.reader().doc_count_all()
    return cache["size"]


def _live(searcher, cache) -> np.ndarray:
    """Documents not deleted, as a boolean vector over document numbers."""
    if "live" not in cache:
        live = np.ones(_size(searcher, cache), dtype=bool)
        deleted = _deleted(searcher, cache)
        if deleted:
            live[np.fromiter(deleted, dtype=np.int64, count=len(deleted))] = False
        cache["live"] = live
    return cache["live"]


def _mask(docs, size: int) -> np.ndarray:
    out = np.zeros(size, dtype=bool)
    if docs:
        out[np.fromiter(docs, dtype=np.int64, count=len(docs))] = True
    return out


def _facet_masks(searcher, cache) -> dict[str, dict[str, np.ndarray]]:
    if "facet_masks" not in cache:
        size = _size(searcher, cache)
        cache["facet_masks"] = {f: {v: _mask(docs, size) for v, docs in values.items()}
                                for f, values in _facet_sets(searcher, cache).items()}
    return cache["facet_masks"]


def _lengths(searcher, cache) -> tuple[np.ndarray, float]:
    if "lengths" not in cache:
        reader = searcher.reader()
        lengths = np.array([reader.doc_field_length(d, MATCH_FIELD, 0) for d in range(reader.doc_count_all())],
                           dtype=np.float32)
        live = max(1, reader.doc_count())
        cache["lengths"] = (lengths, max(1.0, reader.field_length(MATCH_FIELD) / live))
    return cache["lengths"]


# BM25 on the text field, computed here from cached postings: Whoosh scores every match of a
# filtered query in Python, which was most of the query time. Each term's BM25 over its documents
# is computed once per index generation and kept as vectors; a query is then numpy arithmetic over
# document numbers (coordination, scores, filters, facet counts), whatever the number of matches.
K1, B = 1.2, 0.75
SYNONYM_WEIGHT = 0.7  # a synonym found counts for less than the word typed


def _term_vectors(searcher, cache, term: str) -> tuple[np.ndarray, np.ndarray]:
    """(document numbers, BM25 of the term in each), cached per generation."""
    return _kept(cache, "term_vectors", term, lambda: _bm25(searcher, cache, term), MAX_KEPT_TERMS)


def _bm25(searcher, cache, term: str) -> tuple[np.ndarray, np.ndarray]:
    postings = _postings(searcher, cache, term)
    docs = np.fromiter(postings.keys(), dtype=np.int64, count=len(postings))
    tf = np.fromiter(postings.values(), dtype=np.float32, count=len(postings))
    lengths, avg = _lengths(searcher, cache)
    n = max(1, searcher.reader().doc_count())
    idf = math.log(1 + (n - len(postings) + 0.5) / (len(postings) + 0.5))
    norm = K1 * (1 - B + B * lengths[docs] / avg) if len(docs) else np.zeros(0, dtype=np.float32)
    return docs, (idf * tf * (K1 + 1) / (tf + norm)).astype(np.float32)


def _alt_vectors(searcher, cache, alt: tuple[str, ...], size: int) -> tuple[np.ndarray, np.ndarray]:
    """(holds every term of the alternative, the sum of their BM25) over document numbers."""
    present = np.ones(size, dtype=bool)
    score = np.zeros(size, dtype=np.float32)
    for term in alt:
        docs, values = _term_vectors(searcher, cache, term)
        here = np.zeros(size, dtype=bool)
        here[docs] = True
        present &= here
        score[docs] += values
    score[~present] = 0.0
    return present, score


def _plan_vectors(searcher, cache, plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    """(coordination: how many concepts each document holds, BM25: per concept its best
    alternative, a group's alternative shared among its words) over document numbers."""
    size = _size(searcher, cache)
    held = np.zeros((len(plan.concepts), size), dtype=bool)
    best = np.zeros((len(plan.concepts), size), dtype=np.float32)
    for i, concept in enumerate(plan.concepts):
        for rank_, alt in enumerate(concept.alternatives):
            present, score = _alt_vectors(searcher, cache, alt, size)
            held[i] |= present
            np.maximum(best[i], score * (1.0 if rank_ < concept.typed else SYNONYM_WEIGHT), out=best[i])
    for group in plan.groups:
        for rank_, alt in enumerate(group.alternatives):
            present, score = _alt_vectors(searcher, cache, alt, size)
            share = score * ((1.0 if rank_ < group.typed else SYNONYM_WEIGHT) / len(group.members))
            for member in group.members:
                held[member] |= present
                np.maximum(best[member], share, out=best[member])
    live = _live(searcher, cache)
    return held.sum(axis=0, dtype=np.int16) * live, best.sum(axis=0)


def _docnums_by_id(searcher, cache) -> dict[str, int]:
    if "ids" not in cache:
        reader = searcher.reader()
        deleted = _deleted(searcher, cache)
        cache["ids"] = {fields["id"]: docnum for docnum, fields in reader.iter_docs() if docnum not in deleted}
    return cache["ids"]


def _ids_by_docnum(searcher, cache) -> list[str | None]:
    """Document number → id, from the map above (reading stored fields per hit was most of a
    ranked list's cost)."""
    if "names" not in cache:
        names: list[str | None] = [None] * _size(searcher, cache)
        for key, docnum in _docnums_by_id(searcher, cache).items():
            names[docnum] = key
        cache["names"] = names
    return cache["names"]


def _sort_keys(searcher, cache, fieldname: str) -> list:
    key = f"sort:{fieldname}"
    if key not in cache:
        reader = searcher.reader()
        # An index of no document has no column at all (Whoosh raises): nothing to sort.
        cache[key] = list(reader.column_reader(fieldname)) if reader.doc_count_all() else []
    return cache[key]


def _filter_mask(searcher, cache, filters: dict[str, list[str]]) -> np.ndarray | None:
    active = {f: tuple(sorted(set(v))) for f, v in filters.items() if v and f in FACET_FIELDS}
    if not active:
        return None
    return _kept(cache, "filters", tuple(sorted(active.items())), lambda: _masks_of(searcher, cache, active),
                 MAX_FILTER_CACHE)


def _masks_of(searcher, cache, active: dict[str, tuple[str, ...]]) -> np.ndarray:
    masks = _facet_masks(searcher, cache)
    size = _size(searcher, cache)
    result = None
    for fieldname, values in active.items():
        union = np.zeros(size, dtype=bool)
        for v in values:
            if v in masks[fieldname]:
                union |= masks[fieldname][v]
        result = union if result is None else result & union
    return result


# Search ---------------------------------------------------------------------------------------------

def search(root: Path, request: SearchRequest) -> SearchResponse:
    """Run a search; raises IndexUnavailable when there is no usable index (callers degrade).

    Spelling: a word the index does not know (its term is in no document) is corrected to the
    closest known word. When no document holds every concept of the query, the corrected query
    is searched instead and the response says so (``corrected_from``); otherwise the correction
    is only offered (``suggestion``)."""
    request.page = max(1, request.page)
    request.per_page = max(1, min(PER_PAGE_MAX, request.per_page))
    handle = handle_for(root)
    with handle.lock:
        searcher = _searcher(handle)
        cache = handle.cache
        key = (request.q, tuple(sorted((f, tuple(v)) for f, v in request.filters.items())), request.sort,
               request.page, request.per_page, request.highlight, request.facets, request.only, request.correct)
        return replace(_kept(cache, "responses", key, lambda: _search(searcher, cache, request)),
                       request=request)


def _search(searcher, cache, request: SearchRequest) -> SearchResponse:
    known = _known(searcher, cache)
    response = _run(searcher, cache, request, known)
    if request.q.strip():
        corrected = _correct(searcher, cache, request.q, known)
        if corrected and request.correct and not response.complete:
            retry = _run(searcher, cache, replace(request, q=corrected), known)
            if retry.complete:
                retry.corrected_from, retry.searched = request.q, corrected
                return retry
        response.suggestion = corrected
    return response


@dataclass
class Ranking:
    keys: list[str]  # document ids ("programme:12"), best first
    suggestion: str | None = None
    corrected_from: str | None = None
    searched: str | None = None


def rank(root: Path, q: str, only: frozenset[str] | None = None, *, doc_type: str | None = None,
         all_words: bool = False, correct: bool = True) -> Ranking:
    """The documents of ``only`` matching ``q``, best first, through the same pipeline as
    ``search`` (analysis, synonyms, coordination, spelling) — for pages that filter and facet a
    set of their own (a tenant's eligible programmes, the API's lists). ``all_words``: only the
    documents holding every concept (an alert, which must not mail what holds one word of three).
    Without ``only``, every document of ``doc_type``. Raises IndexUnavailable like ``search``."""
    handle = handle_for(root)
    with handle.lock:
        searcher = _searcher(handle)
        cache = handle.cache
        size = _size(searcher, cache)
        if only is None:
            allowed = _facet_masks(searcher, cache)["type"].get(doc_type or "", np.zeros(size, dtype=bool))
        else:
            ids = _docnums_by_id(searcher, cache)
            allowed = _mask([ids[key] for key in only if key in ids], size)
        known = _known(searcher, cache)

        def ranked(text: str) -> tuple[list[str], bool]:
            plan = build_plan(text, all_words=all_words, known=known)
            if plan is None or not allowed.any():
                return [], False
            coord, score = _plan_vectors(searcher, cache, plan)
            matched = (coord >= plan.min_match) & allowed
            total = int(np.count_nonzero(matched))
            # The head gets the field boosts, as a page of ``search`` does; the rest follows in
            # coordination then BM25 order (boosting thousands of documents for a list's deep
            # pages cost more than the rest of the page).
            head = [docnum for docnum, _ in _rank(searcher, cache, plan, coord, score, matched,
                                                  min(total, RANK_BOOSTED))]
            if len(head) < total:
                rest = matched.copy()
                rest[head] = False
                docs = np.flatnonzero(rest)
                head += docs[np.lexsort((docs, -score[docs], -coord[docs]))].tolist()
            complete = bool(np.any(matched & (coord == plan.complete)))
            names = _ids_by_docnum(searcher, cache)
            return [names[docnum] for docnum in head], complete

        def ranking() -> Ranking:
            keys, complete = ranked(q)
            corrected = _correct(searcher, cache, q, known)
            if corrected and correct and not complete:
                retry, retry_complete = ranked(corrected)
                if retry_complete:
                    return Ranking(retry, corrected_from=q, searched=corrected)
            return Ranking(keys, suggestion=corrected)

        if only is not None:  # a set of the caller's own (a tenant's eligible documents): not kept
            return ranking()
        kept = _kept(cache, "rankings", (q, doc_type, all_words, correct), ranking)
        return replace(kept, keys=list(kept.keys))


def _searcher(handle):
    searcher = handle.acquire()
    handle.cache.setdefault("dir", handle.path)
    analyzer = searcher.schema[MATCH_FIELD].analyzer
    if getattr(analyzer, "version", None) != ANALYSIS_VERSION:
        raise IndexUnavailable("index construit par une autre version de l'analyse : à reconstruire")
    return searcher


def _known(searcher, cache):
    reader = searcher.reader()
    return lambda term: bool(_postings(searcher, cache, term)) if (MATCH_FIELD, term) in reader else False


def _run(searcher, cache, request: SearchRequest, known) -> SearchResponse:
    size = _size(searcher, cache)
    allowed = _filter_mask(searcher, cache, request.filters)
    if request.only is not None:
        ids = _docnums_by_id(searcher, cache)
        only = _mask([ids[key] for key in request.only if key in ids], size)
        allowed = only if allowed is None else allowed & only
    plan = build_plan(request.q, known=known)
    wanted = request.page * request.per_page
    live = _live(searcher, cache)

    coord = score = None
    if plan is None:
        matched = live if allowed is None else allowed & live
        complete = 0
    else:
        coord, score = _plan_vectors(searcher, cache, plan)
        matched = coord >= plan.min_match
        if allowed is not None:
            matched &= allowed
        complete = int(np.count_nonzero(matched & (coord == plan.complete)))

    total = int(np.count_nonzero(matched))
    sort = request.sort if request.sort in SORTS else "pertinence"
    if sort == "pertinence" and plan is not None and total:
        ranked = _rank(searcher, cache, plan, coord, score, matched, wanted)
    else:
        keyfield = "deployments" if sort == "deploiements" else "published"
        keys = _sort_array(searcher, cache, keyfield)
        secondary = _sort_array(searcher, cache, "published")
        docs = np.flatnonzero(matched)
        if len(docs):
            order = np.lexsort((docs, -secondary[docs], -keys[docs]))[:wanted]
            ranked = [(int(d), None) for d in docs[order]]
        else:
            ranked = []
    page_docs = ranked[(request.page - 1) * request.per_page: wanted]

    stems = plan.stems if (plan and request.highlight) else frozenset()
    hits = [_hit(searcher, docnum, value, stems) for docnum, value in page_docs]
    facet_counts = {}
    if request.facets:
        for fieldname, values in _facet_masks(searcher, cache).items():
            selected = set(request.filters.get(fieldname, []))
            counts = [FacetValue(value, int(np.count_nonzero(mask & matched)), value in selected)
                      for value, mask in values.items() if value]
            facet_counts[fieldname] = sorted((c for c in counts if c.count or c.selected),
                                             key=lambda c: (-c.count, c.value))
    response = SearchResponse(request, hits, total, facet_counts)
    response.complete = complete if plan is not None else total
    response.broadened = plan is not None and total > 0 and complete == 0
    return response


def _sort_array(searcher, cache, fieldname: str) -> np.ndarray:
    key = f"sort_array:{fieldname}"
    if key not in cache:
        values = _sort_keys(searcher, cache, fieldname)
        cache[key] = np.array(values, dtype=np.float64) if values else np.zeros(_size(searcher, cache))
    return cache[key]


# Field boosts, applied to the top candidates: a concept of the query found in the name counts for
# TITLE_BOOST, in the pitch for SUMMARY_BOOST (fraction of the query's concepts found there).
TITLE_BOOST = 1.0
SUMMARY_BOOST = 0.5
# ``rank`` (a whole set, ordered for a page that filters and paginates it): how many of the best
# get the field boosts: five pages of 20.
RANK_BOOSTED = 100


def _rank(searcher, cache, plan: Plan, coord: np.ndarray, score: np.ndarray, matched: np.ndarray,
          wanted: int) -> list[tuple[int, float]]:
    """Documents holding more of the query's concepts first; among equals, BM25 with field
    boosts (applied to the best candidates of each level the page needs)."""
    docs = np.flatnonzero(matched)
    if not len(docs):
        return []
    need = max(wanted * 3, 60)
    ranked: list[tuple[int, float]] = []
    levels = coord[docs]
    for level in sorted(set(levels.tolist()), reverse=True):
        here = docs[levels == level]
        values = score[here]
        take = min(len(here), max(need - len(ranked), wanted))
        if take < len(here):
            part = np.argpartition(-values, take - 1)[:take]
            here, values = here[part], values[part]
        order = np.lexsort((here, -values))
        boosted = [(int(d), _boosted(searcher, cache, plan, int(d), float(v))) for d, v in zip(here[order], values[order])]
        boosted.sort(key=lambda r: (-r[1], r[0]))
        ranked.extend(boosted)
        if len(ranked) >= wanted:
            break
    return ranked[:wanted]


def _boosted(searcher, cache, plan: Plan, docnum: int, score: float) -> float:
    field_stems = cache.setdefault("field_stems", {})
    if docnum not in field_stems:
        stored = searcher.stored_fields(docnum)
        field_stems[docnum] = (_stems_of(stored.get("title") or ""), _stems_of(stored.get("summary") or ""))
    title, summary = field_stems[docnum]

    def share(stems: frozenset[str]) -> float:
        held = sum(1 for c in plan.concepts if any(all(s in stems for s in alt) for alt in c.alternatives[:c.typed]))
        return held / len(plan.concepts)

    return score * (1 + TITLE_BOOST * share(title) + SUMMARY_BOOST * share(summary))


_WORD = re.compile(r"\w+")


@lru_cache(maxsize=200_000)
def _stem_word(word: str) -> str | None:
    found = terms(word)
    return found[0] if found else None


@lru_cache(maxsize=20_000)
def _stems_of(text: str) -> frozenset[str]:
    return frozenset(terms(text))


def snippet(text: str, stems: frozenset[str], width: int = 240) -> str | None:
    """HTML-escaped excerpt around the first match, with <mark> around every matching word."""
    spans = [m.span() for m in _WORD.finditer(text) if _stem_word(m.group().lower()) in stems]
    if not spans:
        return None
    start = 0 if spans[0][0] < 60 else text.rfind(" ", 0, spans[0][0] - 40) + 1
    end = min(len(text), start + width)
    if end < len(text):
        end = max(text.rfind(" ", start, end), spans[0][1])
    out, pos = [], start
    for a, b in spans:
        if a < start or b > end:
            continue
        out.append(str(escape(text[pos:a])))
        out.append(f"<mark>{escape(text[a:b])}</mark>")
        pos = b
    out.append(str(escape(text[pos:end])))
    return ("… " if start > 0 else "") + "".join(out) + (" …" if end < len(text) else "")


def _hit(searcher, docnum: int, score, stems: frozenset[str]) -> Hit:
    stored = searcher.stored_fields(docnum)
    text = None
    if stems:
        text = snippet(stored.get("summary") or "", stems) or snippet(stored.get("excerpt") or "", stems)
    if not text:
        text = str(escape(stored.get("summary") or (stored.get("excerpt") or "")[:240]))
    return Hit(
        id=stored["id"], type=stored["type"], object_id=int(stored["object_id"]), title=stored.get("title", ""),
        summary=stored.get("summary", ""), snippet=text, url=stored.get("url", ""), owner=stored.get("owner", ""),
        domains=[d for d in (stored.get("domains") or "").split(",") if d], hosting=stored.get("hosting", ""),
        price_model=stored.get("price_model", ""), verified=stored.get("verified") == "oui",
        verified_count=int(stored.get("verified_count") or 0), deployments=int(stored.get("deployments") or 0),
        score=score,
    )


def _as_written(searcher, cache, folded: str) -> str:
    """A folded word of the vocabulary as the texts write it ("bibliotheque" → "bibliothèque")."""
    for docnum in list(_postings(searcher, cache, stem(folded)))[:5]:
        stored = searcher.stored_fields(docnum)
        for text in (stored.get("title") or "", stored.get("summary") or "", stored.get("excerpt") or ""):
            for m in _WORD.finditer(text):
                if fold(m.group()) == folded:
                    return m.group().lower()
    return folded


def _found_by_synonym(folded: str, known) -> bool:
    """A word the texts never write but whose synonyms they do: its results are meaningful."""
    words = [w for w in _WORD.findall(folded) if w not in FRENCH_STOPWORDS]
    return any(all(known(t) for t in alt) for alt in _alternatives_of(synonym_key(words), synonyms()))


def _correct(searcher, cache, text: str, known) -> str | None:
    """The query with each word the index does not know (nor any of its synonyms) replaced by the
    closest word it knows (edit distance 1 up to six letters, 2 beyond; same first letter; the more
    frequent first); None when every word is
    known or no correction is found. A word is known when its term is in some document, whatever
    form it takes there ("piste" is known from "pistes": never corrected to "prise")."""
    corrector = vocabulary.corrector(cache["dir"]) if cache.get("dir") else None
    if corrector is None:
        return None
    changed, out = False, []
    for m in _CHUNK.finditer(text):
        word = m.group()
        folded = fold(word)
        unknown = (len(folded) >= 4 and folded not in FRENCH_STOPWORDS and not folded.isdigit()
                   and not any(known(t) for t in terms(word)) and not known(stem(folded.replace("-", "")))
                   and not _found_by_synonym(folded, known))
        if unknown:
            # One letter off for a short word ("velos" is not "vents"), two for a longer one.
            maxdist = 1 if len(folded) <= 6 else 2
            for candidate in corrector.suggest(folded, limit=5, maxdist=maxdist, prefix=1):
                if any(known(t) for t in terms(candidate)):
                    out.append(_as_written(searcher, cache, candidate))
                    changed = True
                    break
            else:
                out.append(word)
        else:
            out.append(word)
    return " ".join(out) if changed else None


__all__ = ["SearchRequest", "SearchResponse", "Hit", "FacetValue", "Ranking", "search", "rank", "build_plan", "SORTS",
           "IndexUnavailable"]
