"""The personas' mix for ``bench/load.py``: a Locust file (one process, FastHttpUser).

Configured by the environment ``bench/load.py`` sets: LOAD_MANIFEST (the seed's manifest: accounts,
ids, search terms), LOAD_RATE (requests per second in all), LOAD_USERS (simulated people),
LOAD_WARMUP and LOAD_DURATION (seconds), LOAD_OUT (where the samples are written at the end).

Arrivals are scheduled, not "as fast as the answers come": each simulated person sends one request
every LOAD_USERS / LOAD_RATE seconds at fixed times (its own phase, drawn once), whatever the
previous answers took. Locust's users are closed loops, so a person whose previous answer is still
coming when its next start time passes starts late; with a period of 2 s that takes an answer
slower than 2 s, and every late start is counted and reported, not hidden. People of each persona
are a fixed share of the population, so the mix below is the share of requests.

Signed-in personas sign in once, through the real form (its CSRF token read from the page), in
their start-up, during the warm-up; only requests that start inside the measured window count.
Each request is named after its route (ids grouped), e.g. ``/financements/<id>``.
"""
from __future__ import annotations

import json
import os
import random
import sys
import time
from collections import Counter, defaultdict
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path

import gevent
from locust import FastHttpUser, events, task

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import load_pages as pages_of  # noqa: E402  (Locust loads this file by its path)

MANIFEST = pages_of.MANIFEST
RATE = float(os.environ.get("LOAD_RATE", "200"))
USERS = int(os.environ.get("LOAD_USERS", "400"))
WARMUP = float(os.environ.get("LOAD_WARMUP", "30"))
DURATION = float(os.environ.get("LOAD_DURATION", "180"))
OUT = Path(os.environ.get("LOAD_OUT", "samples.json"))
PERIOD = USERS / RATE  # seconds between two requests of one simulated person
LATE_S = 0.1  # a start this far behind its time is late
MAX_WARMUP = WARMUP + 120  # waiting longer for the sign-ins says the site cannot take them
SIGN_IN = "connexion"


# What is measured ---------------------------------------------------------------------------------

class Samples:
    def __init__(self):
        self.start: float | None = None  # the test's start
        self.window: tuple[float, float] | None = None  # the measured window, once the warm-up is over
        self.ready = 0  # people signed in and scheduled
        self.gone = 0  # people stopped in their start-up (a refused sign-in)
        self.ms: dict[str, list[float]] = defaultdict(list)
        self.at: dict[str, list[float]] = defaultdict(list)  # start, seconds into the measured window
        self.errors: Counter = Counter()
        self.kept: Counter = Counter()  # answered from the pages kept for visitors (X-Cache: HIT)
        self.error_samples: dict[str, Counter] = defaultdict(Counter)
        self.late = 0
        self.late_max = 0.0

    def in_window(self, at: float) -> bool:
        return self.window is not None and self.window[0] <= at < self.window[1]

    def add(self, name: str, start_time: float, response_time: float, exception) -> None:
        if name != SIGN_IN and not self.in_window(start_time):
            return
        self.ms[name].append(response_time)
        self.at[name].append(round(start_time - self.window[0], 3) if self.window else 0.0)
        if exception is not None:
            self.errors[name] += 1
            text = str(exception).strip().splitlines()[0][:200] if str(exception).strip() else type(exception).__name__
            if len(self.error_samples[name]) < 5 or text in self.error_samples[name]:
                self.error_samples[name][text] += 1

    def dump(self) -> dict:
        def page(name):
            return {"ms": self.ms.get(name, []), "at": self.at.get(name, []), "errors": self.errors.get(name, 0),
                    "kept": self.kept.get(name, 0),
                    "error_samples": dict(self.error_samples.get(name, {}))}

        window = self.window or (time.time(), time.time())
        return {"window_s": round(window[1] - window[0], 3), "started_at": self.start,
                "window": window, "warmup_s": round(window[0] - (self.start or window[0]), 1), "rate": RATE, "users": USERS, "period_s": PERIOD,
                "late": self.late, "late_max_s": round(self.late_max, 3),
                "sign_in": page(SIGN_IN),
                "pages": {name: page(name) for name in self.ms if name != SIGN_IN}}


SAMPLES = Samples()


@events.test_start.add_listener
def _started(environment, **_):
    SAMPLES.start = time.time()
    gevent.spawn(_measure, environment)


def _measure(environment) -> None:
    """The warm-up lasts LOAD_WARMUP seconds and until every person has signed in (a slow sign-in
    must not fall in the measure), MAX_WARMUP at most; then LOAD_DURATION seconds are measured and
    the test stops."""
    while time.time() < SAMPLES.start + MAX_WARMUP:
        if time.time() >= SAMPLES.start + WARMUP and SAMPLES.ready + SAMPLES.gone >= USERS:
            break
        gevent.sleep(0.2)
    begin = time.time()
    SAMPLES.window = (begin, begin + DURATION)
    gevent.sleep(DURATION)
    environment.runner.quit()


@events.request.add_listener
def _request(request_type, name, response_time, response_length, exception=None, start_time=None, **_):
    SAMPLES.add(name, start_time if start_time is not None else time.time() - response_time / 1000,
                response_time, exception)


@events.test_stop.add_listener
def _stopped(environment, **_):
    OUT.write_text(json.dumps(SAMPLES.dump()), encoding="utf-8")


# The people ---------------------------------------------------------------------------------------

