"""What each page of the load mix costs inside one web process: CPU per request, SQL statements,
size. Run by ``bench/load.py --pages N`` in the stack's own environment (its database, Redis,
search index and settings), after the stack is ready:

    .venv/bin/python bench/load.py --duration 0 --pages 20

Each persona signs in once, as the manifest's first account of its kind, through the real form
(Flask's test client: no network, no gunicorn); then each of its pages is asked ``WARM`` times
(caches filled, as in a worker that has served for a while) and ``N`` times measured with
``time.process_time``: the web process's own CPU, without PostgreSQL's. The mean over the mix
weights each page by its share of the requests (``bench/load_pages.py``); it is what one gunicorn
worker spends per request of the mix, less gunicorn's own ≈ 1 ms (a connection per request).
Contribution = share × CPU: the pages to work on first. Pages are rendered for every request
(``PAGE_CACHE_SECONDS=0`` unless PAGES_KEPT is set): a visitor's page kept in Redis would hide what
rendering it costs, which is what this measure is for. The process sets its garbage collector as
a gunicorn worker does (``marketplace.core.collector``: frozen once the app is built, refreshed
between requests) and prints, over every request it served (warm-up included), their mean CPU and
the collector's part of it. The last line is
``pages=… mean_cpu_ms=… mean_queries=… served_cpu_ms=… gc_ms=… costliest_page=…``.

Environment: LOAD_MANIFEST (the seed's manifest), PAGES_N (20), PAGES_WARM (5), PAGES_ONLY (a
regular expression on the pages' names), PAGES_SQL (non-empty: print each page's statements once),
PAGES_KEPT (non-empty: visitors' pages kept as the stack keeps them), PAGES_GC (``defaults``: keep
Python's collector settings, to compare with the workers' own),
PAGES_PROFILE (a file: profiles the measured requests with cProfile on the CPU clock, weighted as
the mix weights them, writes the stats there and prints the functions that cost most, by own time
and in all).
"""
from __future__ import annotations

import cProfile
import gc
import os
import pstats
import re
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from bench import load_pages  # noqa: E402


class Statements:
    """SQL statements sent by this process (every engine)."""

    def __init__(self):
        self.count = 0
        self.shown: list[str] | None = None
        event.listen(Engine, "before_cursor_execute", self._one)

    def _one(self, conn, cursor, statement, *_):
        self.count += 1
        if self.shown is not None:
            self.shown.append(" ".join(statement.split())[:200])


class Served:
    """Every request the process served (warm-up and sign-ins included): their CPU, and the part
    of it spent in Python's garbage collector (every generation)."""

    def __init__(self):
        self.requests, self.cpu_seconds, self.gc_seconds, self._gc_started = 0, 0.0, 0.0, 0.0
        gc.callbacks.append(self._collection)

    def _collection(self, phase, info):
        if phase == "start":
            self._gc_started = time.process_time()
        else:
            self.gc_seconds += time.process_time() - self._gc_started

    def per_request_ms(self) -> tuple[float, float]:
        n = max(1, self.requests)
        return self.cpu_seconds * 1000 / n, self.gc_seconds * 1000 / n


def signed_in_client(app, email: str | None):
    client = app.test_client()
    if email is None:
        return client
    page = client.get("/connexion")
    found = load_pages.CSRF.search(page.get_data(as_text=True))
    if not found:
        raise SystemExit("jeton CSRF introuvable sur /connexion")
    answer = client.post("/connexion", data={"email": email, "password": load_pages.MANIFEST["password"],
                                              "csrf_token": found.group(1) or found.group(2), "next": ""})
    if answer.status_code not in (302, 303) or "connexion" in answer.headers.get("Location", ""):
        raise SystemExit(f"connexion refusée pour {email} : HTTP {answer.status_code}")
    return client


def _largest_share() -> float:
    return max(persona.share * w / sum(x for x, _, _ in persona.pages)
               for persona in load_pages.PERSONAS for w, _, _ in persona.pages)


