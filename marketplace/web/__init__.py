"""What views share: the request's session, the settings, arguments read safely, where to go back.

This module registers nothing: ``marketplace.web.edge`` installs the request plumbing (one
transaction per request, errors mapped once) and ``marketplace.app`` registers the blueprints.

A view parses its input (``marketplace.web.forms.parse_form``), calls a service and renders. It
never commits and never catches the services' refusals: the edge commits once when the view
returns, rolls back on any error, and answers a ``ServiceError`` with a 422 — the form re-rendered
with the message on its field when the view said how to render it (:func:`on_refusal`), else the
message flashed on the page the view names, else an error page. ``NotFound`` answers 404.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, g, request
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFProtect

from marketplace.core.db import TenantSession
from marketplace.core.settings import Settings

csrf = CSRFProtect()
# Request rates, by client address unless a limit says otherwise (the storage is the app's Redis).
limiter = Limiter(key_func=lambda: client_ip())

# Query-string integers (pages, ids) are bounded here: nothing past this reaches SQL.
MAX_PAGE = 10_000


def get_db() -> TenantSession:
    """The request's session, opened on first use and closed by the edge at the end."""
    if "db" not in g:
        g.db = current_app.extensions["passerelle"].session_factory()
    return g.db


def settings() -> Settings:
    return current_app.config["SETTINGS"]


def page_arg(name: str = "page") -> int:
    """?page=N, between 1 and MAX_PAGE; anything else is the first page."""
    value = request.args.get(name, "")
    if not value.isdigit() or len(value) > 6:
        return 1
    return min(max(1, int(value)), MAX_PAGE)


def client_ip() -> str:
    # Behind a proxy, gunicorn's --forwarded-allow-ips makes remote_addr the client's.
    return request.remote_addr or "0.0.0.0"


def wants_json() -> bool:
    return request.path.startswith("/api/")


_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")


def safe_next(target: Any) -> str | None:
    """A same-site path to go to after an action, or None.

    Only a path of this site: an open redirect would make the sign-in page a phishing relay.
    Browsers drop tabs and newlines from URLs and read a backslash as a slash, so "/\\evil.example"
    and "/%09/evil.example" (a tab) both mean "//evil.example": any control character, space or
    backslash refuses the target, as does a scheme or a host.
    """
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//"):
        return None
    if _UNSAFE.search(target) or len(target) > 2000:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def on_refusal(render: Callable[[], Any] | str) -> None:
    """How this request shows a refused action (a ``ServiceError`` raised by a service).

    ``render``: a callable that renders the page again (the form kept by ``parse_form`` has received
    the message on its field), answered with status 422; or the URL of the page to go back to, where
    the message is flashed.
    """
    g.on_refusal = render
