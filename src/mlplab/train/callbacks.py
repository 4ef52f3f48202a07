"""Callbacks: the training loop's only way to talk to the world (Keras hook names).

Epoch logs are dicts of Python floats: ``loss``, ``accuracy`` (classification), ``val_loss``,
``val_accuracy`` (with validation data), ``penalty`` (with regularizers), ``lr``, ``time``.
Batch logs carry ``loss`` as a 0-d array (convert only when needed) and ``size``.
"""

from __future__ import annotations

import csv
import difflib
import math
import os
import sys
import tempfile
from typing import Any

from ..errors import check_choice, check_float, check_positive_int
from ..optim import current_learning_rate, set_hyperparams


class TrainingDiverged(UserWarning):
    """The loss became NaN or inf; the weights were restored to the last finite state."""


class Callback:
    """Base class. ``log_keys``: the keys a callback adds to the epoch logs (so that callbacks
    monitoring them are checked before the first epoch)."""

    trainer: Any = None
    log_keys: tuple[str, ...] = ()

    def on_train_begin(self, trainer) -> None:
        self.trainer = trainer

    def on_epoch_begin(self, epoch: int) -> None: ...

    def on_batch_end(self, step: int, logs: dict) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict) -> None: ...

    def on_train_end(self, logs: dict) -> None: ...

    def get_state(self) -> dict[str, Any] | None:
        """What a resumed fit needs to continue this callback where it stopped, or None (the
        default: nothing). Values are JSON numbers (or None), and dicts of arrays (best
        weights); a checkpoint stores it (``Trainer.save``) and ``Trainer.load`` gives it back
        through :meth:`set_state`."""
        return None

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue from ``state`` (what :meth:`get_state` returned) at the next fit's start,
        instead of starting afresh; only that fit: a later plain fit starts afresh again."""
        raise TypeError(f"{type(self).__name__} keeps no state to restore")


class History(Callback):
    """Per-epoch logs: ``history.history["val_loss"][e]``; ``history.epoch`` the epoch numbers
    (0-based, over all fits); ``best_epoch`` the epoch whose weights the model holds after the
    last fit when a callback restored them (``EarlyStopping``), else None (the last epoch's)."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.best_epoch: int | None = None

    def on_train_begin(self, trainer):
        super().on_train_begin(trainer)
        self.best_epoch = None

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
        self._resume: dict[str, Any] | None = None

    #: the counters a resumed fit continues (``best`` and the subclass's)
    _state_fields: tuple[str, ...] = ("best",)

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_train_begin(self, trainer):
        """Check ``monitor`` against the logs this fit will produce (before epoch 1: a typo must
        not cost an epoch) and start afresh, as Keras does at every fit, unless a checkpoint's
        state was given (``set_state``, by ``Trainer.load``): then continue it."""
        super().on_train_begin(trainer)
        self._check_monitor(trainer.log_keys)
        self._reset()
        if self._resume is not None:
            for name, value in self._resume.items():
                setattr(self, name, value)
            self._resume = None

    def get_state(self) -> dict[str, Any] | None:
        return {name: getattr(self, name) for name in self._state_fields}

    def set_state(self, state: dict[str, Any]) -> None:
        if set(state) != set(self._state_fields):
            raise ValueError(
                f"{type(self).__name__}.set_state: state keys must be "
                f"{sorted(self._state_fields)}, got {sorted(state)}"
            )
        self._resume = dict(state)

    def _check_monitor(self, keys: list[str]) -> None:
        if self.monitor in keys:
            return
        msg = (
            f"{type(self).__name__}: monitor={self.monitor!r} is not logged by this fit; "
            f"its epoch logs are {keys}"
        )
        no_validation = self.monitor.startswith("val_") and "val_loss" not in keys
        if no_validation:  # suggesting the training loss instead would change what is watched
            msg += "; val_* keys need fit(..., validation_data=(X_val, y_val))"
        close = [] if no_validation else difflib.get_close_matches(self.monitor, keys, n=1)
        if close:
            msg += f"; did you mean {close[0]!r}?"
        raise ValueError(msg)

    def _value(self, logs):
        if self.monitor not in logs:
            raise ValueError(
                f"{type(self).__name__}: monitor={self.monitor!r} is not logged; "
                f"logged: {sorted(logs)} (val_* needs validation_data)"
            )
        return logs[self.monitor]

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs in a row
    (Keras's rule: ``patience=2`` stops after the second epoch without improvement); with
    ``restore_best`` the weights (and buffers) of the best epoch are put back at the end.
    Either way ``trainer.stop_reason`` says what happened, e.g. "early stopping: val_loss did
    not improve for 5 epochs after epoch 12 (best 0.231); weights restored to the end of epoch
    12", and ``trainer.history.best_epoch`` names the restored epoch (0-based)."""

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "auto",
        patience: int = 5,
        min_delta: float = 0.0,
        restore_best: bool = True,
    ):
        super().__init__(monitor, mode, min_delta)
        self.patience = check_positive_int("EarlyStopping", "patience", patience, minimum=0)
        self.restore_best = restore_best
        self._reset()

    _state_fields = ("best", "wait", "best_epoch", "stopped_epoch", "best_state")

    def _reset(self) -> None:
        super()._reset()
        self.wait, self.best_epoch, self.best_state, self.stopped_epoch = 0, None, None, None

    def _out_of_patience(self) -> bool:
        # Keras's rule: ``patience`` epochs in a row without improvement stop training
        return self.wait >= self.patience

    def on_epoch_end(self, epoch, logs):
        value = self._value(logs)
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self.best_state = self.trainer.get_state()
        else:
            self.wait += 1
            if self._out_of_patience():
                self.stopped_epoch = epoch
                self.trainer.stop_training = True

    def on_train_end(self, logs):
        trainer = self.trainer
        restore = self.restore_best and self.best_state is not None
        if restore:  # (a subclass may keep the starting weights as the best until one beats it)
            trainer.set_state(self.best_state)
            trainer.history.best_epoch = self.best_epoch
            self.best_state = None  # a copy of the model: free it
        why, weights, best = self._explain(restore, trainer.epoch)
        if self.stopped_epoch is not None:
            trainer.stop_reason = f"early stopping: {why}; {weights}"
        elif restore and (self.best_epoch is None or self.best_epoch + 1 != trainer.epoch):
            note = f"EarlyStopping: {weights} ({best})"  # the epochs ran out, or it diverged
            trainer.stop_reason = (
                note if trainer.stop_reason is None else f"{trainer.stop_reason} Then {note}"
            )

    def _explain(self, restored: bool, last: int) -> tuple[str, str, str]:
        """(why training stopped, which weights the model holds, the best value) in words;
        epochs are counted from 1, as the progress lines print them (``last``: epochs run)."""
        kept = f"the weights of the last epoch ({last}) are kept"
        if self.best_epoch is None:  # no epoch beat the start (NaN values, a subclass's best)
            return (
                f"no epoch improved {self.monitor} in {self.wait} epochs",
                "weights restored to the start of this fit" if restored else kept,
                f"no epoch improved {self.monitor}",
            )
        by = f" by more than min_delta={self.min_delta:g}" if self.min_delta else ""
        return (
            f"{self.monitor} did not improve{by} for {self.wait} epochs after epoch "
            f"{self.best_epoch + 1} (best {self.best:.4g})",
            f"weights restored to the end of epoch {self.best_epoch + 1}" if restored else kept,
            f"best {self.monitor} {self.best:.4g}; the last epoch run was {last}",
        )


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved for
    ``patience`` epochs, not below ``min_lr``. With ``stop_at_min_lr`` training stops once the
    rate would go below ``min_lr``: Nielsen's rule "halve when validation accuracy stalls for n
    epochs, stop at 1/128 of the initial rate" is
    ``ReduceLROnPlateau("val_accuracy", factor=0.5, patience=n, min_lr=eta0/128,
    stop_at_min_lr=True)``.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "auto",
        factor: float = 0.5,
        patience: int = 5,
        min_delta: float = 0.0,
        min_lr: float = 0.0,
        stop_at_min_lr: bool = False,
    ):
        super().__init__(monitor, mode, min_delta)
        self.factor = check_float(
            "ReduceLROnPlateau",
            "factor",
            factor,
            low=0.0,
            high=1.0,
            low_inclusive=False,
            high_inclusive=False,
        )
        self.patience = check_positive_int("ReduceLROnPlateau", "patience", patience, minimum=0)
        self.min_lr = check_float("ReduceLROnPlateau", "min_lr", min_lr, low=0.0)
        self.stop_at_min_lr = stop_at_min_lr
        self._reset()

    _state_fields = ("best", "wait")

    def _reset(self) -> None:
        super()._reset()
        self.wait = 0

    def on_train_begin(self, trainer):
        if current_learning_rate(trainer.opt_state) is None:
            name = (trainer.optimizer.spec or {}).get("name", "this optimizer")
            raise ValueError(
                f"ReduceLROnPlateau: {name!r} has no learning rate to reduce "
                "(full-batch solvers choose their own step); remove the callback"
            )
        # the rate is an injected hyperparameter of the optimizer state; a schedule's is refused
        set_hyperparams(
            trainer.opt_state,
            "ReduceLROnPlateau",
            learning_rate=current_learning_rate(trainer.opt_state),
        )
        super().on_train_begin(trainer)

    def on_epoch_end(self, epoch, logs):
        value = self._value(logs)
        if self._improved(value):
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience:  # Keras's rule: reduce after ``patience`` flat epochs
            self.wait = 0
            lr = current_learning_rate(self.trainer.opt_state)
            new = lr * self.factor
            if new < self.min_lr * (1 - 1e-12):
                if self.stop_at_min_lr:
                    self.trainer.stop_training = True
                    return
                new = self.min_lr
            if lr > 0 and new < lr:
                self.trainer.opt_state = set_hyperparams(
                    self.trainer.opt_state, "ReduceLROnPlateau", learning_rate=new
                )


