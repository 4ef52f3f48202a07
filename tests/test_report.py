"""The HTML report (mlplab.report) on run folders written here by hand in the agreed format:
the numbers in the page equal those in the files, every figure is there, the differing
hyperparameter is in the comparison; then the page in a real headless Chromium."""

from __future__ import annotations

import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from mlplab.report import differing, flatten, load_run, render_report, write_report

CHROMIUM = Path("/usr/bin/chromium")
NAMES = ["zero", "one", "two"]


def make_run(folder: Path, *, lr: float, epochs: int = 4, seed: int = 0, monitor=True) -> Path:
    """A run folder in the format mlplab.runs writes, with numbers drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(
        'description = "a <small> net"\n'
        f'[data]\nname = "digits"\n\n[model]\nhidden = {{ depth = 1, units = 32 }}\n\n'
        f'[optimizer]\nname = "adam"\nlearning_rate = {lr!r}\n\n[train]\nepochs = {epochs}\n'
        'note = "<b>not bold</b> & co"\n'
    )
    loss = np.sort(rng.uniform(0.1, 2.0, epochs))[::-1]
    acc = np.sort(rng.uniform(0.3, 0.99, epochs))
    cols = {
        "loss": loss,
        "accuracy": acc,
        "val_loss": loss + 0.05,
        "val_accuracy": acc - 0.02,
        "lr": np.full(epochs, lr),
        "time": rng.uniform(0.1, 0.2, epochs),
    }
    lines = ["epoch," + ",".join(cols)]
    lines += [
        f"{e + 1}," + ",".join(repr(float(v[e])) for v in cols.values()) for e in range(epochs)
    ]
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")
    history = {k: [float(x) for x in v] for k, v in cols.items()}
    (folder / "history.json").write_text(json.dumps({"history": history, "best_epoch": epochs}))
    cm = rng.integers(0, 20, (3, 3)).tolist()
    per_class = {
        n: {
            "precision": float(rng.uniform()),
            "recall": float(rng.uniform()),
            "f1": 0.5,
            "support": int(sum(cm[i])),
        }
        for i, n in enumerate(NAMES)
    }
    results = {
        "test": {"loss": float(rng.uniform(0.1, 1)), "accuracy": float(rng.uniform(0.5, 1))},
        "validation": {"loss": float(loss[-1] + 0.05), "accuracy": float(acc[-1] - 0.02)},
        "confusion_matrix": cm,
        "class_names": NAMES,
        "per_class": per_class,
        "bias_variance": {
            "verdict": "high variance <overfitting>",
            "train_error": float(1 - acc[-1]),
            "val_error": float(1 - acc[-1] + 0.02),
            "remedies": ["get more training data", "add regularization (L2 & dropout)"],
        },
    }
    (folder / "results.json").write_text(json.dumps(results))
    (folder / "fingerprint.json").write_text(
        json.dumps(
            {
                "arrays": {"X_train": {"sha256": "ab" * 32, "shape": [100, 64], "dtype": "f4"}},
                "seed": 7,
            }
        )
    )
    (folder / "status.json").write_text(json.dumps({"status": "finished", "pid": 1, "host": "h"}))
    if monitor:
        hist = [
            {
                "epoch": e,
                "grad_norm": {"0.W": 0.1 / (e + 1), "2.W": 0.2},
                "update_ratio": {"0.W": 1e-3, "2.W": 2e-3},
                "dead": {"1": 0.1 * e},
                "saturated": {},
                "std": {"1": 0.5},
            }
            for e in range(epochs)
        ]
        reports = {"0": "all checks passed", str(epochs - 1): "layer 1: 30% dead ReLUs"}
        (folder / "monitor.json").write_text(json.dumps({"history": hist, "reports": reports}))
    return folder


class Page(HTMLParser):
    """Collects the tags, every ``data-key``/``data-value`` pair with its shown text, the
    table cells' text, the SVG and IMG elements and the text inside each."""

    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.values: dict[str, list[tuple[str, str]]] = {}  # data-key -> (data-value, text)
        self.cells: list[str] = []
        self.svgs: list[dict] = []
        self.imgs: list[dict] = []
        self.external: list[str] = []
        self._open: tuple[str, str] | None = None
        self._text: list[str] = []
        self._svg_depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        for k in ("src", "href"):
            v = a.get(k) or ""
            if v and not v.startswith(("#", "data:")):
                self.external.append(v)
        if tag == "script" or tag == "link":
            self.external.append(tag)
        if tag == "svg":
            if self._svg_depth == 0:
                self.svgs.append({"attrs": a, "children": 0})
            self._svg_depth += 1
        elif self._svg_depth:
            self.svgs[-1]["children"] += 1
        if tag == "img":
            self.imgs.append(a)
        if "data-key" in a and "data-value" in a:
            self._open = (a["data-key"], a["data-value"])
        if tag in ("td", "th", "span", "p", "li", "pre"):
            self._text = []

    def handle_endtag(self, tag):
        if tag == "svg":
            self._svg_depth -= 1
        if tag in ("td", "th", "span", "p", "li", "pre"):
            text = "".join(self._text).strip()
            self.cells.append(text)
            if self._open:
                self.values.setdefault(self._open[0], []).append((self._open[1], text))
                self._open = None

    def handle_data(self, data):
        self._text.append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


