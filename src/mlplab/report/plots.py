"""The report's figures as inline SVG text: matplotlib ``Figure`` objects (no pyplot, so no
global backend or figure state), text kept as ``<text>`` (searchable, small), deterministic ids
so the same run gives the same file."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

#: columns of metrics.csv that are not curves to plot (wall-clock time differs run to run)
TIME_COLUMNS = ("time", "seconds", "wall", "duration", "elapsed")
LR_COLUMNS = ("lr", "learning_rate")


def to_svg(fig: Any) -> str:
    """The figure as an ``<svg>`` element (no XML prolog), for inlining in HTML."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "mlplab-report"}):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg") :].strip()


def _figure(n: int, *, width: float = 4.2, height: float = 3.0):
    from matplotlib.figure import Figure

    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(width * cols, height * rows))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, list(axes[:n])


def curve_groups(columns: Sequence[str]) -> dict[str, list[str]]:
    """Plot groups of metrics.csv columns: ``{"loss": ["loss", "val_loss"], "accuracy": [...],
    "learning rate": ["lr"]}``; a ``val_`` column joins its training column; time columns are
    left out."""
    groups: dict[str, list[str]] = {}
    for c in columns:
        if any(t in c.lower() for t in TIME_COLUMNS):
            continue
        base = "learning rate" if c in LR_COLUMNS else c.removeprefix("val_")
        groups.setdefault(base, []).append(c)
    return groups


def plain(text: str) -> str:
    """``text`` shown as it is: matplotlib reads ``$...$`` as math (a run or class name with
    two dollar signs would be typeset, or fail to parse)."""
    return str(text).replace("$", r"\$")


def _label(column: str) -> str:
    if column in LR_COLUMNS:
        return "learning rate"
    return "validation" if column.startswith("val_") else "train"


def _epoch_axis(ax: Any, title: str) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax.set(xlabel="epoch", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")


def curves_svg(
    runs: Sequence[tuple[str, list[int], dict[str, list[float]], int | None]],
) -> str:
    """Loss, accuracy, learning rate (and any other logged metric) per epoch. One run: train
    and validation lines, the best epoch marked; several runs: their curves overlaid, one
    colour per run, validation dashed."""
    groups: dict[str, list[str]] = {}
    for _, _, metrics, _ in runs:
        for base, cols in curve_groups(list(metrics)).items():
            groups.setdefault(base, [])
            groups[base] += [c for c in cols if c not in groups[base]]
    if not groups:
        return ""
    fig, axes = _figure(len(groups))
    colours = [f"C{i % 10}" for i in range(len(runs))]
    for ax, (base, cols) in zip(axes, groups.items()):
        for (name, epochs, metrics, best), colour in zip(runs, colours):
            for c in cols:
                if c not in metrics:
                    continue
                label = _label(c) if len(runs) == 1 else plain(name)
                if len(runs) > 1 and c not in LR_COLUMNS:
                    label += f" ({_label(c)})"
                style = "--" if c.startswith("val_") else "-"
                if len(runs) == 1:
                    colour = "C1" if c.startswith("val_") else "C0"
                ax.plot(epochs, metrics[c], style, color=colour, label=label, marker=".")
            if len(runs) == 1 and best is not None:
                ax.axvline(best, color="0.5", linestyle=":", linewidth=1, label="best epoch")
        values = [v for _, _, m, _ in runs for c in cols for v in m.get(c, []) if v > 0]
        if base == "learning rate" and values and max(values) / min(values) > 20:
            ax.set_yscale("log")
        _epoch_axis(ax, base)
    fig.tight_layout()
    return to_svg(fig)


def monitor_svg(history: list[dict[str, Any]]) -> str:
    """TrainingMonitor's per-layer numbers over the watched epochs (0-based there, drawn
    1-based like metrics.csv): gradient norms and update/weight ratios on log scales, the
    fraction of dead and of saturated units, the activation spread."""
    panels = [
        ("grad_norm", "gradient norm ||dL/dW||", True),
        ("update_ratio", "update / weight ratio", True),
        ("dead", "dead unit fraction", False),
        ("saturated", "saturated unit fraction", False),
        ("std", "activation std", False),
    ]
    present = [p for p in panels if any(h.get(p[0]) for h in history)]
    if not present:
        return ""
    fig, axes = _figure(len(present))
    epochs = [h["epoch"] + 1 for h in history]
    for ax, (key, title, log) in zip(axes, present):
        layers = list(dict.fromkeys(k for h in history for k in (h.get(key) or {})))
        for layer in layers:
            ys = [float((h.get(key) or {}).get(layer, math.nan)) for h in history]
            ax.plot(epochs, ys, marker=".", label=f"layer {layer}")
        positive = [v for h in history for v in (h.get(key) or {}).values() if v and float(v) > 0]
        if log and positive:
            ax.set_yscale("log")
        _epoch_axis(ax, title)
    fig.tight_layout()
    return to_svg(fig)


def confusion_svg(matrix: list[list[float]], names: list[str]) -> str:
    """The confusion matrix as a heat map (rows: true class, columns: predicted), counts in
    the cells."""
    from matplotlib.figure import Figure

    n = len(matrix)
    size = max(3.5, 0.45 * n + 1.5)
    fig = Figure(figsize=(size, size * 0.9))
    ax = fig.add_subplot()
    ax.imshow(matrix, cmap="Blues")
    top = max((v for row in matrix for v in row), default=0)
    for i, row in enumerate(matrix):
        for j, v in enumerate(row):
            colour = "white" if top and v > top / 2 else "black"
            ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize="small", color=colour)
    names = [plain(n) for n in names]
    ax.set_xticks(range(n), names, rotation=45 if max(map(len, names), default=0) > 3 else 0)
    ax.set_yticks(range(n), names)
    ax.set(xlabel="predicted", ylabel="true")
    fig.tight_layout()
    return to_svg(fig)


