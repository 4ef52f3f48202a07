"""Optional speed: the one door to the compiled optimizer step.

:func:`compiled_step` does ``updates, state = optimizer.update(grads, state, params);
apply_updates(params, updates)`` for a named optimizer on C-contiguous NumPy float32/float64
arrays, with the C extension ``mlplab._sweep`` built and enabled (``mlplab.set_compiled_kernels``),
as one compiled sweep over memory that reads and writes each entry once (Adam's step on a
2.9-million-parameter network: one pass instead of about twenty), writing the state's arrays in
place, which it keeps at staggered page offsets (see :func:`mlplab._buffers.empty_staggered`).
Anything else (other array libraries, user chains, arrays that are not contiguous) it leaves
alone and returns None: the caller then runs those two readable lines (:func:`update_and_apply`
is both in one call). Each rule of ``_sweep.c`` does its readable transform's IEEE operations in
the same order (built without FMA contraction), and the hyperparameters are checked through the
same built chain (``Transform.built``), so both paths give the same bits and the same errors and
the state has the same meaning: a checkpoint does not know which path ran, and a run may switch
paths at any update.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .._buffers import empty_staggered
from .._parallel import foreach
from .._settings import compiled_kernels_enabled, get_num_threads
from .base import EmptyState, InjectHyperparamsState, State, Transform, apply_updates
from .transforms import (
    FLUSH_EVERY,
    AdadeltaState,
    AdagradState,
    AdamState,
    RmsState,
    TraceState,
    flush_threshold,
)

try:
    from .._sweep import RULES
    from .._sweep import sweep as _compiled
except ImportError:  # built without a C compiler: the readable transforms only
    RULES, _compiled = {}, None

#: whether the compiled extension was built
AVAILABLE = _compiled is not None


class Plan(NamedTuple):
    """One compiled step: the rules of ``_sweep.c`` in chain order, their scalars, the state
    arrays of a parameter (in rule order), and the inner state after the step."""

    rules: tuple[str, ...]
    scalars: tuple[float, ...]
    arrays: Callable[[str], tuple]
    after: State


def _flush(t: int, dtype: Any) -> float:
    """The flush threshold of update ``t`` (0: no flush this update), as the transforms do."""
    return flush_threshold(np, dtype) if t % FLUSH_EVERY == 0 else 0.0


# -- the optimizers, by name: inner state (a chain's tuple) and hyperparameters -> a Plan ---------


def _sgd(hp, inner, dtype):
    return Plan(("scale",), (-hp["learning_rate"],), lambda k: (), inner)


def _trace(rule):
    def plan(hp, inner, dtype):
        _, s = inner
        t = s.t + 1
        return Plan(
            ("scale", rule),
            (-hp["learning_rate"], hp["mu"], _flush(t, dtype)),
            lambda k: (s.velocity[k],),
            (EmptyState(), TraceState(t, s.velocity)),
        )

    return plan


def _adagrad(hp, inner, dtype):
    s, _ = inner
    return Plan(
        ("adagrad", "scale"), (hp["eps"], -hp["learning_rate"]), lambda k: (s.sum_sq[k],), inner
    )


def _rmsprop(hp, inner, dtype):
    s, _ = inner
    t, rho = s.t + 1, hp["rho"]
    return Plan(
        ("rms", "scale"),
        (rho, 1 - rho, hp["eps"], _flush(t, dtype), -hp["learning_rate"]),
        lambda k: (s.mean_sq[k],),
        (RmsState(t, s.mean_sq), EmptyState()),
    )


def _adadelta(hp, inner, dtype):
    s, _ = inner
    t, rho = s.t + 1, hp["rho"]
    return Plan(
        ("adadelta", "scale"),
        (rho, 1 - rho, hp["eps"], _flush(t, dtype), -hp["learning_rate"]),
        lambda k: (s.mean_sq[k], s.mean_sq_delta[k]),
        (AdadeltaState(t, s.mean_sq, s.mean_sq_delta), EmptyState()),
    )


def _adam(hp, inner, dtype):
    s, _ = inner
    t, b1, b2 = s.t + 1, hp["b1"], hp["b2"]
    c1, c2 = 1 - b1**t, math.sqrt(1 - b2**t)  # as scale_by_adam computes them
    return Plan(
        ("adam", "scale"),
        (b1, 1 - b1, b2, 1 - b2, c2 / c1, hp["eps"] * c2, _flush(t, dtype), -hp["learning_rate"]),
        lambda k: (s.m[k], s.v[k]),
        (AdamState(t, s.m, s.v), EmptyState()),
    )


#: optimizer name -> (plan, the state types of its chain)
PLANS: dict[str, tuple[Callable, tuple[type, ...]]] = {
    "sgd": (_sgd, (EmptyState,)),
    "momentum": (_trace("momentum"), (EmptyState, TraceState)),
    "nesterov": (_trace("nesterov"), (EmptyState, TraceState)),
    "adagrad": (_adagrad, (AdagradState, EmptyState)),
    "rmsprop": (_rmsprop, (RmsState, EmptyState)),
    "adadelta": (_adadelta, (AdadeltaState, EmptyState)),
    "adam": (_adam, (AdamState, EmptyState)),
}


def update_and_apply(optimizer: Transform, grads: dict, state: State, params: dict) -> State:
    """``updates, state = optimizer.update(grads, state, params); apply_updates(params,
    updates)``, as one compiled sweep when it can be (same bits); returns the new state. The
    compiled step writes the state's arrays in place: the state given is used up."""
    new_state = compiled_step(optimizer, grads, state, params)
    if new_state is not None:
        return new_state
    updates, state = optimizer.update(grads, state, params)
    apply_updates(params, updates)
    return state


