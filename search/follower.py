"""The follower: keeps one node's index in line with the index-change log.

One per index folder (``PASSERELLE_HOME/search``), started with the web server: by ``passerelle
run`` in the embedded mode, by gunicorn's master in production (``marketplace.gunicorn_conf``), or
by hand with ``passerelle search follow``. Each step it reads the log after its index's position,
in id order and in batches, loads each changed document from the database, writes the batch in
one Whoosh commit and records the new position in the index directory. A change is searchable on
every node about ``POLL_S`` after its commit.

It rebuilds the index from the database when there is none, when it cannot be read or was built
for another schema, when it was not followed for longer than the log keeps its rows, when it is
too far behind (``MAX_PENDING``), when it belongs to another database (ahead of the log), and when
an operator asks for it (a log row ``*``). While a rebuild runs in a thread, the old index keeps
being followed and searched.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from search import changes, service
from search import index as idx
from search.models import REBUILD_KEY

log = logging.getLogger("passerelle.search.follower")

POLL_S = 0.2
BATCH = 500
# Past this many changes behind, rebuilding reads each document once instead of once per change.
MAX_PENDING = 20_000
# The status (for the operator page) is rewritten this often; an older one means a stopped follower.
HEARTBEAT_S = 2.0
# A rebuild that failed (the database away) is tried again after this long.
REBUILD_RETRY_S = 30.0


@dataclass
class Verdict:
    """What one look at the index and the log concluded."""

    rebuild: str = ""  # why the index must be rebuilt ("" if it need not)
    path: Path | None = None
    position: changes.Position | None = None


class Follower:
    def __init__(self, root: Path, session_factory: Callable[[], Session], *, poll: float = POLL_S,
                 batch: int = BATCH, max_pending: int = MAX_PENDING, background_rebuild: bool = True,
                 context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
                 clock: Callable[[], float] = time.time):
        self.root, self.session_factory = root, session_factory
        self.poll, self.batch, self.max_pending = poll, batch, max_pending
        self.background_rebuild, self.context, self.clock = background_rebuild, context, clock
        self.applied = 0  # documents written or removed since start
        self.rebuilds = 0
        self.last_error = ""  # of the last step ("" once a step succeeds)
        self.rebuild_error = ""  # of the last rebuild ("" once one succeeds)
        self.started_at = clock()
        self._rebuild_thread: threading.Thread | None = None
        self._rebuild_reason = ""
        self._rebuild_failed_at = None
        self._checked: tuple | None = None
        self._status_at = 0.0

    # One step ------------------------------------------------------------------------------------

    def examine(self, session: Session) -> Verdict:
        path = idx.current_dir(self.root)
        if path is None:
            return Verdict("aucun index")
        try:
            checked = (path, idx.latest_generation(path))
        except OSError as exc:
            return Verdict(f"index illisible : {exc}", path)
        if checked != self._checked:  # opened and compared with the schema once per generation
            problem = idx.unusable(path)
            if problem:
                return Verdict(problem, path)
            self._checked = checked
        position = changes.read_position(path)
        if position is None:
            return Verdict("index sans position dans le journal", path)
        log_bounds = changes.bounds(session)
        if position.last > log_bounds.head:
            return Verdict("index en avance sur le journal (autre base de données ?)", path)
        if self.clock() - position.checked_at > changes.STALE_AFTER_S:
            return Verdict("index pas suivi depuis plus longtemps que le journal n'est conservé", path)
        if log_bounds.head - position.last > self.max_pending:
            return Verdict(f"plus de {self.max_pending} changements en retard", path)
        return Verdict("", path, position)

    def step(self) -> int:
        """Apply one batch of the log (or start a rebuild). Returns the number of log rows read."""
        with self.context():
            session = self.session_factory()
            try:
                verdict = self.examine(session)
                if verdict.rebuild:
                    self._start_rebuild(verdict.rebuild)
                    return 0
                rows = changes.read_after(session, verdict.position, self.batch)
                keys = [key for _, key in rows]
                if REBUILD_KEY in keys and not self.rebuilding:
                    self._start_rebuild("demandée")
                self.applied += service.apply_changes(verdict.path, session, keys) if keys else 0
                position, now = verdict.position, self.clock()
                before = (position.last, len(position.gaps))
                idle_since = position.checked_at
                position.advance([i for i, _ in rows], now)
                if rows or (position.last, len(position.gaps)) != before or now - idle_since > changes.CHECKED_EVERY_S:
                    changes.write_position(verdict.path, position)
                self.last_error = ""
                return len(rows)
            finally:
                session.close()

    def catch_up(self, max_steps: int = 1_000) -> int:
        """Step until nothing is pending (gaps aside); rebuilds, if any, in this thread."""
        total = 0
        for _ in range(max_steps):
            n = self.step()
            self._join_rebuild()
            total += n
            if n == 0 and self._settled():
                return total
        raise RuntimeError("le suivi de l'index ne rattrape pas le journal")

    def _settled(self) -> bool:
        with self.context():
            session = self.session_factory()
            try:
                verdict = self.examine(session)
                if verdict.rebuild:
                    return False
                return not changes.read_after(session, changes.Position(verdict.position.last), 1)
            finally:
                session.close()

    # Rebuilds --------------------------------------------------------------------------------------

    @property
    def rebuilding(self) -> bool:
        return self._rebuild_thread is not None and self._rebuild_thread.is_alive()

    def _start_rebuild(self, reason: str) -> None:
        if self.rebuilding:
            return
        if self._rebuild_failed_at is not None and self.clock() - self._rebuild_failed_at < REBUILD_RETRY_S:
            return
        self._rebuild_reason = reason
        if not self.background_rebuild:
            self._rebuild(reason)
            return
        self._rebuild_thread = threading.Thread(target=self._rebuild, args=(reason,), name="search-rebuild",
                                                daemon=True)
        self._rebuild_thread.start()

    def _join_rebuild(self) -> None:
        if self._rebuild_thread is not None:
            self._rebuild_thread.join()

    def _rebuild(self, reason: str) -> None:
        log.info("search: rebuilding the index (%s)", reason)
        started = time.monotonic()
        with self.context():
            session = self.session_factory()
            try:
                count = service.rebuild(self.root, session, fresh_session=self.session_factory, clock=self.clock)
                self.rebuilds += 1
                self._rebuild_failed_at = None
                self.rebuild_error = ""
                log.info("search: index rebuilt, %d document(s) in %.1f s", count, time.monotonic() - started)
            except Exception as exc:
                self.rebuild_error = f"reconstruction : {exc}"
                self._rebuild_failed_at = self.clock()
                if not self.background_rebuild:
                    raise
                log.exception("search: rebuild failed")
            finally:
                session.close()

    # Running -----------------------------------------------------------------------------------------

    def run(self, stop: threading.Event, parent: int | None = None) -> None:
        """Follow until ``stop`` is set (or ``parent`` is no longer our parent process). Waits while
        another follower holds this index folder."""
        with follower_lock(self.root, stop) as held:
            if not held:
                return
            log.info("search: following the index-change log into %s", self.root)
            while not stop.is_set():
                if parent is not None and os.getppid() != parent:
                    log.info("search: parent process gone, stopping")
                    return
                try:
                    n = self.step()
                except Exception as exc:  # the database may be away for a while: try again
                    if str(exc) != self.last_error:  # once per distinct failure, not every step
                        log.exception("search: follower step failed")
                    self.last_error = str(exc)
                    n = 0
                    stop.wait(min(5.0, self.poll * 10))
                self._write_status()
                if n < self.batch:
                    stop.wait(self.poll)
            self._write_status(stopping=True)

    def _write_status(self, stopping: bool = False) -> None:
        now = self.clock()
        if not stopping and now - self._status_at < HEARTBEAT_S:
            return
        self._status_at = now
        path = idx.current_dir(self.root)
        position = changes.read_position(path) if path else None
        status = {
            "pid": os.getpid(), "host": socket.gethostname(), "started_at": self.started_at, "heartbeat_at": now,
            "stopped": stopping, "position": position.last if position else None,
            "gaps": len(position.gaps) if position else 0, "applied": self.applied, "rebuilds": self.rebuilds,
            "rebuilding": self.rebuilding, "rebuild_reason": self._rebuild_reason if self.rebuilding else "",
            "last_error": "; ".join(e for e in (self.last_error, self.rebuild_error) if e),
        }
        try:
            idx.write_follower_status(self.root, status)
        except OSError:
            log.exception("search: cannot write the follower's status")


@contextlib.contextmanager
def follower_lock(root: Path, stop: threading.Event, retry_s: float = 1.0):
    """One follower per index folder: a second one (two gunicorn masters on one PASSERELLE_HOME,
    a ``search follow`` by hand) waits, and takes over if the first stops."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "follower.lock", "a+") as fh:
        said = False
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not said:
                    log.info("search: another follower runs on %s; waiting", root)
                    said = True
                if stop.wait(retry_s):
                    yield False
                    return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def catch_up(app) -> int:
    """Bring the app's index in line with the log now, in this thread (for tools and tests):
    rebuilds if needed, then applies every pending change. Returns the log rows read."""
    follower = Follower(app.config["SETTINGS"].search_dir, app.extensions["passerelle"].session_factory,
                        background_rebuild=False, context=app.app_context)
    return follower.catch_up()
