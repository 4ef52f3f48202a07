"""The report of seed groups (mlplab.report.render_group_report, mlplab report GROUP) on two
groups written here by hand in the agreed format (member run folders + group.json): the numbers
on the page equal NumPy's means and standard deviations of the members' files, the band figure
is there, two groups get Welch's intervals equal to compare_groups; then the CLI."""

from __future__ import annotations

import json
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from mlplab.cli import main
from mlplab.report import load_group, render_group_report, write_group_report
from mlplab.runs import compare_groups

CHROMIUM = Path("/usr/bin/chromium")
COLS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "time")


def make_group(root: Path, name: str, seeds=(0, 1, 2), *, shift=0.0, epochs=4) -> Path:
    """A group folder: one run folder per seed (metrics.csv, results.json, status.json; the
    first also its report.html) and group.json listing them."""
    group = root / f"20260101-000000-{name}-seeds"
    group.mkdir(parents=True)
    members = []
    for seed in seeds:
        rng = np.random.default_rng(seed + int(100 * shift))
        run = group / f"20260101-000000-{name}-seed{seed}"
        run.mkdir()
        loss = np.sort(rng.uniform(0.1, 2.0, epochs))[::-1]
        acc = np.sort(rng.uniform(0.3, 0.9, epochs)) + shift
        cols = [loss, acc, loss + 0.1, acc - 0.05, np.full(epochs, 1e-3), rng.uniform(1, 2, epochs)]
        lines = ["epoch," + ",".join(COLS)]
        lines += [f"{e + 1}," + ",".join(repr(float(c[e])) for c in cols) for e in range(epochs)]
        (run / "metrics.csv").write_text("\n".join(lines) + "\n")
        results = {
            "test": {"loss": float(rng.uniform(0.2, 1)), "accuracy": float(acc[-1] - 0.01)},
            "validation": {"loss": float(loss[-1] + 0.1), "accuracy": float(acc[-1] - 0.05)},
        }
        (run / "results.json").write_text(json.dumps(results))
        (run / "status.json").write_text(json.dumps({"status": "finished"}))
        if seed == seeds[0]:
            (run / "report.html").write_text("<html></html>")
        members.append({"seed": seed, "run": run.name})
    (group / "group.json").write_text(
        json.dumps({"name": name, "seeds": list(seeds), "members": members})
    )
    return group


