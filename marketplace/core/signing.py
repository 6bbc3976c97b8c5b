"""Links that name one row and are their own authorisation (mailed links, calendar feeds).

A link signs the row's id *and* its creation time: SQLite reuses the id of a deleted row, and a
link to a deleted row must never reach the new row that took its id.
"""
from __future__ import annotations

from typing import Any

from marketplace.core.db import all_tenants


def row_identity(row: Any) -> list[int]:
    """What a link signs: [id, creation time in microseconds]."""
    return [row.id, int(row.created_at.timestamp() * 1_000_000)]


def row_for_identity(session, model: type, identity: Any):
    """The row a verified signature names, or None (malformed, deleted, or its id reused). Read
    across tenants: the signed link is the authorisation."""
    if not (isinstance(identity, list) and len(identity) == 2 and all(type(v) is int for v in identity)):
        return None
    with all_tenants(session, because="a verified signature names the row: the signed link is the authorisation"):
        row = session.get(model, identity[0])
    return row if row is not None and row_identity(row) == identity else None
