"""The estimators never return a silently wrong model (issue 11): partial_fit's ``classes``,
divergence, target overflow, parameter checks. scikit-learn's own MLP is the reference."""

import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import accuracy_score, r2_score
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor

import mlplab
from mlplab.sklearn import MLPClassifier, MLPRegressor

# the trainer warns when it stops a diverging fit (the estimator's own error is tested here);
# few epochs on purpose
pytestmark = [
    pytest.mark.filterwarnings("ignore::mlplab.train.TrainingDiverged"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

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
    with pytest.raises(
        ValueError,
        match=r"MLPClassifier.partial_fit: classes=\['ant', 'bee', "
        r"'cat', 'dog'\] differ from the classes of the first "
        r"call, \['ant', 'bee', 'cat'\]",
    ):
        clf.partial_fit(X, y, classes=wider)


# -- item 2: a diverging fit is scikit-learn's ValueError, never a NaN model --------------------
@pytest.fixture(scope="module")
def sklearn_non_finite_message(blobs):
    """scikit-learn's own words, from its MLP on inputs so large that the weights overflow."""
    X, y = blobs
    with np.errstate(all="ignore"), pytest.raises(ValueError) as info:
        SkMLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(
            X * 1e200, np.arange(len(X)) % 3
        )
    return str(info.value)


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_divergence_is_sklearns_value_error(Estimator, blobs, sklearn_non_finite_message):
    X, y = blobs
    y = y if Estimator is MLPClassifier else (y == "cat").astype(float)
    est = Estimator((8,), solver="sgd", learning_rate_init=1e6, max_iter=20, random_state=0)
    with pytest.raises(
        ValueError,
        match=re.escape(sklearn_non_finite_message)
        + rf" {Estimator.__name__}: training diverged in epoch \d+ \(the loss "
        r"or the weights became NaN or inf; solver='sgd'\); lower "
        r"learning_rate_init \(now 1000000.0\)",
    ):
        with warnings.catch_warnings():  # the estimator's error is all the user gets (as
            warnings.simplefilter("error", mlplab.TrainingDiverged)  # scikit-learn)
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
    with pytest.raises(
        ValueError, match=re.escape(sklearn_non_finite_message) + r".*standardize the inputs"
    ):
        reg.fit(X * 1e200, y)


@pytest.mark.parametrize(
    "Estimator, score", [(MLPClassifier, accuracy_score), (MLPRegressor, r2_score)]
)
def test_early_stopping_keeps_the_best_weights_when_diverging(Estimator, score, blobs):
    X, y = blobs
    y = y if Estimator is MLPClassifier else (y == "cat").astype(float)
    params = dict(
        solver="sgd", learning_rate_init=1e6, early_stopping=True, max_iter=20, random_state=0
    )
    SkEstimator = SkMLPClassifier if Estimator is MLPClassifier else SkMLPRegressor
    with np.errstate(all="ignore"):  # scikit-learn: no error, the best weights (finite)
        sk = SkEstimator(hidden_layer_sizes=(8,), **params).fit(X, y)
    assert np.isfinite(sk.predict_proba(X) if Estimator is MLPClassifier else sk.predict(X)).all()
    if Estimator is MLPRegressor:  # its R^2 of a NaN prediction is NaN, recorded
        assert np.isnan(sk.validation_scores_).any()
    with pytest.warns(mlplab.TrainingDiverged, match="loss became (nan|inf)"):  # said once
        est = Estimator((8,), **params).fit(X[:60], y[:60], X_val=X[60:], y_val=y[60:])
    assert np.isnan(est.validation_scores_).any()
    assert est.best_validation_score_ == np.nanmax(est.validation_scores_)
    # the weights kept are those of the best epoch: they score it again
    assert score(y[60:], est.predict(X[60:])) == pytest.approx(est.best_validation_score_)


def test_float32_target_overflow_is_refused_before_training(blobs):
    X, y = blobs
    y = (y == "cat") * 1e30
    assert 1e30**2 > float(np.finfo(np.float32).max)  # the squared error overflows float32
    reg = MLPRegressor((8,), max_iter=5, random_state=0)
    with pytest.raises(
        ValueError,
        match=r"MLPRegressor: the targets are too large for "
        r"dtype='float32': with \|y\| up to 1e\+30 the squared "
        r"error .* or use dtype=\"float64\"",
    ):
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


# -- item 15: the estimators' own checks ---------------------------------------------------------
@pytest.mark.parametrize(
    "Estimator, SkEstimator", [(MLPClassifier, SkMLPClassifier), (MLPRegressor, SkMLPRegressor)]
)
def test_softmax_is_no_hidden_activation(Estimator, SkEstimator, blobs):
    X, y = blobs
    y = y if Estimator is MLPClassifier else np.arange(len(X), dtype=float)
    with pytest.raises(ValueError, match="'activation' parameter"):  # scikit-learn has none
        SkEstimator(activation="softmax").fit(X, y)
    with pytest.raises(
        ValueError,
        match=r"'activation' parameter of "
        rf"{Estimator.__name__} must be .* Got 'softmax'",
    ):
        Estimator((4,), activation="softmax", max_iter=1).fit(X, y)


def test_complex_targets_are_refused(blobs):
    X, y = blobs
    z = np.empty(len(X), dtype=object)  # the form that scikit-learn's checks cast to float
    z[:] = list(np.arange(len(X)) + 1j)
    with pytest.raises(ValueError, match="Complex data not supported"):  # a complex array
        SkMLPRegressor().fit(X, np.arange(len(X)) + 1j)
    with pytest.raises(
        ValueError,
        match=r"MLPRegressor: Complex data not supported: y must be "
        r"real numbers or labels, got .*\(1j\)",
    ):
        MLPRegressor((4,), max_iter=1).fit(X, z)
    with pytest.raises(ValueError, match="MLPRegressor: .* y_val must be real"):
        MLPRegressor((4,), max_iter=1).fit(X, np.arange(len(X)), X_val=X, y_val=z)
    with pytest.raises(ValueError, match="MLPClassifier: .* y must be real"):
        MLPClassifier((4,), max_iter=1).fit(X, z)
    with pytest.raises(ValueError, match="MLPClassifier: .* classes must be real"):
        MLPClassifier((4,)).partial_fit(X, np.arange(len(X)) % 2, classes=np.array([0j, 1]))


@pytest.mark.parametrize("weight", [np.nan, -1.0, np.inf])
def test_class_weight_must_be_finite_and_non_negative(weight, blobs):
    X, y = blobs
    clf = MLPClassifier((4,), max_iter=1, class_weight={"ant": weight, "bee": 1, "cat": 1})
    with pytest.raises(
        ValueError,
        match=r"MLPClassifier: class_weight must map each class to a "
        rf"finite weight >= 0, got 'ant': {weight}",
    ):
        clf.fit(X, y)
    clf = MLPClassifier((4,), max_iter=1, class_weight={"ant": 0, "bee": 0, "cat": 0})
    with pytest.raises(ValueError, match="MLPClassifier: the sample weights .* are all zero"):
        clf.fit(X, y)


NUMPY_SCALARS = {  # every numeric parameter, as NumPy scalars (float64 would leak into float32)
    "adam": dict(
        learning_rate_init=np.float32(0.01),
        alpha=np.float64(1e-3),
        batch_size=np.int64(16),
        max_iter=np.int64(3),
        tol=np.float64(1e-4),
        beta_1=np.float32(0.8),
        beta_2=np.float64(0.99),
        epsilon=np.float64(1e-7),
        early_stopping=True,
        validation_fraction=np.float32(0.2),
        n_iter_no_change=np.int64(2),
        l1=np.float64(1e-4),
        max_norm=np.float64(3.0),
        clip_norm=np.float32(1.0),
        dropout=np.float64(0.1),
    ),
    "sgd": dict(
        learning_rate_init=np.float32(0.05),
        momentum=np.float64(0.5),
        max_iter=np.int64(3),
        alpha=np.float32(1e-3),
        batch_size=np.int32(32),
    ),
    "lbfgs": dict(
        max_iter=np.int64(3), max_fun=np.int64(50), tol=np.float32(1e-5), alpha=np.float64(1e-3)
    ),
}


@pytest.mark.parametrize("solver", sorted(NUMPY_SCALARS))
def test_numpy_scalar_parameters_are_the_python_numbers(solver, blobs):
    X, y = blobs
    numpy_params = dict(NUMPY_SCALARS[solver], solver=solver, random_state=0)
    python_params = {
        k: v.item() if isinstance(v, np.generic) else v for k, v in numpy_params.items()
    }
    sk_params = {k: v for k, v in numpy_params.items() if k in SkMLPClassifier().get_params()}
    SkMLPClassifier(hidden_layer_sizes=(4,), **sk_params)._validate_params()  # valid there too
    got = MLPClassifier((4,), **numpy_params).fit(X, y)
    want = MLPClassifier((4,), **python_params).fit(X, y)
    assert all(w.dtype == np.float32 for w in got.coefs_ + got.intercepts_)
    for a, b in zip(got.coefs_ + got.intercepts_, want.coefs_ + want.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert got.loss_curve_ == want.loss_curve_


def test_lr_schedule_spec_errors_name_lr_schedule():
    """A spec without a name was a KeyError 'name': both bad specs name lr_schedule."""
    X, y = make_blobs(40, centers=2, random_state=0)
    with pytest.raises(ValueError, match=r"lr_schedule=\{'config': \{\}\}: .*needs a 'name'"):
        MLPClassifier(hidden_layer_sizes=(3,), max_iter=2, lr_schedule={"config": {}}).fit(X, y)
    with pytest.raises(ValueError, match=r"lr_schedule='nope': .*unknown schedule 'nope'"):
        MLPClassifier(hidden_layer_sizes=(3,), max_iter=2, lr_schedule="nope").fit(X, y)


def _with_extra(path, out, edit):
    """A copy of the checkpoint at ``path`` whose meta 'extra' field was changed by ``edit``."""
    import io
    import json
    import zipfile

    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    meta = json.loads(str(np.load(io.BytesIO(members["meta.npy"]), allow_pickle=False)))
    edit(meta["extra"])
    buffer = io.BytesIO()
    np.save(buffer, np.array(json.dumps(meta)), allow_pickle=False)
    members["meta.npy"] = buffer.getvalue()
    with zipfile.ZipFile(out, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)
    return out


@pytest.mark.parametrize(
    "edit",
    [
        lambda e: e.pop("fitted"),
        lambda e: e.pop("params"),
        lambda e: e["fitted"].pop("n_outputs"),
        lambda e: e["params"].update(no_such_param=1),
        lambda e: e.update(fitted=[1, 2]),
    ],
)
def test_estimator_load_of_a_broken_extra_names_the_file(tmp_path, blobs, edit):
    X, y = blobs
    path = tmp_path / "clf.npz"
    MLPClassifier((4,), max_iter=2, random_state=0).fit(X, y).save(path)
    assert MLPClassifier.load(path).predict(X).shape == (len(X),)  # the file itself is fine
    bad = _with_extra(path, tmp_path / "bad.npz", edit)
    with pytest.raises(
        ValueError,
        match=r"checkpoint '.*bad\.npz': field 'extra' does not "
        r"describe a fitted MLPClassifier",
    ):
        MLPClassifier.load(bad)
