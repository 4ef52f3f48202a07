"""Layer behaviour beyond gradients: dropout expectations, noise, BatchNorm modes, closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mlplab
from mlplab import Dense, Sequential


@pytest.mark.parametrize("inverted", [True, False])
def test_dropout_training_mean_equals_eval_output(inverted):
    """Both variants: E[training output] = evaluation output (within sampling error)."""
    rate, n = 0.3, 200_000
    layer = mlplab.Dropout(rate, inverted=inverted)
    layer.build(3, rng=np.random.default_rng(0), dtype="float64")
    x = np.tile(np.array([[1.0, -2.0, 0.5]]), (n, 1))
    train = layer.forward(x, training=True)
    test = layer.forward(x[:1], training=False)
    keep = 1 - rate
    scale = 1 / keep if inverted else 1.0
    se = np.abs(x[0]) * scale * math.sqrt(keep * rate / n)  # std error of a Bernoulli mean
    assert np.all(np.abs(train.mean(axis=0) - test[0]) < 5 * se)
    np.testing.assert_allclose(test[0], x[0] if inverted else keep * x[0])
    # the drop probability is `rate`
    assert abs(np.mean(train == 0) - rate) < 5 * math.sqrt(rate * keep / (3 * n))


def test_dropconnect_expected_preactivation_is_dense(rng):
    layer = mlplab.DropConnect(2, rate=0.4)
    layer.build(3, rng=rng, dtype="float64")
    x = np.array([[1.0, 2.0, -1.0]])
    draws = np.stack([layer.forward(x, training=True)[0] for _ in range(20_000)])
    expected = layer.forward(x, training=False)[0]
    se = draws.std(axis=0) / math.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - expected) < 5 * se)
    np.testing.assert_allclose(expected, x[0] @ layer.params["W"] + layer.params["b"])


def test_gaussian_noise_moments_and_eval_identity():
    layer = mlplab.GaussianNoise(0.5)
    layer.build(2, rng=np.random.default_rng(0), dtype="float64")
    x = np.zeros((100_000, 2))
    noise = layer.forward(x, training=True)
    assert abs(noise.std() - 0.5) < 0.01 and abs(noise.mean()) < 0.01
    np.testing.assert_array_equal(layer.forward(x[:3]), x[:3])


def test_batchnorm_training_output_is_normalized_and_eval_uses_running_stats(rng):
    bn = mlplab.BatchNorm(momentum=0.0)  # running statistics = last batch's
    bn.build(4, rng=rng, dtype="float64")
    x = 3.0 + 2.0 * rng.standard_normal((50, 4))
    y = bn.forward(x, training=True)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=0), x.var(axis=0) / (x.var(axis=0) + 1e-5), rtol=1e-12)
    np.testing.assert_allclose(bn.state["running_var"], x.var(axis=0, ddof=1), rtol=1e-12)
    z = bn.forward(x[:5], training=False)
    expected = (x[:5] - x.mean(0)) / np.sqrt(x.var(0, ddof=1) + 1e-5)
    np.testing.assert_allclose(z, expected, rtol=1e-12)


def test_sigmoid_and_softmax_are_stable_for_huge_inputs():
    z = np.array([[-1000.0, 0.0, 1000.0]])
    s = mlplab.Sigmoid()
    s.build(3, rng=np.random.default_rng(0), dtype="float64")
    np.testing.assert_array_equal(s.forward(z), [[0.0, 0.5, 1.0]])
    sm = mlplab.Softmax()
    sm.build(3, rng=np.random.default_rng(0), dtype="float64")
    np.testing.assert_allclose(sm.forward(z), [[0.0, 0.0, 1.0]])
    loss = mlplab.SoftmaxCrossEntropy()
    value, grad = loss.value_and_grad(z, np.array([0]))
    assert float(value) == pytest.approx(2000.0) and np.all(np.isfinite(grad))
    value, _ = mlplab.SigmoidBinaryCrossEntropy().value_and_grad(np.array([[-800.0]]), [1])
    assert float(value) == pytest.approx(800.0)


def test_sigmoid_and_elu_keep_their_tails_and_special_values():
    """The branch-free forms (no where()): tiny sigmoid values keep their relative accuracy, and
    inf, -inf and NaN come out as the closed forms say, in float64 and float32."""
    import math

    from mlplab.activations import ACTIVATIONS, sigmoid

    z = np.array([-700.0, -50.0, -1e-30, -0.0, 0.0, 3.0, 40.0, np.inf, -np.inf, np.nan])
    exact = [
        math.exp(v) / (1 + math.exp(v)) if v < 0 else 1 / (1 + math.exp(-v)) for v in z[:7]
    ] + [1.0, 0.0]
    np.testing.assert_allclose(sigmoid(z)[:9], exact, rtol=1e-15, atol=0)
    assert np.isnan(sigmoid(z)[9])
    elu = ACTIVATIONS.get("elu")
    a = elu.forward(z, alpha=1.5)
    expected = [1.5 * math.expm1(v) if v <= 0 else v for v in z[:7]] + [np.inf, -1.5]
    np.testing.assert_allclose(a[:9], expected, rtol=1e-15, atol=0)
    dout = np.full_like(z, 2.0)
    with np.errstate(invalid="ignore"):
        dz = elu.backward(dout, z, a, alpha=1.5)
    # the slope alpha e^z is formed as a + alpha: exact to eps absolute (0 deep in the tail)
    slope = [1.5 * math.exp(v) if v <= 0 else 1.0 for v in z[:7]] + [1.0, 0.0]
    np.testing.assert_allclose(dz[:9], 2.0 * np.array(slope), rtol=1e-15, atol=1e-15)
    assert np.isnan(a[9]) and np.isnan(dz[9])
    z32 = z.astype(np.float32)
    assert sigmoid(z32).dtype == np.float32 and elu.forward(z32, alpha=1.5).dtype == np.float32
    np.testing.assert_allclose(sigmoid(z32)[1:9], np.float32(exact[1:]), rtol=1e-6, atol=0)


def test_maxout_takes_the_max_of_k_pieces(rng):
    layer = mlplab.Maxout(2, k=3)
    layer.build(4, rng=rng, dtype="float64")
    x = rng.standard_normal((5, 4))
    z = x @ layer.params["W"] + layer.params["b"]
    expected = np.stack([z[:, 0:3].max(1), z[:, 3:6].max(1)], axis=1)
    np.testing.assert_array_equal(layer.forward(x), expected)


def test_residual_adds_the_input(rng):
    block = Dense(3)
    res = mlplab.Residual(block)
    res.build(3, rng=rng, dtype="float64")
    x = rng.standard_normal((4, 3))
    np.testing.assert_allclose(res.forward(x), x + x @ block.params["W"] + block.params["b"])


def test_hierarchical_softmax_probabilities(rng):
    """Closed form on 3 balanced classes: root splits {0,1} | {2}; node 1 splits 0 | 1."""
    hs = mlplab.HierarchicalSoftmax(3)
    hs.build(2, rng=rng, dtype="float64")
    h = rng.standard_normal((4, 2))
    z = h @ hs.params["W"] + hs.params["b"]
    sig = lambda t: 1 / (1 + np.exp(-t))  # noqa: E731
    expected = np.stack(
        [sig(-z[:, 0]) * sig(-z[:, 1]), sig(-z[:, 0]) * sig(z[:, 1]), sig(z[:, 0])], axis=1
    )
    p = mlplab.get_loss("nll").predict(hs.forward(h))  # the layer gives log-probabilities
    np.testing.assert_allclose(p, expected, rtol=1e-12)
    np.testing.assert_allclose(p.sum(1), 1.0)
    value, _ = mlplab.get_loss("nll").value_and_grad(hs.forward(h), np.array([0, 2, 1, 2]))
    assert float(value) == pytest.approx(-np.mean(np.log(p[[0, 1, 2, 3], [0, 2, 1, 2]])))


def test_huffman_tree_gives_frequent_classes_short_paths():
    counts = [100, 1, 2, 50, 3]
    hs = mlplab.HierarchicalSoftmax(5, tree="huffman", class_counts=counts)
    depth = hs.on_path.sum(axis=1)
    assert depth[0] == 1 and depth[0] < depth[3] < depth[1]
    # the Huffman code lengths minimize the expected path length among binary trees
    assert np.dot(counts, depth) <= np.dot(counts, mlplab.HierarchicalSoftmax(5).on_path.sum(1))
    assert np.all(hs.on_path.sum(0) >= 1)  # every inner node is used


def test_hinge_loss_closed_form():
    """cs231n's worked example: scores [3.2, 5.1, -1.7], label 0 -> loss 2.9."""
    value, _ = mlplab.MulticlassHinge().value_and_grad(np.array([[3.2, 5.1, -1.7]]), np.array([0]))
    assert float(value) == pytest.approx(2.9)


def test_initial_softmax_loss_is_about_ln_c(rng):
    m = Sequential(
        [
            Dense(50, kernel_initializer={"name": "normal", "config": {"std": 0.001}}),
            mlplab.ReLU(),
            Dense(10, kernel_initializer={"name": "normal", "config": {"std": 0.001}}),
        ]
    )
    m.build(20, rng=rng, dtype="float64")
    value = mlplab.SoftmaxCrossEntropy()(
        m.forward(rng.standard_normal((100, 20))), rng.integers(0, 10, 100)
    )
    assert float(value) == pytest.approx(math.log(10), abs=1e-3)