def measure(app, n: int, warm: int, only: str | None, show_sql: bool = False, profiler=None) -> list[dict]:
    statements = Statements()
    rows = []
    largest = _largest_share()
    for persona in load_pages.PERSONAS:
        account = load_pages.MANIFEST[persona.accounts][0] if persona.accounts else None
        person = SimpleNamespace(account=account)
        client = signed_in_client(app, account["email"] if account else None)
        pages = persona.pages
        if persona is load_pages.OPERATOR and client.get(load_pages.MODERATION_PROBE).status_code != 200:
            pages = load_pages.FUNDER_PAGES
        weights = sum(w for w, _, _ in pages)
        for weight, name, path in pages:
            if only and not re.search(only, name):
                continue
            for _ in range(warm):
                client.get(path(person))
            cpu, queries, size = [], [], 0
            if show_sql:
                statements.shown = []
                client.get(path(person))
                print(f"{persona.name} {name} :", *statements.shown, sep="\n    ")
                statements.shown = None
            # The profile sees each page in proportion to its part of the mix (the largest n times).
            profiled = max(1, round(n * persona.share * weight / weights / largest)) if profiler else 0
            for i in range(n):
                url = path(person)
                if i < profiled:
                    profiler.enable()
                before, started = statements.count, time.process_time()
                answer = client.get(url)
                cpu.append((time.process_time() - started) * 1000)
                if i < profiled:
                    profiler.disable()
                queries.append(statements.count - before)
                if answer.status_code != 200:
                    raise SystemExit(f"{url} : HTTP {answer.status_code}")
                size = max(size, len(answer.get_data()))
            rows.append({"persona": persona.name, "page": name, "share": persona.share * weight / weights,
                         "cpu_ms": statistics.median(cpu), "cpu_p95_ms": sorted(cpu)[int(len(cpu) * 0.95)],
                         "queries": statistics.median(queries), "kb": size / 1024})
    total = sum(r["share"] for r in rows) or 1
    for r in rows:
        r["share"] /= total
        r["contribution_ms"] = r["share"] * r["cpu_ms"]
    return sorted(rows, key=lambda r: -r["contribution_ms"])


def report(rows: list[dict], served_ms: float = 0.0, gc_ms: float = 0.0) -> str:
    print(f"{'personne':10} {'page':44} {'part':>6} {'CPU p50':>8} {'p95':>7} {'requêtes SQL':>13} {'taille':>8} {'apport':>8}")
    for r in rows:
        print(f"{r['persona']:10} {r['page']:44} {r['share'] * 100:5.1f}% {r['cpu_ms']:7.1f}  {r['cpu_p95_ms']:6.1f} "
              f"{r['queries']:13.0f} {r['kb']:6.0f} ko {r['contribution_ms']:6.2f} ms")
    mean = sum(r["contribution_ms"] for r in rows)
    queries = sum(r["share"] * r["queries"] for r in rows)
    print(f"(CPU du processus web en ms, médiane et p95 ; « apport » : part × CPU, leur somme est le CPU moyen "
          f"d'une requête du mélange : {mean:.2f} ms, {queries:.1f} requêtes SQL)")
    costliest = rows[0]["page"] if rows else ""
    print(f"(toutes les requêtes servies, mise en route comprise : {served_ms:.2f} ms de CPU en moyenne, dont "
          f"{gc_ms:.2f} ms au ramasse-miettes de Python)")
    return (f"pages={len(rows)} mean_cpu_ms={mean:.2f} mean_queries={queries:.1f} served_cpu_ms={served_ms:.2f} "
            f"gc_ms={gc_ms:.2f} "
            f"costliest_page={costliest.replace(' ', '_')}")


def main() -> int:
    from marketplace.core import collector

    if not os.environ.get("PAGES_KEPT"):
        os.environ["PAGE_CACHE_SECONDS"] = "0"
    from wsgi import app  # the stack's settings come from the environment bench/load.py gives

    # As a gunicorn worker (marketplace/gunicorn_conf.py): the heap frozen once the app is built,
    # refreshed between requests; PAGES_GC=defaults keeps Python's defaults, to compare.
    kept = None
    if os.environ.get("PAGES_GC") != "defaults":
        collector.settle()
        kept = collector.Collector()
    served, serve = Served(), app.wsgi_app

    def counted(environ, start_response):
        started = time.process_time()
        try:
            return serve(environ, start_response)
        finally:
            served.requests += 1
            served.cpu_seconds += time.process_time() - started
            if kept is not None:
                kept.after_request()

    app.wsgi_app = counted

    profile_to = os.environ.get("PAGES_PROFILE")
    # On the process's CPU clock, as the figures: by the wall clock, the waits for PostgreSQL's
    # answers would look like the statements' cost.
    profiler = cProfile.Profile(time.process_time) if profile_to else None
    rows = measure(app, int(os.environ.get("PAGES_N", "20")), int(os.environ.get("PAGES_WARM", "5")),
                   os.environ.get("PAGES_ONLY") or None, bool(os.environ.get("PAGES_SQL")), profiler)
    if profiler:
        profiler.dump_stats(profile_to)
        for order in ("tottime", "cumulative"):
            pstats.Stats(profile_to).sort_stats(order).print_stats(40)
    print(report(rows, *served.per_request_ms()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
