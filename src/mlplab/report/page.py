"""``render_report``: one self-contained static HTML page (no network, no JavaScript; figures
inline as SVG) from one or more run folders; ``write_report`` writes it atomically."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any, BinaryIO

from ..train._files import atomic_write
from .plots import LR_COLUMNS, confusion_svg, curves_svg, monitor_svg
from .runfiles import RunData, differing, flatten, load_run

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; background: #fff; line-height: 1.4; }
h1 { font-size: 1.6em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
h3 { margin-top: 1.5em; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .92em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.headline { display: flex; flex-wrap: wrap; gap: .8em; margin: 1em 0; }
.headline div { border: 1px solid #ddd; border-radius: 6px; padding: .5em 1em; min-width: 9em; }
.headline .label { font-size: .8em; color: #666; display: block; }
.headline .value { font-size: 1.5em; font-weight: 600; }
pre { background: #f7f7f7; border: 1px solid #e3e3e3; padding: .8em; overflow-x: auto;
      font-size: .85em; }
svg { max-width: 100%; height: auto; display: block; margin: .5em 0; }
.verdict { font-weight: 600; }
.status-failed, .status-interrupted { color: #b00; } .status-finished { color: #070; }
.diff td.changed { background: #fff6d6; }
.hash { font-family: monospace; font-size: .85em; word-break: break-all; }
"""


def _fmt(value: Any) -> str:
    """A number as the report shows it (4 significant decimals); other values as text."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.4f}" if 1e-3 <= abs(value) < 1e5 or value == 0 else f"{value:.4g}"
    return str(value)


def _setting(value: Any) -> str:
    """A config value as written in TOML (``0.00125``, ``true``, ``["a", "b"]``): settings are
    shown exactly, not rounded like results."""
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return (
            "[" + ", ".join(_setting(v) if not isinstance(v, str) else repr(v) for v in value) + "]"
        )
    return repr(value) if isinstance(value, float) else str(value)


def _num(value: Any, key: str = "") -> str:
    """A table cell holding a number: shown rounded, the exact value in ``data-value``."""
    attrs = f' data-key="{escape(key)}"' if key else ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        attrs += f' data-value="{escape(repr(value))}"'
    return f'<td class="num"{attrs}>{escape(_fmt(value))}</td>'


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    """``rows`` hold ready cells (``<td>...``); ``header`` plain text."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(f"<tr>{''.join(r)}</tr>" for r in rows)
    c = f' class="{cls}"' if cls else ""
    return f"<table{c}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _td(text: Any) -> str:
    return f"<td>{escape(_fmt(text))}</td>"


def _headline(run: RunData) -> dict[str, float]:
    """The numbers at the top of a run's section: ``{key: value}`` with keys such as
    ``test.accuracy``, ``validation.loss``, ``final.val_loss``, ``best_epoch``."""
    out: dict[str, float] = {}
    for split in ("test", "validation"):
        part = run.results.get(split)
        if isinstance(part, dict):
            for k, v in part.items():
                if isinstance(v, int | float) and not isinstance(v, bool):
                    out[f"{split}.{k}"] = v
    for k in ("loss", "accuracy", "val_loss", "val_accuracy"):
        if run.metrics.get(k):
            out[f"final.{k}"] = run.metrics[k][-1]
    if run.best_epoch is not None:
        out["best_epoch"] = run.best_epoch
    return out


_HEADLINE_LABELS = {
    "test.accuracy": "test accuracy",
    "test.loss": "test loss",
    "validation.accuracy": "validation accuracy",
    "validation.loss": "validation loss",
    "final.loss": "last epoch: train loss",
    "final.accuracy": "last epoch: train accuracy",
    "final.val_loss": "last epoch: validation loss",
    "final.val_accuracy": "last epoch: validation accuracy",
    "best_epoch": "best epoch",
}


def _headline_html(run: RunData) -> str:
    items = []
    for key, value in _headline(run).items():
        label = _HEADLINE_LABELS.get(key, key.replace(".", " "))
        items.append(
            f'<div><span class="label">{escape(label)}</span>'
            f'<span class="value" data-key="{escape(key)}" data-value="{escape(repr(value))}">'
            f"{escape(_fmt(value))}</span></div>"
        )
    return f'<div class="headline">{"".join(items)}</div>' if items else ""


