"""Small API promises a new user relies on (issue 11): the summary names each layer's size,
``grads()`` pairs with ``params()``, a loaded model predicts probabilities, and the command line
turns bad values into argparse's usage error."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest
from scipy.special import expit, softmax

import mlplab
from mlplab import BatchNorm, Dense, Dropout, ReLU, Sequential
from mlplab.cli import main

from examples import LAYER_CASES

# -- summary -----------------------------------------------------------------------------------


def test_summary_shows_the_units_of_every_dense_layer(rng):
    m = Sequential(
        [
            Dense(64, kernel_initializer="he_normal"),
            ReLU(),
            Dense(10),
            mlplab.DropConnect(7, kernel_initializer="he_normal", use_bias=False),
        ]
    )
    m.build(5, rng=rng)
    rows = m.summary().splitlines()[2:6]
    # the constructor's own arguments, not an elided "Dense(...)"
    assert rows[0].split()[1:3] == ["Dense(64,", "kernel_initializer='he_normal')"]
    assert rows[2].split()[1] == "Dense(10)"
    assert rows[3].split()[1] == "DropConnect(7," and "...)" in rows[3]  # more than fits
    assert "(...)" not in m.summary()


def _summary_label(layer) -> str:
    """The Layer column of the summary's single row for ``layer`` (the model is not built)."""
    row = Sequential([layer]).summary().splitlines()[2]
    return row.split(None, 1)[1].rsplit("?", 2)[0].strip()


