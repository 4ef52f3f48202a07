"""Command line: ``python -m mlplab <command>`` (level 5: nothing imports this module)."""
from __future__ import annotations

import argparse
import math
import sys

import numpy as np


def demo(args: argparse.Namespace) -> int:
    """Build a network for scikit-learn's bundled digits, check its gradients, show its start."""
    from sklearn.datasets import load_digits

    from . import BatchNorm, Dense, ReLU, Sequential, SoftmaxCrossEntropy, gradcheck

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)  # pixel intensities 0..16 -> [0, 1]
    rng = np.random.default_rng(args.seed)
    model = Sequential([Dense(32, kernel_initializer="he_normal"), BatchNorm(), ReLU(), Dense(10)])
    model.build(X.shape[1], rng=rng)
    print(f"mlplab demo: scikit-learn digits, {X.shape[0]} images of {X.shape[1]} pixels, "
          "10 classes\n")
    print(model.summary(), "\n")

    loss = SoftmaxCrossEntropy()
    value, _ = loss.value_and_grad(model.forward(X, training=False), y)
    print(f"initial loss {float(value):.4f}  (a fresh softmax classifier should start near "
          f"ln 10 = {math.log(10):.4f})\n")

    idx = rng.choice(X.shape[0], size=8, replace=False)
    report = gradcheck(model, loss, X[idx], y[idx], training=True)
    print("gradient check, training mode, 8 examples:")
    print(report)
    return 0 if report.passed else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlplab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="build a digits network, gradient-check it, print its summary")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
