"""Fused optimizer steps in compiled code (the optional C extension ``mlplab._sweep``).

NumPy runs an optimizer step one ufunc at a time, each a pass over every parameter: Adam with
its learning rate and ``w += u`` makes 11 passes. An elementwise transform may name, next to its
NumPy kernel, the rule of ``_sweep.c`` that does the same arithmetic (``rule="adam"``); a chain
whose transforms all have rules, and the step ``w += u``, then run as one compiled sweep that
reads and writes each entry once. The NumPy kernels stay the reference and the fallback (no
compiler at install time, arrays that are not C-contiguous NumPy float arrays, or
``mlplab.set_compiled_kernels(False)``); both paths give the same bits, which the tests check.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from .._parallel import foreach
from .._settings import compiled_kernels_enabled, get_num_threads

try:
    from .._sweep import RULES, sweep as _sweep
except ImportError:  # built without a C compiler: NumPy kernels only
    RULES, _sweep = {}, None

#: whether the compiled extension was built
AVAILABLE = _sweep is not None


class Element(NamedTuple):
    """One transform's compiled rule: its name in ``_sweep.c``, the constants that lead its
    scalars (the per-step arguments of ``prepare`` follow), and how many state arrays it has."""
    rule: str
    constants: tuple
    n_arrays: int


def check_rule(rule: str, n_constants: int, n_arrays: int) -> None:
    """A transform's rule must exist and take its state arrays (checked when it is built)."""
    if AVAILABLE and (rule not in RULES or RULES[rule][1] != n_arrays
                      or RULES[rule][2] < n_constants):
        raise ValueError(f"compiled rule {rule!r} does not match its transform "
                         f"({n_arrays} state arrays, {n_constants} constants)")


def _program(elements: tuple[Element, ...]) -> bytes:
    return bytes(RULES[e.rule][0] for e in elements)


def compiled_sweep(elements: tuple[Element, ...] | None, part_args: Callable[[tuple], tuple],
                   args: tuple, grads: dict, state_arrays: Callable[[str], tuple], out: dict,
                   apply: bool) -> bool:
    """One compiled sweep over every parameter: ``out[k] += u`` with ``out`` the parameters
    when ``apply``, else ``out[k] = u`` into update buffers; ``part_args(args)`` splits the
    per-step arguments among the elements. Returns False, having done nothing, when it cannot
    run (see the module docstring)."""
    if not elements or _sweep is None or not compiled_kernels_enabled():
        return False
    first = next(iter(grads.values()))
    if type(first) is not np.ndarray:  # other array libraries (their dtypes do not compare
        return False                   # with NumPy's quietly) run the NumPy-free kernels
    dtype = first.dtype
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
        groups.append(group)
    try:
        scalars = tuple(float(x) for e, own in zip(elements, part_args(args))
                        for x in (*e.constants, *own))
    except (TypeError, ValueError):  # an argument that is not a scalar
        return False
    program = _program(elements)
    if get_num_threads() > 1:  # the extension releases the GIL: chunks run side by side
        foreach(lambda *arrays: _sweep(program, scalars, apply, *arrays),
                [tuple(a.reshape(-1) for a in group) for group in groups])
    else:
        for group in groups:
            _sweep(program, scalars, apply, *group)
    return True
