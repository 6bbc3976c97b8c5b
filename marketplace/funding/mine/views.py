"""'Mes financements' and alerts, in a collectivité's workspace; the alerts' mailed links.

Thin views: parse → service → render (the edge commits). Another tenant's alert answers 404. The
links of the mails (confirm, unsubscribe) and the calendar feed carry signed tokens: the token is
the authorisation, no sign-in needed, and the forms they lead to are exempt from CSRF (a mail
client's one-click unsubscribe posts without a session).
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.datastructures import MultiDict

from marketplace.core.clock import today
from marketplace.core.db import bound_to_tenant
from marketplace.core.signing import row_for_identity, row_identity
from marketplace.core.text import slugify
from marketplace.funding.mine import alerts, mails
from marketplace.funding.mine import services as mine
from marketplace.funding.models import AlertFrequency, AlertStatus
from marketplace.funding.schemas import AlertFormSchema
from marketplace.web import csrf, get_db, on_refusal, page_arg, settings
from marketplace.web.forms import FormResult, empty_form, parse_form
from tenants.models import Membership, Role, TenantKind
from tenants.web import current_membership, require_membership

bp = Blueprint("funding_mine", __name__)
CITY = (TenantKind.collectivite,)
PER_PAGE = 20
FEED_SALT = "passerelle.funding-calendar"


def _tenant():
    return current_membership().tenant


def _search_root():
    return settings().search_dir


# Mes financements ------------------------------------------------------------------------------

@bp.route("/espace/financements")
@require_membership(Role.viewer, kinds=CITY)
def index():
    tenant = _tenant()
    criteria = mine.Criteria.from_args(request.args)
    result = mine.find(get_db(), tenant, criteria, on=today(), search_root=_search_root())
    page = page_arg()

    # Only the page's own parameters travel on: url_for() reads "_scheme", "_anchor"… itself.
    page_args = criteria.to_args()

    def toggle_url(param: str, value: str) -> str:
        args = MultiDict(page_args)
        current = args.getlist(param)
        args.setlist(param, [v for v in current if v != value] if value in current else current + [value])
        return url_for("funding_mine.index", **args.to_dict(flat=False))

    return render_template("funding_mine/index.html", result=result, criteria=criteria, tenant=tenant,
                           items=result.page(page, PER_PAGE), page=page, per_page=PER_PAGE, today=today(),
                           facets=mine.FACETS, toggle_url=toggle_url, page_args=page_args,
                           feed_url=_feed_url(current_membership()),
                           deadline_count=result.deadline_count)


def _feed_url(membership: Membership) -> str:
    token = URLSafeSerializer(current_app.secret_key, salt=FEED_SALT).dumps(row_identity(membership))
    return settings().base_url.rstrip("/") + url_for("funding_mine.calendar_feed", token=token)


def _ics(items, tenant) -> Response:
    body = mine.ical(items, on=today(), base_url=settings().base_url, tenant_name=tenant.name)
    filename = f"echeances-financements-{slugify(tenant.name)}.ics"
    return Response(body, mimetype="text/calendar",
                    headers={"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "private, max-age=900"})


@bp.route("/espace/financements/echeances.ics")
@require_membership(Role.viewer, kinds=CITY)
def calendar_download():
    tenant = _tenant()
    items = mine.eligible_items(get_db(), tenant)
    if not mine.deadlines(items, today()):
        # An empty calendar file says nothing: say it here instead.
        flash("Aucune échéance datée à venir dans vos financements : aucun fichier à télécharger pour le moment. "
              "Les programmes permanents n'ont pas de date limite.", "info")
        return redirect(url_for("funding_mine.index"))
    return _ics(items, tenant)


@bp.route("/financements/calendrier/<token>.ics")
def calendar_feed(token: str):
    """The subscribed feed of a calendar app (no cookies): a membership's signed identity. Removing
    the membership, disabling the user or suspending the tenant ends the feed."""
    db = get_db()
    try:
        identity = URLSafeSerializer(current_app.secret_key, salt=FEED_SALT).loads(token)
    except BadSignature:
        abort(404)
    membership = row_for_identity(db, Membership, identity)
    if (membership is None or membership.user.is_disabled
            or membership.tenant.kind is not TenantKind.collectivite or not membership.tenant.is_active):
        abort(404)
    with bound_to_tenant(db, membership.tenant_id):
        return _ics(mine.eligible_items(db, membership.tenant), membership.tenant)


# Alerts ----------------------------------------------------------------------------------------

def _send_confirmation(alert) -> None:
    mails.send_confirmation(get_db(), current_app.secret_key, settings().base_url, alert, current_user)


@bp.route("/espace/alertes")
@require_membership(Role.viewer, kinds=CITY)
def alert_list():
    return render_template("funding_mine/alerts.html", alerts=alerts.alerts_of(get_db(), _tenant()),
                           criteria_of=alerts.criteria_of, AlertStatus=AlertStatus, may_manage=_may_manage)


@bp.route("/espace/alertes/nouvelle", methods=["GET", "POST"])
@require_membership(Role.viewer, kinds=CITY)
def new_alert():
    """The criteria travel in the query string (the search being saved); the form adds a name,
    an address and a frequency."""
    criteria = mine.Criteria.from_args(request.args)

    def render(form: FormResult, status: int = 200):
        return render_template("funding_mine/alert_form.html", form=form, criteria=criteria,
                               default_email=current_user.email, frequencies=AlertFrequency), status

    if request.method == "GET":
        return render(empty_form())
    form = parse_form(AlertFormSchema())
    if not form.ok:
        return render(form, 400)
    on_refusal(lambda: render(form))
    alert = alerts.create_alert(get_db(), current_user, _tenant(), {**form.data, "criteria": criteria})
    _send_confirmation(alert)
    flash(f"Alerte « {alert.name} » créée. Un message de confirmation a été envoyé à {alert.email} : "
          "les envois commencent quand l'adresse est confirmée.", "success")
    return redirect(url_for("funding_mine.alert_list"))


def _managed_alert(alert_id: int):
    alert = alerts.get_alert(get_db(), _tenant(), alert_id)
    if not _may_manage(alert):
        abort(403)
    return alert


def _may_manage(alert) -> bool:
    return alert.user_id == current_user.id or current_membership().role.at_least(Role.member)


@bp.route("/espace/alertes/<int:alert_id>/supprimer", methods=["GET", "POST"])
@require_membership(Role.viewer, kinds=CITY)
def delete_alert(alert_id: int):
    alert = _managed_alert(alert_id)
    if request.method == "POST":
        alerts.delete_alert(get_db(), current_user, alert)
        flash(f"Alerte « {alert.name} » supprimée.", "success")
        return redirect(url_for("funding_mine.alert_list"))
    return render_template("confirm.html", title=f"Supprimer l'alerte « {alert.name} » ?",
                           text=f"Plus aucun envoi ne sera fait à {alert.email}. L'historique des envois est supprimé avec elle.",
                           confirm_label="Supprimer l'alerte", cancel_url=url_for("funding_mine.alert_list"))


@bp.route("/espace/alertes/<int:alert_id>/renvoyer", methods=["POST"])
@require_membership(Role.viewer, kinds=CITY)
def resend_alert(alert_id: int):
    """Pending: send the confirmation again. Unsubscribed: subscribe again (confirmed again)."""
    alert = _managed_alert(alert_id)
    on_refusal(url_for("funding_mine.alert_list"))
    alerts.resend_confirmation(get_db(), current_user, alert)
    _send_confirmation(alert)
    flash(f"Un message de confirmation a été envoyé à {alert.email}.", "success")
    return redirect(url_for("funding_mine.alert_list"))


def _alert_for_token(token: str, purpose: str):
    try:
        return alerts.alert_for_token(get_db(), current_app.secret_key, token, purpose=purpose), None
    except alerts.TokenExpired as exc:
        return None, str(exc)


@bp.route("/alertes/confirmer/<token>", methods=["GET", "POST"])
@csrf.exempt
def confirm_alert(token: str):
    """A page with a button, not a confirmation on GET: mail scanners open links by themselves."""
    alert, error = _alert_for_token(token, "confirm")
    if error:
        return render_template("funding_mine/token_page.html", title="Lien expiré", text=error), 410
    if request.method == "POST" or alert.status is not AlertStatus.pending:
        alerts.confirm(get_db(), alert)
        return render_template("funding_mine/token_page.html", title="Adresse confirmée",
                               text=_confirmed_text(alert))
    return render_template("funding_mine/token_page.html", title=f"Confirmer l'alerte « {alert.name} »",
                           text=f"Les envois de cette alerte ({alerts.criteria_of(alert).describe()}) iront à "
                                f"{alert.email}, {alert.frequency.label.lower()} lorsqu'il y a du nouveau.",
                           button="Confirmer mon adresse")


def _confirmed_text(alert) -> str:
    if alert.status is AlertStatus.unsubscribed:
        return "Cette alerte a été désabonnée : réabonnez-vous depuis la page « Mes alertes »."
    return (f"L'alerte « {alert.name} » est active : {alert.email} recevra {alert.frequency.label.lower()} "
            "ce qui est nouveau ou modifié.")


@bp.route("/alertes/desabonnement/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str):
    """GET: a page with a button. POST: unsubscribe, from that button or from the mail client's
    one-click (RFC 8058 List-Unsubscribe-Post), without a session."""
    alert, _ = _alert_for_token(token, "unsubscribe")
    if request.method == "POST":
        alerts.unsubscribe(get_db(), alert)
        return render_template("funding_mine/token_page.html", title="Désabonnement effectué",
                               text=f"{alert.email} ne recevra plus l'alerte « {alert.name} ».")
    if alert.status is AlertStatus.unsubscribed:
        return render_template("funding_mine/token_page.html", title="Déjà désabonné",
                               text=f"{alert.email} ne reçoit plus l'alerte « {alert.name} ».")
    return render_template("funding_mine/token_page.html", title=f"Ne plus recevoir l'alerte « {alert.name} »",
                           text=f"Les envois à {alert.email} s'arrêteront immédiatement.",
                           button="Me désabonner")
