"""The data a run saw, as SHA-256 digests (``fingerprint.json``): two runs with the same
fingerprint trained on the same bytes."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..backend import to_numpy


def array_digest(a: Any) -> dict[str, Any]:
    """``{"sha256", "shape", "dtype"}`` of an array: the digest covers the dtype, the shape and
    the C-order bytes, so a reshaped or recast array gets another digest."""
    a = np.ascontiguousarray(to_numpy(a))
    h = hashlib.sha256()
    h.update(f"{a.dtype.str}|{a.shape}|".encode())
    h.update(memoryview(a).cast("B"))
    return {"sha256": h.hexdigest(), "shape": list(a.shape), "dtype": a.dtype.name}


def fingerprint(arrays: Mapping[str, Any], indices: Mapping[str, Any] | None = None) -> dict:
    """``{"arrays": {name: digest}, "indices": {name: digest}}`` of the named data arrays (as
    loaded, e.g. ``"X_train"``) and of the split's index arrays (which rows went where)."""
    return {
        "arrays": {name: array_digest(a) for name, a in arrays.items()},
        "indices": {name: array_digest(a) for name, a in (indices or {}).items()},
    }
