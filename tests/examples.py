"""One example of every registered layer and loss, shared by the registry-wide tests."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab

# Constructors for every registered layer class; several variants where behaviour differs.
LAYER_EXAMPLES = {
    "Dense": [lambda: mlplab.Dense(4), lambda: mlplab.Dense(3, use_bias=False)],
    "DropConnect": [lambda: mlplab.DropConnect(4, rate=0.3)],
    "Activation": [lambda: mlplab.Activation("elu", alpha=0.5)],
    "Identity": [mlplab.Identity],
    "Sigmoid": [mlplab.Sigmoid],
    "Tanh": [mlplab.Tanh],
    "ReLU": [mlplab.ReLU],
    "Softplus": [mlplab.Softplus],
    "Softmax": [mlplab.Softmax],
    "LeakyReLU": [lambda: mlplab.LeakyReLU(0.1)],
    "ELU": [lambda: mlplab.ELU(0.7)],
    "PReLU": [mlplab.PReLU],
    "Maxout": [lambda: mlplab.Maxout(3, k=3)],
    "BatchNorm": [mlplab.BatchNorm],
    "Dropout": [lambda: mlplab.Dropout(0.3), lambda: mlplab.Dropout(0.3, inverted=False)],
    "GaussianNoise": [lambda: mlplab.GaussianNoise(0.2)],
    "Residual": [lambda: mlplab.Residual([mlplab.Dense(5), mlplab.Tanh(), mlplab.Dense(5)])],
    "HierarchicalSoftmax": [
        lambda: mlplab.HierarchicalSoftmax(4),
        lambda: mlplab.HierarchicalSoftmax(6, tree="huffman", class_counts=[50, 3, 9, 1, 20, 7]),
    ],
}

LAYER_CASES = [
    pytest.param(f, id=f"{name}-{i}")
    for name, fs in LAYER_EXAMPLES.items()
    for i, f in enumerate(fs)
]


def _labels(rng, n, c):
    return rng.integers(0, c, size=n)


# For every registered loss: (constructor, outputs C, make_targets(rng, n, C)).
LOSS_EXAMPLES = {
    "MeanSquaredError": [
        (mlplab.MeanSquaredError, 3, lambda r, n, c: r.standard_normal((n, c))),
        (lambda: mlplab.MeanSquaredError(half=False), 1, lambda r, n, c: r.standard_normal(n)),
    ],
    "MeanAbsoluteError": [(mlplab.MeanAbsoluteError, 2, lambda r, n, c: r.standard_normal((n, c)))],
    "Huber": [(lambda: mlplab.Huber(0.5), 3, lambda r, n, c: 2 * r.standard_normal((n, c)))],
    "SoftmaxCrossEntropy": [
        (mlplab.SoftmaxCrossEntropy, 4, _labels),
        (mlplab.SoftmaxCrossEntropy, 4, lambda r, n, c: r.dirichlet(np.ones(c), size=n)),
    ],
    "SigmoidBinaryCrossEntropy": [
        (mlplab.SigmoidBinaryCrossEntropy, 1, lambda r, n, c: r.integers(0, 2, size=n)),
        (mlplab.SigmoidBinaryCrossEntropy, 3, lambda r, n, c: r.random((n, c))),
    ],
    "MulticlassHinge": [(mlplab.MulticlassHinge, 4, _labels)],
    "SquaredHinge": [(mlplab.SquaredHinge, 4, _labels)],
    "MultilabelHinge": [
        (mlplab.MultilabelHinge, 3, lambda r, n, c: 2.0 * r.integers(0, 2, size=(n, c)) - 1),
        (
            lambda: mlplab.MultilabelHinge(squared=True),
            3,
            lambda r, n, c: 2.0 * r.integers(0, 2, size=(n, c)) - 1,
        ),
    ],
    "NegativeLogLikelihood": [
        (mlplab.NegativeLogLikelihood, 5, _labels),
        (mlplab.NegativeLogLikelihood, 4, lambda r, n, c: r.dirichlet(np.ones(c), size=n)),
    ],
}

LOSS_CASES = [
    pytest.param(*case, id=f"{name}-{i}")
    for name, cases in LOSS_EXAMPLES.items()
    for i, case in enumerate(cases)
]


def kink_free(rng, shape, low=0.1):
    """Standard normal values pushed at least ``low`` away from 0 (ReLU, leaky kinks)."""
    u = rng.standard_normal(shape)
    return np.sign(u) * (low + np.abs(u))


def backends():
    """The non-NumPy namespaces the engine must also run on."""
    import array_api_compat.torch as torch_xp
    import array_api_strict

    return {"array_api_strict": array_api_strict, "torch": torch_xp}
