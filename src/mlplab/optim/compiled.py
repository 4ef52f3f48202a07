"""Fused optimizer sweeps compiled with numba (optional; see ``backend.compiled_kernels``).

An elementwise transform may give, next to its NumPy kernel, its rule for one entry:
``element(i, g, state, p) -> u``, plain Python over scalars, where ``state`` is the tuple of its
state arrays (read and written at ``i``) and ``p`` its scalars (constants, then the per-step
arguments of ``prepare``). A chain of such transforms, and the step ``w += u``, become one loop

    for i in range(n):
        u = g[i]
        u = f0(i, u, (m, v), p0)      # e.g. Adam's direction
        u = f1(i, u, (), p1)          # times -eta
        w[i] += u

compiled once per chain of element functions and dtype. Each entry is read and written once
instead of once per NumPy pass (Adam: 11 passes). The operations are the NumPy kernel's, in its
order, so the two paths give the same bits (tests compare them).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from ..backend import compiled_kernels, foreach, get_num_threads, jit


class Element(NamedTuple):
    """One transform's per-entry rule: ``fn(i, g, state, p)``; ``constants`` lead ``p``."""
    fn: Callable[..., Any]
    constants: tuple
    n_arrays: int


_elements: dict[Callable, Callable] = {}
_loops: dict[tuple, Callable] = {}


def _compiled_element(fn: Callable) -> Callable:
    if fn not in _elements:
        _elements[fn] = jit(fn, inline="always", error_model="numpy")
    return _elements[fn]


def _loop(elements: tuple[Element, ...], apply: bool) -> Callable:
    """The compiled loop ``loop(g, out, *state_arrays, *p)`` for this chain of rules."""
    key = (tuple((e.fn, e.n_arrays) for e in elements), apply)
    if key in _loops:
        return _loops[key]
    names = [[f"x{j}_{k}" for k in range(e.n_arrays)] for j, e in enumerate(elements)]
    arrays = [a for group in names for a in group]
    lines = [f"def loop(g, out, {', '.join(arrays + [f'p{j}' for j in range(len(elements))])}):",
             "    for i in range(g.shape[0]):",
             "        u = g[i]"]
    for j, group in enumerate(names):
        lines.append(f"        u = f{j}(i, u, ({''.join(a + ', ' for a in group)}), p{j})")
    lines.append("        out[i] += u" if apply else "        out[i] = u")
    namespace = {f"f{j}": _compiled_element(e.fn) for j, e in enumerate(elements)}
    exec("\n".join(lines), namespace)  # noqa: S102 - our own template, no outside input
    # error_model="numpy": x / 0 gives inf like NumPy instead of raising (which would also stop
    # the loop from being vectorized); nogil: chunks may run on several threads
    loop = _loops[key] = jit(namespace["loop"], error_model="numpy", boundscheck=False,
                             nogil=True)
    return loop


def compiled_sweep(elements: tuple[Element, ...] | None, part_args: tuple, grads: dict,
                   state_arrays: Callable[[str], tuple], out: dict, apply: bool) -> bool:
    """Run the fused compiled loop over every parameter: ``out[k] += u`` with ``out`` the
    parameters when ``apply``, else ``out[k] = u`` into update buffers. ``part_args`` holds each
    element's per-step arguments. Returns False, having done nothing, when compiled kernels
    are off or the arrays are not C-contiguous NumPy float arrays of one dtype."""
    if not elements or not compiled_kernels():
        return False
    dtype = next(iter(grads.values())).dtype
    if dtype != np.float32 and dtype != np.float64:
        return False
    groups = []
    for k, g in grads.items():
        group = (g, out[k], *state_arrays(k))
        shape = g.shape
        for a in group:
            if type(a) is not np.ndarray or a.dtype != dtype or a.shape != shape \
                    or not a.flags.c_contiguous:
                return False
        groups.append(group if len(shape) == 1 else tuple(a.reshape(-1) for a in group))
    try:
        p = tuple(tuple(dtype.type(x) for x in (*e.constants, *args))
                  for e, args in zip(elements, part_args))
    except (TypeError, ValueError):  # an argument that is not a scalar
        return False
    loop = _loop(elements, apply)
    if get_num_threads() > 1:
        foreach(loop, groups, *p)
    else:
        for group in groups:
            loop(*group, *p)
    return True
