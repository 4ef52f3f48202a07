"""``status.json``: running / finished / failed / interrupted, with the process id, the host and
a heartbeat, so that a run whose process was killed reads as stale instead of running forever."""

from __future__ import annotations

import datetime as _dt
import os
import socket
import threading
from pathlib import Path
from typing import Any

from ..train._files import _alive
from .files import STATUS, read_json, write_json

STATES = ("running", "finished", "failed", "interrupted")
#: seconds between heartbeats of a running run
HEARTBEAT_SECONDS = 10.0
#: a running status whose heartbeat is older than this reads as stale
STALE_SECONDS = 180.0


def now_iso() -> str:
    """The current time, ISO 8601 with the UTC offset, to the second."""
    return _dt.datetime.now(_dt.UTC).astimezone().isoformat(timespec="seconds")


class StatusFile:
    """The status of the run in ``run_dir``, rewritten atomically at each change and every
    ``interval`` seconds by a daemon thread (the heartbeat) while it is running."""

    def __init__(self, run_dir: str | os.PathLike, *, interval: float = HEARTBEAT_SECONDS):
        self.path = Path(run_dir) / STATUS
        self.interval = interval
        self.data: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, **extra: Any) -> None:
        """Mark the run running in this process and start the heartbeat."""
        self.data = {
            "status": "running",
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "heartbeat": now_iso(),
            "started": now_iso(),
            "ended": None,
            **extra,
        }
        self._write()
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name="mlplab-heartbeat", daemon=True)
        self._thread.start()

    def update(self, **fields: Any) -> None:
        """Change fields (e.g. the epoch) and beat."""
        self.data.update(fields)
        self._write()

    def end(self, status: str, **fields: Any) -> None:
        """Stop the heartbeat and record ``status`` (finished, failed or interrupted)."""
        if status not in STATES[1:]:
            raise ValueError(f"StatusFile.end: status must be one of {STATES[1:]}, got {status!r}")
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.data.update(status=status, ended=now_iso(), **fields)
        self._write()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            self._write()

    def _write(self) -> None:
        with self._lock:
            self.data["heartbeat"] = now_iso()
            write_json(self.path, self.data)


def read_status(run_dir: str | os.PathLike, *, stale_after: float = STALE_SECONDS) -> dict:
    """The run's ``status.json`` with ``"stale": bool`` added: a running run is stale when its
    process is gone (on this host) or its heartbeat is older than ``stale_after`` seconds; its
    ``"status"`` then reads ``"stale"`` (the file keeps ``"running"``)."""
    data = read_json(Path(run_dir) / STATUS)
    if not isinstance(data, dict) or data.get("status") not in STATES:
        raise ValueError(
            f"run folder: {str(Path(run_dir) / STATUS)!r} has no valid 'status' (one of "
            f"{', '.join(STATES)})"
        )
    stale = False
    if data["status"] == "running":
        try:
            beat = _dt.datetime.fromisoformat(str(data.get("heartbeat")))
            age = (_dt.datetime.now(_dt.UTC) - beat).total_seconds()
        except (TypeError, ValueError):
            age = float("inf")
        pid = data.get("pid")
        dead = data.get("host") == socket.gethostname() and isinstance(pid, int) and not _alive(pid)
        stale = dead or age > stale_after
    data["stale"] = stale
    if stale:
        data["status"] = "stale"
    return data
