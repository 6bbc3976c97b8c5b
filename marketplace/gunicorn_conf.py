"""gunicorn's settings for Passerelle: ``gunicorn -c python:marketplace.gunicorn_conf wsgi:app``.

gunicorn answers some requests itself, before the application sees them (a request line or headers
too long, a malformed request): those answers are in French too, like the application's own pages.
The master also runs this node's search follower (below), and each worker sets Python's garbage
collector for a long-running server (``marketplace.core.collector``).
"""
from __future__ import annotations

import gc
import html
import os
import subprocess
import sys
import threading
import time

from gunicorn import util

from marketplace.core import collector

# The request line may be 4 094 bytes long (gunicorn's default); longer answers 414.
limit_request_line = 4094

_FRENCH = {
    400: ("Requête invalide", "La demande envoyée n'a pas pu être comprise."),
    403: ("Accès refusé", "Cette demande n'est pas acceptée."),
    414: ("Adresse trop longue", "L'adresse demandée est trop longue pour être traitée."),
    417: ("Attente impossible", "Le serveur ne peut pas répondre à cette attente."),
    431: ("En-têtes trop volumineux", "Les en-têtes de la demande sont trop volumineux."),
    500: ("Erreur inattendue", "Désolé, le service rencontre un problème. Nous y travaillons."),
    501: ("Non pris en charge", "Ce mode de transfert n'est pas pris en charge."),
}


def _write_error(sock, status_int, reason, mesg):
    title, text = _FRENCH.get(status_int, (reason, ""))
    body = (f'<!doctype html>\n<html lang="fr"><head><meta charset="utf-8"><title>{html.escape(title)} — Passerelle'
            f"</title></head><body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
            f"<p>Erreur {status_int}</p></body></html>\n").encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Language: fr\r\nContent-Length: {len(body)}\r\n\r\n").encode("latin-1")
    util.write_nonblock(sock, head + body)


util.write_error = _write_error


# The search index's follower -----------------------------------------------------------------------
# Each web node keeps its own index (PASSERELLE_HOME/search) in line with the change log in the
# database: one follower per gunicorn master, a child process started when the master is ready,
# started again if it dies, stopped with the master. ``passerelle run`` starts its own and sets
# PASSERELLE_SEARCH_FOLLOWER=off here; so does a deployment that runs ``passerelle search follow``
# under its supervisor.
FOLLOWER_ENV = "PASSERELLE_SEARCH_FOLLOWER"
FOLLOWER_RESTART_DELAYS = (1, 2, 5, 10, 30)  # seconds before each new start, then 30 s
_follower: dict = {}


def _start_follower(server) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "marketplace.cli", "search", "follow", "--parent",
                             str(os.getpid())], env=dict(os.environ), stdin=subprocess.DEVNULL)


def _watch_follower(server, stop: threading.Event) -> None:
    failures = 0
    while not stop.is_set():
        proc = _follower["proc"]
        # gunicorn's master reaps any child that exits (waitpid(-1)): poll() may then find no
        # child at all, which Popen reports as an exit too.
        if proc.poll() is None:
            failures = 0 if time.monotonic() - _follower["since"] > 600 else failures
            stop.wait(1.0)
            continue
        delay = FOLLOWER_RESTART_DELAYS[min(failures, len(FOLLOWER_RESTART_DELAYS) - 1)]
        server.log.warning("search follower exited (code %s): starting it again in %s s", proc.returncode, delay)
        failures += 1
        if stop.wait(delay):
            return
        _follower["proc"], _follower["since"] = _start_follower(server), time.monotonic()


def when_ready(server):
    if os.environ.get(FOLLOWER_ENV, "").lower() in ("off", "0", "non", "false"):
        return
    stop = threading.Event()
    _follower.update(proc=_start_follower(server), since=time.monotonic(), stop=stop)
    _follower["thread"] = threading.Thread(target=_watch_follower, args=(server, stop), name="search-follower",
                                           daemon=True)
    _follower["thread"].start()
    server.log.info("search follower started (pid %s)", _follower["proc"].pid)


def on_exit(server):
    if not _follower:
        return
    _follower["stop"].set()
    proc = _follower["proc"]
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


# The garbage collector -----------------------------------------------------------------------------
# Once a worker has built the app, what it holds is frozen; between two requests it is refreshed now
# and then (a full collection, then freeze again): the requests no longer pay for walking the heap.

def post_worker_init(worker):
    collector.settle()
    worker.collector = collector.Collector()
    worker.log.info("garbage collector: %s objects frozen", gc.get_freeze_count())


def post_request(worker, req, environ, resp):
    kept = getattr(worker, "collector", None)
    if kept is not None:
        kept.after_request()
