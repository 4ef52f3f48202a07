"""Callbacks: the training loop's only way to talk to the world (Keras hook names).

Epoch logs are dicts of Python floats: ``loss``, ``accuracy`` (classification), ``val_loss``,
``val_accuracy`` (with validation data), ``penalty`` (with regularizers), ``lr``, ``time``.
Batch logs carry ``loss`` as a 0-d array (convert only when needed) and ``size``.
"""
from __future__ import annotations

import csv
import math
import os
import sys
import warnings
from typing import Any

from ..errors import check_choice, check_float, check_positive_int
from ..optim import current_learning_rate, scale_learning_rate


class TrainingDiverged(UserWarning):
    """The loss became NaN or inf; the weights were restored to the last finite state."""


class Callback:
    trainer: Any = None

    def on_train_begin(self, trainer) -> None:
        self.trainer = trainer

    def on_epoch_begin(self, epoch: int) -> None: ...

    def on_batch_end(self, step: int, logs: dict) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict) -> None: ...

    def on_train_end(self, logs: dict) -> None: ...


class History(Callback):
    """Per-epoch logs: ``history.history["val_loss"][e]``; ``history.epoch`` the epoch numbers."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch, logs):
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)


class _Monitor(Callback):
    """Shared by the callbacks that watch one logged quantity for improvement."""

    def __init__(self, monitor: str, mode: str, min_delta: float):
        self.monitor = monitor
        mode = check_choice(type(self).__name__, "mode", mode, ("auto", "min", "max"))
        if mode == "auto":
            mode = "max" if ("acc" in monitor or "f1" in monitor) else "min"
        self.mode = mode
        self.min_delta = check_float(type(self).__name__, "min_delta", min_delta, low=0.0)
        self.best = math.inf if mode == "min" else -math.inf

    def _value(self, logs):
        if self.monitor not in logs:
            raise ValueError(f"{type(self).__name__}: monitor={self.monitor!r} is not logged; "
                             f"logged: {sorted(logs)} (val_* needs validation_data)")
        return logs[self.monitor]

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs; with
    ``restore_best`` the weights of the best epoch are put back at the end."""

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", patience: int = 5,
                 min_delta: float = 0.0, restore_best: bool = True):
        super().__init__(monitor, mode, min_delta)
        self.patience = check_positive_int("EarlyStopping", "patience", patience, minimum=0)
        self.restore_best = restore_best
        self.wait, self.best_epoch, self.best_state, self.stopped_epoch = 0, None, None, None

    def on_epoch_end(self, epoch, logs):
        value = self._value(logs)
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self.best_state = self.trainer.get_state()
        else:
            self.wait += 1
            if self.wait > self.patience:
                self.stopped_epoch = epoch
                self.trainer.stop_training = True

    def on_train_end(self, logs):
        if self.restore_best and self.best_state is not None:
            self.trainer.set_state(self.best_state)


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved for
    ``patience`` epochs, not below ``min_lr``. With ``stop_at_min_lr`` training stops once the
    rate would go below ``min_lr``: Nielsen's rule "halve when validation accuracy stalls for n
    epochs, stop at 1/128 of the initial rate" is
    ``ReduceLROnPlateau("val_accuracy", factor=0.5, patience=n, min_lr=eta0/128, stop_at_min_lr=True)``.
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", factor: float = 0.5,
                 patience: int = 5, min_delta: float = 0.0, min_lr: float = 0.0,
                 stop_at_min_lr: bool = False):
        super().__init__(monitor, mode, min_delta)
        self.factor = check_float("ReduceLROnPlateau", "factor", factor, low=0.0, high=1.0,
                                  low_inclusive=False, high_inclusive=False)
        self.patience = check_positive_int("ReduceLROnPlateau", "patience", patience, minimum=0)
        self.min_lr = check_float("ReduceLROnPlateau", "min_lr", min_lr, low=0.0)
        self.stop_at_min_lr = stop_at_min_lr
        self.wait = 0

    def on_train_begin(self, trainer):
        super().on_train_begin(trainer)
        if current_learning_rate(trainer.opt_state) is None:
            name = (trainer.optimizer.spec or {}).get("name", "this optimizer")
            raise ValueError(f"ReduceLROnPlateau: {name!r} has no learning rate to reduce "
                             "(full-batch solvers choose their own step); remove the callback")

    def on_epoch_end(self, epoch, logs):
        value = self._value(logs)
        if self._improved(value):
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait > self.patience:
            self.wait = 0
            lr = current_learning_rate(self.trainer.opt_state)
            new = lr * self.factor
            if new < self.min_lr * (1 - 1e-12):
                if self.stop_at_min_lr:
                    self.trainer.stop_training = True
                    return
                new = self.min_lr
            if lr > 0 and new < lr:
                scale_learning_rate(self.trainer.opt_state, new / lr)


