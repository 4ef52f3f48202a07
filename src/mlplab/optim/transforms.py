"""Small composable gradient transformations; named optimizers chain them.

Each returns a :class:`~mlplab.optim.base.Transform`. Updates of the ``scale_by_*`` transforms
are *directions*; :func:`scale_by_learning_rate` multiplies by ``-eta`` last, except in momentum
methods where, as in the classic formulation ``v = mu v - eta g``, the rate is applied first.
Per the package rule, state arrays are updated in place and returned; received gradients are
never written. For speed the updates a transform returns live in work buffers it reuses (see
:class:`~mlplab.backend.Scratch`): they are valid until its next ``update`` call, which is all
``apply_updates`` needs.
"""
from __future__ import annotations

import math
from typing import Any

from ..backend import Scratch, div_into, flush_tiny, get_namespace, mul_into, sqrt_into
from ..errors import check_float
from .base import Transform
from .schedules import get_schedule


def _zeros_like(params):
    return {k: get_namespace(p).zeros_like(p) for k, p in params.items()}


def _xp(grads):
    return get_namespace(next(iter(grads.values())))


def _decay_square(E, g, rho: float, work) -> None:
    """E <- rho E + (1 - rho) g^2 = rho (E - g^2) + g^2, in place, ``work`` a scratch array
    (the running mean square of RMSProp, AdaDelta and Adam's second moment)."""
    mul_into(work, g, g)
    E -= work
    E *= rho
    E += work


#: decaying state is swept for would-be subnormals every this many steps (see flush_tiny; the
#: threshold leaves 24 halvings of headroom, so any decay rate >= 0.5 per step is covered)
FLUSH_EVERY = 16


def _flush_every(step: int, *states: dict) -> None:
    if step % FLUSH_EVERY == 0:
        for state in states:
            for a in state.values():
                flush_tiny(a)


def _decay(m, g, rho: float) -> None:
    """m <- rho m + (1 - rho) g = rho (m - g) + g, in place, no temporary."""
    m -= g
    m *= rho
    m += g


def scale_by_learning_rate(learning_rate: Any) -> Transform:
    """u = -eta_t * multiplier * g, with eta_t a number or a schedule of the update count t."""
    schedule = get_schedule(learning_rate)

    scratch = Scratch()

    def init(params):
        return {"step": 0, "lr_multiplier": 1.0, "learning_rate": float(schedule(0))}

    def update(grads, state, params):
        lr = float(schedule(state["step"])) * state["lr_multiplier"]
        state = {**state, "step": state["step"] + 1, "learning_rate": lr}
        return {k: mul_into(scratch.like(k, g), g, -lr) for k, g in grads.items()}, state

    return Transform(init, update)


def trace(decay: float, nesterov: bool = False) -> Transform:
    """Momentum: v = mu v + g; u = v, or u = g + mu v with ``nesterov=True``.

    Applied to ``-eta g`` this is the classic v = mu v - eta g (Polyak's heavy ball) and the
    Sutskever et al. (2013) Nesterov form used by PyTorch.
    """
    mu = check_float("trace", "decay", decay, low=0.0, high=1.0, high_inclusive=False)

    def init(params):
        return {"velocity": _zeros_like(params), "t": 0}

    scratch = Scratch()

    def update(grads, state, params):
        v = state["velocity"]
        for k, g in grads.items():
            v[k] *= mu
            v[k] += g
        state = {**state, "t": state["t"] + 1}
        _flush_every(state["t"], v)
        if nesterov:
            out = {}
            for k, g in grads.items():
                out[k] = mul_into(scratch.like(k, g), v[k], mu)
                out[k] += g
            return out, state
        return dict(v), state

    return Transform(init, update)


def scale_by_adagrad(eps: float = 1e-7) -> Transform:
    """G = G + g^2; u = g / (sqrt(G) + epsilon).

    References: Duchi, Hazan, Singer, "Adaptive Subgradient Methods" (JMLR 2011).
    """
    eps = check_float("adagrad", "eps", eps, low=0.0)

    def init(params):
        return {"sum_sq": _zeros_like(params)}

    scratch = Scratch()

    def update(grads, state, params):
        G = state["sum_sq"]
        out = {}
        for k, g in grads.items():
            u = scratch.like(k, g)
            G[k] += mul_into(u, g, g)
            sqrt_into(u, G[k])
            u += eps
            out[k] = div_into(u, g, u)
        return out, state

    return Transform(init, update)


