"""Load benchmark: the production stack on a production-volume PostgreSQL, driven by the personas'
journeys at a fixed arrival rate.

    .venv/bin/python bench/load.py [--rate 200] [--duration 180] [--scale 1.0] [--web-workers 4]
                                   [--rq-workers 2] [--reseed] [--keep] [--pages N]

What it does, from a clone where ``make test`` has installed PostgreSQL and Redis:

1. A throwaway PostgreSQL cluster (a user process on 127.0.0.1, run as ``nobody`` when started as
   root, like tests/run.sh) kept in ``.bench/scale-<scale>/`` between runs: the first run seeds it
   with ``bench.volume.seed`` (the production-volume dataset and its manifest), later runs reuse
   it; ``--reseed`` builds it again. fsync, synchronous_commit and full_page_writes are off: the
   bench measures the product's queries, not the disk's flushes (a crash can lose the cluster;
   ``--reseed`` makes another).
2. A Redis server and the production stack as the README's Configuration section runs it, in
   production mode (DATABASE_URL, REDIS_URL, SECRET_KEY): ``passerelle db upgrade``, then
   ``gunicorn -c python:marketplace.gunicorn_conf wsgi:app`` with N workers (its master runs the
   search follower), N ``passerelle worker`` and one ``passerelle cron``. Only the sign-in rate is
   raised (SIGN_IN_RATE): every simulated person signs in from 127.0.0.1. The search index lives
   with the cluster; it is built by ``passerelle search reindex`` when missing, and the bench waits
   until the follower has caught up and the site answers.
3. Locust (one process, FastHttpUser; ``bench/load_mix.py``) drives the mix for a warm-up (sign-ins,
   not counted) then ``--duration`` seconds. Arrivals are scheduled: each simulated user has fixed
   start times (every ``users / rate`` seconds, with its own phase), so the total is ``--rate``
   requests/s whatever the answer times, as long as an answer takes less than that period (2 s at
   the defaults); a request that starts late is counted as late and reported.
4. Prints per page and overall: requests, p50, p95, p99, errors and the achieved rate, the CPU each
   part of the stack used, and the SQL statements that took PostgreSQL the most time
   (pg_stat_statements); writes the tables to the run's folder (``.bench/runs/<time>/pages.csv``,
   ``statements.csv`` and ``results.json``, with the servers' logs), and stops everything it
   started, Ctrl-C and errors included. The last line is
   ``rate=… p95_ms=… p99_ms=… errors=… slowest_page=…``.

``--pages N`` first measures each page's CPU inside one web process (``bench/pages.py``: N
requests a page, the stack's database and index, no network), the mean weighted by the mix; with
``--duration 0`` it is all the run does.

``--keep`` leaves the stack running after the measure (``--duration 0`` skips it) and prints its
address and accounts, for profiling; Ctrl-C then stops it.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

VENV_BIN = Path(sys.executable).parent
BENCH_DIR = REPO / ".bench"
PG_DATABASE = "passerelle"
PG_USER = "app"
# A sign-in form per simulated person, all from 127.0.0.1: far above what the mix sends.
SIGN_IN_RATE = "100000/minute"


class Stopped(Exception):
    """SIGTERM or SIGHUP: stop like Ctrl-C does."""


def _raise_stopped(*_):
    raise Stopped()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# Processes -----------------------------------------------------------------------------------------

class Stack:
    """Everything the bench starts, stopped in reverse order whatever happens."""

    def __init__(self, work: Path):
        self.work = work
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.pg: Postgres | None = None

    def spawn(self, name: str, args: list[str], env: dict, *, log_name: str | None = None) -> subprocess.Popen:
        out = open(self.work / f"{log_name or name}.log", "ab")
        # Its own process group: what it forks (gunicorn's workers and follower, RQ's work horses)
        # is stopped with it, and Ctrl-C in the terminal reaches only this script.
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                process_group=0, cwd=REPO)
        out.close()
        self.children.append((name, proc))
        return proc

    def check_alive(self) -> None:
        for name, proc in self.children:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} stopped (code {proc.returncode}): see {self.work / (name + '.log')}")

    def stop(self) -> None:
        # The product's processes first, then Redis (a worker stopping still talks to it), then PostgreSQL.
        product = [c for c in self.children if c[0] != "redis"]
        for group in (product, [c for c in self.children if c[0] == "redis"]):
            for _name, proc in reversed(group):
                _signal_group(proc, signal.SIGTERM)
            deadline = time.monotonic() + 15
            for _name, proc in reversed(group):
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
                # Whatever the group still holds (a work horse, a follower) goes too.
                _signal_group(proc, signal.SIGKILL)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        self.children.clear()
        if self.pg is not None:
            self.pg.stop()
            self.pg = None


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


class Postgres:
    """A cluster in ``data``, run as a user process (as ``nobody`` when we are root: initdb refuses root)."""

    def __init__(self, data: Path):
        self.data = data
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: [int(x) for x in p.parent.name.split(".")
                                                                                  if x.isdigit()])
        if not bins:
            raise SystemExit("PostgreSQL est introuvable (/usr/lib/postgresql/*/bin) : lancez « make test » "
                             "qui installe le paquet postgresql.")
        self.bin = bins[-1]
        self.port = 0

    def _run(self, *args, check=True, **kw) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if os.getuid() == 0:
            cmd = ["runuser", "-u", "nobody", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, **kw)

    def exists(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def init(self) -> None:
        if self.data.exists():
            shutil.rmtree(self.data)
        self.data.mkdir(parents=True)
        if os.getuid() == 0:
            shutil.chown(self.data, "nobody")
            # nobody must reach the cluster's folder through ours.
            for parent in self.data.parents:
                if parent == REPO.parent:
                    break
                parent.chmod(parent.stat().st_mode | 0o005)
        self._run("initdb", "-D", str(self.data), "-U", PG_USER, "--auth=trust", "--no-sync", "-E", "UTF8",
                  "--locale=C.UTF-8")

    def start(self) -> str:
        if (self.data / "postmaster.pid").exists():
            # A previous run killed without its clean-up left the server running (or its pid file).
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)
            (self.data / "postmaster.pid").unlink(missing_ok=True)
        self.port = free_port()
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data} -c max_connections=200 "
                   # Benchmark settings: no flush to disk (durability is not what is measured).
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   # Sized like a small production server's, not the packaged 128 MB.
                   "-c shared_buffers=1GB -c effective_cache_size=4GB -c work_mem=16MB "
                   "-c maintenance_work_mem=256MB -c max_wal_size=4GB -c checkpoint_timeout=30min "
                   # What each statement cost the server during the run (printed at the end).
                   "-c shared_preload_libraries=pg_stat_statements")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "server.log"), "-w", "-t", "120", "start",
                  "-o", options)
        return self.url()

    def url(self, database: str = PG_DATABASE) -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> None:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, PG_DATABASE)

    def stop(self) -> None:
        if self.port:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)
            self.port = 0


class CpuMeter:
    """CPU seconds used so far by each part of the stack (the process trees it started, PostgreSQL's
    server processes): on a machine shared with other work, what the stack itself spends per request
    says more than its latencies alone."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.samples: list[tuple[float, dict[str, float]]] = []
        self._seen: dict[int, tuple[str, float]] = {}  # pid → (part, its last CPU seconds): the dead still count

    @staticmethod
    def part(name: str) -> str:
        return "rq+cron" if name.startswith(("worker", "cron")) else name

    def sample(self) -> None:
        import psutil

        roots = [(self.part(name), proc.pid) for name, proc in self.stack.children]
        if self.stack.pg is not None and (self.stack.pg.data / "postmaster.pid").exists():
            roots.append(("postgres", int((self.stack.pg.data / "postmaster.pid").read_text().split()[0])))
        for part, pid in roots:
            try:
                root = psutil.Process(pid)
                for p in [root, *root.children(recursive=True)]:
                    try:
                        t = p.cpu_times()
                        self._seen[p.pid] = (part, t.user + t.system)
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
        totals: dict[str, float] = {}
        for part, seconds in self._seen.values():
            totals[part] = totals.get(part, 0.0) + seconds
        self.samples.append((time.time(), totals))

    def between(self, start: float, end: float) -> dict[str, float]:
        """Cores used on average by each part between two times (the nearest samples)."""
        if len(self.samples) < 2:
            return {}
        a = min(self.samples, key=lambda s: abs(s[0] - start))
        b = min(self.samples, key=lambda s: abs(s[0] - end))
        if b[0] <= a[0]:
            return {}
        return {part: round((b[1].get(part, 0.0) - a[1].get(part, 0.0)) / (b[0] - a[0]), 2) for part in b[1]}


