"""Evaluation metrics by name, computed by ``sklearn.metrics`` (level 1).

A :class:`Metric` says what it needs (``"labels"``: predicted classes, ``"scores"``: class
probabilities or scores, ``"values"``: regression outputs) and whether greater is better, so
cross-validation and the lab can pick and compare configurations by any of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ._registry import Registry


class Metric(NamedTuple):
    fn: Callable[..., float]
    needs: str  # "labels", "scores" or "values"
    greater_is_better: bool


METRICS: Registry[Metric] = Registry("metric")


def _sklearn(fn_name: str, **fixed: Any) -> Callable[..., float]:
    """``sklearn.metrics.<fn_name>`` with ``fixed`` options, imported at the first call (so that
    ``import mlplab`` does not load scikit-learn)."""

    def metric(y_true, y_pred, **options):
        from sklearn import metrics

        return getattr(metrics, fn_name)(y_true, y_pred, **fixed, **options)

    metric.__name__ = fn_name
    return metric


def _top_k_accuracy(y_true, scores, k: int = 5) -> float:
    from sklearn.metrics import top_k_accuracy_score

    return top_k_accuracy_score(y_true, scores, k=k, labels=np.arange(scores.shape[1]))


def _register():
    def add(name, fn, needs, greater=True):
        METRICS.register(name, Metric(fn, needs, greater))

    add("accuracy", _sklearn("accuracy_score"), "labels")
    for avg in ("macro", "micro", "weighted"):
        for kind in ("precision", "recall", "f1"):
            add(f"{kind}_{avg}", _sklearn(f"{kind}_score", average=avg, zero_division=0), "labels")
    add("top_k_accuracy", _top_k_accuracy, "scores")
    add("mse", _sklearn("mean_squared_error"), "values", greater=False)
    add("mae", _sklearn("mean_absolute_error"), "values", greater=False)
    add("r2", _sklearn("r2_score"), "values")


_register()


def get_metric(name: str) -> Metric:
    return METRICS.get(name)


def classification_scores(y_true, y_pred, *, scores=None, top_k: int = 5) -> dict[str, float]:
    """Accuracy, precision, recall and F1 (macro, micro, weighted averages) of predicted labels,
    and top-k accuracy when class ``scores`` ``(n, classes)`` are given and k < classes."""
    out = {"accuracy": float(get_metric("accuracy").fn(y_true, y_pred))}
    for kind in ("precision", "recall", "f1"):
        for avg in ("macro", "micro", "weighted"):
            out[f"{kind}_{avg}"] = float(get_metric(f"{kind}_{avg}").fn(y_true, y_pred))
    if scores is not None and top_k < np.asarray(scores).shape[1]:
        out[f"top_{top_k}_accuracy"] = float(
            get_metric("top_k_accuracy").fn(y_true, np.asarray(scores), k=top_k)
        )
    return out


def regression_scores(y_true, y_pred) -> dict[str, float]:
    """Mean squared error, mean absolute error and R^2 (averaged over outputs)."""
    return {name: float(get_metric(name).fn(y_true, y_pred)) for name in ("mse", "mae", "r2")}


def confusion_matrix(y_true, y_pred, *, n_classes: int | None = None) -> np.ndarray:
    """Counts C[i, j] of examples of class i predicted as j (rows: truth, as scikit-learn)."""
    from sklearn.metrics import confusion_matrix as cm

    labels = None if n_classes is None else np.arange(n_classes)
    return cm(y_true, y_pred, labels=labels)


def score(name: str, y_true, *, labels=None, scores=None, values=None, **options: Any) -> float:
    """Metric ``name`` from whichever prediction it needs."""
    metric = get_metric(name)
    given = {"labels": labels, "scores": scores, "values": values}[metric.needs]
    if given is None:
        raise ValueError(f"metric {name!r} needs {metric.needs}=")
    return float(metric.fn(y_true, given, **options))
