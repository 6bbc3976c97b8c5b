"""The edge of every request: one transaction, errors mapped once, headers, shared filters.

As in Indico's request handler: the view runs, then the request's session commits once (the
after-commit callbacks enqueue the jobs and mails); any error rolls everything back. A service's
refusal (``ServiceError``) answers 422 — JSON for the API, the page again with the message for
HTML — and ``NotFound`` answers 404; both are mapped here, so views neither commit nor catch them.
"""
from __future__ import annotations

import logging
from pathlib import Path

from flask import (
    Flask,
    flash,
    g,
    has_request_context,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map

from jobs.connection import running_redis_url
from marketplace.core import clock, money
from marketplace.core.db import write_intent
from marketplace.core.errors import NotFound, ServiceError
from marketplace.core.rendering import render_markdown
from marketplace.core.text import date_fr, format_int_fr
from marketplace.web import csrf, get_db, limiter, pagecache, safe_next, settings, wants_json

log = logging.getLogger("passerelle.web")

MAX_ID = 2**31 - 1  # integer columns are 32-bit on PostgreSQL
MAX_KEPT_URLS = 20_000


class BoundedInt(IntegerConverter):
    """``<int:…>`` in every route: an id past a 32-bit integer names nothing (404), instead of
    overflowing the database driver."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


class PasserelleFlask(Flask):
    """Flask, with the request's transaction committed when the view has returned.

    Committing inside ``dispatch_request`` (not in an after-request hook) lets a failed commit —
    a unique constraint met by a concurrent request — go through the error handlers like any error.
    """

    url_map_class = type("PasserelleMap", (Map,), {"default_converters": {**Map.default_converters, "int": BoundedInt}})

    def dispatch_request(self):
        rv = super().dispatch_request()
        db = g.get("db")
        if db is not None:
            db.commit()
        return rv


ERROR_TITLES = {
    400: ("Requête invalide", "La demande envoyée n'a pas pu être comprise."),
    401: ("Authentification requise", "Connectez-vous ou fournissez un jeton d'API valide."),
    403: ("Accès refusé", "Votre rôle dans cette organisation ne permet pas cette action."),
    404: ("Page non trouvée", "La page que vous cherchez est introuvable. Excusez-nous pour la gêne occasionnée."),
    405: ("Méthode non autorisée", "Cette adresse n'accepte pas ce type de requête."),
    409: ("Conflit", "Cette action a croisé une autre demande au même moment : rechargez la page et recommencez."),
    413: ("Fichier trop volumineux", "Le fichier envoyé dépasse la taille autorisée."),
    414: ("Adresse trop longue", "L'adresse demandée est trop longue pour être traitée."),
    422: ("Données invalides", "Certaines valeurs envoyées sont invalides."),
    429: ("Trop de tentatives", "Patientez quelques minutes avant de réessayer."),
    500: ("Erreur inattendue", "Désolé, le service rencontre un problème. Nous y travaillons."),
    503: ("Service momentanément indisponible", "Le service est très sollicité : réessayez dans quelques instants."),
}


CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "font-src 'self'",
    "connect-src 'self'", "object-src 'none'", "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'",
])
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"


def _rollback() -> None:
    db = g.get("db")
    if db is not None:
        db.rollback()


def render_error(code: int, message: str | None = None, exc=None, errors=None):
    """The error page (HTML) or document (JSON, under /api/) for this status. The headers an HTTP
    error carries (a 405's ``Allow``, a 429's ``Retry-After``) are kept."""
    title, text = ERROR_TITLES.get(code, ERROR_TITLES[500])
    if wants_json():
        # flask-smorest's abort() carries its message (and per-field errors) in exc.data.
        data = getattr(exc, "data", None) or {}
        body = {"code": code, "status": title, "message": data.get("message") or message or text}
        # webargs' validation errors (a 422) come as "messages": {location: {field: [...]}}.
        errors = errors or data.get("errors") or data.get("messages")
        if errors:
            body["errors"] = errors
        response = jsonify(body)
    else:
        response = make_response(render_template("error.html", code=code, title=title, text=message or text))
    response.status_code = code
    if isinstance(exc, HTTPException):
        for name, value in exc.get_headers():
            if name.lower() in ("allow", "retry-after"):
                response.headers[name] = value
    return response


def _refused(exc: ServiceError):
    """A service said no: nothing of the request is kept, and the person reads why."""
    _rollback()
    if wants_json():
        errors = {"json": {exc.field: [exc.message]}} if exc.field else None
        return render_error(422, exc.message, errors=errors)
    form, target = g.get("form"), g.get("on_refusal")
    if callable(target):
        if form is not None:
            form.add_error(exc.field, exc.message)
        else:  # a page without a form (a button): the message shows with the flashed ones
            flash(exc.message, "error")
        response = make_response(target())
        response.status_code = 422
        db = g.get("db")
        if db is not None:
            db.commit()  # only what showing the page again did (an audited read), never the refused action
        return response
    if target or request.method not in ("GET", "HEAD"):
        flash(exc.message, "error")
        back = target or safe_next(request.form.get("next")) or _same_site_referrer()
        if back:
            return redirect(back)
    return render_error(422, exc.message)


def _same_site_referrer() -> str | None:
    referrer = request.referrer or ""
    root = request.host_url
    if referrer.startswith(root):
        return safe_next("/" + referrer[len(root):])
    return None


def _limits_storage(settings) -> str:
    """The app's Redis for the request-rate counters; a lone process without a queue (a command run
    by hand) counts in memory rather than start an embedded server for nothing."""
    url = running_redis_url(settings)
    if not url:
        return "memory://"
    return "redis+unix://" + url.removeprefix("unix://") if url.startswith("unix://") else url


def kept_url_for():
    """``url_for`` for the templates, each URL built once per process: a page's links (the menu's
    twenty-four, the desk's 360) cost the router ≈ 9 µs each, 2.5 µs kept. Only what
    depends on nothing but its arguments and the mount point is kept: not a blueprint-relative
    endpoint, an external URL or one built outside a request."""
    kept: dict[tuple, str] = {}

    def url(endpoint: str, **values) -> str:
        if endpoint.startswith(".") or not has_request_context() or any(
                k.startswith("_") and k != "_anchor" for k in values):
            return url_for(endpoint, **values)
        key = (request.script_root, endpoint, *values.items())  # a call site passes its arguments in one order
        try:
            return kept[key]
        except KeyError:
            pass
        except TypeError:  # a list or a dict among the values
            return url_for(endpoint, **values)
        if len(kept) >= MAX_KEPT_URLS:
            kept.clear()
        kept[key] = built = url_for(endpoint, **values)
        return built

    return url


def init_app(app: Flask) -> None:
    csrf.init_app(app)

    @app.before_request
    def _writes_wait_their_turn():
        # Registered first: before any query of the request (the membership, the user).
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            write_intent(get_db())

    app.config.update(RATELIMIT_STORAGE_URI=_limits_storage(app.config["SETTINGS"]),
                      RATELIMIT_KEY_PREFIX="passerelle-limits",
                      RATELIMIT_SWALLOW_ERRORS=True)  # Redis down: requests are not refused for it
    limiter.init_app(app)
    pagecache.init_app(app)  # after the limiter: a kept page is counted like any other

    @app.teardown_request
    def _close_session(exc):
        db = g.pop("db", None)
        if db is not None:
            db.close()  # rolls back whatever was not committed

    https = app.config["SETTINGS"].base_url.startswith("https://")

    @app.after_request
    def _security_headers(response):
        # Every asset is served from here (DSFR, Swagger UI, our own script): no inline script,
        # no third party. A page that needs less (a logo: nothing at all) sets its own.
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if https:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response

    app.context_processor(lambda: {"settings": settings()})
    app.jinja_env.globals["url_for"] = kept_url_for()
    app.jinja_env.globals["today_paris"] = clock.today  # "today" as the French calendar has it
    app.jinja_env.filters["nombre"] = format_int_fr
    app.jinja_env.filters["date_fr"] = date_fr
    app.jinja_env.filters["euros"] = lambda cents: "" if cents is None else money.euros(cents)
    app.jinja_env.filters["taux"] = lambda bp: "" if bp is None else money.rate(bp)
    # Sanitised by nh3 (marketplace.core.rendering): safe to mark.
    app.jinja_env.filters["markdown"] = lambda text: Markup(render_markdown(text))

    dsfr_dir = Path(app.root_path).parent / "node_modules" / "@gouvfr" / "dsfr" / "dist"
    swagger_dir = Path(app.root_path).parent / "node_modules" / "swagger-ui-dist"

    @app.route("/static/dsfr/<path:filename>", endpoint="dsfr_static")
    def dsfr_static(filename):
        return send_from_directory(dsfr_dir, filename, max_age=86400)

    @app.route("/static/swagger-ui/<path:filename>", endpoint="swagger_static")
    def swagger_static(filename):
        return send_from_directory(swagger_dir, filename, max_age=86400)

    for code in ERROR_TITLES:
        if code != 500:
            app.register_error_handler(code, lambda e, code=code: render_error(code, exc=e))

    @app.errorhandler(ServiceError)
    def _service_error(exc):
        return _refused(exc)

    @app.errorhandler(NotFound)
    def _not_found(exc):
        _rollback()
        return render_error(404, str(exc) or None)

    @app.errorhandler(IntegrityError)
    def _conflict(exc):
        # Two requests wrote the same unique thing at once; the services check first, so this is
        # the race they cannot see (a double click, two people at the same second).
        _rollback()
        log.warning("integrity error at commit: %s", exc.orig)
        return render_error(409)

    @app.errorhandler(RecursionError)
    def _too_deep(exc):
        # JSON nested thousands deep: the parser gives up, the request is refused.
        _rollback()
        return render_error(400, "Les données envoyées sont trop imbriquées pour être lues.")

    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    def _out_of_range(exc):
        # A value the database cannot hold slipped past the schemas: refused, not a 500.
        _rollback()
        log.warning("value out of range: %s", exc)
        return render_error(400, "Une valeur envoyée est hors des limites acceptées.")

    @app.errorhandler(OperationalError)
    def _busy(exc):
        _rollback()
        log.exception("database error")
        return render_error(503)

    @app.errorhandler(CSRFError)
    def _csrf(e):
        return render_error(400, "Le formulaire a expiré ou n'a pas été envoyé depuis Passerelle. "
                                 "Rechargez la page et recommencez.")

    @app.errorhandler(500)
    def _server_error(e):
        return render_error(500)
