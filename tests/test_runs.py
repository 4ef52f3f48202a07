"""Run folders (mlplab.runs): the files a training run writes, checked against independent
computations (a plain Trainer, scikit-learn's metrics, hashlib); resume and rerun bit for bit."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score, precision_recall_fscore_support
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from mlplab import Callback, Dense, ReLU, Sequential, Trainer, adam
from mlplab.runs import (
    check_run_dir,
    compare_runs,
    create_run,
    new_run_dir,
    read_status,
    train_run,
)
from mlplab.runs.files import write_json

EPOCHS = 3
CONFIG = 'name = "digits"\n'


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return {
        "train": (X[:900], y[:900]),
        "validation": (X[900:1300], y[900:1300]),
        "test": (X[1300:], y[1300:]),
    }


def make_trainer(epochs=EPOCHS, lr=1e-2, verbose=0, callbacks=()):
    model = Sequential([Dense(32), ReLU(), Dense(10)])
    return Trainer(
        model,
        "cross_entropy",
        adam(lr),
        batch_size=64,
        epochs=epochs,
        rng=np.random.default_rng(7),
        verbose=verbose,
        callbacks=callbacks,
    )


def experiment(data, **kw):
    return types.SimpleNamespace(
        trainer=make_trainer(**kw),
        data=data,
        class_names=None,
        epochs=kw.get("epochs", EPOCHS),
        seed=7,
    )


def rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_run_folder_holds_what_a_plain_trainer_computes(tmp_path, digits, capsys):
    run = create_run(tmp_path, "digits", CONFIG, config_path=__file__, tags=["a"])
    out = train_run(run, experiment(digits, verbose=2))
    files = sorted(os.listdir(run))
    assert files == sorted(
        [
            "checkpoints",
            "config.toml",
            "environment.json",
            "fingerprint.json",
            "history.json",
            "metrics.csv",
            "model.npz",
            "results.json",
            "status.json",
            "stdout.log",
        ]
    )
    assert sorted(os.listdir(run / "checkpoints")) == ["best.npz", "last.npz"]
    assert (run / "config.toml").read_text() == CONFIG
    assert run.name.endswith("-digits") and run.name[8] == "-" and run.name[:8].isdigit()

    # the same training by hand
    ref = make_trainer()
    hist = ref.fit(*digits["train"], validation_data=digits["validation"]).history
    table = rows(run / "metrics.csv")
    assert table[0] == ["epoch", *hist]
    for e, row in enumerate(table[1:]):
        assert row[0] == str(e + 1)
        for key, text in zip(table[0][1:], row[1:]):
            if key != "time":
                assert float(text) == hist[key][e], (e, key)  # bit for bit
    saved = json.loads((run / "history.json").read_text())
    assert saved["best_epoch"] is None
    assert {k: v for k, v in saved["history"].items() if k != "time"} == {
        k: v for k, v in hist.items() if k != "time"
    }

    # results: test set once, against scikit-learn
    X_te, y_te = digits["test"]
    pred = ref.predict_labels(X_te)
    assert out["test"]["accuracy"] == pytest.approx(accuracy_score(y_te, pred), abs=1e-12)
    assert out["confusion_matrix"] == sk_confusion_matrix(y_te, pred, labels=range(10)).tolist()
    p, r, f, s = precision_recall_fscore_support(y_te, pred, labels=range(10), zero_division=0)
    assert out["per_class"]["3"] == pytest.approx(
        {"precision": p[3], "recall": r[3], "f1": f[3], "support": s[3]}
    )
    bv = out["bias_variance"]
    assert bv["train_error"] == pytest.approx(1 - ref.evaluate(*digits["train"])["accuracy"])
    assert bv["verdict"] and isinstance(bv["remedies"], list)
    assert json.loads((run / "results.json").read_text()) == out

    # fingerprint: SHA-256 over dtype, shape and bytes
    X_tr = np.ascontiguousarray(digits["train"][0])
    h = hashlib.sha256(f"{X_tr.dtype.str}|{X_tr.shape}|".encode() + X_tr.tobytes())
    fp = json.loads((run / "fingerprint.json").read_text())
    assert fp["arrays"]["X_train"]["sha256"] == h.hexdigest()
    assert set(fp["arrays"]) == {f"{a}_{s}" for a in "Xy" for s in digits}

    env = json.loads((run / "environment.json").read_text())
    assert env["numpy"] == np.__version__
    assert env["python"] == sys.version.split()[0]
    assert isinstance(env["compiled_step"], bool) and isinstance(env["blas"], list)
    git = subprocess.run(
        ["git", "-C", os.path.dirname(__file__), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
    )
    if git.returncode == 0:
        assert env["git"]["commit"] == git.stdout.strip()

    status = read_status(run)
    assert status["status"] == "finished" and status["pid"] == os.getpid()
    assert status["epoch"] == EPOCHS and status["tags"] == ["a"] and not status["stale"]
    log = (run / "stdout.log").read_text()
    assert log.count("epoch ") == EPOCHS and "epoch 3/3" in capsys.readouterr().out


class StopAfter(Callback):
    """Interrupt (as Ctrl-C does) when epoch ``k + 1`` begins: epoch k's files are written."""

    def __init__(self, k):
        self.k = k

    def on_epoch_begin(self, epoch):
        if epoch == self.k:
            raise KeyboardInterrupt


