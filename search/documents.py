"""What the index holds, and where each document type comes from.

Each domain registers a *provider* for its document type (its ``indexing`` module, imported by
``marketplace.app`` with the rest of the domain): ``provider(session, object_id)``
returns the document (a dict with the keys below) or ``None`` when the object must not be
searchable (a draft, an archived solution, a deleted row): the index then drops it.
A provider also lists every public id, for a full rebuild.

Document keys (all optional except id, type, object_id, title):
    id            "solution:12"          unique key in the index
    type          "solution" | "programme" | "call" | "startup"
    object_id     12
    title, summary, body, extra   texts (French analysis); extra = names of reference cities, standards…
    domains       list of taxonomy slugs (marketplace.core.taxonomy.DOMAINS)
    hosting       slug of taxonomy.HOSTING
    price_model   slug of taxonomy.PRICE_MODELS
    sizes         size-class slugs the solution suits (taxonomy.SIZES)
    deployed_sizes  size classes of the territories that deployed it (references)
    verified      bool: at least one reference confirmed by its city
    verified_count, deployments   ints (verified references, all references)
    published_at  timezone-aware datetime
    owner         name of the owning organisation
    url           path of the public page
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

Document = dict[str, Any]


@dataclass(frozen=True)
class Provider:
    doc_type: str
    load: Callable[[Any, int], Document | None]
    all_ids: Callable[[Any], Iterable[int]]
    # Optional: ``fallback(session, text, limit)`` → documents found by the database alone, used
    # when the index is unavailable.
    fallback: Callable[[Any, str, int], list[Document]] | None = None


_providers: dict[str, Provider] = {}


def register(doc_type: str, load: Callable[[Any, int], Document | None],
             all_ids: Callable[[Any], Iterable[int]],
             fallback: Callable[[Any, str, int], list[Document]] | None = None) -> None:
    _providers[doc_type] = Provider(doc_type, load, all_ids, fallback)


def providers() -> dict[str, Provider]:
    return dict(_providers)


def provider(doc_type: str) -> Provider:
    try:
        return _providers[doc_type]
    except KeyError:
        raise ValueError(f"unknown document type {doc_type!r}") from None
