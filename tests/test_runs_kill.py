"""``mlplab train`` killed with SIGKILL mid-run, then ``mlplab train --resume RUN``, ends with
the same final weights and logged numbers as a run never interrupted; the status reads stale
in between (the process is gone) and finished after."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mlplab.cli import main
from mlplab.runs import read_status

ROOT = Path(__file__).resolve().parent.parent
CONFIG = str(ROOT / "examples" / "digits.toml")
ARGS = ["train", CONFIG, "--set", "train.epochs=6"]
# The child is `mlplab train` itself, with one change: each epoch, once its files are written,
# sleeps, so that the kill lands between epochs 2 and 6 however fast the machine is (it may
# land anywhere in an epoch: the files are written atomically)
CHILD = """
import sys, time
from mlplab.runs.recorder import RunRecorder
write = RunRecorder.on_epoch_end
def slow(self, epoch, logs):
    write(self, epoch, logs)
    time.sleep(0.4)
RunRecorder.on_epoch_end = slow
from mlplab.cli import main
sys.exit(main(sys.argv[1:]))
"""


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: v for k, v in r.items() if k != "time"} for r in csv.DictReader(f)]


def arrays(path: Path) -> dict[str, bytes]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k].tobytes() for k in z.files if k != "meta"}


def only_run(runs_dir: Path) -> Path:
    (run,) = list(runs_dir.iterdir())
    return run


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sigkilled_train_resumes_to_the_uninterrupted_run(tmp_path, capsys):
    killed_dir = tmp_path / "killed"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *ARGS, "--runs-dir", str(killed_dir)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None:
            runs = list(killed_dir.iterdir()) if killed_dir.is_dir() else []
            metrics = runs[0] / "metrics.csv" if runs else None
            if metrics is not None and metrics.is_file() and len(rows(metrics)) >= 2:
                break
            time.sleep(0.02)
        assert child.poll() is None, (
            f"the run ended before it was killed: {child.stderr.read().decode()[-2000:]}"
        )
        child.send_signal(signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)
        child.stderr.close()
    run = only_run(killed_dir)
    done = len(rows(run / "metrics.csv"))
    assert 2 <= done < 6
    assert read_status(run)["status"] == "stale"  # "running" in the file, its process gone
    assert not (run / "model.npz").exists()

    assert main(["train", "--resume", str(run)]) == 0
    status = read_status(run)
    assert status["status"] == "finished" and status["resumed"] == 1
    assert status["resumed_from_epoch"] >= done - 1  # last.npz: the last epoch that ended

    reference_dir = tmp_path / "reference"
    assert main([*ARGS, "--runs-dir", str(reference_dir)]) == 0
    reference = only_run(reference_dir)
    capsys.readouterr()
    assert len(rows(reference / "metrics.csv")) == 6
    assert rows(run / "metrics.csv") == rows(reference / "metrics.csv")
    assert arrays(run / "model.npz") == arrays(reference / "model.npz")
    assert arrays(run / "checkpoints" / "best.npz") == arrays(
        reference / "checkpoints" / "best.npz"
    )
