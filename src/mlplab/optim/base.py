"""Optimizers as pure update rules over dicts of arrays (optax style), and the one place where
parameters change: :func:`apply_updates`.

A :class:`Transform` is ``init(params) -> state`` and ``update(grads, state, params) ->
(updates, state)``; named optimizers are :func:`chain` s of transforms, and the trainer applies
``params += updates``. The state is returned, never kept on the transform, so it can be saved,
restored and inspected. NumPy is not JAX: for speed an update may write into the state arrays
it was given and return them; it never mutates the ``grads`` or ``params`` it receives.
"""
from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import numpy as np

from .._typing import Array, Grads, Params
from ..backend import get_namespace, to_numpy

State = Any
Updates = dict[str, Array]


class Transform(NamedTuple):
    """An update rule: ``init(params) -> state``, ``update(grads, state, params) -> (updates, state)``.

    ``spec`` (``{"name", "config"}``) lets a named optimizer be saved and rebuilt.
    """
    init: Callable[[Params], State]
    update: Callable[[Grads, State, Params], tuple[Updates, State]]
    spec: dict | None = None


def chain(*transforms: Transform, spec: dict | None = None) -> Transform:
    """Apply ``transforms`` in order, each to the previous one's output; state is a tuple."""
    def init(params):
        return tuple(t.init(params) for t in transforms)

    def update(grads, state, params):
        new_state = []
        for t, s in zip(transforms, state):
            grads, s = t.update(grads, s, params)
            new_state.append(s)
        return grads, tuple(new_state)

    return Transform(init, update, spec)


def apply_updates(params: Params, updates: Updates) -> None:
    """w <- w + u for every parameter, in place (so every view of the parameters sees it)."""
    for k, p in params.items():
        p += updates[k]


def ravel(arrays: Params) -> np.ndarray:
    """The arrays of a Params/Grads dict as one flat NumPy vector, in key order (full-batch
    solvers work on this vector; it is a host copy)."""
    parts = [to_numpy(a).reshape(-1) for a in arrays.values()]
    return np.concatenate(parts) if parts else np.zeros(0)


def assign_flat(params: Params, w: np.ndarray) -> None:
    """Write the flat vector ``w`` (as from :func:`ravel`) into ``params`` in place: how a
    full-batch solver's iterate reaches the model."""
    start = 0
    for p in params.values():
        size = math.prod(p.shape)
        xp = get_namespace(p)
        p[...] = xp.reshape(xp.asarray(w[start:start + size], dtype=p.dtype), p.shape)
        start += size
    if start != w.shape[0]:
        raise ValueError(f"assign_flat: got {w.shape[0]} values for {start} parameters")


# -- learning-rate access for callbacks (ReduceLROnPlateau) and logs -------------------------------

def _lr_states(state: State):
    if isinstance(state, dict) and "lr_multiplier" in state:
        yield state
    elif isinstance(state, (tuple, list)):
        for s in state:
            yield from _lr_states(s)


def current_learning_rate(state: State) -> float | None:
    """The learning rate of the last update (before any: of the first), or None."""
    for s in _lr_states(state):
        return s["learning_rate"]
    return None


def scale_learning_rate(state: State, factor: float) -> None:
    """Multiply the learning rate of every ``scale_by_learning_rate`` in ``state`` by ``factor``."""
    for s in _lr_states(state):
        s["lr_multiplier"] *= factor
        s["learning_rate"] *= factor