def test_resume_after_a_stop_is_bit_exact(tmp_path, digits):
    full = create_run(tmp_path, "full", CONFIG)
    train_run(full, experiment(digits, epochs=4))
    cut = create_run(tmp_path, "cut", CONFIG)
    with pytest.raises(KeyboardInterrupt):
        train_run(cut, experiment(digits, epochs=4, callbacks=[StopAfter(2)]))
    status = read_status(cut)
    assert status["status"] == "interrupted" and status["epoch"] == 2
    assert len(rows(cut / "metrics.csv")) == 1 + 2
    train_run(cut, experiment(digits, epochs=4), resume=True)
    status = read_status(cut)
    assert status["status"] == "finished" and status["resumed_from_epoch"] == 2
    diff = compare_runs(full, cut)
    assert diff.identical, str(diff)
    assert str(diff) == "identical"
    with pytest.raises(ValueError, match="finished already; nothing to resume"):
        train_run(cut, experiment(digits, epochs=4), resume=True)


def test_rerun_names_the_first_difference(tmp_path, digits):
    a = create_run(tmp_path, "a", CONFIG)
    train_run(a, experiment(digits, epochs=2))
    b = create_run(tmp_path, "b", CONFIG)
    train_run(b, experiment(digits, epochs=2, lr=2e-2))
    diff = compare_runs(a, b)
    assert not diff.identical
    assert diff.first.startswith("epoch 1, loss: ")
    env = json.loads((b / "environment.json").read_text())
    write_json(b / "environment.json", {**env, "numpy": "0.0"})
    assert "numpy: " in str(compare_runs(a, b))
    c = create_run(tmp_path, "c", CONFIG)
    train_run(c, experiment(digits, epochs=2))
    assert compare_runs(a, c).identical
    with np.load(c / "model.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["state/0.W"] = arrays["state/0.W"] + 1
    np.savez(c / "model.npz", **arrays)
    assert compare_runs(a, c).first == "model.npz: final state/0.W differs"


def test_resume_refuses_what_it_cannot_continue(tmp_path, digits):
    run = create_run(tmp_path, "r", CONFIG)
    with pytest.raises(KeyboardInterrupt):
        train_run(run, experiment(digits, callbacks=[StopAfter(0)]))
    with pytest.raises(ValueError, match=r"has no checkpoints/last.npz .*start it again"):
        train_run(run, experiment(digits), resume=True)
    run = create_run(tmp_path, "r", CONFIG)
    with pytest.raises(KeyboardInterrupt):
        train_run(run, experiment(digits, callbacks=[StopAfter(1)]))
    other = dict(digits, train=(digits["train"][0][::-1].copy(), digits["train"][1]))
    with pytest.raises(ValueError, match=r"data differ .*X_train \(fingerprint.json arrays"):
        train_run(run, experiment(other), resume=True)
    status = json.loads((run / "status.json").read_text())
    write_json(
        run / "status.json",
        {**status, "status": "running", "pid": os.getpid(), "host": read_status(run)["host"]},
    )
    with pytest.raises(ValueError, match="is running .*resume a run that stopped"):
        train_run(run, experiment(digits), resume=True)


def test_status_of_a_killed_run_reads_stale(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    import socket

    from mlplab.runs.status import StatusFile, now_iso

    status = StatusFile(tmp_path, interval=0.05)
    status.start(epoch=0)
    first = json.loads((tmp_path / "status.json").read_text())
    assert read_status(tmp_path)["status"] == "running"
    import time

    time.sleep(0.2)  # the heartbeat thread rewrites the file
    assert json.loads((tmp_path / "status.json").read_text())["heartbeat"] >= first["heartbeat"]
    status.end("interrupted")
    assert read_status(tmp_path)["status"] == "interrupted"
    base = {"status": "running", "host": socket.gethostname(), "started": now_iso(), "ended": None}
    write_json(tmp_path / "status.json", {**base, "pid": int(dead.stdout), "heartbeat": now_iso()})
    assert read_status(tmp_path)["status"] == "stale"
    write_json(
        tmp_path / "status.json",
        {**base, "pid": os.getpid(), "heartbeat": "2020-01-01T00:00:00+00:00"},
    )
    assert read_status(tmp_path)["stale"] is True
    write_json(tmp_path / "status.json", {**base, "status": "running?"})
    with pytest.raises(ValueError, match="no valid 'status' .*running, finished, failed"):
        read_status(tmp_path)
    with pytest.raises(ValueError, match="status must be one of"):
        status.end("done")


def test_folder_names_and_run_dir_errors(tmp_path):
    a = new_run_dir(tmp_path / "runs", "x")
    b = new_run_dir(tmp_path / "runs", "x")
    assert a != b and (a / "checkpoints").is_dir()
    for bad in ("", "../up", "a/b", ".hidden", "-x", "x" * 81):
        with pytest.raises(ValueError, match="--name: a run name is 1-80 letters"):
            new_run_dir(tmp_path, bad)
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="--runs-dir: .* exists and is not a folder"):
        new_run_dir(tmp_path / "file", "x")
    with pytest.raises(ValueError, match="is not a folder"):
        check_run_dir(tmp_path / "missing")
    with pytest.raises(ValueError, match="is not a run folder: it has no config.toml, status"):
        check_run_dir(a)
    (a / "status.json").write_text("{")
    with pytest.raises(ValueError, match="status.json' is not valid JSON"):
        read_status(a)


def test_cli_train_rerun_and_resume_errors(tmp_path, capsys):
    pytest.importorskip("mlplab.config")
    from mlplab.cli import main

    example = os.path.join(os.path.dirname(__file__), "..", "examples", "digits.toml")
    runs = tmp_path / "runs"
    assert (
        main(
            [
                "train",
                example,
                "--runs-dir",
                str(runs),
                "--name",
                "d",
                "--tag",
                "x",
                "--set",
                "train.epochs=2",
            ]
        )
        == 0
    )
    (run,) = runs.iterdir()
    assert run.name.endswith("-d") and read_status(run)["tags"] == ["x"]
    assert "epochs = 2" in (run / "config.toml").read_text()
    assert len(rows(run / "metrics.csv")) == 1 + 2
    # mlplab train ends with the run's report, whose headline is the run's own test accuracy
    accuracy = json.loads((run / "results.json").read_text())["test"]["accuracy"]
    assert (
        f'data-key="test.accuracy" data-value="{accuracy!r}"' in (run / "report.html").read_text()
    )
    assert capsys.readouterr().out.splitlines()[-1] == f"report: {run / 'report.html'}"
    assert main(["rerun", str(run)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "identical"
    assert main(["train", "--resume", str(run)]) == 1
    assert "finished already" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--name", "x"]) == 1
    assert "give no CONFIG, --set, --name" in capsys.readouterr().err
    assert main(["train"]) == 1
    assert "give a CONFIG file (or --resume RUN)" in capsys.readouterr().err
    assert main(["rerun", str(tmp_path)]) == 1
    assert "is not a run folder" in capsys.readouterr().err
