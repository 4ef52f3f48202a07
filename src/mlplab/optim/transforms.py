"""Small composable gradient transformations; named optimizers chain them.

Each returns a :class:`~mlplab.optim.base.Transform`. Updates of the ``scale_by_*`` transforms
are *directions*; :func:`scale_by_learning_rate` multiplies by ``-eta`` last, except in momentum
methods where, as in the classic formulation ``v = mu v - eta g``, the rate is applied first.
Per the package rule, state arrays are updated in place and returned; received gradients are
never written. Elementwise transforms are an :class:`~mlplab.optim.base.Elementwise` kernel
(``chain`` fuses them into one sweep); the updates they return live in work buffers they reuse,
valid until the next ``update`` call, which is all ``apply_updates`` needs.
"""
from __future__ import annotations

import math
from typing import Any

from .._buffers import div_into, flush_tiny, mul_into, sqrt_into, zeros_staggered
from .._parallel import foreach
from ..backend import get_namespace
from ..errors import check_float
from .base import Transform, elementwise_transform
from .schedules import get_schedule


def _zeros_like(params):
    return {k: zeros_staggered(get_namespace(p), p.shape, p.dtype) for k, p in params.items()}


def _xp(grads):
    return get_namespace(next(iter(grads.values())))


def _decay_square(E, g, rho: float, work) -> None:
    """E <- rho E + (1 - rho) g^2 = rho (E - g^2) + g^2, in place, ``work`` a scratch array
    (the running mean square of RMSProp and AdaDelta)."""
    mul_into(work, g, g)
    E -= work
    E *= rho
    E += work


def _check_eps(owner: str, eps) -> float:
    """eps > 0: it keeps a zero gradient (or second moment) from giving 0 / 0 = NaN."""
    eps = check_float(owner, "eps", eps)
    if not eps > 0:
        raise ValueError(f"{owner}: eps must be > 0 (with eps=0 a zero gradient gives 0/0 = NaN), "
                         f"got {eps=}")
    return eps


#: decaying state is swept for would-be subnormals every this many steps (see flush_tiny; the
#: threshold leaves 24 halvings of headroom, so any decay rate >= 0.5 per step is covered)
FLUSH_EVERY = 16


def _flush_every(step: int, *states: dict) -> None:
    if step % FLUSH_EVERY == 0:
        foreach(flush_tiny, [(a,) for state in states for a in state.values()])


def scale_by_learning_rate(learning_rate: Any) -> Transform:
    """u = -eta_t * multiplier * g, with eta_t a number or a schedule of the update count t.

    The state holds what an epoch-unit schedule or one without a horizon needs
    (``steps_per_epoch`` and ``end_epoch``, 0 until :func:`~mlplab.optim.configure_schedules`).
    """
    schedule = get_schedule(learning_rate)

    def init(params):
        return {"step": 0, "lr_multiplier": 1.0, "learning_rate": schedule(0),
                "steps_per_epoch": 0, "end_epoch": 0}

    def prepare(state):
        per_epoch = state.get("steps_per_epoch", 0)
        lr = schedule.at_step(state["step"], per_epoch,
                              state.get("end_epoch", 0) * per_epoch) * state["lr_multiplier"]
        return {**state, "step": state["step"] + 1, "learning_rate": lr}, (-lr,)

    def kernel(g, u, scale):
        return mul_into(u, g, scale)

    return elementwise_transform(init, prepare, (), kernel, rule="scale")


def trace(decay: float, nesterov: bool = False) -> Transform:
    """Momentum: v = mu v + g; u = v, or u = g + mu v with ``nesterov=True``.

    Applied to ``-eta g`` this is the classic v = mu v - eta g (Polyak's heavy ball) and the
    Sutskever et al. (2013) Nesterov form used by PyTorch.
    """
    mu = check_float("trace", "decay", decay, low=0.0, high=1.0, high_inclusive=False)

    def init(params):
        return {"velocity": _zeros_like(params), "t": 0}

    def prepare(state):
        return {**state, "t": state["t"] + 1}, ()

    def kernel(g, u, v):
        v *= mu
        v += g
        if not nesterov:
            return v  # no copy: the next kernel (or the caller) reads the velocity itself
        if u is g:
            u += v * mu
            return u
        mul_into(u, v, mu)
        u += g
        return u

    return elementwise_transform(init, prepare, ("velocity",), kernel,
                                 lambda state: _flush_every(state["t"], state["velocity"]),
                                 rule="nesterov" if nesterov else "momentum",
                                 constants=(mu,))


def scale_by_adagrad(eps: float = 1e-7) -> Transform:
    """AdaGrad: G += g^2; u = g / (sqrt(G) + epsilon).

    References: Duchi, Hazan, Singer, "Adaptive Subgradient Methods" (JMLR 2011).
    """
    eps = _check_eps("adagrad", eps)

    def init(params):
        return {"sum_sq": _zeros_like(params)}

    def kernel(g, u, G):
        if u is g:  # g is needed after G: use temporaries
            G += g * g
            u /= get_namespace(G).sqrt(G) + eps
            return u
        G += mul_into(u, g, g)
        sqrt_into(u, G)
        u += eps
        return div_into(u, g, u)

    return elementwise_transform(init, lambda state: (state, ()), ("sum_sq",), kernel,
                                 rule="adagrad", constants=(eps,))


