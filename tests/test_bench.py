"""The benchmark scripts run (tiny sizes only; timings are never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_compare_sklearn_quick(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            str(BENCH / "compare_sklearn.py"),
            "--quick",
            "--json",
            str(tmp_path / "rows.json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert {r["model"] for r in rows} == {
        "scikit-learn float64",
        "scikit-learn float32",
        "mlplab float32",
    }
    assert all(0.0 <= r["test_accuracy"] <= 1.0 and r["fit_seconds"] > 0 for r in rows)
    assert "| digits |" in out.stdout


def test_throughput_quick(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            str(BENCH / "throughput.py"),
            "--quick",
            "--json",
            str(tmp_path / "t.json"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / "t.json").read_text())
    assert result["gemm_peak_gflops"] > 0 and len(result["configs"]) == 3
    from mlplab.optim import fast

    expected = ["mlplab", "PyTorch", "scikit-learn float32", "scikit-learn float64"]
    if fast.AVAILABLE:
        expected.insert(1, "mlplab, NumPy kernels")
    for entry in result["configs"]:
        names = [r["framework"] for r in entry["rows"]]
        assert names == expected
        assert entry["gemm_floor_s"] > 0
        for r in entry["rows"]:
            assert r["seconds_per_epoch"] > 0 and len(r["times"]) == 1
        assert entry["rows"][0]["peak_rss_mb"] > 0  # measured in a fresh process
    assert "mlplab / PyTorch:" in out.stdout


def test_time_to_accuracy_quick(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            str(BENCH / "time_to_accuracy.py"),
            "--quick",
            "--json",
            str(tmp_path / "a.json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    (row,) = json.loads((tmp_path / "a.json").read_text())
    assert 0.0 <= row["best_test_accuracy"] <= 1.0 and row["epochs_run"] >= 1
    assert "| 784-32-10 quick |" in out.stdout
