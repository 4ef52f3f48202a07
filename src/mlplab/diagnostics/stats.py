"""Numbers about a network's insides: per-layer activation statistics over a dataset, weight
gradient norms, update/weight ratios, the loss at initialization. :mod:`.advice` turns them into
findings in words."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backend import to_numpy
from ..layers.activation import Activation
from ..layers.base import Layer
from ..losses import SigmoidBinaryCrossEntropy, SoftmaxCrossEntropy, get_loss
from ..network import Sequential

#: an activation output counts as saturated beyond these (f'(z) < ~0.02 there)
SATURATION = {"tanh": 0.99, "sigmoid": 0.01}


def activation_kind(layer: Layer) -> str | None:
    """The activation function's name for activation layers (``"relu"``, ``"tanh"``...)."""
    return layer.fn.name if isinstance(layer, Activation) else None


@dataclass
class LayerStats:
    """Statistics of one layer's outputs over a dataset (evaluation mode).

    ``saturated``: fraction of outputs in the flat tails (tanh |a| > 0.99, sigmoid a < 0.01 or
    a > 0.99), None for other layers. ``dead``: fraction of ReLU units that are zero on every
    example, None for other layers.
    """

    index: int
    layer: str
    kind: str | None
    mean: float
    std: float
    saturated: float | None = None
    dead: float | None = None

    @property
    def label(self) -> str:
        return f"layer {self.index} ({self.layer})"


def layer_outputs(model: Sequential, X, *, training: bool = False) -> list[np.ndarray]:
    """Every layer's output for the batch ``X`` (NumPy copies), input first excluded."""
    x = model.check_input(X)
    outs = []
    for layer in model.layers:
        x = layer.forward(x, training=training)
        outs.append(np.array(to_numpy(x), dtype=np.float64))
    return outs


def activation_statistics(model: Sequential, X, *, batch_size: int = 1024) -> list[LayerStats]:
    """Mean, std, saturated and dead fractions of every layer's output over all of ``X``."""
    X = model.check_input(X)
    n = X.shape[0]
    L = len(model.layers)
    s1, s2, sat = [0.0] * L, [0.0] * L, [0] * L
    alive: list[np.ndarray | None] = [None] * L
    count = [0] * L
    for start in range(0, n, batch_size):
        x = X[start : start + batch_size]
        for i, layer in enumerate(model.layers):
            x = layer.forward(x, training=False)
            a = np.asarray(to_numpy(x), dtype=np.float64)
            s1[i] += float(a.sum())
            s2[i] += float((a * a).sum())
            count[i] += a.size
            kind = activation_kind(layer)
            if kind == "tanh":
                sat[i] += int(np.count_nonzero(np.abs(a) > SATURATION["tanh"]))
            elif kind == "sigmoid":
                lo = SATURATION["sigmoid"]
                sat[i] += int(np.count_nonzero((a < lo) | (a > 1 - lo)))
            elif kind == "relu":
                active = np.any(a > 0, axis=0)  # per unit: ever active in this batch
                seen = alive[i]
                alive[i] = active if seen is None else (seen | active)
    stats = []
    for i, (layer, alive_i) in enumerate(zip(model.layers, alive)):
        mean = s1[i] / count[i]
        std = math.sqrt(max(s2[i] / count[i] - mean * mean, 0.0))
        kind = activation_kind(layer)
        stats.append(
            LayerStats(
                i,
                kind or type(layer).__name__,
                kind,
                mean,
                std,
                saturated=sat[i] / count[i] if kind in SATURATION else None,
                dead=float(1.0 - alive_i.mean()) if alive_i is not None else None,
            )
        )
    return stats


def gradient_norms(model: Sequential, loss: Any, X, y) -> dict[str, tuple[float, float]]:
    """For every weight matrix ``"<i>.W"``: (||dL/dW||, ||W||) on the batch (X, y), evaluation
    mode. The ratio across layers shows vanishing or exploding gradients."""
    loss = get_loss(loss)
    x = model.check_input(X)
    out = model.forward(x, training=False)
    _, dout = loss.value_and_grad(out, loss.validate_targets(y, out))
    model.backward(dout)
    params, grads = model.params(), model.grads()
    return {
        k: (float(np.linalg.norm(to_numpy(grads[k]))), float(np.linalg.norm(to_numpy(W))))
        for k, W in params.items()
        if k.endswith(".W")
    }


def weight_gains(model: Sequential) -> dict[str, float]:
    """For every weight matrix ``"<i>.W"`` of shape ``(fan_in, fan_out)``: its scale as a gain,
    ``sqrt(fan_in * mean(W^2))``, the factor by which it multiplies the variance-per-unit of its
    input. Glorot init gives about 1, he_normal sqrt(2); N(0, 0.01) on 100 inputs gives 0.1."""
    out = {}
    for k, W in model.params().items():
        if k.endswith(".W") and len(W.shape) == 2:
            w = np.asarray(to_numpy(W), dtype=np.float64)
            out[k] = float(math.sqrt(w.shape[0] * np.mean(w * w)))
    return out


def update_ratios(before: dict, after: dict) -> dict[str, float]:
    """||W_after - W_before|| / ||W_before|| per weight matrix (cs231n: healthy near 1e-3)."""
    out = {}
    for k, w0 in before.items():
        if not k.endswith(".W"):
            continue
        w0, w1 = np.asarray(to_numpy(w0), np.float64), np.asarray(to_numpy(after[k]), np.float64)
        out[k] = float(np.linalg.norm(w1 - w0) / max(float(np.linalg.norm(w0)), 1e-12))
    return out


def expected_initial_loss(loss: Any, n_outputs: int) -> float | None:
    """The loss of an uninformed classifier: ln C for softmax cross-entropy (uniform
    probabilities), ln 2 for sigmoid cross-entropy; None where there is no such reference."""
    loss = get_loss(loss)
    if isinstance(loss, SoftmaxCrossEntropy):
        return math.log(n_outputs)
    if isinstance(loss, SigmoidBinaryCrossEntropy):
        return math.log(2.0)
    return None
