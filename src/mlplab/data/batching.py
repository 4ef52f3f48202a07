"""Mini-batching by index: the dataset is never copied, only each batch is gathered."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def minibatch_indices(
    n: int, batch_size: int, *, rng: np.random.Generator | None = None, shuffle: bool = True
) -> Iterator[np.ndarray]:
    """Index arrays covering ``range(n)`` in batches of ``batch_size`` (the last may be smaller),
    in a fresh random order per call when ``shuffle``."""
    if not shuffle:
        order = np.arange(n)
    elif rng is None:
        raise TypeError(
            "minibatch_indices: shuffle=True needs an rng "
            "(e.g. numpy.random.default_rng(0)), got rng=None"
        )
    else:
        order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]
