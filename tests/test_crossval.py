"""Cross-validation of training configurations: fold scores equal scikit-learn's for the same
convex model and folds, preprocessing fit on each fold's training part only, leave-one-out, and
the select-then-test workflow."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score

import mlplab
from mlplab import Dense, Sequential, Trainer, cross_validate, select_and_evaluate


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), y


def softmax_regression(lam):
    def make(rng):
        model = Sequential([Dense(3)])
        model.build(4, rng=rng, dtype="float64")
        return Trainer(
            model,
            "cross_entropy",
            {"name": "lbfgs", "config": {"gtol": 1e-10, "ftol": 1e-15}},
            epochs=500,
            rng=rng,
            penalties=[mlplab.L2(lam)],
            verbose=0,
        )

    return make


def test_fold_scores_equal_scikit_learns_for_the_same_model_and_folds(iris):
    X, y = iris
    folds = StratifiedKFold(5, shuffle=True, random_state=3)
    lam = 0.05
    ours = cross_validate(softmax_regression(lam), X, y, cv=folds, rng=np.random.default_rng(0))
    n_train = len(X) * 4 // 5  # every training part holds 120 examples
    ref = cross_val_score(
        LogisticRegression(C=1 / (n_train * lam), tol=1e-12, max_iter=10_000), X, y, cv=folds
    )
    np.testing.assert_array_equal(ours.scores, ref)
    assert ours.metric == "accuracy" and ours.mean == pytest.approx(ref.mean())


class Spy(TransformerMixin, BaseEstimator):
    """Records the row ids (column 0) it was fit on."""

    def fit(self, X, y=None):
        self.seen_ = set(np.asarray(X)[:, 0].astype(int).tolist())
        return self

    def transform(self, X):
        return np.asarray(X)[:, 1:]


def test_preprocessing_is_fit_on_each_training_part_only(iris):
    X, y = iris
    Xid = np.hstack([np.arange(len(X))[:, None], X])
    folds = list(StratifiedKFold(5).split(Xid, y))
    res = cross_validate(
        softmax_regression(0.01),
        Xid,
        y,
        cv=StratifiedKFold(5),
        preprocessing=[Spy()],
        rng=np.random.default_rng(0),
    )
    for pre, (train, test) in zip(res.preprocessors, folds):
        seen = pre.steps[0][1].seen_
        assert seen == set(train.tolist()) and not seen & set(test.tolist())


def test_leave_one_out_and_regression_metric(iris):
    X, y = iris
    sub = np.r_[0:10, 50:60, 100:110]
    res = cross_validate(
        softmax_regression(0.01), X[sub], y[sub], cv="loo", rng=np.random.default_rng(0)
    )
    assert len(res.scores) == 30 and set(res.scores) <= {0.0, 1.0}

    def linreg(rng):
        return Trainer(Sequential([Dense(1)]), "mse", "newton", epochs=1, rng=rng, verbose=0)

    rng = np.random.default_rng(1)
    Xr = rng.standard_normal((60, 3))
    yr = (Xr @ [1.0, -2.0, 0.5] + 0.1 * rng.standard_normal(60))[:, None]
    res = cross_validate(linreg, Xr, yr, cv=3, rng=np.random.default_rng(0))
    assert res.metric == "mse" and not res.greater_is_better and res.mean < 0.05
    r2 = cross_validate(linreg, Xr, yr, cv=3, metric="r2", rng=np.random.default_rng(0))
    assert r2.mean > 0.99


def test_select_then_retrain_and_test_once(iris):
    X, y = iris
    Xtr, _, Xte, ytr, _, yte = mlplab.train_val_test_split(
        X, y, ratios=(0.7, 0.0, 0.3), rng=np.random.default_rng(0)
    )
    result = select_and_evaluate(
        lambda p, rng: softmax_regression(p["lam"])(rng),
        {"lam": [1e-3, 10.0]},
        Xtr,
        ytr,
        Xte,
        yte,
        cv=5,
        preprocessing="standardize",
        rng=np.random.default_rng(0),
    )
    means = {p["lam"]: r.mean for p, r in result.candidates}
    assert means[1e-3] > means[10.0] and result.best_params == {"lam": 1e-3}
    # the reported test score is the retrained trainer's, on test data preprocessed with the
    # statistics of the whole training set
    Xte_t = result.preprocessing.transform(Xte)
    assert result.test_score == pytest.approx(result.trainer.evaluate(Xte_t, yte)["accuracy"])
    np.testing.assert_allclose(result.preprocessing.steps[0][1].mean_, Xtr.mean(axis=0))
    assert "<- best" in str(result)
    with pytest.raises(ValueError, match="the grid is empty"):
        select_and_evaluate(lambda p, r: None, [], Xtr, ytr, Xte, yte, rng=np.random.default_rng(0))
