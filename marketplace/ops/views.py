"""Operators' page for background jobs: queues, workers, running and failed jobs, with retry."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from jobs.connection import get_redis
from marketplace.core import audit
from marketplace.ops import services
from marketplace.ops.tasks import ping
from marketplace.web import get_db, settings
from search.index import follow_state, state
from search.indexing import request_rebuild
from tenants.web import require_curator

bp = Blueprint("ops", __name__, url_prefix="/operateur/taches")


@bp.route("/")
@require_curator
def jobs():
    return render_template("ops/jobs.html", overview=services.overview(get_redis(settings())))


@bp.route("/<job_id>/relancer", methods=["POST"])
@require_curator
def retry(job_id: str):
    if not services.retry_failed(get_redis(settings()), job_id):
        abort(404)
    db = get_db()
    audit.record(db, services.OpsEvent.job_retried, actor_id=current_user.id, tenant_id=db.tenant_id,
                 object_type="rq_job", object_id=job_id)
    flash("La tâche a été remise en file d'attente.", "success")
    return redirect(url_for("ops.jobs"))


@bp.route("/tester", methods=["POST"])
@require_curator
def test_worker():
    job = ping.enqueue("Le worker répond.")
    flash(f"Tâche de test envoyée ({job.id}). Rechargez la page pour voir si elle a été traitée.", "info")
    return redirect(url_for("ops.jobs", test=job.id))


@bp.route("/recherche")
@require_curator
def search_index():
    root = settings().search_dir
    return render_template("ops/search.html", state=state(root), follow=follow_state(root, get_db()))


@bp.route("/recherche/reconstruire", methods=["POST"])
@require_curator
def rebuild_search_index():
    # Through the change log: each web node's follower rebuilds its own index.
    db = get_db()
    change = request_rebuild(db)
    db.flush()
    audit.record(db, services.OpsEvent.search_reindex_requested, actor_id=current_user.id, tenant_id=db.tenant_id,
                 object_type="search_change", object_id=change.id)
    flash("La reconstruction de l'index est demandée à chaque serveur : les recherches continuent sur l'index "
          "actuel pendant ce temps.", "success")
    return redirect(url_for("ops.search_index"))
