"""The nightly run in real worker processes: a worker killed with -9 in the middle of it, a new
worker started, and the matches are those of an uninterrupted run; the digest goes once."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from marketplace.core.clock import utcnow
from marketplace.mail.models import OutgoingMail
from marketplace.projects import store, tasks
from marketplace.projects.models import Project, ProjectContact, ProjectMatch
from tenants.models import Role
from tests.factories import make_city, make_member, make_programme

ROOT = Path(__file__).resolve().parent.parent.parent
PASSERELLE = str(Path(sys.executable).parent / "passerelle")
pytestmark = pytest.mark.slow
PROJECTS = 9000
CHUNK = 3000


def _env(settings, url, redis_url):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SMTP_HOST")}
    env.update(PASSERELLE_HOME=str(settings.passerelle_home), DATABASE_URL=url, REDIS_URL=redis_url,
               SECRET_KEY="cle-du-test-nuit", PYTHONPATH=str(ROOT))
    return env


def _snapshot(session):
    return sorted(session.execute(select(ProjectMatch.project_id, ProjectMatch.target, ProjectMatch.score,
                                         ProjectMatch.explanation, ProjectMatch.active)).all())


def test_a_worker_killed_in_the_nightly_run_loses_nothing(tmp_path, fresh_database_url, redis, redis_url):
    from marketplace.app import create_app
    from marketplace.core.settings import load_settings

    settings = load_settings(passerelle_home=tmp_path / "instance", secret_key="cle-du-test-nuit",
                             redis_url=redis_url, database_url=fresh_database_url)
    app = create_app(settings)
    with app.app_context():
        session = app.extensions["passerelle"].session_factory()
        make_programme(session, title="Rénovation énergétique des écoles", summary="Isolation des écoles.",
                       scope=(("include", "france", "FR"),), population_below=None)
        make_programme(session, title="Voirie communale", summary="Réfection des chaussées et trottoirs.",
                       scope=(("include", "france", "FR"),), population_below=None)
        cities = [make_city(session, insee) for insee in ("36088", "45155", "35360")]
        people = [make_member(session, city, Role.admin, email=f"contact{i}@ville.test")[0]
                  for i, city in enumerate(cities)]
        session.commit()
        now = utcnow()
        rows = [{"tenant_id": cities[i % 3].id, "title": ("Isolation de l'école" if i % 2 else "Réfection de la voirie")
                 + f" n° {i}", "description": "Travaux de la commune.", "themes": [],
                 "commune_insee": cities[i % 3].commune_insee, "cost_ht_cents": 10_000_000, "stage": "etude",
                 "status": "actif", "need_text": "", "created_at": now, "updated_at": now} for i in range(PROJECTS)]
        session.execute(Project.__table__.insert(), rows)
        ids = session.execute(select(Project.id, Project.tenant_id).order_by(Project.id)).all()
        by_tenant = {c.id: p.id for c, p in zip(cities, people, strict=True)}
        session.execute(ProjectContact.__table__.insert(),
                        [{"tenant_id": t, "project_id": p, "user_id": by_tenant[t]} for p, t in ids[:30]])
        session.commit()

        tasks.nightly.enqueue(CHUNK, connection=redis)
        log = open(tmp_path / "worker.log", "w")  # a file, not a pipe: a full pipe would stall the worker
        worker = subprocess.Popen([PASSERELLE, "worker", "--queues", "matching"], cwd=ROOT, env=_env(
            settings, fresh_database_url, redis_url), stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            # Wait until the first chunk is written and a later one has started, then kill the worker.
            # (The first chunk's own id may still be in the started registry while the worker records
            # its success: a kill then would leave nothing running to take back.)
            deadline = time.monotonic() + 120
            from rq.registry import StartedJobRegistry

            from jobs import get_queue
            started = StartedJobRegistry(queue=get_queue("matching", redis))
            first_chunk = f"-{ids[0][0]}"
            while time.monotonic() < deadline:
                session.rollback()  # a new snapshot each time
                written = session.scalar(select(func.count()).select_from(ProjectMatch))
                running = [j for j in started.get_job_ids() if j.startswith("matching-") and not j.endswith(first_chunk)]
                if written and running:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the nightly run did not reach its second chunk:\n"
                            + (tmp_path / "worker.log").read_text()[-3000:])
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
        finally:
            if worker.poll() is None:
                worker.kill()
            log.close()
        session.rollback()
        half = session.scalar(select(func.count(func.distinct(ProjectMatch.project_id))))
        assert 0 < half < PROJECTS  # killed in the middle

        restarted = subprocess.run([PASSERELLE, "worker", "--burst", "--queues", "matching"], cwd=ROOT,
                                   env=_env(settings, fresh_database_url, redis_url), capture_output=True, text=True,
                                   timeout=300)
        assert restarted.returncode == 0, restarted.stderr[-3000:]
        # The killed chunk was taken back.
        assert "reprise" in restarted.stdout + restarted.stderr, (
            f"killed while running {running}; killed worker's log:\n{(tmp_path / 'worker.log').read_text()[-2000:]}"
            f"\nrestarted worker:\n{restarted.stderr[-2000:]}")
        session.rollback()
        resumed = _snapshot(session)
        assert len({(p, t) for p, t, *_ in resumed}) == len(resumed)  # one row per pair
        assert len({p for p, *_ in resumed}) == PROJECTS

        # The same as an uninterrupted run (done again here, in one go).
        for first, last in store.nightly_chunks(session, CHUNK):
            store.match_range(session, first, last)
        session.commit()
        assert _snapshot(session) == resumed

        # The digest: each contact once, however often it runs.
        assert [tasks.send_digests() for _ in range(2)] == [3, 0]
        session.rollback()
        mails = session.scalars(select(OutgoingMail.to).where(OutgoingMail.subject.like("%pour vos projets"))
                                .order_by(OutgoingMail.to)).all()
        assert mails == [f"contact{i}@ville.test" for i in range(3)]
        session.close()