# The seeded cluster ---------------------------------------------------------------------------------

def seed_fingerprint() -> str:
    path = REPO / "bench" / "volume.py"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.exists() else "absent"


def prepare_cluster(stack: Stack, cache: Path, scale: float, reseed: bool) -> tuple[str, dict]:
    pg = Postgres(cache / "pg")
    stamp_path, manifest_path = cache / "seeded.json", cache / "manifest.json"
    stamp = json.loads(stamp_path.read_text()) if stamp_path.exists() else None
    if reseed or stamp is None or not pg.exists() or not manifest_path.exists():
        log(f"Nouvelle base PostgreSQL ({cache.relative_to(REPO)}), données de volume à l'échelle {scale}")
        stamp_path.unlink(missing_ok=True)
        shutil.rmtree(cache / "home", ignore_errors=True)  # the search index of the old data
        pg.init()
        stack.pg = pg
        url = pg.start()
        pg.create_database()
        from bench.volume import seed  # the production-volume dataset (bench/volume.py)

        started = time.perf_counter()
        report = seed(url, scale=scale, manifest=manifest_path, log=lambda m: log(f"  seed: {m}"))
        seconds = time.perf_counter() - started
        log(f"Données créées en {seconds:.0f} s")
        stamp_path.write_text(json.dumps({"scale": scale, "volume_py": seed_fingerprint(), "seconds": round(seconds, 1),
                                          "at": dt.datetime.now().isoformat(timespec="seconds"),
                                          "counts": report.get("counts"), "timings_s": report.get("timings_s")},
                                         default=str, indent=1))
    else:
        if stamp.get("volume_py") != seed_fingerprint():
            log("bench/volume.py a changé depuis ces données : --reseed pour les refaire")
        log(f"Base PostgreSQL déjà peuplée reprise ({cache.relative_to(REPO)}, créée le {stamp.get('at')}) ; "
            "--reseed pour la refaire")
        stack.pg = pg
        url = pg.start()
    return url, json.loads(manifest_path.read_text())


