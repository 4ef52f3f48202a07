"""``results.json``: the test set evaluated once, at the end, with the validation scores, the
confusion matrix, per-class precision/recall/F1 and the bias/variance verdict."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import to_numpy
from ..diagnostics import bias_variance_report
from ..metrics import confusion_matrix


def _as_labels(y: Any) -> np.ndarray:
    y = to_numpy(y)
    return y.argmax(axis=1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(-1)


def results(trainer, splits: dict[str, tuple], class_names: list[str] | None) -> dict:
    """Scores of the model the trainer holds on ``splits`` (``"train"``, ``"validation"``,
    ``"test"``: pairs ``(X, y)``); a classifier (a loss with accuracy) also gets the confusion
    matrix and per-class scores on the test set (else on validation) and the bias/variance
    verdict from the training and validation error rates in evaluation mode."""
    from sklearn.metrics import precision_recall_fscore_support

    out: dict[str, Any] = {}
    for name in ("test", "validation"):
        if name in splits:
            out[name] = trainer.evaluate(*splits[name])
    evaluated = "test" if "test" in splits else "validation" if "validation" in splits else None
    classifier = evaluated is not None and "accuracy" in out[evaluated]
    if classifier:
        assert evaluated is not None
        X, y = splits[evaluated]
        truth, predicted = _as_labels(y), to_numpy(trainer.predict_labels(X)).reshape(-1)
        n = int(trainer.model.out_features) if trainer.model.out_features > 1 else 2
        names = list(class_names) if class_names is not None else [str(i) for i in range(n)]
        matrix = confusion_matrix(truth, predicted, n_classes=len(names))
        p, r, f, s = precision_recall_fscore_support(
            truth, predicted, labels=np.arange(len(names)), zero_division=0
        )
        out["evaluated_on"] = evaluated
        out["confusion_matrix"] = matrix.tolist()
        out["class_names"] = names
        out["per_class"] = {
            name: {
                "precision": float(p[i]),
                "recall": float(r[i]),
                "f1": float(f[i]),
                "support": int(s[i]),
            }
            for i, name in enumerate(names)
        }
    if "train" in splits and "validation" in splits:
        train = trainer.evaluate(*splits["train"])
        val = out["validation"]
        source: Any = (
            (1 - train["accuracy"], 1 - val["accuracy"])
            if classifier
            else {"train": train["loss"], "val": val["loss"], "metric": "loss"}
        )
        report = bias_variance_report(source)
        out["bias_variance"] = {
            "verdict": report.verdict,
            "metric": report.metric,
            "train_error": report.train_error,
            "val_error": report.val_error,
            "remedies": list(report.remedies),
        }
    return out
