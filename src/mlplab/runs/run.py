"""Train an experiment into a run folder, resume it, re-run it and compare two runs.

``experiment`` is what ``mlplab.config.build_experiment`` returns: ``trainer``, ``data``
(``train``/``validation``/``test`` pairs ``(X, y)`` after preprocessing fit on the training
split; attributes or keys), ``class_names`` (or None), ``epochs``, ``seed`` and optionally
``indices`` (the split's row indices, for the fingerprint).
"""

from __future__ import annotations

import csv
import math
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..train.callbacks import ModelCheckpoint
from .environment import INCIDENTAL, environment
from .files import (
    BEST,
    CHECKPOINTS,
    CONFIG,
    ENVIRONMENT,
    FINGERPRINT,
    LAST,
    LOG,
    METRICS,
    MODEL,
    MONITOR,
    RESULTS,
    check_run_dir,
    new_run_dir,
    read_json,
    write_json,
    write_text,
)
from .fingerprint import fingerprint
from .recorder import RunRecorder, tee_stdout
from .results import results
from .status import StatusFile, read_status

SPLITS = ("train", "validation", "test")
#: logged columns that measure time, not the computation (a rerun ignores them)
WALL_CLOCK = ("time",)


def splits_of(experiment: Any) -> dict[str, tuple]:
    """``{"train": (X, y), "validation": ..., "test": ...}`` (the non-empty ones) of an
    experiment whose ``data`` has ``X_train``, ``y_train``, ``X_val``, ... (``SplitData``), or
    ``train``/``validation``/``test`` pairs (attributes or keys)."""
    data = experiment.data
    out = {}
    for name, short in zip(SPLITS, ("train", "val", "test")):
        if hasattr(data, f"X_{short}"):
            pair: Any = (getattr(data, f"X_{short}"), getattr(data, f"y_{short}"))
        else:
            pair = data.get(name) if isinstance(data, dict) else getattr(data, name, None)
        if pair is None:
            continue
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"experiment.data.{name} must be a pair (X, y), got {pair!r:.80}")
        if len(pair[0]):
            out[name] = tuple(pair)
    if "train" not in out:
        raise ValueError("experiment.data has no training examples")
    return out


def data_fingerprint(experiment: Any) -> dict:
    """Digests of the arrays as loaded (``experiment.dataset``'s, when given), of each split
    after preprocessing, and of the split's indices (``experiment.data.indices``)."""
    arrays = {}
    dataset = getattr(experiment, "dataset", None)
    for key in ("X", "y", "X_test", "y_test"):
        value = getattr(dataset, key, None)
        if value is not None:
            arrays[f"loaded_{key}"] = value
    for name, (X, y) in splits_of(experiment).items():
        arrays[f"X_{name}"], arrays[f"y_{name}"] = X, y
    indices = getattr(experiment, "indices", None) or getattr(experiment.data, "indices", None)
    return fingerprint(arrays, indices)


def create_run(
    runs_dir: str | os.PathLike,
    name: str,
    config_text: str,
    *,
    config_path: str | os.PathLike | None = None,
    tags: list[str] | None = None,
    note: str | None = None,
) -> Path:
    """A new run folder with ``config.toml`` (the resolved config), ``environment.json`` and
    a ``status.json`` of "created" facts (training writes "running" over it)."""
    run = new_run_dir(runs_dir, name)
    write_text(run / CONFIG, config_text)
    write_json(run / ENVIRONMENT, environment(config_path))
    write_json(
        run / "status.json",
        {
            "status": "interrupted",
            "pid": os.getpid(),
            "host": None,
            "heartbeat": None,
            "started": None,
            "ended": None,
            "epoch": 0,
            "tags": tags or [],
            "note": note,
        },
    )
    return run


def _monitor_key(splits: dict) -> str:
    return "val_loss" if "validation" in splits else "loss"


