"""The demo command runs offline and its gradient check passes."""
from __future__ import annotations

import subprocess
import sys


def test_demo_runs_and_gradcheck_passes():
    out = subprocess.run([sys.executable, "-m", "mlplab", "demo"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert "Total params: 2,474" in out.stdout  # 64*32+32 + 2*32 + 32*10+10
    assert "PASSED" in out.stdout
