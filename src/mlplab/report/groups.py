"""The report of seed groups (``mlplab report GROUP [GROUP ...]``): per epoch the mean and
spread (min-max, standard deviation) of every curve across a group's members, each final
metric's mean, standard deviation, min and max over the seeds, the members with links to their
own reports; for several groups a table of their means, and for two the difference of each
final metric with its 95% Welch's t interval (:func:`mlplab.runs.compare_groups`).

Standard deviations are sample standard deviations (ddof=1, as in Welch's t), ``nan`` (shown
``-``) where fewer than two members have the number."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any, BinaryIO

from ..runs.files import RESULTS
from ..runs.groups import compare_groups, final_metrics, read_group
from ..train._files import atomic_write
from .page import CSS, _num, _table, _td
from .plots import TIME_COLUMNS, band_svg
from .runfiles import RunData, load_run

STATS = ("mean", "std", "min", "max")


def spread(values: Sequence[float]) -> dict[str, float]:
    """``{"n", "mean", "std", "min", "max"}`` of the finite ``values`` (``std`` with ddof=1;
    nan for fewer than 2 values, all nan for none)."""
    xs = [float(v) for v in values if math.isfinite(float(v))]
    n = len(xs)
    if not n:
        return {"n": 0, "mean": math.nan, "std": math.nan, "min": math.nan, "max": math.nan}
    mean = math.fsum(xs) / n
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else math.nan
    return {"n": n, "mean": mean, "std": std, "min": min(xs), "max": max(xs)}


@dataclass
class GroupData:
    """A seed group as the report shows it: its members (seed, run) in ``group.json`` order,
    per curve and epoch the spread across the members that logged that epoch, and per final
    metric the spread over the members that finished."""

    path: Path
    name: str
    members: list[tuple[int, RunData]] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)
    curves: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # col -> stat -> epochs
    finals: dict[str, dict[str, float]] = field(default_factory=dict)  # metric -> stat
    final_values: dict[str, list[float]] = field(default_factory=dict)  # metric -> per member


def load_group(path: str | os.PathLike) -> GroupData:
    """Read the group folder ``path`` (``group.json`` and its member run folders). A folder
    that is not a group, a group without members or a member folder that is missing is a
    ``ValueError`` that names it."""
    if isinstance(path, bytes) or not isinstance(path, str | os.PathLike):
        raise TypeError(f"report: a group folder must be a path, got {type(path).__name__}")
    folder = Path(path)
    data = read_group(folder)
    if not data["members"]:
        raise ValueError(f"GROUP: {str(folder)!r} has no member runs yet (group.json lists none)")
    group = GroupData(path=folder, name=str(data.get("name") or folder.resolve().name))
    for i, member in enumerate(data["members"]):
        if not isinstance(member, dict) or "run" not in member or "seed" not in member:
            raise ValueError(f"GROUP: {str(folder / 'group.json')!r} members[{i}] lacks seed/run")
        group.members.append((int(member["seed"]), load_run(folder / str(member["run"]))))
    n_epochs = max((len(r.epochs) for _, r in group.members), default=0)
    longest = max((r.epochs for _, r in group.members), key=len, default=[])
    group.epochs = list(longest)
    columns = list(dict.fromkeys(c for _, r in group.members for c in r.metrics))
    for c in columns:
        if any(t in c.lower() for t in TIME_COLUMNS):
            continue
        per_epoch = [
            spread(
                [
                    r.metrics[c][e]
                    for _, r in group.members
                    if c in r.metrics and e < len(r.metrics[c])
                ]
            )
            for e in range(n_epochs)
        ]
        group.curves[c] = {s: [p[s] for p in per_epoch] for s in STATS}
    finished = [r for _, r in group.members if (r.path / RESULTS).is_file()]
    values: dict[str, list[float]] = {}
    for r in finished:
        for k, v in final_metrics(r.path).items():
            values.setdefault(k, []).append(v)
    group.final_values = values
    group.finals = {k: spread(v) for k, v in values.items()}
    return group


def _href(target: Path, base: Path) -> str:
    return escape(Path(os.path.relpath(target.resolve(), base.resolve())).as_posix())


def _group_html(g: GroupData, i: int, base: Path) -> str:
    parts = [f'<section id="group-{i}" data-group="{i}"><h2>Group {escape(g.name)}</h2>']
    finished = sum(1 for _, r in g.members if (r.path / RESULTS).is_file())
    parts.append(
        f"<p>{len(g.members)} member runs, {finished} finished; folder "
        f"<code>{escape(str(g.path))}</code>. Standard deviations are sample standard "
        "deviations (ddof=1) over the seeds.</p>"
    )
    if g.finals:
        rows = [
            [_td(k)] + [_num(s[stat], f"{i}/{k}/{stat}") for stat in STATS] + [_num(s["n"])]
            for k, s in g.finals.items()
        ]
        parts.append("<h3>Final metrics over the seeds</h3>")
        parts.append(_table(["metric", "mean", "std", "min", "max", "runs"], rows, "finals"))
    svg = band_svg([(g.name, g.epochs, g.curves)])
    if svg:
        parts.append(f'<h3>Curves across the seeds</h3><div class="figure band">{svg}</div>')
    metric_keys = list(g.final_values)
    rows = []
    for seed, r in g.members:
        link = r.path / "report.html"
        name = (
            f'<a href="{_href(link, base)}">{escape(r.name)}</a>'
            if link.is_file()
            else escape(r.name)
        )
        status = str((r.status or {}).get("status", "")) or ("finished" if r.results else "")
        own = final_metrics(r.path) if (r.path / RESULTS).is_file() else {}
        rows.append(
            [_num(seed), f"<td>{name}</td>", _td(status)]
            + [_num(own[k]) if k in own else "<td></td>" for k in metric_keys]
        )
    parts.append("<h3>Members</h3>")
    parts.append(_table(["seed", "run", "status", *metric_keys], rows, "members"))
    if g.curves:
        cols = list(g.curves)
        header = ["epoch"] + [f"{c} {s}" for c in cols for s in STATS]
        rows = [
            [_num(e)]
            + [_num(g.curves[c][s][j], f"{i}/epoch{e}/{c}/{s}") for c in cols for s in STATS]
            for j, e in enumerate(g.epochs)
        ]
        parts.append(
            "<details><summary>Per-epoch numbers (mean, std, min, max across the seeds)"
            f"</summary>{_table(header, rows, 'per-epoch')}</details>"
        )
    parts.append("</section>")
    return "".join(parts)


def _comparison_html(groups: list[GroupData]) -> str:
    metrics = list(dict.fromkeys(k for g in groups for k in g.finals))
    parts = ["<h2>Comparison of the groups</h2>"]
    header = ["metric"] + [f"{g.name} mean ± std" for g in groups]
    rows = []
    for k in metrics:
        row = [_td(k)]
        for j, g in enumerate(groups):
            s = g.finals.get(k)
            if s is None:
                row.append("<td></td>")
                continue
            std = "-" if math.isnan(s["std"]) else f"{s['std']:.4f}"
            row.append(
                f'<td class="num" data-key="cmp/{j}/{escape(k)}/mean" '
                f'data-value="{escape(repr(s["mean"]))}">{s["mean"]:.4f} ± {escape(std)} '
                f"(n={s['n']})</td>"
            )
        rows.append(row)
    parts.append(_table(header, rows, "group-comparison"))
    if len(groups) == 2:
        a, b = groups
        try:
            cmp = compare_groups(a.path, b.path)
        except ValueError as e:
            parts.append(f"<p>No confidence intervals: {escape(str(e))}</p>")
        else:
            pct = f"{100 * cmp.confidence:g}%"
            parts.append(
                f"<h3>Difference B - A with its {pct} confidence interval (Welch's t)</h3>"
                f"<p>A: {escape(a.name)}, B: {escape(b.name)}.</p>"
            )
            rows = [
                [_td(iv.metric), _num(iv.mean_a), _num(iv.mean_b)]
                + [_num(iv.diff, f"welch/{iv.metric}/diff")]
                + [_num(iv.low, f"welch/{iv.metric}/low"), _num(iv.high, f"welch/{iv.metric}/high")]
                + [_td("yes" if iv.excludes_zero else "no")]
                for iv in cmp.intervals
            ]
            header = ["metric", "mean A", "mean B", "B - A", "low", "high", "excludes 0"]
            parts.append(_table(header, rows, "welch"))
    return "".join(parts)


def _group_dirs(group_dirs: Any) -> list[str | os.PathLike]:
    if isinstance(group_dirs, str | bytes | os.PathLike):
        raise TypeError(
            "render_group_report: group_dirs must be a list of group folders, got one "
            f"{type(group_dirs).__name__} (wrap it in a list: [{group_dirs!r}])"
        )
    dirs = list(group_dirs)
    if not dirs:
        raise ValueError("render_group_report: group_dirs is empty; give at least one group")
    return dirs


def render_group_report(
    group_dirs: Sequence[str | os.PathLike], *, base: str | os.PathLike | None = None
) -> str:
    """One self-contained HTML page on the seed groups ``group_dirs``; links to the members'
    reports are relative to the folder ``base`` the page will be written in (default: the
    first group's folder)."""
    groups = [load_group(d) for d in _group_dirs(group_dirs)]
    where = Path(base) if base is not None else groups[0].path
    title = groups[0].name if len(groups) == 1 else f"{len(groups)} seed groups"
    body = []
    if len(groups) > 1:
        body.append(_comparison_html(groups))
        svg = band_svg([(g.name, g.epochs, g.curves) for g in groups])
        if svg:
            body.append(f'<h3>Curves of the groups</h3><div class="figure band">{svg}</div>')
    body += [_group_html(g, i, where) for i, g in enumerate(groups)]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>mlplab report: {escape(title)}</title><style>{CSS}</style></head>"
        f"<body><h1>mlplab report: {escape(title)}</h1>{''.join(body)}</body></html>\n"
    )


def write_group_report(
    group_dirs: Sequence[str | os.PathLike], out_path: str | os.PathLike
) -> Path:
    """Render the report on the seed groups and write it to ``out_path`` atomically. Returns
    the path written."""
    out = Path(out_path)
    data = render_group_report(group_dirs, base=out.parent).encode("utf-8")

    def write(f: BinaryIO) -> None:
        f.write(data)

    atomic_write(out, write, owner="write_group_report")
    return out
