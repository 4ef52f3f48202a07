"""The agreed layering: a module never imports a module of a higher level (checked with ast)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "mlplab"
LEVELS = {
    "_typing": 0,
    "errors": 0,
    "backend": 0,
    "_registry": 0,
    "_lazy": 0,
    "_sweep": 0,
    "_settings": 0,
    "_buffers": 0,
    "_parallel": 0,
    "initializers": 1,
    "activations": 1,
    "losses": 1,
    "regularizers": 1,
    "metrics": 1,
    "optim": 1,
    "data": 1,
    "layers": 2,
    "network": 2,
    "train": 3,
    "diagnostics": 3,
    "tune": 4,
    "config": 4,
    "sklearn": 4,
    "report": 5,
    "runs": 5,
    "cli": 5,
    "__init__": 5,
}
ARRAY_LIBRARIES = {"array_api_compat", "array_api_strict", "torch", "cupy", "jax"}


def modules():
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        if rel.parts[-1] in ("__init__", "__main__") and len(rel.parts) == 1:
            continue
        yield rel.parts[0], path


def imported_top_modules(path: Path):
    """(top-level mlplab module, is_relative) for each import in the file."""
    tree = ast.parse(path.read_text())
    pkg = path.relative_to(SRC).parts[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(pkg)[: len(pkg) - (node.level - 1)] if node.level > 1 else list(pkg)
                parts = base + (node.module.split(".") if node.module else [])
                if not parts:  # "from . import x": the flat public API, which imports everything
                    parts = ["__init__"]
                yield parts[0], None
            elif node.module:
                yield None, node.module.split(".")[0]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield None, a.name.split(".")[0]


@pytest.mark.parametrize("top, path", list(modules()), ids=lambda v: str(v))
def test_no_upward_imports(top, path):
    assert top in LEVELS, f"{top} has no level: add it to LEVELS and to STYLE.md's layout"
    for internal, external in imported_top_modules(path):
        if internal is not None:
            assert LEVELS[internal] <= LEVELS[top], (
                f"{path.name} (level {LEVELS[top]}) imports {internal} (level {LEVELS[internal]})"
            )
        elif external == "mlplab":
            raise AssertionError(f"{path.name}: import within the package relatively")
        elif external in ARRAY_LIBRARIES:
            assert path.name == "backend.py", f"{path.name} names {external}: only backend.py may"


def test_no_torch_in_library():
    for path in SRC.rglob("*.py"):
        assert "import torch" not in path.read_text(), path


def test_import_loads_numpy_only():
    """Training needs NumPy alone: ``import mlplab`` must not load scikit-learn, SciPy,
    matplotlib or pandas (about a second and 190 MB); the lazy names still resolve."""
    import subprocess
    import sys

    code = (
        "import sys, mlplab; heavy = [m for m in ('sklearn', 'scipy', 'matplotlib', "
        "'pandas', 'tqdm') if m in sys.modules]; print(heavy); "
        "from mlplab import Whitening, get_preprocessor; import mlplab.data as d; "
        "print(d.make_preprocessing.__module__, 'sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["[]", "mlplab.data.preprocessing True"], out.stdout