def train_run(run_dir: str | os.PathLike, experiment: Any, *, resume: bool = False) -> dict:
    """Train ``experiment`` in ``run_dir`` (made by :func:`create_run`), or with ``resume``
    continue it from ``checkpoints/last.npz``; returns the results (also in results.json).

    Every epoch writes ``checkpoints/last.npz``, ``checkpoints/best.npz`` (when the validation
    loss improves; the training loss without validation data), ``metrics.csv``,
    ``history.json`` and the status's heartbeat; the end writes ``model.npz`` and
    ``results.json``. The status ends finished, failed (an exception) or interrupted
    (Ctrl-C or SIGTERM).
    """
    run = Path(run_dir)
    trainer, splits = experiment.trainer, splits_of(experiment)
    status = StatusFile(run)
    previous = read_json(run / "status.json")
    keep = {k: previous.get(k) for k in ("tags", "note") if k in previous}
    monitor_prefix: list = []
    monitor = _monitor_key(splits)
    last = ModelCheckpoint(run / CHECKPOINTS / LAST, save_best_only=False)
    best = ModelCheckpoint(run / CHECKPOINTS / BEST, monitor=monitor)
    # best before last: last.npz then holds every callback's state after this epoch (those
    # after it in the list would not have seen the epoch yet)
    added: list = [best, last]
    # before the progress bar (the trainer's last callback): the files are written by the
    # time its line prints
    at = len(trainer.callbacks) - 1 if _is_bar(trainer) else len(trainer.callbacks)
    trainer.callbacks[at:at] = added
    if resume:
        try:  # restores the callbacks' counters too (EarlyStopping, ReduceLROnPlateau, best's)
            _check_resumable(run, experiment)
            trainer.load(run / CHECKPOINTS / LAST)
        except BaseException:
            for c in added:
                trainer.callbacks.remove(c)
            raise
        if (run / MONITOR).is_file():
            monitor_prefix = [
                e for e in read_json(run / MONITOR) if e.get("epoch", math.inf) < trainer.epoch
            ]
        keep["resumed"] = int(previous.get("resumed") or 0) + 1
        keep["resumed_from_epoch"] = trainer.epoch
    else:
        write_json(run / FINGERPRINT, data_fingerprint(experiment))
    remaining = int(experiment.epochs) - trainer.epoch
    recorder = RunRecorder(run, status, monitor_prefix)
    recorder.best_checkpoint = best
    trainer.callbacks.insert(trainer.callbacks.index(last) + 1, recorder)
    added.append(recorder)
    status.start(epoch=trainer.epoch, epochs=int(experiment.epochs), **keep)
    outcome, error = "failed", None
    restore = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        with tee_stdout(run / LOG):
            if remaining > 0:
                X, y = splits["train"]
                trainer.fit(X, y, epochs=remaining, validation_data=splits.get("validation"))
            best_epoch = trainer.history.best_epoch
            recorder.write(None if best_epoch is None else best_epoch + 1)
            extra = {"class_names": experiment.class_names, "seed": experiment.seed}
            trainer.save(run / MODEL, extra=extra)
            out = results(trainer, splits, experiment.class_names)
            write_json(run / RESULTS, out)
        outcome = "finished"
        return out
    except KeyboardInterrupt:
        outcome = "interrupted"
        raise
    except Exception as e:
        error = f"{type(e).__name__}: {e}"
        raise
    finally:
        signal.signal(signal.SIGTERM, restore)
        for c in added:
            if c in trainer.callbacks:
                trainer.callbacks.remove(c)
        status.end(outcome, epoch=trainer.epoch, **({"error": error} if error else {}))


