"""Seed groups (mlplab.runs.groups, mlplab train --seeds, mlplab compare): each member equals a
plain run with its seed (bit for bit), and the intervals equal scipy's Welch t-test and the
Welch-Satterthwaite formula computed by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from mlplab.cli import main
from mlplab.config import build_experiment, load_config
from mlplab.runs import (
    compare_groups,
    compare_runs,
    create_group,
    create_run,
    read_group,
    train_run,
    welch_interval,
)
from mlplab.runs.files import new_run_dir, write_json
from mlplab.runs.groups import add_member

DIGITS = str(Path(__file__).resolve().parents[1] / "examples" / "digits.toml")


def fake_group(root, name, values, extra=None):
    """A group whose members' results.json hold ``values``: {metric: [one per member]}
    (metric "test.accuracy" -> results["test"]["accuracy"])."""
    n = len(next(iter(values.values())))
    group = create_group(root, name, list(range(n)))
    for i in range(n):
        run = new_run_dir(group, f"{name}-seed{i}")
        results: dict = {}
        for metric, vs in values.items():
            part, key = metric.split(".")
            results.setdefault(part, {})[key] = vs[i]
        results.update(extra or {})
        write_json(run / "results.json", results)
        add_member(group, i, run)
    return group


A = [0.81, 0.84, 0.83, 0.82]
B = [0.86, 0.88, 0.85]


def test_welch_interval_equals_scipy_and_the_formula_by_hand():
    got = welch_interval(A, B)
    ci = stats.ttest_ind(B, A, equal_var=False).confidence_interval(0.95)
    assert got.low == pytest.approx(ci.low, rel=1e-12)
    assert got.high == pytest.approx(ci.high, rel=1e-12)
    # by hand: sample variances (ddof 1), Welch-Satterthwaite degrees of freedom
    qa, qb = np.var(A, ddof=1) / len(A), np.var(B, ddof=1) / len(B)
    df = (qa + qb) ** 2 / (qa**2 / (len(A) - 1) + qb**2 / (len(B) - 1))
    half = stats.t.ppf(0.975, df) * math.sqrt(qa + qb)
    diff = np.mean(B) - np.mean(A)
    assert got.df == pytest.approx(df, rel=1e-12)
    assert got.diff == pytest.approx(diff, rel=1e-12)
    assert (got.low, got.high) == pytest.approx((diff - half, diff + half), rel=1e-12)
    assert got.excludes_zero and got.low > 0
    wide = welch_interval([0.8, 0.9], [0.82, 0.86])
    assert not wide.excludes_zero and wide.low < 0 < wide.high
    same = welch_interval([1.0, 1.0], [2.0, 2.0])  # no spread: the interval is the point
    assert (same.low, same.high, same.diff) == (1.0, 1.0, 1.0) and math.isnan(same.df)
    with pytest.raises(ValueError, match="at least 2 values, got 1 and 3"):
        welch_interval([0.8], B)
    with pytest.raises(ValueError, match="confidence must be in"):
        welch_interval(A, B, confidence=95)


def test_compare_groups_prints_each_metric_and_the_intervals_excluding_zero(tmp_path, capsys):
    loss_a, loss_b = [0.5, 0.52, 0.49, 0.51], [0.50, 0.53, 0.47]
    a = fake_group(tmp_path, "a", {"test.accuracy": A, "test.loss": loss_a})
    b = fake_group(tmp_path, "b", {"test.accuracy": B, "test.loss": loss_b})
    assert read_group(a)["seeds"] == [0, 1, 2, 3]
    result = compare_groups(a, b)
    by = {i.metric: i for i in result.intervals}
    assert set(by) == {"test.accuracy", "test.loss"}
    ci = stats.ttest_ind(loss_b, loss_a, equal_var=False).confidence_interval()
    assert (by["test.loss"].low, by["test.loss"].high) == pytest.approx(tuple(ci), rel=1e-12)
    assert by["test.accuracy"].mean_a == pytest.approx(np.mean(A), rel=1e-12)
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("test.")}
    acc = by["test.accuracy"]
    assert f"[{acc.low:+.4f}, {acc.high:+.4f}]  excludes 0" in lines["test.accuracy"]
    assert "excludes 0" not in lines["test.loss"]
    assert "intervals excluding 0: test.accuracy\n" in out
    assert "(4 runs)" in out and "(3 runs)" in out


def test_compare_errors(tmp_path, capsys):
    a = fake_group(tmp_path, "a", {"test.accuracy": A})
    one = fake_group(tmp_path, "one", {"test.accuracy": [0.9]})
    other = fake_group(tmp_path, "other", {"validation.accuracy": B})
    with pytest.raises(ValueError, match="not a seed group .*no group.json.*--seeds N"):
        compare_groups(tmp_path, a)
    with pytest.raises(ValueError, match="is not a folder"):
        compare_groups(a, tmp_path / "missing")
    with pytest.raises(ValueError, match="has 1 member run.*at least 2"):
        compare_groups(a, one)
    with pytest.raises(
        ValueError, match=r"only in A .*: test.accuracy; only in B .*: validation.accuracy"
    ):
        compare_groups(a, other)
    mixed = fake_group(tmp_path, "mixed", {"test.accuracy": B})
    members = read_group(mixed)["members"]
    (mixed / members[1]["run"] / "results.json").write_text(json.dumps({"test": {"loss": 1.0}}))
    with pytest.raises(ValueError, match="members of .* report different metrics"):
        compare_groups(a, mixed)
    (mixed / members[1]["run"] / "results.json").unlink()
    with pytest.raises(ValueError, match=r"seed 1\) has no results.json: it did not finish"):
        compare_groups(a, mixed)
    with pytest.raises(ValueError, match="distinct seeds >= 0"):
        create_group(tmp_path, "x", [1, 1])
    assert main(["compare", str(tmp_path), str(a)]) == 1
    assert "mlplab compare: error: GROUP:" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["train", DIGITS, "--seeds", "0"])
    assert e.value.code == 2
    assert "--seeds: must be >= 1, got 0" in capsys.readouterr().err
    assert main(["train", "--seeds", "2"]) == 1
    assert "--seeds N needs a CONFIG file" in capsys.readouterr().err


def test_train_seeds_members_equal_plain_runs_with_their_seed(tmp_path, capsys):
    runs = tmp_path / "runs"
    argv = ["train", DIGITS, "--seeds", "3", "--runs-dir", str(runs)]
    argv += ["--set", "train.epochs=2", "--set", "train.seed=3", "--tag", "g"]
    assert main(argv) == 0
    (group,) = runs.iterdir()
    assert group.name.endswith("-digits-seeds")
    data = read_group(group)
    assert data["name"] == "digits" and data["seeds"] == [3, 4, 5]
    # the group's report: the mean test accuracy over the members' results.json
    accuracies = [
        json.loads((group / m["run"] / "results.json").read_text())["test"]["accuracy"]
        for m in data["members"]
    ]
    page = (group / "report.html").read_text()
    assert f'data-key="0/test.accuracy/mean" data-value="{float(np.mean(accuracies))!r}"' in page
    assert [m["seed"] for m in data["members"]] == [3, 4, 5]
    for member in data["members"]:
        run = group / member["run"]
        assert run.name.endswith(f"-digits-seed{member['seed']}")
        assert (run / "report.html").is_file()
        assert json.loads((run / "status.json").read_text())["tags"] == ["g"]
        # the same config run plainly with that seed: identical, bit for bit
        config = load_config(DIGITS, ["train.epochs=2", f"train.seed={member['seed']}"])
        assert (run / "config.toml").read_text() == config.to_toml()
        plain = create_run(tmp_path / "plain", "digits", config.to_toml())
        train_run(plain, build_experiment(config))
        assert compare_runs(run, plain).identical
    first = json.loads((group / data["members"][0]["run"] / "results.json").read_text())
    second = json.loads((group / data["members"][1]["run"] / "results.json").read_text())
    assert first["test"] != second["test"]  # the seeds differ
    capsys.readouterr()
    assert main(["compare", str(group), str(group)]) == 0
    out = capsys.readouterr().out
    assert "test.accuracy" in out and "validation.loss" in out
    assert "intervals excluding 0: none" in out
