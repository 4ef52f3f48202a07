"""The training loop: mini-batches in, callbacks out.

One step (:meth:`Trainer._step`), in order: ``model.forward(x, training=True)`` ->
``loss.value_and_grad`` -> ``model.backward`` -> penalty gradients -> clipping (``clip``,
``clip_by_global_norm``) -> ``optimizer.update`` -> ``apply_updates`` -> constraints; then the
loop's callbacks observe (after the batch, after the epoch). Optional speed: ``_step`` first
asks ``fast.compiled_step`` (``optim/fast.py``) for the update and its application as one
compiled pass (same bits); when it cannot run it returns None and the two readable lines run.
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

from .._typing import Array
from ..backend import all_finite, copy, get_namespace, is_numpy
from ..data.batching import minibatch_indices
from ..errors import check_generator, check_matrix, check_positive_int
from ..losses import Loss, get_loss
from ..network import Sequential
from ..optim import (
    Solver,
    apply_updates,
    assign_flat,
    chain,
    clip,
    clip_by_global_norm,
    configure_schedules,
    current_learning_rate,
    fast,
    get_optimizer,
    ravel,
)
from ..regularizers import MaxNorm, Penalty, penalty_grads
from .callbacks import Callback, History, ProgressBar, TrainingDiverged
from .checkpoint import load_checkpoint, save_checkpoint


def _check_targets(y: Any, what: str) -> None:
    """Targets are an array (or sequence) of numbers, one per example: a clear error for a
    scalar (``fit(X, 3)`` meaning ``epochs=3``) and for string labels, which only the
    scikit-learn estimators encode."""
    owner = "Trainer" if what == "X" else f"Trainer ({what})"
    if (
        isinstance(y, (numbers.Number, str, bytes))
        or y is None
        or not (hasattr(y, "shape") or hasattr(y, "__len__"))
    ):
        hint = (
            f"; epochs is a keyword argument: fit(X, y, epochs={y!r})"
            if isinstance(y, numbers.Integral) and not isinstance(y, bool)
            else ""
        )
        raise TypeError(
            f"{owner}: the targets must be an array with one target per example, "
            f"got {type(y).__name__} {y!r}{hint}"
        )
    if len(getattr(y, "shape", (None,))) == 0:  # a 0-d array: no example axis
        raise TypeError(
            f"{owner}: the targets must be an array with one target per example, "
            f"got a 0-d array {y!r}"
        )
    dtype = getattr(y, "dtype", None)
    kind = getattr(dtype, "kind", "f")  # NumPy dtypes; other array libraries have no strings
    if dtype is None or kind == "O":  # a list, or an array of Python objects
        first = np.asarray(y).reshape(-1)[:1].tolist()
        kind = (
            "U"
            if first and isinstance(first[0], (str, bytes))
            else "c"
            if first and isinstance(first[0], complex)
            else "f"
        )
    if kind == "c":  # NumPy would drop the imaginary part with only a ComplexWarning
        raise TypeError(
            f"{owner}: the targets are complex numbers; the Trainer takes real "
            "numbers (pass y.real, or the real and imaginary parts as two outputs)"
        )
    if kind in ("U", "S"):
        example = np.asarray(y).reshape(-1)[:1].tolist()[0]
        raise TypeError(
            f"{owner}: the targets are strings (e.g. {example!r}); the Trainer takes numbers: "
            "encode class labels as integers 0..k-1 (e.g. sklearn.preprocessing.LabelEncoder), "
            "or use mlplab.sklearn.MLPClassifier, which encodes them for you"
        )


def _n_correct(loss: Loss, out: Array, t: Array) -> tuple[Array, int]:
    """How many predictions in ``out`` match the targets ``t`` (from ``loss.targets``), as a
    0-d array, and out of how many: one per example (multiclass) or one per output (multilabel).
    Accuracy is their ratio."""
    xp = get_namespace(out)
    hits = xp.sum(xp.astype(loss.predicted_labels(out) == loss.target_labels(t), xp.int64))
    return hits, out.shape[0] * (1 if loss.task == "multiclass" else out.shape[1])


def _snapshot(state: Any, into: Any = None) -> Any:
    """A deep copy of nested dicts, tuples and lists of arrays and numbers (weights, optimizer
    state). Arrays are copied into the matching arrays of ``into`` (an earlier snapshot of the
    same structure) when it has them, so a snapshot per epoch allocates nothing after the
    first: no page faults, the cost of one memcpy of the state."""
    if isinstance(state, dict):
        into = into if isinstance(into, dict) else {}
        return {k: _snapshot(v, into.get(k)) for k, v in state.items()}
    if isinstance(state, (tuple, list)):
        same = isinstance(into, (tuple, list)) and len(into) == len(state)
        items = [_snapshot(s, into[i] if same else None) for i, s in enumerate(state)]
        return type(state)(*items) if hasattr(state, "_fields") else type(state)(items)
    if not hasattr(state, "shape"):
        return state  # Python numbers (steps, learning rates) are immutable
    if (
        into is not None
        and type(into) is type(state)
        and into.shape == state.shape
        and into.dtype == state.dtype
    ):
        into[...] = state
        return into
    return copy(get_namespace(state), state)


class Trainer:
    """Train ``model`` on ``loss`` with ``optimizer``.

    Parameters
    ----------
    model : Sequential (built, or built here from the data's width with ``rng``)
    loss : Loss or name;  optimizer : Transform or Solver, a name (``"adam"``) or
        ``{"name", "config"}``. Full-batch solvers (``"newton"``, ``"lbfgs"``) evaluate the loss
        over the whole training set, one solver iteration per epoch; they ignore ``batch_size``
        and ``shuffle`` and refuse clipping, augmentation, constraints and stochastic layers.
    batch_size : int or None (None: full batch; 1: stochastic)
    epochs : int, how many epochs each ``fit`` trains (unless it is given ``epochs=``)
    shuffle : bool (a fresh order each epoch, drawn from ``rng``)
    rng : numpy.random.Generator, the only source of the trainer's randomness
    callbacks : list of Callback (a History is always added, ``trainer.history``)
    penalties : list of L1/L2/ElasticNet;  constraints : list of MaxNorm
    clip_norm, clip_value : gradient clipping by global norm / by value, before the optimizer
    augment : callable ``(x, rng) -> x`` applied to each training batch
    verbose : 0 silent, 1 progress bar on a terminal (plain lines on a pipe), 2 plain lines

    Attributes
    ----------
    epoch : epochs run so far, all fits together;  step : updates so far
    end_epoch : the epoch count at which the current (or last) ``fit`` ends at the latest
    stop_reason : why the last ``fit`` stopped early (divergence, a callback), else None
    diverged_at : the 0-based epoch in which the last ``fit`` met a non-finite loss, else None
    log_keys : the keys of the epoch logs the current (or last) ``fit`` produces
    """

    def __init__(
        self,
        model: Sequential,
        loss: Any,
        optimizer: Any = "adam",
        *,
        batch_size: int | None = 32,
        epochs: int = 10,
        shuffle: bool = True,
        rng: np.random.Generator,
        callbacks: Iterable[Callback] = (),
        penalties: Iterable[Penalty] = (),
        constraints: Iterable[MaxNorm] = (),
        clip_norm: float | None = None,
        clip_value: float | None = None,
        augment: Any = None,
        verbose: int = 1,
    ):
        if not isinstance(model, Sequential):
            raise TypeError(f"Trainer: model must be a Sequential, got {type(model).__name__}")
        self.model, self.loss = model, get_loss(loss)
        model.loss = self.loss  # as Keras's compile: the model knows what its outputs mean
        self.optimizer = get_optimizer(optimizer)
        self.solver = isinstance(self.optimizer, Solver)
        self.clip_norm, self.clip_value = clip_norm, clip_value
        pre = [clip(clip_value)] if clip_value is not None and not self.solver else []
        pre += [clip_by_global_norm(clip_norm)] if clip_norm is not None and not self.solver else []
        # clipping is stateless: it runs before the optimizer, whose state is opt_state
        self._clip = chain(*pre) if pre else None
        self.batch_size = (
            None if batch_size is None else check_positive_int("Trainer", "batch_size", batch_size)
        )
        self.epochs = check_positive_int("Trainer", "epochs", epochs)
        self.shuffle = bool(shuffle)
        self.rng = check_generator("Trainer", rng)
        self.augment_rng = rng.spawn(1)[0]
        self.penalties, self.constraints = list(penalties), list(constraints)
        self.augment = augment
        if verbose not in (0, 1, 2):
            raise ValueError(f"Trainer: verbose must be 0, 1 or 2, got {verbose=!r}")
        self.history = History()
        self.callbacks = [self.history, *callbacks] + ([ProgressBar(verbose)] if verbose else [])
        self.epoch, self.step, self.end_epoch = 0, 0, 0
        self.opt_state: Any = None
        self.stop_training = False
        self.stop_reason: str | None = None
        self.diverged_at: int | None = None
        self.log_keys: list[str] = []
        self.n_batches = 0
        # (label, step, weights and buffers, optimizer state) to go back to if the loss blows up;
        # kept between fits so that its arrays are reused (fit(epochs=1) in a loop, partial_fit)
        self._finite: tuple | None = None
        self.solver_message: str | None = None  # why a full-batch solver stopped

    # -- the model's parameters (views) and state (copies) ----------------------------------
    def params(self) -> dict:
        return self.model.params()

    def grads(self) -> dict:
        return self.model.grads()

    def get_state(self) -> dict:
        """Copies of the model's weights and buffers."""
        return self.model.get_state()

    def set_state(self, state: dict) -> None:
        self.model.set_state(state)

    # -- data ------------------------------------------------------------------------------------
    def _prepare(self, X: Any, y: Any, what: str = "X"):
        """``X`` and ``y`` checked once: the model's input array and the loss's targets (see
        :meth:`Loss.targets`), which the hot path then uses batch by batch, unchecked."""
        model = self.model
        if not model.built:  # a list of rows is an array too (as scikit-learn and PyTorch take)
            X = check_matrix("Trainer", X, what=what)
            # on the data's array library: torch tensors in, a model of torch tensors
            xp = np if isinstance(X, np.ndarray) else get_namespace(X)
            model.build(X.shape[1], rng=self.rng, xp=xp)
        X = model.check_input(X)  # shape, dtype, NaN/inf: all checked once, before training
        return X, self._targets(y, X.shape[0], what)

    def _targets(self, y: Any, n: int, what: str = "X"):
        _check_targets(y, what)
        n_y = y.shape[0] if hasattr(y, "shape") else len(y)
        if n_y != n:
            raise ValueError(f"Trainer: {what} has {n} examples but its targets have {n_y}")
        model = self.model
        assert model.out_features is not None  # built: by _prepare, or check_input refused it
        return self.loss.targets(y, (n, model.out_features), dtype=model.dtype, xp=model.xp)

    # -- one step ----------------------------------------------------------------------------
    def train_step(self, x, y):
        """One update on a batch; returns (mean loss as a 0-d array, model outputs)."""
        if self.solver:
            raise RuntimeError(
                "Trainer.train_step: a full-batch solver "
                f"({self.optimizer.spec['name']!r}) has no single steps; use fit"
            )
        x = self.model.check_input(x)
        return self._step(x, self._targets(y, x.shape[0], "x"))

    def _step(self, x, t, sample_weight=None):
        # fit checked the whole data set once (x, the targets t, the weights): nothing here
        # scans a batch again
        model, loss = self.model, self.loss
        out = model.forward(x, training=True, check=False)
        value, dout = loss.value_and_grad(out, t, sample_weight, check=False)
        model.backward(dout, input_grad=False)
        params = model.params()
        grads = penalty_grads(self.penalties, params, model.grads())
        if self._clip is not None:
            grads, _ = self._clip.update(grads, self._clip.init(params), params)
        opt = self.optimizer
        state = fast.compiled_step(opt, grads, self.opt_state, params)  # optional speed: same bits
        if state is None:  # the readable step (other arrays, no C extension, a user chain)
            updates, state = opt.update(grads, self.opt_state, params)
            apply_updates(params, updates)
        self.opt_state = state
        for c in self.constraints:
            c.apply(params)
        self.step += 1
        return value, out

    # -- loops -------------------------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        y: Any,
        *,
        epochs: int | None = None,
        validation_data: tuple | None = None,
        sample_weight: Any = None,
    ) -> History:
        """Train ``epochs`` more epochs (default: the trainer's ``epochs``); returns the History
        (per-epoch logs of every fit so far).

        As in Keras, each call continues where the last one stopped: the weights, the optimizer
        state and the learning-rate schedule go on, and ``trainer.epoch`` counts every epoch
        run. ``sample_weight`` (one non-negative weight per example) weights each example's
        loss; it is rescaled to mean 1, so the full-data loss is the weighted average and
        mini-batch losses are unbiased estimates of it. The logged training loss is the weighted
        one; accuracies and ``evaluate`` are unweighted.

        A non-finite training loss stops the fit: the weights, buffers and optimizer state of
        the last epoch that ended finite (or of the start of the fit) are restored, a
        :class:`TrainingDiverged` warning says so, and ``stop_reason`` and ``diverged_at`` are
        set. NumPy losses are checked after every batch, other array libraries' at the end of
        each epoch (a per-batch check would wait for the device every step).
        """
        epochs = (
            self.epochs if epochs is None else check_positive_int("Trainer.fit", "epochs", epochs)
        )
        X, t = self._prepare(X, y)
        sw = self._sample_weight(sample_weight, X.shape[0])
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("Trainer: validation_data must be a pair (X_val, y_val)")
            val = self._prepare(*validation_data, what="validation X")
        if self.solver:
            self._check_solver_setup()
        if self.opt_state is None:
            self.opt_state = self.optimizer.init(self.params())
        self.end_epoch = self.epoch + epochs
        if self.solver:
            self.n_batches = 1
        else:
            n = X.shape[0]
            self.n_batches = -(-n // (n if self.batch_size is None else min(self.batch_size, n)))
        if not self.solver:  # a full-batch solver chooses its own steps
            self.opt_state = configure_schedules(
                self.opt_state, steps_per_epoch=self.n_batches, epochs=self.end_epoch
            )
        self.stop_training, self.stop_reason, self.diverged_at = False, None, None
        self.log_keys = self._planned_log_keys(val)
        self._keep_finite(
            "the initial weights"
            if self.epoch == 0
            else f"the weights this fit started from (after epoch {self.epoch})"
        )
        for cb in self.callbacks:
            cb.on_train_begin(self)
        logs = (
            fit_full_batch(self, X, t, val, sw)
            if self.solver
            else self._fit_minibatches(X, t, val, sw)
        )
        for cb in self.callbacks:
            cb.on_train_end(logs)
        return self.history

    def _planned_log_keys(self, val) -> list[str]:
        """The epoch-log keys this fit produces (callbacks add theirs through ``log_keys``), so
        callbacks can check what they monitor before the first epoch."""
        keys = ["loss"]
        classify = self.loss.task != "regression"
        keys += ["accuracy"] if classify else []
        keys += ["penalty"] if self.penalties else []
        keys += (["val_loss", "val_accuracy"] if classify else ["val_loss"]) if val else []
        keys += ["lr"] if current_learning_rate(self.opt_state) is not None else []
        keys.append("time")
        for cb in self.callbacks:
            keys += [k for k in getattr(cb, "log_keys", ()) if k not in keys]
        return keys

    # -- divergence: back to the last finite state -----------------------------------------------
    def _keep_finite(self, label: str) -> None:
        """Remember the current weights, buffers and optimizer state as the last finite state
        (copied into the previous snapshot's arrays: one memcpy of the state, no allocation)."""
        old = self._finite
        weights = {**self.params(), **self.model.buffers()}
        self._finite = (
            label,
            self.step,
            _snapshot(weights, old and old[2]),
            _snapshot(self.opt_state, old and old[3]),
        )

    def _check_epoch_finite(self, epoch: int, loss: float) -> None:
        """End-of-epoch divergence check: the epoch's loss (the only check for losses that
        live on a device), then the weights: each loss is measured before its update, so the
        epoch's last update can still overflow them (one reduction per tensor per epoch)."""
        if not math.isfinite(loss):
            self._diverged(epoch, loss, stacklevel=5)
        elif not self._weights_finite():
            self._diverged(epoch, loss, stacklevel=5, weights=True)

    def _weights_finite(self) -> bool:
        xp = self.model.xp
        return all(all_finite(xp, w) for w in self.params().values())

    def _diverged(
        self, epoch: int, value: float, stacklevel: int = 4, *, weights: bool = False
    ) -> None:
        """The loss became ``value`` (NaN or inf) in ``epoch`` (or, with ``weights``, an update
        made the weights non-finite while the loss was still finite): restore the last finite
        state, stop, and say so (a TrainingDiverged warning; the progress output prints
        ``stop_reason``)."""
        lr = current_learning_rate(self.opt_state)
        assert self._finite is not None  # fit keeps the starting state before any update
        label, self.step, saved_weights, saved_opt_state = self._finite
        self.set_state(saved_weights)
        self.opt_state = _snapshot(saved_opt_state, self.opt_state)  # into the live arrays
        self.stop_training, self.diverged_at = True, epoch
        at = f" at learning rate {lr:g}" if lr is not None else ""
        what = "an update made the weights NaN or inf" if weights else f"loss became {value}"
        self.stop_reason = (
            f"{what} in epoch {epoch + 1}{at}; weights and optimizer state "
            f"restored to {label}. Try a smaller learning rate, gradient clipping or input "
            "standardization."
        )
        warnings.warn(self.stop_reason, TrainingDiverged, stacklevel=stacklevel)

    def _epoch_logs(self, loss: float, accuracy: float | None, val, start: float) -> dict:
        logs = {"loss": loss}
        if accuracy is not None:
            logs["accuracy"] = accuracy
        if self.penalties:
            params = self.params()
            logs["penalty"] = sum(p.value(params) for p in self.penalties)
        if val is not None:
            logs.update({f"val_{k}": v for k, v in self._evaluate(*val).items()})
        lr = current_learning_rate(self.opt_state)
        if lr is not None:
            logs["lr"] = float(lr)
        logs["time"] = time.perf_counter() - start
        return logs

    def _end_epoch(self, epoch: int, logs: dict) -> None:
        self.epoch = epoch + 1
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def _sample_weight(self, sample_weight, n: int):
        if sample_weight is None:
            return None
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape != (n,):
            raise ValueError(
                f"Trainer: sample_weight must have shape ({n},), one weight per "
                f"example, got {w.shape}"
            )
        if not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
            raise ValueError("Trainer: sample_weight must be finite, >= 0 and not all 0")
        xp = self.model.xp
        return xp.asarray(w / w.mean(), dtype=self.model.dtype)

    def _fit_minibatches(self, X, t, val, sw) -> dict:
        xp = self.model.xp
        n = X.shape[0]
        bs = n if self.batch_size is None else min(self.batch_size, n)
        logs: dict = {}
        classify = self.loss.task != "regression"
        # a NumPy loss is a host value: checking it costs nothing; elsewhere it would wait for
        # the device every step, so other libraries are checked once per epoch
        each_batch = is_numpy(xp)
        for epoch in range(self.epoch, self.end_epoch):
            for cb in self.callbacks:
                cb.on_epoch_begin(epoch)
            start = time.perf_counter()
            total, correct, count = 0.0, 0, 0
            for idx in minibatch_indices(n, bs, rng=self.rng, shuffle=self.shuffle):
                idx = xp.asarray(idx)
                xb, tb = xp.take(X, idx, axis=0), xp.take(t, idx, axis=0)
                if self.augment is not None:
                    xb = self.augment(xb, self.augment_rng)
                value, out = self._step(xb, tb, None if sw is None else xp.take(sw, idx))
                if each_batch and not math.isfinite(value):
                    self._diverged(epoch, float(value))
                    break
                m = xb.shape[0]
                total = total + value * m
                if classify:
                    hits, m_labels = _n_correct(self.loss, out, tb)
                    correct, count = correct + hits, count + m_labels
                for cb in self.callbacks:
                    cb.on_batch_end(self.step, {"loss": value, "size": m})
                if self.stop_training:
                    break
            if self.diverged_at is None:
                self._check_epoch_finite(epoch, float(total) / n)
            if self.diverged_at is not None:  # no epoch logs from a broken epoch
                break
            logs = self._epoch_logs(
                float(total) / n, float(correct) / max(count, 1) if classify else None, val, start
            )
            self._end_epoch(epoch, logs)
            if self.stop_training:
                break
            if epoch + 1 < self.end_epoch:  # the state to come back to if the loss blows up
                self._keep_finite(f"the end of epoch {epoch + 1}")
        return logs

    # -- full-batch solvers (newton, lbfgs) --------------------------------------------------------
    def _check_solver_setup(self) -> None:
        name = (self.optimizer.spec or {}).get("name", "solver")
        unused = [
            k
            for k, v in (
                ("clip_norm", self.clip_norm),
                ("clip_value", self.clip_value),
                ("augment", self.augment),
                ("constraints", self.constraints),
            )
            if v
        ]
        if unused:
            raise ValueError(
                f"Trainer: {', '.join(unused)} cannot be used with the full-batch solver "
                f"{name!r}, which minimizes the training loss directly; remove them or use a "
                "gradient optimizer such as 'adam'"
            )
        if self.model.generators():
            raise ValueError(
                f"Trainer: the full-batch solver {name!r} needs a deterministic loss, but the "
                "model has stochastic layers (Dropout, DropConnect, GaussianNoise); remove "
                "them or use a gradient optimizer such as 'adam'"
            )

    def _outputs(self, X, batch_size: int | None = None):
        """Evaluation-mode outputs of ``X`` (checked by the caller), in batches."""
        bs = batch_size or max(self.batch_size or 0, 1024)
        model = self.model
        n = X.shape[0]  # slices stay inside the array: the array API leaves the rest undefined
        outs = [model.forward(X[i : min(i + bs, n), ...], check=False) for i in range(0, n, bs)]
        return outs[0] if len(outs) == 1 else model.xp.concat(outs, axis=0)

    def _evaluate(self, X, t) -> dict[str, float]:
        """Loss and accuracy of checked inputs ``X`` and targets ``t`` (from ``_prepare``)."""
        out = self._outputs(X)
        value, _ = self.loss.value_and_grad(out, t, check=False)
        logs = {"loss": float(value)}
        if self.loss.task != "regression":
            hits, count = _n_correct(self.loss, out, t)
            logs["accuracy"] = float(hits) / count
        return logs

    def evaluate(self, X: Any, y: Any) -> dict[str, float]:
        """Mean data loss (penalties not included) and accuracy for classification, eval mode."""
        X, y = self._prepare(X, y)
        return self._evaluate(X, y)

    def predict(self, X: Any, batch_size: int | None = None):
        """Batched evaluation-mode predictions: probabilities for softmax/sigmoid losses, scores
        for hinge losses, values for regression. ``batch_size``: rows per forward pass (default
        the larger of the training batch size and 1024)."""
        if batch_size is not None:
            batch_size = check_positive_int("Trainer.predict", "batch_size", batch_size)
        X = self.model.check_input(X)
        return self.loss.predict(self._outputs(X, batch_size))

    def predict_labels(self, X: Any):
        X = self.model.check_input(X)
        return self.loss.predicted_labels(self._outputs(X))

    # -- checkpoints ------------------------------------------------------------------------------
    def save(self, path, *, extra: dict | None = None) -> None:
        """Write a checkpoint (see :func:`mlplab.train.save_checkpoint`)."""
        save_checkpoint(path, self, extra=extra)

    def load(self, path) -> None:
        """Restore a checkpoint; a following ``fit`` resumes where it stopped."""
        load_checkpoint(path, self)


# -- full-batch solvers (newton, lbfgs) ------------------------------------------------------------
def fit_full_batch(trainer: Trainer, X: Array, t: Array, val: tuple | None, sw: Any) -> dict:
    """Train with a full-batch solver: one solver iteration per epoch over the whole training
    set (``batch_size`` unused); returns the last epoch's logs.

    The solver calls ``objective(w)`` (loss and gradient at the flat weights ``w``) as often as
    its line search needs, then ``on_iteration(w, value)`` once per accepted step, which closes
    the epoch. ``X``, ``t`` and ``sw`` were checked by ``fit``.
    """
    params = trainer.model.params()
    last: dict = {}  # the latest evaluation, so an iteration's logs need no extra pass
    epoch_start: list = []  # when the open epoch began (its first evaluation)
    logs: dict = {}  # the last closed epoch's

    def objective(w):
        if not epoch_start:  # the first evaluation of an iteration opens its epoch
            for cb in trainer.callbacks:
                cb.on_epoch_begin(trainer.epoch)
            epoch_start.append(time.perf_counter())
        assign_flat(params, w)
        value, total, gradient, out = _full_batch_loss(trainer, params, X, t, sw)
        last.update(w=np.array(w, copy=True), value=value, out=out)
        return total, gradient

    def on_iteration(w, value) -> bool:
        if "w" not in last or not np.array_equal(last["w"], w):
            objective(w)
        assign_flat(params, w)  # the accepted point, whatever was evaluated last
        return _end_full_batch_epoch(
            trainer, last["value"], last["out"], t, val, epoch_start.pop(), logs
        )

    solver = trainer.optimizer
    assert isinstance(solver, Solver)  # fit takes this path only for a solver
    w, opt_state, trainer.solver_message = solver.minimize(
        objective,
        ravel(params),
        trainer.opt_state,
        max_iter=trainer.end_epoch - trainer.epoch,
        callback=on_iteration,
    )
    if trainer.diverged_at is None:
        trainer.opt_state = opt_state
        assign_flat(params, w)
    return logs


def _full_batch_loss(trainer: Trainer, params: dict, X: Array, t: Array, sw: Any):
    """(data loss, data loss + penalties, flat gradient, outputs) at the current weights."""
    model = trainer.model
    out = model.forward(X, training=True, check=False)
    value, dout = trainer.loss.value_and_grad(out, t, sw, check=False)
    model.backward(dout, input_grad=False)
    grads = penalty_grads(trainer.penalties, params, model.grads())
    value = float(value)
    return value, value + sum(p.value(params) for p in trainer.penalties), ravel(grads), out


def _end_full_batch_epoch(
    trainer: Trainer,
    value: float,
    out: Array,
    t: Array,
    val: tuple | None,
    start: float,
    logs: dict,
) -> bool:
    """Close a solver iteration's epoch: divergence check, callbacks, logs (written into
    ``logs``); returns whether to stop."""
    if not math.isfinite(value):
        trainer._diverged(trainer.epoch, value, stacklevel=5)
        return True
    trainer.step += 1
    xp = trainer.model.xp
    for cb in trainer.callbacks:
        cb.on_batch_end(trainer.step, {"loss": xp.asarray(value), "size": out.shape[0]})
    if trainer.diverged_at is not None:
        return True
    accuracy = None
    if trainer.loss.task != "regression":
        hits, count = _n_correct(trainer.loss, out, t)
        accuracy = float(hits) / count
    logs.clear()
    logs.update(trainer._epoch_logs(value, accuracy, val, start))
    trainer._end_epoch(trainer.epoch, logs)
    if not trainer.stop_training and trainer.epoch < trainer.end_epoch:
        trainer._keep_finite(f"the end of epoch {trainer.epoch}")
    return trainer.stop_training
