"""Process-wide settings in one object: the threads of the optimizer sweep and the BLAS, and the
compiled-kernels switch (level 0).

Each setting is ``None`` until a program sets it, and ``None`` means the default, read from the
environment when it is used: ``$MLPLAB_NUM_THREADS`` (else 1 sweep thread) and
``$MLPLAB_COMPILED`` (``0``, ``false``, ``no`` or ``off`` switch compiled kernels off).
"""

from __future__ import annotations

import contextlib
import numbers
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_OFF = ("0", "false", "no", "off")


@dataclass
class Settings:
    """What :func:`set_num_threads` and :func:`set_compiled_kernels` last set (``None``: the
    default), and the BLAS thread limits from before our first change (a ``threadpoolctl``
    limiter that restores them)."""

    num_threads: int | None = None
    compiled: bool | None = None
    blas_default: Any = None


#: the settings of this process
settings = Settings()


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

    Raises
    ------
    TypeError
        ``n`` is not an int or None (``True`` and ``2.0`` included).
    ValueError
        ``n`` is an int below 1.
    """
    n = _check_threads("set_num_threads", n)
    from threadpoolctl import threadpool_limits  # on first use: `import mlplab` stays light

    if n is None:
        if settings.blas_default is not None:
            settings.blas_default.restore_original_limits()
            settings.blas_default = None
    else:
        limiter = threadpool_limits(n, user_api="blas")
        if settings.blas_default is None:  # remember the limits from before our first change
            settings.blas_default = limiter
    settings.num_threads = n


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """``with threads(n):`` runs the BLAS and the optimizer sweep on ``n`` threads, and restores
    both settings on exit (see :func:`set_num_threads`)."""
    count = _check_threads("threads", n, allow_none=False)
    from threadpoolctl import threadpool_limits

    previous = settings.num_threads
    with threadpool_limits(count, user_api="blas"):
        settings.num_threads = count
        try:
            yield
        finally:
            settings.num_threads = previous


def get_num_threads() -> int:
    """Threads of the optimizer sweep (the BLAS's: ``threadpoolctl.threadpool_info()``)."""
    n = settings.num_threads
    if n is None:
        n = _env_threads()
    return max(1, n)


def _env_threads() -> int:
    value = os.environ.get("MLPLAB_NUM_THREADS", "").strip()
    if not value:
        return 1
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"mlplab: $MLPLAB_NUM_THREADS must be a positive int, got MLPLAB_NUM_THREADS={value!r}"
        ) from None


def _check_threads(owner: str, n: Any, allow_none: bool = True) -> int | None:
    if n is None and allow_none:
        return None
    valid = "a positive int or None" if allow_none else "a positive int"
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{owner}: n must be {valid}, got n={n!r} of type {type(n).__name__}")
    if n < 1:
        raise ValueError(f"{owner}: n must be {valid}, got n={n!r}")
    return int(n)


def set_compiled_kernels(enabled: bool | None) -> None:
    """Run optimizer steps in compiled code when it is built: ``True``/``False``, or ``None``
    for the default (on, unless ``$MLPLAB_COMPILED`` is ``0``). Results are identical either
    way; off, every step runs as the NumPy kernels one can read in ``mlplab.optim``.

    Raises
    ------
    TypeError
        ``enabled`` is not a bool or None (``1`` and ``"yes"`` included).
    """
    if enabled is not None and not isinstance(enabled, bool):
        raise TypeError(
            f"set_compiled_kernels: enabled must be True, False or None, "
            f"got enabled={enabled!r} of type {type(enabled).__name__}"
        )
    settings.compiled = enabled


def compiled_kernels_enabled() -> bool:
    """Whether optimizer steps may run compiled (the switch, else ``$MLPLAB_COMPILED``)."""
    if settings.compiled is None:
        return os.environ.get("MLPLAB_COMPILED", "1").strip().lower() not in _OFF
    return settings.compiled
