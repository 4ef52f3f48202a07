"""Initializers: sample statistics match the formulas within sampling error; seeds reproduce."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import mlplab
from mlplab import INITIALIZERS, get_initializer

FAN_IN, FAN_OUT = 400, 600
N = FAN_IN * FAN_OUT

# name -> (expected mean, expected std, distribution), from the published formulas
EXPECTED = {
    "normal": (0.0, 0.01, "normal"),
    "uniform": (0.0, 0.1 / math.sqrt(12), "uniform"),
    "lecun_normal": (0.0, math.sqrt(1 / FAN_IN), "normal"),
    "lecun_uniform": (0.0, math.sqrt(1 / FAN_IN), "uniform"),
    "glorot_normal": (0.0, math.sqrt(2 / (FAN_IN + FAN_OUT)), "normal"),
    "glorot_uniform": (0.0, math.sqrt(6 / (FAN_IN + FAN_OUT)) / math.sqrt(3), "uniform"),
    "he_normal": (0.0, math.sqrt(2 / FAN_IN), "normal"),
    "he_uniform": (0.0, math.sqrt(6 / FAN_IN) / math.sqrt(3), "uniform"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_moments_match_formula(name):
    mean, std, dist = EXPECTED[name]
    W = get_initializer(name)((FAN_IN, FAN_OUT), rng=np.random.default_rng(0), dtype="float64")
    assert W.shape == (FAN_IN, FAN_OUT)
    # standard errors of the sample mean and sample std
    assert abs(W.mean() - mean) < 5 * std / math.sqrt(N)
    kurt = 3.0 if dist == "normal" else 1.8
    assert abs(W.std() - std) < 5 * std * math.sqrt((kurt - 1) / (4 * N))
    if dist == "uniform":
        limit = std * math.sqrt(3)
        assert W.max() <= limit and W.min() >= -limit and W.max() > 0.99 * limit


def test_sparse_has_k_nonzero_incoming_weights_per_unit():
    W = mlplab.sparse((50, 300), rng=np.random.default_rng(1), dtype="float64", k=7)
    assert np.all(np.count_nonzero(W, axis=0) == 7)
    nz = W[W != 0]
    assert abs(nz.std() - 1.0) < 5 * math.sqrt(2 / (4 * nz.size))


@pytest.mark.parametrize("shape", [(30, 10), (10, 30), (20, 20)])
def test_orthogonal_is_orthogonal(shape):
    W = mlplab.orthogonal(shape, rng=np.random.default_rng(2), dtype="float64", gain=2.0)
    G = W.T @ W if shape[0] >= shape[1] else W @ W.T
    np.testing.assert_allclose(G, 4.0 * np.eye(min(shape)), atol=1e-12)


def test_constants():
    kw = dict(rng=np.random.default_rng(0), dtype="float32")
    assert np.all(mlplab.zeros((3, 2), **kw) == 0)
    assert np.all(mlplab.ones((3,), **kw) == 1)
    assert np.all(
        get_initializer({"name": "constant", "config": {"value": 0.01}})((4,), **kw)
        == np.float32(0.01)
    )


@pytest.mark.parametrize("name", INITIALIZERS.names())
def test_seed_reproducible_and_dtype(name):
    def draw(seed):
        return get_initializer(name)((20, 30), rng=np.random.default_rng(seed), dtype="float32")

    a, b, c = draw(0), draw(0), draw(1)
    assert a.dtype == np.float32
    assert np.array_equal(a, b)
    if name not in ("zeros", "ones", "constant"):
        assert not np.array_equal(a, c)


def test_model_weights_bit_identical_for_a_seed():
    def weights(seed):
        m = mlplab.Sequential(
            [
                mlplab.Dense(8, kernel_initializer="he_normal"),
                mlplab.ReLU(),
                mlplab.Dense(3, kernel_initializer="orthogonal"),
            ]
        )
        m.build(5, rng=np.random.default_rng(seed))
        return m.params()

    a, b, c = weights(3), weights(3), weights(4)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["0.W"], c["0.W"])


def test_zero_weights_warn_that_symmetry_is_not_broken():
    layer = mlplab.Dense(4, kernel_initializer="zeros")
    with pytest.warns(UserWarning, match="symmetry is not broken"):
        layer.build(3, rng=np.random.default_rng(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mlplab.Dense(4, bias_initializer={"name": "constant", "config": {"value": 0.01}}).build(
            3, rng=np.random.default_rng(0)
        )


def test_bad_initializer_specs():
    with pytest.raises(
        ValueError, match=r"unknown initializer 'he_norml'; valid names: .*he_normal"
    ):
        mlplab.Dense(3, kernel_initializer="he_norml")
    with pytest.raises(
        TypeError, match=r"unknown config keys \['sd'\]; valid keys: \['mean', 'std'\]"
    ):
        get_initializer({"name": "normal", "config": {"sd": 1}})
    with pytest.raises(ValueError, match="std must be in"):
        mlplab.normal((2, 2), rng=np.random.default_rng(0), std=-1.0)
    with pytest.raises(ValueError, match=r"k must be <= fan_in=5"):
        mlplab.sparse((5, 3), rng=np.random.default_rng(0), k=6)
    with pytest.raises(ValueError, match="minval must be < maxval"):
        mlplab.uniform((2, 2), rng=np.random.default_rng(0), minval=1.0, maxval=0.0)
