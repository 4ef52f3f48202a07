"""Batch normalization over the batch axis of ``(batch, features)`` activations."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import Array
from ..errors import check_float
from .base import Layer, register_layer


@register_layer("batch_norm", "batch_normalization")
class BatchNorm(Layer):
    """y = gamma * x_hat + beta with x_hat = (x - mu_B) / sqrt(sigma_B^2 + epsilon).

    Training uses the batch mean ``mu_B`` and biased variance ``sigma_B^2`` and updates the
    running statistics ``running = momentum * running + (1 - momentum) * batch``, the running
    variance from the unbiased batch variance ``m/(m-1) sigma_B^2`` (as in the paper and PyTorch).
    Evaluation normalizes with the running statistics. PyTorch's ``momentum`` is ``1 - momentum``
    here: our 0.9 is its 0.1 (Keras uses our convention, with 0.99).

    Backward (training), with ``dx_hat = dout * gamma`` over a batch of m rows::

        dx = (1/m) / sqrt(sigma_B^2 + epsilon) * (m dx_hat - sum dx_hat - x_hat sum(dx_hat x_hat))

    References: Ioffe & Szegedy, "Batch Normalization: Accelerating Deep Network Training by
    Reducing Internal Covariate Shift" (ICML 2015).
    """

    def __init__(self, momentum: float = 0.9, eps: float = 1e-5):
        super().__init__()
        self.momentum = check_float(self.name, "momentum", momentum, low=0.0, high=1.0)
        self.eps = check_float(self.name, "eps", eps, low=0.0, low_inclusive=False)
        self._xhat: Array | None = None
        self._inv_std: Array | None = None
        self._training = False

    def _build(self, in_features: int, rng: np.random.Generator) -> int:
        xp, dt = self.xp, self.dtype
        self.params = {
            "gamma": xp.ones((in_features,), dtype=dt),
            "beta": xp.zeros((in_features,), dtype=dt),
        }
        self.grads = {}
        self.state = {
            "running_mean": xp.zeros((in_features,), dtype=dt),
            "running_var": xp.ones((in_features,), dtype=dt),
        }
        return in_features

    def forward(self, x: Array, *, training: bool = False) -> Array:
        x = self._check_input(x)
        xp = self.xp
        self._training = training
        if training:
            m = x.shape[0]
            if m < 2:
                raise ValueError(
                    f"{self.name}: training needs at least 2 rows per batch to "
                    f"estimate a variance, got a batch of {m}"
                )
            mu = xp.mean(x, axis=0)
            xc = x - mu
            var = xp.mean(xc * xc, axis=0)
            # running statistics are buffers: updated in place so views stay valid
            rm, rv, a = self.state["running_mean"], self.state["running_var"], self.momentum
            rm *= a
            rm += (1.0 - a) * mu
            rv *= a
            rv += ((1.0 - a) * m / (m - 1)) * var
        else:
            xc = x - self.state["running_mean"]
            var = self.state["running_var"]
        self._inv_std = 1.0 / xp.sqrt(var + self.eps)
        self._xhat = xc * self._inv_std
        return self.params["gamma"] * self._xhat + self.params["beta"]

    def backward(self, dout: Array) -> Array:
        xhat = self._cached(self._xhat)
        xp = self.xp
        self.grads["beta"] = xp.sum(dout, axis=0)
        self.grads["gamma"] = xp.sum(dout * xhat, axis=0)
        dxhat = dout * self.params["gamma"]
        if not self._training:
            return dxhat * self._inv_std
        m = dout.shape[0]
        return (self._inv_std / m) * (
            m * dxhat - xp.sum(dxhat, axis=0) - xhat * xp.sum(dxhat * xhat, axis=0)
        )

    def get_config(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "eps": self.eps}
