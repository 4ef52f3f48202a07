"""Optimizers as pure update rules over dicts of arrays (optax style), and the one place where
parameters change: :func:`apply_updates`.

A :class:`Transform` is ``init(params) -> state`` and ``update(grads, state, params) ->
(updates, state)``; named optimizers are :func:`chain` s of transforms whose hyperparameters
are injected (:func:`inject_hyperparams`), and the trainer applies ``params += updates``. The
state is a NamedTuple returned by ``update``, never kept on the transform, so it can be saved,
restored and inspected. ``update`` is pure: it returns new arrays and never writes the
``grads``, ``state`` or ``params`` it receives. (Speed lives elsewhere: :mod:`mlplab.optim.fast`
does the same arithmetic in one compiled sweep that writes in place.)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from .._typing import Array, Grads, Params
from ..backend import get_namespace, to_numpy
from ..errors import check_positive_int
from .schedules import Schedule, get_schedule

State = Any
Updates = dict[str, Array]


class Transform(NamedTuple):
    """An update rule: ``init(params) -> state`` and
    ``update(grads, state, params) -> (updates, state)``.

    ``spec`` (``{"name", "config"}``) lets a named optimizer be saved and rebuilt. With
    :func:`inject_hyperparams`, ``scheduled`` gives the values its schedules set for the next
    update of a state, and ``built`` the inner transform for given hyperparameter values,
    checked (a ValueError for a bad one) and cached: the readable ``update`` and the compiled
    step (:mod:`mlplab.optim.fast`) both go through it, so both refuse the same values.
    """

    init: Callable[[Params], State]
    update: Callable[[Grads, State, Params | None], tuple[Updates, State]]
    spec: dict | None = None
    scheduled: Callable[[State], dict[str, float]] | None = None
    built: Callable[[dict[str, float]], Transform] | None = None


class EmptyState(NamedTuple):
    """The state of a transform that keeps none (clipping, a constant scale)."""


def chain(*transforms: Transform, spec: dict | None = None) -> Transform:
    """Apply ``transforms`` in order, each to the previous one's output; the state is a tuple
    with one entry per transform."""

    def init(params):
        return tuple(t.init(params) for t in transforms)

    def update(grads, state, params=None):
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


# -- hyperparameters in the state (optax's inject_hyperparams) -----------------------------------


class InjectHyperparamsState(NamedTuple):
    """The state of an optimizer built by :func:`inject_hyperparams`.

    ``hyperparams`` are the numbers the next update uses; a callback may change them
    (:func:`set_hyperparams`: ``ReduceLROnPlateau`` sets ``learning_rate``). ``scheduled`` are
    the values the schedules gave the last update (before any: the first); they are the
    schedules', not a callback's. ``count`` updates were made; ``steps_per_epoch`` and
    ``end_epoch`` are what epoch-unit schedules and those without a horizon need (0 until
    :func:`configure_schedules`).
    """

    # optax's name for the update count (and a checkpoint key); it shadows tuple.count, which
    # nothing calls on this state
    count: int  # type: ignore[assignment]
    hyperparams: dict[str, float]
    scheduled: dict[str, float]
    inner_state: State
    steps_per_epoch: int = 0
    end_epoch: int = 0


def inject_hyperparams(
    make: Callable[..., Transform], *, spec: dict | None = None
) -> Callable[..., Transform]:
    """``inject_hyperparams(adam_chain)(learning_rate=0.01, b1=0.9, ...)``: the transform
    ``make(**hyperparams)`` with its hyperparameters kept in the state, where a callback may
    change them, and any given as a :class:`~mlplab.optim.Schedule` (or a schedule spec)
    evaluated at every update.

    Each update rebuilds ``make`` with the current values, as optax does (only when they
    changed), which checks them; the first ones are checked here, by building it once.
    """

    def build(**given: Any) -> Transform:
        schedules = {k: get_schedule(v) for k, v in given.items() if _is_schedule(v)}
        numbers_ = {
            k: float(v) if isinstance(v, numbers.Real) and not isinstance(v, bool) else v
            for k, v in given.items()
            if k not in schedules
        }
        built = _last_built(make)
        built({**numbers_, **{k: s(0) for k, s in schedules.items()}})  # check the values now

        def scheduled_at(state: InjectHyperparamsState) -> dict[str, float]:
            per_epoch = state.steps_per_epoch
            return {
                k: s.at_step(state.count, per_epoch, state.end_epoch * per_epoch)
                for k, s in schedules.items()
            }

        def init(params):
            scheduled = {k: s(0) for k, s in schedules.items()}
            inner = built({**numbers_, **scheduled})
            return InjectHyperparamsState(0, dict(numbers_), scheduled, inner.init(params))

        def update(grads, state, params=None):
            scheduled = scheduled_at(state)
            inner = built({**state.hyperparams, **scheduled})
            updates, inner_state = inner.update(grads, state.inner_state, params)
            return updates, state._replace(
                count=state.count + 1, scheduled=scheduled, inner_state=inner_state
            )

        return Transform(init, update, spec, scheduled_at, built)

    return build


def _is_schedule(value: Any) -> bool:
    return isinstance(value, (Schedule, str, Mapping))


def _last_built(make: Callable[..., Transform]) -> Callable[[dict], Transform]:
    """``make(**values)``, rebuilt only when the values change (they change rarely: a schedule
    step, a callback), so an update costs no construction."""
    last: list = [None, None]

    def built(values: dict) -> Transform:
        if values != last[0]:
            last[:] = [dict(values), make(**values)]
        return last[1]

    return built


def current_hyperparams(state: State) -> dict[str, float]:
    """The hyperparameters of the last update (before any: of the first), by name; empty for a
    state without injected hyperparameters."""
    if isinstance(state, InjectHyperparamsState):
        return {**state.hyperparams, **state.scheduled}
    return {}


def current_learning_rate(state: State) -> float | None:
    """The learning rate of the last update (before any: of the first), or None."""
    return current_hyperparams(state).get("learning_rate")


def set_hyperparams(state: State, owner: str = "set_hyperparams", **values: float) -> State:
    """A copy of ``state`` whose next update uses ``values`` (e.g. ``learning_rate=0.01``).

    Raises a ValueError naming ``owner`` for a hyperparameter the state does not have, or one
    that follows a schedule (the schedule sets it at every update).
    """
    hyperparams = state.hyperparams if isinstance(state, InjectHyperparamsState) else {}
    for name in values:
        if name not in hyperparams:
            if name in current_hyperparams(state):
                raise ValueError(
                    f"{owner}: {name} follows a schedule, which sets it at every "
                    "update; give a constant rate to change it from a callback"
                )
            raise ValueError(
                f"{owner}: the optimizer has no injected {name} (its "
                f"hyperparameters: {sorted(hyperparams)}); build it with "
                "mlplab.optim.inject_hyperparams, as the named optimizers are"
            )
    return state._replace(hyperparams={**hyperparams, **values})


def configure_schedules(state: State, *, steps_per_epoch: int, epochs: int) -> State:
    """Tell the learning-rate schedules of an optimizer state how many updates make an epoch
    and the epoch at which this fit ends (``Trainer.fit`` calls it at every fit); returns the
    new state.

    Epoch-unit schedules need the first, schedules without a horizon (``CosineDecay`` without
    ``decay_steps``) both. The horizon is set once, by the first fit, and kept: a later fit
    continues the same schedule (past its end, at its final rate) instead of starting a new
    decay.
    """
    steps_per_epoch = check_positive_int("configure_schedules", "steps_per_epoch", steps_per_epoch)
    epochs = check_positive_int("configure_schedules", "epochs", epochs, minimum=0)
    if not isinstance(state, InjectHyperparamsState):
        return state  # nothing scheduled
    return state._replace(
        steps_per_epoch=steps_per_epoch, end_epoch=state.end_epoch or epochs
    )  # 0: not set yet


# -- flat vectors for the full-batch solvers ----------------------------------------------------


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
        p[...] = xp.reshape(xp.asarray(w[start : start + size], dtype=p.dtype), p.shape)
        start += size
    if start != w.shape[0]:
        raise ValueError(f"assign_flat: got {w.shape[0]} values for {start} parameters")
