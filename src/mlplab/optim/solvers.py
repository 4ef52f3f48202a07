"""Full-batch solvers: optimizers that evaluate the objective themselves (Newton, L-BFGS).

A gradient :class:`~mlplab.optim.base.Transform` turns one gradient into one update; a
:class:`Solver` is handed the whole objective ``f(w) -> (value, gradient)`` over the flat
parameter vector ``w`` and decides where to evaluate it (line searches, Hessian columns). The
trainer builds that closure from the full training set; each solver iteration is one epoch for
the callbacks, and ``callback(w, value)`` returning True stops the solver.

Solvers run on the host in NumPy float64, as scikit-learn's ``lbfgs`` solver does; the
objective casts ``w`` to the model's dtype. They never see a layer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .._typing import Params
from ..errors import check_float, check_positive_int

#: ``objective(w) -> (value, gradient)`` with ``w`` and the gradient flat float vectors.
Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]
#: ``callback(w, value) -> stop`` called after every iteration with the accepted point.
IterationCallback = Callable[[np.ndarray, float], bool]


class Solver(NamedTuple):
    """A full-batch optimizer.

    ``init(params) -> state`` (validates the problem size), and
    ``minimize(objective, w0, state, *, max_iter, callback) -> (w, state, message)`` runs at most
    ``max_iter`` iterations from ``w0``. ``spec`` (``{"name", "config"}``) rebuilds it by name.
    """

    init: Callable[[Params], Any]
    minimize: Callable[..., tuple[np.ndarray, Any, str]]
    spec: dict | None = None


def _n_params(params: Params) -> int:
    return sum(math.prod(p.shape) for p in params.values())


def hessian_by_differences(
    objective: Objective, w: np.ndarray, *, eps: float | None = None
) -> np.ndarray:
    """The Hessian of ``objective`` at ``w`` from central differences of its gradient.

    Column j is (g(w + h_j e_j) - g(w - h_j e_j)) / (2 h_j), h_j = eps (1 + |w_j|), then the
    matrix is symmetrized. Exact for quadratics up to rounding; O(h^2) otherwise. The default
    ``eps`` is the cube root of the machine epsilon of ``w.dtype`` (about 6e-6 for float64),
    which balances truncation against rounding. Costs 2P gradient evaluations.
    """
    if eps is None:
        eps = float(np.finfo(w.dtype).eps) ** (1 / 3)
    w = np.array(w, dtype=np.float64)
    P = w.size
    H = np.empty((P, P))
    for j in range(P):
        h = eps * (1.0 + abs(w[j]))
        wj = w[j]
        w[j] = wj + h
        _, g_plus = objective(w)
        w[j] = wj - h
        _, g_minus = objective(w)
        w[j] = wj
        H[:, j] = (np.asarray(g_plus, np.float64) - np.asarray(g_minus, np.float64)) / (2 * h)
    return 0.5 * (H + H.T)


def _newton_direction(H: np.ndarray, g: np.ndarray, damping: float) -> np.ndarray:
    """d = -Q diag(1 / (|lambda_i| + damping)) Q^T g, from H = Q diag(lambda) Q^T.

    Where H is positive definite (and damping 0) this is Newton's step -H^-1 g. Negative
    curvature is replaced by its absolute value, so d descends and moves away from saddle points
    (Dauphin et al. 2014), and curvatures below 1e-8 max|lambda| are raised to it, so flat
    directions (a softmax's biases are only determined up to a constant) take no huge step.
    """
    lam, Q = np.linalg.eigh(H)
    floor = 1e-8 * max(float(np.max(np.abs(lam))), np.finfo(np.float64).tiny)
    return -(Q @ ((Q.T @ g) / np.maximum(np.abs(lam) + damping, floor)))


def newton(
    learning_rate: float = 1.0,
    damping: float = 0.0,
    max_params: int = 2000,
    gtol: float = 1e-10,
    c1: float = 1e-4,
) -> Solver:
    """Damped Newton's method with the full Hessian of the loss over all parameters.

    Direction d = -(|H| + lambda I)^-1 g, where |H| takes the absolute value of each eigenvalue
    of H (so d descends even where a network's loss is not convex, and escapes saddle points)
    and lambda is ``damping`` (Levenberg-Marquardt style; curvatures below 1e-8 of the largest
    are raised to that floor). Then w <- w + t d with t starting at ``learning_rate`` and halved
    until the Armijo condition f(w + t d) <= f(w) + c1 t g.d holds (backtracking line search).
    On a convex quadratic with damping 0 the first step t = 1 is accepted and lands on the
    minimum. H comes from :func:`hessian_by_differences`: 2P backprops and an eigendecomposition
    of a P x P matrix per iteration, so models with more than ``max_params`` parameters are
    refused. Stops early when max |g| <= ``gtol``.

    References: Nocedal & Wright, "Numerical Optimization" (2006), sections 3.1-3.4;
    Dauphin et al., "Identifying and attacking the saddle point problem in high-dimensional
    non-convex optimization" (NeurIPS 2014).
    """
    learning_rate = check_float(
        "newton", "learning_rate", learning_rate, low=0.0, low_inclusive=False
    )
    damping = check_float("newton", "damping", damping, low=0.0)
    max_params = check_positive_int("newton", "max_params", max_params)
    gtol = check_float("newton", "gtol", gtol, low=0.0)
    c1 = check_float(
        "newton", "c1", c1, low=0.0, high=0.5, low_inclusive=False, high_inclusive=False
    )

    def init(params):
        P = _n_params(params)
        if P > max_params:
            raise ValueError(
                f"newton: the model has {P} parameters, above max_params={max_params}; its "
                f"Hessian would hold {P}x{P} floats ({P * P * 8 / 2**20:.0f} MiB) and cost "
                f"{2 * P} backprops per step. Use 'lbfgs' for larger networks, or raise "
                "max_params if you mean it"
            )
        return {"step": 0}

    def minimize(objective, w0, state, *, max_iter, callback):
        fd_eps = float(np.finfo(np.asarray(w0).dtype).eps) ** (1 / 3)  # the model's precision
        w = np.asarray(w0, dtype=np.float64).copy()
        f, g = objective(w)
        for _ in range(max_iter):
            if not math.isfinite(f):
                return w, state, "stopped: the loss is not finite"
            if float(np.max(np.abs(g))) <= gtol:
                return w, state, f"converged: max |gradient| <= gtol={gtol:g}"
            H = hessian_by_differences(objective, w, eps=fd_eps)
            d = _newton_direction(H, np.asarray(g, np.float64), damping)
            slope = float(g @ d)
            t = learning_rate
            for _ in range(50):
                f_new, g_new = objective(w + t * d)
                if math.isfinite(f_new) and f_new <= f + c1 * t * slope:
                    break
                t *= 0.5
            else:
                return w, state, "stopped: the line search found no decrease"
            w, f, g = w + t * d, f_new, g_new
            state = {"step": state["step"] + 1}
            if callback(w, f):
                return w, state, "stopped by a callback"
        return w, state, f"stopped: reached max_iter={max_iter}"

    return Solver(
        init,
        minimize,
        {
            "name": "newton",
            "config": {
                "learning_rate": learning_rate,
                "damping": damping,
                "max_params": max_params,
                "gtol": gtol,
                "c1": c1,
            },
        },
    )


def lbfgs(
    memory: int = 10, gtol: float = 1e-5, ftol: float = 2.220446049250313e-09, max_fun: int = 15000
) -> Solver:
    """Limited-memory BFGS through ``scipy.optimize.minimize(method="L-BFGS-B")``, as in
    scikit-learn's ``lbfgs`` solver: each iteration is one epoch for the callbacks.

    ``memory`` is the number of correction pairs (scipy's ``maxcor``); stops when the projected
    gradient is below ``gtol``, the relative decrease below ``ftol``, or after ``max_fun``
    objective evaluations. The curvature memory lives inside scipy: a resumed fit restarts it.

    References: Liu & Nocedal, "On the limited memory BFGS method for large scale
    optimization" (Math. Programming 1989).
    """
    memory = check_positive_int("lbfgs", "memory", memory)
    gtol = check_float("lbfgs", "gtol", gtol, low=0.0)
    ftol = check_float("lbfgs", "ftol", ftol, low=0.0)
    max_fun = check_positive_int("lbfgs", "max_fun", max_fun)

    def init(params):
        return {"step": 0}

    def minimize(objective, w0, state, *, max_iter, callback):
        from scipy.optimize import minimize as scipy_minimize

        steps = [state["step"]]

        def on_iteration(intermediate_result):  # scipy >= 1.11 passes the result by this name
            steps[0] += 1
            if callback(intermediate_result.x, float(intermediate_result.fun)):
                raise StopIteration  # scipy ends the run and returns the current point

        def fun(w):
            f, g = objective(w)
            return f, np.asarray(g, dtype=np.float64)

        result = scipy_minimize(
            fun,
            np.asarray(w0, dtype=np.float64),
            jac=True,
            method="L-BFGS-B",
            callback=on_iteration,
            options={
                "maxcor": memory,
                "gtol": gtol,
                "ftol": ftol,
                "maxiter": max_iter,
                "maxfun": max_fun,
            },
        )
        return result.x, {"step": steps[0]}, str(result.message)

    return Solver(
        init,
        minimize,
        {
            "name": "lbfgs",
            "config": {"memory": memory, "gtol": gtol, "ftol": ftol, "max_fun": max_fun},
        },
    )