@pytest.fixture
def two_runs(tmp_path):
    return [
        make_run(tmp_path / "runs" / "20260101-120000-a", lr=0.001, seed=1),
        make_run(tmp_path / "runs" / "20260101-130000-b", lr=0.01, seed=2, monitor=False),
    ]


def test_single_run_numbers_equal_the_files(two_runs):
    run = two_runs[0]
    page = parse(render_report([run]))
    results = json.loads((run / "results.json").read_text())
    rows = (run / "metrics.csv").read_text().splitlines()
    header, last = rows[0].split(","), rows[-1].split(",")
    expected = {
        "test.accuracy": results["test"]["accuracy"],
        "test.loss": results["test"]["loss"],
        "validation.accuracy": results["validation"]["accuracy"],
        "final.loss": float(last[header.index("loss")]),
        "final.val_accuracy": float(last[header.index("val_accuracy")]),
        "best_epoch": 4,
        "bias_variance.train_error": results["bias_variance"]["train_error"],
        "per_class.two.recall": results["per_class"]["two"]["recall"],
        "per_class.one.support": results["per_class"]["one"]["support"],
    }
    for key, value in expected.items():
        (shown_value, text), *_ = page.values[key]
        assert float(shown_value) == value, key  # exact, as written in the file
        assert text == (str(value) if isinstance(value, int) else f"{value:.4f}"), key
    # the curves, the confusion matrix, the monitor panels: three non-empty figures
    assert len(page.svgs) == 3 and all(s["children"] > 20 for s in page.svgs)
    assert all(s["attrs"].get("viewbox") for s in page.svgs)
    assert page.imgs == [] and page.external == []  # self-contained: nothing to fetch, no JS
    texts = "\n".join(page.cells)
    assert "high variance <overfitting>" in texts  # escaped in the HTML, read back as text
    assert "add regularization (L2 & dropout)" in texts
    assert 'note = "<b>not bold</b> & co"' in texts and "b" not in page.tags
    assert "a <small> net" in texts and "layer 1: 30% dead ReLUs" in texts
    html = render_report([run])
    assert f'<td class="hash" title="{"ab" * 32}">{"ab" * 8}…</td>' in html  # whole on hover
    assert "<td>100 × 64</td><td>f4</td>" in html and "fingerprint.seed" in texts
    assert "Comparison" not in render_report([run])


def test_comparison_names_the_differing_hyperparameter(two_runs):
    html = render_report(two_runs)
    page = parse(html)
    start = html.index("Hyperparameters that differ")
    table = html[start : html.index("</table>", start)]
    diff = parse(table)
    assert diff.cells[:3] == ["", "20260101-120000-a", "20260101-130000-b"]
    assert diff.cells[3:] == ["optimizer.learning_rate", "0.001", "0.01"]  # only that one
    tests = [json.loads((r / "results.json").read_text())["test"]["accuracy"] for r in two_runs]
    # the comparison's results row and each run's headline
    assert [float(v) for v, _ in page.values["test.accuracy"]] == [*tests, *tests]
    # overlaid curves + per run: curves, confusion (+ monitor for the first)
    assert len(page.svgs) == 1 + 3 + 2
    assert html.count("<section") == 2


