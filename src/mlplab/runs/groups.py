"""Seed groups: one configuration trained under several seeds, and the comparison of two
groups' final metrics with Welch's t confidence intervals (``mlplab train CONFIG --seeds N``,
``mlplab compare GROUP_A GROUP_B``).

A group is a folder ``runs/<YYYYmmdd-HHMMSS>-<name>-seeds/`` holding ``group.json``
(``{"name", "seeds", "members": [{"seed", "run"}, ...]}``, ``run`` relative to the group) and
one ordinary run folder per seed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .files import RESULTS, check_name, new_run_dir, read_json, write_json

GROUP = "group.json"
#: the parts of results.json whose numbers are final metrics (``test.loss``, ...)
FINAL = ("test", "validation")


def create_group(runs_dir: str | os.PathLike, name: str, seeds: Sequence[int]) -> Path:
    """A new group folder ``runs_dir/<YYYYmmdd-HHMMSS>-<name>-seeds/`` with a ``group.json``
    listing ``seeds`` and no members yet (:func:`add_member` adds them as they start)."""
    check_name(name)
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ValueError(f"--seeds: a group needs distinct seeds >= 0, got {seeds}")
    group = new_run_dir(runs_dir, f"{name}-seeds")
    (group / "checkpoints").rmdir()  # new_run_dir makes it for runs; a group holds runs
    write_json(group / GROUP, {"name": name, "seeds": seeds, "members": []})
    return group


def add_member(group: str | os.PathLike, seed: int, run: str | os.PathLike) -> None:
    """Record ``run`` (a folder inside ``group``) as the member trained with ``seed``."""
    group = Path(group)
    data = read_group(group)
    run = Path(run)
    if run.parent.resolve() != group.resolve():
        raise ValueError(f"add_member: {str(run)!r} is not a folder inside {str(group)!r}")
    if int(seed) not in data["seeds"]:
        raise ValueError(f"add_member: seed {seed} is not one of the group's {data['seeds']}")
    data["members"].append({"seed": int(seed), "run": run.name})
    write_json(group / GROUP, data)


def read_group(path: str | os.PathLike) -> dict:
    """``group.json`` of the group folder ``path``; a folder that is not a group is a
    ValueError that says how to make one."""
    group = Path(path)
    if not group.is_dir():
        raise ValueError(f"GROUP: {str(group)!r} is not a folder")
    if not (group / GROUP).is_file():
        raise ValueError(
            f"GROUP: {str(group)!r} is not a seed group (it has no {GROUP}; make one with "
            "mlplab train CONFIG --seeds N)"
        )
    data = read_json(group / GROUP)
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("seeds"), list)
        or not isinstance(data.get("members"), list)
    ):
        raise ValueError(f"GROUP: {str(group / GROUP)!r} lacks its 'seeds' or 'members' list")
    return data


def train_group(
    runs_dir: str | os.PathLike,
    name: str,
    seeds: Sequence[int],
    train_one: Callable[[Path, int], Any],
) -> Path:
    """Create a group and train its members in turn: for each seed a member folder
    ``<group>/<YYYYmmdd-HHMMSS>-<name>-seed<s>/`` is recorded in ``group.json``, then
    ``train_one(group, seed)`` must create it (``create_run(group, f"{name}-seed{seed}", ...)``)
    and train it, returning its path. Returns the group folder."""
    group = create_group(runs_dir, name, seeds)
    for seed in seeds:
        run = train_one(group, int(seed))
        add_member(group, int(seed), run)
    return group


def final_metrics(run: str | os.PathLike) -> dict[str, float]:
    """The final metrics of a run: the numbers of ``results.json``'s ``test`` and
    ``validation`` parts, as ``{"test.loss": ..., "test.accuracy": ..., ...}``."""
    data = read_json(Path(run) / RESULTS)
    out = {}
    for part in FINAL:
        for key, value in (data.get(part) or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[f"{part}.{key}"] = float(value)
    return out


def group_metrics(path: str | os.PathLike) -> dict[str, list[float]]:
    """``{metric: [one value per member, in seed order]}`` of a group whose every member
    finished (has ``results.json``) and reports the same metrics."""
    group = Path(path)
    data = read_group(group)
    members = data["members"]
    if len(members) < 2:
        raise ValueError(
            f"GROUP: {str(group)!r} has {len(members)} member run(s); a confidence interval "
            "needs at least 2 per group (mlplab train CONFIG --seeds N with N >= 2)"
        )
    out: dict[str, list[float]] = {}
    first: str | None = None
    for member in members:
        run = group / str(member["run"])
        if not (run / RESULTS).is_file():
            raise ValueError(
                f"GROUP: member {str(run)!r} (seed {member['seed']}) has no {RESULTS}: it did "
                "not finish"
            )
        metrics = final_metrics(run)
        if first is None:
            first = run.name
            out = {k: [v] for k, v in metrics.items()}
            continue
        if set(metrics) != set(out):
            raise ValueError(
                f"GROUP: the members of {str(group)!r} report different metrics: "
                f"{first} has {sorted(out)}, {run.name} has {sorted(metrics)}"
            )
        for k, v in metrics.items():
            out[k].append(v)
    return out


@dataclass(frozen=True)
class Interval:
    """The difference ``mean(b) - mean(a)`` with its confidence interval ``[low, high]`` by
    Welch's t; ``df`` the Welch-Satterthwaite degrees of freedom (nan when both groups have
    zero spread: then the interval is the point ``diff``)."""

    metric: str
    mean_a: float
    mean_b: float
    diff: float
    low: float
    high: float
    df: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def welch_interval(
    a: Sequence[float], b: Sequence[float], *, confidence: float = 0.95, metric: str = ""
) -> Interval:
    """``mean(b) - mean(a)`` and its ``confidence`` interval by Welch's t (unequal variances):

    se = sqrt(s_a^2/n_a + s_b^2/n_b), df = se^4 / ((s_a^2/n_a)^2/(n_a-1) + (s_b^2/n_b)^2/(n_b-1)),
    diff +- t_{(1+confidence)/2, df} se   (sample variances s^2 with ddof=1).

    References: B. L. Welch, "The generalization of Student's problem when several different
    population variances are involved", Biometrika 34 (1947).
    """
    from scipy import stats

    if not 0 < confidence < 1:
        raise ValueError(f"welch_interval: confidence must be in (0, 1), got {confidence=}")
    a, b = [float(x) for x in a], [float(x) for x in b]
    if len(a) < 2 or len(b) < 2:
        raise ValueError(
            f"welch_interval: each side needs at least 2 values, got {len(a)} and {len(b)}"
        )
    na, nb = len(a), len(b)
    ma, mb = math.fsum(a) / na, math.fsum(b) / nb
    va = math.fsum((x - ma) ** 2 for x in a) / (na - 1)
    vb = math.fsum((x - mb) ** 2 for x in b) / (nb - 1)
    qa, qb = va / na, vb / nb
    diff, se = mb - ma, math.sqrt(qa + qb)
    if se == 0:
        return Interval(metric, ma, mb, diff, diff, diff, math.nan)
    df = (qa + qb) ** 2 / (qa**2 / (na - 1) + qb**2 / (nb - 1))
    half = float(stats.t.ppf((1 + confidence) / 2, df)) * se
    return Interval(metric, ma, mb, diff, diff - half, diff + half, df)


@dataclass
class GroupComparison:
    """The final metrics of group ``b`` against group ``a``: one :class:`Interval` each."""

    a: Path
    b: Path
    n_a: int
    n_b: int
    confidence: float
    intervals: list[Interval]

    def __str__(self) -> str:
        pct = f"{100 * self.confidence:g}%"
        lines = [
            f"A: {self.a} ({self.n_a} runs)",
            f"B: {self.b} ({self.n_b} runs)",
            f"difference B - A with its {pct} confidence interval (Welch's t)",
            "",
        ]
        width = max([len("metric")] + [len(i.metric) for i in self.intervals])
        head = f"{'metric':<{width}}  {'mean A':>10}  {'mean B':>10}  {'B - A':>10}  {pct + ' CI'}"
        lines.append(head)
        for i in self.intervals:
            mark = "  excludes 0" if i.excludes_zero else ""
            lines.append(
                f"{i.metric:<{width}}  {i.mean_a:>10.4f}  {i.mean_b:>10.4f}  {i.diff:>+10.4f}  "
                f"[{i.low:+.4f}, {i.high:+.4f}]{mark}"
            )
        excluding = [i.metric for i in self.intervals if i.excludes_zero]
        lines.append("")
        lines.append(
            "intervals excluding 0: "
            + (", ".join(excluding) if excluding else "none")
            + ("" if excluding else " (no difference shown at this confidence)")
        )
        return "\n".join(lines)


def compare_groups(
    a: str | os.PathLike, b: str | os.PathLike, *, confidence: float = 0.95
) -> GroupComparison:
    """Compare the final metrics of group ``b`` with group ``a`` (B - A, Welch's t interval);
    both groups must report the same metrics."""
    ma, mb = group_metrics(a), group_metrics(b)
    if not ma or not mb:
        empty = a if not ma else b
        raise ValueError(f"compare: the runs of {str(empty)!r} report no final metrics")
    only_a, only_b = sorted(set(ma) - set(mb)), sorted(set(mb) - set(ma))
    if only_a or only_b:
        raise ValueError(
            f"compare: the groups report different metrics: only in A ({a}): "
            f"{', '.join(only_a) or '-'}; only in B ({b}): {', '.join(only_b) or '-'}"
        )
    intervals = [welch_interval(ma[k], mb[k], confidence=confidence, metric=k) for k in ma]
    n_a, n_b = len(next(iter(ma.values()), [])), len(next(iter(mb.values()), []))
    return GroupComparison(Path(a), Path(b), n_a, n_b, confidence, intervals)


__all__ = [
    "GROUP",
    "GroupComparison",
    "Interval",
    "add_member",
    "compare_groups",
    "create_group",
    "final_metrics",
    "group_metrics",
    "read_group",
    "train_group",
    "welch_interval",
]
