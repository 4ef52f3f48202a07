"""Weight penalties (added to the loss and its gradients) and max-norm constraints (applied
right after each update). By default they act on weight matrices only (parameter name ``"W"``),
never on biases, BatchNorm's gamma/beta or PReLU's slopes; ``include`` changes that."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._typing import Array, Params
from .backend import get_namespace
from .errors import check_float


class _OnWeights:
    def __init__(self, include: Iterable[str]):
        self.include = tuple(include)

    def applies_to(self, key: str) -> bool:
        return key.rsplit(".", 1)[-1] in self.include


class Penalty(_OnWeights):
    """Base: ``value(params)`` (a float) and ``grad(params)`` for the keys it applies to."""

    def value(self, params: Params) -> float:
        raise NotImplementedError

    def grad(self, params: Params) -> dict[str, Array]:
        raise NotImplementedError


class L2(Penalty):
    """Omega = lambda/2 sum ||W||^2 (weight decay); dOmega/dW = lambda W.

    Added to each mini-batch's mean loss, so lambda does not depend on the training-set size
    (Nielsen writes lambda/2n with n the set size: his lambda is n times ours).
    """

    def __init__(self, lam: float, include: Iterable[str] = ("W",)):
        super().__init__(include)
        self.lam = check_float("L2", "lam", lam, low=0.0)

    def value(self, params):
        xp = get_namespace(*params.values())
        return (
            0.5
            * self.lam
            * sum(float(xp.sum(p * p)) for k, p in params.items() if self.applies_to(k))
        )

    def grad(self, params):
        return {k: self.lam * p for k, p in params.items() if self.applies_to(k)}


class L1(Penalty):
    """Omega = lambda sum |W|; dOmega/dW = lambda sign(W) (0 at 0)."""

    def __init__(self, lam: float, include: Iterable[str] = ("W",)):
        super().__init__(include)
        self.lam = check_float("L1", "lam", lam, low=0.0)

    def value(self, params):
        xp = get_namespace(*params.values())
        return self.lam * sum(
            float(xp.sum(xp.abs(p))) for k, p in params.items() if self.applies_to(k)
        )

    def grad(self, params):
        xp = get_namespace(*params.values())
        return {k: self.lam * xp.sign(p) for k, p in params.items() if self.applies_to(k)}


class ElasticNet(Penalty):
    """Omega = l1 sum |W| + l2/2 sum ||W||^2 (Zou & Hastie 2005)."""

    def __init__(self, l1: float, l2: float, include: Iterable[str] = ("W",)):
        super().__init__(include)
        self._l1, self._l2 = L1(l1, include), L2(l2, include)
        self.l1, self.l2 = self._l1.lam, self._l2.lam

    def value(self, params):
        return self._l1.value(params) + self._l2.value(params)

    def grad(self, params):
        g1, g2 = self._l1.grad(params), self._l2.grad(params)
        return {k: g1[k] + g2[k] for k in g1}


class MaxNorm(_OnWeights):
    """After each update, project every unit's incoming weight vector (a column of W) onto the
    ball ||w_j|| <= c.

    References: Srivastava et al., "Dropout" (JMLR 2014), section 5.1 (c of 3 to 4 works well).
    """

    def __init__(self, c: float = 3.0, include: Iterable[str] = ("W",)):
        super().__init__(include)
        self.c = check_float("MaxNorm", "c", c, low=0.0, low_inclusive=False)

    def apply(self, params: Params) -> None:
        for k, W in params.items():
            if self.applies_to(k) and len(W.shape) == 2:
                xp = get_namespace(W)
                norms = xp.sqrt(xp.sum(W * W, axis=0))
                # in place, like apply_updates, so views of the parameters stay valid
                W *= xp.minimum(1.0, self.c / xp.maximum(norms, 1e-12))


def penalty_grads(penalties: list[Penalty], params: Params, grads: dict[str, Any]) -> dict:
    """grads + dOmega/dparams for every penalty (a new dict; the layers' arrays are not touched)."""
    if not penalties:
        return grads
    out = dict(grads)
    for pen in penalties:
        for k, g in pen.grad(params).items():
            out[k] = out[k] + g
    return out
