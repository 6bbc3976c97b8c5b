"""Search as the rest of the product sees it: feed the index, rebuild it, query it — degrading
rather than failing when the index is missing or unreadable.

Writing: :func:`apply_changes` brings documents of one index in line with the database, all in
one Whoosh commit (the follower's batches); :func:`rebuild` builds a new index from the database
beside the current one, records the log position it started from, replays what changed during
the build and swaps it in.
"""
from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy.orm import Session
from whoosh import index as whoosh_index

from search import changes, vocabulary
from search import index as idx
from search.bulk import BulkWriter, ParallelBuild
from search.documents import Document, provider, providers
from search.models import REBUILD_KEY
from search.query import Hit, SearchRequest, SearchResponse, search
from search.schema import to_fields

log = logging.getLogger("passerelle.search")

DEGRADED_MESSAGE = ("La recherche plein texte est momentanément indisponible : les résultats ci-dessous "
                    "sont une recherche simplifiée, sans filtres ni tri par pertinence.")

# A rebuild replays the changes made while it read the database, this many rows at a time.
REPLAY_BATCH = 1_000
# From this many documents a rebuild writes the index with several processes (one per core, four
# at most): analysis is pure Python and takes one core per process.
PARALLEL_FROM = 5_000
MAX_PROCS = 4


def load_documents(session: Session, keys: Iterable[str]) -> list[tuple[str, Document | None]]:
    """Each document as the database holds it now; None for one that must leave the index
    (unpublished, archived, deleted — or a key no provider knows)."""
    known = providers()
    out = []
    for key in keys:
        doc_type, _, object_id = key.partition(":")
        if doc_type not in known or not object_id.isdigit():
            log.warning("search: change %r names no known document; removed from the index", key)
            out.append((key, None))
            continue
        out.append((key, known[doc_type].load(session, int(object_id))))
    return out


def apply_changes(index_dir: Path, session: Session, keys: Iterable[str]) -> int:
    """Bring these documents of one index in line with the database: one writer, one commit.
    Returns the number of documents written (the others were removed)."""
    keys = [k for k in dict.fromkeys(keys) if k != REBUILD_KEY]
    if not keys:
        return 0
    # Read first, then lock: the writer's lock is held for the writing only.
    docs = load_documents(session, keys)
    ix = idx.open_index(Path(index_dir))
    words: set[str] = set()
    with idx.writer_for(ix) as writer:
        for key, doc in docs:
            if doc is None:
                writer.delete_by_term("id", key)
            else:
                fields = to_fields(doc)
                writer.update_document(**fields)
                words |= vocabulary.raw_words(fields["text"])
    vocabulary.add(index_dir, words)
    return sum(1 for _, doc in docs if doc is not None)


def index_document(root: Path, session: Session, doc_type: str, object_id: int) -> bool:
    """One document of the current index brought in line with the database (for tools and tests;
    the product goes through the log). Returns True if it is indexed."""
    path = idx.current_dir(root)
    if path is None:
        # No index yet: one document would make a misleading index of one. Build it whole.
        rebuild(root, session)
        return provider(doc_type).load(session, object_id) is not None
    return apply_changes(path, session, [f"{doc_type}:{object_id}"]) == 1


def rebuild(root: Path, session: Session, progress: Callable[[int], None] | None = None,
            on_total: Callable[[int], None] | None = None, *,
            fresh_session: Callable[[], Session] | None = None, clock: Callable[[], float] = time.time,
            procs: int | None = None) -> int:
    """Build a new index from the database and swap it in atomically. Searches keep working on the
    old index during the build. Returns the number of documents indexed.

    The new index starts at the log's head as it was before the first document was read; the
    changes committed during the build are replayed into it before the swap (and any late ones by
    the follower after it). ``fresh_session`` gives a session that sees what was committed since
    ``session`` began (SQLite keeps a transaction's snapshot); without it, ``session`` is re-read.
    ``procs``: processes writing the index (default: one per core from ``PARALLEL_FROM`` documents).
    """
    with idx.rebuild_lock(root):
        position = changes.start_position(session, clock())
        path = idx.create_empty(root)
        try:
            count = _build(path, session, progress, on_total, procs)
            changes.write_position(path, position)
            _replay(path, session, fresh_session, position, clock)
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)  # never made current: nobody reads it
            raise
        idx.make_current(root, path)
        return count


