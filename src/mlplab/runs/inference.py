"""A trained run put to use: ``mlplab evaluate RUN`` and ``mlplab predict RUN INPUT``.

The run's experiment is rebuilt from its ``config.toml`` (same seed: the same split and the
preprocessing fit on the same training part), checked against ``fingerprint.json`` (the data
loaded and the split's indices must have the same SHA-256 as when it trained), and the trainer
loads ``model.npz``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..backend import to_numpy
from .files import CONFIG, FINGERPRINT, MODEL, check_run_dir, read_json
from .run import data_fingerprint, splits_of

SPLITS = ("test", "validation", "train")


def load_trained_run(run_dir: str | os.PathLike) -> Any:
    """The run's experiment (``mlplab.config.build_experiment`` of its ``config.toml``) with
    ``model.npz`` loaded into its trainer; a ValueError if the data differ from the
    fingerprint's or the run has no model.npz (it did not finish)."""
    from ..config import build_experiment, load_config

    run = check_run_dir(run_dir)
    if not (run / MODEL).is_file():
        raise ValueError(f"RUN: {str(run)!r} has no {MODEL} (the run did not finish)")
    experiment = build_experiment(load_config(run / CONFIG))
    check_fingerprint(run, experiment)
    experiment.trainer.load(run / MODEL)
    return experiment


def check_fingerprint(run: Path, experiment: Any) -> None:
    """Refuse (ValueError naming the array) when the loaded data or the split's indices do not
    have the SHA-256 recorded in the run's fingerprint.json."""
    recorded = read_json(run / FINGERPRINT)
    now = data_fingerprint(experiment)
    for group in ("indices", "arrays"):
        for key, digest in recorded.get(group, {}).items():
            if now[group].get(key, {}).get("sha256") != digest.get("sha256"):
                raise ValueError(
                    f"the data differ from those {str(run)!r} trained on: {group}.{key} has "
                    f"another SHA-256 than {FINGERPRINT} records (the dataset or its split "
                    "changed)"
                )


def evaluate_run(run_dir: str | os.PathLike, data: str = "test") -> dict[str, float]:
    """The run's final model's loss (and accuracy for a classifier) on one part of its data:
    ``"test"`` (equal to results.json's), ``"validation"`` or ``"train"``."""
    if data not in SPLITS:
        raise ValueError(f"--data: unknown part {data!r}; valid: {', '.join(SPLITS)}")
    experiment = load_trained_run(run_dir)
    splits = splits_of(experiment)
    if data not in splits:
        raise ValueError(f"--data: the run's config has an empty {data!r} part")
    return experiment.trainer.evaluate(*splits[data])


def read_features(path: str | os.PathLike) -> np.ndarray:
    """Raw features from a ``.npy`` file or a numeric CSV (a first line that is not numeric
    is a header and skipped); 2-D ``(rows, features)``."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"INPUT: {str(path)!r} is not a file")
    if path.suffix.lower() == ".npy":
        X = np.load(path, allow_pickle=False)
    else:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        if not lines:
            raise ValueError(f"INPUT: {str(path)!r} is empty")
        rows = []
        for i, line in enumerate(lines):
            try:
                rows.append([float(v) for v in line.split(",")])
            except ValueError:
                if i == 0:
                    continue  # a header
                raise ValueError(
                    f"INPUT: {str(path)!r} line {i + 1} is not numeric: {line[:60]!r}"
                ) from None
        X = np.array(rows)
    if X.ndim == 1:
        X = X.reshape(1, -1)
    if X.ndim != 2:
        raise ValueError(f"INPUT: expected a 2-D array (rows, features), got shape {X.shape}")
    return X


def predict_run(experiment: Any, X: Any) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    """Predictions of a loaded run (:func:`load_trained_run`) on raw features ``X`` (before
    preprocessing): ``(columns, outputs, labels)`` with the class probabilities and predicted
    class indices for a classifier, the predicted values (labels None) for regression."""
    X = np.asarray(X)
    n = experiment.data.X_train.shape[1]
    if X.ndim != 2 or X.shape[1] != n:
        raise ValueError(f"INPUT: the run's model takes {n} features per row, got shape {X.shape}")
    dtype = experiment.config.train.dtype
    X = X.astype(dtype)
    if experiment.preprocessing is not None:
        X = np.asarray(experiment.preprocessing.transform(X), dtype=dtype)
    trainer = experiment.trainer
    out = to_numpy(trainer.predict(X))
    out = out.reshape(len(X), -1)
    if experiment.task == "regression":
        return [f"y{i}" for i in range(out.shape[1])] if out.shape[1] > 1 else ["y"], out, None
    labels = to_numpy(trainer.predict_labels(X)).reshape(-1)
    names = experiment.class_names
    if out.shape[1] == 1:  # a binary (sigmoid) classifier: P(class 1)
        out = np.concatenate([1 - out, out], axis=1)
    if names is None:
        names = [str(i) for i in range(out.shape[1])]
    return list(names), out, labels


def predictions_csv(columns: list[str], outputs: np.ndarray, labels: np.ndarray | None) -> str:
    """CSV text: a header, then per row the predicted class name and one probability per class
    (``class,p_<name>,...``), or the predicted values for regression."""
    lines = []
    if labels is None:
        lines.append(",".join(columns))
        lines += [",".join(repr(float(v)) for v in row) for row in outputs]
    else:
        lines.append(",".join(["class", *(f"p_{c}" for c in columns)]))
        lines += [
            ",".join([columns[int(k)], *(repr(float(v)) for v in row)])
            for k, row in zip(labels, outputs)
        ]
    return "\n".join(lines) + "\n"


__all__ = [
    "check_fingerprint",
    "evaluate_run",
    "load_trained_run",
    "predict_run",
    "predictions_csv",
    "read_features",
]
