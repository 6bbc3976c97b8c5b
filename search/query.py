"""Querying: French full text with synonyms, filters, facet counts, sorts, snippets, suggestions.

Performance (see bench/search.py): Whoosh's own filtering and faceting rebuild their document
sets on every query, which put the p95 of a faceted query near half a second on 50 000
documents. Here, per index generation, we build once the set of documents of every facet value
and the sort keys by document number; a query then costs one unscored pass over its matching
documents, a few set intersections, and a top-N scoring restricted to the filtered set.
"""
from __future__ import annotations

import heapq
import logging
import math
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from markupsafe import escape
from whoosh import query as wq

from marketplace.core.text import fold
from search.analysis import FRENCH_STOPWORDS, stem_terms, synonyms
from search.index import IndexUnavailable, handle_for
from search.schema import FACET_FIELDS, MATCH_FIELD

log = logging.getLogger("passerelle.search")

SORTS = {"pertinence": "Pertinence", "recent": "Les plus récentes", "deploiements": "Les plus déployées"}
PER_PAGE_MAX = 100
MAX_FILTER_CACHE = 256
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
    broadened: bool = False  # no document had every word: showing those with any of them

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.request.per_page))


# Query building -----------------------------------------------------------------------------------

def _words(text: str) -> list[str]:
    return [w for w in fold(text).split() if w not in FRENCH_STOPWORDS]


@dataclass(frozen=True)
class Plan:
    """A parsed query: groups joined by AND (OR when broadening); each group is a choice of
    alternatives (a word, or a word or phrase and its synonyms); an alternative is a list of stems
    that must all be present."""
    groups: tuple[tuple[tuple[str, ...], ...], ...]
    any_word: bool = False

    @property
    def stems(self) -> frozenset[str]:
        return frozenset(s for g in self.groups for alt in g for s in alt)

    @property
    def typed_stems(self) -> frozenset[str]:
        """The stems of what the user typed (first alternative of each group), for field boosts."""
        return frozenset(s for g in self.groups for s in g[0])

    def whoosh_query(self):
        def alt_query(alt):
            terms = [wq.Term(MATCH_FIELD, s) for s in alt]
            return terms[0] if len(terms) == 1 else wq.And(terms)

        groups = [wq.Or([alt_query(a) for a in g]) if len(g) > 1 else alt_query(g[0]) for g in self.groups]
        if len(groups) == 1:
            return groups[0]
        return wq.Or(groups) if self.any_word else wq.And(groups)


def build_plan(text: str, *, any_word: bool = False) -> Plan | None:
    words = _words(text)
    table = synonyms()
    groups = []
    i = 0
    while i < len(words):
        for n in (3, 2, 1):
            phrase = " ".join(words[i:i + n])
            if len(words[i:i + n]) == n and phrase in table:
                alternatives = [tuple(stem_terms(a)) for a in [phrase] + table[phrase]]
                alternatives = tuple(dict.fromkeys(a for a in alternatives if a))
                if alternatives:
                    groups.append(alternatives)
                i += n
                break
        else:
            stems = tuple(stem_terms(words[i]))
            if stems:
                groups.append((stems,))
            i += 1
    if not groups:
        return None
    return Plan(tuple(groups), any_word)


def build_query(text: str, *, any_word: bool = False):
    """The Whoosh query for a text (used by tests and tools); None for an empty text."""
    plan = build_plan(text, any_word=any_word)
    return plan.whoosh_query() if plan else None


# Per-generation caches ------------------------------------------------------------------------------

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
    if (MATCH_FIELD, stem) in reader:
        postings = {d: w for d, w in reader.postings(MATCH_FIELD, stem).items_as("weight") if d not in deleted}
    else:
        postings = {}
    lru[stem] = postings
    cache["postings_size"] = cache.get("postings_size", 0) + len(postings)
    while cache["postings_size"] > MAX_CACHED_POSTINGS and len(lru) > 1:
        _, dropped = lru.popitem(last=False)
        cache["postings_size"] -= len(dropped)
    return postings


def _plan_set(searcher, cache, plan: Plan) -> set[int]:
    group_sets = []
    for group in plan.groups:
        alt_sets = []
        for alt in group:
            postings = sorted((_postings(searcher, cache, s) for s in alt), key=len)
            docs = set(postings[0])
            for other in postings[1:]:
                docs.intersection_update(other.keys())
            alt_sets.append(docs)
        group_sets.append(set().union(*alt_sets))
    if plan.any_word:
        return set().union(*group_sets)
    group_sets.sort(key=len)
    result = group_sets[0]
    for other in group_sets[1:]:
        result &= other
    return result


