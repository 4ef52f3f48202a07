"""``mlplab runs [DIR]``: the run folders of a directory as one plain-text table (name, tags,
status, the hyperparameters that differ between the listed runs, best validation metric, test
metric, training time), sortable by any column."""

from __future__ import annotations

import csv
import math
import os
import tomllib
from pathlib import Path
from typing import Any

from ..report.runfiles import differing
from .files import CONFIG, METRICS, RESULTS, STATUS, read_json
from .status import read_status

#: the fixed columns; the differing hyperparameters (dotted config keys) go after "status"
FIXED = ("name", "tags", "status")
RESULT_COLUMNS = ("best_val", "test", "time")


def _metrics(run: Path) -> list[dict[str, str]]:
    path = run / METRICS
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _floats(rows: list[dict[str, str]], key: str) -> list[float]:
    out = []
    for r in rows:
        try:
            value = float(r.get(key) or "nan")
        except ValueError:
            continue
        if math.isfinite(value):
            out.append(value)
    return out


def _best_val(rows: list[dict[str, str]]) -> float | None:
    """The best validation accuracy over the epochs (highest), else the best validation loss
    (lowest); None without validation columns."""
    acc = _floats(rows, "val_accuracy")
    if acc:
        return max(acc)
    loss = _floats(rows, "val_loss")
    return min(loss) if loss else None


def _test(run: Path) -> float | None:
    """The test accuracy of results.json (the test loss for a regression run)."""
    if not (run / RESULTS).is_file():
        return None
    test = read_json(run / RESULTS).get("test") or {}
    value = test.get("accuracy", test.get("loss"))
    return float(value) if isinstance(value, (int, float)) else None


def run_row(run: str | os.PathLike) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(row, config)`` of one run folder: the row's fixed and result columns, and its
    parsed ``config.toml``."""
    run = Path(run)
    status = read_status(run)
    rows = _metrics(run)
    times = _floats(rows, "time")
    try:
        config = tomllib.loads((run / CONFIG).read_text())
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"run folder: {str(run / CONFIG)!r} is not valid TOML ({e})") from None
    row = {
        "name": run.name,
        "tags": ",".join(str(t) for t in status.get("tags") or []),
        "status": status["status"],
        "best_val": _best_val(rows),
        "test": _test(run),
        "time": sum(times) if times else None,
    }
    return row, config


def list_runs(runs_dir: str | os.PathLike = "runs") -> list[dict[str, Any]]:
    """One row per run folder in ``runs_dir`` (folders holding config.toml and status.json;
    other entries are skipped), by name: the columns of :data:`FIXED`, then each hyperparameter
    that differs between these runs (dotted config keys), then :data:`RESULT_COLUMNS`."""
    root = Path(runs_dir)
    if not root.is_dir():
        raise ValueError(f"DIR: {str(root)!r} is not a folder (give a folder of run folders)")
    runs = sorted(
        p
        for p in root.iterdir()
        if p.is_dir() and (p / CONFIG).is_file() and (p / STATUS).is_file()
    )
    pairs = [run_row(p) for p in runs]
    varied = differing([config for _, config in pairs]) if len(pairs) > 1 else {}
    out = []
    for i, (row, _) in enumerate(pairs):
        full = {k: row[k] for k in FIXED}
        full.update({key: values[i] for key, values in varied.items()})
        full.update({k: row[k] for k in RESULT_COLUMNS})
        out.append(full)
    return out


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e4 else f"{value:.4g}"
    return str(value)


def _sort_key(value: Any) -> tuple:
    """Missing values last; numbers before text, each in its own order."""
    if value is None:
        return (2, 0, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value, "")
    return (1, 0, str(value))


def sort_rows(rows: list[dict[str, Any]], column: str, *, reverse: bool = False) -> list[dict]:
    """``rows`` sorted by ``column`` (missing values last); an unknown column is a ValueError
    naming the valid ones."""
    columns = list(rows[0]) if rows else [*FIXED, *RESULT_COLUMNS]
    if column not in columns:
        raise ValueError(f"--sort: unknown column {column!r}; valid: {', '.join(columns)}")
    present = [r for r in rows if r.get(column) is not None]
    missing = [r for r in rows if r.get(column) is None]
    return sorted(present, key=lambda r: _sort_key(r[column]), reverse=reverse) + missing


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table: a header line, then one line per row, columns padded to width."""
    if not rows:
        return "no runs"
    columns = list(rows[0])
    cells = [columns] + [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(text.ljust(w) for text, w in zip(line, widths)).rstrip() for line in cells
    )


__all__ = ["FIXED", "RESULT_COLUMNS", "format_table", "list_runs", "run_row", "sort_rows"]
