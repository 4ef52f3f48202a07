"""What a run ran on: the facts that can change its numbers (``environment.json``)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from .._settings import compiled_kernels_enabled, get_num_threads


def cpu_model() -> str | None:
    """The CPU's model name from ``/proc/cpuinfo`` (Linux), else ``platform.processor()``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Processor", "cpu model"):
                return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def git_commit(path: str | os.PathLike | None) -> dict | None:
    """``{"commit", "dirty"}`` of the git repository holding ``path``, or None outside one (or
    without git)."""
    if path is None:
        return None
    folder = Path(path).resolve()
    folder = folder if folder.is_dir() else folder.parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def blas_info() -> list[dict]:
    """The BLAS libraries NumPy loaded, with their thread counts (``threadpoolctl``)."""
    from threadpoolctl import threadpool_info

    keep = ("internal_api", "version", "num_threads", "threading_layer", "architecture")
    return [
        {k: info.get(k) for k in keep}
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def environment(config_path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Python, NumPy, the BLAS and its threads, the compiled optimizer step on or off, the
    optimizer sweep's threads, mlplab's version, the git commit of the repository holding the
    config (None outside one), the CPU model, the host's OS and machine."""
    from ..optim import fast

    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "numpy": np.__version__,
        "mlplab": _version("mlplab"),
        "scikit-learn": _version("scikit-learn"),
        "blas": blas_info(),
        "compiled_step": compiled_kernels_enabled() and fast.AVAILABLE,
        "sweep_threads": get_num_threads(),
        "git": git_commit(config_path),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }


#: facts that may differ between two machines without changing a single bit (rerun compares
#: the others)
INCIDENTAL = ("git",)