class SignInRefused(Exception):
    pass


class LoopbackCookies(DefaultCookiePolicy):
    """Production mode marks the session cookie Secure; the bench talks plain HTTP to 127.0.0.1, where
    a browser would be behind the HTTPS proxy. Send it back anyway."""

    def return_ok_secure(self, cookie, request):
        return True


class Person(FastHttpUser):
    """One simulated person: its start times are fixed, one request at each, chosen from ``pages``."""

    abstract = True
    share = 0.0
    # (weight, name, function of the person giving the path)
    pages: list[tuple[int, str, callable]] = []
    network_timeout = 30.0
    connection_timeout = 10.0

    def wait_time(self):
        self.next_at += PERIOD
        return max(0.0, self.next_at - time.time())

    def on_start(self):
        self.client.cookiejar.set_policy(LoopbackCookies())
        self.refused, self.next_at = False, time.time()
        try:
            self.sign_in()
        except SignInRefused:
            # Counted as an error already; this person sends nothing more (its pages would all be refused).
            SAMPLES.gone += 1
            self.refused = True
            return
        SAMPLES.ready += 1
        # The first start time: a phase of its own, so that the people's requests are spread evenly.
        self.next_at = time.time() + random.uniform(0, PERIOD)
        gevent.sleep(max(0.0, self.next_at - time.time()))

    def sign_in(self):
        pass

    @task
    def one_page(self):
        if self.refused:
            gevent.sleep(3600)
            return
        late = time.time() - self.next_at
        if late > LATE_S and SAMPLES.in_window(time.time()):
            SAMPLES.late += 1
            SAMPLES.late_max = max(SAMPLES.late_max, late)
        weights = [w for w, _, _ in self.pages]
        _, name, path = random.choices(self.pages, weights=weights)[0]
        self.get(path(self), name)

    def get(self, path: str, name: str, expected: tuple[int, ...] = (200,)):
        with self.client.get(path, name=name, allow_redirects=False, catch_response=True) as r:
            if r.status_code == 0:  # no answer: a timeout or a refused connection
                r.failure(f"pas de réponse ({type(r.error).__name__ if r.error else 'délai dépassé'})")
            elif r.status_code not in expected:
                where = r.headers.get("Location", "") if r.headers else ""
                r.failure(f"HTTP {r.status_code}" + (f" → {where}" if where else ""))
            else:
                r.success()
                if r.headers.get("X-Cache") == "HIT" and SAMPLES.in_window(time.time()):  # answered in the window
                    SAMPLES.kept[name] += 1

    def sign_in_as(self, email: str) -> None:
        r = self.client.get("/connexion", name="/connexion (page)")
        found = pages_of.CSRF.search(r.text or "")
        if not found:
            raise RuntimeError("jeton CSRF introuvable sur /connexion")
        token = found.group(1) or found.group(2)
        with self.client.post("/connexion", name=SIGN_IN, allow_redirects=False, catch_response=True,
                              data={"email": email, "password": MANIFEST["password"], "csrf_token": token,
                                    "next": ""}) as r:
            location = r.headers.get("Location", "") if r.headers else ""
            refused = r.status_code not in (302, 303) or "connexion" in location
            if refused:
                r.failure(f"connexion refusée pour {email} : HTTP {r.status_code}")
            else:
                r.success()
        if refused:
            raise SignInRefused(email)


class Visitor(Person):
    """An anonymous visitor: the home page, searches, programme and solution pages."""

    share = pages_of.VISITOR.share
    pages = pages_of.VISITOR.pages


class ApiClient(Person):
    """A program reading the public JSON API."""

    share = pages_of.API_CLIENT.share
    pages = pages_of.API_CLIENT.pages


class Buyer(Person):
    """A city buyer, signed in to its collectivité: its funding, projects, group purchases, shortlist."""

    share = pages_of.BUYER.share
    pages = pages_of.BUYER.pages

    def sign_in(self):
        self.account = random.choice(MANIFEST["buyers"])
        self.sign_in_as(self.account["email"])


class Startup(Person):
    """A startup on its workspace: its solutions, leads, the cities' needs, group purchases."""

    share = pages_of.STARTUP.share
    pages = pages_of.STARTUP.pages

    def sign_in(self):
        self.account = random.choice(MANIFEST["startups"])
        self.sign_in_as(self.account["email"])


class Operator(Person):
    """A curator or a funder on its lists: programmes (its own, or all for ANCT), solutions to moderate."""

    share = pages_of.OPERATOR.share

    def sign_in(self):
        self.account = random.choice(MANIFEST["operators"])
        self.sign_in_as(self.account["email"])
        # A funder has no moderation (404): its lists are its programmes only. Asked once, not counted.
        with self.client.get(pages_of.MODERATION_PROBE, name=f"{pages_of.MODERATION_PROBE} (droits)",
                             allow_redirects=False, catch_response=True) as r:
            self.pages = pages_of.OPERATOR.pages if r.status_code == 200 else pages_of.FUNDER_PAGES
            r.success()


# How many people of each persona: fixed counts, so the mix is the same at every run.
def _fix_counts(personas: list[type[Person]]) -> None:
    counts = [int(USERS * p.share) for p in personas]
    for i in range(USERS - sum(counts)):
        counts[i % len(personas)] += 1
    for persona, count in zip(personas, counts):
        persona.fixed_count = count


_fix_counts([Visitor, ApiClient, Buyer, Startup, Operator])
