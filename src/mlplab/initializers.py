"""Weight initializers: functions ``init(shape, *, rng, dtype, xp) -> Array`` and one registry.

Weights are ``(fan_in, fan_out)``; for a 1-D shape (a bias) ``fan_in = fan_out = shape[0]``.
Every draw comes from the explicit ``numpy.random.Generator`` passed in; the sample is drawn in
the requested float dtype and then moved into namespace ``xp``.

Examples
--------
>>> import numpy as np
>>> W = he_normal((784, 256), rng=np.random.default_rng(0), dtype="float32", xp=np)
>>> init = get_initializer({"name": "normal", "config": {"std": 0.05}})
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ._registry import Registry, split_spec
from .backend import dtype_name, resolve_dtype
from .errors import check_float, check_positive_int

Initializer = Callable[..., Any]
INITIALIZERS: Registry[Initializer] = Registry("initializer")
#: Initializers that give every weight of a unit the same value, so units never differ.
SYMMETRIC = frozenset({"zeros", "ones", "constant"})


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) != 2:
        raise ValueError(f"initializers: expected a 1-D or 2-D shape, got shape={shape}")
    return shape[0], shape[1]


def _np_dtype(dtype: Any) -> np.dtype:
    return np.dtype(dtype_name(dtype))


def _finish(sample: np.ndarray, dtype: Any, xp: Any) -> Any:
    return xp.asarray(sample, dtype=resolve_dtype(xp, dtype, "initializers"))


def _normal(shape, std: float, rng: np.random.Generator, dtype, xp, mean: float = 0.0):
    z = rng.standard_normal(shape, dtype=_np_dtype(dtype))
    z *= std
    if mean:
        z += mean
    return _finish(z, dtype, xp)


def _uniform(shape, low: float, high: float, rng: np.random.Generator, dtype, xp):
    u = rng.random(shape, dtype=_np_dtype(dtype))
    u *= high - low
    u += low
    return _finish(u, dtype, xp)


@INITIALIZERS.register("zeros")
def zeros(shape, *, rng=None, dtype="float32", xp=np):
    """All zeros: W = 0. For weights this does not break symmetry (a warning says so)."""
    return xp.zeros(shape, dtype=resolve_dtype(xp, dtype, "zeros"))


@INITIALIZERS.register("ones")
def ones(shape, *, rng=None, dtype="float32", xp=np):
    """All ones (BatchNorm's gamma)."""
    return xp.ones(shape, dtype=resolve_dtype(xp, dtype, "ones"))


@INITIALIZERS.register("constant")
def constant(shape, *, rng=None, dtype="float32", xp=np, value: float = 0.0):
    """Every entry equals ``value`` (e.g. a bias of 0.01 so ReLU units start active)."""
    value = check_float("constant", "value", value)
    return xp.full(shape, value, dtype=resolve_dtype(xp, dtype, "constant"))


@INITIALIZERS.register("normal", aliases=("random_normal",))
def normal(shape, *, rng, dtype="float32", xp=np, mean: float = 0.0, std: float = 0.01):
    """W ~ N(mean, std^2); the classic "small random numbers" init uses std = 0.01."""
    std = check_float("normal", "std", std, low=0.0, low_inclusive=False)
    return _normal(shape, std, rng, dtype, xp, mean=check_float("normal", "mean", mean))


@INITIALIZERS.register("uniform", aliases=("random_uniform",))
def uniform(shape, *, rng, dtype="float32", xp=np, minval: float = -0.05, maxval: float = 0.05):
    """W ~ U(minval, maxval)."""
    lo, hi = check_float("uniform", "minval", minval), check_float("uniform", "maxval", maxval)
    if not lo < hi:
        raise ValueError(f"uniform: minval must be < maxval, got {minval=}, {maxval=}")
    return _uniform(shape, lo, hi, rng, dtype, xp)


@INITIALIZERS.register("lecun_normal")
def lecun_normal(shape, *, rng, dtype="float32", xp=np):
    """W ~ N(0, 1/fan_in).

    References: LeCun, Bottou, Orr, Mueller, "Efficient BackProp" (1998).
    """
    fan_in, _ = _fans(shape)
    return _normal(shape, math.sqrt(1.0 / fan_in), rng, dtype, xp)


@INITIALIZERS.register("lecun_uniform")
def lecun_uniform(shape, *, rng, dtype="float32", xp=np):
    """W ~ U(-l, l) with l = sqrt(3/fan_in), so Var[W] = 1/fan_in."""
    fan_in, _ = _fans(shape)
    limit = math.sqrt(3.0 / fan_in)
    return _uniform(shape, -limit, limit, rng, dtype, xp)


@INITIALIZERS.register("glorot_normal", aliases=("xavier_normal",))
def glorot_normal(shape, *, rng, dtype="float32", xp=np):
    """W ~ N(0, 2/(fan_in + fan_out)).

    References: Glorot & Bengio, "Understanding the difficulty of training deep feedforward
    neural networks" (2010).
    """
    fan_in, fan_out = _fans(shape)
    return _normal(shape, math.sqrt(2.0 / (fan_in + fan_out)), rng, dtype, xp)


@INITIALIZERS.register("glorot_uniform", aliases=("xavier_uniform",))
def glorot_uniform(shape, *, rng, dtype="float32", xp=np):
    """W ~ U(-l, l) with l = sqrt(6/(fan_in + fan_out)) (Glorot & Bengio 2010)."""
    fan_in, fan_out = _fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return _uniform(shape, -limit, limit, rng, dtype, xp)


@INITIALIZERS.register("he_normal", aliases=("kaiming_normal",))
def he_normal(shape, *, rng, dtype="float32", xp=np):
    """W ~ N(0, 2/fan_in), for ReLU units.

    References: He, Zhang, Ren, Sun, "Delving Deep into Rectifiers" (2015).
    """
    fan_in, _ = _fans(shape)
    return _normal(shape, math.sqrt(2.0 / fan_in), rng, dtype, xp)


@INITIALIZERS.register("he_uniform", aliases=("kaiming_uniform",))
def he_uniform(shape, *, rng, dtype="float32", xp=np):
    """W ~ U(-l, l) with l = sqrt(6/fan_in), so Var[W] = 2/fan_in (He et al. 2015)."""
    fan_in, _ = _fans(shape)
    limit = math.sqrt(6.0 / fan_in)
    return _uniform(shape, -limit, limit, rng, dtype, xp)


@INITIALIZERS.register("sparse")
def sparse(shape, *, rng, dtype="float32", xp=np, k: int = 15, std: float = 1.0):
    """Each unit (column) gets exactly ``k`` nonzero incoming weights ~ N(0, std^2), the rest 0.

    References: Martens, "Deep learning via Hessian-free optimization" (2010), section 5.
    """
    k = check_positive_int("sparse", "k", k)
    std = check_float("sparse", "std", std, low=0.0, low_inclusive=False)
    fan_in, fan_out = _fans(shape)
    if len(shape) != 2:
        raise ValueError(f"sparse: needs a 2-D weight shape (fan_in, fan_out), got shape={shape}")
    if k > fan_in:
        raise ValueError(
            f"sparse: k must be <= fan_in={fan_in} (each unit has fan_in inputs), got {k=}"
        )
    npdt = _np_dtype(dtype)
    # k distinct input rows per unit: the first k of a random permutation of each column.
    rows = np.argsort(rng.random((fan_in, fan_out)), axis=0)[:k]
    W = np.zeros(shape, dtype=npdt)
    W[rows, np.arange(fan_out)] = rng.standard_normal((k, fan_out), dtype=npdt) * npdt.type(std)
    return _finish(W, dtype, xp)


@INITIALIZERS.register("orthogonal")
def orthogonal(shape, *, rng, dtype="float32", xp=np, gain: float = 1.0):
    """A (semi-)orthogonal matrix times ``gain``: the Q of a Gaussian matrix's QR, signs fixed.

    References: Saxe, McClelland, Ganguli, "Exact solutions to the nonlinear dynamics of
    learning in deep linear neural networks" (2014).
    """
    gain = check_float("orthogonal", "gain", gain, low=0.0, low_inclusive=False)
    if len(shape) != 2:
        raise ValueError(f"orthogonal: needs a 2-D weight shape, got shape={shape}")
    rows, cols = shape
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # makes the result uniformly distributed over orthogonal matrices
    if rows < cols:
        q = q.T
    return _finish((gain * q).astype(_np_dtype(dtype)), dtype, xp)


def get_initializer(spec: Any) -> Initializer:
    """A callable ``init(shape, *, rng, dtype, xp)`` from a name, ``{"name", "config"}`` or a
    callable."""
    if callable(spec) and not isinstance(spec, (str, dict)):
        return spec
    name, config = split_spec("initializer", spec)
    fn = INITIALIZERS.get(name)
    if config:
        params = inspect.signature(fn).parameters
        known = [p for p in params if p not in ("shape", "rng", "dtype", "xp")]
        unknown = sorted(set(config) - set(known))
        if unknown:
            raise TypeError(
                f"initializer {name!r}: unknown config keys {unknown}; valid keys: {known}"
            )
        return functools.partial(fn, **config)
    return fn


def serialize_initializer(spec: Any) -> str | dict:
    """The JSON-able spec for ``spec`` (validating the name now, not at build time)."""
    if callable(spec) and not isinstance(spec, (str, dict)):
        base = spec.func if isinstance(spec, functools.partial) else spec
        name = INITIALIZERS.name_of(base)
        if name is None:
            raise TypeError(
                f"initializer {spec!r} is not registered; register it with "
                "mlplab.initializers.INITIALIZERS.register(name, fn) to serialize it"
            )
        kw = dict(spec.keywords) if isinstance(spec, functools.partial) else {}
        return {"name": name, "config": kw} if kw else name
    get_initializer(spec)  # validates the name and config
    name, config = split_spec("initializer", spec)
    canonical = INITIALIZERS.name_of(INITIALIZERS.get(name))
    assert canonical is not None  # get() found it registered
    return {"name": canonical, "config": config} if config else canonical


def initializer_name(spec: Any) -> str:
    """The canonical registry name of an initializer spec."""
    s = serialize_initializer(spec)
    return s if isinstance(s, str) else s["name"]
