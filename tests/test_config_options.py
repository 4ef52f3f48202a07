"""Config options the runs need: [monitor], data.n, callbacks.reduce_lr_on_plateau; and the
quality of the CLI's --help texts."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import pytest

from mlplab.cli import main
from mlplab.config import ConfigError, build_experiment, load_config
from mlplab.runs import create_run, train_run

BASE = """
[data]
dataset = "digits"

[[preprocessing]]
name = "minmax"

[model]
hidden = { depth = 1, units = 16 }

[train]
epochs = 3
"""


def config(tmp_path: Path, extra: str = "", overrides: list[str] | None = None):
    path = tmp_path / "c.toml"
    path.write_text(BASE + extra)
    return load_config(path, overrides or [])


def run(tmp_path: Path, cfg) -> tuple[Path, object]:
    experiment = build_experiment(cfg)
    folder = create_run(tmp_path / "runs", "t", cfg.to_toml())
    train_run(folder, experiment)
    return folder, experiment


# -- [monitor] --------------------------------------------------------------------------------


def test_monitor_section_writes_per_layer_statistics_of_each_recorded_epoch(tmp_path):
    cfg = config(tmp_path, "[monitor]\nevery = 2\nexamples = 200\n", ["train.epochs=5"])
    folder, experiment = run(tmp_path, cfg)
    entries = json.loads((folder / "monitor.json").read_text())
    assert [e["epoch"] for e in entries] == [0, 2, 4]  # 0-based, every second epoch
    for e in entries:
        assert set(e["grad_norm"]) == {"0.W", "2.W"}  # both Dense layers
        assert set(e["dead"]) == {"1"}  # the ReLU
        assert set(e["std"]) == {"1"}  # activation layers only
    # the last entry is of the final weights: recompute it independently with NumPy
    params = {k: np.asarray(v, np.float64) for k, v in experiment.trainer.model.params().items()}
    X = np.asarray(experiment.data.X_train[:200], np.float64)
    y = np.asarray(experiment.data.y_train[:200])
    z0 = X @ params["0.W"] + params["0.b"]
    h = np.maximum(z0, 0.0)
    z = h @ params["2.W"] + params["2.b"]
    last = entries[-1]
    assert last["std"]["1"] == pytest.approx(h.std(), rel=1e-5)
    assert last["dead"]["1"] == pytest.approx(float(np.mean(~np.any(h > 0, axis=0))))
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1.0  # d(mean cross-entropy)/dz = (softmax - onehot) / n
    grad_W = h.T @ p / len(y)
    assert last["grad_norm"]["2.W"] == pytest.approx(np.linalg.norm(grad_W), rel=1e-4)


def test_monitor_is_off_by_default_and_shown_resolved(tmp_path):
    cfg = config(tmp_path)
    assert not cfg.monitor.enabled
    assert "[monitor]\nenabled = false" in cfg.to_toml()
    trainer = build_experiment(cfg).trainer
    assert not any(type(c).__name__ == "TrainingMonitor" for c in trainer.callbacks)
    off = config(tmp_path, "[monitor]\nenabled = false\nevery = 3\n")
    assert not any(hasattr(c, "reports") for c in build_experiment(off).trainer.callbacks)


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ("[monitor]\nevery = 0\n", r"monitor\.every: input should be greater than 0, got 0"),
        ("[monitor]\nexamples = -1\n", r"monitor\.examples: input should be greater than 0"),
        ("[monitor]\nevry = 2\n", r"monitor\.evry: unknown key; valid keys: enabled, every"),
        ('[monitor]\nenabled = "yes"\n', r"monitor\.enabled: input should be a valid boolean"),
    ],
)
def test_monitor_errors_name_the_toml_path(tmp_path, extra, match):
    with pytest.raises(ConfigError, match=match):
        config(tmp_path, extra)


# -- data.n -----------------------------------------------------------------------------------


def test_data_n_uses_the_first_n_examples(tmp_path):
    from sklearn.datasets import load_digits

    cfg = config(tmp_path, overrides=["data.n=500"])
    experiment = build_experiment(cfg)
    idx = experiment.data.indices
    used = np.concatenate([idx["train"], idx["validation"], idx["test"]])
    assert sorted(used.tolist()) == list(range(500))  # every one of the first 500, once
    assert (len(idx["train"]), len(idx["validation"]), len(idx["test"])) == (300, 100, 100)
    X, y = load_digits(return_X_y=True)
    lo, hi = X[:500][idx["train"]].min(axis=0), X[:500][idx["train"]].max(axis=0)
    expected = (X[:500][idx["test"]] - lo) / np.where(hi > lo, hi - lo, 1.0)
    np.testing.assert_allclose(experiment.data.X_test, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(experiment.data.y_test, y[:500][idx["test"]])
    assert "n = 500" in cfg.to_toml()


@pytest.mark.parametrize(
    ("override", "error", "match"),
    [
        ("data.n=0", ConfigError, r"data\.n: input should be greater than 0, got 0"),
        ('data.n="10"', ConfigError, r"data\.n: input should be a valid integer"),
        ("data.n=5000", ValueError, r"data\.n: 5000 is more than the 1797 training examples"),
    ],
)
def test_data_n_errors_name_the_toml_path(tmp_path, override, error, match):
    with pytest.raises(error, match=match):
        build_experiment(config(tmp_path, overrides=[override]))


# -- callbacks.reduce_lr_on_plateau ------------------------------------------------------------


def test_reduce_lr_on_plateau_follows_the_rule_on_the_logged_values(tmp_path):
    # mode "max" on the falling training loss: no epoch after the first improves, so the rate
    # halves every `patience` epochs down to min_lr
    extra = """
