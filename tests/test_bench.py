"""The benchmark scripts run (tiny sizes only; timings are never asserted)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_compare_sklearn_quick(tmp_path):
    out = subprocess.run([sys.executable, str(BENCH / "compare_sklearn.py"), "--quick", "--json",
                          str(tmp_path / "rows.json")], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert {r["model"] for r in rows} == {"scikit-learn float64", "scikit-learn float32",
                                          "mlplab float32"}
    assert all(0.0 <= r["test_accuracy"] <= 1.0 and r["fit_seconds"] > 0 for r in rows)
    assert "| digits |" in out.stdout
