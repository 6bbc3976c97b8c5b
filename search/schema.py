"""The index schema. Field names say what each field is for: text for ranking, facets for counts
and filters, sort keys, and a few stored values for the result list (kept light: the page links
to the database record for everything else)."""
from __future__ import annotations

from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema

from search.analysis import french_analyzer

TEXT_FIELDS = ("title", "summary", "body", "extra")
# Matching and BM25 run on one field holding all the text: a union over four fields per word was
# most of the query time. Field boosts are applied when ranking the top candidates (query.py).
MATCH_FIELD = "text"
FACET_FIELDS = ("type", "domains", "hosting", "price_model", "sizes", "deployed_sizes", "verified")
SORT_FIELDS = ("published", "deployments")


def make_schema() -> Schema:
    fr = french_analyzer()
    return Schema(
        id=ID(stored=True, unique=True),
        type=ID(stored=True),
        object_id=STORED,
        # Ranking text, with boosts: a word in the name counts more than in the description.
        text=TEXT(analyzer=fr, phrase=False),
        title=STORED,
        summary=STORED,
        excerpt=STORED,  # the start of the body, for highlighted snippets
        # Facets and filters (slugs).
        domains=KEYWORD(commas=True, stored=True),
        hosting=ID(stored=True),
        price_model=ID(stored=True),
        sizes=KEYWORD(commas=True, stored=True),
        deployed_sizes=KEYWORD(commas=True, stored=True),
        verified=ID(stored=True),  # "oui" / "non": a facet like the others
        # Sorts.
        # Numbers are sorted from their columns, never searched by range: no tiered sub-terms.
        published=NUMERIC(stored=True, sortable=True, bits=64, shift_step=0),  # epoch seconds
        deployments=NUMERIC(stored=True, sortable=True, shift_step=0),
        verified_count=NUMERIC(stored=True, shift_step=0),
        owner=STORED,
        url=STORED,
    )


def to_fields(doc: dict) -> dict:
    """A provider's document → the index's fields."""
    published = doc.get("published_at")
    body = doc.get("body") or ""
    texts = " ".join(str(doc.get(k) or "") for k in TEXT_FIELDS)
    return {
        "id": doc["id"],
        "type": doc["type"],
        "object_id": doc["object_id"],
        "text": texts,
        "title": doc["title"],
        "summary": doc.get("summary") or "",
        "excerpt": body[:600],
        "domains": ",".join(doc.get("domains") or []),
        "hosting": doc.get("hosting") or "",
        "price_model": doc.get("price_model") or "",
        "sizes": ",".join(doc.get("sizes") or []),
        "deployed_sizes": ",".join(doc.get("deployed_sizes") or []),
        "verified": "oui" if doc.get("verified") else "non",
        "published": int(published.timestamp()) if published else 0,
        "deployments": int(doc.get("deployments") or 0),
        "verified_count": int(doc.get("verified_count") or 0),
        "owner": doc.get("owner") or "",
        "url": doc.get("url") or "",
    }
