"""Maxout: each unit is the maximum of k affine pieces."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import Array
from ..errors import check_positive_int
from ..initializers import get_initializer, serialize_initializer
from .base import Layer, register_layer


@register_layer()
class Maxout(Layer):
    """h_j = max_p z_jp with z = xW + b, W of shape ``(fan_in, units * k)``.

    Column ``j * k + p`` of W is piece p of unit j. Backward routes ``dout_j`` to the winning
    piece only (the first one on a tie, as ``argmax`` picks it).

    References: Goodfellow, Warde-Farley, Mirza, Courville, Bengio, "Maxout Networks" (2013).
    """

    def __init__(
        self,
        units: int,
        k: int = 2,
        *,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
    ):
        super().__init__()
        self.units = check_positive_int(self.name, "units", units)
        self.k = check_positive_int(self.name, "k", k, minimum=2)
        self.kernel_initializer = serialize_initializer(kernel_initializer)
        self.bias_initializer = serialize_initializer(bias_initializer)
        self._x: Array | None = None
        self._winner: Array | None = None

    def _build(self, in_features: int, rng: np.random.Generator) -> int:
        kw = dict(rng=rng, dtype=self.dtype, xp=self.xp)
        width = self.units * self.k
        self.params = {
            "W": get_initializer(self.kernel_initializer)((in_features, width), **kw),
            "b": get_initializer(self.bias_initializer)((width,), **kw),
        }
        self.grads = {}
        return self.units

    def forward(self, x: Array, *, training: bool = False) -> Array:
        x = self._check_input(x)
        xp = self.xp
        self._x = x
        z = xp.reshape(x @ self.params["W"] + self.params["b"], (x.shape[0], self.units, self.k))
        best = xp.argmax(z, axis=2)
        # one-hot of the winning piece, in the float dtype, so backward is a multiply
        self._winner = xp.astype(xp.arange(self.k)[None, None, :] == best[:, :, None], z.dtype)
        return xp.max(z, axis=2)

    def backward(self, dout: Array) -> Array:
        x = self._cached(self._x)
        xp = self.xp
        dz = xp.reshape(self._winner * dout[:, :, None], (dout.shape[0], self.units * self.k))
        self.grads["W"] = x.T @ dz
        self.grads["b"] = xp.sum(dz, axis=0)
        return dz @ self.params["W"].T

    def get_config(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "k": self.k,
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
        }
