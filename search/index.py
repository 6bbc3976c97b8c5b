"""The on-disk index: where it lives, who writes it, how it is rebuilt and swapped.

Layout under ``PASSERELLE_HOME/search`` (one per node: nothing here is shared between nodes)::

    current -> index-20261122T101500-ab12   (a symlink, replaced atomically by a rebuild)
    index-…/                                 (Whoosh index directories)
    index-…/position.json                    (where that index stands in the change log)
    rebuild.lock, follower.lock              (one rebuild, one follower at a time; held while running)
    follower.json                            (the follower's last status, for the operator page)

We use whoosh-reloaded 2.7.5 rather than whoosh 2.7.4: same speed, but 2.7.4 does not import
under ``-W error`` on Python 3.12 (invalid escape sequences). 2.7.5 has a known bug: refreshing a
searcher after a merge keeps removed segments and duplicates results. So searchers are never
refreshed: :class:`IndexHandle` opens a fresh one whenever the index generation changes
(tests/search/test_index.py keeps a regression test).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.index import EmptyIndexError, LockError

from search import changes
from search.schema import make_schema

WRITER_TIMEOUT_S = 60


class IndexUnavailable(RuntimeError):
    """No usable index (never built, or unreadable): searches degrade."""


@dataclass
class IndexState:
    available: bool
    path: str | None
    doc_count: int = 0
    generation: int | None = None
    modified_at: dt.datetime | None = None
    size_bytes: int = 0
    rebuilding: bool = False
    error: str = ""


def current_link(root: Path) -> Path:
    return root / "current"


def current_dir(root: Path) -> Path | None:
    link = current_link(root)
    if not link.exists():
        return None
    return link.resolve()


def create_empty(root: Path) -> Path:
    """A new, empty index directory (not yet current)."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    path = root / f"index-{stamp}-{uuid.uuid4().hex[:6]}"
    path.mkdir()
    whoosh_index.create_in(str(path), make_schema())
    return path


def make_current(root: Path, path: Path) -> None:
    """Point ``current`` at ``path`` atomically (rename of a symlink), then drop old indexes.

    The index just replaced is kept: a process may still be reading it. Older ones go.
    """
    link = current_link(root)
    previous = current_dir(root)
    tmp = root / f".current-{uuid.uuid4().hex}"
    os.symlink(path.name, tmp)
    os.replace(tmp, link)
    keep = {path.resolve()} | ({previous} if previous else set())
    for old in root.glob("index-*"):
        if old.resolve() not in keep:
            shutil.rmtree(old, ignore_errors=True)


# A commit removes the table of contents (and the segments) it replaces: a process that listed the
# directory just before may find its generation gone. It reads the next one.
OPEN_ATTEMPTS = 5


def open_index(path: Path, then=None):
    """Open the index at ``path`` (and ``then(ix)``, e.g. a searcher), again if another process's
    commit removed the files of the generation being opened."""
    for attempt in range(OPEN_ATTEMPTS):
        try:
            ix = whoosh_index.open_dir(str(path))
            return (ix, then(ix)) if then else ix
        except FileNotFoundError:
            if attempt == OPEN_ATTEMPTS - 1 or not path.is_dir():
                raise
            time.sleep(0.01 * (attempt + 1))


def open_current(root: Path, then=None):
    path = current_dir(root)
    if path is None:
        raise IndexUnavailable("l'index de recherche n'a pas encore été construit")
    try:
        return open_index(path, then)
    except (EmptyIndexError, OSError, ValueError) as exc:
        raise IndexUnavailable(f"index illisible : {exc}") from exc


@contextlib.contextmanager
def writer_for(ix) -> Iterator:
    """One writer at a time, across processes: Whoosh's file lock, waited for rather than refused."""
    try:
        writer = ix.writer(timeout=WRITER_TIMEOUT_S, delay=0.1)
    except LockError as exc:
        raise RuntimeError("l'index est verrouillé par un autre écrivain depuis trop longtemps") from exc
    try:
        yield writer
    except BaseException:
        writer.cancel()
        raise
    else:
        writer.commit()


_TOC = re.compile(r"^_MAIN_([0-9]+)\.toc$")


def latest_generation(path: Path) -> int:
    """The index's last committed generation: one directory listing, no file opened."""
    return max((int(m.group(1)) for name in os.listdir(path) if (m := _TOC.match(name))), default=-1)


def generation_key(root: Path) -> str:
    """The index a search answers from at this moment ("none" without one): a page that ranks
    with it is kept under this name, and renewed when the follower commits."""
    try:
        path = current_dir(root)
        return f"{path.name}:{latest_generation(path)}" if path is not None else "none"
    except OSError:
        return "none"


def unusable(path: Path) -> str:
    """Why this index directory cannot be followed, in French ("" when it can): unreadable, or
    built for another schema (another field, another analysis): then it is rebuilt."""
    try:
        ix = open_index(path)
        schema = ix.schema
        with ix.reader() as reader:
            reader.doc_count_all()
    except Exception as exc:  # a damaged index raises anything from pickle to OSError
        return f"index illisible : {exc}"
    expected = make_schema()
    if sorted(schema.names()) != sorted(expected.names()):
        return "index construit pour un autre schéma"
    for name in expected.names():
        if not _same(schema[name], expected[name]):
            return f"index construit pour un autre schéma (champ {name})"
    return ""