class Cells(HTMLParser):
    """data-key -> data-value of the page's number cells; hrefs; svg count."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, float] = {}
        self.hrefs: list[str] = []
        self.svgs = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-key" in a and "data-value" in a:
            self.values[a["data-key"]] = float(a["data-value"])
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"])
        if tag == "svg":
            self.svgs += 1


def parse(html: str) -> Cells:
    p = Cells()
    p.feed(html)
    return p


def member_files(group: Path):
    runs = [group / m["run"] for m in json.loads((group / "group.json").read_text())["members"]]
    curves = [np.genfromtxt(r / "metrics.csv", delimiter=",", names=True) for r in runs]
    results = [json.loads((r / "results.json").read_text()) for r in runs]
    return curves, results


def test_group_page_numbers_equal_numpy_on_the_members_files(tmp_path):
    group = make_group(tmp_path, "base")
    html = render_group_report([group])
    cells = parse(html)
    curves, results = member_files(group)
    for part in ("test", "validation"):
        for metric in ("loss", "accuracy"):
            xs = np.array([r[part][metric] for r in results])
            key = f"0/{part}.{metric}"
            np.testing.assert_allclose(cells.values[f"{key}/mean"], xs.mean(), rtol=1e-12)
            np.testing.assert_allclose(cells.values[f"{key}/std"], xs.std(ddof=1), rtol=1e-12)
            assert cells.values[f"{key}/min"] == xs.min()
            assert cells.values[f"{key}/max"] == xs.max()
    for col in ("loss", "val_accuracy", "lr"):
        ys = np.stack([c[col] for c in curves])  # (members, epochs)
        for e in range(ys.shape[1]):
            key = f"0/epoch{e + 1}/{col}"
            np.testing.assert_allclose(cells.values[f"{key}/mean"], ys[:, e].mean(), rtol=1e-12)
            np.testing.assert_allclose(
                cells.values[f"{key}/std"], ys[:, e].std(ddof=1), rtol=1e-12, atol=1e-15
            )
            assert cells.values[f"{key}/min"] == ys[:, e].min()
            assert cells.values[f"{key}/max"] == ys[:, e].max()
    assert not any("time" in k for k in cells.values)  # wall-clock is no curve
    # the band figure: one SVG, per curve (5: wall-clock left out) a min-max and a std band
    assert cells.svgs == 1 and "min-max" in html
    assert html.count('id="FillBetweenPolyCollection_') == 2 * 5
    # each member listed, the one with a report linked relative to the group folder
    name = json.loads((group / "group.json").read_text())["members"][0]["run"]
    assert cells.hrefs == [f"{name}/report.html"]
    assert all(m in html for m in ("base-seed0", "base-seed1", "base-seed2"))


def test_two_groups_compare_means_and_welch_intervals(tmp_path):
    a, b = make_group(tmp_path, "a"), make_group(tmp_path, "b", seeds=(5, 6, 7, 8), shift=0.05)
    out = tmp_path / "both.html"
    write_group_report([a, b], out)
    cells = parse(out.read_text())
    cmp = compare_groups(a, b)
    assert cmp.intervals
    for iv in cmp.intervals:
        assert cells.values[f"welch/{iv.metric}/diff"] == iv.diff
        assert cells.values[f"welch/{iv.metric}/low"] == iv.low
        assert cells.values[f"welch/{iv.metric}/high"] == iv.high
    _, results_b = member_files(b)
    xs = np.array([r["test"]["accuracy"] for r in results_b])
    np.testing.assert_allclose(cells.values["cmp/1/test.accuracy/mean"], xs.mean(), rtol=1e-12)
    assert cells.values["1/test.accuracy/std"] == pytest.approx(xs.std(ddof=1), rel=1e-12)
    assert cells.svgs == 3  # the groups overlaid, then each group's bands


def test_group_with_unfinished_member_and_errors(tmp_path):
    group = make_group(tmp_path, "g")
    last = json.loads((group / "group.json").read_text())["members"][-1]["run"]
    (group / last / "results.json").unlink()  # still running: its curves count, no finals
    g = load_group(group)
    assert g.finals["test.loss"]["n"] == 2 and len(g.members) == 3
    with pytest.raises(ValueError, match="not a seed group"):
        load_group(tmp_path)
    with pytest.raises(TypeError, match="wrap it in a list"):
        render_group_report(group)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="group_dirs is empty"):
        render_group_report([])
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "group.json").write_text(json.dumps({"name": "e", "seeds": [0], "members": []}))
    with pytest.raises(ValueError, match="has no member runs"):
        load_group(empty)


def test_cli_report_on_groups(tmp_path, capsys):
    a, b = make_group(tmp_path, "a"), make_group(tmp_path, "b", shift=0.1)
    assert main(["report", str(a)]) == 0
    assert (a / "report.html").is_file() and "Group a" in (a / "report.html").read_text()
    out = tmp_path / "ab.html"
    assert main(["report", str(a), str(b), "-o", str(out)]) == 0
    assert "Welch" in out.read_text()
    run = next(p for p in a.iterdir() if p.is_dir())
    assert main(["report", str(a), str(run)]) == 1
    assert "not both" in capsys.readouterr().err


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install chromium)")
def test_group_report_in_headless_chromium(tmp_path):
    a, b = make_group(tmp_path, "a"), make_group(tmp_path, "b", shift=0.1)
    out = write_group_report([a, b], tmp_path / "groups.html")
    shot = tmp_path / "groups.png"
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    subprocess.run(
        [*cmd, f"--screenshot={shot}", "--window-size=1280,2400", out.as_uri()],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert shot.stat().st_size > 10_000
    dom = subprocess.run(
        [*cmd, "--dump-dom", out.as_uri()], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    assert parse(dom).values == parse(out.read_text()).values
