"""Array-library knowledge lives here and nowhere else (level 0).

Engine code asks :func:`get_namespace` for the namespace of its inputs and then uses only
functions of the array API standard. NumPy arrays get NumPy itself (NumPy 2 implements the
standard in its main namespace), everything else goes through ``array_api_compat``.
"""
from __future__ import annotations

import contextlib
import importlib
import math
import numbers
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

import array_api_compat
import numpy as np

from ._typing import Array, DTypeLike, Namespace

_FLOAT_NAMES = ("float32", "float64")


def get_namespace(*arrays: Array) -> Namespace:
    """The array-API namespace of ``arrays`` (NumPy itself for NumPy arrays: no wrapper cost)."""
    if all(type(a) is np.ndarray for a in arrays):
        return np
    return array_api_compat.array_namespace(*arrays)


def is_numpy(xp: Namespace) -> bool:
    return xp is np or xp is getattr(array_api_compat, "numpy", None)


def resolve_dtype(xp: Namespace, dtype: DTypeLike, owner: str = "mlplab") -> Any:
    """Turn ``"float32"``/``"float64"`` (or a dtype object) into the namespace's float dtype."""
    name = dtype if isinstance(dtype, str) else dtype_name(dtype)
    if name not in _FLOAT_NAMES:
        raise ValueError(f"{owner}: dtype must be one of {list(_FLOAT_NAMES)}, got dtype={dtype!r}")
    return getattr(xp, name)


def dtype_name(dtype: Any) -> str:
    """``"float32"`` for NumPy, torch and array_api_strict float32 dtypes alike."""
    if isinstance(dtype, str):
        return dtype
    try:
        return np.dtype(dtype).name
    except TypeError:
        return str(dtype).rsplit(".", 1)[-1]  # torch.float32, array_api_strict float32


def is_floating(xp: Namespace, x: Array) -> bool:
    return xp.isdtype(x.dtype, "real floating")


def is_integer(xp: Namespace, x: Array) -> bool:
    return xp.isdtype(x.dtype, "integral")


def asarray(x: Any, xp: Namespace, dtype: Any = None) -> Array:
    """Move ``x`` (for example a NumPy draw from a seeded Generator) into namespace ``xp``."""
    return xp.asarray(x, dtype=dtype)


def to_numpy(x: Array) -> np.ndarray:
    """A NumPy view or copy of any supported array (torch CPU tensors, array_api_strict, ...)."""
    if type(x) is np.ndarray:
        return x
    if hasattr(x, "detach"):  # torch
        return x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except (TypeError, ValueError):
        return np.from_dlpack(x)


def all_finite(xp: Namespace, x: Array) -> bool:
    """Whether no entry is NaN or +-inf. A sum carries any NaN or inf, so one reduction (no
    temporary the size of ``x``) decides; only a sum that overflows needs the full test. A real
    matrix is summed by rows as a matrix-vector product: the BLAS streams it on every core, 3x
    faster than a sum (this check runs on the whole training set at every ``fit``)."""
    if not xp.isdtype(x.dtype, ("real floating", "complex floating")):
        return True
    with np.errstate(all="ignore"):  # inf - inf and overflow are what we look for: no warnings
        if xp.isdtype(x.dtype, "real floating") and x.ndim == 2 and min(x.shape) > 1:
            ones = xp.ones(x.shape[1], dtype=x.dtype, device=array_api_compat.device(x))
            total = xp.sum(x @ ones)
        else:
            total = xp.sum(x)
    if bool(xp.isfinite(total)):
        return True
    return bool(xp.all(xp.isfinite(x)))


def copy(xp: Namespace, x: Array) -> Array:
    return xp.asarray(x, copy=True)


def numpy_dtype(dtype: Any) -> np.dtype:
    """The NumPy dtype with the same name, for drawing samples from a NumPy Generator."""
    return np.dtype(dtype_name(dtype))


class PicklesNamespace:
    """Mixin: pickle the array namespace held in ``self.xp`` by its module name (modules do not
    pickle), so built models pickle and unpickle like scikit-learn estimators."""

    def __getstate__(self):
        state = self.__dict__.copy()
        xp = state.get("xp")
        if xp is not None:
            state["xp"] = xp.__name__
        return state

    def __setstate__(self, state):
        if isinstance(state.get("xp"), str):
            state["xp"] = importlib.import_module(state["xp"])
        self.__dict__.update(state)


# -- writing into existing arrays ------------------------------------------------------------------
# The hot path reuses buffers instead of allocating (large NumPy allocations are fresh pages,
# zeroed by the kernel on first touch). NumPy ufuncs write into ``out=`` in one pass; other
# namespaces get the standard's ``out[...] = expr`` (a temporary, then a copy).

def mul_into(out: Array, a: Any, b: Any) -> Array:
    """out <- a * b."""
    if type(out) is np.ndarray:
        return np.multiply(a, b, out=out)
    out[...] = a * b
    return out