def test_config_helpers():
    config = {"model": {"layers": [{"units": 8}, {"units": 4}]}, "optimizer": {"name": "adam"}}
    assert flatten(config) == {
        "model.layers[0].units": 8,
        "model.layers[1].units": 4,
        "optimizer.name": "adam",
    }
    other = {"model": {"layers": [{"units": 8}, {"units": 0}]}, "seed": 1}
    assert differing([config, other]) == {
        "model.layers[1].units": [4, 0],
        "optimizer.name": ["adam", None],
        "seed": [None, 1],
    }
    assert differing([config, config]) == {}


def test_history_json_stands_in_for_metrics_csv(tmp_path):
    run = make_run(tmp_path / "r", lr=0.1, monitor=False)
    (run / "metrics.csv").unlink()
    data = load_run(run)
    history = json.loads((run / "history.json").read_text())["history"]
    assert data.metrics == history and data.epochs == [1, 2, 3, 4] and data.best_epoch == 4
    assert parse(render_report([run])).values["final.loss"][0][0] == repr(history["loss"][-1])


def test_write_report_is_atomic_and_complete(two_runs, tmp_path):
    out = write_report(two_runs, tmp_path / "report.html")
    assert out.read_text(encoding="utf-8") == render_report(two_runs)  # deterministic too
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []
    with pytest.raises(ValueError, match="write_report: .* is a directory"):
        write_report(two_runs, tmp_path)


