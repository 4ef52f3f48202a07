"""Every layer, activation and loss passes a float64 central-difference gradient check."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab import ACTIVATIONS, Activation, Dense, Sequential, gradcheck

from examples import LAYER_CASES, LOSS_CASES, kink_free


def _check(report):
    assert report.passed, f"\n{report}"
    assert report.max_error < 1e-6


@pytest.mark.parametrize("make", LAYER_CASES)
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_layer_gradcheck(make, training, rng):
    layer = make()
    layer.build(5, rng=rng, dtype="float64")
    report = gradcheck(layer, X=kink_free(rng, (6, 5)), training=training)
    _check(report)
    names = {r.name for r in report.rows}
    assert names == {f"0.{k}" for k in layer.params} | {"input"}


@pytest.mark.parametrize("name", ACTIVATIONS.names())
def test_every_activation_function_gradcheck(name, rng):
    layer = Activation(name)
    _check(gradcheck(layer, X=kink_free(rng, (5, 4))))


@pytest.mark.parametrize("make, n_out, targets", LOSS_CASES)
def test_loss_gradcheck_through_a_model(make, n_out, targets, rng):
    loss = make()
    model = Sequential([Dense(6), mlplab.Tanh(), Dense(n_out)])
    model.build(3, rng=rng, dtype="float64")
    X = rng.standard_normal((7, 3))
    _check(gradcheck(model, loss, X, targets(rng, 7, n_out)))


def test_gradcheck_detects_a_wrong_backward(rng):
    class BrokenTanh(mlplab.Tanh):
        def backward(self, dout):
            return dout * (1.0 - self._a)  # forgot the square

    layer = BrokenTanh()
    layer.build(4, rng=rng, dtype="float64")
    report = gradcheck(layer, X=rng.standard_normal((3, 4)))
    assert not report.passed
    assert "NO" in str(report)


def test_gradcheck_leaves_the_model_untouched(rng):
    model = Sequential([Dense(4), mlplab.BatchNorm(), mlplab.ReLU(), Dense(2)])
    model.build(3, rng=rng)  # float32
    before = model.get_state()
    report = gradcheck(
        model,
        mlplab.SoftmaxCrossEntropy(),
        rng.standard_normal((5, 3)),
        np.array([0, 1, 1, 0, 1]),
        training=True,
    )
    _check(report)
    after = model.get_state()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert model.params()["0.W"].dtype == np.float32
