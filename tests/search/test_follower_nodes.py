"""Two web nodes, one database: each keeps its own index, and a change made through one is found
through the other within two seconds.

Real processes, as production runs them: ``gunicorn -c python:marketplace.gunicorn_conf wsgi:app``
in production mode, configured by the environment, each with its own PASSERELLE_HOME, sharing one
database (PostgreSQL on the second pass of tests/run.sh; a SQLite file on the first: both nodes on
this machine can open it) and one Redis. Each gunicorn master starts its node's follower. A
curator publishes a solution through node A's pages; node B's API finds it; a node started after
the change finds it too; a change made through the services leaves every node's results.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent.parent
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
CSRF_INPUT = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)"')
FRESH_WITHIN_S = 2.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    """One web server: a gunicorn master (its own process group), its worker and its follower."""

    def __init__(self, name: str, home: Path, database_url: str, redis_url: str):
        self.name, self.home, self.port = name, home, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TEST_", "PASSERELLE_")) and k not in ("DATABASE_URL", "REDIS_URL", "PORT")}
        env.update(PASSERELLE_MODE="production", PASSERELLE_HOME=str(home), DATABASE_URL=database_url,
                   REDIS_URL=redis_url, SECRET_KEY="deux-noeuds-une-base-" + "x" * 32, PYTHONUNBUFFERED="1",
                   BASE_URL=self.base, SIGN_IN_RATE="1000/minute")
        home.mkdir(parents=True, exist_ok=True)
        self.log = open(home / "gunicorn.log", "w")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen([str(GUNICORN), "-c", "python:marketplace.gunicorn_conf", "wsgi:app",
                                      "--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--graceful-timeout", "5"],
                                     cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)

    def output(self) -> str:
        self.log.flush()
        return (self.home / "gunicorn.log").read_text(errors="replace")[-4000:]

    def search(self, q: str) -> dict:
        import requests

        response = requests.get(f"{self.base}/api/v1/search", params={"q": q}, timeout=30)
        assert response.status_code == 200, f"{self.name}: {response.status_code} {response.text[:300]}"
        return response.json()

    def titles(self, q: str) -> list[str]:
        data = self.search(q)
        assert not data["degraded"], f"{self.name}: the index is unavailable"
        return [hit["title"] for hit in data["hits"]]

    def wait_until_indexed(self, q: str, timeout: float = 120) -> None:
        """Started, its follower running and its index built from the database."""
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited ({self.proc.returncode}):\n{self.output()}")
            try:
                data = self.search(q)
                if not data["degraded"] and data["total"]:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        pytest.fail(f"{self.name} did not serve its index within {timeout} s:\n{self.output()}")

    def follower_pid(self) -> int | None:
        try:
            return json.loads((self.home / "search" / "follower.json").read_text())["pid"]
        except (OSError, ValueError, KeyError):
            return None

    def stop(self) -> list[str]:
        """SIGTERM to the master only: it stops its worker and its follower. Returns what is left."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        deadline = time.monotonic() + 15
        while (left := _in_group(self.proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.2)
        with_left = _in_group(self.proc.pid)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.log.close()
        return with_left or left


def _in_group(pgid: int) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(f"{entry.name}: {cmdline}")
    return found


def _csrf(page: str) -> str:
    match = CSRF_INPUT.search(page)
    assert match, "no csrf_token in the page"
    return match.group(1)


def _plain_http(http) -> None:
    # Production cookies are Secure; these nodes speak plain HTTP on the loopback (in production
    # a TLS proxy sits in front): let the client send them back.
    for cookie in http.cookies:
        cookie.secure = False


def _publish_through(node: Node, email: str, password: str, solution_id: int) -> None:
    import requests

    http = requests.Session()
    page = http.get(f"{node.base}/connexion", timeout=30)
    _plain_http(http)
    signed = http.post(f"{node.base}/connexion", timeout=30, allow_redirects=False,
                       data={"csrf_token": _csrf(page.text), "email": email, "password": password, "next": ""})
    assert signed.status_code == 302, f"sign-in answered {signed.status_code}: {signed.text[:300]}"
    _plain_http(http)
    review = http.get(f"{node.base}/operateur/solutions/{solution_id}", timeout=30)
    assert review.status_code == 200, review.status_code
    _plain_http(http)
    approved = http.post(f"{node.base}/operateur/solutions/{solution_id}", timeout=30, allow_redirects=False,
                         data={"csrf_token": _csrf(review.text), "decision": "approve", "comment": ""})
    assert approved.status_code == 302, f"approval answered {approved.status_code}: {approved.text[:500]}"


def _wait_for(check, within: float, start: float | None = None) -> float:
    """Seconds from ``start`` (now by default) until ``check()`` holds; infinity past ``within``."""
    start = time.monotonic() if start is None else start
    while True:
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > within:
            return float("inf")
        time.sleep(0.05)


def test_a_change_through_one_node_is_found_through_the_other(tmp_path, fresh_database_url, redis_url):
    pytest.importorskip("requests")
    if not GUNICORN.exists():
        pytest.skip(f"{GUNICORN} is missing: install the project (make setup)")
    from marketplace.catalog import services as catalog
    from marketplace.catalog.models import Solution
    from marketplace.core.db import make_engine, make_session_factory
    from tenants.models import Role
    from tests.factories import PASSWORD, make_anct, make_member, make_solution, make_startup

    engine = make_engine(fresh_database_url)
    factory = make_session_factory(engine)
    with factory() as db:
        anct = make_anct(db)
        curator, _ = make_member(db, anct, Role.member, email="curatrice@anct.test")
        make_solution(db, make_startup(db, "Socle SAS", siren="912345675"), status="published", name="Socle commun",
                      pitch="Une solution déjà publiée quand les serveurs démarrent.")
        waiting = make_solution(db, make_startup(db, "Hydro SAS", siren="901234567"), status="submitted",
                                name="Hydroscope", pitch="Télérelève des compteurs d'eau et alerte aux fuites.")
        db.commit()
        waiting_id = waiting.id

    nodes: list[Node] = []
    try:
        a = Node("node A", tmp_path / "a", fresh_database_url, redis_url)
        b = Node("node B", tmp_path / "b", fresh_database_url, redis_url)
        nodes += [a, b]
        for node in (a, b):
            node.wait_until_indexed("socle")
        assert b.titles("hydroscope") == [] and a.titles("hydroscope") == []

        # A curator publishes it through node A's pages; node B's API finds it (and node A's).
        _publish_through(a, curator.email, PASSWORD, waiting_id)
        committed = time.monotonic()
        for node in (b, a):
            found = _wait_for(lambda n=node: n.titles("hydroscope") == ["Hydroscope"], FRESH_WITHIN_S, committed)
            assert found <= FRESH_WITHIN_S, f"{node.name} did not find it within {FRESH_WITHIN_S} s:\n{node.output()}"
        assert (a.home / "search").resolve() != (b.home / "search").resolve()  # two indexes, no shared disk

        # A node started after the change builds its index from the database and finds it.
        c = Node("node C", tmp_path / "c", fresh_database_url, redis_url)
        nodes.append(c)
        c.wait_until_indexed("socle")
        assert c.titles("hydroscope") == ["Hydroscope"]

        # A change made through the services (a job, the CLI): every node drops it.
        with factory() as db:
            catalog.archive(db, None, db.get(Solution, waiting_id), note="Fin de l'expérimentation")
            db.commit()
        committed = time.monotonic()
        for node in (a, b, c):
            gone = _wait_for(lambda n=node: n.titles("hydroscope") == [], FRESH_WITHIN_S, committed)
            assert gone <= FRESH_WITHIN_S, f"{node.name} still finds it after {FRESH_WITHIN_S} s"

        # A follower that dies is started again by its gunicorn master.
        dead = b.follower_pid()
        assert dead, "node B's follower wrote no status"
        os.kill(dead, signal.SIGKILL)
        restarted = _wait_for(lambda: b.follower_pid() not in (None, dead), 30)
        assert restarted < 30, f"node B's follower was not started again:\n{b.output()}"
    finally:
        left = {node.name: node.stop() for node in nodes}
        engine.dispose()
    assert not any(left.values()), f"processes left after SIGTERM to the masters: {left}"