# The production stack -------------------------------------------------------------------------------

def production_env(home: Path, database_url: str, redis_url: str, port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PASSERELLE_", "STRIPE_", "SMTP_"))}
    env.update(
        PASSERELLE_MODE="production",
        PASSERELLE_HOME=str(home),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY=secrets.token_urlsafe(48),
        BASE_URL=f"http://127.0.0.1:{port}",
        PORT=str(port),
        SIGN_IN_RATE=SIGN_IN_RATE,
        PYTHONUNBUFFERED="1",
    )
    return env


def passerelle(*args: str) -> list[str]:
    return [sys.executable, "-m", "marketplace.cli", *args]


def run_step(args: list[str], env: dict, work: Path, name: str) -> str:
    started = time.perf_counter()
    result = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    (work / f"{name}.log").write_text(result.stdout + result.stderr)
    if result.returncode:
        raise RuntimeError(f"{' '.join(args[2:])} failed (code {result.returncode}):\n{result.stderr[-3000:]}")
    log(f"  {' '.join(args[2:])} : {time.perf_counter() - started:.1f} s")
    return result.stdout


def start_redis(stack: Stack) -> str:
    port = free_port()
    stack.spawn("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--dir", str(stack.work)], dict(os.environ))
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return f"redis://127.0.0.1:{port}/0"
        except OSError:
            pass
        stack.check_alive()
        time.sleep(0.1)
    raise RuntimeError("Redis ne répond pas")


