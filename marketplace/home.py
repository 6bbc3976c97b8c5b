"""Public pages: the home page for each persona, and the embedded-mode outbox."""
from __future__ import annotations

import ipaddress
import re

from flask import Blueprint, abort, redirect, render_template, request, url_for
from markupsafe import Markup, escape

from marketplace.core.settings import MailBackend, Mode
from marketplace.mail.delivery import outbox
from marketplace.web import settings
from marketplace.web.pagecache import for_visitors
from tenants.web import current_actor

bp = Blueprint("home", __name__)


@bp.route("/")
@for_visitors
def index():
    return render_template("home.html")


@bp.route("/accessibilite")
def accessibility():
    return render_template("accessibility.html")


@bp.route("/mentions-legales")
def legal_notice():
    return render_template("legal/notice.html")


@bp.route("/donnees-personnelles")
def personal_data():
    return render_template("legal/personal_data.html")


@bp.route("/cookies")
def cookies():
    return render_template("legal/cookies.html")


@bp.route("/plan-du-site")
def site_map():
    return render_template("legal/site_map.html")


@bp.route("/favicon.ico")
def favicon():
    return redirect(url_for("dsfr_static", filename="favicon/favicon.ico"), 301)


@bp.route("/dev/courriels")
def dev_outbox():
    """Mails written to the outbox in the embedded mode; absent in production."""
    s = settings()
    if s.passerelle_mode is not Mode.embedded or s.effective_mail_backend is not MailBackend.outbox:
        abort(404)
    # The outbox holds every link mailed (password resets, invitations): it is read on the machine
    # that runs Passerelle, or by a platform admin, never by a visitor from elsewhere.
    if not (_from_this_machine() or current_actor().is_platform_admin):
        abort(404)
    return render_template("dev_outbox.html", mails=outbox(s))


def _from_this_machine() -> bool:
    if any(h in request.headers for h in ("X-Forwarded-For", "Forwarded", "X-Real-Ip")):
        return False  # a proxy on this machine relays visitors from elsewhere
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


_URL = re.compile(r"https?://[^\s<>\"']+")


@bp.app_template_filter("liens")
def _links(text: str) -> Markup:
    """A mail's text with its web addresses clickable (the rest escaped)."""
    escaped = str(escape(text or ""))
    return Markup(_URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped))
