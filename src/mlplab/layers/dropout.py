"""Stochastic regularization layers: Dropout and GaussianNoise (identity in evaluation)."""

from __future__ import annotations

from typing import Any

from .._typing import Array
from ..backend import numpy_dtype
from ..errors import check_float, check_rate
from .base import Layer, register_layer


@register_layer()
class Dropout(Layer):
    """Drop each unit with probability ``rate`` during training.

    Inverted (default): training ``a = x * m / (1 - rate)``, evaluation ``a = x``.
    Classic (``inverted=False``): training ``a = x * m``, evaluation ``a = (1 - rate) x``.
    ``m_ij ~ Bernoulli(1 - rate)``; both variants give the same expected output. The last mask,
    scaled as applied, is ``layer.mask``.

    References: Srivastava, Hinton, Krizhevsky, Sutskever, Salakhutdinov, "Dropout: A Simple Way
    to Prevent Neural Networks from Overfitting" (JMLR 2014).
    """

    stochastic = True

    def __init__(self, rate: float = 0.5, *, inverted: bool = True):
        super().__init__()
        self.rate = check_rate(self.name, "rate", rate)
        if not isinstance(inverted, bool):
            raise TypeError(f"{self.name}: inverted must be a bool, got {inverted=!r}")
        self.inverted = inverted
        self.mask: Array | None = None
        self._scale: Array | float | None = None

    def forward(self, x: Array, *, training: bool = False) -> Array:
        x = self._check_input(x)
        if not training:
            self.mask = None
            self._scale = 1.0 if self.inverted else 1.0 - self.rate
            return x if self._scale == 1.0 else x * self._scale
        npdt = numpy_dtype(self.dtype)
        mask = (self._generator().random(x.shape, dtype=npdt) >= self.rate).astype(npdt)
        if self.inverted:
            mask *= 1.0 / (1.0 - self.rate)
        self.mask = self._scale = self.xp.asarray(mask)
        return x * self.mask

    def backward(self, dout: Array) -> Array:
        scale = self._cached(self._scale)
        return dout if isinstance(scale, float) and scale == 1.0 else dout * scale

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.rate, "inverted": self.inverted}


@register_layer("gaussian_noise")
class GaussianNoise(Layer):
    """Training: a = x + epsilon with epsilon ~ N(0, std^2); evaluation: a = x.
    Backward: dx = dout."""

    stochastic = True

    def __init__(self, std: float = 0.1):
        super().__init__()
        self.std = check_float(self.name, "std", std, low=0.0)
        self._ran = False

    def forward(self, x: Array, *, training: bool = False) -> Array:
        x = self._check_input(x)
        self._ran = True
        if not training or self.std == 0.0:
            return x
        noise = self._generator().standard_normal(x.shape, dtype=numpy_dtype(self.dtype))
        noise *= self.std
        return x + self.xp.asarray(noise)

    def backward(self, dout: Array) -> Array:
        if not self._ran:
            raise RuntimeError(f"{self.name}: backward called before forward")
        return dout

    def get_config(self) -> dict[str, Any]:
        return {"std": self.std}