def start_production(stack: Stack, env: dict, port: int, web_workers: int, rq_workers: int) -> None:
    log("Migrations et index de recherche")
    run_step(passerelle("db", "upgrade"), env, stack.work, "db-upgrade")
    status = run_step(passerelle("search", "status"), env, stack.work, "search-status")
    if status.startswith("indisponible"):
        run_step(passerelle("search", "reindex"), env, stack.work, "search-reindex")
    log(f"Démarrage : gunicorn ({web_workers} workers), {rq_workers} worker(s) RQ, cron")
    stack.spawn("gunicorn", [sys.executable, "-m", "gunicorn", "-c", "python:marketplace.gunicorn_conf", "wsgi:app",
                             "--bind", f"127.0.0.1:{port}", "--workers", str(web_workers), "--graceful-timeout", "5",
                             "--error-logfile", "-"], env)
    for n in range(rq_workers):
        stack.spawn(f"worker-{n + 1}", passerelle("worker", "--name", f"bench-{os.getpid()}-{n + 1}"), env)
    stack.spawn("cron", passerelle("cron"), env)


def wait_until_ready(stack: Stack, env: dict, port: int, timeout: float = 900) -> None:
    """The site answers and this node's index has caught up with the change log."""
    deadline = time.monotonic() + timeout
    while True:
        stack.check_alive()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
                if r.status == 200:
                    break
        except (OSError, urllib.error.HTTPError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("le site ne répond pas")
        time.sleep(0.5)
    while True:
        stack.check_alive()
        out = subprocess.run(passerelle("search", "status"), env=env, cwd=REPO, capture_output=True, text=True).stdout
        if out.startswith("disponible") and "reconstruction en cours" not in out and " à jour" in out:
            log(f"Index prêt : {' '.join(out.split())}")
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"l'index n'est pas prêt : {out}")
        time.sleep(3)


# The measure ----------------------------------------------------------------------------------------

def _psycopg_url(database_url: str) -> str:
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


