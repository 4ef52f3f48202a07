"""Preprocessing, fit on the training split only: scikit-learn's scalers and PCA, plus the two
transformers it lacks (whitening with an explicit epsilon, and the image mean), all by name.

Every transformer here is a scikit-learn transformer (``fit``/``transform``, ``get_params``),
so it works in a ``Pipeline`` and inside cross-validation, where each fold fits its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .._registry import Registry, split_spec


class Whitening(TransformerMixin, BaseEstimator):
    """PCA or ZCA whitening with an explicit epsilon.

    With the training covariance C = U diag(lambda) U^T of the centred data,
    PCA whitening is x_white = (x - mu) U diag(1 / sqrt(lambda + epsilon)) (rotated onto the
    principal axes), and ZCA is that rotated back, x_zca = x_white U^T, the whitening transform
    that keeps the data closest to the input. ``n_components`` keeps the k leading axes (for
    ZCA: the input's projection on them, whitened, in input coordinates).
    epsilon > 0 keeps directions of tiny variance (mostly noise) from being blown up, as the
    classic notes warn; the covariance of the output is diag(lambda / (lambda + epsilon)).

    References: cs231n notes, "Data preprocessing"; Kessy, Lewin, Strimmer, "Optimal
    whitening and decorrelation" (The American Statistician, 2018).
    """

    def __init__(self, method: str = "zca", epsilon: float = 1e-5, n_components: int | None = None):
        self.method = method
        self.epsilon = epsilon
        self.n_components = n_components

    def fit(self, X, y=None):
        if self.method not in ("zca", "pca"):
            raise ValueError(
                f"Whitening: method must be one of ['zca', 'pca'], got method={self.method!r}"
            )
        if not (isinstance(self.epsilon, (int, float)) and self.epsilon >= 0):
            raise ValueError(
                f"Whitening: epsilon must be a number >= 0, got epsilon={self.epsilon!r}"
            )
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        k = self.n_components
        if k is not None and not (isinstance(k, (int, np.integer)) and 1 <= k <= X.shape[1]):
            raise ValueError(
                f"Whitening: n_components must be None (all) or an int in "
                f"[1, {X.shape[1]}], got n_components={k!r}"
            )
        X64 = X.astype(np.float64)
        self.mean_ = X64.mean(axis=0)
        Xc = X64 - self.mean_
        cov = Xc.T @ Xc / X.shape[0]
        lam, U = np.linalg.eigh(cov)
        order = np.argsort(lam)[::-1]
        lam, U = np.clip(lam[order], 0.0, None), U[:, order]
        if k is not None:
            lam, U = lam[:k], U[:, :k]
        self.explained_variance_, self.components_ = lam, U.T
        scale = 1.0 / np.sqrt(lam + self.epsilon)
        W = U * scale  # (features, k): rotate onto the axes, then scale each
        if self.method == "zca":
            W = W @ U.T
        self.whitening_matrix_ = W
        return self

    def transform(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        W = self.whitening_matrix_.astype(X.dtype, copy=False)
        return (X - self.mean_.astype(X.dtype, copy=False)) @ W

    def inverse_transform(self, X):
        check_is_fitted(self)
        return np.asarray(X) @ np.linalg.pinv(self.whitening_matrix_) + self.mean_

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        n = self.whitening_matrix_.shape[1]
        if self.method == "zca":
            return np.asarray(
                input_features if input_features is not None else [f"x{i}" for i in range(n)],
                dtype=object,
            )
        return np.asarray([f"whitening{i}" for i in range(n)], dtype=object)


class ImageMean(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Subtract one mean over all pixels (``per_channel=False``), or one mean per colour channel,
    computed on the training images: the classic image preprocessing, which keeps the relative
    brightness of pixels (unlike a per-pixel mean).

    Rows are flattened images; with ``n_channels`` > 1 the channel is the last axis of the
    image (pixel-major, as ``image.reshape(-1)`` of an (H, W, C) array gives).
    """

    def __init__(self, per_channel: bool = False, n_channels: int = 1):
        self.per_channel = per_channel
        self.n_channels = n_channels

    def fit(self, X, y=None):
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        c = self.n_channels
        if not isinstance(c, (int, np.integer)) or c < 1 or X.shape[1] % c:
            raise ValueError(
                f"ImageMean: n_channels must be a positive int dividing the "
                f"{X.shape[1]} features, got n_channels={c!r}"
            )
        pixels = X.reshape(X.shape[0], -1, c).astype(np.float64)
        self.mean_ = pixels.mean(axis=(0, 1)) if self.per_channel else np.full(c, pixels.mean())
        return self

    def transform(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        mean = np.tile(self.mean_, X.shape[1] // self.n_channels).astype(X.dtype)
        return X - mean

    def inverse_transform(self, X):
        check_is_fitted(self)
        X = np.asarray(X)
        return X + np.tile(self.mean_, X.shape[1] // self.n_channels).astype(X.dtype)


# -- by name -----------------------------------------------------------------------------------

PREPROCESSORS: Registry[Any] = Registry("preprocessor")


def _sklearn(name: str):
    def make(**config):
        from sklearn.decomposition import PCA
        from sklearn.preprocessing import MinMaxScaler, StandardScaler

        factories = {
            "center": lambda **c: StandardScaler(with_std=False, **c),
            "standardize": StandardScaler,
            "minmax": MinMaxScaler,
            "minmax_symmetric": lambda **c: MinMaxScaler(feature_range=(-1, 1), **c),
            "pca": PCA,
        }
        return factories[name](**config)

    make.__doc__ = f"scikit-learn's transformer for {name!r}"
    return make


for _name in ("center", "standardize", "minmax", "minmax_symmetric", "pca"):
    PREPROCESSORS.register(_name, _sklearn(_name))
PREPROCESSORS.register("pca_whiten", lambda **c: Whitening("pca", **c))
PREPROCESSORS.register("zca", lambda **c: Whitening("zca", **c))
PREPROCESSORS.register("image_mean", ImageMean)


def get_preprocessor(spec: Any):
    """A fresh transformer from a name (``"standardize"``, ``"zca"``), ``{"name", "config"}``,
    or a scikit-learn transformer (cloned, so fitting it never touches the one given).

    Names: ``center`` (per-feature mean subtraction), ``standardize`` (zero mean, unit
    variance), ``minmax`` ([0, 1]), ``minmax_symmetric`` ([-1, 1]), ``pca`` (reduction;
    ``n_components``), ``pca_whiten`` and ``zca`` (:class:`Whitening`; ``epsilon``),
    ``image_mean`` (:class:`ImageMean`).
    """
    from sklearn.base import clone

    if hasattr(spec, "fit") and hasattr(spec, "transform"):
        return clone(spec)
    name, config = split_spec("preprocessor", spec)
    factory = PREPROCESSORS.get(name)
    try:
        return factory(**config)
    except TypeError as e:
        raise TypeError(f"preprocessor {name!r}: bad config {config!r} ({e})") from None


def make_preprocessing(steps: Any):
    """A scikit-learn ``Pipeline`` of the named steps (one spec or a list), or None for none."""
    from sklearn.pipeline import make_pipeline

    if steps is None or (isinstance(steps, (list, tuple)) and not steps):
        return None
    if isinstance(steps, (str, dict)) or hasattr(steps, "fit"):
        steps = [steps]
    return make_pipeline(*(get_preprocessor(s) for s in steps))


def fit_preprocessing(steps: Any, X_train, *others):
    """Fit ``steps`` on ``X_train`` alone and transform it and every other split with the same
    fitted statistics: returns ``(fitted, X_train_t, *others_t)``. Validation and test data
    never influence the transform (fitted is None and arrays pass through for no steps)."""
    pipe = make_preprocessing(steps)
    if pipe is None:
        return (None, X_train, *others)
    Xt = pipe.fit_transform(X_train)
    return (pipe, Xt, *(pipe.transform(X) for X in others))
