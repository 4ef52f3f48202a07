"""Small composable gradient transformations; named optimizers chain them.

Each returns a :class:`~mlplab.optim.base.Transform`. Updates of the ``scale_by_*`` transforms
are *directions*; :func:`scale_by_learning_rate` multiplies by ``-eta`` last, except in momentum
methods where, as in the classic formulation ``v = mu v - eta g``, the rate is applied first.
Per the package rule, state arrays are updated in place and returned; received gradients are
never written.
"""
from __future__ import annotations

import math
from typing import Any

from ..backend import get_namespace
from ..errors import check_float
from .base import Transform
from .schedules import get_schedule


def _zeros_like(params):
    return {k: get_namespace(p).zeros_like(p) for k, p in params.items()}


def _xp(grads):
    return get_namespace(next(iter(grads.values())))


def _decay_square(E, g, rho: float) -> None:
    """E <- rho E + (1 - rho) g^2, in place (the running mean square of RMSProp and AdaDelta)."""
    E *= rho
    E += (1.0 - rho) * (g * g)


def scale_by_learning_rate(learning_rate: Any) -> Transform:
    """u = -eta_t * multiplier * g, with eta_t a number or a schedule of the update count t."""
    schedule = get_schedule(learning_rate)

    def init(params):
        return {"step": 0, "lr_multiplier": 1.0, "learning_rate": float(schedule(0))}

    def update(grads, state, params):
        lr = float(schedule(state["step"])) * state["lr_multiplier"]
        state = {**state, "step": state["step"] + 1, "learning_rate": lr}
        return {k: g * (-lr) for k, g in grads.items()}, state

    return Transform(init, update)


def trace(decay: float, nesterov: bool = False) -> Transform:
    """Momentum: v = mu v + g; u = v, or u = g + mu v with ``nesterov=True``.

    Applied to ``-eta g`` this is the classic v = mu v - eta g (Polyak's heavy ball) and the
    Sutskever et al. (2013) Nesterov form used by PyTorch.
    """
    mu = check_float("trace", "decay", decay, low=0.0, high=1.0, high_inclusive=False)

    def init(params):
        return {"velocity": _zeros_like(params)}

    def update(grads, state, params):
        v = state["velocity"]
        for k, g in grads.items():
            v[k] *= mu
            v[k] += g
        if nesterov:
            return {k: g + mu * v[k] for k, g in grads.items()}, state
        return dict(v), state

    return Transform(init, update)


def scale_by_adagrad(eps: float = 1e-7) -> Transform:
    """G = G + g^2; u = g / (sqrt(G) + epsilon).

    References: Duchi, Hazan, Singer, "Adaptive Subgradient Methods" (JMLR 2011).
    """
    eps = check_float("adagrad", "eps", eps, low=0.0)

    def init(params):
        return {"sum_sq": _zeros_like(params)}

    def update(grads, state, params):
        xp, G = _xp(grads), state["sum_sq"]
        out = {}
        for k, g in grads.items():
            G[k] += g * g
            out[k] = g / (xp.sqrt(G[k]) + eps)
        return out, state

    return Transform(init, update)


def scale_by_rms(rho: float = 0.9, eps: float = 1e-8) -> Transform:
    """E[g^2] = rho E[g^2] + (1 - rho) g^2; u = g / (sqrt(E[g^2]) + epsilon) (RMSProp).

    References: Tieleman & Hinton, Coursera lecture 6.5 (2012).
    """
    rho = check_float("rmsprop", "rho", rho, low=0.0, high=1.0, high_inclusive=False)
    eps = check_float("rmsprop", "eps", eps, low=0.0)

    def init(params):
        return {"mean_sq": _zeros_like(params)}

    def update(grads, state, params):
        xp, E = _xp(grads), state["mean_sq"]
        out = {}
        for k, g in grads.items():
            _decay_square(E[k], g, rho)
            out[k] = g / (xp.sqrt(E[k]) + eps)
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
        return {"mean_sq": _zeros_like(params), "mean_sq_delta": _zeros_like(params)}

    def update(grads, state, params):
        xp, E, D = _xp(grads), state["mean_sq"], state["mean_sq_delta"]
        out = {}
        for k, g in grads.items():
            _decay_square(E[k], g, rho)
            d = xp.sqrt(D[k] + eps) / xp.sqrt(E[k] + eps) * g
            _decay_square(D[k], d, rho)
            out[k] = d
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

    def update(grads, state, params):
        xp, m, v = _xp(grads), state["m"], state["v"]
        t = state["t"] + 1
        c1, c2 = 1.0 - b1 ** t, math.sqrt(1.0 - b2 ** t)  # Python floats: no float64 upcast
        out = {}
        for k, g in grads.items():
            m[k] *= b1
            m[k] += (1.0 - b1) * g
            v[k] *= b2
            v[k] += (1.0 - b2) * (g * g)
            out[k] = (m[k] * (1.0 / c1)) / (xp.sqrt(v[k]) * (1.0 / c2) + eps)
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