def _same(a, b, depth: int = 0) -> bool:
    """Whether two schema parts (a field, its format, analyzer, column) are built alike: Whoosh's
    own ``==`` ignores analyzers and compares columns by identity. Compares what each would
    pickle, recursively."""
    if type(a) is not type(b) or depth > 8:
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], depth + 1) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y, depth + 1) for x, y in zip(a, b))
    if isinstance(a, str | bytes | int | float | bool | frozenset | set | re.Pattern) or a is None:
        return a == b
    if isinstance(a, type) or (callable(a) and not hasattr(a, "__dict__")):
        return a is b
    state_a, state_b = a.__getstate__(), b.__getstate__()
    if state_a is None or state_b is None:
        return a == b
    return _same(state_a, state_b, depth + 1)


@contextlib.contextmanager
def rebuild_lock(root: Path, *, wait: bool = True) -> Iterator[bool]:
    """One rebuild at a time per index folder, across processes (a lock the system releases when
    its process dies, however it dies). With ``wait=False``, yields False at once when another
    rebuild holds it."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "rebuild.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def rebuild_running(root: Path) -> bool:
    if not (root / "rebuild.lock").exists():
        return False
    with rebuild_lock(root, wait=False) as free:
        return not free


def state(root: Path) -> IndexState:
    path = current_dir(root)
    rebuilding = rebuild_running(root)
    if path is None:
        return IndexState(False, None, rebuilding=rebuilding, error="jamais construit")
    try:
        ix, searcher = open_index(path, then=lambda ix: ix.searcher())
        with searcher:
            count = searcher.doc_count()
        generation = ix.latest_generation()
        size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
        modified = max((f.stat().st_mtime for f in path.iterdir() if f.is_file()), default=None)
        return IndexState(True, str(path), count, generation,
                          dt.datetime.fromtimestamp(modified, dt.UTC) if modified else None, size, rebuilding)
    except Exception as exc:  # any unreadable state is shown, never raised, on the operator page
        return IndexState(False, str(path), rebuilding=rebuilding, error=str(exc))


# The follower's status -----------------------------------------------------------------------------

FOLLOWER_STATUS = "follower.json"
# A follower rewrites its status every few seconds: an older one is a follower that stopped.
FOLLOWER_ALIVE_S = 15.0


def write_follower_status(root: Path, status: dict) -> None:
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{FOLLOWER_STATUS}.{uuid.uuid4().hex}"
    tmp.write_text(json.dumps(status), encoding="utf-8")
    os.replace(tmp, root / FOLLOWER_STATUS)


def read_follower_status(root: Path) -> dict | None:
    """The follower's last status on this node, with ``alive``: whether it still beats."""
    try:
        status = json.loads((root / FOLLOWER_STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    status["alive"] = (not status.get("stopped")
                       and time.time() - float(status.get("heartbeat_at", 0)) < FOLLOWER_ALIVE_S)
    return status


@dataclass
class FollowState:
    """Where this node's index stands in the change log, and its follower."""

    position: int | None  # last log row applied (None: an index without position, or none)
    gaps: int
    head: int  # newest row of the log
    pending: int  # rows after the position
    pending_age_s: float | None  # age of the oldest of them
    follower: dict | None  # its last status (read_follower_status)

    @property
    def follower_alive(self) -> bool:
        return bool(self.follower and self.follower.get("alive"))

    def summary(self) -> str:
        where = "sans position" if self.position is None else f"position {self.position} / {self.head}"
        late = "à jour" if not self.pending else (
            f"{self.pending} changement(s) en attente"
            + (f", le plus ancien depuis {self.pending_age_s:.0f} s" if self.pending_age_s is not None else ""))
        who = ("suivi en marche" + (f" (pid {self.follower['pid']})" if self.follower.get("pid") else "")
               if self.follower_alive else "aucun suivi en marche")
        return f"journal : {where} — {late} — {who}"


def follow_state(root: Path, session) -> FollowState:
    path = current_dir(root)
    position = changes.read_position(path) if path else None
    head = changes.bounds(session).head
    count, age = changes.pending(session, position) if position else (head, None)
    return FollowState(position.last if position else None, len(position.gaps) if position else 0, head, count,
                       age, read_follower_status(root))


class IndexHandle:
    """A process-wide reader: one searcher per index generation, with its caches.

    A new generation (a commit, a rebuild swap) opens a new searcher and drops the caches; the
    old searcher is closed. Callers hold ``lock`` while they search (Whoosh searchers are not
    meant to be shared by threads).
    """

    def __init__(self, root: Path):
        self.root = root
        self.lock = threading.RLock()
        self._key: tuple | None = None
        self._ix = None
        self.searcher = None
        self.cache: dict = {}

    def _current_key(self) -> tuple:
        path = current_dir(self.root)
        if path is None:
            raise IndexUnavailable("l'index de recherche n'a pas encore été construit")
        try:
            generation = latest_generation(path)
        except OSError as exc:
            raise IndexUnavailable(str(exc)) from exc
        if generation < 0:
            raise IndexUnavailable("index vide ou illisible")
        return (str(path), generation)

    @property
    def path(self) -> Path | None:
        """The index directory of the searcher held (after ``acquire``)."""
        return Path(self._key[0]) if self._key else None

    def acquire(self):
        """The up-to-date searcher (call with ``lock`` held)."""
        key = self._current_key()
        if key != self._key or self.searcher is None:
            old = self.searcher
            ix, self.searcher = open_current(self.root, then=lambda ix: ix.searcher())
            self._ix, self._key, self.cache = ix, key, {}
            if old is not None:
                with contextlib.suppress(Exception):
                    old.close()
        return self.searcher


_handles: dict[str, IndexHandle] = {}
_handles_lock = threading.Lock()


def handle_for(root: Path) -> IndexHandle:
    with _handles_lock:
        key = str(root.resolve())
        if key not in _handles:
            _handles[key] = IndexHandle(root)
        return _handles[key]
