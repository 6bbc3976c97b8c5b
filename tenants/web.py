"""Who is asking: the signed-in person, the membership they act through, and the view guards.

``init_app`` installs the sign-in machinery (flask-login) and binds each request's session to the
tenant of the current membership, so that the session guard filters every private row by it.
Views use :func:`current_membership` and the ``require_*`` decorators; API endpoints use
:func:`require_token`.
"""
from __future__ import annotations

import functools

from flask import Flask, abort, flash, g, redirect, request, session, url_for
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_smorest import abort as api_abort

from marketplace.web import client_ip, get_db
from tenants.access import Actor, actor_for
from tenants.models import Membership, Role, TenantKind, User
from tenants.services import (
    end_web_session,
    identity_of_web_session,
    membership_for_api_token,
    memberships_of,
    open_web_session,
)

login_manager = LoginManager()
login_manager.login_view = "auth.sign_in"
login_manager.login_message = "Connectez-vous pour accéder à cette page."
login_manager.login_message_category = "info"


def current_membership() -> Membership | None:
    return g.get("membership")


def current_actor() -> Actor:
    """Who is asking, with their roles (``tenants.access``), computed once per request."""
    if "actor" not in g:
        user = current_user._get_current_object() if current_user.is_authenticated else None
        g.actor = actor_for(get_db(), user, current_membership())
    return g.actor


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
    """Platform admins only: the organisations' administration."""
    return _requiring(lambda actor: actor.is_platform_admin, view)


def _requiring(allowed, view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not allowed(current_actor()):
            abort(404)  # the operators' pages do not exist for anyone else
        return view(*args, **kwargs)

    return wrapper


def require_operator(view):
    """Funders and ANCT curators (``tenants.access``): the operators' space."""
    return _requiring(lambda actor: actor.is_operator_staff, view)


def require_curator(view):
    """ANCT curators only: moderation, territory claims, background jobs."""
    return _requiring(lambda actor: actor.is_curator, view)


def require_token() -> Membership:
    """API endpoints that act for a tenant need a valid personal token."""
    if g.get("bad_token"):
        api_abort(401, message="Jeton d'API invalide ou révoqué.")
    if not current_user.is_authenticated or g.get("api_membership") is None:
        api_abort(401, message="Authentification requise : envoyez « Authorization: Bearer <jeton> ».")
    return g.api_membership


def token_of(role: Role, kinds: tuple[TenantKind, ...], refusal: str):
    """API decorator, placed above ``@blp.arguments``: who may call is settled before the body is
    read, so that a caller without the right learns nothing from the validation of its data."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            membership = require_token()
            if membership.tenant.kind not in kinds or not membership.role.at_least(role):
                api_abort(403, message=refusal)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def start_session(user: User) -> None:
    """Sign this person in: a new session known on the server, its token in the signed cookie."""
    flashes = session.get("_flashes")
    session.clear()  # nothing of a previous visitor's cookie carries over (session fixation)
    if flashes:
        session["_flashes"] = flashes
    session["sid"] = open_web_session(get_db(), user, client_ip(), request.user_agent.string or "")
    login_user(user)


def end_session() -> None:
    end_web_session(get_db(), session.get("sid"))
    logout_user()
    session.clear()


def _bearer(req) -> str | None:
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or not req.path.startswith("/api/"):
        return None
    return header.removeprefix("Bearer ").strip()


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    # The cookie names the person and its session; the session must still be open on the server
    # (signing out, a new password or a removed membership end it, whatever copy of the cookie exists).
    if not user_id.isdigit() or len(user_id) > 10:
        return None
    if _bearer(request):
        return None  # an API call with a token speaks for the token, whatever cookie the client holds
    identity = identity_of_web_session(get_db(), session.get("sid"), int(user_id))
    if identity is None:
        return None
    # Read with the session: the request's membership and the pages' tenant switcher.
    g._all_memberships = identity.memberships
    return identity.user


@login_manager.request_loader
def _load_user_from_token(req) -> User | None:
    # Personal tokens open the API only: an HTML page never takes one (a token must not become a
    # cookie session, with a CSRF token to act on the pages).
    token = _bearer(req)
    if token is None:
        return None
    membership = membership_for_api_token(get_db(), token)
    if membership is None:
        g.bad_token = True
        return None
    g.api_membership = membership
    return membership.user


def _bind_tenant() -> None:
    """Pick the current membership and bind the request's session to its tenant."""
    g.membership = None
    if request.endpoint in ("static", "dsfr_static") or not current_user.is_authenticated:
        return
    db = get_db()
    membership = g.get("api_membership")
    if membership is None:
        # One read of the person's memberships (with the session, or after signing in): the
        # request's own, and the pages' tenant switcher.
        mine = g.get("_all_memberships")
        if mine is None:
            mine = g._all_memberships = memberships_of(db, current_user)
        wanted = session.get("tenant_id")
        membership = next((m for m in mine if m.tenant_id == wanted), None)
        if membership is None:
            active = [m for m in mine if m.tenant.is_active]
            membership = (active or mine or [None])[0]
            session["tenant_id"] = membership.tenant_id if membership else None
    g.membership = membership
    db.info["tenant_id"] = membership.tenant_id if membership else None


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    app.before_request(_bind_tenant)

    @app.context_processor
    def _template_globals():
        memberships = []
        if current_user.is_authenticated and "membership" in g:
            memberships = g.get("_all_memberships")
            if memberships is None:
                memberships = g._all_memberships = memberships_of(get_db(), current_user)
        return {"current_membership": g.get("membership"), "all_memberships": memberships,
                "current_actor": current_actor, "Role": Role, "TenantKind": TenantKind}