def _status_html(run: RunData) -> str:
    if not isinstance(run.status, dict):
        return ""
    status = str(run.status.get("status", "unknown"))
    parts = [f'<span class="status-{escape(status)}">{escape(status)}</span>']
    for k in ("started", "ended", "host", "pid"):
        if run.status.get(k) is not None:
            parts.append(f"{escape(k)} {escape(str(run.status[k]))}")
    return f"<p>status: {', '.join(parts)}</p>"


def _fingerprint_rows(fingerprint: dict[str, Any]) -> tuple[list[list[str]], dict[str, Any]]:
    """Rows (group, name, shape, dtype, SHA-256) for the fingerprint's hashed arrays (``{group:
    {name: {"sha256", "shape", "dtype"}}}``), and what is left of it in another form."""
    rows, rest = [], {}
    for group, items in fingerprint.items():
        hashed = isinstance(items, dict) and all(
            isinstance(v, dict) and "sha256" in v for v in items.values()
        )
        if not hashed or not items:
            rest[group] = items
            continue
        for name, v in items.items():
            shape = v.get("shape")
            shown = " × ".join(map(str, shape)) if isinstance(shape, list) else _fmt(shape)
            digest = str(v["sha256"])
            rows.append(
                [_td(group), _td(name), _td(shown), _td(v.get("dtype")),
                 f'<td class="hash" title="{escape(digest)}">{escape(digest[:16])}…</td>']
            )  # fmt: skip
    return rows, rest


def _data_html(run: RunData) -> str:
    """The data summary: the config's data, split and preprocessing tables, and the
    fingerprint's arrays (shape, dtype, SHA-256)."""
    rows = []
    for section in ("data", "split", "preprocessing"):
        if section in run.config:
            for k, v in flatten(run.config[section], section).items():
                rows.append([_td(k), f"<td>{escape(_setting(v))}</td>"])
    arrays: list[list[str]] = []
    if isinstance(run.fingerprint, dict):
        arrays, rest = _fingerprint_rows(run.fingerprint)
        for k, v in flatten(rest, "fingerprint").items():
            rows.append([_td(k), f'<td class="hash">{escape(_fmt(v))}</td>'])
    if not rows and not arrays:
        return ""
    out = ["<h3>Data</h3>"]
    if rows:
        out.append(_table(["item", "value"], rows))
    if arrays:
        out.append(
            _table(["part", "array", "shape", "dtype", "SHA-256 (hover: all of it)"], arrays)
        )
    return "".join(out)


def _bias_variance_html(bv: Any) -> str:
    if not isinstance(bv, dict):
        return ""
    out = ["<h3>Bias and variance</h3>"]
    out.append(f'<p class="verdict">{escape(str(bv.get("verdict", "")))}</p>')
    rows = [
        [_td(label), _num(bv[k], f"bias_variance.{k}")]
        for k, label in (("train_error", "training error"), ("val_error", "validation error"))
        if k in bv
    ]
    if rows:
        out.append(_table(["", "error"], rows))
    remedies = bv.get("remedies") or []
    if remedies:
        items = "".join(f"<li>{escape(str(r))}</li>" for r in remedies)
        out.append(f"<p>What to try:</p><ol>{items}</ol>")
    return "".join(out)


def _classes_html(results: dict[str, Any]) -> str:
    out = []
    matrix = results.get("confusion_matrix")
    names = [str(n) for n in results.get("class_names") or []]
    if isinstance(matrix, list) and matrix:
        if len(names) != len(matrix):
            names = [str(i) for i in range(len(matrix))]
        out.append("<h3>Confusion matrix (test set)</h3>")
        out.append(confusion_svg(matrix, names))
    per_class = results.get("per_class")
    if isinstance(per_class, dict) and per_class:
        rows = [
            [_td(name)]
            + [_num(m.get(k), f"per_class.{name}.{k}") for k in ("precision", "recall", "f1")]
            + [_num(m.get("support"), f"per_class.{name}.support")]
            for name, m in per_class.items()
            if isinstance(m, dict)
        ]
        out.append("<h3>Per class (test set)</h3>")
        out.append(_table(["class", "precision", "recall", "F1", "support"], rows))
    return "".join(out)


def _monitor_html(monitor: dict[str, Any] | None) -> str:
    if not monitor or not monitor.get("history"):
        return ""
    out = ["<h3>Per-layer diagnostics over the epochs</h3>", monitor_svg(monitor["history"])]
    reports = monitor.get("reports") or {}
    if isinstance(reports, dict) and reports:
        items = "".join(
            f"<h4>after epoch {escape(str(int(e) + 1))}</h4><pre>{escape(str(text))}</pre>"
            for e, text in sorted(reports.items(), key=lambda kv: int(kv[0]))
        )
        out.append(f"<details><summary>findings per epoch</summary>{items}</details>")
    return "".join(out)


