"""Background jobs: enqueue after commit, retries, the operators' page, and a real worker process."""
from __future__ import annotations

import html
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rq.job import Job
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from jobs import get_queue
from marketplace.core.audit import AuditEvent
from marketplace.mail.delivery import outbox
from marketplace.ops.services import OpsEvent
from marketplace.ops.tasks import ping
from tenants.models import Role
from tests.factories import make_anct, make_city, make_member
from tests.helpers import run_jobs, sign_in
from tests.jobs.sample_jobs import always_fails, flaky

ROOT = Path(__file__).resolve().parents[2]


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# Enqueue after commit --------------------------------------------------------------------------

def test_after_commit_enqueues_only_once_the_transaction_commits(app, db, redis):
    queue = get_queue("default", redis)
    with app.app_context():
        ping.after_commit(db, "bonjour")
        db.flush()
        assert queue.count == 0  # the data the job needs is not visible to a worker yet
        db.commit()
        assert queue.count == 1
        [job] = queue.get_jobs()
        assert job.args == ("bonjour",) and job.description == "marketplace.ops.tasks.ping"


def test_nothing_is_enqueued_after_a_rollback(app, db, redis):
    queue = get_queue("default", redis)
    with app.app_context():
        ping.after_commit(db, "jamais")
        db.rollback()
        db.commit()  # a later commit does not bring the dropped job back
        assert queue.count == 0


def test_a_rolled_back_savepoint_keeps_the_jobs_of_the_outer_transaction(app, db, redis):
    queue = get_queue("default", redis)
    with app.app_context():
        ping.after_commit(db, "gardé")
        try:
            with db.begin_nested():
                raise ValueError("une règle a refusé une partie du travail")
        except ValueError:
            pass
        with db.begin_nested():
            pass  # releasing a savepoint is not the commit
        assert queue.count == 0
        db.commit()
        assert queue.count == 1


def test_a_deterministic_job_id_is_not_queued_twice(app, redis):
    queue = get_queue("default", redis)
    first = ping.enqueue("un", job_id="ping-unique", connection=redis)
    second = ping.enqueue("deux", job_id="ping-unique", connection=redis)
    assert first.id == second.id == "ping-unique" and queue.count == 1


# Retries ------------------------------------------------------------------------------------

def test_a_job_that_fails_twice_then_succeeds_is_retried(app, redis):
    job = flaky.enqueue("compteur-essais", 2, connection=redis)
    run_jobs(redis)
    job.refresh()
    assert job.get_status() == "finished"
    assert job.return_value() == "réussi au 3e essai"
    assert int(redis.get("compteur-essais")) == 3
    assert FailedJobRegistry(queue=get_queue("default", redis)).count == 0


def test_a_job_that_keeps_failing_ends_in_the_failed_registry_after_its_retries(app, redis):
    job = flaky.enqueue("compteur-echecs", 10, connection=redis)
    run_jobs(redis)
    job.refresh()
    assert job.get_status() == "failed"
    assert int(redis.get("compteur-echecs")) == 1 + 3  # the first run and three retries
    assert job.id in FailedJobRegistry(queue=get_queue("default", redis)).get_job_ids()


# The operators' page -------------------------------------------------------------------------

@pytest.fixture
def operator_client(app, db):
    operator = make_anct(db)
    user, membership = make_member(db, operator, Role.member, name="Omar Agent")
    db.commit()
    client = app.test_client()
    sign_in(client, user, membership)
    return client, user, operator


def test_a_failed_job_shows_on_the_operators_page_and_can_be_requeued(app, db, redis, operator_client):
    client, agent, operator = operator_client
    job = always_fails.enqueue("Serveur SMTP injoignable", connection=redis)
    run_jobs(redis)
    page = text(client.get("/operateur/taches/"))
    assert "Tâches de fond" in page
    assert job.id in page and "tests.jobs.sample_jobs.always_fails" in page
    assert "RuntimeError: Serveur SMTP injoignable" in page and "Relancer" in page
    assert "Aucun worker n'est en marche" in page

    response = client.post(f"/operateur/taches/{job.id}/relancer")
    assert response.status_code == 302 and response.headers["Location"] == "/operateur/taches/"
    page = text(client.get("/operateur/taches/"))
    assert "La tâche a été remise en file d'attente." in page and "Aucune tâche en échec." in page
    mail_queue = get_queue("mail", redis)
    assert job.id in mail_queue.job_ids
    assert Job.fetch(job.id, connection=redis).get_status() == "queued"
    event = db.scalars(select(AuditEvent).where(AuditEvent.event_type == OpsEvent.job_retried)).one()
    assert (event.actor_id, event.tenant_id, event.object_id) == (agent.id, operator.id, job.id)
    # Retrying a job that is no longer failed is a 404.
    assert client.post(f"/operateur/taches/{job.id}/relancer").status_code == 404