def reset_statements(database_url: str) -> bool:
    """Start PostgreSQL's per-statement counters from zero (pg_stat_statements); False when the
    extension cannot be had (the run goes on without the SQL table)."""
    try:
        with psycopg.connect(_psycopg_url(database_url), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.execute("SELECT pg_stat_statements_reset()")
        return True
    except psycopg.Error as e:
        log(f"pg_stat_statements indisponible, pas de tableau des requêtes SQL : {str(e).strip()[:200]}")
        return False


_COLUMNS = re.compile(r"^SELECT .+? FROM ", re.DOTALL)


def top_statements(database_url: str, limit: int = 50) -> list[dict]:
    """The statements that took PostgreSQL the most time since the reset, the most first."""
    with psycopg.connect(_psycopg_url(database_url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT calls, total_exec_time, mean_exec_time, query FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "ORDER BY total_exec_time DESC LIMIT %s", (limit,)).fetchall()
    return [{"calls": calls, "total_ms": round(total, 1), "mean_ms": round(mean, 3),
             "query": _COLUMNS.sub("SELECT … FROM ", " ".join(query.split()))} for calls, total, mean, query in rows]


def report_statements(statements: list[dict], work: Path, shown: int = 8) -> None:
    if not statements:
        return
    with open(work / "statements.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["calls", "total_ms", "mean_ms", "query"])
        writer.writeheader()
        writer.writerows(statements)
    print("Requêtes SQL qui ont pris le plus de temps à PostgreSQL (mise en route comprise) :")
    for s in statements[:shown]:
        print(f"  {s['total_ms'] / 1000:7.1f} s  {s['calls']:>7} appels  {s['mean_ms']:8.3f} ms  {s['query'][:150]}")
    print(f"  (toutes : {work.relative_to(REPO)}/statements.csv)")


def run_locust(stack: Stack, port: int, manifest_path: Path, rate: float, duration: float, warmup: float,
               users: int) -> dict:
    out = stack.work / "samples.json"
    env = dict(os.environ, LOAD_MANIFEST=str(manifest_path), LOAD_RATE=str(rate), LOAD_USERS=str(users),
               LOAD_WARMUP=str(warmup), LOAD_DURATION=str(duration), LOAD_OUT=str(out))
    # Users are all started in the first half of the warm-up (they sign in there).
    spawn_rate = max(1.0, users / max(1.0, warmup / 2))
    args = [str(VENV_BIN / "locust"), "-f", str(REPO / "bench" / "load_mix.py"), "--headless", "--only-summary",
            "--host", f"http://127.0.0.1:{port}", "-u", str(users), "-r", f"{spawn_rate:.2f}",
            # The locust file stops the test after the measure; this is only a bound (sign-ins may lengthen
            # the warm-up by two minutes at most).
            "-t", f"{int(warmup + 120 + duration + 15)}s", "--stop-timeout", "5", "--loglevel", "WARNING"]
    log(f"Charge : {rate:g} requêtes/s, {users} utilisateurs simulés, {warmup:g} s de mise en route au moins "
        f"(jusqu'à ce que tous soient connectés) puis {duration:g} s mesurées")
    proc = stack.spawn("locust", args, env)
    meter = CpuMeter(stack)
    while proc.poll() is None:
        stack.check_alive()
        meter.sample()
        time.sleep(1)
    if not out.exists():
        raise RuntimeError(f"Locust s'est arrêté sans résultats (code {proc.returncode}) : "
                           f"{stack.work / 'locust.log'}")
    stack.children.remove(("locust", proc))
    samples = json.loads(out.read_text())
    samples["cpu_cores"] = meter.between(*samples["window"])
    return samples


def measure_pages(env: dict, manifest_path: Path, n: int) -> None:
    """Each page's CPU inside one web process, on the stack's database and index (bench/pages.py)."""
    log(f"CPU de chaque page dans un processus web ({n} mesures par page, après 5 de mise en route)")
    subprocess.run([sys.executable, str(REPO / "bench" / "pages.py")], cwd=REPO, check=True,
                   env=dict(env, LOAD_MANIFEST=str(manifest_path), PAGES_N=str(n)))


def percentile(sorted_ms: list[float], q: float) -> float:
    """Nearest rank: the smallest sample at or above q of them."""
    if not sorted_ms:
        return 0.0
    rank = max(1, min(len(sorted_ms), -(-len(sorted_ms) * q // 100)))
    return sorted_ms[int(rank) - 1]


def summarise(samples: dict) -> tuple[list[dict], dict]:
    window = samples["window_s"]
    rows = []
    every: list[float] = []
    for name, page in sorted(samples["pages"].items()):
        ms = sorted(page["ms"])
        every.extend(ms)
        rows.append(dict(page=name, requests=len(ms), rate=round(len(ms) / window, 1), total_ms=sum(ms),
                         p50_ms=round(percentile(ms, 50), 1), p95_ms=round(percentile(ms, 95), 1),
                         p99_ms=round(percentile(ms, 99), 1), max_ms=round(ms[-1], 1) if ms else 0.0,
                         errors=page["errors"], error_samples=page["error_samples"], kept=page.get("kept", 0)))
    every.sort()
    # Each page's part of the time spent answering: where a fix gains most (below saturation, where the
    # times are the servers' work and not a queue).
    spent = sum(r["total_ms"] for r in rows) or 1.0
    for r in rows:
        r["time_share_pct"] = round(100 * r.pop("total_ms") / spent, 1)
    # The measured window in slices: a stall or a slow start shows as one slice, not as a spread.
    step = 30 if window >= 90 else 10
    slices: dict[int, list[float]] = {}
    for page in samples["pages"].values():
        for at, ms in zip(page["at"], page["ms"]):
            slices.setdefault(int(at // step), []).append(ms)
    timeline = [dict(from_s=k * step, requests=len(v), rate=round(len(v) / step, 1),
                     p50_ms=round(percentile(sorted(v), 50), 1), p95_ms=round(percentile(sorted(v), 95), 1))
                for k, v in sorted(slices.items())]
    overall = dict(page="(toutes)", requests=len(every), rate=round(len(every) / window, 1),
                   p50_ms=round(percentile(every, 50), 1), p95_ms=round(percentile(every, 95), 1),
                   p99_ms=round(percentile(every, 99), 1), max_ms=round(every[-1], 1) if every else 0.0,
                   # A refused sign-in is an error too: that person sent nothing after it.
                   errors=sum(r["errors"] for r in rows) + samples["sign_in"]["errors"],
                   late=samples["late"], late_max_s=samples["late_max_s"], timeline=timeline)
    return rows, overall


def report(rows: list[dict], overall: dict, samples: dict, work: Path, meta: dict) -> str:
    fields = ["page", "requests", "rate", "p50_ms", "p95_ms", "p99_ms", "max_ms", "errors", "time_share_pct"]
    width = max([len(r["page"]) for r in rows] + [20])
    head = (f"{'page':<{width}} {'req':>7} {'req/s':>6} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} {'err':>5} "
            f"{'temps':>6}")
    print("\n" + head + "\n" + "-" * len(head))
    for r in sorted(rows, key=lambda r: -r["p95_ms"]) + [overall]:
        if r is overall:
            print("-" * len(head))
        share = f"{r['time_share_pct']:>5}%" if "time_share_pct" in r else f"{'100':>5}%"
        print(f"{r['page']:<{width}} {r['requests']:>7} {r['rate']:>6} {r['p50_ms']:>7} {r['p95_ms']:>7} "
              f"{r['p99_ms']:>7} {r['max_ms']:>7} {r['errors']:>5} {share}")
    print("(en ms ; trié par p95 ; « temps » : part de chaque page dans le temps passé à répondre)")
    print("Par tranche : " + " | ".join(f"{t['from_s']}s {t['rate']}/s p50 {t['p50_ms']:.0f} p95 {t['p95_ms']:.0f}"
                                        for t in overall["timeline"]))
    print(f"Mise en route : {samples['warmup_s']:g} s ; mesure : {samples['window_s']:g} s, "
          f"{samples['users']} personnes simulées, une requête toutes les {samples['period_s']:g} s chacune")
    sign_in = sorted(samples["sign_in"]["ms"])
    print(f"Connexions (mise en route, non comptées) : {len(sign_in)}, p50 {percentile(sign_in, 50):.0f} ms, "
          f"p95 {percentile(sign_in, 95):.0f} ms, erreurs {samples['sign_in']['errors']}")
    cores = samples.get("cpu_cores") or {}
    if cores:
        total = sum(cores.values())
        per_request = total * 1000 / overall["rate"] if overall["rate"] else 0
        overall["cpu_cores"], overall["cpu_ms_per_request"] = cores, round(per_request, 1)
        print("CPU pendant la mesure (cœurs) : " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(cores.items()))
              + f" ; total {total:.2f} sur {os.cpu_count()}, soit {per_request:.1f} ms de CPU par requête")
    asked = samples["rate"]
    if overall["rate"] < 0.95 * asked:
        print(f"Débit atteint {overall['rate']}/s sur {asked:g}/s demandées : le site est saturé, les temps mesurent "
              "surtout l'attente (un délai de 30 s est une erreur).")
    if overall["late"]:
        print(f"Requêtes parties en retard sur leur horaire : {overall['late']} (au plus {overall['late_max_s']:.2f} s)")
    kept = [r for r in rows if r["kept"]]
    if kept:
        total_kept = sum(r["kept"] for r in kept)
        print(f"Servies depuis les pages gardées pour les visiteurs : {total_kept} requêtes, "
              f"{100 * total_kept / max(1, overall['requests']):.1f} % du mélange ("
              + ", ".join(f"{r['page']} {100 * r['kept'] / r['requests']:.0f} %" for r in sorted(kept, key=lambda r: -r["kept"]))
              + ")")
    for r in rows:
        for message, count in r["error_samples"].items():
            print(f"Erreur {r['page']} ×{count} : {message}")
    for message, count in samples["sign_in"]["error_samples"].items():
        print(f"Erreur connexion ×{count} : {message}")
    with open(work / "pages.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows + [overall])
    (work / "results.json").write_text(json.dumps({"meta": meta, "overall": overall, "pages": rows}, indent=1,
                                                  ensure_ascii=False))
    slowest = max(rows, key=lambda r: r["p95_ms"])["page"] if rows else "-"
    deaths = worker_deaths(work)
    for line in deaths:
        print(f"Worker gunicorn mort pendant l'essai (relancé par gunicorn, ses requêtes en cours perdues) : {line}")
    print(f"Tableau : {work.relative_to(REPO)}/pages.csv et results.json")
    return (f"rate={overall['rate']} p95_ms={overall['p95_ms']} p99_ms={overall['p99_ms']} "
            f"errors={overall['errors']} slowest_page={slowest.replace(' ', '_')} worker_deaths={len(deaths)}")


def kept_pages(redis_url: str) -> tuple[int, int]:
    """The public content version and the number of pages kept for visitors, in the stack's Redis."""
    from redis import Redis

    from marketplace.web.pagecache import page_prefix, version_key

    conn = Redis.from_url(redis_url)
    try:  # the stack's Redis serves one site, whatever its name in the keys
        version = sum(int(conn.get(k) or 0) for k in conn.scan_iter(version_key("*"), count=1000))
        return version, sum(1 for _ in conn.scan_iter(page_prefix("*") + "*", count=1000))
    finally:
        conn.close()


# gunicorn replaces a worker that dies (a crash, the OOM killer) and says so only in its log.
_DEATH = re.compile(r"Worker \(pid:\d+\) (?:was sent (?!SIGTERM)SIG\w+|exited with code \d+)")


def worker_deaths(work: Path) -> list[str]:
    """The lines of gunicorn's log that say a worker died before the stack was stopped."""
    path = work / "gunicorn.log"
    if not path.exists():
        return []
    return [line.strip() for line in path.read_text(errors="replace").splitlines() if _DEATH.search(line)]


def server_errors(work: Path, limit: int = 3) -> list[str]:
    """The first tracebacks gunicorn's log holds (a page that answered 500)."""
    path = work / "gunicorn.log"
    if not path.exists():
        return []
    found, current, previous = [], None, ""
    for line in path.read_text(errors="replace").splitlines():
        if "Traceback (most recent call last)" in line and current is None:
            current = [previous, line]  # the line before names the request ("Exception on /… [GET]")
        elif current is not None:
            current.append(line)
            if line and not line.startswith((" ", "\t", "Traceback", "During handling", "The above")):
                found.append("\n".join(current[:2] + current[2:][-40:]))
                current = None
                if len(found) >= limit:
                    break
        previous = line
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200, help="requêtes par seconde (200)")
    parser.add_argument("--duration", type=float, default=180, help="secondes mesurées (180 ; 0 : aucune charge)")
    parser.add_argument("--warmup", type=float, default=30, help="secondes de mise en route non comptées (30)")
    parser.add_argument("--scale", type=float, default=1.0, help="échelle des données (1.0 : le volume de production)")
    parser.add_argument("--web-workers", type=int, default=4, help="workers gunicorn (4)")
    parser.add_argument("--rq-workers", type=int, default=2, help="workers RQ (2)")
    parser.add_argument("--users", type=int, default=None,
                        help="utilisateurs simulés (par défaut 2 × rate : chacun une requête toutes les 2 s)")
    parser.add_argument("--reseed", action="store_true", help="refait la base peuplée de cette échelle")
    parser.add_argument("--pages", type=int, default=0, metavar="N",
                        help="avant la charge, le CPU de chaque page dans un processus (N mesures par page ; "
                             "bench/pages.py)")
    parser.add_argument("--keep", action="store_true", help="laisse la pile tourner après la mesure (Ctrl-C l'arrête)")
    args = parser.parse_args(argv)
    users = args.users or max(10, round(args.rate * 2))

    cache = BENCH_DIR / f"scale-{args.scale:g}"
    work = BENCH_DIR / "runs" / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    work.mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _raise_stopped)
    signal.signal(signal.SIGHUP, _raise_stopped)
    stack = Stack(work)
    summary, interrupted = None, False
    yardstick_before = yardstick_ms()
    try:
        database_url, manifest = prepare_cluster(stack, cache, args.scale, args.reseed)
        redis_url = start_redis(stack)
        port = free_port()
        env = production_env(cache / "home", database_url, redis_url, port)
        start_production(stack, env, port, args.web_workers, args.rq_workers)
        wait_until_ready(stack, env, port)
        log(f"Pile prête : http://127.0.0.1:{port} (journaux dans {work.relative_to(REPO)})")
        if args.pages > 0:
            measure_pages(env, cache / "manifest.json", args.pages)
        if args.duration > 0:
            counting = reset_statements(database_url)
            kept_before = kept_pages(redis_url)
            samples = run_locust(stack, port, cache / "manifest.json", args.rate, args.duration, args.warmup, users)
            rows, overall = summarise(samples)
            meta = dict(rate=args.rate, duration=args.duration, warmup=args.warmup, scale=args.scale, users=users,
                        web_workers=args.web_workers, rq_workers=args.rq_workers,
                        at=dt.datetime.now().isoformat(timespec="seconds"), commit=_commit(),
                        load_average=[round(x, 2) for x in os.getloadavg()])
            log("Charge de la machine pendant la mesure (load average 1/5/15 min) : "
                + " / ".join(f"{x:.1f}" for x in meta["load_average"]) + f" sur {os.cpu_count()} cœurs")
            summary = report(rows, overall, samples, work, meta)
            kept_after = kept_pages(redis_url)
            changes = kept_after[0] - kept_before[0]
            log(f"Pages gardées pour les visiteurs (marketplace.web.pagecache) : {kept_after[1]} en Redis à la fin, "
                f"{changes} changement(s) de contenu public pendant la mesure")
            summary += f" kept_pages={kept_after[1]} content_changes={changes}"
            if counting:
                report_statements(top_statements(database_url), work)
            if overall["errors"]:
                for tb in server_errors(work):
                    print("\nTrace du serveur (gunicorn.log) :\n" + tb)
        if args.keep:
            print(f"\nLa pile tourne : http://127.0.0.1:{port} — comptes dans {cache.relative_to(REPO)}/manifest.json "
                  f"(mot de passe {manifest.get('password')}) ; PostgreSQL : {database_url}")
            print("Ctrl-C pour tout arrêter.", flush=True)
            while True:
                stack.check_alive()
                time.sleep(1)
    except (KeyboardInterrupt, Stopped):
        log("Interrompu")
        interrupted = True
    finally:
        log("Arrêt de la pile")
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        stack.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if summary:
        time.sleep(3)  # the stack's processes finish exiting
        yardstick_after = yardstick_ms()
        cpu = overall.get("cpu_ms_per_request")
        print(f"Étalon de vitesse de la machine (le même travail Python, le meilleur de 5) : {yardstick_before:.1f} ms "
              f"avant, {yardstick_after:.1f} ms après"
              + (f" ; CPU par requête ÷ étalon : {cpu / ((yardstick_before + yardstick_after) / 2):.3f} "
                 "(ce qui se compare d'un essai à l'autre)" if cpu else ""))
        print(summary + f" yardstick_ms={(yardstick_before + yardstick_after) / 2:.1f}")
    return 130 if interrupted and not (args.keep and summary) else 0


def yardstick_ms() -> float:
    """The CPU a fixed piece of pure-Python work takes here now, the best of five: this shared
    machine's speed moves by half within an hour, so two runs compare by their CPU per request
    divided by this, not by their rates alone."""
    def work() -> int:
        counts: dict[str, int] = {}
        words = []
        for i in range(60_000):
            key = f"k{i % 997}"
            counts[key] = counts.get(key, 0) + i
            words.append(str(i))
        return len(",".join(words)) + len(counts)

    best = math.inf
    for _ in range(5):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best * 1000


def _commit() -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return result.stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
