"""One query pipeline for every entry point that ranks a list of its own.

``/recherche`` and ``GET /api/v1/search`` page through the index itself (``search.service.run_search``);
the guichet's and the annuaire's lists (``/financements``, Mes financements, alerts,
``GET /api/v1/programmes?q=``, ``GET /api/v1/solutions?q=``) filter in the database and need
the text's order: they call :func:`rank_documents`, which goes through the same analysis,
synonyms, coordination and spelling (``search.query.rank``), and falls back to the providers'
database search when the index cannot answer — saying so.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from search.documents import providers
from search.index import IndexUnavailable
from search.query import Ranking, build_plan, rank

log = logging.getLogger("passerelle.search")

DEGRADED = ("La recherche plein texte est momentanément indisponible : les résultats sont une recherche "
            "simplifiée sur les intitulés.")
FALLBACK_LIMIT = 500


def has_words(q: str) -> bool:
    """False for a text of stop words only ("de la"): no text criterion at all."""
    return build_plan(q) is not None


def rank_documents(root: Path | None, session: Session, q: str, only: frozenset[str] | None = None, *,
                   doc_type: str | None = None, all_words: bool = False, correct: bool = True,
                   on_unavailable: Callable[[], None] | None = None) -> tuple[Ranking, str | None]:
    """The document keys matching ``q`` best first, among ``only`` (or every document of
    ``doc_type``); with a message when the index could not answer and the database did."""
    if root is not None:
        try:
            return rank(root, q, only, doc_type=doc_type, all_words=all_words, correct=correct), None
        except IndexUnavailable as exc:
            log.warning("search degraded: %s", exc)
            if on_unavailable:
                on_unavailable()
    keys: list[str] = []
    types = {doc_type} if doc_type else {key.partition(":")[0] for key in only or ()}
    for name in sorted(types):
        provider = providers().get(name)
        if provider is None or provider.fallback is None:
            continue
        keys += [doc["id"] for doc in provider.fallback(session, q, FALLBACK_LIMIT)
                 if only is None or doc["id"] in only]
    return Ranking(keys), DEGRADED


def object_ids(ranking: Ranking, doc_type: str) -> list[int]:
    """The ids of one type's objects, in the ranking's order."""
    prefix = f"{doc_type}:"
    return [int(key[len(prefix):]) for key in ranking.keys if key.startswith(prefix)]
