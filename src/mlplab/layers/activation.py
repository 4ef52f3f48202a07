"""Activation layers: elementwise (or row-wise, for Softmax) functions of the previous layer."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import Array
from ..activations import get_activation
from ..errors import check_float
from ..initializers import get_initializer, serialize_initializer
from .base import Layer, register_layer


@register_layer()
class Activation(Layer):
    """a = f(z) for any activation in :data:`mlplab.activations.ACTIVATIONS`.

    Backward: ``dz = dout * f'(z)`` (Softmax: the Jacobian-vector product). The named subclasses
    (``ReLU()``, ``Sigmoid()``, ...) are this layer with the function fixed.
    """

    function: str | None = None  # fixed by the named subclasses

    def __init__(self, activation: str = "relu", **hyperparameters: Any):
        super().__init__()
        self.fn, self.hyper = get_activation(
            {"name": self.function or activation, "config": hyperparameters}
        )
        self._z: Array | None = None
        self._a: Array | None = None

    def forward(self, x: Array, *, training: bool = False) -> Array:
        x = self._check_input(x)
        self._z = x
        self._a = self.fn.forward(x, **self.hyper)
        return self._a

    def backward(self, dout: Array) -> Array:
        return self.fn.backward(dout, self._cached(self._z), self._a, **self.hyper)

    def get_config(self) -> dict[str, Any]:
        if self.function is None:
            return {"activation": self.fn.name, **self.hyper}
        return dict(self.hyper)

    # the function travels by its registered name: several are lambdas, which do not pickle
    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["fn"] = self.fn.name
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = {**state, "fn": get_activation(state["fn"])[0]}
        super().__setstate__(state)


class _FixedActivation(Activation):
    """An activation layer whose function is fixed and has no hyperparameters: ``ReLU()``."""

    def __init__(self) -> None:
        super().__init__()


@register_layer("identity", "linear")
class Identity(_FixedActivation):
    """a = z (a linear output layer); dz = dout."""

    function = "identity"


@register_layer("sigmoid", "logistic")
class Sigmoid(_FixedActivation):
    """a = 1 / (1 + exp(-z)); dz = dout * a (1 - a).

    Computed from exp(-|z|), so large |z| never overflows.
    """

    function = "sigmoid"


@register_layer("tanh")
class Tanh(_FixedActivation):
    """a = tanh(z); dz = dout * (1 - a^2)."""

    function = "tanh"


@register_layer("relu")
class ReLU(_FixedActivation):
    """a = max(z, 0); dz = dout * [z > 0].

    References: Nair, Hinton, "Rectified Linear Units Improve Restricted Boltzmann Machines"
    (ICML 2010).
    """

    function = "relu"


@register_layer("softplus")
class Softplus(_FixedActivation):
    """a = log(1 + exp(z)); dz = dout * sigma(z)."""

    function = "softplus"


@register_layer("softmax")
class Softmax(_FixedActivation):
    """a_k = exp(z_k - max z) / sum_j exp(z_j - max z) per row; dz = a * (dout - sum_k dout_k a_k).

    For training a classifier prefer SoftmaxCrossEntropy on logits, which fuses the two.
    """

    function = "softmax"


@register_layer("leaky_relu")
class LeakyReLU(Activation):
    """a = z if z > 0 else alpha * z.

    References: Maas, Hannun, Ng, "Rectifier Nonlinearities Improve Neural Network Acoustic
    Models" (2013).
    """

    function = "leaky_relu"

    def __init__(self, alpha: float = 0.01):
        super().__init__(alpha=check_float(type(self).__name__, "alpha", alpha, low=0.0))


@register_layer("elu")
class ELU(Activation):
    """a = z if z > 0 else alpha * (exp(z) - 1).

    References: Clevert, Unterthiner, Hochreiter, "Fast and Accurate Deep Network Learning by
    Exponential Linear Units (ELUs)" (2016).
    """

    function = "elu"

    def __init__(self, alpha: float = 1.0):
        super().__init__(alpha=check_float(type(self).__name__, "alpha", alpha, low=0.0))


@register_layer("prelu")
class PReLU(Layer):
    """Leaky ReLU with a learned slope per unit: a_j = z_j if z_j > 0 else alpha_j z_j.

    Backward: ``dalpha_j = sum_n dout_nj z_nj [z_nj <= 0]``, ``dz = dout * (1 or alpha)``.

    References: He, Zhang, Ren, Sun, "Delving Deep into Rectifiers" (2015); alpha starts at 0.25.
    """

    def __init__(self, alpha_initializer: Any = None):
        super().__init__()
        if alpha_initializer is None:
            alpha_initializer = {"name": "constant", "config": {"value": 0.25}}
        self.alpha_initializer = serialize_initializer(alpha_initializer)
        self.fn, _ = get_activation("leaky_relu")
        self._z: Array | None = None

    def _build(self, in_features: int, rng: np.random.Generator) -> int:
        init = get_initializer(self.alpha_initializer)
        self.params = {"alpha": init((in_features,), rng=rng, dtype=self.dtype, xp=self.xp)}
        self.grads = {}
        return in_features

    def forward(self, x: Array, *, training: bool = False) -> Array:
        x = self._check_input(x)
        self._z = x
        return self.fn.forward(x, alpha=self.params["alpha"])

    def backward(self, dout: Array) -> Array:
        z = self._cached(self._z)
        xp = self.xp
        # dL/dalpha = sum over the batch of dout * z where z <= 0, i.e. dout * min(z, 0)
        self.grads["alpha"] = xp.sum(dout * xp.minimum(z, 0.0), axis=0)
        return self.fn.backward(dout, z, None, alpha=self.params["alpha"])

    def get_config(self) -> dict[str, Any]:
        return {"alpha_initializer": self.alpha_initializer}
