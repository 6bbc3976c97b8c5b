"""Search as the rest of the product sees it: feed the index, rebuild it, query it — degrading
rather than failing when the index is missing or unreadable."""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from search import index as idx
from search.documents import provider, providers
from search.query import Hit, SearchRequest, SearchResponse, search
from search.schema import to_fields

log = logging.getLogger("passerelle.search")

DEGRADED_MESSAGE = ("La recherche plein texte est momentanément indisponible : les résultats ci-dessous "
                    "sont une recherche simplifiée, sans filtres ni tri par pertinence.")


def _journal(root: Path) -> Path:
    return root / "rebuild-journal"


def index_document(root: Path, session: Session, doc_type: str, object_id: int) -> bool:
    """Bring one document of the index in line with the database. Returns True if it is indexed."""
    if idx.current_dir(root) is None:
        # No index yet: one document would make a misleading index of one. Build it whole.
        rebuild(root, session)
        return provider(doc_type).load(session, object_id) is not None
    doc = provider(doc_type).load(session, object_id)
    key = f"{doc_type}:{object_id}"
    ix = idx.open_current(root)
    with idx.writer_for(ix) as writer:
        if doc is None:
            writer.delete_by_term("id", key)
        else:
            writer.update_document(**to_fields(doc))
    if (root / "rebuilding").exists():
        # A rebuild is reading the database right now and may have passed this row already:
        # it replays the journal into the new index before and after the swap.
        with open(_journal(root), "a", encoding="utf-8") as fh:
            fh.write(f"{doc_type}:{object_id}\n")
    return doc is not None


def rebuild(root: Path, session: Session, progress: Callable[[int], None] | None = None,
            on_total: Callable[[int], None] | None = None) -> int:
    """Build a new index from the database and swap it in atomically. Searches keep working on the
    old index during the build. Returns the number of documents indexed."""
    root.mkdir(parents=True, exist_ok=True)
    marker = root / "rebuilding"
    marker.write_text("")
    _journal(root).unlink(missing_ok=True)
    try:
        path = idx.create_empty(root)
        from whoosh import index as whoosh_index

        ix = whoosh_index.open_dir(str(path))
        ids = [(t, i) for t, p in providers().items() for i in p.all_ids(session)]
        if on_total:
            on_total(len(ids))
        count = 0
        writer = ix.writer(limitmb=256)
        try:
            for doc_type, object_id in ids:
                doc = provider(doc_type).load(session, object_id)
                if doc is not None:
                    writer.add_document(**to_fields(doc))
                    count += 1
                if progress:
                    progress(1)
            writer.commit(optimize=True)
        except BaseException:
            writer.cancel()
            raise
        _replay_journal(path, session)
        idx.make_current(root, path)
        _replay_journal(path, session)
        return count
    finally:
        marker.unlink(missing_ok=True)
        _journal(root).unlink(missing_ok=True)


def _replay_journal(path: Path, session: Session) -> None:
    journal = _journal(path.parent)
    if not journal.exists():
        return
    from whoosh import index as whoosh_index

    entries = {line.strip() for line in journal.read_text(encoding="utf-8").splitlines() if line.strip()}
    if not entries:
        return
    if session is not None:
        session.expire_all()  # read what the journalled jobs committed, not this session's cache
    ix = whoosh_index.open_dir(str(path))
    with idx.writer_for(ix) as writer:
        for entry in sorted(entries):
            doc_type, _, object_id = entry.partition(":")
            doc = provider(doc_type).load(session, int(object_id))
            if doc is None:
                writer.delete_by_term("id", entry)
            else:
                writer.update_document(**to_fields(doc))


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
