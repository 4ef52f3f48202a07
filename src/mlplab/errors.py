"""Validation helpers (level 0).

Every check raises before any work is done and names the owner and the offending value,
so that ``f"Dense: units must be a positive int, got {units=}"`` is the style of every message.
``ValueError`` for bad values and shapes, ``TypeError`` for bad types, ``RuntimeError`` for
wrong call order.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


class NotBuiltError(RuntimeError):
    """A layer or model was used before ``build``."""


def check_positive_int(owner: str, name: str, value: Any, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an int >= {minimum}, got {name}={value!r}")
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be an int >= {minimum}, got {name}={value!r}")
    return int(value)


def check_float(
    owner: str,
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as a Python float after checking it is a finite real in the given range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {name}={value!r}")
    value = float(value)
    lo = "[" if low_inclusive else "("
    hi = "]" if high_inclusive else ")"
    rng = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
    if not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be a finite number in {rng}, got {name}={value!r}")
    ok = True
    if low is not None:
        ok = value >= low if low_inclusive else value > low
    if high is not None:
        ok = ok and (value <= high if high_inclusive else value < high)
    if not ok:
        raise ValueError(f"{owner}: {name} must be in {rng}, got {name}={value!r}")
    return value


def check_rate(owner: str, name: str, value: Any) -> float:
    """A drop probability: 0 <= rate < 1 (rate 1 would drop every unit and divide by zero)."""
    return check_float(owner, name, value, low=0.0, high=1.0, high_inclusive=False)


def check_choice(owner: str, name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{owner}: {name} must be one of {list(choices)}, got {name}={value!r}")
    return value


def check_generator(owner: str, rng: Any) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{owner}: rng must be a numpy.random.Generator (e.g. numpy.random.default_rng(0)), "
            f"got {type(rng).__name__}"
        )
    return rng


def check_matrix(owner: str, x: Any, *, features: int | None = None, what: str = "input") -> Any:
    """``x`` as a 2-D array ``(batch, features)`` with at least one row, after checking it.

    Arrays are returned as they are; nested sequences (a list of rows, as scikit-learn and
    PyTorch accept) become a NumPy array. Ragged or non-numeric nesting is refused.
    """
    if getattr(x, "shape", None) is None:
        x = _as_numeric_array(owner, x, what)
    shape = tuple(x.shape)
    if len(shape) != 2:
        want = f"(batch, {features})" if features is not None else "(batch, features)"
        raise ValueError(f"{owner}: {what} must be 2-D of shape {want}, got shape {shape}")
    if features is not None and shape[1] != features:
        raise ValueError(
            f"{owner}: expected {what} of shape (batch, {features}), got shape {shape}"
        )
    if shape[0] == 0:
        raise ValueError(f"{owner}: {what} is empty (shape {shape})")
    return x


def _as_numeric_array(owner: str, x: Any, what: str) -> np.ndarray:
    """A nested sequence of numbers as a NumPy array (what ``numpy.asarray`` makes of it)."""
    if isinstance(x, (str, bytes)) or not hasattr(x, "__len__"):
        raise TypeError(
            f"{owner}: {what} must be an array or a list of rows of shape "
            f"(batch, features), got {type(x).__name__}"
        )
    try:
        a = np.asarray(x)
    except ValueError as e:  # ragged rows: NumPy 2 refuses inhomogeneous nesting
        raise ValueError(
            f"{owner}: {what} must be rows of equal length (batch, features): {e}"
        ) from None
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        raise TypeError(
            f"{owner}: {what} must hold numbers, got a {type(x).__name__} of dtype {a.dtype}"
        )
    return a
