"""Run folders (level 5): one folder per training run holding everything needed to read,
resume, re-run and compare it (see the README's "Experiments")."""

from .environment import environment
from .files import check_run_dir, new_run_dir
from .fingerprint import array_digest, fingerprint
from .groups import (
    GroupComparison,
    Interval,
    compare_groups,
    create_group,
    read_group,
    train_group,
    welch_interval,
)
from .inference import (
    evaluate_run,
    load_trained_run,
    predict_run,
    predictions_csv,
    read_features,
)
from .listing import format_table, list_runs, sort_rows
from .recorder import RunRecorder, metrics_csv
from .results import results
from .run import Diff, compare_runs, create_run, data_fingerprint, splits_of, train_run
from .status import StatusFile, read_status

__all__ = [
    "evaluate_run",
    "format_table",
    "list_runs",
    "load_trained_run",
    "predict_run",
    "predictions_csv",
    "read_features",
    "sort_rows",
    "Diff",
    "GroupComparison",
    "Interval",
    "RunRecorder",
    "StatusFile",
    "array_digest",
    "check_run_dir",
    "compare_groups",
    "compare_runs",
    "create_group",
    "create_run",
    "data_fingerprint",
    "environment",
    "fingerprint",
    "metrics_csv",
    "new_run_dir",
    "read_group",
    "read_status",
    "results",
    "splits_of",
    "train_group",
    "train_run",
    "welch_interval",
]