[optimizer]
name = "sgd"
config = { learning_rate = 0.08 }
[callbacks.reduce_lr_on_plateau]
monitor = "loss"
mode = "max"
patience = 1
factor = 0.5
min_lr = 0.015
"""
    folder, _ = run(tmp_path, config(tmp_path, extra, ["train.epochs=6"]))
    with open(folder / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    lrs, losses = [float(r["lr"]) for r in rows], [float(r["loss"]) for r in rows]
    # the reference: Keras's rule replayed on the logged losses
    lr, best, wait, expected = 0.08, -np.inf, 0, []
    for loss in losses:
        expected.append(lr)
        if loss > best:
            best, wait = loss, 0
            continue
        wait += 1
        if wait >= 1:
            wait, lr = 0, max(lr * 0.5, 0.015)
    assert lrs == pytest.approx(expected)
    assert lrs[0] == 0.08 and lrs[-1] == 0.015  # it did reduce, and stopped at min_lr


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ("factor = 1.5", r"callbacks\.reduce_lr_on_plateau\.factor: must be in \(0\.0, 1\.0\)"),
        ("patience = -1", r"callbacks\.reduce_lr_on_plateau\.patience: must be an int >= 0"),
        ('mode = "up"', r"callbacks\.reduce_lr_on_plateau\.mode: must be one of"),
        ("patiense = 2", r"reduce_lr_on_plateau\.patiense: unknown key; valid keys: factor"),
        ("min_lr = -0.1", r"callbacks\.reduce_lr_on_plateau\.min_lr: "),
    ],
)
def test_reduce_lr_on_plateau_errors_name_the_toml_path(tmp_path, extra, match):
    with pytest.raises(ConfigError, match=match):
        config(tmp_path, f"[callbacks.reduce_lr_on_plateau]\n{extra}\n")


def test_reduce_lr_on_plateau_refuses_a_schedule_and_a_rate_free_optimizer(tmp_path):
    section = "[callbacks.reduce_lr_on_plateau]\npatience = 2\n"
    with pytest.raises(ConfigError, match=r"reduce_lr_on_plateau: the learning rate follows "):
        config(tmp_path, section + '[schedule]\nname = "cosine_decay"\n')
    with pytest.raises(ConfigError, match=r"optimizer\.name='lbfgs' has no learning rate"):
        config(tmp_path, section + '[optimizer]\nname = "lbfgs"\n')


# -- CLI help -----------------------------------------------------------------------------------


def _parsers(monkeypatch) -> dict[str, argparse.ArgumentParser]:
    """The CLI's parser and each subcommand's, as main() builds them."""
    found: dict[str, argparse.ArgumentParser] = {}

    def capture(self, args=None, namespace=None):
        found[""] = self
        raise SystemExit(0)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    with pytest.raises(SystemExit):
        main([])
    monkeypatch.undo()
    top = found[""]
    sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    return {"": top, **sub.choices}


def test_every_option_and_subcommand_has_help(monkeypatch):
    parsers = _parsers(monkeypatch)
    assert {"train", "config", "report", "rerun", "runs"} <= set(parsers)
    top = parsers[""]
    sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    for choice in sub._choices_actions:
        assert choice.help, f"subcommand {choice.dest!r} has no help"
    for name, parser in parsers.items():
        assert parser.description, f"mlplab {name} --help has no description"
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            where = f"mlplab {name} {'/'.join(action.option_strings) or action.dest}"
            assert action.help and action.help != argparse.SUPPRESS, f"{where}: no help"


def test_help_of_every_subcommand_exits_0_without_internal_notes(monkeypatch, capsys):
    names = [n for n in _parsers(monkeypatch) if n]
    for name in ["", *names]:
        with pytest.raises(SystemExit) as exit_:
            main([name, "--help"] if name else ["--help"])
        assert exit_.value.code == 0
        text = capsys.readouterr().out
        assert text.startswith("usage: mlplab")
        for note in ("level ", "nothing imports", "TODO", "XXX", "%%", "``"):
            assert note not in text, f"mlplab {name} --help shows {note!r}"
        # every option line has text: an option alone on its line continues on the next one
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("  -") and "  " not in line.strip():
                nxt = lines[i + 1] if i + 1 < len(lines) else ""
                assert nxt.startswith(" " * 6) and nxt.strip(), f"{name}: {line!r} has no help"