def test_the_operators_test_button_enqueues_a_ping(app, redis, operator_client):
    client, _, _ = operator_client
    response = client.post("/operateur/taches/tester")
    assert response.status_code == 302
    [job] = get_queue("default", redis).get_jobs()
    assert job.description == "marketplace.ops.tasks.ping"
    run_jobs(redis)
    assert Job.fetch(job.id, connection=redis).return_value() == "Le worker répond."


def test_the_jobs_page_answers_404_to_a_non_operator(app, client, db, redis):
    job = always_fails.enqueue("échec", connection=redis)
    run_jobs(redis)
    city = make_city(db, "36044")
    admin, membership = make_member(db, city, Role.admin)
    db.commit()
    assert client.get("/operateur/taches/").status_code == 302  # signed out: to the sign-in page
    sign_in(client, admin, membership)
    assert client.get("/operateur/taches/").status_code == 404
    assert client.post(f"/operateur/taches/{job.id}/relancer").status_code == 404
    assert client.post("/operateur/taches/tester").status_code == 404
    assert job.id in FailedJobRegistry(queue=get_queue("mail", redis)).get_job_ids()


# A real worker process ---------------------------------------------------------------------

def _worker_env(settings, database_url, redis_url) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SMTP_HOST")}
    env.update(PASSERELLE_HOME=str(settings.passerelle_home), DATABASE_URL=database_url, REDIS_URL=redis_url,
               SECRET_KEY="cle-du-test-worker", PYTHONPATH=str(ROOT))
    return env


@pytest.mark.slow
def test_a_burst_worker_builds_the_app_once_for_ten_jobs(tmp_path, fresh_database_url, redis, redis_url):
    from marketplace.core.settings import load_settings
    from tests.jobs.sample_jobs import uses_the_app

    settings = load_settings(passerelle_home=tmp_path / "instance", redis_url=redis_url,
                             database_url=fresh_database_url)
    for _ in range(10):
        uses_the_app.enqueue("runs", connection=redis)
    result = subprocess.run([str(Path(sys.executable).parent / "passerelle"), "worker", "--burst"], cwd=ROOT,
                            env=_worker_env(settings, fresh_database_url, redis_url), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(redis.get("runs")) == 10  # every job ran, each in its own work horse…
    output = result.stdout + result.stderr
    assert output.count("application Passerelle construite") == 1, output[-3000:]  # …on the app built once


@pytest.mark.slow
def test_a_real_worker_process_delivers_the_invitation_mail(tmp_path, fresh_database_url, redis, redis_url):
    from marketplace.app import create_app
    from marketplace.core.settings import load_settings

    settings = load_settings(passerelle_home=tmp_path / "instance", secret_key="cle-du-test-worker",
                             redis_url=redis_url, database_url=fresh_database_url,
                             base_url="http://passerelle.test")
    app = create_app(settings)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    try:
        session = app.extensions["passerelle"].session_factory()
        city = make_city(session, "36044")
        admin, membership = make_member(session, city, Role.admin, name="Anne Admin")
        session.commit()
        session.close()

        client = app.test_client()
        sign_in(client, admin, membership)
        response = client.post("/espace/membres", data={"email": "nina@chateauroux.test", "role": "member"})
        assert response.status_code == 302
        assert get_queue("mail", redis).count == 1
        assert outbox(settings) == []

        result = subprocess.run([str(Path(sys.executable).parent / "passerelle"), "worker", "--burst"], cwd=ROOT,
                                env=_worker_env(settings, fresh_database_url, redis_url), capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-3000:]

        [mail] = outbox(settings)
        assert mail.to == "nina@chateauroux.test"
        assert mail.subject == "Invitation à rejoindre Ville de Châteauroux sur Passerelle"
        assert "Anne Admin vous invite" in mail.body and "http://passerelle.test/invitation/" in mail.body
        assert get_queue("mail", redis).count == 0
    finally:
        app.extensions["passerelle"].engine.dispose()
