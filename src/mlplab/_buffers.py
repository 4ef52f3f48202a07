"""Buffers the hot path reuses (level 0): a matrix product written into an existing array,
arrays at staggered page offsets, and work arrays by key.

The hot path reuses buffers instead of allocating (large NumPy allocations are fresh pages,
zeroed by the kernel on first touch). NumPy's ``matmul`` writes into ``out=`` directly; other
namespaces get the standard's ``out[...] = a @ b`` (a temporary, then a copy). (Flushing
would-be subnormals from optimizer state is part of the update rule: ``optim/transforms.py``.)
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from ._typing import Array, Namespace
from .backend import get_namespace, is_numpy


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
_slots = itertools.count(1)  # next() is atomic under the GIL


def empty_staggered(xp: Namespace, shape: tuple, dtype: Any) -> Array:
    """An uninitialized array whose start within a page differs from the previous one's."""
    if not is_numpy(xp) or math.prod(shape) * np.dtype(dtype).itemsize < _PAGE:
        return xp.empty(shape, dtype=dtype)
    itemsize = np.dtype(dtype).itemsize
    offset = (next(_slots) * _STAGGER) % _PAGE
    raw = np.empty(math.prod(shape) * itemsize + 2 * _PAGE, dtype=np.uint8)
    start = (-raw.ctypes.data) % _PAGE + offset  # page-aligned, then the offset
    return raw[start : start + math.prod(shape) * itemsize].view(dtype).reshape(shape)


class Scratch:
    """Reusable work arrays by key, reallocated only when the shape, dtype or namespace of the
    array they stand in for changes. Not state: nothing in them survives a step's meaning."""

    def __init__(self) -> None:
        self._arrays: dict[Any, Array] = {}

    def like(self, key: Any, a: Array) -> Array:
        buf = self._arrays.get(key)
        if buf is None or buf.shape != a.shape or buf.dtype != a.dtype or type(buf) is not type(a):
            buf = self._arrays[key] = empty_staggered(get_namespace(a), a.shape, a.dtype)
        return buf
