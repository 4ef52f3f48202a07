"""Bias and variance: the verdict from training, validation and baseline errors, learning curves
(error vs training-set size), validation curves (error vs one hyperparameter), and the
"overfit a tiny subset" sanity check.

Curves take a factory that builds a fresh, unfitted :class:`~mlplab.train.Trainer`:
``make_trainer(rng)`` (learning curve) or ``make_trainer(value, rng)`` (validation curve), so each
point trains from scratch with its own seeded generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import check_generator
from ..train.callbacks import History
from .advice import Finding

HIGH_BIAS_REMEDIES = (
    "a bigger network: more hidden units or layers",
    "train longer, or tune the optimizer and learning rate (e.g. adam)",
    "less regularization: smaller L2 lambda, less dropout",
    "better input features or a better-suited architecture",
)
HIGH_VARIANCE_REMEDIES = (
    "more training data, or data augmentation",
    "regularization: L2 weight decay, dropout, max-norm",
    "early stopping on the validation loss",
    "a smaller network, or fewer input features (e.g. PCA)",
)


@dataclass
class BiasVarianceReport:
    """Ng's recipe: avoidable bias = train error - baseline error, variance = validation error
    - train error; each is "high" above ``tolerance``."""

    train_error: float
    val_error: float
    baseline_error: float | None
    tolerance: float
    metric: str
    avoidable_bias: float | None
    variance: float
    verdict: str
    remedies: list[str] = field(default_factory=list)

    @property
    def high_bias(self) -> bool:
        return "high bias" in self.verdict

    @property
    def high_variance(self) -> bool:
        return "high variance" in self.verdict

    def __str__(self) -> str:
        base = (
            "no baseline given (0 assumed for error rates)"
            if self.baseline_error is None
            else f"baseline {self.baseline_error:.4g}"
        )
        lines = [
            f"{self.metric}: train {self.train_error:.4g}, validation {self.val_error:.4g}, {base}"
        ]
        if self.avoidable_bias is not None:
            lines.append(
                f"avoidable bias (train - baseline) {self.avoidable_bias:.4g}; "
                f"variance (validation - train) {self.variance:.4g}; "
                f"tolerance {self.tolerance:.4g}"
            )
        else:
            lines.append(
                f"variance (validation - train) {self.variance:.4g}; bias not judged "
                "without a baseline for a loss"
            )
        lines.append(f"verdict: {self.verdict}")
        lines += [f"  - {r}" for r in self.remedies]
        return "\n".join(lines)


def _errors_from(source: Any, epoch: int | str | None) -> tuple[float, float, str]:
    if isinstance(source, History):
        if epoch is None and source.best_epoch is not None:
            # the model holds the restored (best) epoch's weights: judge those, not the last
            epoch = len(source.epoch) - 1 - source.epoch[::-1].index(source.best_epoch)
        source = source.history
    if isinstance(source, dict) and ("loss" in source or "accuracy" in source):
        h = source
        if "val_loss" not in h:
            raise ValueError(
                "bias_variance_report: the history has no validation results "
                "(fit with validation_data=...)"
            )
        if epoch == "best":
            i = int(np.argmin(h["val_loss"]))
        else:
            i = -1 if epoch is None else int(epoch)
        if "accuracy" in h and "val_accuracy" in h:
            return 1.0 - h["accuracy"][i], 1.0 - h["val_accuracy"][i], "error rate"
        return h["loss"][i], h["val_loss"][i], "loss"
    if isinstance(source, dict):
        if not {"train", "val"} <= set(source):
            raise ValueError(
                "bias_variance_report: give a History, a history dict, "
                "(train_error, val_error) or {'train': ..., 'val': ...}"
            )
        return float(source["train"]), float(source["val"]), source.get("metric", "error rate")
    if isinstance(source, (tuple, list)) and len(source) == 2:
        return float(source[0]), float(source[1]), "error rate"
    raise TypeError(
        "bias_variance_report: give a History, a history dict, "
        f"(train_error, val_error) or {{'train': ..., 'val': ...}}, got {source!r}"
    )


def bias_variance_report(
    source: Any,
    baseline_error: float | None = None,
    *,
    tolerance: float | None = None,
    epoch: int | str | None = None,
) -> BiasVarianceReport:
    """Tell high bias from high variance.

    Parameters
    ----------
    source : a History (or its ``.history`` dict) from a fit with validation data, a pair
        ``(train_error, val_error)``, or ``{"train", "val"[, "metric"]}``. From a history the
        errors are 1 - accuracy for classifiers, else the loss, at the epoch whose weights the
        model holds: the last, or the one early stopping restored (``history.best_epoch``; give
        a History, not its dict, for this); ``epoch="best"``: the epoch of the lowest validation
        loss; an int: that row of the history. A history's training accuracy is
        averaged over the epoch in training mode (dropout on); for exact figures pass errors
        from ``trainer.evaluate`` on the training and validation sets.
    baseline_error : human-level or Bayes error (0 if omitted for error rates)
    tolerance : a gap counts as high above this; default 0.02 for error rates (two points),
        10% of the larger error for losses
    """
    train, val, metric = _errors_from(source, epoch)
    if not (math.isfinite(train) and math.isfinite(val)):
        raise ValueError(
            f"bias_variance_report: errors must be finite, got train={train}, val={val}"
        )
    if tolerance is None:
        tolerance = 0.02 if metric == "error rate" else 0.1 * max(abs(train), abs(val), 1e-12)
    judged_bias = baseline_error is not None or metric == "error rate"
    bias = train - (baseline_error or 0.0) if judged_bias else None
    variance = val - train
    high_b = bias is not None and bias > tolerance
    high_v = variance > tolerance
    if high_b and high_v:
        assert bias is not None  # high_b
        verdict = "high bias and high variance"
        worse = "bias" if bias >= variance else "variance"
        verdict += f" (mostly {worse}: start there)"
        remedies = list(HIGH_BIAS_REMEDIES if worse == "bias" else HIGH_VARIANCE_REMEDIES)
        remedies += list(HIGH_VARIANCE_REMEDIES if worse == "bias" else HIGH_BIAS_REMEDIES)
    elif high_b:
        verdict, remedies = "high bias (underfitting)", list(HIGH_BIAS_REMEDIES)
    elif high_v:
        verdict, remedies = "high variance (overfitting)", list(HIGH_VARIANCE_REMEDIES)
    else:
        verdict, remedies = "fine: neither bias nor variance above tolerance", []
    return BiasVarianceReport(
        train, val, baseline_error, tolerance, metric, bias, variance, verdict, remedies
    )


# -- curves ---------------------------------------------------------------------------------------


def _error(trainer, X, y) -> float:
    result = trainer.evaluate(X, y)
    return 1.0 - result["accuracy"] if "accuracy" in result else result["loss"]


@dataclass
class Curve:
    """Train and validation error at each point of ``x`` (sizes or hyperparameter values)."""

    x: list
    train_error: list[float]
    val_error: list[float]
    metric: str
    xlabel: str
    log_x: bool = False

    @property
    def best(self):
        """The x with the lowest validation error."""
        return self.x[int(np.argmin(self.val_error))]

    def plot(self, ax=None):
        """Train and validation error against x; returns the matplotlib Figure."""
        from matplotlib.figure import Figure

        fig = ax.figure if ax is not None else Figure(figsize=(6, 4))
        ax = ax if ax is not None else fig.add_subplot()
        ax.plot(self.x, self.train_error, "o-", label="train")
        ax.plot(self.x, self.val_error, "s-", label="validation")
        if self.log_x:
            ax.set_xscale("log")
        ax.set(xlabel=self.xlabel, ylabel=self.metric)
        ax.legend()
        return fig


def _metric_name(trainer) -> str:
    return "error rate" if trainer.loss.task != "regression" else "loss"


def learning_curve(
    make_trainer: Callable[[np.random.Generator], Any],
    X,
    y,
    X_val,
    y_val,
    *,
    sizes: Sequence[float | int] = (0.1, 0.25, 0.5, 0.75, 1.0),
    preprocessing: Any = None,
    rng: np.random.Generator,
) -> Curve:
    """Error on the training subset and on the validation set against the training-set size.

    ``sizes`` are fractions of ``X`` (floats in (0, 1]) or counts; each point trains a fresh
    trainer on a random subset, with ``preprocessing`` fit on that subset only. A gap that
    stays wide as the size grows means variance (more data helps); both errors high and close
    means bias (more data does not help).
    """
    check_generator("learning_curve", rng)
    n = X.shape[0]
    counts = []
    for s in sizes:
        c = int(round(s * n)) if isinstance(s, float) else int(s)
        if not 1 <= c <= n:
            raise ValueError(f"learning_curve: size {s!r} gives {c} examples; valid: 1..{n}")
        counts.append(c)
    order = rng.permutation(n)
    train_err, val_err, metric = [], [], "error"
    from ..data.preprocessing import fit_preprocessing  # scikit-learn: loaded on use

    for c in counts:
        idx = np.sort(order[:c])
        _, Xs, Xv = fit_preprocessing(preprocessing, X[idx], X_val)
        trainer = make_trainer(rng.spawn(1)[0])
        trainer.fit(Xs, y[idx])
        metric = _metric_name(trainer)
        train_err.append(_error(trainer, Xs, y[idx]))
        val_err.append(_error(trainer, Xv, y_val))
    return Curve(counts, train_err, val_err, metric, "training examples")


def validation_curve(
    make_trainer: Callable[[Any, np.random.Generator], Any],
    values: Sequence,
    X,
    y,
    X_val,
    y_val,
    *,
    name: str = "value",
    log_scale: bool | None = None,
    preprocessing: Any = None,
    rng: np.random.Generator,
) -> Curve:
    """Training and validation error against one hyperparameter (``make_trainer(value, rng)``).

    ``log_scale`` defaults to True when the values are positive and span 100x or more (learning
    rates, L2 lambdas). ``curve.best`` is the value with the lowest validation error.
    """
    check_generator("validation_curve", rng)
    values = list(values)
    if not values:
        raise ValueError("validation_curve: values is empty")
    from ..data.preprocessing import fit_preprocessing  # scikit-learn: loaded on use

    _, Xs, Xv = fit_preprocessing(preprocessing, X, X_val)
    train_err, val_err, metric = [], [], "error"
    for v in values:
        trainer = make_trainer(v, rng.spawn(1)[0])
        trainer.fit(Xs, y)
        metric = _metric_name(trainer)
        train_err.append(_error(trainer, Xs, y))
        val_err.append(_error(trainer, Xv, y_val))
    if log_scale is None:
        numeric = all(isinstance(v, (int, float)) and v > 0 for v in values)
        log_scale = numeric and max(values) / min(values) >= 100
    return Curve(values, train_err, val_err, metric, name, log_x=log_scale)


def overfit_tiny_subset(
    make_trainer: Callable[[np.random.Generator], Any],
    X,
    y,
    *,
    n: int = 20,
    rng: np.random.Generator,
) -> Finding:
    """cs231n's sanity check: a correct network and loss can drive the training error on ``n``
    examples to zero (100% accuracy; for regression, 1% of the starting loss). Train the
    factory's trainer (give it enough epochs and no regularization) on a random subset."""
    check_generator("overfit_tiny_subset", rng)
    idx = rng.choice(X.shape[0], size=min(n, X.shape[0]), replace=False)
    Xs, ys = X[idx], y[idx]
    trainer = make_trainer(rng.spawn(1)[0])
    start = None
    if trainer.model.built:
        start = trainer.evaluate(Xs, ys)["loss"]
    trainer.fit(Xs, ys)
    result = trainer.evaluate(Xs, ys)
    if "accuracy" in result:
        ok = result["accuracy"] == 1.0
        msg = (
            f"training accuracy on {len(idx)} examples after {trainer.epoch} epochs: "
            f"{result['accuracy']:.0%} (loss {result['loss']:.3g})"
        )
    else:
        first = start if start is not None else trainer.history.history["loss"][0]
        ok = result["loss"] <= 0.01 * first
        msg = (
            f"training loss on {len(idx)} examples went from {first:.3g} to "
            f"{result['loss']:.3g} in {trainer.epoch} epochs"
        )
    if ok:
        return Finding("overfit_tiny_subset", "ok", msg + ": the network can learn")
    return Finding(
        "overfit_tiny_subset",
        "problem",
        msg + ": it cannot even memorize them",
        "look for a bug (labels shuffled against inputs, wrong loss for the "
        "outputs), a learning rate far too low or too high, too few epochs, or "
        "regularization left on",
        value=result["loss"],
    )
