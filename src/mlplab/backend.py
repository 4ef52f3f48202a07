"""Array-library knowledge lives here and nowhere else (level 0): namespaces and dtypes.

Engine code asks :func:`get_namespace` for the namespace of its inputs and then uses only
functions of the array API standard. NumPy arrays get NumPy itself (NumPy 2 implements the
standard in its main namespace), everything else goes through ``array_api_compat``. Buffers
the hot path reuses live in ``_buffers``, the thread pool in ``_parallel``, and process-wide
settings (threads, the compiled switch) in ``_settings``.
"""

from __future__ import annotations

import importlib
from typing import Any

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
