"""Named optimizers: chains of transforms with the classic defaults, and their registry."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from .._registry import Registry, split_spec
from .base import Transform, chain, inject_hyperparams
from .schedules import Constant, Schedule, get_schedule, serialize_schedule
from .solvers import Solver, lbfgs, newton
from .transforms import (
    scale_by_adadelta,
    scale_by_adagrad,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_rms,
    trace,
)

OPTIMIZERS: Registry[Callable[..., Transform | Solver]] = Registry("optimizer")


def _spec(name: str, **config: Any) -> dict:
    lr = config.get("learning_rate")
    if isinstance(lr, Schedule):
        config["learning_rate"] = serialize_schedule(lr)
    # NumPy scalars (np.float32(0.01)) as Python numbers: the spec is saved as JSON and TOML
    config = {k: v.item() if isinstance(v, np.generic) else v for k, v in config.items()}
    return {"name": name, "config": config}


def _named(name: str) -> Callable[[Callable[..., Transform]], Callable[..., Transform]]:
    """Register the chain ``make(learning_rate, ...)`` as optimizer ``name``, its
    hyperparameters injected into the state (:func:`~mlplab.optim.inject_hyperparams`): the
    learning rate may be a schedule, or a number a callback changes (``ReduceLROnPlateau``)."""

    def register(make: Callable[..., Transform]) -> Callable[..., Transform]:
        signature = inspect.signature(make)

        @functools.wraps(make)
        def optimizer(*args: Any, **kwargs: Any) -> Transform:
            given = signature.bind(*args, **kwargs)
            given.apply_defaults()
            values = dict(given.arguments)
            rate = get_schedule(values["learning_rate"])  # checks a number too: > 0, finite
            values["learning_rate"] = rate.learning_rate if type(rate) is Constant else rate
            return inject_hyperparams(make, spec=_spec(name, **given.arguments))(**values)

        OPTIMIZERS.register(name, optimizer)
        return optimizer

    return register


@_named("sgd")
def sgd(learning_rate: Any = 0.01) -> Transform:
    """w <- w - eta g. Full-batch, mini-batch or stochastic is the trainer's batch size."""
    return chain(scale_by_learning_rate(learning_rate))


@_named("momentum")
def momentum(learning_rate: Any = 0.01, mu: float = 0.9) -> Transform:
    """v <- mu v - eta g; w <- w + v.

    PyTorch's ``SGD(momentum=mu)`` keeps b <- mu b + g and steps w <- w - eta b: the same
    trajectory for a constant eta (v = -eta b); under a schedule the two differ.
    """
    return chain(scale_by_learning_rate(learning_rate), trace(mu))


@_named("nesterov")
def nesterov(learning_rate: Any = 0.01, mu: float = 0.9) -> Transform:
    """Nesterov momentum: v <- mu v - eta g; w <- w - eta g + mu v (PyTorch's form).

    References: Sutskever, Martens, Dahl, Hinton, "On the importance of initialization and
    momentum in deep learning" (ICML 2013).
    """
    return chain(scale_by_learning_rate(learning_rate), trace(mu, nesterov=True))


@_named("adagrad")
def adagrad(learning_rate: Any = 0.01, eps: float = 1e-7) -> Transform:
    """w <- w - eta g / (sqrt(G) + epsilon), G the running sum of g^2 (PyTorch: eps 1e-10)."""
    return chain(scale_by_adagrad(eps), scale_by_learning_rate(learning_rate))


@_named("adadelta")
def adadelta(learning_rate: Any = 1.0, rho: float = 0.95, eps: float = 1e-6) -> Transform:
    """Zeiler's AdaDelta; the unit learning rate makes it rate-free (PyTorch's rho is 0.9)."""
    return chain(scale_by_adadelta(rho, eps), scale_by_learning_rate(learning_rate))


@_named("rmsprop")
def rmsprop(learning_rate: Any = 0.001, rho: float = 0.9, eps: float = 1e-8) -> Transform:
    """w <- w - eta g / (sqrt(E[g^2]) + epsilon) (PyTorch calls rho ``alpha``, default 0.99)."""
    return chain(scale_by_rms(rho, eps), scale_by_learning_rate(learning_rate))


@_named("adam")
def adam(
    learning_rate: Any = 0.001, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> Transform:
    """Adam with bias correction: w <- w - eta m_hat / (sqrt(v_hat) + epsilon)."""
    return chain(scale_by_adam(b1, b2, eps), scale_by_learning_rate(learning_rate))


OPTIMIZERS.register("newton", newton)
OPTIMIZERS.register("lbfgs", lbfgs)


def get_optimizer(spec: Any) -> Transform | Solver:
    """An optimizer from a Transform or Solver, a name (``"adam"``) or ``{"name", "config"}``."""
    if isinstance(spec, (Transform, Solver)):
        return spec
    name, config = split_spec("optimizer", spec)
    factory = OPTIMIZERS.get(name)
    try:
        inspect.signature(factory).bind(**config)
    except TypeError as e:  # a missing or unknown argument; bad values get their own message
        raise TypeError(f"optimizer {name!r}: bad config {config!r} ({e})") from None
    return factory(**config)
