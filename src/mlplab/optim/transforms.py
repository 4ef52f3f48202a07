"""Small composable gradient transformations, each its textbook rule; named optimizers chain them.

Each returns a :class:`~mlplab.optim.base.Transform` whose ``update`` is pure array-API code:
it returns new arrays and a new state (a NamedTuple) and never writes what it is given. Updates
of the ``scale_by_*`` transforms are *directions*; :func:`scale_by_learning_rate` multiplies by
``-eta`` last, except in momentum methods where, as in the classic formulation
``v = mu v - eta g``, the rate is applied first. Scalars are Python floats, so float32 arrays
stay float32 (``(1 - b1) * g`` is float32 under NumPy 2).

These transforms are the reference: :mod:`mlplab.optim.fast` runs the same IEEE operations in
the same order in compiled code, and the tests check both against each other and against
``torch.optim``.

Subnormals: state that decays geometrically (momentum's velocity, the running averages of
RMSProp, AdaDelta and Adam for a unit whose gradient stays 0) would pass through the subnormal
range, where x86 arithmetic is ~100 times slower. Every :data:`FLUSH_EVERY` updates those
transforms set state entries below ``tiny * 2^24`` in magnitude to 0 (:func:`flush_tiny`;
float32: below 2e-31, which changes no update). It is part of the rule, so both paths do it.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from .._typing import Array, Params
from ..backend import copy, get_namespace
from ..errors import check_float
from .base import EmptyState, Transform

#: decaying state is flushed of would-be subnormals every this many updates (the threshold
#: leaves 24 halvings of headroom, so any decay rate >= 0.5 per update is covered)
FLUSH_EVERY = 16


def flush_threshold(xp: Any, dtype: Any) -> float:
    """The magnitude below which :func:`flush_tiny` sets state to 0: tiny * 2^24 of ``dtype``."""
    return float(xp.finfo(dtype).smallest_normal) * 2.0**24


def flush_tiny(a: Array) -> Array:
    """``a`` with entries below ``tiny * 2^24`` in magnitude set to 0 (NaN stays NaN)."""
    xp = get_namespace(a)
    return xp.where(xp.abs(a) < flush_threshold(xp, a.dtype), xp.zeros_like(a), a)


def _flushed(t: int, state: Params) -> Params:
    """``state`` flushed of would-be subnormals on every :data:`FLUSH_EVERY` th update."""
    if t % FLUSH_EVERY:
        return state
    return {k: flush_tiny(a) for k, a in state.items()}


def _zeros_like(params: Params) -> Params:
    return {k: get_namespace(p).zeros_like(p) for k, p in params.items()}


def _sqrt(x: Array) -> Array:
    return get_namespace(x).sqrt(x)


def _check_eps(owner: str, eps: Any) -> float:
    """eps > 0: it keeps a zero gradient (or second moment) from giving 0 / 0 = NaN."""
    eps = check_float(owner, "eps", eps)
    if not eps > 0:
        raise ValueError(
            f"{owner}: eps must be > 0 (with eps=0 a zero gradient gives 0/0 = NaN), got {eps=}"
        )
    return eps


def _decay(owner: str, name: str, value: Any) -> float:
    return check_float(owner, name, value, low=0.0, high=1.0, high_inclusive=False)


def scale_by_learning_rate(learning_rate: float) -> Transform:
    """u = -eta g. (A schedule, or a rate a callback changes: :func:`inject_hyperparams`.)"""
    eta = check_float("scale_by_learning_rate", "learning_rate", learning_rate, low=0.0)

    def update(grads, state, params=None):
        return {k: -eta * g for k, g in grads.items()}, state

    return Transform(lambda params: EmptyState(), update)


class TraceState(NamedTuple):
    t: int  # updates so far
    velocity: Params  # v, same keys as the parameters


def trace(decay: float, nesterov: bool = False) -> Transform:
    """Momentum: v = mu v + g; u = v, or u = g + mu v with ``nesterov=True``.

    Applied to ``-eta g`` this is the classic v = mu v - eta g (Polyak's heavy ball) and the
    Sutskever et al. (2013) Nesterov form used by PyTorch.
    """
    mu = _decay("trace", "decay", decay)

    def init(params):
        return TraceState(0, _zeros_like(params))

    def update(grads, state, params=None):
        v = {k: mu * state.velocity[k] + g for k, g in grads.items()}
        if nesterov:
            u = {k: g + mu * v[k] for k, g in grads.items()}
        else:  # u = v, a copy: the caller may scale its updates in place, the state stays
            u = {k: copy(get_namespace(a), a) for k, a in v.items()}
        t = state.t + 1
        return u, TraceState(t, _flushed(t, v))

    return Transform(init, update)


class AdagradState(NamedTuple):
    sum_sq: Params  # G, the running sum of g^2


def scale_by_adagrad(eps: float = 1e-7) -> Transform:
    """AdaGrad: G = G + g^2; u = g / (sqrt(G) + eps).

    References: Duchi, Hazan, Singer, "Adaptive Subgradient Methods" (JMLR 2011).
    """
    eps = _check_eps("adagrad", eps)

    def init(params):
        return AdagradState(_zeros_like(params))

    def update(grads, state, params=None):
        G = {k: state.sum_sq[k] + g * g for k, g in grads.items()}
        u = {k: g / (_sqrt(G[k]) + eps) for k, g in grads.items()}
        return u, AdagradState(G)

    return Transform(init, update)


class RmsState(NamedTuple):
    t: int
    mean_sq: Params  # E[g^2], the running average of g^2


def scale_by_rms(rho: float = 0.9, eps: float = 1e-8) -> Transform:
    """RMSProp: E = rho E + (1 - rho) g^2; u = g / (sqrt(E) + eps).

    References: Tieleman & Hinton, Coursera lecture 6.5 (2012). PyTorch's default eps is 1e-8.
    """
    rho = _decay("rmsprop", "rho", rho)
    eps = _check_eps("rmsprop", eps)

    def init(params):
        return RmsState(0, _zeros_like(params))

    def update(grads, state, params=None):
        E = {k: rho * state.mean_sq[k] + (1 - rho) * g * g for k, g in grads.items()}
        u = {k: g / (_sqrt(E[k]) + eps) for k, g in grads.items()}
        t = state.t + 1
        return u, RmsState(t, _flushed(t, E))

    return Transform(init, update)


class AdadeltaState(NamedTuple):
    t: int
    mean_sq: Params  # E[g^2]
    mean_sq_delta: Params  # E[d^2], the running average of the squared steps


def scale_by_adadelta(rho: float = 0.95, eps: float = 1e-6) -> Transform:
    """AdaDelta: E = rho E + (1 - rho) g^2; d = sqrt(D + eps) / sqrt(E + eps) g;
    D = rho D + (1 - rho) d^2; u = d. No global learning rate is needed (chain it with 1.0).

    References: Zeiler, "ADADELTA: An Adaptive Learning Rate Method" (arXiv:1212.5701, 2012).
    """
    rho = _decay("adadelta", "rho", rho)
    eps = _check_eps("adadelta", eps)

    def init(params):
        return AdadeltaState(0, _zeros_like(params), _zeros_like(params))

    def update(grads, state, params=None):
        E = {k: rho * state.mean_sq[k] + (1 - rho) * g * g for k, g in grads.items()}
        d = {
            k: _sqrt(state.mean_sq_delta[k] + eps) / _sqrt(E[k] + eps) * g for k, g in grads.items()
        }
        D = {k: rho * state.mean_sq_delta[k] + (1 - rho) * d[k] * d[k] for k in grads}
        t = state.t + 1
        return d, AdadeltaState(t, _flushed(t, E), _flushed(t, D))

    return Transform(init, update)


class AdamState(NamedTuple):
    t: int  # updates so far
    m: Params  # first moment, same keys as the parameters
    v: Params  # second moment


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Transform:
    """Adam: m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; u = m_hat / (sqrt(v_hat) + eps)
    with the bias corrections m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t).

    The last line is computed in the paper's own efficient order (end of its Section 2):
    u = a_t m / (sqrt(v) + eps_t) with a_t = sqrt(1 - b2^t) / (1 - b1^t) and
    eps_t = eps sqrt(1 - b2^t), the same quantity with one division per entry instead of three.

    References: Kingma & Ba, "Adam: A Method for Stochastic Optimization" (ICLR 2015).
    """
    b1 = _decay("adam", "b1", b1)
    b2 = _decay("adam", "b2", b2)
    eps = _check_eps("adam", eps)

    def init(params):
        return AdamState(0, _zeros_like(params), _zeros_like(params))

    def update(grads, state, params=None):
        t = state.t + 1
        m = {k: b1 * state.m[k] + (1 - b1) * g for k, g in grads.items()}
        v = {k: b2 * state.v[k] + (1 - b2) * g * g for k, g in grads.items()}
        c1, c2 = 1 - b1**t, math.sqrt(1 - b2**t)  # bias corrections (Python floats)
        a_t, eps_t = c2 / c1, eps * c2  # m_hat / (sqrt(v_hat) + eps) = a_t m / (sqrt(v) + eps_t)
        u = {k: a_t * m[k] / (_sqrt(v[k]) + eps_t) for k in grads}
        return u, AdamState(t, _flushed(t, m), _flushed(t, v))

    return Transform(init, update)


def clip(max_abs: float) -> Transform:
    """Clip every gradient entry to [-c, c]."""
    c = check_float("clip", "max_abs", max_abs, low=0.0, low_inclusive=False)

    def update(grads, state, params=None):
        return {k: get_namespace(g).clip(g, min=-c, max=c) for k, g in grads.items()}, state

    return Transform(lambda params: EmptyState(), update)


def clip_by_global_norm(max_norm: float) -> Transform:
    """g <- g * min(1, c / ||g||) with ||g|| the norm of all gradients together.

    References: Pascanu, Mikolov, Bengio, "On the difficulty of training recurrent neural
    networks" (ICML 2013).
    """
    c = check_float("clip_by_global_norm", "max_norm", max_norm, low=0.0, low_inclusive=False)

    def update(grads, state, params=None):
        norm = math.sqrt(sum(float(get_namespace(g).sum(g * g)) for g in grads.values()))
        if norm <= c:
            return grads, state
        return {k: g * (c / norm) for k, g in grads.items()}, state

    return Transform(lambda params: EmptyState(), update)