class TerminateOnNaN(Callback):
    """Stop at the first non-finite batch loss and restore the weights of the last epoch that
    ended finite; the warning names the epoch and the learning rate."""

    def on_epoch_begin(self, epoch):
        self.epoch = epoch
        self.last_finite = self.trainer.get_state()

    def on_batch_end(self, step, logs):
        if not math.isfinite(float(logs["loss"])):
            lr = current_learning_rate(self.trainer.opt_state)
            self.trainer.set_state(self.last_finite)
            self.trainer.stop_training = True
            self.trainer.stop_reason = (
                f"loss became {float(logs['loss'])} in epoch {self.epoch} at learning rate "
                f"{lr:g}; weights restored to the end of epoch {self.epoch - 1}. Try a smaller "
                "learning rate, gradient clipping or input standardization.")
            warnings.warn(self.trainer.stop_reason, TrainingDiverged, stacklevel=2)


class ModelCheckpoint(_Monitor):
    """Save a checkpoint each epoch, or only when ``monitor`` improves (``save_best_only``)."""

    def __init__(self, path: str | os.PathLike, monitor: str = "val_loss", mode: str = "auto",
                 save_best_only: bool = True):
        super().__init__(monitor, mode, 0.0)
        self.path, self.save_best_only = os.fspath(path), save_best_only

    def on_epoch_end(self, epoch, logs):
        if self.save_best_only:
            value = self._value(logs)
            if not self._improved(value):
                return
            self.best = value
        self.trainer.save(self.path)


class CSVLogger(Callback):
    """Append each epoch's logs as a CSV row (header from the first epoch)."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._fields: list[str] | None = None

    def on_epoch_end(self, epoch, logs):
        new = self._fields is None
        if new:
            self._fields = ["epoch", *logs]
        with open(self.path, "w" if new else "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self._fields)
            if new:
                writer.writeheader()
            writer.writerow({"epoch": epoch, **logs})


def format_logs(epoch: int, epochs: int, logs: dict) -> str:
    parts = [f"epoch {epoch + 1}/{epochs}"]
    for k, v in logs.items():
        parts.append(f"{k} {v:.4g}" if k not in ("time",) else f"{v:.1f}s")
    return "  ".join(parts)


class ProgressBar(Callback):
    """A tqdm bar per epoch on a terminal; on a pipe or file, one plain line per epoch (no
    carriage returns to corrupt logs). ``verbose=2`` always prints plain lines."""

    def __init__(self, verbose: int = 1, stream=None):
        self.verbose, self.stream = verbose, stream
        self._bar = None

    def _tty(self):
        stream = self.stream or sys.stderr
        return self.verbose == 1 and hasattr(stream, "isatty") and stream.isatty()

    def on_epoch_begin(self, epoch):
        if self._tty():
            from tqdm.auto import tqdm
            self._bar = tqdm(total=self.trainer.n_batches, desc=f"epoch {epoch + 1}",
                             leave=False, file=self.stream or sys.stderr)

    def on_batch_end(self, step, logs):
        if self._bar is not None:
            self._bar.update(1)

    def on_epoch_end(self, epoch, logs):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        print(format_logs(epoch, self.trainer.epochs, logs), file=self.stream or sys.stdout,
              flush=True)
