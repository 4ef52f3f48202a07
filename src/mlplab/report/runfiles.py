"""Read a run folder (the files ``mlplab.runs`` writes) into a :class:`RunData`: the report's
only input, so a report can be made of any folder in that format, whoever wrote it."""

from __future__ import annotations

import csv
import json
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: the files a run folder may hold that the report reads; at least one of the first three
RESULT_FILES = ("metrics.csv", "history.json", "results.json")
OTHER_FILES = ("config.toml", "fingerprint.json", "monitor.json", "status.json")


@dataclass
class RunData:
    """What the report shows of one run folder. Missing files leave their field empty."""

    path: Path
    name: str
    config_text: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, list[float]] = field(default_factory=dict)  # column -> per epoch
    epochs: list[int] = field(default_factory=list)
    best_epoch: int | None = None
    results: dict[str, Any] = field(default_factory=dict)
    fingerprint: dict[str, Any] | None = None
    monitor: dict[str, Any] | None = None  # {"history": [...], "reports": {epoch: text}}
    status: dict[str, Any] | None = None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"report: {str(path)!r} is not valid JSON: {e}") from None


def _number(text: str, path: Path, row: int, column: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f"report: {str(path)!r} row {row} column {column!r}: expected a number, got {text!r}"
        ) from None


def _read_metrics(path: Path) -> tuple[list[int], dict[str, list[float]]]:
    """``metrics.csv``: header ``epoch,<log keys>``, one row per epoch (epochs from 1)."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows or not rows[0] or rows[0][0] != "epoch":
        got = rows[0] if rows else []
        raise ValueError(
            f"report: {str(path)!r} must start with the header 'epoch,<log keys>', got {got!r}"
        )
    header = rows[0]
    columns: dict[str, list[float]] = {key: [] for key in header[1:]}
    epochs = []
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ValueError(
                f"report: {str(path)!r} row {i} has {len(row)} fields, the header {len(header)}"
            )
        epochs.append(int(_number(row[0], path, i, "epoch")))
        for key, text in zip(header[1:], row[1:]):
            columns[key].append(_number(text, path, i, key) if text != "" else math.nan)
    return epochs, columns


def _monitor(data: Any, path: Path) -> dict[str, Any]:
    """``monitor.json``: ``{"history": TrainingMonitor.history, "reports": {epoch: text}}``
    (epochs 0-based as the monitor records them) or the bare history list."""
    if isinstance(data, list):
        data = {"history": data}
    if not isinstance(data, dict) or not isinstance(data.get("history", []), list):
        raise ValueError(
            f"report: {str(path)!r} must hold a list of per-epoch records or "
            f'{{"history": [...]}}, got {type(data).__name__}'
        )
    for i, h in enumerate(data.get("history", [])):
        if not isinstance(h, dict) or not isinstance(h.get("epoch"), int):
            raise ValueError(f"report: {str(path)!r} history[{i}] has no integer 'epoch'")
    return data


def load_run(path: str | os.PathLike) -> RunData:
    """Read the run folder ``path``. Raises ``ValueError`` naming the folder or file when the
    folder is missing, holds none of ``metrics.csv``, ``history.json``, ``results.json``, or a
    file is malformed."""
    if isinstance(path, bytes) or not isinstance(path, str | os.PathLike):
        raise TypeError(f"report: a run folder must be a path, got {type(path).__name__}")
    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"report: run folder {str(folder)!r} does not exist or is not a folder")
    if not any((folder / name).is_file() for name in RESULT_FILES):
        raise ValueError(
            f"report: {str(folder)!r} is not a run folder: it holds none of "
            f"{', '.join(RESULT_FILES)}"
        )
    run = RunData(path=folder, name=folder.resolve().name)
    if (p := folder / "config.toml").is_file():
        run.config_text = p.read_text(encoding="utf-8")
        try:
            run.config = tomllib.loads(run.config_text)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"report: {str(p)!r} is not valid TOML: {e}") from None
    if (p := folder / "metrics.csv").is_file():
        run.epochs, run.metrics = _read_metrics(p)
    if (p := folder / "history.json").is_file():
        data = _read_json(p)
        if not isinstance(data, dict) or not isinstance(data.get("history", {}), dict):
            raise ValueError(
                f'report: {str(p)!r} must hold {{"history": {{key: [values]}}, "best_epoch": ...}}'
            )
        best = data.get("best_epoch")
        if best is not None and (not isinstance(best, int) or isinstance(best, bool)):
            raise ValueError(f"report: {str(p)!r} best_epoch must be an int or null, got {best!r}")
        run.best_epoch = best
        if not run.metrics:  # metrics.csv is the record; history.json stands in without it
            run.metrics = {k: [float(v) for v in vs] for k, vs in data.get("history", {}).items()}
            n = max((len(v) for v in run.metrics.values()), default=0)
            run.epochs = list(range(1, n + 1))
    if (p := folder / "results.json").is_file():
        data = _read_json(p)
        if not isinstance(data, dict):
            raise ValueError(f"report: {str(p)!r} must hold a JSON object")
        run.results = data
    if (p := folder / "fingerprint.json").is_file():
        run.fingerprint = _read_json(p)
    if (p := folder / "monitor.json").is_file():
        run.monitor = _monitor(_read_json(p), p)
    if (p := folder / "status.json").is_file():
        run.status = _read_json(p)
    return run


def flatten(table: Any, prefix: str = "") -> dict[str, Any]:
    """``{"optimizer": {"name": "adam"}}`` -> ``{"optimizer.name": "adam"}``; lists of tables
    get their index: ``model.layers[2].units``."""
    out: dict[str, Any] = {}
    if isinstance(table, dict):
        for k, v in table.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(table, list) and any(isinstance(v, dict | list) for v in table):
        for i, v in enumerate(table):
            out.update(flatten(v, f"{prefix}[{i}]"))
    else:
        out[prefix] = table
    return out


def differing(configs: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The flattened config keys whose values are not the same in every config (a key missing
    from some counts as differing: ``None`` there), in first-seen order."""
    flat = [flatten(c) for c in configs]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    missing = object()
    out = {}
    for k in keys:
        values = [f.get(k, missing) for f in flat]
        if any(v != values[0] for v in values[1:]):
            out[k] = [None if v is missing else v for v in values]
    return out