def _lengths(searcher, cache) -> tuple[list[int], float]:
    if "lengths" not in cache:
        reader = searcher.reader()
        lengths = [reader.doc_field_length(d, MATCH_FIELD, 0) for d in range(reader.doc_count_all())]
        live = max(1, reader.doc_count())
        cache["lengths"] = (lengths, max(1.0, reader.field_length(MATCH_FIELD) / live))
    return cache["lengths"]


# BM25 on the text field, computed here from cached postings: Whoosh scores every match of a
# filtered query in Python, which was most of the query time.
K1, B = 1.2, 0.75


def _bm25(searcher, cache, plan: Plan, matched: set[int] | frozenset[int]) -> dict[int, float]:
    lengths, avg = _lengths(searcher, cache)
    n = max(1, searcher.reader().doc_count())
    scores: dict[int, float] = {}
    for group in plan.groups:
        best: dict[int, float] = {}
        for alt in group:
            partial: dict[int, float] = {}
            for stem in alt:
                postings = _postings(searcher, cache, stem)
                idf = math.log(1 + (n - len(postings) + 0.5) / (len(postings) + 0.5))
                # Walk the smaller side: a filtered query matches few of a common word's documents.
                pairs = (((d, postings[d]) for d in matched if d in postings) if len(matched) < len(postings)
                         else ((d, tf) for d, tf in postings.items() if d in matched))
                for d, tf in pairs:
                    norm = K1 * (1 - B + B * lengths[d] / avg)
                    partial[d] = partial.get(d, 0.0) + idf * tf * (K1 + 1) / (tf + norm)
            for d, v in partial.items():
                if v > best.get(d, 0.0):
                    best[d] = v
        for d, v in best.items():
            scores[d] = scores.get(d, 0.0) + v
    return scores


def _docnums_by_id(searcher, cache) -> dict[str, int]:
    if "ids" not in cache:
        reader = searcher.reader()
        deleted = _deleted(searcher, cache)
        cache["ids"] = {fields["id"]: docnum for docnum, fields in reader.iter_docs() if docnum not in deleted}
    return cache["ids"]


def _sort_keys(searcher, cache, fieldname: str) -> list:
    key = f"sort:{fieldname}"
    if key not in cache:
        cache[key] = list(searcher.reader().column_reader(fieldname))
    return cache[key]


def _filter_set(searcher, cache, filters: dict[str, list[str]]) -> frozenset[int] | None:
    active = {f: tuple(sorted(set(v))) for f, v in filters.items() if v and f in FACET_FIELDS}
    if not active:
        return None
    key = tuple(sorted(active.items()))
    lru: OrderedDict = cache.setdefault("filters", OrderedDict())
    if key in lru:
        lru.move_to_end(key)
        return lru[key]
    facets = _facet_sets(searcher, cache)
    result: frozenset[int] | None = None
    for fieldname, values in active.items():
        union = frozenset().union(*(facets[fieldname].get(v, frozenset()) for v in values))
        result = union if result is None else result & union
    lru[key] = result
    if len(lru) > MAX_FILTER_CACHE:
        lru.popitem(last=False)
    return result


# Search ---------------------------------------------------------------------------------------------

def search(root: Path, request: SearchRequest) -> SearchResponse:
    """Run a search; raises IndexUnavailable when there is no usable index (callers degrade)."""
    request.page = max(1, request.page)
    request.per_page = max(1, min(PER_PAGE_MAX, request.per_page))
    handle = handle_for(root)
    with handle.lock:
        searcher = handle.acquire()
        cache = handle.cache
        response = _run(searcher, cache, request)
        if response.total == 0 and request.q.strip() and len(_words(request.q)) > 1:
            broadened = _run(searcher, cache, request, any_word=True)
            if broadened.total:
                broadened.broadened = True
                response = broadened
        if response.total < 3 and request.q.strip():
            response.suggestion = _suggest(searcher, cache, request.q)
        return response


def ranked_ids(root: Path, q: str, only: frozenset[str]) -> list[str]:
    """Every document of ``only`` that has every word of ``q`` (or a synonym), best first.

    For pages that filter and facet a small set of their own (a tenant's eligible programmes) and
    need the text match and its order, not a page of hits. No "any word" fallback: a saved search
    must mean the same thing every day, and the same as the database fallback. Raises
    IndexUnavailable like ``search``.
    """
    handle = handle_for(root)
    with handle.lock:
        searcher = handle.acquire()
        cache = handle.cache
        ids = _docnums_by_id(searcher, cache)
        allowed = frozenset(ids[key] for key in only if key in ids)
        plan = build_plan(q)
        if plan is None or not allowed:
            return []
        matched = _plan_set(searcher, cache, plan) & allowed
        ranked = _rank(searcher, cache, plan, matched, len(matched))
        return [searcher.stored_fields(docnum)["id"] for docnum, _ in ranked]