def scale_by_rms(rho: float = 0.9, eps: float = 1e-8) -> Transform:
    """RMSProp: E = rho E + (1 - rho) g^2; u = g / (sqrt(E) + epsilon).

    References: Tieleman & Hinton, Coursera lecture 6.5 (2012). PyTorch's default eps is 1e-8.
    """
    rho = check_float("rmsprop", "rho", rho, low=0.0, high=1.0, high_inclusive=False)
    eps = _check_eps("rmsprop", eps)

    def init(params):
        return {"mean_sq": _zeros_like(params), "t": 0}

    def kernel(g, u, E):
        if u is g:
            _decay_square(E, g, rho, g * g)
            u /= get_namespace(E).sqrt(E) + eps
            return u
        _decay_square(E, g, rho, u)
        sqrt_into(u, E)
        u += eps
        return div_into(u, g, u)

    def finish(state):
        _flush_every(state["t"], state["mean_sq"])

    return elementwise_transform(init, lambda state: ({**state, "t": state["t"] + 1}, ()),
                                 ("mean_sq",), kernel, finish, rule="rms",
                                 constants=(rho, eps))


def scale_by_adadelta(rho: float = 0.95, eps: float = 1e-6) -> Transform:
    """AdaDelta: E = rho E + (1-rho) g^2; d = sqrt(D + eps) / sqrt(E + eps) * g;
    D = rho D + (1-rho) d^2; u = d. No global learning rate is needed (chain it with 1.0).

    References: Zeiler, "ADADELTA: An Adaptive Learning Rate Method" (arXiv:1212.5701, 2012).
    """
    rho = check_float("adadelta", "rho", rho, low=0.0, high=1.0, high_inclusive=False)
    eps = _check_eps("adadelta", eps)

    def init(params):
        return {"mean_sq": _zeros_like(params), "mean_sq_delta": _zeros_like(params), "t": 0}

    def kernel(g, d, E, D):
        xp = get_namespace(E)
        work = g * g
        E -= work
        E *= rho
        E += work
        ratio = xp.sqrt(D + eps)
        ratio /= xp.sqrt(E + eps)
        mul_into(d, ratio, g)
        _decay_square(D, d, rho, work)
        return d

    return elementwise_transform(
        init, lambda state: ({**state, "t": state["t"] + 1}, ()), ("mean_sq", "mean_sq_delta"),
        kernel, lambda state: _flush_every(state["t"], state["mean_sq"], state["mean_sq_delta"]),
        rule="adadelta", constants=(rho, eps))


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Transform:
    """Adam: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; u = m_hat / (sqrt(v_hat) + epsilon)
    with m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t).

    The state keeps the undivided sums ``m_sum = m / (1 - b1)`` and ``v_sum = v / (1 - b2)``
    (m_sum = b1 m_sum + g: two passes instead of three; the constants fold into one scale).

    References: Kingma & Ba, "Adam: A Method for Stochastic Optimization" (ICLR 2015).
    """
    b1 = check_float("adam", "b1", b1, low=0.0, high=1.0, high_inclusive=False)
    b2 = check_float("adam", "b2", b2, low=0.0, high=1.0, high_inclusive=False)
    eps = _check_eps("adam", eps)

    def init(params):
        return {"m_sum": _zeros_like(params), "v_sum": _zeros_like(params), "t": 0}

    def prepare(state):
        t = state["t"] + 1
        # m_hat / (sqrt(v_hat) + eps) = a m_sum / (sqrt(v_sum) + e) with Python-float constants
        # (no float64 upcast): a = (1-b1)/c1 * c2/sqrt(1-b2), e = eps c2 / sqrt(1-b2)
        c1, c2, r2 = 1.0 - b1 ** t, math.sqrt(1.0 - b2 ** t), math.sqrt(1.0 - b2)
        return {**state, "t": t}, ((1.0 - b1) / c1 * c2 / r2, eps * c2 / r2)

    def kernel(g, u, m, v, a, e):
        m *= b1
        m += g
        v *= b2
        v += mul_into(u, g, g)  # u may be g: g is not needed after this
        sqrt_into(u, v)
        u += e
        div_into(u, m, u)
        u *= a
        return u

    def finish(state):
        _flush_every(state["t"], state["m_sum"], state["v_sum"])

    return elementwise_transform(init, prepare, ("m_sum", "v_sum"), kernel, finish,
                                 rule="adam", constants=(b1, b2))


def clip(max_abs: float) -> Transform:
    """Clip every gradient entry to [-c, c]."""
    c = check_float("clip", "max_abs", max_abs, low=0.0, low_inclusive=False)
    return elementwise_transform(lambda params: {}, lambda state: (state, ()), (),
                                 lambda g, u: get_namespace(g).clip(g, min=-c, max=c),
                                 rule="clip", constants=(c,))


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
