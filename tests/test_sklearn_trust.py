"""The estimators never return a silently wrong model (issue 11): partial_fit's ``classes``,
divergence, target overflow, parameter checks. scikit-learn's own MLP is the reference."""
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.neural_network import MLPClassifier as SkMLPClassifier

from mlplab.sklearn import MLPClassifier

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
