"""Bad input gets a clear error naming what was wrong and what is valid, before any work."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab import Dense, ReLU, Sequential


@pytest.fixture
def model(rng):
    m = Sequential([Dense(4), ReLU(), Dense(3)])
    m.build(5, rng=rng)
    return m


def test_wrong_feature_count_names_layer_and_shape(model):
    with pytest.raises(
        ValueError,
        match=r"layer 0 \(Dense\): expected input of shape "
        r"\(batch, 5\), got shape \(2, 4\)",
    ):
        model.forward(np.zeros((2, 4)))
    with pytest.raises(
        ValueError, match=r"Dense: input must be 2-D of shape \(batch, 5\), got shape \(3,\)"
    ):
        model.layers[0].forward(np.zeros(3))
    with pytest.raises(ValueError, match="input is empty"):
        model.forward(np.zeros((0, 5)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_inputs(model, bad):
    x = np.zeros((2, 5))
    x[1, 3] = bad
    with pytest.raises(ValueError, match="input contains NaN or inf"):
        model.forward(x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_check_on_large_matrices(dtype):
    """The check sums rows with a matrix-vector product: a single NaN or inf anywhere, +inf and
    -inf in one row, are caught; finite values whose row sums overflow are not refused."""
    from mlplab.backend import all_finite

    x = np.ones((3000, 300), dtype=dtype)
    assert all_finite(np, x)
    for (i, j), bad in [((2999, 299), np.nan), ((0, 0), np.inf), ((1234, 17), -np.inf)]:
        y = x.copy()
        y[i, j] = bad
        assert not all_finite(np, y)
    y = x.copy()
    y[5, 0], y[5, 1] = np.inf, -np.inf  # the row sums to NaN, not to inf
    assert not all_finite(np, y)
    huge = np.full((4, 300), np.finfo(dtype).max / 2, dtype=dtype)  # each row sum overflows
    with np.errstate(over="ignore"):
        assert all_finite(np, huge)


def test_non_numeric_input(model):
    with pytest.raises(TypeError, match="real numeric array"):
        model.forward(np.full((2, 5), "a"))


def test_labels_out_of_range_or_wrong_kind():
    z = np.zeros((3, 4))
    ce = mlplab.SoftmaxCrossEntropy()
    with pytest.raises(
        ValueError,
        match=r"class labels must be in \[0, 4\) for 4 outputs, got "
        r"labels in \[0, 4\]",
    ):
        ce.value_and_grad(z, np.array([0, 1, 4]))
    with pytest.raises(ValueError, match=r"got labels in \[-1, 1\]"):
        ce.value_and_grad(z, np.array([0, 1, -1]))
    with pytest.raises(TypeError, match="must hold integer class labels"):
        ce.value_and_grad(z, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"has 2 labels for 3 predictions"):
        ce.value_and_grad(z, np.array([0, 1]))
    with pytest.raises(ValueError, match="each row of y_true must sum to 1"):
        ce.value_and_grad(z, np.full((3, 4), 0.5))
    with pytest.raises(ValueError, match=r"must be one-hot \(0/1\)"):
        mlplab.MulticlassHinge().value_and_grad(z, np.full((3, 4), 0.25))
    with pytest.raises(ValueError, match=r"targets must be -1 or \+1 \(convert 0/1 labels"):
        mlplab.MultilabelHinge().value_and_grad(z, np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"targets must be in \[0, 1\]"):
        mlplab.SigmoidBinaryCrossEntropy().value_and_grad(z[:, :1], np.array([0, 2, 1]))
    with pytest.raises(ValueError, match=r"y_true must have the shape of y_pred \(3, 4\)"):
        mlplab.MeanSquaredError().value_and_grad(z, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="y_true contains NaN or inf"):
        mlplab.Huber().value_and_grad(z, np.full((3, 4), np.nan))
    with pytest.raises(ValueError, match=r"y_pred must be 2-D"):
        mlplab.MeanSquaredError().value_and_grad(np.zeros(3), np.zeros(3))


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(
        ValueError,
        match=r"unknown activation 'relux'; valid names: \[.*'relu'.*"
        r"'tanh'",
    ):
        mlplab.Activation("relux")
    with pytest.raises(ValueError, match=r"unknown layer 'Densee'; valid names: \[.*'Dense'"):
        Sequential(["Densee"])
    with pytest.raises(
        ValueError,
        match=r"unknown loss 'crossentropyy'; valid names: .*"
        r"SoftmaxCrossEntropy",
    ):
        mlplab.get_loss("crossentropyy")
    with pytest.raises(
        ValueError,
        match=r"unknown initializer 'xavier'; valid names: .*"
        r"glorot_uniform",
    ):
        mlplab.get_initializer("xavier")
    with pytest.raises(TypeError, match=r"unknown hyperparameters \['beta'\]; valid: \['alpha'\]"):
        mlplab.Activation("elu", beta=2.0)


@pytest.mark.parametrize(
    "make, match, exc",
    [
        (
            lambda: mlplab.Dropout(-0.1),
            r"Dropout: rate must be in \[0.0, 1.0\), got rate=-0.1",
            ValueError,
        ),
        (
            lambda: mlplab.Dropout(1.0),
            r"Dropout: rate must be in \[0.0, 1.0\), got rate=1.0",
            ValueError,
        ),
        (lambda: mlplab.DropConnect(3, rate=1.5), r"DropConnect: rate must be in", ValueError),
        (lambda: mlplab.Dropout("0.5"), r"rate must be a real number", TypeError),
        (lambda: mlplab.Maxout(3, k=1), r"Maxout: k must be an int >= 2, got k=1", ValueError),
        (lambda: mlplab.Dense(0), r"Dense: units must be an int >= 1, got units=0", ValueError),
        (lambda: mlplab.Dense(2.5), r"Dense: units must be an int >= 1, got units=2.5", TypeError),
        (lambda: mlplab.Dense(3, use_bias=1), r"use_bias must be a bool", TypeError),
        (lambda: mlplab.LeakyReLU(-0.1), r"LeakyReLU: alpha must be in \[0.0, inf\]", ValueError),
        (lambda: mlplab.GaussianNoise(-1), r"GaussianNoise: std must be in", ValueError),
        (
            lambda: mlplab.BatchNorm(momentum=1.5),
            r"BatchNorm: momentum must be in \[0.0, 1.0\]",
            ValueError,
        ),
        (lambda: mlplab.BatchNorm(eps=0), r"BatchNorm: eps must be in \(0.0, inf\]", ValueError),
        (lambda: mlplab.Huber(delta=0), r"Huber: delta must be in \(0.0, inf\]", ValueError),
        (lambda: mlplab.HierarchicalSoftmax(1), r"n_classes must be an int >= 2", ValueError),
        (lambda: mlplab.HierarchicalSoftmax(3, tree="huffman"), r"needs class_counts", ValueError),
        (
            lambda: mlplab.HierarchicalSoftmax(3, tree="huffman", class_counts=[1, 0, 2]),
            r"class_counts must be 3 positive numbers",
            ValueError,
        ),
        (
            lambda: mlplab.HierarchicalSoftmax(3, tree="random"),
            r"tree must be one of \['balanced', 'huffman'\]",
            ValueError,
        ),
        (lambda: mlplab.Residual([]), r"Residual: block must hold at least one layer", ValueError),
        (lambda: Sequential(Dense(3)), r"Sequential: layers must be a list", TypeError),
    ],
)
def test_invalid_hyperparameters(make, match, exc):
    with pytest.raises(exc, match=match):
        make()


def test_call_order_and_build_errors(rng):
    with pytest.raises(RuntimeError, match=r"Dense: call build\(in_features, rng=...\) before"):
        Dense(3).forward(np.zeros((2, 2)))
    d = Dense(3)
    d.build(2, rng=rng)
    with pytest.raises(RuntimeError, match="Dense: backward called before forward"):
        d.backward(np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match=r"Sequential: call build"):
        Sequential([Dense(2)]).forward(np.zeros((1, 2)))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        Dense(3).build(2, rng=0)
    with pytest.raises(ValueError, match=r"dtype must be one of \['float32', 'float64'\]"):
        Dense(3).build(2, rng=rng, dtype="float16")
    with pytest.raises(
        ValueError,
        match=r"Residual: the block must keep the width to add x "
        r"back, but it maps 4 features to 2",
    ):
        mlplab.Residual(Dense(2)).build(4, rng=rng)
    with pytest.raises(ValueError, match="cannot build an empty model"):
        Sequential([]).build(3, rng=rng)
    with pytest.raises(RuntimeError, match="HierarchicalSoftmax: call build"):
        mlplab.HierarchicalSoftmax(3).forward(np.zeros((2, 4)))


def test_batchnorm_needs_two_rows_in_training(rng):
    bn = mlplab.BatchNorm()
    bn.build(3, rng=rng)
    with pytest.raises(ValueError, match="at least 2 rows per batch"):
        bn.forward(np.zeros((1, 3), np.float32), training=True)
    assert bn.forward(np.zeros((1, 3), np.float32)).shape == (1, 3)  # evaluation is fine


def test_set_state_mismatch(model):
    state = model.get_state()
    del state["2.b"]
    with pytest.raises(ValueError, match=r"missing \['2.b'\], unexpected \[\]"):
        model.set_state(state)
    state = model.get_state()
    state["0.W"] = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"'0.W' has shape \(2, 2\), the model expects \(5, 4\)"):
        model.set_state(state)
