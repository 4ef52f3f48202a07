"""Backend neutrality: the engine runs on array_api_strict arrays and torch CPU tensors and gives
the numbers NumPy gives; the float32 path stays float32 end to end."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab.backend import to_numpy

from examples import LAYER_CASES, LOSS_CASES, backends, kink_free

BACKENDS = backends()


def run_layer(make, xp, x, dout, training, dtype="float64"):
    layer = make()
    layer.build(5, rng=np.random.default_rng(7), dtype=dtype, xp=xp)
    out = layer.forward(xp.asarray(x), training=training)
    dx = layer.backward(xp.asarray(dout))
    return layer, out, dx


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("make", LAYER_CASES)
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_layer_same_numbers_on_every_backend(make, backend, training, rng):
    xp = BACKENDS[backend]
    x = kink_free(rng, (6, 5))
    layer_np = make()
    layer_np.build(5, rng=np.random.default_rng(7), dtype="float64")
    out_np = layer_np.forward(x, training=training)
    dout = rng.standard_normal(out_np.shape)
    dx_np = layer_np.backward(dout)

    layer, out, dx = run_layer(make, xp, x, dout, training)
    assert type(out).__module__.split(".")[0] in ("array_api_strict", "torch")
    np.testing.assert_allclose(to_numpy(out), out_np, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(to_numpy(dx), dx_np, rtol=1e-12, atol=1e-14)
    for k in layer_np.params:
        np.testing.assert_allclose(
            to_numpy(layer.grads[k]), layer_np.grads[k], rtol=1e-12, atol=1e-14
        )
    for k in layer_np.state:
        np.testing.assert_allclose(to_numpy(layer.state[k]), layer_np.state[k], rtol=1e-12)


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("make, n_out, targets", LOSS_CASES)
def test_loss_same_numbers_on_every_backend(make, n_out, targets, backend, rng):
    xp = BACKENDS[backend]
    y = targets(rng, 6, n_out)
    results = []
    for ns in (np, xp):
        loss = make()
        z = np.random.default_rng(5).standard_normal((6, n_out))
        value, grad = loss.value_and_grad(ns.asarray(z), ns.asarray(y))
        results.append((float(value), to_numpy(grad)))
    assert results[1][0] == pytest.approx(results[0][0], rel=1e-12)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_sequential_on_backend(backend, rng):
    xp = BACKENDS[backend]

    def layers():
        return [
            mlplab.Dense(8, kernel_initializer="he_normal"),
            mlplab.BatchNorm(),
            mlplab.ReLU(),
            mlplab.Dropout(0.2),
            mlplab.Dense(3),
        ]

    x, y = rng.standard_normal((10, 4)), rng.integers(0, 3, 10)
    grads = []
    for ns in (np, xp):
        model = mlplab.Sequential(layers())
        model.build(4, rng=np.random.default_rng(1), dtype="float64", xp=ns)
        _, dout = mlplab.SoftmaxCrossEntropy().value_and_grad(
            model.forward(ns.asarray(x), training=True), ns.asarray(y)
        )
        model.backward(dout)
        grads.append({k: to_numpy(v) for k, v in model.grads().items()})
    for k in grads[0]:
        np.testing.assert_allclose(grads[1][k], grads[0][k], rtol=1e-11, atol=1e-14)


def _arrays(obj):
    """Every NumPy array reachable from a layer's attributes (params, grads, state, caches)."""
    for v in vars(obj).values():
        if isinstance(v, np.ndarray):
            yield v
        elif isinstance(v, dict):
            yield from (a for a in v.values() if isinstance(a, np.ndarray))
        elif isinstance(v, list):
            for item in v:
                if isinstance(item, mlplab.Layer):
                    yield from _arrays(item)


@pytest.mark.parametrize("make", LAYER_CASES)
def test_float32_layer_stays_float32(make, rng):
    x = kink_free(rng, (6, 5)).astype(np.float32)
    for training in (False, True):
        layer = make()
        layer.build(5, rng=np.random.default_rng(0), dtype="float32")
        out = layer.forward(x, training=training)
        dx = layer.backward(np.ones(out.shape, np.float32))
        assert out.dtype == np.float32 and dx.dtype == np.float32
        dtypes = {a.dtype for a in _arrays(layer)}
        assert dtypes <= {np.dtype(np.float32), np.dtype(bool)}, dtypes


@pytest.mark.parametrize("make, n_out, targets", LOSS_CASES)
def test_float32_loss_stays_float32(make, n_out, targets, rng):
    loss = make()
    z = rng.standard_normal((6, n_out)).astype(np.float32)
    value, grad = loss.value_and_grad(z, targets(rng, 6, n_out))  # targets may be float64
    assert value.dtype == np.float32 and grad.dtype == np.float32


def test_float32_model_end_to_end_and_float64_data_is_cast_once(rng):
    model = mlplab.Sequential(
        [
            mlplab.Dense(16),
            mlplab.BatchNorm(),
            mlplab.ELU(),
            mlplab.Dropout(0.1),
            mlplab.Maxout(8, 2),
            mlplab.PReLU(),
            mlplab.Residual([mlplab.Dense(8), mlplab.Tanh()]),
            mlplab.Dense(3),
        ]
    )
    model.build(4, rng=rng)
    x = rng.standard_normal((12, 4))  # float64 data, as users have it
    out = model.forward(x, training=True)
    value, dout = mlplab.SoftmaxCrossEntropy().value_and_grad(out, rng.integers(0, 3, 12))
    dx = model.backward(dout)
    arrays = [
        out,
        value,
        dout,
        dx,
        *model.params().values(),
        *model.grads().values(),
        *model.buffers().values(),
    ]
    assert all(a.dtype == np.float32 for a in arrays), {a.dtype for a in arrays}
    for layer in model.layers:
        assert {a.dtype for a in _arrays(layer)} <= {np.dtype(np.float32)}
