"""The callback that writes a run's per-epoch files, and the tee of its progress lines."""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from ..train.callbacks import Callback
from .files import HISTORY, METRICS, MONITOR, write_json, write_text
from .status import StatusFile


def metrics_csv(history: dict[str, list], epochs: list[int]) -> str:
    """``epoch,<log keys>`` then one row per epoch (counted from 1); floats as ``repr`` (the
    shortest text that reads back to the same double, so a rerun compares bit for bit)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    keys = list(history)
    writer.writerow(["epoch", *keys])
    for row, epoch in enumerate(epochs):
        values = [history[k][row] if row < len(history[k]) else "" for k in keys]
        writer.writerow([epoch + 1, *("" if v is None else repr(float(v)) for v in values)])
    return out.getvalue()


class RunRecorder(Callback):
    """After each epoch: ``metrics.csv``, ``history.json``, ``monitor.json`` (when a
    ``TrainingMonitor`` is among the trainer's callbacks) and the status's heartbeat, all
    rewritten atomically from the trainer's history, so the files always agree with the last
    checkpoint after a resume. Put it after the ``ModelCheckpoint`` callbacks."""

    def __init__(self, run_dir: str | os.PathLike, status: StatusFile, monitor_prefix=()):
        self.run_dir = Path(run_dir)
        self.status = status
        self.monitor_prefix = list(monitor_prefix)  # entries of epochs before a resume

    best_checkpoint: Any = None

    def on_train_begin(self, trainer) -> None:
        """A resumed fit: the best checkpoint's record is the best of the history so far (the
        ``ModelCheckpoint`` starts afresh at each fit, and would overwrite best.npz)."""
        super().on_train_begin(trainer)
        best = self.best_checkpoint
        values = trainer.history.history.get(best.monitor) if best is not None else None
        if values:
            finite = [v for v in values if v is not None and math.isfinite(v)]
            if finite:
                best.best = min(finite) if best.mode == "min" else max(finite)

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self.write(best_epoch=None)
        self.status.update(epoch=epoch + 1, epochs=self.trainer.end_epoch)

    def write(self, best_epoch: int | None) -> None:
        """The history files; ``best_epoch``: the epoch (from 1) whose weights the model holds
        when a callback restored them, else None."""
        history = self.trainer.history
        write_text(self.run_dir / METRICS, metrics_csv(history.history, history.epoch))
        write_json(self.run_dir / HISTORY, {"history": history.history, "best_epoch": best_epoch})
        monitor = next((c for c in self.trainer.callbacks if hasattr(c, "reports")), None)
        if monitor is not None:
            write_json(self.run_dir / MONITOR, self.monitor_prefix + _plain(monitor.history))


def _plain(value: Any) -> Any:
    """NumPy scalars in nested dicts and lists as Python numbers (for JSON)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    return value


class _Tee(io.TextIOBase):
    def __init__(self, *streams: TextIO):
        self.streams = streams

    def write(self, text: str) -> int:
        for s in self.streams:
            s.write(text)
        return len(text)

    def flush(self) -> None:
        for s in self.streams:
            s.flush()

    def isatty(self) -> bool:
        return self.streams[0].isatty()


@contextlib.contextmanager
def tee_stdout(path: str | os.PathLike) -> Iterator[None]:
    """Copy everything printed to ``sys.stdout`` into ``path`` (appended: a resumed run's log
    continues). The log is the one run file appended to rather than replaced."""
    with open(path, "a", encoding="utf-8") as log:
        previous = sys.stdout
        sys.stdout = _Tee(previous, log)  # type: ignore[assignment]
        try:
            yield
        finally:
            sys.stdout = previous
