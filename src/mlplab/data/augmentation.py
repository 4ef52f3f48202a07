"""Per-batch data augmentation: callables ``augment(x, rng) -> x`` used by the trainer."""

from __future__ import annotations

import numpy as np

from ..backend import get_namespace, numpy_dtype
from ..errors import check_float, check_positive_int


class GaussianInputNoise:
    """x + N(0, std^2) per entry, a fresh draw per batch."""

    def __init__(self, std: float = 0.1):
        self.std = check_float("GaussianInputNoise", "std", std, low=0.0)

    def __call__(self, x, rng: np.random.Generator):
        xp = get_namespace(x)
        noise = rng.standard_normal(tuple(x.shape), dtype=numpy_dtype(x.dtype))
        noise *= self.std
        return x + xp.asarray(noise)

    def get_config(self):
        return {"std": self.std}


class RandomShift:
    """Shift each flattened image by up to ``max_shift`` pixels in x and y, filling with 0."""

    def __init__(self, image_shape: tuple[int, int], max_shift: int = 2):
        h, w = image_shape
        self.image_shape = (
            check_positive_int("RandomShift", "height", h),
            check_positive_int("RandomShift", "width", w),
        )
        self.max_shift = check_positive_int("RandomShift", "max_shift", max_shift)

    def __call__(self, x, rng: np.random.Generator):
        h, w = self.image_shape
        if x.shape[1] != h * w:
            raise ValueError(
                f"RandomShift: expected {h * w} features (an {h}x{w} image), got {x.shape[1]}"
            )
        xn = np.asarray(x).reshape(-1, h, w)
        out = np.zeros_like(xn)
        s = self.max_shift
        dy, dx = rng.integers(-s, s + 1, size=(2, xn.shape[0]))
        for sy in range(-s, s + 1):  # loop over the few shifts, not over examples
            for sx in range(-s, s + 1):
                rows = np.nonzero((dy == sy) & (dx == sx))[0]
                if rows.size:
                    out[rows, max(sy, 0) : h + min(sy, 0), max(sx, 0) : w + min(sx, 0)] = xn[
                        rows, max(-sy, 0) : h + min(-sy, 0), max(-sx, 0) : w + min(-sx, 0)
                    ]
        return get_namespace(x).asarray(out.reshape(x.shape))

    def get_config(self):
        return {"image_shape": list(self.image_shape), "max_shift": self.max_shift}
