"""What ``passerelle run`` leaves behind, recorded and cleaned up.

The launcher writes the processes it starts to ``PASSERELLE_HOME/run.json`` (its own pid, the web
server, the worker, the cron, the embedded Redis). Two things read that file:

- the **watchdog**, a small process the launcher starts in its own session: when the launcher
  disappears without its cleanup (``kill -9``, a closed terminal, the OOM killer), it stops what the
  launcher started, within a couple of seconds;
- the **next start**, which stops what a previous launcher (or its watchdog) could not.

A pid is only signalled if its command line still is the one recorded (pids are reused).
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

STATE_FILE = "run.json"


def state_path(home: Path) -> Path:
    return home / STATE_FILE


def read_state(home: Path) -> dict:
    try:
        return json.loads(state_path(home).read_text())
    except (OSError, ValueError):
        return {}


def write_state(home: Path, state: dict) -> None:
    path = state_path(home)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    tmp.replace(path)


def command_line(pid: int) -> str | None:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None


def alive(pid: int) -> bool:
    """The process runs (a zombie, exited but not yet reaped, does not count)."""
    stat = Path("/proc") / str(pid) / "stat"
    if Path("/proc").is_dir():
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def stop_recorded(home: Path, *, grace: float = 5) -> list[int]:
    """Stop every recorded process that still runs the recorded command; returns their pids."""
    state = read_state(home)
    targets, groups = [], []
    for entry in state.get("processes", []):
        pid, marker = entry.get("pid"), entry.get("marker", "")
        if isinstance(pid, int) and pid != os.getpid() and alive(pid) and marker and marker in (command_line(pid) or ""):
            targets.append(pid)
            if entry.get("group"):
                groups.append(pid)
    for pid in targets:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(alive(pid) for pid in targets) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in targets:
        if alive(pid):
            _signal(pid, signal.SIGKILL)
    for pgid in groups:  # what they forked (RQ's scheduler, a work horse) goes with them
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    state_path(home).unlink(missing_ok=True)
    return targets


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def watch(launcher_pid: int, home: Path, interval: float = 1.0) -> None:
    """Wait for the launcher to go; if it went without cleaning up, clean up after it."""
    while alive(launcher_pid):
        if read_state(home).get("launcher") not in (launcher_pid, None):
            return  # another launcher runs in this home now: it owns the file
        time.sleep(interval)
    state = read_state(home)
    if state.get("launcher") == launcher_pid:
        stop_recorded(home)


if __name__ == "__main__":
    watch(int(sys.argv[1]), Path(sys.argv[2]))
