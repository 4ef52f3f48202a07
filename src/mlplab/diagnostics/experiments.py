"""The classic initialization experiment (cs231n, Glorot & Bengio 2010): a deep tanh net on
unit-variance inputs, with weights N(0, 0.01^2), N(0, 1) and Xavier, shows activations that
collapse to zero, saturate at +-1, or keep a healthy spread."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import check_generator, check_positive_int
from ..layers import Activation, Dense
from ..network import Sequential
from .advice import Evidence, Report, check_activations, explain
from .stats import LayerStats, activation_statistics, weight_gains

CLASSIC_INITS = {
    "N(0, 0.01)": {"name": "normal", "config": {"std": 0.01}},
    "N(0, 1)": {"name": "normal", "config": {"std": 1.0}},
    "Xavier": "glorot_normal",
}


def initialization_experiment(
    initializers: dict[str, Any] | None = None,
    *,
    depth: int = 10,
    width: int = 500,
    n: int = 1000,
    activation: str = "tanh",
    rng: np.random.Generator,
    plot: bool = False,
):
    """For each initializer, build ``depth`` Dense+activation layers of ``width`` units, push
    ``n`` standard-normal inputs through, and diagnose the activations.

    Returns ``{label: (stats, report)}``, and with ``plot=True`` also a Figure with one row of
    per-layer histograms per initializer.
    """
    check_generator("initialization_experiment", rng)
    depth = check_positive_int("initialization_experiment", "depth", depth)
    width = check_positive_int("initialization_experiment", "width", width)
    initializers = initializers or CLASSIC_INITS
    X = rng.standard_normal((n, width)).astype(np.float32)
    results: dict[str, tuple[list[LayerStats], Report]] = {}
    models = {}
    for label, init in initializers.items():
        layers = []
        for _ in range(depth):
            layers += [Dense(width, kernel_initializer=init), Activation(activation)]
        model = Sequential(layers + [Dense(1)])
        model.build(width, rng=rng.spawn(1)[0])
        stats = activation_statistics(model, X)
        findings = explain(check_activations(stats), Evidence(gains=weight_gains(model)))
        results[label] = (stats, Report(findings))
        models[label] = model
    if not plot:
        return results
    from matplotlib.figure import Figure

    from .monitor import plot_activation_histograms

    fig = Figure(figsize=(2.0 * depth, 2.6 * len(models)))
    rows = fig.subplots(len(models), depth, squeeze=False)
    for row, (label, model) in zip(rows, models.items()):
        plot_activation_histograms(model, X, axes=list(row))
        row[0].set_ylabel(label)
    fig.tight_layout()
    return results, fig