def test_errors_name_the_folder_or_file(tmp_path, two_runs):
    with pytest.raises(TypeError, match=r"list of run folders, got one str"):
        render_report(str(two_runs[0]))
    with pytest.raises(ValueError, match="run_dirs is empty"):
        render_report([])
    with pytest.raises(ValueError, match="'.*nowhere' does not exist"):
        render_report([tmp_path / "nowhere"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not a run folder: it holds none of metrics.csv"):
        render_report([tmp_path / "empty"])
    with pytest.raises(TypeError, match="a run folder must be a path, got int"):
        render_report([3])
    run = two_runs[0]
    (run / "results.json").write_text("{oops")
    with pytest.raises(ValueError, match="results.json' is not valid JSON"):
        render_report([run])
    (run / "results.json").write_text("{}")
    (run / "config.toml").write_text("a = ")
    with pytest.raises(ValueError, match="config.toml' is not valid TOML"):
        render_report([run])
    (run / "config.toml").unlink()
    (run / "metrics.csv").write_text("loss,epoch\n1,1\n")
    with pytest.raises(ValueError, match="must start with the header 'epoch,<log keys>'"):
        render_report([run])
    (run / "metrics.csv").write_text("epoch,loss\n1,abc\n")
    with pytest.raises(ValueError, match="row 2 column 'loss': expected a number, got 'abc'"):
        render_report([run])
    (run / "metrics.csv").write_text("epoch,loss\n1\n")
    with pytest.raises(ValueError, match="row 2 has 1 fields, the header 2"):
        render_report([run])
    (run / "metrics.csv").unlink()
    (run / "history.json").write_text('{"history": {}, "best_epoch": "3"}')
    with pytest.raises(ValueError, match="best_epoch must be an int or null, got '3'"):
        render_report([run])
    (run / "history.json").unlink()
    (run / "monitor.json").write_text('[{"epoch": "x"}]')
    with pytest.raises(ValueError, match=r"monitor.json' history\[0\] has no integer 'epoch'"):
        render_report([run])


def test_cli_report(two_runs, tmp_path, capsys):
    from mlplab.cli import main

    assert main(["report", str(two_runs[0])]) == 0
    assert (two_runs[0] / "report.html").is_file()
    out = tmp_path / "both.html"
    assert main(["report", *map(str, two_runs), "-o", str(out)]) == 0
    assert "Hyperparameters that differ" in out.read_text()
    assert str(out) in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a run folder" in err
    with pytest.raises(SystemExit) as e:
        main(["report", str(tmp_path / "nowhere")])
    assert e.value.code == 2 and "is not a folder" in capsys.readouterr().err


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium missing: `make test` installs Debian's chromium when it can",
)
def test_report_in_headless_chromium(two_runs, tmp_path):
    from matplotlib.image import imread

    page = write_report(two_runs, tmp_path / "report.html")
    shot = tmp_path / "report.png"
    common = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    url = page.resolve().as_uri()
    subprocess.run(
        [*common, f"--screenshot={shot}", "--window-size=1200,2000", url],
        check=True,
        capture_output=True,
        timeout=60,
    )
    dom = subprocess.run(
        [*common, "--dump-dom", url], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    assert shot.stat().st_size > 20_000
    pixels = imread(shot)
    assert pixels.shape[:2] == (2000, 1200)
    assert pixels.reshape(-1, pixels.shape[-1]).std(axis=0).max() > 0.05  # not one flat colour
    for run in two_runs:
        test = json.loads((run / "results.json").read_text())["test"]
        assert f'data-value="{test["accuracy"]!r}"' in dom
        assert f"{test['accuracy']:.4f}" in dom
    dom_page = parse(dom)
    assert len(dom_page.svgs) == 6 and all(s["children"] > 20 for s in dom_page.svgs)


def test_names_are_text_not_markup_or_math(tmp_path):
    """A run folder or class named like HTML or like matplotlib math is shown as written."""
    a = make_run(tmp_path / "<script>alert(1) $x_1$", lr=0.1, monitor=False)
    b = make_run(tmp_path / "plain", lr=0.2, monitor=False)
    (b / "config.toml").write_text("seed = 3\n" + (b / "config.toml").read_text())
    results = json.loads((a / "results.json").read_text())
    results["class_names"] = ["$\\alpha$", "<i>", "&"]
    (a / "results.json").write_text(json.dumps(results))
    html = render_report([a, b])
    page = parse(html)
    assert "script" not in page.tags and "i" not in page.tags
    assert "<script>alert(1) $x_1$" in page.cells
    assert (
        "<tr><th>seed</th><td class=\"changed\">(not set)</td><td class=\"changed\">3</td>" in html
    )
    svgs = "".join(re.findall(r"<svg.*?</svg>", html, flags=re.S))
    assert "$x_1$ (validation)" in svgs and "$\\alpha$" in svgs  # legend and tick, verbatim
    only_results = tmp_path / "only-results"
    only_results.mkdir()
    (only_results / "results.json").write_text(json.dumps({"test": {"accuracy": 0.5}}))
    page = parse(render_report([only_results]))
    assert page.values["test.accuracy"] == [("0.5", "0.5000")] and page.svgs == []


def test_report_on_real_runs_of_mlplab_train(tmp_path, capsys):
    """The agreed format, as `mlplab train` writes it: two digits runs differing in the learning
    rate, reported together; the numbers in the page are those of their files."""
    from mlplab.cli import main

    config = Path(__file__).resolve().parents[1] / "examples" / "digits.toml"
    runs = tmp_path / "runs"
    for lr, name in ((0.001, "slow"), (0.003, "fast")):
        argv = ["train", str(config), "--runs-dir", str(runs), "--name", name]
        argv += ["--set", "train.epochs=2", "--set", f"optimizer.config.learning_rate={lr}"]
        argv += ["--set", "monitor.enabled=false"]  # the page's figures without diagnostics
        assert main(argv) == 0
    folders = sorted(runs.iterdir(), key=lambda p: p.name.endswith("fast"))
    capsys.readouterr()
    html = render_report(folders)
    page = parse(html)
    for i, folder in enumerate(folders):
        rows = (folder / "metrics.csv").read_text().splitlines()
        header, last = rows[0].split(","), rows[-1].split(",")
        test = json.loads((folder / "results.json").read_text())["test"]
        assert float(page.values["final.val_loss"][i][0]) == float(last[header.index("val_loss")])
        assert float(page.values["test.accuracy"][i][0]) == test["accuracy"]
    start = html.index("Hyperparameters that differ")
    diff = parse(html[start : html.index("</table>", start)]).cells
    assert diff[3:6] == ["optimizer.config.learning_rate", "0.001", "0.003"]
    assert len(page.svgs) == 1 + 2 * 2  # overlaid; per run curves and confusion matrix
