"""Buffers the hot path reuses: writing into existing arrays, arrays at staggered page offsets,
work arrays by key, and flushing would-be subnormals (level 0).

The hot path reuses buffers instead of allocating (large NumPy allocations are fresh pages,
zeroed by the kernel on first touch). NumPy ufuncs write into ``out=`` in one pass; other
namespaces get the standard's ``out[...] = expr`` (a temporary, then a copy).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from ._typing import Array, Namespace
from .backend import get_namespace, is_numpy


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
        if buf is None or buf.shape != a.shape or buf.dtype != a.dtype or type(buf) is not type(a):
            buf = self._arrays[key] = empty_staggered(get_namespace(a), a.shape, a.dtype)
        return buf


def flush_tiny(a: Array) -> None:
    """Set entries below tiny * 2^24 in magnitude to 0, in place.

    Optimizer state that decays geometrically (momentum, Adam's moments for a dead unit) would
    otherwise pass through the subnormal range, where x86 arithmetic is ~100 times slower; values
    this small (float32: 2e-31) change no update. Called every few steps, it keeps them out.
    """
    xp = get_namespace(a)
    threshold = float(xp.finfo(a.dtype).smallest_normal) * 2.0**24
    a *= xp.astype(xp.abs(a) >= threshold, a.dtype)
