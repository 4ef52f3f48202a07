"""Preprocessing: whitening against its closed forms (covariance diag(lambda/(lambda+eps)), ZCA
the closest whitening to the input), the image mean, statistics fit on the training split only,
names, and scikit-learn's own estimator checks on our transformers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ortho_group
from sklearn.decomposition import PCA
from sklearn.utils.estimator_checks import check_estimator

from mlplab.data import ImageMean, Whitening, fit_preprocessing, get_preprocessor


@pytest.fixture
def correlated(rng):
    A = rng.standard_normal((5, 5)) * np.array([3.0, 1.0, 0.5, 0.2, 0.1])
    return rng.standard_normal((2000, 5)) @ A + np.array([1.0, -2.0, 0.0, 5.0, 3.0])


def covariance(X):
    Xc = X - X.mean(axis=0)
    return Xc.T @ Xc / X.shape[0]


def test_zca_output_covariance_is_identity_up_to_epsilon(correlated):
    eps = 1e-2
    Z = Whitening("zca", epsilon=eps).fit_transform(correlated)
    lam, U = np.linalg.eigh(covariance(correlated))
    # in the eigenbasis the output covariance is exactly diag(lambda / (lambda + eps))
    np.testing.assert_allclose(U.T @ covariance(Z) @ U, np.diag(lam / (lam + eps)), atol=1e-10)
    Z0 = Whitening("zca", epsilon=1e-8).fit_transform(correlated)
    np.testing.assert_allclose(covariance(Z0), np.eye(5), atol=1e-5)
    np.testing.assert_allclose(Z0.mean(axis=0), 0.0, atol=1e-10)


def test_zca_stays_closest_to_the_input_among_whitening_transforms(correlated):
    """Every whitening of centred x is Q W_zca x with Q orthogonal; ZCA (Q = I) minimises the
    mean squared distance to the input (Kessy et al. 2018)."""
    Xc = correlated - correlated.mean(axis=0)
    zca = Whitening("zca", epsilon=0.0).fit_transform(correlated)
    pca = Whitening("pca", epsilon=0.0).fit_transform(correlated)
    L = np.linalg.cholesky(np.linalg.inv(covariance(correlated)))
    others = {
        "pca": pca,
        "sklearn pca": PCA(whiten=True).fit_transform(correlated),
        "cholesky": Xc @ L,
    }
    others.update({f"rotation {i}": zca @ ortho_group.rvs(5, random_state=i) for i in range(20)})
    d_zca = np.mean(np.sum((zca - Xc) ** 2, axis=1))
    for name, W in others.items():
        np.testing.assert_allclose(
            covariance(W), np.eye(5), atol=1e-3 if "sklearn" in name else 1e-8, err_msg=name
        )  # each is a whitening
        assert d_zca < np.mean(np.sum((W - Xc) ** 2, axis=1)), name


def test_pca_whitening_with_epsilon_and_components(correlated):
    eps = 0.05
    w = Whitening("pca", epsilon=eps, n_components=3).fit(correlated)
    P = w.transform(correlated)
    lam = np.sort(np.linalg.eigvalsh(covariance(correlated)))[::-1][:3]
    assert P.shape == (2000, 3)
    np.testing.assert_allclose(covariance(P), np.diag(lam / (lam + eps)), atol=1e-10)
    # with epsilon 0 it equals scikit-learn's PCA(whiten=True) up to the sign of each axis and
    # its n - 1 variance convention
    ours = Whitening("pca", epsilon=0.0, n_components=3).fit_transform(correlated)
    ref = PCA(3, whiten=True).fit_transform(correlated) * np.sqrt(2000 / 1999)
    np.testing.assert_allclose(np.abs(ours), np.abs(ref), atol=1e-8)


def test_whitening_round_trip_dtype_and_errors(correlated):
    w = Whitening("zca", epsilon=1e-3).fit(correlated)
    np.testing.assert_allclose(w.inverse_transform(w.transform(correlated)), correlated, atol=1e-9)
    assert w.transform(correlated.astype(np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match="method must be one of \\['zca', 'pca'\\]"):
        Whitening("cholesky").fit(correlated)
    with pytest.raises(ValueError, match="epsilon must be a number >= 0"):
        Whitening(epsilon=-1).fit(correlated)
    with pytest.raises(
        ValueError,
        match=r"n_components must be None \(all\) or an int in "
        r"\[1, 5\], got n_components=6",
    ):
        Whitening("zca", n_components=6).fit(correlated)


def test_image_mean_global_and_per_channel(rng):
    X = rng.uniform(0, 1, size=(50, 4 * 3)) + np.tile([0.0, 10.0, 20.0], 4)  # (H*W=4, C=3)
    g = ImageMean().fit(X)
    np.testing.assert_allclose(g.transform(X), X - X.mean())
    c = ImageMean(per_channel=True, n_channels=3).fit(X)
    means = X.reshape(50, 4, 3).mean(axis=(0, 1))
    np.testing.assert_allclose(c.transform(X), X - np.tile(means, 4))
    np.testing.assert_allclose(c.inverse_transform(c.transform(X)), X)
    with pytest.raises(ValueError, match="n_channels must be a positive int dividing the 12"):
        ImageMean(n_channels=5).fit(X)


@pytest.mark.parametrize(
    "steps",
    [
        "standardize",
        "zca",
        ["center", "pca_whiten"],
        "image_mean",
        "minmax_symmetric",
        {"name": "pca", "config": {"n_components": 2}},
    ],
)
def test_statistics_are_fit_on_the_training_split_only(rng, steps):
    X_train = rng.standard_normal((200, 4)) * [1.0, 2.0, 3.0, 4.0] + 1.0
    X_val, X_test = rng.standard_normal((50, 4)), rng.standard_normal((60, 4))
    fitted, Xt, Xv, Xs = fit_preprocessing(steps, X_train, X_val, X_test)
    # changing validation and test data changes nothing that was fitted
    fitted2, Xt2, Xv2, _ = fit_preprocessing(steps, X_train, X_val * 100 + 7, X_test[:3] - 50)
    np.testing.assert_array_equal(Xt, Xt2)
    np.testing.assert_array_equal(fitted.transform(X_val), fitted2.transform(X_val))
    np.testing.assert_array_equal(Xv, fitted2.transform(X_val))
    # and the fitted statistics are the training split's own
    first = fitted.steps[0][1]
    if hasattr(first, "mean_") and np.ndim(first.mean_) == 1 and first.mean_.size == 4:
        np.testing.assert_allclose(first.mean_, X_train.mean(axis=0))


def test_named_preprocessors():
    X = np.array([[0.0, 10.0], [5.0, 20.0], [10.0, 30.0]])
    np.testing.assert_allclose(
        get_preprocessor("minmax_symmetric").fit_transform(X), [[-1, -1], [0, 0], [1, 1]]
    )
    np.testing.assert_allclose(
        get_preprocessor("minmax").fit_transform(X), [[0, 0], [0.5, 0.5], [1, 1]]
    )
    np.testing.assert_allclose(
        get_preprocessor("center").fit_transform(X), [[-5, -10], [0, 0], [5, 10]]
    )
    s = get_preprocessor("standardize").fit_transform(X)
    np.testing.assert_allclose(s.std(axis=0), 1.0)
    z = get_preprocessor({"name": "zca", "config": {"epsilon": 0.5}})
    assert isinstance(z, Whitening) and z.epsilon == 0.5 and z.method == "zca"
    given = Whitening(epsilon=0.1).fit(X)
    fresh = get_preprocessor(given)
    assert fresh is not given and not hasattr(fresh, "mean_")  # cloned, never refit in place
    with pytest.raises(ValueError, match="unknown preprocessor 'zscore'.*standardize"):
        get_preprocessor("zscore")


# scikit-learn skips only its array-API input check here (it needs SCIPY_ARRAY_API set)
@pytest.mark.filterwarnings("ignore:Skipping check check_array_api_input")
@pytest.mark.parametrize("estimator", [Whitening(), Whitening("pca", epsilon=1e-3), ImageMean()])
def test_transformers_pass_scikit_learns_estimator_checks(estimator):
    check_estimator(estimator)