def _run(searcher, cache, request: SearchRequest, any_word: bool = False) -> SearchResponse:
    facets = _facet_sets(searcher, cache)
    allowed = _filter_set(searcher, cache, request.filters)
    if request.only is not None:
        ids = _docnums_by_id(searcher, cache)
        only = frozenset(ids[key] for key in request.only if key in ids)
        allowed = only if allowed is None else allowed & only
    plan = build_plan(request.q, any_word=any_word)
    wanted = request.page * request.per_page
    everything = cache["all"]

    if plan is None:
        matched = allowed if allowed is not None else everything
    else:
        matching = _plan_set(searcher, cache, plan)
        matched = matching & allowed if allowed is not None else matching

    total = len(matched)
    sort = request.sort if request.sort in SORTS else "pertinence"
    if sort == "pertinence" and plan is not None and matched:
        ranked = _rank(searcher, cache, plan, matched, wanted)
    else:
        keyfield = "deployments" if sort == "deploiements" else "published"
        keys = _sort_keys(searcher, cache, keyfield)
        secondary = _sort_keys(searcher, cache, "published")
        top = heapq.nlargest(wanted, matched, key=lambda d: (keys[d], secondary[d], -d))
        ranked = [(d, None) for d in top]
    page_docs = ranked[(request.page - 1) * request.per_page: wanted]

    stems = plan.stems if (plan and request.highlight) else frozenset()
    hits = [_hit(searcher, docnum, score, stems) for docnum, score in page_docs]
    facet_counts = {}
    if request.facets:
        for fieldname in FACET_FIELDS:
            selected = set(request.filters.get(fieldname, []))
            counts = [FacetValue(value, len(matched & docs), value in selected)
                      for value, docs in facets[fieldname].items() if value]
            facet_counts[fieldname] = sorted((c for c in counts if c.count or c.selected),
                                             key=lambda c: (-c.count, c.value))
    return SearchResponse(request, hits, total, facet_counts)


# Field boosts, applied to the BM25 top candidates: a word of the query found in the name counts
# for TITLE_BOOST, in the pitch for SUMMARY_BOOST (fraction of the query's words found there).
TITLE_BOOST = 1.0
SUMMARY_BOOST = 0.5


def _rank(searcher, cache, plan: Plan, matched, wanted: int) -> list[tuple[int, float]]:
    scores = _bm25(searcher, cache, plan, matched)
    candidates = heapq.nlargest(max(wanted * 3, 60), scores.items(), key=lambda kv: (kv[1], -kv[0]))
    typed = plan.typed_stems or plan.stems
    field_stems = cache.setdefault("field_stems", {})
    ranked = []
    for docnum, score in candidates:
        if docnum not in field_stems:
            stored = searcher.stored_fields(docnum)
            field_stems[docnum] = (_stems_of(stored.get("title") or ""), _stems_of(stored.get("summary") or ""))
        title, summary = field_stems[docnum]
        in_title = len(typed & title) / len(typed)
        in_summary = len(typed & summary) / len(typed)
        ranked.append((docnum, score * (1 + TITLE_BOOST * in_title + SUMMARY_BOOST * in_summary)))
    ranked.sort(key=lambda r: (-r[1], r[0]))
    return ranked[:wanted]


_WORD = re.compile(r"\w+")


@lru_cache(maxsize=200_000)
def _stem_word(word: str) -> str | None:
    stems = stem_terms(word)
    return stems[0] if stems else None


@lru_cache(maxsize=20_000)
def _stems_of(text: str) -> frozenset[str]:
    return frozenset(s for w in _WORD.findall(text) if (s := _stem_word(w.lower())))


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


def _suggest(searcher, cache, text: str) -> str | None:
    """'Vouliez-vous dire…': replace each unknown word by the closest word of the index."""
    reader = searcher.reader()
    corrector = cache.get("corrector")
    if corrector is None:
        corrector = cache["corrector"] = reader.corrector("spell")
    changed, out = False, []
    for word in fold(text).split():
        if word in FRENCH_STOPWORDS or len(word) < 4 or reader.frequency("spell", word) > 0:
            out.append(word)
            continue
        suggestions = corrector.suggest(word, limit=1, maxdist=2, prefix=1)
        if suggestions:
            out.append(suggestions[0])
            changed = True
        else:
            out.append(word)
    return " ".join(out) if changed else None


__all__ = ["SearchRequest", "SearchResponse", "Hit", "FacetValue", "search", "ranked_ids", "build_query", "SORTS",
           "IndexUnavailable"]
