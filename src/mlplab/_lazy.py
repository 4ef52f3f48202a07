"""Package attributes imported on first use (PEP 562).

``import mlplab`` stays light: scikit-learn (and with it SciPy's statistics and, where it is
installed, pandas: about a second and 190 MB) loads only when a preprocessing transformer or
another name that needs it is first asked for. Training a network needs NumPy alone.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_getattr(package: str, names: dict[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package`` that imports ``names[name]`` (a module path,
    relative to ``package``) on first access and caches the attribute in the package."""

    def __getattr__(name: str) -> object:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