class TerminateOnNaN(Callback):
    """Check every batch's loss, whatever the array library. The trainer already stops at the
    first non-finite loss (NumPy: after every batch; other libraries: at the end of each epoch,
    so as not to wait for the device each step); this callback makes the check per batch
    everywhere. Either way the weights, buffers and optimizer state of the last epoch that ended
    finite are restored and a :class:`TrainingDiverged` warning names the epoch and the
    learning rate."""

    def on_batch_end(self, step, logs):
        value = float(logs["loss"])
        if not math.isfinite(value) and self.trainer.diverged_at is None:
            self.trainer._diverged(self.trainer.epoch, value, stacklevel=5)


def _check_writable(owner: str, path: str, example: str) -> None:
    """A path a callback will write must fail before the first epoch, not after a whole one."""
    if os.path.exists(path) and not os.path.isfile(path):
        raise ValueError(
            f"{owner}: path={path!r} exists and is not a regular file (a folder, "
            f"device or pipe); give a file path such as "
            f"{os.path.join(path, example)!r}"
        )
    folder = os.path.dirname(os.path.abspath(path))
    try:  # the real test: root passes os.access on read-only file systems
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise ValueError(
            f"{owner}: cannot write path={path!r}: its folder {folder!r} is "
            f"missing or not writable ({e})"
        ) from None