def _run_html(run: RunData, index: int) -> str:
    out = [f'<section id="run-{index}"><h2>{escape(run.name)}</h2>']
    if isinstance(run.config.get("description"), str):
        out.append(f'<p class="description">{escape(run.config["description"])}</p>')
    out.append(_status_html(run))
    out.append(_headline_html(run))
    if run.metrics:
        out.append("<h3>Curves</h3>")
        lr = [c for c in run.metrics if c in LR_COLUMNS]
        if not lr:
            out.append("<p>(no learning rate column in metrics.csv)</p>")
        out.append(curves_svg([(run.name, run.epochs, run.metrics, run.best_epoch)]))
    out.append(_bias_variance_html(run.results.get("bias_variance")))
    out.append(_classes_html(run.results))
    out.append(_monitor_html(run.monitor))
    out.append(_data_html(run))
    if run.config_text:
        out.append(f"<h3>Config</h3><pre>{escape(run.config_text)}</pre>")
    out.append("</section>")
    return "".join(out)


def _comparison_html(runs: list[RunData]) -> str:
    header = ["", *(r.name for r in runs)]
    diff = differing([r.config for r in runs])
    out = ["<h2>Comparison</h2><h3>Hyperparameters that differ</h3>"]
    if diff:
        rows = [
            [
                f"<th>{escape(k)}</th>",
                *(f'<td class="changed">{escape(_setting(v))}</td>' for v in vs),
            ]
            for k, vs in diff.items()
        ]
        out.append(_table(header, rows, "diff"))
    else:
        out.append("<p>The configs are identical.</p>")
    keys = list(dict.fromkeys(k for r in runs for k in _headline(r)))
    heads = [_headline(r) for r in runs]
    rows = [
        [f"<th>{escape(_HEADLINE_LABELS.get(k, k))}</th>", *(_num(h.get(k), k) for h in heads)]
        for k in keys
    ]
    out.append("<h3>Results</h3>" + _table(header, rows, "results"))
    svg = curves_svg([(r.name, r.epochs, r.metrics, r.best_epoch) for r in runs if r.metrics])
    if svg:
        out.append("<h3>Curves overlaid</h3>" + svg)
    return "".join(out)


def _run_dirs(run_dirs: Any) -> list[str | os.PathLike]:
    if isinstance(run_dirs, str | bytes | os.PathLike):
        raise TypeError(
            f"render_report: run_dirs must be a list of run folders, got one "
            f"{type(run_dirs).__name__} (wrap it in a list: [{run_dirs!r}])"
        )
    dirs = list(run_dirs)
    if not dirs:
        raise ValueError("render_report: run_dirs is empty; give at least one run folder")
    return dirs


def render_report(run_dirs: Sequence[str | os.PathLike]) -> str:
    """One self-contained HTML page on the run folders ``run_dirs``: per run its headline
    numbers, curves, bias/variance verdict and advice, confusion matrix and per-class scores,
    per-layer diagnostics (if ``monitor.json`` exists), data summary and config; for several
    runs first a comparison (differing hyperparameters, results, overlaid curves)."""
    runs = [load_run(d) for d in _run_dirs(run_dirs)]
    title = runs[0].name if len(runs) == 1 else f"{len(runs)} runs"
    body = []
    if len(runs) > 1:
        links = "".join(
            f'<li><a href="#run-{i}">{escape(r.name)}</a></li>' for i, r in enumerate(runs)
        )
        body.append(f"<ul>{links}</ul>")
        body.append(_comparison_html(runs))
    body += [_run_html(r, i) for i, r in enumerate(runs)]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>mlplab report: {escape(title)}</title><style>{CSS}</style></head>"
        f"<body><h1>mlplab report: {escape(title)}</h1>{''.join(body)}</body></html>\n"
    )


def write_report(run_dirs: Sequence[str | os.PathLike], out_path: str | os.PathLike) -> Path:
    """Render the report on ``run_dirs`` and write it to ``out_path`` atomically (a reader
    sees the old file or the new one). Returns the path written."""
    data = render_report(run_dirs).encode("utf-8")

    def write(f: BinaryIO) -> None:
        f.write(data)

    atomic_write(out_path, write, owner="write_report")
    return Path(out_path)