def scale_by_rms(rho: float = 0.9, eps: float = 1e-8) -> Transform:
    """E[g^2] = rho E[g^2] + (1 - rho) g^2; u = g / (sqrt(E[g^2]) + epsilon) (RMSProp).

    References: Tieleman & Hinton, Coursera lecture 6.5 (2012).
    """
    rho = check_float("rmsprop", "rho", rho, low=0.0, high=1.0, high_inclusive=False)
    eps = check_float("rmsprop", "eps", eps, low=0.0)

    def init(params):
        return {"mean_sq": _zeros_like(params), "t": 0}

    scratch = Scratch()

    def update(grads, state, params):
        E = state["mean_sq"]
        out = {}
        for k, g in grads.items():
            u = scratch.like(k, g)
            _decay_square(E[k], g, rho, u)
            sqrt_into(u, E[k])
            u += eps
            out[k] = div_into(u, g, u)
        state = {**state, "t": state["t"] + 1}
        if eps > 0:  # with eps = 0 a flushed E would divide by zero
            _flush_every(state["t"], E)
        return out, state

    return Transform(init, update)


def scale_by_adadelta(rho: float = 0.95, eps: float = 1e-6) -> Transform:
    """E[g^2] = rho E[g^2] + (1-rho) g^2; dx = -sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) g;
    E[dx^2] = rho E[dx^2] + (1-rho) dx^2. Returns -dx (the learning rate, 1 by default, negates).

    References: Zeiler, "ADADELTA: An Adaptive Learning Rate Method" (2012).
    """
    rho = check_float("adadelta", "rho", rho, low=0.0, high=1.0, high_inclusive=False)
    eps = check_float("adadelta", "eps", eps, low=0.0, low_inclusive=False)

    def init(params):
        return {"mean_sq": _zeros_like(params), "mean_sq_delta": _zeros_like(params), "t": 0}

    scratch = Scratch()

    def update(grads, state, params):
        xp, E, D = _xp(grads), state["mean_sq"], state["mean_sq_delta"]
        out = {}
        for k, g in grads.items():
            _decay_square(E[k], g, rho, scratch.like(k, g))
            d = xp.sqrt(D[k] + eps) / xp.sqrt(E[k] + eps) * g
            _decay_square(D[k], d, rho, scratch.like(k, g))
            out[k] = d
        state = {**state, "t": state["t"] + 1}
        _flush_every(state["t"], E, D)
        return out, state

    return Transform(init, update)


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Transform:
    """m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; u = m_hat / (sqrt(v_hat) + epsilon) with the
    bias corrections m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t).

    References: Kingma & Ba, "Adam: A Method for Stochastic Optimization" (ICLR 2015).
    """
    b1 = check_float("adam", "b1", b1, low=0.0, high=1.0, high_inclusive=False)
    b2 = check_float("adam", "b2", b2, low=0.0, high=1.0, high_inclusive=False)
    eps = check_float("adam", "eps", eps, low=0.0)

    def init(params):
        return {"m": _zeros_like(params), "v": _zeros_like(params), "t": 0}

    scratch = Scratch()

    def update(grads, state, params):
        m, v = state["m"], state["v"]
        t = state["t"] + 1
        c1, c2 = 1.0 - b1 ** t, math.sqrt(1.0 - b2 ** t)  # Python floats: no float64 upcast
        out = {}
        for k, g in grads.items():
            u = scratch.like(k, g)
            _decay(m[k], g, b1)
            _decay_square(v[k], g, b2, u)
            # m_hat / (sqrt(v_hat) + eps) = (c2 / c1) m / (sqrt(v) + c2 eps): four passes
            sqrt_into(u, v[k])
            u += c2 * eps
            div_into(u, m[k], u)
            u *= c2 / c1
            out[k] = u
        _flush_every(t, m, *([v] if eps > 0 else []))  # eps = 0: a flushed v would divide by 0
        return out, {**state, "t": t}

    return Transform(init, update)


def clip(max_abs: float) -> Transform:
    """Clip every gradient entry to [-c, c]."""
    c = check_float("clip", "max_abs", max_abs, low=0.0, low_inclusive=False)
    return Transform(lambda params: {},
                     lambda grads, state, params: (
                         {k: _xp(grads).clip(g, min=-c, max=c) for k, g in grads.items()}, state))


def clip_by_global_norm(max_norm: float) -> Transform:
    """g <- g * min(1, c / ||g||) with ||g|| the norm of all gradients together.

    References: Pascanu, Mikolov, Bengio, "On the difficulty of training recurrent neural
    networks" (ICML 2013).
    """
    c = check_float("clip_by_global_norm", "max_norm", max_norm, low=0.0, low_inclusive=False)

    def update(grads, state, params):
        xp = _xp(grads)
        norm = math.sqrt(sum(float(xp.sum(g * g)) for g in grads.values()))
        if norm <= c:
            return grads, state
        return {k: g * (c / norm) for k, g in grads.items()}, state

    return Transform(lambda params: {}, update)
