"""The report in a real browser: Debian's headless Chromium (/usr/bin/chromium) driven by
Playwright for Python, on reports of real `mlplab train` runs (2 epochs on scikit-learn's
digits): no console or page errors, every figure drawn at a non-zero size, the headline
numbers in the DOM equal to those in each run's results.json / metrics.csv / history.json,
and a screenshot saved. Skips with a reason where Playwright or the browser is missing
(`make test` installs Debian's chromium when it can; never `playwright install`)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CONFIG = Path(__file__).resolve().parents[1] / "examples" / "digits.toml"

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="playwright is not installed (pip install -e '.[test]')",
)
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium missing: `make browser` installs Debian's chromium when it can",
)

# In the page: every headline number's key and exact value, and every figure's size.
HEADLINES_JS = """root => Array.from(root.querySelectorAll('.headline [data-key]'))
    .map(e => [e.dataset.key, e.dataset.value])"""
FIGURES_JS = """() => ({
    imgs: Array.from(document.images).map(i => [i.naturalWidth, i.naturalHeight, i.complete]),
    svgs: Array.from(document.querySelectorAll('svg'))
        .filter(s => !s.parentElement.closest('svg'))
        .map(s => { const r = s.getBoundingClientRect(); return [r.width, r.height]; }),
})"""


def expected_headline(run: Path) -> dict[str, float]:
    """The headline numbers recomputed from the run's own files, not from mlplab.report."""
    results = json.loads((run / "results.json").read_text())
    out: dict[str, float] = {}
    for split in ("test", "validation"):
        for key, value in results.get(split, {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[f"{split}.{key}"] = float(value)
    with (run / "metrics.csv").open(newline="") as f:
        last = list(csv.DictReader(f))[-1]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        if last.get(key):
            out[f"final.{key}"] = float(last[key])
    best = json.loads((run / "history.json").read_text()).get("best_epoch")
    if best is not None:
        out["best_epoch"] = float(best)
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    """Two real 2-epoch digits runs differing in the learning rate (each writes report.html);
    the first with the per-layer monitor (its diagnostics figure), the second without (faster)."""
    from mlplab.cli import main

    runs_dir = tmp_path_factory.mktemp("browser") / "runs"
    for lr, name, monitor in ((0.001, "slow", "true"), (0.003, "fast", "false")):
        argv = ["train", str(CONFIG), "--runs-dir", str(runs_dir), "--name", name]
        argv += ["--set", "train.epochs=2", "--set", f"optimizer.config.learning_rate={lr}"]
        argv += ["--set", f"monitor.enabled={monitor}"]
        assert main(argv) == 0
    runs = sorted(runs_dir.iterdir(), key=lambda p: p.name.endswith("fast"))
    assert [(r / "monitor.json").exists() for r in runs] == [True, False]
    return runs


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def open_report(browser, html: Path, shot: Path) -> tuple[Any, list[str]]:
    """Load ``html`` in a fresh page, save a full-page screenshot at ``shot``; returns the
    page and every console error and uncaught page error seen while loading."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.goto(html.resolve().as_uri(), wait_until="load")
    page.screenshot(path=str(shot), full_page=True)
    return page, errors


def figures_of(run: Path) -> int:
    """A run's own figures: curves and confusion matrix, plus the per-layer diagnostics
    where the run recorded ``monitor.json``."""
    return 2 + (run / "monitor.json").exists()


def check_figures(page, count: int) -> None:
    figures = page.evaluate(FIGURES_JS)
    assert all(w > 0 and h > 0 and done for w, h, done in figures["imgs"]), figures["imgs"]
    assert len(figures["imgs"]) + len(figures["svgs"]) == count, figures
    assert all(w > 50 and h > 50 for w, h in figures["svgs"]), figures["svgs"]


def check_headline(section, run: Path) -> None:
    shown = {k: float(v) for k, v in section.evaluate(HEADLINES_JS)}
    expected = expected_headline(run)
    assert {"test.accuracy", "final.val_loss", "best_epoch"} <= set(expected)
    assert shown == expected  # exact: data-value holds repr() of the number in the file


def test_run_report_written_by_train_in_chromium(runs, browser, tmp_path):
    run = runs[0]
    shot = tmp_path / "run.png"
    page, errors = open_report(browser, run / "report.html", shot)
    try:
        assert errors == []
        check_figures(page, figures_of(run))
        check_headline(page.locator("#run-0"), run)
        assert page.title() == f"mlplab report: {run.name}"
    finally:
        page.close()
    assert shot.stat().st_size > 20_000


def test_comparison_report_in_chromium(runs, browser, tmp_path, capsys):
    from mlplab.cli import main

    out = tmp_path / "compare.html"
    assert main(["report", *map(str, runs), "-o", str(out)]) == 0
    capsys.readouterr()
    shot = tmp_path / "compare.png"
    page, errors = open_report(browser, out, shot)
    try:
        assert errors == []
        check_figures(page, 1 + sum(map(figures_of, runs)))  # the overlaid curves, then each run's
        for i, run in enumerate(runs):
            check_headline(page.locator(f"#run-{i}"), run)
        diff = page.locator("table", has_text="optimizer.config.learning_rate")
        assert diff.count() >= 1
        # the comparison's results hold each run's test accuracy, exactly as in results.json
        tests = [json.loads((r / "results.json").read_text())["test"]["accuracy"] for r in runs]
        values = page.evaluate(
            "() => Array.from(document.querySelectorAll('[data-key=\"test.accuracy\"]'))"
            ".map(e => Number(e.dataset.value))"
        )
        assert values == [*tests, *tests]
    finally:
        page.close()
    assert shot.stat().st_size > 20_000


def test_a_page_error_is_caught(browser, tmp_path):
    """The checks above would see a broken page: a script error and a console error."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><body><script>console.error('boom'); undefinedName();</script>"
        "</body></html>"
    )
    page, errors = open_report(browser, bad, tmp_path / "bad.png")
    page.close()
    assert any("boom" in e for e in errors)
    assert any("pageerror" in e and "undefinedName" in e for e in errors)
