"""The thread pool: elementwise kernels over cache-sized chunks, on every core (level 0).

An optimizer step is several elementwise passes over every parameter, one NumPy ufunc each.
Splitting the arrays into chunks keeps a chunk in cache while all the passes of a step run over
it, and the chunks can be shared among threads (NumPy releases the GIL inside ufuncs; see
:func:`mlplab.set_num_threads` for why the default is one). Elementwise kernels give
bit-identical results however the arrays are split, so runs stay reproducible.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ._settings import get_num_threads
from ._typing import Array

#: elements per chunk (float32: 512 KiB per array)
CHUNK = 1 << 17


class _Pool:
    """The worker threads, started on first use and grown when more are asked for."""

    def __init__(self) -> None:
        self.executor: ThreadPoolExecutor | None = None
        self.pid: int | None = None

    def get(self, workers: int) -> ThreadPoolExecutor:
        # a pool inherited through fork has no threads: make a new one in a new process
        if self.executor is None or self.pid != os.getpid() or self.executor._max_workers < workers:
            self.executor = ThreadPoolExecutor(workers, thread_name_prefix="mlplab")
            self.pid = os.getpid()
        return self.executor


_pool = _Pool()


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
        if all(
            type(a) is np.ndarray and a.flags.c_contiguous and a.shape == arrays[0].shape
            for a in arrays
        ):
            size = arrays[0].size
            total += size
            if size > CHUNK:
                flat = [a.reshape(-1) for a in arrays]
                tasks.extend(tuple(f[i : i + CHUNK] for f in flat) for i in range(0, size, CHUNK))
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
    pool = _pool.get(workers - 1)
    shared = iter(tasks)
    futures = [pool.submit(_run_tasks, kernel, shared, args) for _ in range(1, workers)]
    _run_tasks(kernel, shared, args)
    for f in futures:
        f.result()
