"""The demo command runs offline and its gradient check passes."""

from __future__ import annotations

import subprocess
import sys


def test_demo_trains_reports_and_plots(tmp_path):
    plot = tmp_path / "plot.png"
    out = subprocess.run(
        [sys.executable, "-m", "mlplab", "demo", "--epochs", "15", "--plot", str(plot)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "Total params: 4,938" in out.stdout  # 64*64+64 + 2*64 + 64*10+10
    assert "gradient check: passed" in out.stdout
    assert out.stdout.count("epoch ") >= 5 and "\r" not in out.stdout
    accuracy = float(out.stdout.split("test accuracy ")[1].split()[0])
    assert accuracy > 0.9
    assert "precision" in out.stdout and "recall" in out.stdout and "f1-score" in out.stdout
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_init_experiment_prints_verdicts_and_plots(tmp_path):
    plot = tmp_path / "init.png"
    out = subprocess.run(
        [sys.executable, "-m", "mlplab", "init-experiment", "--width", "100", "--plot", str(plot)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    small, large, xavier = out.stdout.split("\n\n")[:3]
    assert small.startswith("N(0, 0.01)") and "collapsed toward a constant" in small
    assert large.startswith("N(0, 1)") and "saturated" in large and "PROBLEM" in large
    assert xavier.startswith("Xavier") and "PROBLEM" not in xavier
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
