"""Request plumbing: the per-request session, the current user and tenant, CSRF, errors."""
from __future__ import annotations

import functools
from pathlib import Path

from flask import (
    Flask,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from marketplace.db import TenantSession
from marketplace.text import format_int_fr
from tenants.models import Membership, Role, TenantKind, User

login_manager = LoginManager()
login_manager.login_view = "auth.sign_in"
login_manager.login_message = "Connectez-vous pour accéder à cette page."
login_manager.login_message_category = "info"
csrf = CSRFProtect()


def get_db() -> TenantSession:
    if "db" not in g:
        g.db = current_app.extensions["passerelle"].session_factory()
    return g.db


def settings():
    return current_app.config["SETTINGS"]


def current_membership() -> Membership | None:
    return g.get("membership")


def require_membership(role: Role = Role.viewer, kinds: tuple[TenantKind, ...] | None = None,
                       active: bool = True):
    """View decorator: a signed-in member of the current tenant, with at least this role."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            membership = current_membership()
            if membership is None:
                flash("Vous n'êtes membre d'aucune organisation pour le moment.", "info")
                return redirect(url_for("workspace.home"))
            if active and not membership.tenant.is_active:
                return redirect(url_for("workspace.home"))
            if kinds and membership.tenant.kind not in kinds:
                abort(404)
            if not membership.role.at_least(role):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def require_platform_admin(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.is_platform_admin:
            abort(404)
        return view(*args, **kwargs)

    return wrapper


def require_operator(view):
    """Operator staff (or platform admins) acting in their operator tenant."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        membership = current_membership()
        is_operator = membership is not None and membership.tenant.kind is TenantKind.operator \
            and membership.tenant.is_active and membership.role.at_least(Role.member)
        if not (is_operator or current_user.is_platform_admin):
            abort(404)
        return view(*args, **kwargs)

    return wrapper


def client_ip() -> str:
    # Behind a proxy, gunicorn's --forwarded-allow-ips makes remote_addr the client's.
    return request.remote_addr or "0.0.0.0"


def page_arg(name: str = "page") -> int:
    try:
        return max(1, int(request.args.get(name, 1)))
    except ValueError:
        return 1


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    try:
        user = get_db().get(User, int(user_id))
    except ValueError:
        return None
    if user is None or user.is_disabled:
        return None
    # A password change (reset) ends the other sessions: the session remembers the hash it saw.
    if session.get("pwd") != (user.password_hash or "")[-16:]:
        return None
    return user


@login_manager.request_loader
def _load_user_from_token(req) -> User | None:
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    from tenants.services import membership_for_api_token

    db = get_db()
    membership = membership_for_api_token(db, header.removeprefix("Bearer ").strip())
    if membership is None:
        g.bad_token = True
        return None
    if db.dirty:
        db.commit()  # the token's "last used" time; read-only endpoints never commit
    g.api_membership = membership
    return membership.user


def remember_password(user: User) -> None:
    session["pwd"] = (user.password_hash or "")[-16:]


def _bind_tenant() -> None:
    """Pick the current membership and bind the request's session to its tenant."""
    g.membership = None
    if request.endpoint in ("static", "dsfr_static") or not current_user.is_authenticated:
        return
    from tenants.services import membership_for, memberships_of

    db = get_db()
    membership = g.get("api_membership")
    if membership is None:
        wanted = session.get("tenant_id")
        if wanted is not None:
            membership = membership_for(db, current_user, wanted)
        if membership is None:
            mine = memberships_of(db, current_user)
            active = [m for m in mine if m.tenant.is_active]
            membership = (active or mine or [None])[0]
            session["tenant_id"] = membership.tenant_id if membership else None
    g.membership = membership
    db.info["tenant_id"] = membership.tenant_id if membership else None


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    csrf.init_app(app)

    @app.before_request
    def _before():
        _bind_tenant()

    @app.teardown_request
    def _close_session(exc):
        db = g.pop("db", None)
        if db is not None:
            if exc is not None:
                db.rollback()
            db.close()

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.context_processor
    def _template_globals():
        from tenants.services import memberships_of

        memberships = []
        if current_user.is_authenticated and "membership" in g:
            memberships = g.get("_all_memberships")
            if memberships is None:
                memberships = g._all_memberships = memberships_of(get_db(), current_user)
        return {
            "current_membership": g.get("membership"),
            "all_memberships": memberships,
            "settings": settings(),
            "Role": Role,
            "TenantKind": TenantKind,
        }

    app.jinja_env.filters["nombre"] = format_int_fr
    app.jinja_env.filters["date_fr"] = _date_fr

    dsfr_dir = Path(app.root_path).parent / "node_modules" / "@gouvfr" / "dsfr" / "dist"
    swagger_dir = Path(app.root_path).parent / "node_modules" / "swagger-ui-dist"

    @app.route("/static/dsfr/<path:filename>", endpoint="dsfr_static")
    def dsfr_static(filename):
        return send_from_directory(dsfr_dir, filename, max_age=86400)

    @app.route("/static/swagger-ui/<path:filename>", endpoint="swagger_static")
    def swagger_static(filename):
        return send_from_directory(swagger_dir, filename, max_age=86400)

    _register_errors(app)

    from marketplace.home import bp as home_bp
    from marketplace.ops.views import bp as ops_bp
    from search.views import bp as search_bp
    from tenants.admin_views import bp as admin_bp
    from tenants.views import auth_bp, operator_bp, workspace_bp

    for bp in (home_bp, auth_bp, workspace_bp, operator_bp, ops_bp, search_bp, admin_bp):
        app.register_blueprint(bp)

    from marketplace.catalog import views as catalog

    for bp in (catalog.bp, catalog.workspace_bp, catalog.operator_bp):
        app.register_blueprint(bp)

    from marketplace.funding import mine_views as funding_mine
    from marketplace.funding import views as funding
    from marketplace.funding.plan.views import bp as funding_plan_bp

    for bp in (funding.bp, funding.operator_bp, funding_plan_bp, funding_mine.bp):
        app.register_blueprint(bp)


ERROR_TITLES = {
    400: ("Requête invalide", "La demande envoyée n'a pas pu être comprise."),
    401: ("Authentification requise", "Connectez-vous ou fournissez un jeton d'API valide."),
    422: ("Données invalides", "Certaines valeurs envoyées sont invalides."),
    403: ("Accès refusé", "Votre rôle dans cette organisation ne permet pas cette action."),
    404: ("Page non trouvée", "La page que vous cherchez est introuvable. Excusez-nous pour la gêne occasionnée."),
    405: ("Méthode non autorisée", "Cette adresse n'accepte pas ce type de requête."),
    413: ("Fichier trop volumineux", "Le fichier envoyé dépasse la taille autorisée."),
    429: ("Trop de tentatives", "Patientez quelques minutes avant de réessayer."),
    500: ("Erreur inattendue", "Désolé, le service rencontre un problème. Nous y travaillons."),
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def _register_errors(app: Flask) -> None:
    def render_error(code: int, message: str | None = None, exc=None):
        title, text = ERROR_TITLES.get(code, ERROR_TITLES[500])
        if wants_json():
            # flask-smorest's abort() carries its message (and per-field errors) in exc.data.
            data = getattr(exc, "data", None) or {}
            body = {"code": code, "status": title, "message": data.get("message") or message or text}
            # webargs' validation errors (a 422) come as "messages": {location: {field: [...]}}.
            errors = data.get("errors") or data.get("messages")
            if errors:
                body["errors"] = errors
            return jsonify(body), code
        return render_template("error.html", code=code, title=title, text=message or text), code

    for code in ERROR_TITLES:
        if code in (401, 500):
            continue
        app.register_error_handler(code, lambda e, code=code: render_error(code, exc=e))

    @app.errorhandler(CSRFError)
    def _csrf(e):
        return render_error(400, "Le formulaire a expiré ou n'a pas été envoyé depuis Passerelle. "
                                 "Rechargez la page et recommencez.")

    @app.errorhandler(500)
    def _server_error(e):
        return render_error(500)

    @app.errorhandler(401)
    def _unauthorized(e):
        return render_error(401, exc=e)


MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre"]


def _date_fr(value, with_time: bool = False) -> str:
    if value is None:
        return ""
    import zoneinfo

    local = value.astimezone(zoneinfo.ZoneInfo("Europe/Paris")) if getattr(value, "tzinfo", None) else value
    text = f"{local.day} {MONTHS[local.month - 1]} {local.year}"
    if with_time and hasattr(local, "hour"):
        text += f" à {local.hour:02d} h {local.minute:02d}"
    return text
