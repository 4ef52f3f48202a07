"""Static HTML reports on run folders (level 5): ``render_report(run_dirs) -> str`` and
``write_report(run_dirs, out_path)``. The page needs no network and no JavaScript: figures are
inline SVG drawn by matplotlib; the tune report, the gallery and the playground reuse its
pieces (:mod:`.plots`, :mod:`.runfiles`)."""

from .page import render_report, write_report
from .runfiles import RunData, differing, flatten, load_run

__all__ = ["RunData", "differing", "flatten", "load_run", "render_report", "write_report"]
