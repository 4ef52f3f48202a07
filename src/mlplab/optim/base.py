"""Optimizers as pure update rules over dicts of arrays (optax style), and the one place where
parameters change: :func:`apply_updates`, or :func:`update_and_apply`, which does the update
and ``w += u`` in one sweep (compiled when it can be, see :mod:`mlplab.optim.compiled`).

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

from .._buffers import Scratch
from .._parallel import foreach
from .._typing import Array, Grads, Params
from ..backend import get_namespace, to_numpy
from ..errors import check_positive_int
from .compiled import Element, check_rule, compiled_sweep

State = Any
Updates = dict[str, Array]


class Elementwise(NamedTuple):
    """How a transform's update runs as one elementwise kernel per parameter array, so that
    :func:`chain` can fuse a whole chain, and :func:`update_and_apply` the step ``w += u``, into a
    single sweep (each chunk of the arrays passes through every kernel while it is in cache).

    ``prepare(state) -> (state, args)`` advances the per-step scalars once per update;
    ``state_arrays(state, key)`` gives the state arrays of one parameter, in kernel order;
    ``kernel(g, u, *state_arrays, *args)`` returns the update for ``g`` (written into ``u``, or
    an array of its own such as the velocity), and must work when ``u`` is ``g``;
    ``finish(state)`` runs after the sweep (e.g. flushing tiny values); ``scratch`` holds ``u``.
    ``elements`` (optional) name the compiled twins of the kernel (see
    :mod:`mlplab.optim.compiled`), and ``part_args(args)`` splits the kernel's per-step
    arguments among them.
    """
    prepare: Callable[[Any], tuple[Any, tuple]]
    state_arrays: Callable[[Any, str], tuple]
    kernel: Callable[..., Array]
    finish: Callable[[Any], None] | None
    scratch: Scratch
    n_arrays: int  # how many state arrays ``state_arrays`` gives per parameter
    elements: tuple[Element, ...] | None = None
    part_args: Callable[[tuple], tuple[tuple, ...]] = lambda args: (args,)


class Transform(NamedTuple):
    """An update rule: ``init(params) -> state``, ``update(grads, state, params) -> (updates, state)``.

    ``spec`` (``{"name", "config"}``) lets a named optimizer be saved and rebuilt;
    ``elementwise`` (optional) lets it be fused with its neighbours and the step.
    """
    init: Callable[[Params], State]
    update: Callable[[Grads, State, Params], tuple[Updates, State]]
    spec: dict | None = None
    elementwise: Elementwise | None = None


def _from_elementwise(init: Callable, ew: Elementwise, spec: dict | None) -> Transform:
    return Transform(init, lambda grads, state, params: _sweep(ew, grads, state), spec, ew)


def elementwise_transform(init: Callable, prepare: Callable, arrays: tuple[str, ...],
                          kernel: Callable, finish: Callable | None = None,
                          spec: dict | None = None, rule: str | None = None,
                          constants: tuple = ()) -> Transform:
    """A Transform from an elementwise kernel over the state dicts named by ``arrays``;
    ``rule`` names the compiled twin of ``kernel`` (scalars: ``constants``, then the per-step
    arguments of ``prepare``; see :mod:`mlplab.optim.compiled`)."""
    elements = None
    if rule is not None:
        check_rule(rule, len(constants), len(arrays))
        elements = (Element(rule, tuple(constants), len(arrays)),)
    ew = Elementwise(prepare, lambda state, k: tuple(state[name][k] for name in arrays), kernel,
                     finish, Scratch(), len(arrays), elements)
    return _from_elementwise(init, ew, spec)


def _sweep(ew: Elementwise, grads: Grads, state: State, params: Params | None = None):
    """Run ``ew`` once over every parameter: (updates, state), or with ``params`` also
    w <- w + u in the same sweep (then the updates are not kept). Compiled when it can be."""
    state, args = ew.prepare(state)
    scratch = ew.scratch
    apply = params is not None
    out = params if apply else {k: scratch.like(k, g) for k, g in grads.items()}
    if compiled_sweep(ew.elements, ew.part_args, args, grads,
                      lambda k: ew.state_arrays(state, k), out, apply):
        pass  # done in one compiled loop
    elif apply:
        foreach(_to_params, [(g, scratch.like(k, g), params[k], *ew.state_arrays(state, k))
                             for k, g in grads.items()], ew.kernel, args)
    else:
        foreach(_to_updates, [(g, out[k], *ew.state_arrays(state, k)) for k, g in grads.items()],
                ew.kernel, args)
    if ew.finish is not None:
        ew.finish(state)
    return (None if apply else out), state


def _to_updates(g, u, *rest):
    *arrays, kernel, args = rest
    result = kernel(g, u, *arrays, *args)
    if result is not u:
        u[...] = result


def _to_params(g, u, w, *rest):
    *arrays, kernel, args = rest
    w += kernel(g, u, *arrays, *args)


def update_and_apply(transform: Transform, grads: Grads, state: State, params: Params) -> State:
    """``updates, state = transform.update(grads, state, params); apply_updates(params, updates)``
    in one sweep over the arrays when the transform is elementwise; returns the new state."""
    if transform.elementwise is None:
        updates, state = transform.update(grads, state, params)
        apply_updates(params, updates)
        return state
    return _sweep(transform.elementwise, grads, state, params)[1]


def chain(*transforms: Transform, spec: dict | None = None) -> Transform:
    """Apply ``transforms`` in order, each to the previous one's output; state is a tuple.

    When every transform is elementwise the chain is too, and its update is one fused sweep
    (the same arithmetic, in the same order, as running them one after another).
    """
    def init(params):
        return tuple(t.init(params) for t in transforms)

    parts = [t.elementwise for t in transforms]
    if transforms and all(p is not None for p in parts):
        return _from_elementwise(init, _fuse(parts), spec)

    def update(grads, state, params):
        new_state = []
        for t, s in zip(transforms, state):
            grads, s = t.update(grads, s, params)
            new_state.append(s)
        return grads, tuple(new_state)

    return Transform(init, update, spec)


def _fuse(parts: list[Elementwise]) -> Elementwise:
    """One Elementwise running ``parts`` in order on each chunk (state: a tuple, one per part)."""
    def prepare(state):
        prepared = [p.prepare(s) for p, s in zip(parts, state)]
        return tuple(s for s, _ in prepared), (tuple(args for _, args in prepared),)

    def state_arrays(state, k):
        return tuple(a for p, s in zip(parts, state) for a in p.state_arrays(s, k))

    def kernel(g, u, *rest):
        *arrays, per_part = rest
        start, src = 0, g
        for p, args in zip(parts, per_part):
            src = p.kernel(src, u, *arrays[start:start + p.n_arrays], *args)
            start += p.n_arrays
        return src

    def finish(state):
        for p, s in zip(parts, state):
            if p.finish is not None:
                p.finish(s)

    def part_args(args):
        return tuple(a for p, pa in zip(parts, args[0]) for a in p.part_args(pa))

    elements = None
    if all(p.elements for p in parts):
        elements = tuple(e for p in parts for e in p.elements)
    return Elementwise(prepare, state_arrays, kernel, finish, Scratch(),
                       sum(p.n_arrays for p in parts), elements, part_args)


def _add_kernel(p, u):
    p += u


def apply_updates(params: Params, updates: Updates) -> None:
    """w <- w + u for every parameter, in place (so every view of the parameters sees it)."""
    foreach(_add_kernel, [(p, updates[k]) for k, p in params.items()])


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


def configure_schedules(state: State, *, steps_per_epoch: int, epochs: int) -> State:
    """Tell every learning-rate schedule in an optimizer state how many updates make an epoch
    and the epoch at which this fit ends (``Trainer.fit`` calls it at every fit).

    Epoch-unit schedules need the first, schedules without a horizon (``CosineDecay`` without
    ``decay_steps``) both. The horizon is set once, by the first fit, and kept: a later fit
    continues the same schedule (past its end, at its final rate) instead of starting a new
    decay. Updates ``state`` in place and returns it.
    """
    steps_per_epoch = check_positive_int("configure_schedules", "steps_per_epoch", steps_per_epoch)
    epochs = check_positive_int("configure_schedules", "epochs", epochs, minimum=0)
    for s in _lr_states(state):
        s["steps_per_epoch"] = steps_per_epoch
        if not s["end_epoch"]:  # 0: not set yet
            s["end_epoch"] = epochs
    return state
