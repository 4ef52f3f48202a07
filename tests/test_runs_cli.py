"""``mlplab --version``, ``mlplab runs``, ``mlplab evaluate`` and ``mlplab predict`` on real runs
of ``mlplab train examples/digits.toml`` (2 epochs), checked against the run's own files
(metrics.csv, results.json) and the trainer's own predictions."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest

import mlplab
from mlplab.cli import main
from mlplab.config import build_experiment, load_config

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits.toml"


def train(runs_dir, lr, tag):
    argv = ["train", str(EXAMPLE), "--runs-dir", str(runs_dir), "--tag", tag]
    argv += ["--set", "train.epochs=2", "--set", f"optimizer.config.learning_rate={lr}"]
    argv += ["--name", f"lr{lr}"]
    assert main(argv) == 0
    return next(p for p in Path(runs_dir).iterdir() if p.name.endswith(f"-lr{lr}"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return root, train(root, 0.003, "fast"), train(root, 0.001, "slow")


def table(capsys, *argv):
    capsys.readouterr()
    assert main(["runs", *argv]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[0].split()
    return header, [dict(zip(header, line.split())) for line in lines[1:]]


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"mlplab {version('mlplab')}"
    assert version("mlplab") == mlplab.__version__


def test_runs_table_shows_what_differs_and_the_files_numbers(runs, capsys):
    root, fast, slow = runs
    header, rows = table(capsys, str(root))
    # the learning rate (and the name from --name, which config.toml does not hold) differ
    assert header == [
        "name",
        "tags",
        "status",
        "optimizer.config.learning_rate",
        "best_val",
        "test",
        "time",
    ]
    by_name = {r["name"]: r for r in rows}
    for run, tag, lr in ((fast, "fast", "0.0030"), (slow, "slow", "0.0010")):
        r = by_name[run.name]
        assert (r["tags"], r["status"], r["optimizer.config.learning_rate"]) == (
            tag,
            "finished",
            lr,
        )
        with open(run / "metrics.csv", newline="") as f:
            metrics = list(csv.DictReader(f))
        assert r["best_val"] == f"{max(float(m['val_accuracy']) for m in metrics):.4f}"
        test = json.loads((run / "results.json").read_text())["test"]["accuracy"]
        assert r["test"] == f"{test:.4f}"
        assert r["time"] == f"{sum(float(m['time']) for m in metrics):.4f}"
    _, rows = table(capsys, str(root), "--sort", "optimizer.config.learning_rate")
    assert [r["name"] for r in rows] == [slow.name, fast.name]
    _, rows = table(capsys, str(root), "--sort", "tags", "--reverse")
    assert [r["tags"] for r in rows] == ["slow", "fast"]


def test_runs_shows_a_killed_run_as_stale(runs, tmp_path, capsys):
    _, fast, _ = runs
    copy = tmp_path / fast.name
    shutil.copytree(fast, copy)
    status = json.loads((copy / "status.json").read_text())
    status.update(status="running", heartbeat="2020-01-01T00:00:00+00:00")
    (copy / "status.json").write_text(json.dumps(status))
    (tmp_path / "not-a-run").mkdir()
    _, rows = table(capsys, str(tmp_path))
    assert [(r["name"], r["status"]) for r in rows] == [(fast.name, "stale")]


def test_runs_errors(runs, tmp_path, capsys):
    assert main(["runs", str(tmp_path / "nowhere")]) == 1
    assert "is not a folder" in capsys.readouterr().err
    assert main(["runs", str(runs[0]), "--sort", "colour"]) == 1
    err = capsys.readouterr().err
    assert "--sort: unknown column 'colour'; valid: name, tags, status" in err
    assert main(["runs", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == "no runs"


def test_evaluate_equals_the_runs_results(runs, capsys):
    _, fast, _ = runs
    results = json.loads((fast / "results.json").read_text())
    for part, expected in (
        ("test", results["test"]),
        ("validation", results["validation"]),
        ("train", {"accuracy": 1 - results["bias_variance"]["train_error"]}),
    ):
        capsys.readouterr()
        assert main(["evaluate", str(fast), "--data", part]) == 0
        out = capsys.readouterr().out.split()
        assert out[0] == f"{part}:"
        scores = dict(zip(out[1::2], map(float, out[2::2])))
        if part == "train":
            assert scores["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-12)
        else:
            assert scores == expected  # bit for bit: the same split, preprocessing and weights


def test_evaluate_refuses_changed_data_and_unfinished_runs(runs, tmp_path, capsys):
    _, fast, _ = runs
    copy = tmp_path / fast.name
    shutil.copytree(fast, copy)
    fp = json.loads((copy / "fingerprint.json").read_text())
    fp["indices"]["train"]["sha256"] = "0" * 64
    (copy / "fingerprint.json").write_text(json.dumps(fp))
    assert main(["evaluate", str(copy)]) == 1
    assert "the data differ from those" in capsys.readouterr().err
    os.remove(copy / "model.npz")
    assert main(["evaluate", str(copy)]) == 1
    assert "has no model.npz (the run did not finish)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["evaluate", str(fast), "--data", "holdout"])
    assert e.value.code == 2
    assert "invalid choice: 'holdout'" in capsys.readouterr().err
    from mlplab.runs import evaluate_run

    with pytest.raises(ValueError, match="--data: unknown part 'holdout'; valid: test"):
        evaluate_run(fast, "holdout")


@pytest.fixture(scope="module")
def reference(runs):
    """The trainer's own test-set predictions and the raw rows they came from."""
    _, fast, _ = runs
    experiment = build_experiment(load_config(fast / "config.toml"))
    experiment.trainer.load(fast / "model.npz")
    rows = experiment.data.indices["test"][:25]
    raw = np.asarray(experiment.dataset.X)[rows]
    probs = experiment.trainer.predict(experiment.data.X_test[:25])
    return raw, np.asarray(probs), experiment.class_names


def predicted(capsys, run, path):
    capsys.readouterr()
    assert main(["predict", str(run), str(path)]) == 0
    return list(csv.reader(io.StringIO(capsys.readouterr().out)))


@pytest.mark.parametrize("kind", ["csv-header", "csv", "npy"])
def test_predict_equals_the_trainers_predictions(runs, reference, tmp_path, capsys, kind):
    raw, probs, names = reference
    if kind == "npy":
        path = tmp_path / "x.npy"
        np.save(path, raw)
    else:
        path = tmp_path / "x.csv"
        header = ",".join(f"pixel{i}" for i in range(raw.shape[1])) + "\n"
        body = "\n".join(",".join(repr(float(v)) for v in row) for row in raw)
        path.write_text((header if kind == "csv-header" else "") + body + "\n")
    out = predicted(capsys, runs[1], path)
    assert out[0] == ["class", *(f"p_{n}" for n in names)]
    assert len(out) == 1 + len(raw)
    got = np.array([[float(v) for v in row[1:]] for row in out[1:]])
    np.testing.assert_allclose(got, probs, rtol=1e-6, atol=1e-7)
    assert [row[0] for row in out[1:]] == [names[k] for k in probs.argmax(axis=1)]


def test_predict_errors(runs, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["predict", str(runs[1]), str(bad)]) == 1
    assert "the run's model takes 64 features per row, got shape (1, 2)" in capsys.readouterr().err
    bad.write_text("a,b\n1,2\nx,3\n")
    assert main(["predict", str(runs[1]), str(bad)]) == 1
    assert "line 3 is not numeric" in capsys.readouterr().err
    assert main(["predict", str(runs[1]), str(tmp_path / "none.csv")]) == 1
    assert "INPUT:" in capsys.readouterr().err