def _build(path: Path, session: Session, progress, on_total, procs: int | None) -> int:
    ids = [(t, i) for t, p in sorted(providers().items()) for i in p.all_ids(session)]
    if on_total:
        on_total(len(ids))
    ix = whoosh_index.open_dir(str(path))
    if procs is None:
        procs = min(os.cpu_count() or 1, MAX_PROCS) if len(ids) >= PARALLEL_FROM else 1
    # The bulk writer writes the same index several times faster; Whoosh's own writer is kept for
    # a schema it cannot write (positions, vectors, boosts).
    if not BulkWriter.supports(ix.schema):
        writer = ix.writer(limitmb=256)
    elif procs > 1:
        writer = ParallelBuild(ix, procs)
    else:
        writer = BulkWriter(ix)
    count = 0
    words: set[str] = set()
    try:
        for doc_type, object_id in ids:
            doc = provider(doc_type).load(session, object_id)
            if doc is not None:
                fields = to_fields(doc)
                writer.add_document(**fields)
                words |= vocabulary.raw_words(fields["text"])
                count += 1
            if progress:
                progress(1)
        # No optimize: a new index is one segment already (and merging rewrites every posting).
        writer.commit()
    except BaseException:
        writer.cancel()
        raise
    vocabulary.write(path, vocabulary.folded(words))
    return count


def _replay(path: Path, session: Session, fresh_session, position: changes.Position, clock) -> None:
    """Apply to a just-built index what the log gained while it was built."""
    for _ in range(100):  # a steady stream of changes must not hold the swap back for ever
        own = fresh_session() if fresh_session else None
        s = own or session
        try:
            if own is None:
                s.expire_all()
            rows = changes.read_after(s, position, REPLAY_BATCH)
            if not rows:
                return
            apply_changes(path, s, [key for _, key in rows])
        finally:
            if own is not None:
                own.close()
        position.advance([i for i, _ in rows], clock())
        changes.write_position(path, position)
        if len(rows) < REPLAY_BATCH:
            return


def run_search(root: Path, session: Session, request: SearchRequest,
               on_unavailable: Callable[[], None] | None = None) -> SearchResponse:
    try:
        return search(root, request)
    except idx.IndexUnavailable as exc:
        log.warning("search degraded: %s", exc)
        if on_unavailable:
            on_unavailable()
        return _fallback(session, request)


def _fallback(session: Session, request: SearchRequest) -> SearchResponse:
    """Database search, word by word on names and pitches, for when the index is unavailable."""
    hits: list[Hit] = []
    types = request.filters.get("type") or list(providers())
    for doc_type in types:
        p = providers().get(doc_type)
        if p is None or p.fallback is None:
            continue
        for doc in p.fallback(session, request.q, request.page * request.per_page):
            hits.append(Hit(id=doc["id"], type=doc["type"], object_id=doc["object_id"], title=doc["title"],
                            summary=doc.get("summary") or "", snippet="", url=doc.get("url") or "",
                            owner=doc.get("owner") or "", domains=doc.get("domains") or [],
                            hosting=doc.get("hosting") or "", price_model=doc.get("price_model") or "",
                            verified=bool(doc.get("verified")), verified_count=int(doc.get("verified_count") or 0),
                            deployments=int(doc.get("deployments") or 0)))
    start = (request.page - 1) * request.per_page
    return SearchResponse(request, hits[start:start + request.per_page], len(hits), {}, degraded=True,
                          message=DEGRADED_MESSAGE)
