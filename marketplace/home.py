"""Public pages: the home page for each persona, and the embedded-mode outbox."""
from __future__ import annotations

from flask import Blueprint, abort, render_template

from marketplace.core.settings import MailBackend, Mode
from marketplace.mail.delivery import outbox
from marketplace.web import settings

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
    return render_template("dev_outbox.html", mails=outbox(s))
