"""Residual (skip) connection around a block of layers, for deep MLPs."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import Array
from .base import (
    Layer,
    backward_chain,
    build_chain,
    collect,
    forward_chain,
    get_layer,
    iter_generators,
    register_layer,
    serialize_layer,
)


@register_layer("skip")
class Residual(Layer):
    """y = x + F(x) where F is ``block``: one layer or a list of layers keeping the width.

    Backward: ``dx = dout + dF/dx^T dout``. Parameter keys are the block's, by position
    (``"0.W"``, ``"2.W"``), under the Residual's own index in the model (``"3.0.W"``).

    References: He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition" (2016).
    """

    def __init__(self, block: Any):
        super().__init__()
        specs = block if isinstance(block, (list, tuple)) else [block]
        if not specs:
            raise ValueError(f"{self.name}: block must hold at least one layer, got {block!r}")
        self.layers: list[Layer] = [get_layer(s) for s in specs]

    def _build(self, in_features: int, rng: np.random.Generator) -> int:
        out = build_chain(self.layers, in_features, rng=rng, dtype=self.dtype, xp=self.xp)
        if out != in_features:
            raise ValueError(
                f"{self.name}: the block must keep the width to add x back, but it "
                f"maps {in_features} features to {out}"
            )
        return in_features

    # views of the block's arrays, gathered on access so they follow the layers
    @property
    def params(self) -> dict[str, Array]:  # type: ignore[override]
        return collect(self.layers, "params")

    @property
    def grads(self) -> dict[str, Array]:  # type: ignore[override]
        return collect(self.layers, "grads")

    @property
    def state(self) -> dict[str, Array]:  # type: ignore[override]
        return collect(self.layers, "state")

    def generators(self) -> list[np.random.Generator]:
        return list(iter_generators(self.layers))

    def forward(self, x: Array, *, training: bool = False) -> Array:
        x = self._check_input(x)
        return x + forward_chain(self.layers, x, training)

    def backward(self, dout: Array) -> Array:
        return dout + backward_chain(self.layers, dout)

    def get_config(self) -> dict[str, Any]:
        return {"block": [serialize_layer(layer) for layer in self.layers]}