class ModelCheckpoint(_Monitor):
    """Save a checkpoint each epoch, or only when ``monitor`` improves (``save_best_only``).
    The path and the monitor are checked before the first epoch."""

    def __init__(
        self,
        path: str | os.PathLike,
        monitor: str = "val_loss",
        mode: str = "auto",
        save_best_only: bool = True,
    ):
        super().__init__(monitor, mode, 0.0)
        self.path, self.save_best_only = os.fspath(path), save_best_only

    def get_state(self) -> dict[str, Any] | None:
        """The best value so far (``save_best_only``), so a resumed fit overwrites the file
        only when an epoch beats every earlier one; None when it saves every epoch."""
        return super().get_state() if self.save_best_only else None

    def on_train_begin(self, trainer):
        if self.save_best_only:
            super().on_train_begin(trainer)
        else:
            Callback.on_train_begin(self, trainer)
        _check_writable("ModelCheckpoint", self.path, "best.npz")

    def on_epoch_end(self, epoch, logs):
        if self.save_best_only:
            value = self._value(logs)
            if not self._improved(value):
                return
            self.best = value
        self.trainer.save(self.path)


class CSVLogger(Callback):
    """Append each epoch's logs as a CSV row (header from the first epoch); the path is checked
    before the first epoch."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._fields: list[str] | None = None

    def on_train_begin(self, trainer):
        super().on_train_begin(trainer)
        _check_writable("CSVLogger", self.path, "log.csv")

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

            self._bar = tqdm(
                total=self.trainer.n_batches,
                desc=f"epoch {epoch + 1}",
                leave=False,
                file=self.stream or sys.stderr,
            )

    def on_batch_end(self, step, logs):
        if self._bar is not None:
            self._bar.update(1)

    def on_epoch_end(self, epoch, logs):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        print(
            format_logs(epoch, self.trainer.end_epoch, logs),
            file=self.stream or sys.stdout,
            flush=True,
        )

    def on_train_end(self, logs):
        if self._bar is not None:  # the epoch that diverged never ended
            self._bar.close()
            self._bar = None
        if self.trainer.stop_reason is not None:
            print(self.trainer.stop_reason, file=self.stream or sys.stdout, flush=True)
