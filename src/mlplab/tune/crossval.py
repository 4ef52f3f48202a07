"""k-fold and leave-one-out evaluation of a training configuration, and the classic workflow in
one call: choose hyperparameters by cross-validation on the training data, retrain on all of it,
report once on the held-out test set.

A configuration is a factory that builds a fresh, unfitted Trainer: ``make_trainer(rng)``, or
``make_trainer(params, rng)`` for a grid. Preprocessing is fit inside every fold on that fold's
training part only, so no statistic of the held-out part leaks into training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from ..data.split import get_splitter
from ..errors import check_generator
from ..metrics import get_metric


def _default_metric(trainer) -> str:
    return "mse" if trainer.loss.task == "regression" else "accuracy"


def evaluate_metric(trainer, X, y, metric: str | None) -> tuple[str, float]:
    """(metric name, value) of a fitted trainer on (X, y)."""
    name = metric or _default_metric(trainer)
    m = get_metric(name)
    if m.needs == "labels":
        pred = trainer.predict_labels(X)
    else:
        pred = trainer.predict(X)
    return name, float(m.fn(np.asarray(y), np.asarray(pred)))


@dataclass
class CVResult:
    """Per-fold scores of one configuration; ``preprocessors`` are the per-fold fitted ones."""

    metric: str
    scores: list[float]
    greater_is_better: bool
    preprocessors: list = field(default_factory=list, repr=False)

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))

    @property
    def std(self) -> float:
        return float(np.std(self.scores))

    def __str__(self) -> str:
        return f"{self.metric} {self.mean:.4f} +- {self.std:.4f} over {len(self.scores)} folds"


def cross_validate(
    make_trainer: Callable[[np.random.Generator], Any],
    X,
    y,
    *,
    cv: Any = 10,
    preprocessing: Any = None,
    metric: str | None = None,
    rng: np.random.Generator,
) -> CVResult:
    """Score a configuration by k-fold (``cv=k``, stratified for class labels, default 10),
    leave-one-out (``cv="loo"``) or any scikit-learn splitter. Each fold fits the named
    ``preprocessing`` and a fresh trainer on its training part and scores the held-out part
    with ``metric`` (a name from :data:`mlplab.metrics.METRICS`; default accuracy, or MSE for
    regression)."""
    check_generator("cross_validate", rng)
    X, y = np.asarray(X), np.asarray(y)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"cross_validate: X has {X.shape[0]} examples but y has {y.shape[0]}")
    splitter = get_splitter(cv, y=y, rng=rng)
    scores, fitted, name = [], [], metric
    from ..data.preprocessing import fit_preprocessing  # scikit-learn: loaded on use

    for train, test in splitter.split(X, y):
        pre, Xtr, Xte = fit_preprocessing(preprocessing, X[train], X[test])
        trainer = make_trainer(rng.spawn(1)[0])
        trainer.fit(Xtr, y[train])
        name, value = evaluate_metric(trainer, Xte, y[test], metric)
        scores.append(value)
        fitted.append(pre)
    if name is None:  # no metric given, and no fold to choose the default from
        raise ValueError(f"cross_validate: the splitter {splitter!r} gave no folds")
    return CVResult(name, scores, get_metric(name).greater_is_better, fitted)


@dataclass
class SelectionResult:
    """The chosen parameters, every candidate's cross-validation, the test score of the
    configuration retrained on all training data, and that trainer and preprocessing."""

    best_params: dict
    candidates: list[tuple[dict, CVResult]]
    metric: str
    test_score: float
    trainer: Any = field(repr=False)
    preprocessing: Any = field(repr=False)

    def __str__(self) -> str:
        lines = [f"{'params':40s} {self.metric} (cross-validation)"]
        for params, res in self.candidates:
            mark = " <- best" if params == self.best_params else ""
            lines.append(f"{str(params):40s} {res.mean:.4f} +- {res.std:.4f}{mark}")
        lines.append(
            f"test {self.metric} of the best, retrained on all training data: {self.test_score:.4f}"
        )
        return "\n".join(lines)


def select_and_evaluate(
    make_trainer: Callable[[dict, np.random.Generator], Any],
    grid: Any,
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    cv: Any = 10,
    preprocessing: Any = None,
    metric: str | None = None,
    rng: np.random.Generator,
) -> SelectionResult:
    """Cross-validate every parameter set of ``grid`` (a dict of lists, expanded like
    scikit-learn's ParameterGrid, or a list of dicts) on the training data, retrain the best on
    all of it (preprocessing refit on all of it), and score the test set once."""
    from sklearn.model_selection import ParameterGrid

    check_generator("select_and_evaluate", rng)
    candidates = list(ParameterGrid(grid)) if isinstance(grid, dict) else list(grid)
    if not candidates:
        raise ValueError("select_and_evaluate: the grid is empty")
    results = []
    for params in candidates:
        res = cross_validate(
            partial(make_trainer, params),
            X_train,
            y_train,
            cv=cv,
            preprocessing=preprocessing,
            metric=metric,
            rng=rng,
        )
        results.append((params, res))
    sign = 1.0 if results[0][1].greater_is_better else -1.0
    best_params, best = max(results, key=lambda pr: sign * pr[1].mean)
    from ..data.preprocessing import fit_preprocessing  # scikit-learn: loaded on use

    pre, Xtr, Xte = fit_preprocessing(preprocessing, np.asarray(X_train), np.asarray(X_test))
    trainer = make_trainer(best_params, rng.spawn(1)[0])
    trainer.fit(Xtr, np.asarray(y_train))
    name, test = evaluate_metric(trainer, Xte, np.asarray(y_test), best.metric)
    return SelectionResult(best_params, results, name, test, trainer, pre)
