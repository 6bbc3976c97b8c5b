"""The search pages: /recherche, with facets in the URL so that a search can be shared."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from marketplace.web import get_db, page_arg, settings
from marketplace.web.pagecache import for_visitors, key_part
from search import index
from search.facets import FACETS, filters_from_args, label
from search.query import SORTS, SearchRequest
from search.service import run_search
from search.tasks import rebuild_soon

bp = Blueprint("search", __name__)
# The pages kept for visitors (home, lists, searches) are renewed when the index changes.
key_part("search", lambda: index.generation_key(settings().search_dir))
QUERY_SAFE = "!$'()*,/:;?@"  # what werkzeug's router leaves as is in a query string


@bp.route("/recherche")
@for_visitors
def results():
    q = request.args.get("q", "")[:200]
    sort = request.args.get("tri", "pertinence")
    filters = filters_from_args(request.args)
    req = SearchRequest(q=q, filters=filters, sort=sort if sort in SORTS else "pertinence",
                        page=page_arg(), correct=request.args.get("exact") != "1")
    response = run_search(settings().search_dir, get_db(), req, on_unavailable=rebuild_soon)

    # A page holds dozens of these links (every facet value): the query string is encoded as the
    # router would (the same safe characters), without asking the router each time.
    base = url_for("search.results")

    def url_with(**changes):
        args = MultiDict(request.args)
        for key, value in changes.items():
            args.setlist(key, [value] if isinstance(value, str) else list(value))
        args.pop("page", None) if "page" not in changes else None
        query = urlencode(list(args.items(multi=True)), safe=QUERY_SAFE)
        return f"{base}?{query}" if query else base

    def toggle_url(fieldname: str, value: str) -> str:
        param = FACETS[fieldname][0]
        current = request.args.getlist(param)
        values = [v for v in current if v != value] if value in current else current + [value]
        return url_with(**{param: values})

    page_args = {k: v for k, v in request.args.to_dict(flat=False).items() if k != "page"}
    types = set(filters.get("type", []))
    what = ("solution" if types == {"solution"} else "financement" if types and types <= {"programme", "call"}
            else "tout")
    return render_template("search/results.html", response=response, q=q, sort=req.sort, sorts=SORTS, what=what,
                           facets=FACETS, label=label, toggle_url=toggle_url, url_with=url_with,
                           page_args=page_args)
