"""The optional C extension ``mlplab._sweep`` (fused optimizer steps, see src/mlplab/_sweep.c).

Everything else is in pyproject.toml. Where the extension cannot be compiled (no C compiler),
the install goes on without it and mlplab runs its NumPy kernels, with the same results.
"""

import sys

from setuptools import Extension, setup

# no fast-math and no FMA contraction: the C rules must round exactly like the NumPy kernels
# (-fno-math-errno only lets sqrt vectorize; it changes no result)
FLAGS = (
    ["/O2", "/fp:precise"]
    if sys.platform == "win32"
    else ["-O3", "-ffp-contract=off", "-fno-math-errno"]
)

setup(
    ext_modules=[
        Extension("mlplab._sweep", ["src/mlplab/_sweep.c"], extra_compile_args=FLAGS, optional=True)
    ]
)
