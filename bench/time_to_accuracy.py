"""How long mlplab takes to reach 88% and 90% test accuracy on Fashion-MNIST, on this machine.

    .venv/bin/python bench/time_to_accuracy.py            # the candidates below (a few minutes)
    .venv/bin/python bench/time_to_accuracy.py --quick    # a tiny smoke run on synthetic data

Each candidate trains epoch by epoch on the 60,000 training images (pixels in [0, 1]); after
each epoch the official 10,000-image test set is scored, outside the clock. Reported: training
seconds (the clock runs only during ``fit``) and epochs until the test accuracy first reaches
each target. Reference: the Fashion-MNIST paper's scikit-learn MLPClassifier reaches 0.871
(relu, [100]) and 0.868 (tanh, [100]) (Xiao, Rasul, Vollgraf 2017, benchmark table).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
import mlplab  # noqa: E402

TARGETS = (0.88, 0.90)

#: name -> (hidden widths, dropout after each hidden layer, batch size, learning rate, epochs)
#: (a learning rate "cosine" decays from 1e-3 to 0 over the run's epochs)
CANDIDATES = {
    "784-256-256-10 Adam, batch 128": ((256, 256), 0.0, 128, 1e-3, 30),
    "784-256-256-10 Adam + cosine decay over 15 epochs, batch 128": (
        (256, 256),
        0.0,
        128,
        "cosine",
        15,
    ),
    "784-512-512-10 dropout 0.2, Adam, batch 128": ((512, 512), 0.2, 128, 1e-3, 30),
    "784-512-512-10 dropout 0.2, Adam + cosine decay over 20 epochs, batch 128": (
        (512, 512),
        0.2,
        128,
        "cosine",
        20,
    ),
    "784-1024-1024-10 dropout 0.3, Adam, batch 256": ((1024, 1024), 0.3, 256, 1e-3, 30),
}


def build(hidden, dropout, batch_size, lr, epochs, seed, n):
    if lr == "cosine":
        lr = mlplab.get_schedule(
            {
                "name": "cosine_decay",
                "config": {
                    "learning_rate": 1e-3,
                    "decay_steps": epochs * -(-n // batch_size),
                    "unit": "step",
                },
            }
        )
    layers = []
    for h in hidden:
        layers += [mlplab.Dense(h, kernel_initializer="he_uniform"), mlplab.ReLU()]
        if dropout:
            layers.append(mlplab.Dropout(dropout))
    layers.append(mlplab.Dense(10))
    return mlplab.Trainer(
        mlplab.Sequential(layers),
        "softmax_cross_entropy",
        mlplab.adam(lr),
        batch_size=batch_size,
        epochs=epochs,
        rng=np.random.default_rng(seed),
        verbose=0,
    )


def run(name, spec, data, seed, max_seconds):
    (X, y), (Xt, yt) = data
    hidden, dropout, batch_size, lr, epochs = spec
    trainer = build(hidden, dropout, batch_size, lr, epochs, seed, X.shape[0])
    reached: dict[float, tuple[float, int]] = {}
    clock, best, curve = 0.0, 0.0, []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        trainer.fit(X, y, epochs=1)  # one more epoch; the schedule and Adam's state go on
        clock += time.perf_counter() - start
        acc = trainer.evaluate(Xt, yt)["accuracy"]
        best = max(best, acc)
        curve.append((round(clock, 2), round(acc, 4)))
        for target in TARGETS:
            if acc >= target and target not in reached:
                reached[target] = (clock, epoch)
        if len(reached) == len(TARGETS) or clock > max_seconds:
            break
    row = {
        "configuration": name,
        "best_test_accuracy": best,
        "epochs_run": epoch,
        "seconds_run": clock,
        "curve": curve,
    }
    for target in TARGETS:
        seconds, ep = reached.get(target, (None, None))
        row[f"seconds_to_{target}"], row[f"epochs_to_{target}"] = seconds, ep
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run, synthetic data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=300.0,
        help="stop a candidate after this much training time",
    )
    parser.add_argument("--json", default=None, help="write the rows to this JSON file")
    parser.add_argument(
        "--candidates",
        type=int,
        nargs="+",
        default=None,
        help="run only these candidates (0-based indices into the list)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        rng = np.random.default_rng(0)
        X = rng.random((600, 784), dtype=np.float32)
        y = np.argmax(X @ rng.standard_normal((784, 10), dtype=np.float32), axis=1)
        data = ((X[:500], y[:500]), (X[500:], y[500:]))
        candidates = {"784-32-10 quick": ((32,), 0.0, 50, "cosine", 3)}
    else:
        data = mlplab.load_fashion_mnist(download=False)
        candidates = CANDIDATES
        if args.candidates is not None:
            names = list(CANDIDATES)
            candidates = {names[i]: CANDIDATES[names[i]] for i in args.candidates}
    rows = []
    print(
        "| configuration | seconds to 88% | epochs | seconds to 90% | epochs | best test accuracy |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, spec in candidates.items():
        row = run(name, spec, data, args.seed, args.max_seconds)
        rows.append(row)

        def cell(target, key, row=row):
            value = row[f"{key}_to_{target}"]
            return (
                "not reached"
                if value is None
                else (f"{value:.1f}" if isinstance(value, float) else str(value))
            )

        print(
            f"| {name} | {cell(0.88, 'seconds')} | {cell(0.88, 'epochs')} | "
            f"{cell(0.9, 'seconds')} | {cell(0.9, 'epochs')} | {row['best_test_accuracy']:.4f} |",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
