"""Public pages that every visitor sees alike, rendered once for all the web processes.

A page or API answer marked :func:`for_visitors` is kept in Redis when a visitor who is not signed in
asks for it (no signed-in cookie, no API token, no message waiting to be shown), and the next
visitor asking the same URL is answered from there without a query or a template. The kept page
is keyed by everything it is made of:

- the public content version, one Redis counter raised after every committed transaction that
  wrote a table a visitor can see (:data:`PRIVATE_TABLES` are the ones no public page shows:
  sessions, audit, mails, matches, private workspaces). Raised *after* the commit, so a page
  rendered under the new version always reads the committed data;
- the search index generation and today's date in France (``KEY_PARTS``, filled by the
  features: a page that ranks with the index changes when the follower commits, one that says
  "clôture dans 3 jours" when the day turns);
- the build (the templates and the code's version) and the URL with its query string.

A change made outside any Passerelle process (SQL by hand) shows after ``PAGE_CACHE_SECONDS`` at
most. The form token of each page (``csrf_token()``) differs per visitor: the kept page holds a
marker in its place, replaced on the way out by the visitor's own token.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import weakref
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from flask import Flask, current_app, g, request, session
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from redis import Redis, RedisError
from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.sql.elements import TextClause

from jobs.connection import connect, running_redis_url
from marketplace.core import clock
from marketplace.core.db import TenantSession
from marketplace.core.shared import site_of

log = logging.getLogger("passerelle.pages")

# Every key names its site (the database it shows): several sites may share one Redis (a staging
# and a production, the tests' processes) and none is served another's pages.
KEY_ROOT = "passerelle:pages:"
MAX_BODY = 512 * 1024
MAX_QUERY = 512

# Tables no page shown to a visitor reads: writing them leaves the public pages as they are.
PRIVATE_TABLES = frozenset({
    "api_tokens", "audit_events", "contract_documents", "contract_dossiers", "contract_drafts",
    "funding_alert_digests", "funding_alert_items", "funding_alerts", "funding_plans", "invitations",
    "leads", "login_attempts", "matching_settings", "outgoing_mails", "project_contacts", "project_matches",
    "search_changes", "shortlist_items", "solution_matches", "stripe_events", "user_sessions",
})

# Columns of public tables that no public page shows: a change of only these keeps the pages (a
# sign-in stamps the person's last sign-in).
PRIVATE_COLUMNS = {"users": frozenset({"last_login_at", "password_hash"})}

# A write the statement does not name a table for (SQL text): every page may have changed.
ANY_TABLE = "*"
_WRITE_SQL = re.compile(r"^\s*(insert|update|delete|replace|merge|truncate|copy)\b", re.IGNORECASE)

# Parts of every key beyond the content version: name -> function of nothing (in a request).
KEY_PARTS: dict[str, Callable[[], str]] = {"day": lambda: clock.today().isoformat()}


def for_visitors(view):
    """Mark a GET view whose answer is the same for every visitor who is not signed in."""
    view.for_visitors = True
    return view


def key_part(name: str, part: Callable[[], str]) -> None:
    """Add what a kept page also depends on (a feature's own generation)."""
    KEY_PARTS[name] = part


class PageCache:
    """The kept pages of one app, in its Redis (opened and the build read on first use)."""

    def __init__(self, app: Flask, redis_url: str, seconds: int, marker: str, site: str):
        self.app, self.redis_url, self.seconds, self.marker = app, redis_url, seconds, marker
        self.version_key, self.page_prefix = version_key(site), page_prefix(site)
        self._marker_bytes = marker.encode()
        self._redis: Redis | None = None
        self._build: str | None = None

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            self._redis = connect(self.redis_url)
            self._lookup = self._redis.register_script(
                "local v = redis.call('GET', KEYS[1]) or '0' "
                "return {v, redis.call('GET', ARGV[1] .. v .. ':' .. ARGV[2])}")
        return self._redis

    def key_of(self) -> str:
        if self._build is None:  # the blueprints are registered by the first request: their templates are known
            self._build = _build_of(self.app)
        parts = [self._build, request.host, request.path, request.query_string.decode("latin-1")]
        parts += [part() for part in KEY_PARTS.values()]
        return hashlib.sha1("\x1f".join(parts).encode("utf-8", "surrogateescape")).hexdigest()

    def lookup(self, key: str) -> tuple[str, bytes | None]:
        """The content version now, and the page kept under it for this key (None: not kept)."""
        _ = self.redis
        version, kept = self._lookup(keys=[self.version_key], args=[self.page_prefix, key])
        return version.decode(), kept

    def store(self, version: str, key: str, headers: list, body: bytes) -> None:
        self.redis.set(f"{self.page_prefix}{version}:{key}", json.dumps(headers).encode() + b"\0" + body, ex=self.seconds)

    def content_changed(self) -> None:
        self.redis.incr(self.version_key)

    def with_token(self, body: bytes) -> bytes:
        if self._marker_bytes not in body:
            return body
        return body.replace(self._marker_bytes, generate_csrf().encode())


def version_key(site: str) -> str:
    return f"{KEY_ROOT}{site}:version"


def page_prefix(site: str) -> str:
    return f"{KEY_ROOT}{site}:page:"


# The cache of each database's app, for the commits made outside a request (jobs, commands, tests).
_by_engine: weakref.WeakKeyDictionary[Engine, PageCache] = weakref.WeakKeyDictionary()


def _visitor_view() -> bool:
    if request.method != "GET" or len(request.query_string) > MAX_QUERY or request.endpoint is None:
        return False
    view = current_app.view_functions.get(request.endpoint)
    if not getattr(view, "for_visitors", False):
        return False
    return _anonymous()


def _anonymous() -> bool:
    # Signed in, speaking with a token, or a message to show once: this answer is theirs alone.
    return "Authorization" not in request.headers and "_user_id" not in session and "_flashes" not in session


def _own(session) -> dict:
    """What a view could have put in the visitor's session; Flask-Login marks any cookie without
    a person as not fresh on every request, which says nothing of the page."""
    return {k: v for k, v in session.items() if k != "_fresh"}


def _build_of(app: Flask) -> str:
    """The code's version and the templates' text: a new deployment never serves the old pages."""
    digest = hashlib.sha1(metadata.version("passerelle").encode())
    folders = {Path(app.root_path) / "templates"}
    folders.update(Path(bp.root_path) / bp.template_folder for bp in app.blueprints.values() if bp.template_folder)
    for folder in sorted(folders):
        for path in sorted(folder.rglob("*.html")):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def init_app(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    url = running_redis_url(settings)
    if not settings.page_cache_seconds or not url:
        return
    marker = "kept-page-token-" + hashlib.sha256(f"{app.config['SECRET_KEY']}:page-token".encode()).hexdigest()[:24]
    engine = app.extensions["passerelle"].engine
    cache = _by_engine[engine] = PageCache(app, url, settings.page_cache_seconds, marker, site_of(engine))

    @app.before_request
    def _kept_page():
        if not _visitor_view():
            return None
        key = cache.key_of()
        try:
            version, kept = cache.lookup(key)
        except RedisError as exc:
            log.warning("kept pages unavailable: %s", exc)
            return None
        if kept is None:
            g.page_to_keep = (version, key, _own(session))
            return None
        head, body = kept.split(b"\0", 1)
        g.page_kept = True
        response = current_app.response_class(body, status=200, headers=json.loads(head))
        response.headers["X-Cache"] = "HIT"  # as a proxy cache says it (the load bench counts them)
        return response

    @app.after_request
    def _keep_page(response):
        to_keep = g.pop("page_to_keep", None)
        if to_keep is None and not g.pop("page_kept", False):
            return response
        # Kept only as every visitor would get it: not an error, nor an answer that set a cookie
        # or wrote the session (the visitor's own token is put in below, after this).
        if to_keep is not None and response.status_code == 200 and not response.is_streamed \
                and "Set-Cookie" not in response.headers and _own(session) == to_keep[2] and _anonymous():
            body = response.get_data()
            if len(body) <= MAX_BODY:
                headers = [[k, v] for k, v in response.headers.items()
                           if k.lower() not in ("content-length", "vary", "x-cache")]
                try:
                    cache.store(to_keep[0], to_keep[1], headers, body)
                except RedisError as exc:
                    log.warning("page not kept: %s", exc)
        if to_keep is not None:
            response.headers["X-Cache"] = "MISS"
        if response.mimetype == "text/html" and not response.is_streamed:
            response.set_data(cache.with_token(response.get_data()))
        return response

    # In a page being kept, the form token is the marker (replaced on the way out, see above): in
    # the templates' globals (imported macros) and their context (where Flask-WTF also puts it).
    def token():
        return Markup(marker) if "page_to_keep" in g else generate_csrf()

    app.jinja_env.globals["csrf_token"] = token
    app.context_processor(lambda: {"csrf_token": token})


# What each transaction wrote --------------------------------------------------------------------

def _written(session) -> set[str]:
    return session.info.setdefault("written_tables", set())


@event.listens_for(TenantSession, "after_flush")
def _note_flushed(session, flush_context) -> None:
    if not _by_engine:
        return  # no app of this process keeps pages (the default): nothing to note on each flush
    written = _written(session)
    for obj in (*session.new, *session.deleted):
        written.update(table.name for table in inspect(obj).mapper.tables)
    for obj in session.dirty:
        state = inspect(obj)
        for table in state.mapper.tables:
            private = PRIVATE_COLUMNS.get(table.name)
            if private is None or any(attr.history.has_changes() for attr in state.attrs if attr.key not in private):
                written.add(table.name)


@event.listens_for(TenantSession, "do_orm_execute")
def _note_statement(state: ORMExecuteState) -> None:
    if not _by_engine:
        return
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        _written(state.session).add(getattr(table, "name", ANY_TABLE))
    elif isinstance(state.statement, TextClause) and _WRITE_SQL.match(state.statement.text):
        _written(state.session).add(ANY_TABLE)


@event.listens_for(TenantSession, "after_commit")
def _content_changed(session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the outer transaction may still roll back
    written = session.info.pop("written_tables", None)
    if not written or written <= PRIVATE_TABLES:
        return
    cache = _by_engine.get(session.get_bind().engine)
    if cache is None:
        return
    try:
        cache.content_changed()
    except RedisError as exc:
        log.warning("kept pages not renewed after a change (they expire within %d s): %s", cache.seconds, exc)
