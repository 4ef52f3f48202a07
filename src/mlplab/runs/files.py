"""The run folder's files: names, atomic JSON/text writes, reads that name the file."""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import re
from pathlib import Path
from typing import Any, BinaryIO

from ..train._files import atomic_write

#: the files of a run folder (see the README's "Experiments")
CONFIG, ENVIRONMENT, FINGERPRINT = "config.toml", "environment.json", "fingerprint.json"
METRICS, HISTORY, RESULTS = "metrics.csv", "history.json", "results.json"
MONITOR, STATUS, LOG, MODEL = "monitor.json", "status.json", "stdout.log", "model.npz"
CHECKPOINTS, LAST, BEST = "checkpoints", "last.npz", "best.npz"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


def check_name(name: str) -> str:
    """A run name: letters, digits, ``.``, ``_``, ``-`` (1 to 80, not starting with a dot or
    a dash), so that it is one path component on every system."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"--name: a run name is 1-80 letters, digits, '.', '_' or '-', starting with a "
            f"letter or digit, got {name!r}"
        )
    return name


def new_run_dir(runs_dir: str | os.PathLike, name: str, *, now: _dt.datetime | None = None) -> Path:
    """Create ``runs_dir/<YYYYmmdd-HHMMSS>-<name>/`` (and ``checkpoints/`` in it); a second run
    started in the same second gets ``-2``, ``-3``, ... (created exclusively: no two runs share
    a folder)."""
    check_name(name)
    stamp = (now or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    root = Path(runs_dir)
    if root.exists() and not root.is_dir():
        raise ValueError(f"--runs-dir: {str(root)!r} exists and is not a folder")
    root.mkdir(parents=True, exist_ok=True)
    for i in range(1, 1000):
        path = root / (f"{stamp}-{name}" if i == 1 else f"{stamp}-{name}-{i}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        (path / CHECKPOINTS).mkdir()
        return path
    raise RuntimeError(f"new_run_dir: 999 runs named {name!r} started in one second in {root}")


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null (strict JSON for every reader)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as indented, strict JSON (NaN and inf as null), atomically."""
    text = json.dumps(_finite(data), indent=2, allow_nan=False) + "\n"
    write_text(path, text)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) atomically: readers see the old file or the new one."""
    data = text.encode()

    def write(f: BinaryIO) -> None:
        f.write(data)

    atomic_write(path, write, owner="run folder")


def read_json(path: str | os.PathLike) -> Any:
    """The JSON in ``path``; a missing or malformed file is a ValueError naming it."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise ValueError(f"run folder: {str(path)!r} does not exist") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"run folder: {str(path)!r} is not valid JSON ({e})") from None


def check_run_dir(path: str | os.PathLike) -> Path:
    """``path`` as a run folder (one holding ``config.toml`` and ``status.json``)."""
    run = Path(path)
    if not run.is_dir():
        raise ValueError(f"RUN: {str(run)!r} is not a folder (give a run folder under runs/)")
    missing = [f for f in (CONFIG, STATUS) if not (run / f).is_file()]
    if missing:
        raise ValueError(f"RUN: {str(run)!r} is not a run folder: it has no {', '.join(missing)}")
    return run
