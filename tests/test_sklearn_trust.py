"""The estimators never return a silently wrong model (issue 11): partial_fit's ``classes``,
divergence, target overflow, parameter checks. scikit-learn's own MLP is the reference."""
import re

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import accuracy_score, r2_score
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor

from mlplab.sklearn import MLPClassifier, MLPRegressor

# the trainer warns when it stops a diverging fit (the estimator's own error is tested here);
# few epochs on purpose
pytestmark = [pytest.mark.filterwarnings("ignore::mlplab.train.TrainingDiverged"),
              pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")]

LABELS = np.array(["cat", "ant", "bee"])  # sorted order: ant, bee, cat


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(90, n_features=2, centers=3, cluster_std=0.5, random_state=0)
    return X, LABELS[y]


def _partial_fits(X, y, classes, epochs=15):
    clf = MLPClassifier((8,), learning_rate_init=0.05, random_state=0)
    for _ in range(epochs):
        clf.partial_fit(X, y, classes=classes)
    return clf


# -- item 1: partial_fit's classes -----------------------------------------------------------------
def test_partial_fit_sorts_and_deduplicates_classes_as_sklearn(blobs):
    X, y = blobs
    unsorted = ["cat", "ant", "bee", "ant"]
    sk = SkMLPClassifier((8,), random_state=0).partial_fit(X, y, classes=unsorted)
    clf = _partial_fits(X, y, unsorted)
    np.testing.assert_array_equal(clf.classes_, sk.classes_)
    assert clf.n_outputs_ == len(sk.classes_) == 3
    assert clf.predict_proba(X).shape == (len(X), 3)
    # the same network as with the classes given sorted, and it separates the blobs
    ref = _partial_fits(X, y, sorted(set(unsorted)))
    np.testing.assert_array_equal(clf.predict_proba(X), ref.predict_proba(X))
    assert np.mean(clf.predict(X) == y) > 0.9


def test_partial_fit_refuses_other_classes_later(blobs):
    X, y = blobs
    clf = MLPClassifier((8,), random_state=0).partial_fit(X, y, classes=["cat", "ant", "bee"])
    clf.partial_fit(X, y, classes=["bee", "cat", "ant"])  # the same set, in any order
    sk = SkMLPClassifier((8,), random_state=0).partial_fit(X, y, classes=["cat", "ant", "bee"])
    wider = ["ant", "bee", "cat", "dog"]
    with pytest.raises(ValueError, match="is not the same as on last call"):
        sk.partial_fit(X, y, classes=wider)
    with pytest.raises(ValueError, match=r"MLPClassifier.partial_fit: classes=\['ant', 'bee', "
                                         r"'cat', 'dog'\] differ from the classes of the first "
                                         r"call, \['ant', 'bee', 'cat'\]"):
        clf.partial_fit(X, y, classes=wider)


# -- item 2: a diverging fit is scikit-learn's ValueError, never a NaN model ------------------------
@pytest.fixture(scope="module")
def sklearn_non_finite_message(blobs):
    """scikit-learn's own words, from its MLP on inputs so large that the weights overflow."""
    X, y = blobs
    with np.errstate(all="ignore"), pytest.raises(ValueError) as info:
        SkMLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(
            X * 1e200, np.arange(len(X)) % 3)
    return str(info.value)


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_divergence_is_sklearns_value_error(Estimator, blobs, sklearn_non_finite_message):
    X, y = blobs
    y = y if Estimator is MLPClassifier else (y == "cat").astype(float)
    est = Estimator((8,), solver="sgd", learning_rate_init=1e6, max_iter=20, random_state=0)
    with pytest.raises(ValueError, match=re.escape(sklearn_non_finite_message)
                       + rf" {Estimator.__name__}: the training loss became NaN or inf in epoch "
                       r"\d+ \(solver='sgd'\); lower learning_rate_init \(now 1000000.0\)"):
        est.fit(X, y)
    # partial_fit too: at the latest the epoch the loss overflows
    est = Estimator((8,), solver="sgd", learning_rate_init=1e6, random_state=0)
    kwargs = {"classes": LABELS} if Estimator is MLPClassifier else {}
    with pytest.raises(ValueError, match=re.escape(sklearn_non_finite_message)):
        for _ in range(20):
            est.partial_fit(X, y, **kwargs)


def test_float64_huge_inputs_are_an_error_as_in_sklearn(blobs, sklearn_non_finite_message):
    X, y = blobs
    y = (y == "cat").astype(float)
    reg = MLPRegressor((8,), dtype="float64", max_iter=5, random_state=0)
    with pytest.raises(ValueError, match=re.escape(sklearn_non_finite_message)
                       + r".*standardize the inputs"):
        reg.fit(X * 1e200, y)


@pytest.mark.parametrize("Estimator, score", [(MLPClassifier, accuracy_score),
                                              (MLPRegressor, r2_score)])
def test_early_stopping_keeps_the_best_weights_when_diverging(Estimator, score, blobs):
    X, y = blobs
    y = y if Estimator is MLPClassifier else (y == "cat").astype(float)
    params = dict(solver="sgd", learning_rate_init=1e6, early_stopping=True, max_iter=20,
                  random_state=0)
    SkEstimator = SkMLPClassifier if Estimator is MLPClassifier else SkMLPRegressor
    with np.errstate(all="ignore"):  # scikit-learn: no error, the best weights (finite)
        sk = SkEstimator(hidden_layer_sizes=(8,), **params).fit(X, y)
    assert np.isfinite(sk.predict_proba(X) if Estimator is MLPClassifier else sk.predict(X)).all()
    if Estimator is MLPRegressor:  # its R^2 of a NaN prediction is NaN, recorded
        assert np.isnan(sk.validation_scores_).any()
    est = Estimator((8,), **params).fit(X[:60], y[:60], X_val=X[60:], y_val=y[60:])
    assert np.isnan(est.validation_scores_).any()
    assert est.best_validation_score_ == np.nanmax(est.validation_scores_)
    # the weights kept are those of the best epoch: they score it again
    assert score(y[60:], est.predict(X[60:])) == pytest.approx(est.best_validation_score_)


def test_float32_target_overflow_is_refused_before_training(blobs):
    X, y = blobs
    y = (y == "cat") * 1e30
    assert 1e30 ** 2 > float(np.finfo(np.float32).max)  # the squared error overflows float32
    reg = MLPRegressor((8,), max_iter=5, random_state=0)
    with pytest.raises(ValueError, match=r"MLPRegressor: the targets are too large for "
                                         r"dtype='float32': with \|y\| up to 1e\+30 the squared "
                                         r"error .* or use dtype=\"float64\""):
        reg.fit(X, y)
    assert not hasattr(reg, "n_iter_")  # refused before any training
    reg = MLPRegressor((8,), loss="absolute_error", max_iter=5, random_state=0)
    with pytest.raises(ValueError, match="the absolute error summed over the data"):
        reg.fit(X, y * 1e8)
    # float64 holds it, as scikit-learn's float64 MLP trains on these targets
    with np.errstate(all="ignore"):
        sk = SkMLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y)
    reg = MLPRegressor((8,), dtype="float64", max_iter=5, random_state=0).fit(X, y)
    assert np.isfinite(sk.loss_curve_).all() and np.isfinite(reg.loss_curve_).all()
