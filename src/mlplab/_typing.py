"""Type aliases shared across mlplab (level 0)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

#: Any array of an array-API namespace (NumPy, array_api_strict, torch via array_api_compat, ...).
Array = Any
#: A namespace such as ``numpy`` or ``array_api_strict``.
Namespace = Any
#: A flat, ordered dict of named arrays with dotted keys: ``"0.W"``, ``"0.b"``, ``"2.gamma"``.
Params = dict[str, Array]
Grads = dict[str, Array]
#: A dtype given by name (``"float32"``) or as a dtype object of the namespace.
DTypeLike = Any
#: How registries accept an object: a name, ``{"name": ..., "config": {...}}`` or the object.
Spec = str | Mapping[str, Any] | Callable[..., Any] | Any
Generator = np.random.Generator
