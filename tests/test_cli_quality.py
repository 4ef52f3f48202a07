"""CLI quality (issue 13): every user mistake on every subcommand ends in one clear line on
stderr and exit status 1 (a failure) or 2 (argparse's usage error), never a traceback. Each
case runs in-process through ``mlplab.cli.main``; an unexpected exception would propagate and
fail the test with its traceback, as it should."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from mlplab.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits.toml"


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    """A finished 1-epoch run, a run still running (this process's pid, fresh heartbeat), a
    folder that is not a run, bad configs and bad inputs."""
    root = tmp_path_factory.mktemp("quality")
    argv = ["train", str(EXAMPLE), "--runs-dir", str(root / "runs"), "--name", "ok"]
    argv += ["--set", "train.epochs=1", "--set", "monitor.enabled=false"]
    assert main(argv) == 0
    run = next((root / "runs").iterdir())
    running = root / "runs" / "running"
    shutil.copytree(run, running)
    status = json.loads((running / "status.json").read_text())
    status.update(status="running", pid=os.getpid())
    (running / "status.json").write_text(json.dumps(status))
    (root / "notrun").mkdir()
    (root / "bad-value.toml").write_text(EXAMPLE.read_text().replace("epochs = 20", "epochs = 0"))
    (root / "bad-toml.toml").write_text("[train\nepochs = 1\n")
    (root / "binary.npy").write_bytes(b"\x00\x01not an npy file")
    (root / "text.csv").write_text("a,b\nx,y\n")
    (root / "good.csv").write_text(",".join(["0"] * 64) + "\n")
    (root / "wrong-width.csv").write_text("1,2,3\n4,5,6\n")
    return {"root": str(root), "run": str(run), "running": str(running)}


# (argv with {placeholders}, exit status, a word the last stderr line must contain)
CASES = {
    "config missing file": (["config", "validate", "{root}/nope.toml"], 1, "nope.toml"),
    "config show missing file": (["config", "show", "{root}/nope.toml"], 1, "nope.toml"),
    "config bad toml": (["config", "validate", "{root}/bad-toml.toml"], 1, "toml"),
    "config bad value": (["config", "validate", "{root}/bad-value.toml"], 1, "train.epochs"),
    "config a folder": (["config", "validate", "{root}"], 1, "quality"),
    "config bad action": (["config", "check", "{root}/x.toml"], 2, "action"),
    "config --set without =": (["config", "show", str(EXAMPLE), "--set", "x"], 1, "x"),
    "config --set bad toml": (["config", "show", str(EXAMPLE), "--set", "a.b=["], 1, "unknown key"),
    "config --set bad list": (
        ["config", "show", str(EXAMPLE), "--set", "train.epochs=["],
        1,
        "train.epochs",
    ),
    "config --set unknown key": (["config", "show", str(EXAMPLE), "--set", "a.b=1"], 1, "a"),
    "config --set bad value": (
        ["config", "show", str(EXAMPLE), "--set", "train.epochs=-1"],
        1,
        "train.epochs",
    ),
    "train no config": (["train", "--runs-dir", "{root}/r"], 1, "CONFIG"),
    "train missing config": (["train", "{root}/nope.toml", "--runs-dir", "{root}/r"], 1, "nope"),
    "train bad value": (["train", "{root}/bad-value.toml", "--runs-dir", "{root}/r"], 1, "epochs"),
    "train --set without =": (
        ["train", str(EXAMPLE), "--runs-dir", "{root}/r", "--set", "x"],
        1,
        "x",
    ),
    "train --set bad toml": (
        ["train", str(EXAMPLE), "--runs-dir", "{root}/r", "--set", "a.b=["],
        1,
        "unknown key",
    ),
    "train --set unknown key": (
        ["train", str(EXAMPLE), "--runs-dir", "{root}/r", "--set", "train.epoch=1"],
        1,
        "train.epoch",
    ),
    "train --seeds 0": (["train", str(EXAMPLE), "--seeds", "0"], 2, "--seeds"),
    "train --seeds x": (["train", str(EXAMPLE), "--seeds", "x"], 2, "--seeds"),
    "train --seeds bad value": (
        ["train", "{root}/bad-value.toml", "--seeds", "2", "--runs-dir", "{root}/r"],
        1,
        "epochs",
    ),
    "train --seeds --resume": (["train", "--seeds", "2", "--resume", "{run}"], 1, "--seeds"),
    "train --resume not a run": (["train", "--resume", "{root}/notrun"], 1, "not a run folder"),
    "train --resume missing": (["train", "--resume", "{root}/nope"], 1, "not a folder"),
    "train --resume with config": (["train", str(EXAMPLE), "--resume", "{run}"], 1, "--resume"),
    "train --resume running": (["train", "--resume", "{running}"], 1, "running"),
    "rerun not a run": (["rerun", "{root}/notrun"], 1, "not a run folder"),
    "rerun missing": (["rerun", "{root}/nope"], 1, "not a folder"),
    "runs missing dir": (["runs", "{root}/nope"], 1, "nope"),
    "runs bad sort": (["runs", "{root}/runs", "--sort", "colour"], 1, "colour"),
    "evaluate not a run": (["evaluate", "{root}/notrun"], 1, "not a run folder"),
    "evaluate bad data": (["evaluate", "{run}", "--data", "all"], 2, "--data"),
    "evaluate running": (["evaluate", "{running}"], 1, "running"),
    "predict missing input": (["predict", "{run}", "{root}/nope.csv"], 1, "nope.csv"),
    "predict unreadable npy": (["predict", "{run}", "{root}/binary.npy"], 1, "binary.npy"),
    "predict text csv": (["predict", "{run}", "{root}/text.csv"], 1, "text.csv"),
    "predict wrong width": (["predict", "{run}", "{root}/wrong-width.csv"], 1, "features"),
    "predict input a folder": (["predict", "{run}", "{root}"], 1, "quality"),
    "predict not a run": (["predict", "{root}/notrun", "{root}/good.csv"], 1, "notrun"),
    "predict running": (["predict", "{running}", "{root}/good.csv"], 1, "running"),
    "report missing run": (["report", "{root}/nope"], 2, "not a folder"),
    "report not a run": (["report", "{root}/notrun"], 1, "notrun"),
    "report -o missing folder": (["report", "{run}", "-o", "{root}/no/r.html"], 2, "-o"),
    "compare not groups": (["compare", "{run}", "{root}/notrun"], 1, "group"),
    "demo bad epochs": (["demo", "--epochs", "0"], 2, "--epochs"),
    "demo bad plot folder": (["demo", "--plot", "{root}/no/p.png"], 2, "--plot"),
    "init-experiment bad depth": (["init-experiment", "--depth", "x"], 2, "--depth"),
    "unknown command": (["fly"], 2, "fly"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_user_mistake_gives_one_clear_line(case, places, capsys):
    argv, code, word = CASES[case]
    argv = [a.format(**places) for a in argv]
    capsys.readouterr()
    try:
        status = main(argv)
    except SystemExit as e:  # argparse's usage error
        status = e.code
    err = capsys.readouterr().err
    assert status == code, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "no message on stderr"
    assert word.lower() in lines[-1].lower(), err
