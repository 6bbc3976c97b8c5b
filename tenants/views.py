"""Sign-in, sign-up and territory claims, the tenant workspace, and the operators' claim review.

Views are thin: parse the form (marshmallow) → call a service → render; the edge commits once, then
the mails queued by the services go out.
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from marketplace.core import audit
from marketplace.web import client_ip, get_db, limiter, on_refusal, page_arg, safe_next, settings
from marketplace.web.forms import empty_form, parse_form
from tenants import mails, services
from tenants.models import Role, TenantEvent, TenantKind
from tenants.schemas import (
    AccountSchema,
    ClaimDecisionSchema,
    ForgotSchema,
    InviteSchema,
    OrganisationSchema,
    ResetSchema,
    RoleSchema,
    SignInSchema,
    SwitchSchema,
    TokenSchema,
)
from tenants.territories import services as territories
from tenants.web import current_membership, end_session, require_curator, require_membership, start_session

auth_bp = Blueprint("auth", __name__)
workspace_bp = Blueprint("workspace", __name__, url_prefix="/espace")
operator_bp = Blueprint("operator", __name__, url_prefix="/operateur")

RESET_MAX_AGE = 3600


# Sign-in, sign-out, password reset -----------------------------------------------------------

def _posted_email() -> str:
    return "reset:" + services.normalise_email(request.form.get("email", ""))[:254]


@auth_bp.route("/connexion", methods=["GET", "POST"])
@limiter.limit(lambda: settings().sign_in_rate, methods=["POST"])
def sign_in():
    if current_user.is_authenticated:
        return redirect(url_for("workspace.home"))
    form = empty_form()
    status, headers = 200, {}
    if request.method == "POST":
        form = parse_form(SignInSchema())
        if form.ok:
            s = settings()
            db = get_db()
            result = services.sign_in(db, form.data["email"], form.data["password"], client_ip(),
                                      max_failures=s.login_max_failures,
                                      window=dt.timedelta(minutes=s.login_window_minutes))
            if result.throttled:
                form.add_error(None, "Trop de tentatives de connexion pour ce compte depuis votre adresse. "
                                     f"Réessayez dans {_duration(result.retry_after)}.")
                status, headers = 429, {"Retry-After": str(result.retry_after)}
            elif result.user is None:
                form.add_error(None, "Adresse électronique ou mot de passe incorrect.")
                status = 401
            else:
                start_session(result.user)
                return redirect(safe_next(form.data.get("next")) or url_for("workspace.home"))
        else:
            status = 400
    return render_template("auth/sign_in.html", form=form, next=safe_next(request.values.get("next")) or ""), \
        status, headers


@auth_bp.route("/deconnexion", methods=["POST"])
def sign_out():
    if current_user.is_authenticated:
        db = get_db()
        audit.record(db, TenantEvent.user_signed_out, actor_id=current_user.id, tenant_id=None,
                     object_type="users", object_id=current_user.id)
    end_session()
    flash("Vous êtes déconnecté·e.", "success")
    return redirect(url_for("home.index"))


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconde{'s' if seconds > 1 else ''}"
    minutes = (seconds + 59) // 60
    return f"{minutes} minutes"


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


@auth_bp.route("/mot-de-passe-oublie", methods=["GET", "POST"])
@limiter.limit(lambda: settings().reset_rate_per_ip, methods=["POST"])
@limiter.limit(lambda: settings().reset_rate_per_email, methods=["POST"], key_func=_posted_email)
def forgot_password():
    form = empty_form()
    if request.method == "POST":
        form = parse_form(ForgotSchema())
        if form.ok:
            db = get_db()
            user = services.find_user_by_email(db, form.data["email"])
            if user is not None and user.is_active:
                # The token carries the tail of the current hash: it dies once the password changes.
                token = _reset_serializer().dumps({"uid": user.id, "h": (user.password_hash or "")[-16:]})
                audit.record(db, TenantEvent.password_reset_requested, actor_id=None, tenant_id=None, obj=user)
                mails.send_password_reset(db, user, settings().base_url + url_for("auth.reset_password", token=token))
            # Same answer whether the address exists or not: no account enumeration.
            flash("Si un compte existe pour cette adresse, un courriel vient de lui être envoyé.", "info")
            return redirect(url_for("auth.sign_in"))
    return render_template("auth/forgot.html", form=form), 400 if form.errors else 200


@auth_bp.route("/mot-de-passe/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    db = get_db()
    try:
        payload = _reset_serializer().loads(token, max_age=RESET_MAX_AGE)
    except SignatureExpired:
        payload = None
        flash("Ce lien a expiré : demandez-en un nouveau.", "error")
    except BadSignature:
        payload = None
    user = services.get_user(db, payload.get("uid")) if isinstance(payload, dict) else None
    if user is None or (user.password_hash or "")[-16:] != payload["h"]:
        return render_template("error.html", code=404, title="Lien invalide",
                               text="Ce lien de réinitialisation n'est plus valable."), 404
    form = empty_form()
    if request.method == "POST":
        form = parse_form(ResetSchema())
        if form.ok and form.data["password"] != form.data["password_confirm"]:
            form.add_error("password_confirm", "Les deux mots de passe ne correspondent pas.")
        if form.ok:
            on_refusal(lambda: render_template("auth/reset.html", form=form))
            services.set_password(db, user, form.data["password"])
            flash("Votre mot de passe a été changé. Connectez-vous.", "success")
            return redirect(url_for("auth.sign_in"))
    return render_template("auth/reset.html", form=form), 400 if form.errors else 200


# Sign-up: an account, then a collectivité claim or a startup -----------------------------

@auth_bp.route("/inscription", methods=["GET", "POST"])
def register():
    db = get_db()
    form = empty_form()
    candidates = []
    if request.method == "POST":
        account_form = parse_form(AccountSchema()) if not current_user.is_authenticated else empty_form()
        form = parse_form(OrganisationSchema())
        form.errors.update(account_form.errors)
        form.raw.update(account_form.raw)
        commune = epci_named = None
        # Every mistake at once: the organisation's fields are checked even when the account's are wrong.
        data = form.data if form.data is not None else dict(form.raw)
        if data.get("kind") == "collectivite":
            choice = territories.resolve_territory(db, data.get("territory"))
            commune, candidates = choice.commune, choice.candidates
            if choice.epci is not None:  # the EPCI itself was named: that is the claim
                epci_named = choice.epci
            if choice.error:
                form.add_error("territory", choice.error)
            if not (data.get("job_title") or "").strip():
                form.add_error("job_title", "Indiquez votre fonction dans la collectivité.")
            if commune is not None and data.get("represent_epci") and commune.epci is None:
                form.add_error("represent_epci", f"{commune.name} n'appartient à aucun EPCI à fiscalité propre.")
        elif data.get("kind") == "startup":
            if not (data.get("startup_name") or "").strip():
                form.add_error("startup_name", "Indiquez le nom de la startup.")
            if not services.is_valid_siren((data.get("siren") or "").replace(" ", "")):
                form.add_error("siren", "Le numéro SIREN doit compter 9 chiffres valides.")
        if not form.errors:
            on_refusal(lambda: render_template("auth/register.html", form=form, candidates=candidates))
            user = current_user._get_current_object() if current_user.is_authenticated else None
            if user is None:
                user = services.create_user(db, account_form.data["email"], account_form.data["full_name"],
                                            account_form.data["password"])
            if form.data["kind"] == "collectivite":
                claim = services.claim_territory(
                    db, user,
                    commune=None if (form.data["represent_epci"] or epci_named) else commune,
                    epci=epci_named or (commune.epci if form.data["represent_epci"] else None),
                    job_title=form.data["job_title"], message=form.data["message"])
                tenant = claim.tenant
                flash("Votre demande a été transmise à l'ANCT. Vous serez prévenu·e par courriel dès "
                      "qu'elle sera confirmée.", "success")
            else:
                tenant = services.create_tenant(db, user, TenantKind.startup, form.data["startup_name"],
                                                siren=form.data["siren"], admin=user)
                flash(f"L'espace de {tenant.name} est prêt.", "success")
            if not current_user.is_authenticated:
                start_session(user)
            session["tenant_id"] = tenant.id
            return redirect(url_for("workspace.home"))
    return render_template("auth/register.html", form=form, candidates=candidates), 400 if form.errors else 200


@auth_bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    db = get_db()
    invitation = services.invitation_by_token(db, token)
    if invitation is None:
        return render_template("error.html", code=404, title="Invitation invalide",
                               text="Cette invitation a expiré, a été annulée ou a déjà été utilisée."), 404
    existing = services.find_user_by_email(db, invitation.email)
    form = empty_form()

    def render(status: int = 200):
        return render_template("auth/invitation.html", invitation=invitation, existing=existing, form=form), status

    if request.method == "GET":
        return render()
    if current_user.is_authenticated:
        user = current_user._get_current_object()
    elif existing is not None:
        return redirect(url_for("auth.sign_in", next=request.path))
    else:
        form = parse_form(AccountSchema())
        if form.ok and services.normalise_email(form.data["email"]) != invitation.email:
            form.add_error("email", "Utilisez l'adresse à laquelle l'invitation a été envoyée.")
        if not form.ok:
            return render(400)
    on_refusal(render)
    if existing is None and not current_user.is_authenticated:
        user = services.create_user(db, form.data["email"], form.data["full_name"], form.data["password"])
    membership = services.accept_invitation(db, invitation, user)
    if not current_user.is_authenticated:
        start_session(user)
    session["tenant_id"] = membership.tenant_id
    flash(f"Bienvenue dans l'espace de {membership.tenant.name}.", "success")
    return redirect(url_for("workspace.home"))


# The workspace ------------------------------------------------------------------------------

@workspace_bp.route("/")
@login_required
def home():
    membership = current_membership()
    return render_template("workspace/home.html", membership=membership)


@workspace_bp.route("/changer", methods=["POST"])
@login_required
def switch():
    form = parse_form(SwitchSchema())
    db = get_db()
    membership = services.membership_for(db, current_user, form.data["tenant_id"]) if form.ok else None
    if membership is None:
        abort(404)
    session["tenant_id"] = membership.tenant_id
    audit.record(db, TenantEvent.tenant_switched, actor_id=current_user.id, tenant_id=membership.tenant_id,
                 obj=membership.tenant)
    flash(f"Vous agissez maintenant pour {membership.tenant.name}.", "info")
    return redirect(safe_next(request.form.get("next")) or url_for("workspace.home"))


@workspace_bp.route("/membres", methods=["GET", "POST"])
@require_membership(Role.viewer)
def members():
    db = get_db()
    membership = current_membership()
    form = empty_form()
    if request.method == "POST":
        if not membership.role.at_least(Role.admin):
            abort(403)
        form = parse_form(InviteSchema())
        if form.ok:
            on_refusal(lambda: _members_page(form))
            invitation, token = services.invite(db, current_user, membership.tenant, form.data["email"],
                                                Role(form.data["role"]))
            mails.send_invitation(db, invitation, current_user,
                                  settings().base_url + url_for("auth.accept_invitation", token=token))
            flash(f"Invitation envoyée à {invitation.email}.", "success")
            return redirect(url_for("workspace.members"))
    return _members_page(form), 400 if form.errors else 200


def _members_page(form):
    db = get_db()
    return render_template("workspace/members.html", members=services.tenant_members(db),
                           invitations=services.pending_invitations(db), form=form, roles=list(Role))


@workspace_bp.route("/membres/<int:membership_id>/role", methods=["POST"])
@require_membership(Role.admin)
def change_role(membership_id: int):
    db = get_db()
    target = services.get_membership(db, membership_id)
    form = parse_form(RoleSchema())
    if not form.ok:
        flash(form.errors.get("role", "Rôle invalide."), "error")
        return redirect(url_for("workspace.members"))
    on_refusal(url_for("workspace.members"))
    services.change_role(db, current_user, target, Role(form.data["role"]))
    flash(f"{target.user.full_name} est maintenant {target.role.label.lower()}.", "success")
    return redirect(url_for("workspace.members"))


@workspace_bp.route("/membres/<int:membership_id>/retirer", methods=["GET", "POST"])
@require_membership(Role.admin)
def remove_member(membership_id: int):
    db = get_db()
    target = services.get_membership(db, membership_id)
    if request.method == "GET":
        return render_template("confirm.html", title=f"Retirer {target.user.full_name} de l'organisation ?",
                               text="Cette personne perdra immédiatement l'accès à l'espace de l'organisation "
                                    "et ses jetons d'API seront révoqués.",
                               confirm_label="Retirer", cancel_url=url_for("workspace.members"))
    on_refusal(url_for("workspace.members"))
    services.remove_member(db, current_user, target)
    flash(f"{target.user.full_name} a été retiré·e de l'organisation.", "success")
    return redirect(url_for("workspace.members"))


@workspace_bp.route("/invitations/<int:invitation_id>/annuler", methods=["POST"])
@require_membership(Role.admin)
def revoke_invitation(invitation_id: int):
    db = get_db()
    invitation = services.get_invitation(db, invitation_id)
    on_refusal(url_for("workspace.members"))
    services.revoke_invitation(db, current_user, invitation)
    flash(f"L'invitation de {invitation.email} est annulée.", "success")
    return redirect(url_for("workspace.members"))


@workspace_bp.route("/jetons", methods=["GET", "POST"])
@require_membership(Role.viewer)
def tokens():
    db = get_db()
    membership = current_membership()
    form = empty_form()
    new_token = None
    if request.method == "POST":
        form = parse_form(TokenSchema())
        if form.ok:
            on_refusal(lambda: render_template("workspace/tokens.html", tokens=services.tokens_of(db, membership),
                                               form=form, new_token=None))
            _, new_token = services.create_api_token(db, current_user, membership, form.data["name"])
            form = empty_form()
    return render_template("workspace/tokens.html", tokens=services.tokens_of(db, membership), form=form,
                           new_token=new_token), 400 if form.errors else 200


@workspace_bp.route("/jetons/<int:token_id>/revoquer", methods=["POST"])
@require_membership(Role.viewer)
def revoke_token(token_id: int):
    db = get_db()
    api_token = services.get_api_token(db, token_id, current_membership())
    services.revoke_api_token(db, current_user, api_token)
    flash(f"Le jeton « {api_token.name} » est révoqué.", "success")
    return redirect(url_for("workspace.tokens"))


@workspace_bp.route("/journal")
@require_membership(Role.admin)
def audit_log():
    page = page_arg()
    events, total = services.tenant_audit_log(get_db(), current_membership().tenant_id, page)
    return render_template("workspace/audit.html", events=events, total=total, page=page, per_page=50)


# Operators: territory claims ---------------------------------------------------------------

@operator_bp.route("/demandes")
@require_curator
def claims():
    return render_template("operator/claims.html", claims=services.pending_claims(get_db(), current_user))


@operator_bp.route("/demandes/<int:claim_id>", methods=["GET", "POST"])
@require_curator
def claim(claim_id: int):
    db = get_db()
    target = services.get_claim(db, current_user, claim_id)
    form = empty_form()
    if request.method == "POST":
        form = parse_form(ClaimDecisionSchema())
        if form.ok:
            approve = form.data["decision"] == "approve"
            # Shown again, the claim is read again (and that read audited): the refused decision is not kept.
            on_refusal(lambda: render_template("operator/claim.html", form=form,
                                               claim=services.get_claim(db, current_user, claim_id)))
            services.decide_claim(db, current_user, target, approve, form.data["comment"])
            mails.send_claim_decision(db, target, approve, settings().base_url + url_for("workspace.home"))
            flash("Demande acceptée : l'espace est ouvert." if approve else "Demande refusée.", "success")
            return redirect(url_for("operator.claims"))
    return render_template("operator/claim.html", claim=target, form=form), 400 if form.errors else 200
