"""Work that one process of a site did and every other may reuse, kept in the site's Redis.

Each web worker keeps what it computed (a collectivité's eligible programmes, a programme's count
of eligible communes) in memory for its generation. Without a shared copy, every worker of every
node computes each of them again, once per generation: after a publication, four workers on two
nodes compute a tenant's offers eight times. With one, the first process computes and stores; the
others read the stored value (a few milliseconds instead of tens).

Values are keyed by what the caller says they depend on (a generation token among it) and by the
site (its database, see :func:`site_of`), so sites sharing a Redis never read each other's. They
are pickled (the Redis is the site's own, trusted as RQ trusts it with its jobs) and compressed,
under the code's version: during a deployment, old and new workers never read each other's objects.
When Redis is down or the process has none, the value is computed where it is needed, as before.
"""
from __future__ import annotations

import hashlib
import logging
import pickle
import weakref
import zlib
from collections.abc import Callable
from importlib import metadata
from typing import TypeVar

from redis import Redis, RedisError
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

log = logging.getLogger("passerelle.shared")

T = TypeVar("T")
KEY_ROOT = "passerelle:shared:"


def site_of(engine: Engine) -> str:
    """A site's name in Redis keys: a digest of its database URL, without the password."""
    return hashlib.sha1(engine.url.render_as_string(hide_password=True).encode()).hexdigest()[:12]


class SharedStore:
    def __init__(self, redis: Redis, site: str):
        self.redis, self.prefix = redis, f"{KEY_ROOT}{site}:{metadata.version('passerelle')}:"

    def key(self, name: str, key: tuple) -> str:
        return self.prefix + name + ":" + hashlib.sha1(repr(key).encode()).hexdigest()

    def get(self, name: str, key: tuple) -> object | None:
        try:
            stored = self.redis.get(self.key(name, key))
        except RedisError as exc:
            log.warning("shared values unavailable: %s", exc)
            return None
        if stored is None:
            return None
        try:
            return pickle.loads(zlib.decompress(stored))
        except Exception:  # noqa: BLE001 — written by another version of the code: computed again
            log.warning("shared value %s unreadable: computed again", name)
            return None

    def put(self, name: str, key: tuple, value: object, seconds: float) -> None:
        try:
            self.redis.set(self.key(name, key), zlib.compress(pickle.dumps(value, protocol=5), 1), ex=max(1, int(seconds)))
        except RedisError as exc:
            log.warning("shared value %s not stored: %s", name, exc)


_by_engine: weakref.WeakKeyDictionary[Engine, SharedStore] = weakref.WeakKeyDictionary()


def register(engine: Engine, redis: Redis | None) -> None:
    """The store of this database's processes (create_app); none without a Redis."""
    if redis is not None:
        _by_engine[engine] = SharedStore(redis, site_of(engine))
    else:
        _by_engine.pop(engine, None)


def kept(session: Session, name: str, key: tuple, compute: Callable[[], T], seconds: float) -> T:
    """The value another process of the site stored under (name, key), else ``compute()``, stored
    for ``seconds``. ``key`` holds everything the value depends on."""
    store = _by_engine.get(session.get_bind().engine) if _by_engine else None
    if store is None:
        return compute()
    value = store.get(name, key)
    if value is None:
        value = compute()
        store.put(name, key, value, seconds)
    return value
