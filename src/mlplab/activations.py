"""Activation functions as pure math on arrays, with their derivatives, and one registry.

Each activation is a pair ``forward(z, **hp) -> a`` and ``backward(dout, z, a, **hp) -> dz``
(``dz = dout * f'(z)``, written with whichever of ``z`` or ``a`` is cheaper). The layers in
:mod:`mlplab.layers.activation` wrap them; the losses reuse the stable ``sigmoid``,
``softplus`` and ``log_softmax``. Array-API code only: no boolean-mask assignment, no ``out=``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from ._registry import Registry, split_spec
from ._typing import Array
from .backend import get_namespace


class ActivationFunction(NamedTuple):
    """An activation's math: ``forward(z, **hp)`` and ``backward(dout, z, a, **hp)``."""

    name: str
    forward: Callable[..., Array]
    backward: Callable[..., Array]
    defaults: dict[str, Any]


ACTIVATIONS: Registry[ActivationFunction] = Registry("activation")


def _register(name: str, forward, backward, aliases: tuple[str, ...] = (), **defaults):
    ACTIVATIONS.register(
        name, ActivationFunction(name, forward, backward, defaults), aliases=aliases
    )


# --- stable building blocks, shared with the losses -------------------------------------------


def sigmoid(z: Array) -> Array:
    """sigma(z) = 1 / (1 + exp(-z)), computed from e = exp(-|z|) so it never overflows:
    1 / (1 + e) for z >= 0 and e / (1 + e) below, the numerator picked as max(e, [z >= 0])
    (where() branches on each sign and runs ~10x slower on real data; the bits are the same)."""
    xp = get_namespace(z)
    e = xp.exp(-xp.abs(z))
    return xp.maximum(e, xp.astype(z >= 0, z.dtype)) / (1.0 + e)


def softplus(z: Array) -> Array:
    """log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)), stable for large |z|."""
    xp = get_namespace(z)
    return xp.maximum(z, 0.0) + xp.log1p(xp.exp(-xp.abs(z)))


def log_softmax(z: Array) -> Array:
    """log softmax(z) row-wise: z - max - log(sum(exp(z - max))) (the log-sum-exp trick)."""
    xp = get_namespace(z)
    shifted = z - xp.max(z, axis=1, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))


def softmax(z: Array) -> Array:
    """softmax(z)_k = exp(z_k - max_j z_j) / sum_i exp(z_i - max_j z_j), row-wise."""
    xp = get_namespace(z)
    e = xp.exp(z - xp.max(z, axis=1, keepdims=True))
    return e / xp.sum(e, axis=1, keepdims=True)


# --- the activations ----------------------------------------------------------------------------

_register("identity", lambda z: z, lambda dout, z, a: dout, aliases=("linear",))

_register("sigmoid", sigmoid, lambda dout, z, a: dout * (a * (1.0 - a)), aliases=("logistic",))


def _tanh(z):
    return get_namespace(z).tanh(z)


_register("tanh", _tanh, lambda dout, z, a: dout * (1.0 - a * a))


def _relu(z):
    return get_namespace(z).maximum(z, 0.0)


def _relu_backward(dout, z, a):
    # a multiply by the 0/1 mask, not where(z > 0, dout, 0): where branches on each sign and
    # runs ~7x slower on real (unpredictable) activations
    xp = get_namespace(dout)
    return dout * xp.astype(z > 0, dout.dtype)


_register("relu", _relu, _relu_backward)


def _leaky_slope(z, alpha):
    """1 where z > 0, else alpha, as a float array (a multiply, not where(): see _relu_backward)."""
    xp = get_namespace(z)
    slope = xp.astype(z > 0, z.dtype)
    slope *= 1.0 - alpha if isinstance(alpha, float) else xp.astype(1.0 - alpha, z.dtype)
    slope += alpha
    return slope


def _leaky_relu(z, alpha=0.01):
    """a = z if z > 0 else alpha * z (alpha may be an array: PReLU's learned slopes)."""
    return z * _leaky_slope(z, alpha)


def _leaky_relu_backward(dout, z, a, alpha=0.01):
    return dout * _leaky_slope(z, alpha)


_register("leaky_relu", _leaky_relu, _leaky_relu_backward, alpha=0.01)


def _elu(z, alpha=1.0):
    """a = z if z > 0 else alpha * (exp(z) - 1): max(z, 0) + alpha expm1(min(z, 0)), one of the
    two terms being 0 (expm1 of min(z, 0) so large z cannot overflow; no where(), see sigmoid)."""
    xp = get_namespace(z)
    return xp.maximum(z, 0.0) + alpha * xp.expm1(xp.minimum(z, 0.0))


def _elu_backward(dout, z, a, alpha=1.0):
    # slope 1 for z > 0, else d/dz alpha (e^z - 1) = alpha e^z = a + alpha: m + (1 - m) q with
    # m = [z > 0] and q = min(a, 0) + alpha (finite for every z, so 0 * q is 0)
    xp = get_namespace(dout)
    m = xp.astype(z > 0, dout.dtype)
    return dout * (m + (1.0 - m) * (xp.minimum(a, 0.0) + alpha))


_register("elu", _elu, _elu_backward, alpha=1.0)

_register("softplus", softplus, lambda dout, z, a: dout * sigmoid(z))


def _softmax_backward(dout, z, a):
    """dz = a * (dout - sum_k dout_k a_k): the softmax Jacobian applied without forming it."""
    xp = get_namespace(dout)
    return a * (dout - xp.sum(dout * a, axis=1, keepdims=True))


_register("softmax", softmax, _softmax_backward)


def get_activation(spec: Any) -> tuple[ActivationFunction, dict[str, Any]]:
    """``(function, hyperparameters)`` from a name or ``{"name": ..., "config": {...}}``."""
    name, config = split_spec("activation", spec)
    fn = ACTIVATIONS.get(name)
    unknown = sorted(set(config) - set(fn.defaults))
    if unknown:
        raise TypeError(
            f"activation {fn.name!r}: unknown hyperparameters {unknown}; "
            f"valid: {sorted(fn.defaults)}"
        )
    return fn, {**fn.defaults, **config}
