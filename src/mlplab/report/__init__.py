"""Static HTML reports on run folders (level 5): ``render_report(run_dirs) -> str`` and
``write_report(run_dirs, out_path)``; on seed groups ``render_group_report(group_dirs)`` and
``write_group_report(group_dirs, out_path)``. The page needs no network and no JavaScript:
figures are inline SVG drawn by matplotlib; the tune report, the gallery and the playground
reuse its pieces (:mod:`.plots`, :mod:`.runfiles`)."""

from .groups import GroupData, load_group, render_group_report, spread, write_group_report
from .page import render_report, write_report
from .runfiles import RunData, differing, flatten, load_run

__all__ = [
    "GroupData",
    "RunData",
    "differing",
    "flatten",
    "load_group",
    "load_run",
    "render_group_report",
    "render_report",
    "spread",
    "write_group_report",
    "write_report",
]