def compiled_step(optimizer: Transform, grads: dict, state: State, params: dict) -> State | None:
    """``optimizer.update`` and ``apply_updates`` in compiled code, returning the new state (the
    state given is used up: its arrays are written in place), or None, having changed nothing,
    when it cannot run. Hyperparameters are checked as the readable update checks them (the
    same ValueError)."""
    entry = PLANS.get((optimizer.spec or {}).get("name", ""))  # unnamed: no plan
    if (
        entry is None
        or _compiled is None
        or not compiled_kernels_enabled()
        or not grads
        or not isinstance(state, InjectHyperparamsState)
        or optimizer.scheduled is None
        or optimizer.built is None
    ):
        return None
    make_plan, kinds = entry
    inner = state.inner_state
    if len(inner) != len(kinds) or not all(type(s) is k for s, k in zip(inner, kinds)):
        return None
    dtype = _common_dtype(grads, params)
    if dtype is None:
        return None
    scheduled = optimizer.scheduled(state)  # as inject_hyperparams's update does
    hyperparams = {**state.hyperparams, **scheduled}
    optimizer.built(hyperparams)  # checks them (cached), as the readable update does
    plan = make_plan(hyperparams, _owned_arrays(inner), dtype)
    groups = []
    for k, g in grads.items():
        arrays = plan.arrays(k)
        if not all(
            type(a) is np.ndarray and a.dtype == dtype and a.shape == g.shape for a in arrays
        ):
            return None
        groups.append((g, params[k], *arrays))
    program = bytes(RULES[r][0] for r in plan.rules)
    if get_num_threads() > 1:  # the extension releases the GIL: chunks run side by side
        foreach(
            lambda *arrays: _compiled(program, plan.scalars, True, *arrays),
            [tuple(a.reshape(-1) for a in group) for group in groups],
        )
    else:
        for group in groups:
            _compiled(program, plan.scalars, True, *group)
    return state._replace(count=state.count + 1, scheduled=scheduled, inner_state=plan.after)


def _common_dtype(grads: dict, params: dict) -> Any:
    """float32 or float64 when every gradient and parameter is a C-contiguous NumPy array of it
    (the parameters writable), else None."""
    dtype = None
    for k, g in grads.items():
        p = params.get(k)
        if (
            type(g) is not np.ndarray
            or type(p) is not np.ndarray
            or g.dtype != p.dtype
            or g.shape != p.shape
            or not g.flags.c_contiguous
            or not p.flags.c_contiguous
            or not p.flags.writeable
            or (dtype is not None and g.dtype != dtype)
        ):
            return None
        dtype = g.dtype
    return dtype if dtype in (np.float32, np.float64) else None


# The state arrays the compiled step writes in place are its own: C-contiguous, writable and at
# staggered page offsets. Arrays from ``init``, from a readable update or from a checkpoint are
# copied into such buffers once, at their first compiled step.
_owned: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _owned_arrays(inner: tuple) -> tuple:
    """``inner`` (a chain's tuple of NamedTuple states) with every array its own."""
    return tuple(
        type(s)(*({k: _own(a) for k, a in f.items()} if isinstance(f, dict) else f for f in s))
        for s in inner
    )


def _own(a: Any) -> Any:
    if type(a) is not np.ndarray or _owned.get(id(a)) is a:
        return a
    buf = empty_staggered(np, a.shape, a.dtype)
    buf[...] = a
    _owned[id(buf)] = buf
    return buf
