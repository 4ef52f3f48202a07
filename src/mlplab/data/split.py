"""Hold-out splits and the cross-validation splitters, on top of scikit-learn's.

scikit-learn takes a seed, not a Generator: each split draws its ``random_state`` from the
``rng`` it is given, so one seeded Generator still decides everything.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ..errors import check_generator, check_positive_int


def sklearn_seed(rng: np.random.Generator) -> int:
    """A scikit-learn ``random_state`` drawn from ``rng``."""
    return int(rng.integers(0, 2**31 - 1))


def is_classification_target(y) -> bool:
    """Integer, boolean or string labels (not floats, not one-hot/multi-output)."""
    y = np.asarray(y)
    return y.ndim == 1 and y.dtype.kind in "iubUSO"


def _non_negative(r: Any) -> bool:
    """A real number >= 0, not NaN (``numbers.Real`` promises ``<``, not ``>=``)."""
    return isinstance(r, numbers.Real) and not (r < 0 or math.isnan(r))


def _sizes(n: int, ratios, sizes) -> tuple[int, int]:
    """(validation, test) counts from ratios (fractions of n) or absolute sizes."""
    if sizes is not None:
        if ratios is not None:
            raise ValueError("train_val_test_split: give ratios or sizes, not both")
        if len(sizes) != 2:
            raise ValueError(
                f"train_val_test_split: sizes must be (validation, test) counts, "
                f"got sizes={sizes!r}"
            )
        n_val, n_test = (
            check_positive_int("train_val_test_split", f"sizes[{i}]", s, minimum=0)
            for i, s in enumerate(sizes)
        )
    else:
        ratios = (0.6, 0.2, 0.2) if ratios is None else tuple(ratios)
        if (
            len(ratios) != 3
            or not all(_non_negative(r) for r in ratios)
            or abs(sum(ratios) - 1.0) > 1e-9
            or ratios[0] <= 0
        ):
            raise ValueError(
                f"train_val_test_split: ratios must be three non-negative "
                f"fractions (train, validation, test) summing to 1 with train > 0, "
                f"got ratios={ratios!r}"
            )
        n_test = int(round(ratios[2] * n))
        n_val = int(round(ratios[1] * n))
    if n_val + n_test >= n:
        raise ValueError(
            f"train_val_test_split: {n_val} validation + {n_test} test examples "
            f"leave no training data out of {n}"
        )
    return n_val, n_test


def train_val_test_split(
    X, y, *, ratios=None, sizes=None, stratify: bool | None = None, rng: np.random.Generator
):
    """Split into training, validation and test parts: ``X_train, X_val, X_test, y_train, y_val,
    y_test`` (scikit-learn's order).

    ``ratios=(train, val, test)`` fractions (default 60/20/20), or ``sizes=(n_val, n_test)``
    absolute counts for large data (e.g. 10,000 each). Stratified by class by default for
    classification targets (integer or string labels), so every part keeps the class
    proportions; ``stratify=False`` turns it off. A part of size 0 comes back empty.
    """
    from sklearn.model_selection import train_test_split

    check_generator("train_val_test_split", rng)
    X = np.asarray(X) if not hasattr(X, "shape") else X
    y = np.asarray(y)
    n = X.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"train_val_test_split: X has {n} examples but y has {y.shape[0]}")
    n_val, n_test = _sizes(n, ratios, sizes)
    strat = is_classification_target(y) if stratify is None else bool(stratify)
    if strat and not is_classification_target(y):
        raise ValueError(
            "train_val_test_split: stratify=True needs class labels (a 1-D integer "
            f"or string y), got dtype {y.dtype} and shape {y.shape}"
        )
    idx = np.arange(n)

    def cut(indices, count):
        if count == 0:
            return indices, indices[:0]
        return train_test_split(
            indices,
            test_size=count,
            random_state=sklearn_seed(rng),
            stratify=y[indices] if strat else None,
        )

    rest, test = cut(idx, n_test)
    train, val = cut(rest, n_val)
    return (X[train], X[val], X[test], y[train], y[val], y[test])


def get_splitter(cv: Any = 10, *, y=None, rng: np.random.Generator | None = None):
    """A scikit-learn splitter: an int k (stratified k-fold for class labels, else k-fold,
    shuffled with a seed from ``rng``), ``"loo"`` (leave-one-out), or a splitter object."""
    from sklearn.model_selection import KFold, LeaveOneOut, StratifiedKFold

    if isinstance(cv, str):
        if cv.lower().replace("-", "").replace("_", "") in ("loo", "leaveoneout"):
            return LeaveOneOut()
        raise ValueError(f"cv must be an int >= 2, 'loo' or a scikit-learn splitter, got cv={cv!r}")
    if hasattr(cv, "split"):
        return cv
    k = check_positive_int("cv", "k (the number of folds)", cv, minimum=2)
    seed = sklearn_seed(rng) if rng is not None else None
    if y is not None and is_classification_target(y):
        return StratifiedKFold(k, shuffle=seed is not None, random_state=seed)
    return KFold(k, shuffle=seed is not None, random_state=seed)
