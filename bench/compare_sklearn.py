"""scikit-learn's MLPClassifier against mlplab's, at equal settings, side by side.

    .venv/bin/python bench/compare_sklearn.py          # Fashion-MNIST (if installed), bundled sets
    .venv/bin/python bench/compare_sklearn.py --quick  # a tiny smoke run

Same architecture (one hidden layer of 100 ReLU units, scikit-learn's default), solver (Adam,
learning rate 1e-3), L2 alpha 1e-4, batch size 200, and the same number of epochs for both (the
convergence test is switched off with tol=0 so that neither stops early), Glorot-uniform
weights. Accuracy is the mean over seeds (3 on Fashion-MNIST, 10 on the small sets, whose test
sets of 38 to 450 examples make one seed's accuracy noisy), time the median fit. Inputs are
scaled to [0, 1] (images) or standardized on the training split (tables). scikit-learn runs on
float64 input (its usual use) and on float32 input; mlplab runs in its float32 default. Prints a
table of test accuracy and fit seconds, and writes it as JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLP
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
import mlplab  # noqa: E402
from mlplab.sklearn import MLPClassifier  # noqa: E402


def datasets(quick: bool):
    out = []
    if not quick:
        try:
            (X, y), (Xt, yt) = mlplab.load_fashion_mnist(download=False, dtype="float64")
            out.append(("fashion-mnist", X, y, Xt, yt, 10))
        except mlplab.data.DatasetNotFoundError:
            print("(Fashion-MNIST not installed: skipped; make test installs it)", file=sys.stderr)
    for name, epochs in (("digits", 50), ("breast_cancer", 50), ("wine", 100), ("iris", 200)):
        d = mlplab.load_dataset(name, dtype="float64")
        X, Xt, y, yt = train_test_split(d.X, d.y, test_size=0.25, stratify=d.y, random_state=0)
        scaler = StandardScaler().fit(X)
        out.append((name, scaler.transform(X), y, scaler.transform(Xt), yt, 5 if quick else epochs))
        if quick:
            break
    return out


def run(make, X, y, Xt, yt, repeats: int):
    """Mean test accuracy over ``repeats`` seeds (one seed is too noisy on small test sets) and
    the median fit time."""
    times, accs = [], []
    for r in range(repeats):
        est = make(r)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
        times.append(time.perf_counter() - start)
        accs.append(est.score(Xt, yt))
    se = float(np.std(accs, ddof=1) / np.sqrt(len(accs))) if len(accs) > 1 else 0.0
    return float(np.mean(accs)), se, float(np.median(times)), est.n_iter_


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    settings = dict(
        hidden_layer_sizes=(100,),
        activation="relu",
        solver="adam",
        alpha=1e-4,
        batch_size=200,
        learning_rate_init=1e-3,
        tol=0.0,
    )
    rows = []
    for name, X, y, Xt, yt, epochs in datasets(args.quick):
        repeats = 1 if args.quick else 3 if X.shape[0] > 10_000 else 10
        common = dict(
            settings, max_iter=epochs, n_iter_no_change=epochs + 1, batch_size=min(200, X.shape[0])
        )
        runs = {
            "scikit-learn float64": run(
                lambda r, common=common: SklearnMLP(random_state=r, **common), X, y, Xt, yt, repeats
            ),
            "scikit-learn float32": run(
                lambda r, common=common: SklearnMLP(random_state=r, **common),
                X.astype(np.float32),
                y,
                Xt.astype(np.float32),
                yt,
                repeats,
            ),
            "mlplab float32": run(
                lambda r, common=common: MLPClassifier(random_state=r, **common),
                X,
                y,
                Xt,
                yt,
                repeats,
            ),
        }
        for who, (acc, se, secs, n_iter) in runs.items():
            rows.append(
                {
                    "dataset": name,
                    "train": int(X.shape[0]),
                    "test": int(Xt.shape[0]),
                    "epochs": int(n_iter),
                    "model": who,
                    "test_accuracy": acc,
                    "accuracy_se": se,
                    "fit_seconds": secs,
                }
            )
    ours = {r["dataset"]: r for r in rows if r["model"] == "mlplab float32"}
    print(
        "| dataset | train/test | epochs | model | test accuracy (mean +- se) | fit s | "
        "mlplab speed-up |\n|---|---|---|---|---|---|---|"
    )
    for r in rows:
        speedup = r["fit_seconds"] / ours[r["dataset"]]["fit_seconds"]
        print(
            f"| {r['dataset']} | {r['train']}/{r['test']} | {r['epochs']} | {r['model']} | "
            f"{r['test_accuracy']:.4f} +- {r['accuracy_se']:.4f} | {r['fit_seconds']:.2f} | "
            f"{'' if r['model'].startswith('mlplab') else f'{speedup:.2f}x'} |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