def div_into(out: Array, a: Any, b: Any) -> Array:
    """out <- a / b."""
    if type(out) is np.ndarray:
        return np.divide(a, b, out=out)
    out[...] = a / b
    return out


def sqrt_into(out: Array, a: Array) -> Array:
    """out <- sqrt(a)."""
    if type(out) is np.ndarray:
        return np.sqrt(a, out=out)
    out[...] = get_namespace(a).sqrt(a)
    return out


def matmul_into(out: Array, a: Array, b: Array) -> Array:
    """out <- a @ b (NumPy: straight into ``out``; other namespaces: a new array, then a copy)."""
    if type(out) is np.ndarray and type(a) is np.ndarray and type(b) is np.ndarray:
        return np.matmul(a, b, out=out)
    out[...] = a @ b
    return out


# Large NumPy arrays all start at the same offset within a 4 KiB page, so an elementwise loop
# that reads one and writes another hits "4K aliasing" (the CPU takes the store for a possible
# overwrite of the load), which halves its speed. Arrays the hot path keeps (optimizer state,
# work buffers) are placed at staggered offsets instead.
_PAGE, _STAGGER = 4096, 64 * 9  # 9 cache lines apart: no two of 7 slots within 512 bytes
_slot = [0]


def empty_staggered(xp: Namespace, shape: tuple, dtype: Any) -> Array:
    """An uninitialized array whose start within a page differs from the previous one's."""
    if not is_numpy(xp) or math.prod(shape) * np.dtype(dtype).itemsize < _PAGE:
        return xp.empty(shape, dtype=dtype)
    _slot[0] += 1
    itemsize = np.dtype(dtype).itemsize
    offset = (_slot[0] * _STAGGER) % _PAGE
    raw = np.empty(math.prod(shape) * itemsize + 2 * _PAGE, dtype=np.uint8)
    start = (-raw.ctypes.data) % _PAGE + offset  # page-aligned, then the offset
    return raw[start:start + math.prod(shape) * itemsize].view(dtype).reshape(shape)


def zeros_staggered(xp: Namespace, shape: tuple, dtype: Any) -> Array:
    a = empty_staggered(xp, shape, dtype)
    a[...] = 0
    return a


class Scratch:
    """Reusable work arrays by key, reallocated only when the shape, dtype or namespace of the
    array they stand in for changes. Not state: nothing in them survives a step's meaning."""

    def __init__(self) -> None:
        self._arrays: dict[Any, Array] = {}

    def like(self, key: Any, a: Array) -> Array:
        buf = self._arrays.get(key)
        if (buf is None or buf.shape != a.shape or buf.dtype != a.dtype
                or type(buf) is not type(a)):
            buf = self._arrays[key] = empty_staggered(get_namespace(a), a.shape, a.dtype)
        return buf


def flush_tiny(a: Array) -> None:
    """Set entries below tiny * 2^24 in magnitude to 0, in place.

    Optimizer state that decays geometrically (momentum, Adam's moments for a dead unit) would
    otherwise pass through the subnormal range, where x86 arithmetic is ~100 times slower; values
    this small (float32: 2e-31) change no update. Called every few steps, it keeps them out.
    """
    xp = get_namespace(a)
    threshold = float(xp.finfo(a.dtype).smallest_normal) * 2.0 ** 24
    a *= xp.astype(xp.abs(a) >= threshold, a.dtype)


# -- elementwise kernels over cache-sized chunks, on every core -----------------------------------
# An optimizer step is several elementwise passes over every parameter, one NumPy ufunc each.
# Splitting the arrays into chunks keeps a chunk in cache while all the passes of a step run
# over it, and the chunks can be shared among threads (NumPy releases the GIL inside ufuncs; see
# set_num_threads for why the default is one). Elementwise kernels give bit-identical results
# however the arrays are split, so runs stay reproducible.

#: elements per chunk (float32: 512 KiB per array)
CHUNK = 1 << 17
_pool: dict[str, Any] = {"threads": None, "executor": None, "pid": None, "blas_default": None}


def set_num_threads(n: int | None) -> None:
    """Threads for the matrix products (the BLAS, through ``threadpoolctl``) and for the
    optimizer's elementwise sweep; ``None`` restores the defaults (the BLAS's as they were
    before the first call, the sweep's ``$MLPLAB_NUM_THREADS``, else 1).

    Set 1 thread per process when other work shares the machine (another training run, a
    parallel search, a busy core): the BLAS otherwise starts one thread per core, and a product
    waits for its slowest thread, which made an epoch 12x slower on a machine where one core was
    taken. The sweep is single-threaded by default: after each product OpenBLAS's worker
    threads spin for a while (``OPENBLAS_THREAD_TIMEOUT``, about 0.1 s by default) and take the
    cores a second pool would need. With a short spin (``OPENBLAS_THREAD_TIMEOUT=4`` set before
    NumPy loads) or an MKL NumPy, 2 sweep threads make Adam on a 3-million-parameter network
    faster (measure: small networks can get slower). See also :func:`threads`.
    """
    n = _check_threads("set_num_threads", n)
    from threadpoolctl import threadpool_limits  # on first use: `import mlplab` stays light
    if n is None:
        if _pool["blas_default"] is not None:
            _pool["blas_default"].restore_original_limits()
            _pool["blas_default"] = None
    else:
        limiter = threadpool_limits(n, user_api="blas")
        if _pool["blas_default"] is None:  # remember the limits from before our first change
            _pool["blas_default"] = limiter
    _pool["threads"] = n


