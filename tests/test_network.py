"""Sequential: parameter counts of the classic examples, views, state, config round trips."""

from __future__ import annotations

import json

import numpy as np

import mlplab
from mlplab import Dense, ReLU, Sequential, Sigmoid, Tanh


def test_classic_parameter_counts(rng):
    m = Sequential([Dense(4), Sigmoid(), Dense(2)])
    m.build(3, rng=rng)
    assert m.n_params == 26  # 3*4 + 4 + 4*2 + 2
    m = Sequential([Dense(4), ReLU(), Dense(4), ReLU(), Dense(1)])
    m.build(3, rng=rng)
    assert m.n_params == 41  # 16 + 20 + 5


def test_summary_lists_layers_shapes_and_counts(rng):
    m = Sequential([Dense(4), Sigmoid(), Dense(2)])
    assert "Not built" in m.summary()
    m.build(3, rng=rng)
    text = m.summary()
    assert "(batch, 4)" in text and "(batch, 2)" in text and "Total params: 26" in text
    assert "Sigmoid()" in text and "float32" in text
    assert repr(m).startswith("Sequential([Dense(units=4")


def test_params_are_views_and_keys_are_dotted(rng):
    m = Sequential(
        [
            Dense(4),
            bn := mlplab.BatchNorm(),
            ReLU(),
            mlplab.Residual([Dense(4), Tanh()]),
            Dense(2, use_bias=False),
        ]
    )
    m.build(3, rng=rng)
    assert list(m.params()) == ["0.W", "0.b", "1.gamma", "1.beta", "3.0.W", "3.0.b", "4.W"]
    assert list(m.buffers()) == ["1.running_mean", "1.running_var"]
    m.params()["0.W"][0, 0] = 123.0  # writing a view changes the model
    assert m.layers[0].params["W"][0, 0] == 123.0
    assert m.params()["3.0.W"] is m.layers[3].layers[0].params["W"]
    assert bn.params["gamma"] is m.params()["1.gamma"]


def test_grads_have_param_keys_and_shapes(rng):
    m = Sequential([Dense(5), mlplab.PReLU(), mlplab.Maxout(3, k=2), Dense(2)])
    m.build(4, rng=rng)
    out = m.forward(rng.standard_normal((6, 4)))
    m.backward(np.ones_like(out))
    P, G = m.params(), m.grads()
    assert list(P) == list(G)
    assert all(P[k].shape == G[k].shape for k in P)


def test_get_state_copies_and_set_state_restores(rng):
    m = Sequential([Dense(4), mlplab.BatchNorm(), ReLU(), Dense(2)])
    m.build(3, rng=rng)
    x = rng.standard_normal((8, 3))
    saved = m.get_state()
    before = m.forward(x)
    m.forward(x, training=True)  # moves running statistics
    m.params()["0.W"][...] = 0.0
    assert not np.array_equal(m.get_state()["1.running_mean"], saved["1.running_mean"])
    W_array = m.params()["0.W"]
    m.set_state(saved)
    assert m.params()["0.W"] is W_array  # restored in place: views stay valid
    np.testing.assert_array_equal(m.forward(x), before)


def test_config_round_trips_through_json(rng):
    m = Sequential(
        [
            Dense(6, kernel_initializer={"name": "normal", "config": {"std": 0.05}}),
            mlplab.BatchNorm(momentum=0.8),
            mlplab.LeakyReLU(0.2),
            mlplab.Dropout(0.25),
            mlplab.Residual([Dense(6), mlplab.ELU(0.5)]),
            mlplab.DropConnect(4, rate=0.1),
            mlplab.Maxout(3, k=3),
            mlplab.GaussianNoise(0.3),
            mlplab.PReLU(),
            mlplab.Activation("softplus"),
            Dense(2),
        ]
    )
    config = json.loads(json.dumps(m.get_config()))
    clone = Sequential.from_config(config)
    assert clone.get_config() == m.get_config()
    m.build(5, rng=np.random.default_rng(0))
    clone.build(5, rng=np.random.default_rng(0))
    x = rng.standard_normal((4, 5))
    np.testing.assert_array_equal(m.forward(x), clone.forward(x))
    for loss in [
        mlplab.Huber(0.3),
        mlplab.MulticlassHinge(margin=2.0, squared=True),
        mlplab.MultilabelHinge(margin=0.5),
    ]:
        spec = json.loads(json.dumps({"name": loss.name, "config": loss.get_config()}))
        assert mlplab.get_loss(spec).get_config() == loss.get_config()


def test_layers_by_name(rng):
    m = Sequential(
        [
            {"name": "dense", "config": {"units": 3}},
            "relu",
            "leaky_relu",
            {"name": "Dropout", "config": {"rate": 0.1}},
        ]
    )
    assert [type(layer).__name__ for layer in m.layers] == ["Dense", "ReLU", "LeakyReLU", "Dropout"]


def test_eval_mode_is_deterministic_and_training_mode_draws(rng):
    m = Sequential([Dense(16), mlplab.Dropout(0.5), Dense(2)])
    m.build(3, rng=rng)
    x = rng.standard_normal((5, 3))
    np.testing.assert_array_equal(m.forward(x), m.forward(x))
    assert not np.array_equal(m.forward(x, training=True), m.forward(x, training=True))


def test_backward_without_input_gradient(rng):
    """Training's backward (input_grad=False) gives the same parameter gradients as the full one,
    returns None, and skips the parameter-free layers before the first trained layer."""
    from mlplab import Dropout

    m = Sequential([Dropout(0.2), Dense(6), Tanh(), Dense(3)])
    m.build(4, rng=rng)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    dout = rng.standard_normal((5, 3)).astype(np.float32)
    m.forward(x, training=True)
    dx = m.backward(dout)
    full = {k: v.copy() for k, v in m.grads().items()}
    assert dx.shape == (5, 4)
    called = []
    m.layers[0].backward = lambda d: called.append(d)
    assert m.backward(dout, input_grad=False) is None
    assert not called
    for k, v in m.grads().items():
        np.testing.assert_array_equal(v, full[k])
