"""Fully connected layers: ``Dense`` and its DropConnect variant."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .._buffers import Scratch, matmul_into
from .._typing import Array
from ..backend import numpy_dtype
from ..errors import check_positive_int, check_rate
from ..initializers import SYMMETRIC, get_initializer, initializer_name, serialize_initializer
from .base import Layer, register_layer


@register_layer("affine", "fully_connected")
class Dense(Layer):
    """Affine layer z = xW + b with W of shape ``(fan_in, fan_out)``.

    Forward ``z = x @ W + b``; backward ``dW = x^T delta``, ``db = sum_n delta_n``,
    ``dx = delta W^T`` where ``delta = dL/dz`` of shape ``(batch, units)``.

    Parameters
    ----------
    units : int
        Number of output units (fan_out).
    use_bias : bool
        Whether to add the bias b.
    kernel_initializer, bias_initializer : str, dict or callable
        Names from :data:`mlplab.initializers.INITIALIZERS` (default ``glorot_uniform`` and
        ``zeros``, as in Keras). A constant kernel initializer warns: it does not break symmetry.
    """

    def __init__(
        self,
        units: int,
        *,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
    ):
        super().__init__()
        self.units = check_positive_int(self.name, "units", units)
        if not isinstance(use_bias, bool):
            raise TypeError(f"{self.name}: use_bias must be a bool, got {use_bias=!r}")
        self.use_bias = use_bias
        self.kernel_initializer = serialize_initializer(kernel_initializer)
        self.bias_initializer = serialize_initializer(bias_initializer)
        self._x: Array | None = None
        self._W: Array | None = None

    def _build(self, in_features: int, rng: np.random.Generator) -> int:
        kw = dict(rng=rng, dtype=self.dtype, xp=self.xp)
        shape = (in_features, self.units)
        if initializer_name(self.kernel_initializer) in SYMMETRIC:
            warnings.warn(
                f"{self.name}: kernel_initializer={self.kernel_initializer!r} gives every "
                "unit the same weights, so symmetry is not broken and all units stay "
                "identical; use a random initializer such as 'he_normal'",
                stacklevel=3,
            )
        self.params = {"W": get_initializer(self.kernel_initializer)(shape, **kw)}
        if self.use_bias:
            self.params["b"] = get_initializer(self.bias_initializer)((self.units,), **kw)
        self.grads = {}
        self._buffers = Scratch()
        return self.units

    def _effective_weights(self, training: bool) -> Array:
        """The weights the forward pass multiplies by (DropConnect masks them)."""
        return self.params["W"]

    def _weight_gradient(self, dW_effective: Array) -> Array:
        """dL/dW from dL/dW_effective (the identity here; DropConnect applies its mask)."""
        return dW_effective

    def forward(self, x: Array, *, training: bool = False) -> Array:
        x = self._check_input(x)
        self._x = x
        self._W = self._effective_weights(training)
        z = x @ self._W
        if self.use_bias:
            z += self.params["b"]  # z is a fresh array: no second temporary
        return z

    def backward(self, dout: Array) -> Array:
        self.backward_params(dout)
        return dout @ self._cached(self._W).T

    def backward_params(self, dout: Array) -> None:
        x = self._cached(self._x)
        # dW goes into the same buffer every step (like PyTorch's .grad): a fresh (fan_in,
        # fan_out) array per step costs page faults and zeroing that rival the product itself
        dW = matmul_into(self._buffers.like("W", self.params["W"]), x.T, dout)
        self.grads["W"] = self._weight_gradient(dW)
        if self.use_bias:
            # db = 1^T delta: as a matrix-vector product it is ~3x faster than sum(axis=0)
            xp = self.xp
            self.grads["b"] = xp.ones(dout.shape[0], dtype=dout.dtype) @ dout

    def get_config(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
        }


@register_layer("drop_connect")
class DropConnect(Dense):
    """A Dense layer whose weights are randomly dropped during training.

    Training: ``z = x (M * W) / (1 - rate) + b`` with a fresh mask ``M_ij ~ Bernoulli(1 - rate)``
    per forward pass (one mask per mini-batch); evaluation: ``z = xW + b``. Dividing by
    ``1 - rate`` (the "inverted" scaling) makes the expected pre-activation equal the evaluation
    one; Wan et al. instead moment-match a Gaussian at test time, which this layer does not do.
    The last mask, already scaled, is ``layer.mask`` (``None`` in evaluation).

    References: Wan, Zeiler, Zhang, LeCun, Fergus, "Regularization of Neural Networks using
    DropConnect" (ICML 2013).
    """

    stochastic = True

    def __init__(self, units: int, rate: float = 0.5, **kwargs: Any):
        super().__init__(units, **kwargs)
        self.rate = check_rate(self.name, "rate", rate)
        self.mask: Array | None = None

    def _effective_weights(self, training: bool) -> Array:
        W = self.params["W"]
        if not training or self.rate == 0.0:
            self.mask = None
            return W
        keep = self._generator().random(W.shape, dtype=numpy_dtype(self.dtype)) >= self.rate
        mask = keep.astype(numpy_dtype(self.dtype))
        mask *= 1.0 / (1.0 - self.rate)
        self.mask = self.xp.asarray(mask)
        return W * self.mask

    def _weight_gradient(self, dW_effective: Array) -> Array:
        return dW_effective if self.mask is None else dW_effective * self.mask

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate}