@pytest.mark.parametrize("make", LAYER_CASES)
def test_summary_of_a_layer_with_all_defaults_shows_only_its_required_arguments(make):
    # review finding: BatchNorm() was listed as "BatchNorm(momentum=0.9, eps=1e-05)", its
    # defaults, because a repr that fit was printed whole
    example = make()
    cls = type(example)
    required = [
        k
        for k, p in inspect.signature(cls).parameters.items()
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    config = example.get_config()
    layer = cls(**{k: config[k] for k in required})  # every other argument left at its default
    expected = f"{cls.__name__}({', '.join(repr(config[k]) for k in required)})"
    assert _summary_label(layer) == (expected if len(expected) <= 44 else f"{cls.__name__}(...)")


@pytest.mark.parametrize(
    "layer, label",
    [
        (BatchNorm(momentum=0.9, eps=1e-5), "BatchNorm()"),
        (BatchNorm(momentum=0.99), "BatchNorm(momentum=0.99)"),
        (BatchNorm(eps=1e-3), "BatchNorm(eps=0.001)"),
        (mlplab.ELU(alpha=1), "ELU()"),  # stored as the float 1.0: still the default
        (mlplab.LeakyReLU(0.01), "LeakyReLU()"),
        (
            mlplab.PReLU(alpha_initializer={"name": "constant", "config": {"value": 0.25}}),
            "PReLU()",
        ),
        (Dropout(0.5, inverted=False), "Dropout(inverted=False)"),
        (mlplab.Activation("relu"), "Activation()"),
        (mlplab.Activation("elu"), "Activation(activation='elu')"),
        (Dense(3, kernel_initializer="glorot_uniform", use_bias=True), "Dense(3)"),
    ],
)
def test_summary_shows_only_arguments_that_differ_from_the_defaults(layer, label):
    assert _summary_label(layer) == label


# -- grads() and params() ----------------------------------------------------------------------


def test_grads_have_the_keys_of_params_in_the_same_order(rng):
    m = Sequential(
        [
            Dense(4),
            BatchNorm(),
            ReLU(),
            mlplab.Residual([Dense(4), BatchNorm()]),
            mlplab.PReLU(),
            Dense(2),
        ]
    )
    m.build(3, rng=rng)
    out = m.forward(rng.standard_normal((6, 3)), training=True)
    m.backward(np.ones_like(out))
    params, grads = m.params(), m.grads()
    assert list(grads) == list(params)
    # pairing by position (zip over values) must pair every array with its own gradient
    assert all(g.shape == p.shape for p, g in zip(params.values(), grads.values()))
    assert grads["1.gamma"] is m.layers[1].grads["gamma"]


# -- predict / predict_proba -------------------------------------------------------------------


def _reference_outputs(m, X):
    """Dense -> ReLU -> Dropout -> Dense in plain NumPy float64: dropout is off at inference."""
    W0, b0, W1, b1 = (np.asarray(m.params()[k], np.float64) for k in ("0.W", "0.b", "3.W", "3.b"))
    return np.maximum(X @ W0 + b0, 0) @ W1 + b1


def test_predict_is_evaluation_mode_and_batched(rng):
    m = Sequential([Dense(8), ReLU(), Dropout(0.5), Dense(3)])
    m.build(4, rng=rng, dtype="float64")
    X = rng.standard_normal((10, 4))
    np.testing.assert_allclose(m.predict(X), _reference_outputs(m, X), rtol=1e-12)
    np.testing.assert_allclose(m.predict(X, batch_size=3), _reference_outputs(m, X), rtol=1e-12)
    np.testing.assert_allclose(
        m.predict_proba(X, "cross_entropy", batch_size=4),
        softmax(_reference_outputs(m, X), axis=1),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        m.predict_proba(X, mlplab.SigmoidBinaryCrossEntropy()),
        expit(_reference_outputs(m, X)),
        rtol=1e-12,
    )
    with pytest.raises(
        ValueError,
        match=r"Sequential.predict: batch_size must be an int >= 1, "
        r"got batch_size=0",
    ):
        m.predict(X, batch_size=0)
    with pytest.raises(ValueError, match="unknown loss .no_such_loss.; valid names"):
        m.predict_proba(X, "no_such_loss")


def test_loaded_model_predicts_the_trainers_probabilities(rng, tmp_path):
    X = rng.standard_normal((40, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    m = Sequential([Dense(8), BatchNorm(), ReLU(), Dense(2)])
    trainer = mlplab.Trainer(m, "cross_entropy", "adam", epochs=2, batch_size=8, rng=rng, verbose=0)
    trainer.fit(X, y)
    trainer.save(tmp_path / "run.npz")
    loaded = mlplab.load_model(tmp_path / "run.npz")
    expected = softmax(np.asarray(m.forward(X), np.float64), axis=1)
    np.testing.assert_allclose(loaded.predict_proba(X, "cross_entropy"), expected, rtol=1e-5)
    np.testing.assert_allclose(
        loaded.predict_proba(X, "cross_entropy"), trainer.predict(X), rtol=1e-6
    )


def _hierarchical_probabilities(m, X) -> np.ndarray:
    """P(c | h) = prod over class c's path of sigma(z_j) (right turn) or sigma(-z_j), in float64
    NumPy from the output layer's node weights and tree and its input h."""
    *body, layer = m.layers
    h = np.asarray(X, np.float32)
    for hidden in body:  # evaluation mode
        h = hidden.forward(h)
    z = np.asarray(h, np.float64) @ np.asarray(layer.params["W"], np.float64) + np.asarray(
        layer.params["b"], np.float64
    )
    on, right = layer.on_path, layer.go_right
    turns = np.where(right[None] == 1, expit(z[:, None, :]), expit(-z[:, None, :]))
    return np.prod(np.where(on[None] == 1, turns, 1.0), axis=2)


@pytest.mark.parametrize(
    "loss, head, reference",
    [
        (
            "cross_entropy",
            Dense(3),
            lambda m, t, X: softmax(m.predict(X).astype(np.float64), axis=1),
        ),
        ("binary_cross_entropy", Dense(1), lambda m, t, X: expit(m.predict(X).astype(np.float64))),
        ("nll", mlplab.HierarchicalSoftmax(5), lambda m, t, X: _hierarchical_probabilities(m, X)),
    ],
    ids=["softmax", "sigmoid", "hierarchical_softmax"],
)
def test_loaded_model_knows_its_loss(rng, tmp_path, loss, head, reference):
    # review finding: load_model(path).predict_proba(X) raised "missing 1 required positional
    # argument: 'loss'" although the checkpoint stores the loss (and a hierarchical softmax's
    # node weights, without which no probability can be computed)
    X = rng.standard_normal((60, 4)).astype(np.float32)
    n = {"binary_cross_entropy": 1, "cross_entropy": 3, "nll": 5}[loss]
    y = rng.integers(0, 2 if n == 1 else n, size=60)
    m = Sequential([Dense(8), BatchNorm(), ReLU(), head])
    trainer = mlplab.Trainer(m, loss, "adam", epochs=2, batch_size=8, rng=rng, verbose=0)
    trainer.fit(X, y)
    trainer.save(tmp_path / "run.npz")
    loaded = mlplab.load_model(tmp_path / "run.npz")
    proba = loaded.predict_proba(X)
    np.testing.assert_allclose(proba, trainer.predict(X), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(proba, reference(m, trainer, X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loaded.predict_proba(X, batch_size=7), proba, rtol=1e-6)
    assert loaded.loss.get_config() == trainer.loss.get_config()


def test_predict_proba_without_a_loss_asks_for_the_training_loss(rng):
    m = Sequential([Dense(3)])
    m.build(4, rng=rng)
    with pytest.raises(
        TypeError,
        match=r"Sequential.predict_proba: this model does not know "
        r"its loss .*pass the loss it was trained with, e.g. "
        r"predict_proba\(X, 'cross_entropy'\)",
    ):
        m.predict_proba(np.zeros((2, 4)))


# -- command line ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "--epochs", "-1"], r"argument --epochs: must be >= 1, got -1"),
        (["demo", "--epochs", "0"], r"argument --epochs: must be >= 1, got 0"),
        (["demo", "--epochs", "abc"], r"argument --epochs: expected an integer >= 1, got 'abc'"),
        (["demo", "--seed", "-2"], r"argument --seed: must be >= 0, got -2"),
        (["init-experiment", "--width", "0"], r"argument --width: must be >= 1, got 0"),
        (["init-experiment", "--depth", "2.5"], r"argument --depth: expected an integer >= 1"),
        (["demo", "--plot", "no/such/folder/x.png"], r"argument --plot: folder .* does not exist"),
    ],
)
def test_bad_cli_values_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2  # argparse's usage error, not a traceback
    err = capsys.readouterr().err
    assert err.startswith("usage: mlplab ")
    assert re.search(message, err), err


def test_a_model_trained_by_a_trainer_knows_its_loss(rng):
    """As Keras's compile: after Trainer(model, loss, ...) the model's predict_proba needs no
    loss; the probabilities are scipy's softmax of its outputs, as the trainer's predict."""
    from scipy.special import softmax

    X = rng.normal(size=(20, 4)).astype(np.float32)
    m = Sequential([Dense(3)])
    t = mlplab.Trainer(m, "cross_entropy", "sgd", epochs=1, rng=rng, verbose=0)
    t.fit(X, np.arange(20) % 3)
    np.testing.assert_allclose(m.predict_proba(X), softmax(m.predict(X), axis=1), rtol=1e-6)
    np.testing.assert_array_equal(m.predict_proba(X), t.predict(X))
