"""Public pages: the home page for each persona, and the embedded-mode outbox."""
from __future__ import annotations

import ipaddress

from flask import Blueprint, abort, render_template, request

from marketplace.core.settings import MailBackend, Mode
from marketplace.mail.delivery import outbox
from marketplace.web import settings
from tenants.web import current_actor

bp = Blueprint("home", __name__)


@bp.route("/")
def index():
    return render_template("home.html")


@bp.route("/accessibilite")
def accessibility():
    return render_template("accessibility.html")


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