def band_svg(
    groups: Sequence[tuple[str, list[int], dict[str, dict[str, list[float]]]]],
) -> str:
    """Every curve of seed groups per epoch: the mean across the members as a line, the
    min-max band lightly shaded and mean +- one standard deviation darker. ``groups`` holds
    ``(name, epochs, {column: {"mean", "std", "min", "max": per epoch}})``; one group: train
    and validation in two colours; several: one colour per group, validation dashed."""
    columns: dict[str, list[str]] = {}
    for _, _, stats in groups:
        for base, cols in curve_groups(list(stats)).items():
            columns.setdefault(base, [])
            columns[base] += [c for c in cols if c not in columns[base]]
    if not columns:
        return ""
    fig, axes = _figure(len(columns))
    for ax, (base, cols) in zip(axes, columns.items()):
        for g, (name, epochs, stats) in enumerate(groups):
            for c in cols:
                if c not in stats:
                    continue
                s = stats[c]
                if len(groups) == 1:
                    colour = "C1" if c.startswith("val_") else "C0"
                    label = _label(c)
                else:
                    colour = f"C{g % 10}"
                    label = plain(name) + ("" if c in LR_COLUMNS else f" ({_label(c)})")
                lo = [m - d if math.isfinite(d) else m for m, d in zip(s["mean"], s["std"])]
                hi = [m + d if math.isfinite(d) else m for m, d in zip(s["mean"], s["std"])]
                ax.fill_between(epochs, s["min"], s["max"], color=colour, alpha=0.12, linewidth=0)
                ax.fill_between(epochs, lo, hi, color=colour, alpha=0.25, linewidth=0)
                style = "--" if c.startswith("val_") else "-"
                ax.plot(epochs, s["mean"], style, color=colour, label=label + " mean", marker=".")
        values = [v for _, _, st in groups for c in cols for v in st.get(c, {}).get("min", [])]
        values = [v for v in values if v > 0]
        if base == "learning rate" and values and max(values) / min(values) > 20:
            ax.set_yscale("log")
        _epoch_axis(ax, f"{base} (mean, ±1 std, min-max)")
    fig.tight_layout()
    return to_svg(fig)
