"""Hold-out splits (sizes, disjointness, stratification, seeds), k-fold splitters, and metrics
against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import KFold, LeaveOneOut, StratifiedKFold

from mlplab import classification_scores, confusion_matrix, regression_scores
from mlplab.data import get_splitter, train_val_test_split


def test_default_split_is_60_20_20_disjoint_and_stratified(rng):
    y = np.repeat([0, 1, 2], [500, 300, 200])
    X = np.arange(1000.0)[:, None]
    Xtr, Xv, Xte, ytr, yv, yte = train_val_test_split(X, y, rng=np.random.default_rng(0))
    assert (len(Xtr), len(Xv), len(Xte)) == (600, 200, 200)
    ids = np.concatenate([Xtr, Xv, Xte]).ravel()
    assert np.array_equal(np.sort(ids), np.arange(1000.0))  # a partition
    for part, yp in (("train", ytr), ("val", yv), ("test", yte)):
        np.testing.assert_allclose(
            np.bincount(yp) / len(yp), [0.5, 0.3, 0.2], atol=0.006, err_msg=part
        )
    np.testing.assert_array_equal(y[Xtr.ravel().astype(int)], ytr)  # rows stay with labels
    again = train_val_test_split(X, y, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(again[0], Xtr)
    other = train_val_test_split(X, y, rng=np.random.default_rng(1))
    assert not np.array_equal(other[0], Xtr)


def test_absolute_sizes_and_unstratified_regression(rng):
    X, y = rng.standard_normal((30_000, 3)), rng.standard_normal(30_000)
    Xtr, Xv, Xte, *_ = train_val_test_split(X, y, sizes=(10_000, 10_000), rng=rng)
    assert (len(Xtr), len(Xv), len(Xte)) == (10_000, 10_000, 10_000)
    Xtr, Xv, Xte, *_ = train_val_test_split(X, y, ratios=(0.8, 0.0, 0.2), rng=rng)
    assert (len(Xtr), len(Xv), len(Xte)) == (24_000, 0, 6_000)
    with pytest.raises(ValueError, match="stratify=True needs class labels"):
        train_val_test_split(X, y, stratify=True, rng=rng)
    with pytest.raises(ValueError, match="ratios must be three non-negative fractions"):
        train_val_test_split(X, y, ratios=(0.5, 0.2, 0.2), rng=rng)
    with pytest.raises(ValueError, match="leave no training data out of 30000"):
        train_val_test_split(X, y, sizes=(20_000, 10_000), rng=rng)
    with pytest.raises(ValueError, match="X has 30000 examples but y has 3"):
        train_val_test_split(X, y[:3], rng=rng)


def test_splitters():
    labels = np.array([0, 1] * 10)
    assert isinstance(get_splitter(10, y=labels), StratifiedKFold)
    assert isinstance(get_splitter(5, y=np.linspace(0, 1, 20)), KFold)
    assert isinstance(get_splitter("loo"), LeaveOneOut)
    s = get_splitter(4, y=labels, rng=np.random.default_rng(0))
    folds = [test for _, test in s.split(np.zeros((20, 1)), labels)]
    assert sorted(np.concatenate(folds).tolist()) == list(range(20))
    assert all(
        np.bincount(labels[f]).tolist() == [2, 3]
        or np.bincount(labels[f]).tolist() == [3, 2]
        or np.bincount(labels[f]).tolist() == [2, 2]
        or np.bincount(labels[f]).tolist() == [3, 3]
        for f in folds
    )
    with pytest.raises(ValueError, match="k \\(the number of folds\\) must be an int >= 2"):
        get_splitter(1)
    with pytest.raises(ValueError, match="cv must be an int >= 2, 'loo'"):
        get_splitter("holdout")


def test_classification_scores_by_hand():
    y = np.array([0, 0, 1, 1, 2])
    p = np.array([0, 1, 1, 1, 0])
    s = classification_scores(y, p)
    assert s["accuracy"] == pytest.approx(3 / 5)
    # per class: precision 1/2, 2/3, 0 (no prediction: 0); recall 1/2, 1, 0
    assert s["precision_macro"] == pytest.approx((1 / 2 + 2 / 3 + 0) / 3)
    assert s["recall_macro"] == pytest.approx((1 / 2 + 1 + 0) / 3)
    f1 = [2 * 0.5 * 0.5 / 1.0, 2 * (2 / 3) / (2 / 3 + 1), 0.0]
    assert s["f1_macro"] == pytest.approx(np.mean(f1))
    assert s["f1_weighted"] == pytest.approx((2 * f1[0] + 2 * f1[1] + f1[2]) / 5)
    assert s["f1_micro"] == pytest.approx(3 / 5)  # micro F1 = accuracy for single-label
    np.testing.assert_array_equal(confusion_matrix(y, p), [[1, 1, 0], [0, 2, 0], [1, 0, 0]])
    np.testing.assert_array_equal(confusion_matrix(y, p, n_classes=4)[3], [0, 0, 0, 0])
    scores = np.array(
        [
            [0.5, 0.3, 0.2, 0.0],
            [0.1, 0.6, 0.3, 0.0],
            [0.2, 0.3, 0.5, 0.0],
            [0.35, 0.25, 0.4, 0.0],
            [0.0, 0.1, 0.2, 0.7],
        ]
    )
    # top-2 sets: {0,1} holds 0, {1,2} misses 0, {2,1} holds 1, {2,0} misses 1, {3,2} holds 2
    top = classification_scores(np.array([0, 0, 1, 1, 2]), p, scores=scores, top_k=2)
    assert top["top_2_accuracy"] == pytest.approx(3 / 5)


def test_regression_scores_by_hand():
    y, p = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.5, 2.0, 2.0, 5.0])
    s = regression_scores(y, p)
    assert s["mse"] == pytest.approx((0.25 + 0 + 1 + 1) / 4)
    assert s["mae"] == pytest.approx((0.5 + 0 + 1 + 1) / 4)
    assert s["r2"] == pytest.approx(1 - 2.25 / 5.0)