@contextlib.contextmanager
def threads(n: int):
    """``with threads(n):`` runs the BLAS and the optimizer sweep on ``n`` threads, and restores
    both settings on exit (see :func:`set_num_threads`)."""
    n = _check_threads("threads", n, allow_none=False)
    from threadpoolctl import threadpool_limits
    previous = _pool["threads"]
    with threadpool_limits(n, user_api="blas"):
        _pool["threads"] = n
        try:
            yield
        finally:
            _pool["threads"] = previous


def _check_threads(owner: str, n: Any, allow_none: bool = True) -> int | None:
    if n is None and allow_none:
        return None
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        valid = "a positive int or None" if allow_none else "a positive int"
        raise ValueError(f"{owner}: n must be {valid}, got n={n!r}")
    return int(n)


def get_num_threads() -> int:
    """Threads of the optimizer sweep (the BLAS's: ``threadpoolctl.threadpool_info()``)."""
    n = _pool["threads"]
    if n is None:
        n = int(os.environ.get("MLPLAB_NUM_THREADS") or 1)
    return max(1, n)


def _executor(workers: int) -> ThreadPoolExecutor:
    # a pool inherited through fork has no threads: make a new one in a new process
    if _pool["executor"] is None or _pool["pid"] != os.getpid() or \
            _pool["executor"]._max_workers < workers:
        _pool.update(executor=ThreadPoolExecutor(workers, thread_name_prefix="mlplab"),
                     pid=os.getpid())
    return _pool["executor"]


def _run_tasks(kernel: Callable, tasks, args: tuple) -> None:
    for arrays in tasks:
        kernel(*arrays, *args)


def foreach(kernel: Callable[..., None], groups: Sequence[tuple[Array, ...]], *args: Any) -> None:
    """``kernel(*arrays, *args)`` for every tuple of same-shape ``arrays`` (updated in place).

    C-contiguous NumPy arrays larger than :data:`CHUNK` are cut into matching flat chunks, and
    the chunks are shared among :func:`get_num_threads` threads; anything else runs as whole
    arrays in this thread. ``kernel`` must be elementwise (no reductions across entries).
    """
    tasks: list = []
    numpy_only, total = True, 0
    for arrays in groups:
        if all(type(a) is np.ndarray and a.flags.c_contiguous and a.shape == arrays[0].shape
               for a in arrays):
            size = arrays[0].size
            total += size
            if size > CHUNK:
                flat = [a.reshape(-1) for a in arrays]
                tasks.extend(tuple(f[i:i + CHUNK] for f in flat) for i in range(0, size, CHUNK))
                continue
        else:
            numpy_only = False
        tasks.append(arrays)
    workers = min(get_num_threads(), len(tasks)) if numpy_only and total > 2 * CHUNK else 1
    if workers <= 1:
        _run_tasks(kernel, tasks, args)
        return
    # every thread takes the next chunk from one shared iterator (next() on it is atomic under
    # the GIL): a thread that gets less of its core (a BLAS thread spinning there) does fewer
    # chunks instead of holding the others up
    pool = _executor(workers - 1)
    shared = iter(tasks)
    futures = [pool.submit(_run_tasks, kernel, shared, args) for _ in range(1, workers)]
    _run_tasks(kernel, shared, args)
    for f in futures:
        f.result()


# -- compiled kernels (optional C extension) -------------------------------------------------------
# Optimizer steps run as one compiled sweep when mlplab was built with its C extension (see
# mlplab.optim.compiled); the NumPy kernels remain the reference, with the same results.
_compiled: dict[str, Any] = {"enabled": None}


def set_compiled_kernels(enabled: bool | None) -> None:
    """Run optimizer steps in compiled code when it is built: ``True``/``False``, or ``None``
    for the default (on, unless ``$MLPLAB_COMPILED`` is ``0``). Results are identical either
    way; off, every step runs as the NumPy kernels one can read in ``mlplab.optim``."""
    if enabled is not None and not isinstance(enabled, bool):
        raise ValueError(f"set_compiled_kernels: enabled must be True, False or None, "
                         f"got {enabled!r}")
    _compiled["enabled"] = enabled


def compiled_kernels_enabled() -> bool:
    enabled = _compiled["enabled"]
    if enabled is None:
        return os.environ.get("MLPLAB_COMPILED", "1").strip().lower() not in ("0", "false",
                                                                              "no", "off")
    return enabled