def _is_bar(trainer) -> bool:
    return bool(trainer.callbacks) and type(trainer.callbacks[-1]).__name__ == "ProgressBar"


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _check_resumable(run: Path, experiment: Any) -> None:
    state = read_status(run)
    if state["status"] == "running":
        raise ValueError(
            f"--resume: {str(run)!r} is running (pid {state.get('pid')} on {state.get('host')}, "
            f"heartbeat {state.get('heartbeat')}); resume a run that stopped"
        )
    if state["status"] == "finished":
        raise ValueError(f"--resume: {str(run)!r} finished already; nothing to resume")
    if not (run / CHECKPOINTS / LAST).is_file():
        raise ValueError(
            f"--resume: {str(run)!r} has no {CHECKPOINTS}/{LAST} (it stopped before its first "
            "epoch ended): start it again with mlplab train"
        )
    recorded = read_json(run / FINGERPRINT)
    now = data_fingerprint(experiment)
    for group in ("arrays", "indices"):
        for key, digest in recorded.get(group, {}).items():
            if now[group].get(key) != digest:
                raise ValueError(
                    f"--resume: the data differ from those {str(run)!r} trained on: {key} "
                    f"(fingerprint.json {group}.{key})"
                )


# -- comparing two runs ---------------------------------------------------------------------------
@dataclass
class Diff:
    """How two runs differ: ``first`` names the first difference (None: identical),
    ``environment`` the environment facts that differ."""

    first: str | None
    environment: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return self.first is None

    def __str__(self) -> str:
        if self.identical:
            return "identical"
        text = f"different: {self.first}"
        if self.environment:
            text += "\nenvironment differs: " + "; ".join(self.environment)
        return text


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _numbers_differ(a: Any, b: Any, where: str) -> str | None:
    """The path of the first difference between two JSON values, else None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a or k not in b:
                return f"{where}.{k} (only in one run)"
            found = _numbers_differ(a[k], b[k], f"{where}.{k}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where} (length {len(a)} vs {len(b)})"
        for i, (x, y) in enumerate(zip(a, b)):
            found = _numbers_differ(x, y, f"{where}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{where} ({a!r} vs {b!r})"


def compare_runs(a: str | os.PathLike, b: str | os.PathLike) -> Diff:
    """Compare run ``b`` with run ``a``: every logged number of ``metrics.csv`` (wall-clock
    columns aside) epoch by epoch, the final weights and optimizer state of ``model.npz``
    array by array, and ``results.json``."""
    a, b = Path(a), Path(b)
    env_a, env_b = read_json(a / ENVIRONMENT), read_json(b / ENVIRONMENT)
    env = [
        f"{k}: {env_a.get(k)!r} vs {env_b.get(k)!r}"
        for k in sorted(set(env_a) | set(env_b))
        if k not in INCIDENTAL and env_a.get(k) != env_b.get(k)
    ]
    rows_a, rows_b = _rows(a / METRICS), _rows(b / METRICS)
    for ra, rb in zip(rows_a, rows_b):
        for key in list(ra) + [k for k in rb if k not in ra]:
            if key in WALL_CLOCK:
                continue
            if ra.get(key) != rb.get(key):
                return Diff(f"epoch {ra.get('epoch')}, {key}: {ra.get(key)} vs {rb.get(key)}", env)
    if len(rows_a) != len(rows_b):
        return Diff(f"metrics.csv: {len(rows_a)} epochs vs {len(rows_b)}", env)
    with np.load(a / MODEL, allow_pickle=False) as za, np.load(b / MODEL, allow_pickle=False) as zb:
        for key in za.files:
            if key == "meta":
                continue
            if key not in zb.files:
                return Diff(f"model.npz: {key} only in {a.name}", env)
            x, y = za[key], zb[key]
            if x.shape != y.shape or x.dtype != y.dtype or x.tobytes() != y.tobytes():
                return Diff(f"model.npz: final {key} differs", env)
    found = _numbers_differ(read_json(a / RESULTS), read_json(b / RESULTS), "results")
    return Diff(found, env)


__all__ = [
    "Diff",
    "check_run_dir",
    "compare_runs",
    "create_run",
    "data_fingerprint",
    "splits_of",
    "train_run",
]
