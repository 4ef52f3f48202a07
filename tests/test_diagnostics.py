"""Diagnostics: each check is shown the failure it must catch (collapsing, saturating and
healthy inits; a learning rate that kills ReLUs; a too-small net with high bias; a big
unregularized net on 500 examples with high variance) and must give the verdict; the numbers
behind them are checked against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.datasets import load_digits

import mlplab
from mlplab import Dense, ReLU, Sequential, Tanh, Trainer
from mlplab.diagnostics import (
    activation_statistics,
    bias_variance_report,
    check_initial_loss,
    check_update_ratios,
    diagnose,
    gradient_norms,
    initialization_experiment,
    learning_curve,
    overfit_tiny_subset,
    update_ratios,
    validation_curve,
)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def test_initialization_experiment_collapse_saturation_and_healthy_spread(tmp_path):
    results, fig = initialization_experiment(
        depth=10, width=200, n=500, rng=np.random.default_rng(0), plot=True
    )
    small, _ = results["N(0, 0.01)"]
    stds = [s.std for s in small if s.kind == "tanh"]
    assert all(b < a for a, b in zip(stds, stds[1:]))  # shrinks layer after layer
    assert results["N(0, 0.01)"][1].problems("collapsed_activations")
    assert not results["N(0, 0.01)"][1].problems("saturation")
    large = results["N(0, 1)"][1]
    assert len(large.problems("saturation")) == 10 and not large.problems("collapsed_activations")
    xavier_stats, xavier = results["Xavier"]
    assert xavier.ok, str(xavier)
    assert min(s.std for s in xavier_stats if s.kind == "tanh") > 0.1
    fig.savefig(tmp_path / "init.png")
    assert len(fig.axes) == 30 and (tmp_path / "init.png").stat().st_size > 10_000


def test_activation_statistics_match_direct_computation(rng):
    X = rng.standard_normal((300, 5))
    model = Sequential([Dense(8), ReLU(), Dense(4), Tanh(), Dense(2), mlplab.Sigmoid()])
    model.build(5, rng=rng, dtype="float64")
    model.layers[0].params["b"][:3] = -100.0  # three units that can never fire
    stats = activation_statistics(model, X, batch_size=64)  # batching must not matter
    h1 = np.maximum(X @ model.layers[0].params["W"] + model.layers[0].params["b"], 0)
    assert stats[1].dead == pytest.approx(np.mean(~(h1 > 0).any(axis=0)))
    assert stats[1].dead >= 3 / 8
    assert stats[1].mean == pytest.approx(h1.mean()) and stats[1].std == pytest.approx(h1.std())
    h3 = np.tanh(h1 @ model.layers[2].params["W"] + model.layers[2].params["b"])
    assert stats[3].saturated == pytest.approx(np.mean(np.abs(h3) > 0.99))
    assert stats[0].dead is None and stats[0].saturated is None


def test_huge_learning_rate_kills_relus_and_the_advice_says_so(digits):
    X, y = digits

    def run(lr):
        model = Sequential(
            [
                Dense(256, kernel_initializer="he_normal"),
                ReLU(),
                Dense(256, kernel_initializer="he_normal"),
                ReLU(),
                Dense(10),
            ]
        )
        monitor = mlplab.TrainingMonitor(X[:500], y[:500])
        Trainer(
            model,
            "cross_entropy",
            mlplab.sgd(lr),
            batch_size=32,
            epochs=1,
            rng=np.random.default_rng(0),
            callbacks=[monitor],
            verbose=0,
        ).fit(X, y)
        return monitor.reports[0]

    bad = run(1.0).problems("dead_relu")
    assert bad and bad[0].severity == "problem" and "learning rate too high" in bad[0].advice
    assert max(f.value for f in bad) >= 0.4
    assert "% of the ReLU units in layer" in bad[0].message
    assert not run(0.05).problems("dead_relu")


def test_update_ratios_and_gradient_norms_closed_forms(rng):
    W0 = {"0.W": np.full((2, 2), 2.0), "0.b": np.zeros(2)}
    W1 = {"0.W": W0["0.W"] + 0.004, "0.b": np.ones(2)}
    assert update_ratios(W0, W1) == {"0.W": pytest.approx(0.004 / 2.0)}
    ratios = {"0.W": 1e-3, "2.W": 1e-6, "4.W": 0.5}
    severities = {f.layer: f.severity for f in check_update_ratios(ratios)}
    assert severities == {0: "ok", 2: "problem", 4: "problem"}
    advice = {f.layer: f.advice for f in check_update_ratios(ratios)}
    assert "too low" in advice[2] and "too high" in advice[4]
    # one linear layer with half-MSE: dL/dW = X^T (XW + b - Y) / (N K)
    X, Y = rng.standard_normal((20, 3)), rng.standard_normal((20, 2))
    model = Sequential([Dense(2)])
    model.build(3, rng=rng, dtype="float64")
    W, b = model.params()["0.W"], model.params()["0.b"]
    g = X.T @ (X @ W + b - Y) / 40
    norm, wnorm = gradient_norms(model, "mse", X, Y)["0.W"]
    assert norm == pytest.approx(np.linalg.norm(g)) and wnorm == pytest.approx(np.linalg.norm(W))


def test_vanishing_gradients_in_a_deep_sigmoid_net(rng):
    X, y = rng.standard_normal((200, 20)), rng.integers(0, 3, 200)
    layers = []
    for _ in range(12):
        layers += [
            Dense(20, kernel_initializer={"name": "normal", "config": {"std": 0.3}}),
            mlplab.Sigmoid(),
        ]
    model = Sequential(layers + [Dense(3)])
    model.build(20, rng=rng, dtype="float64")
    report = diagnose(model, "cross_entropy", X, y)
    assert report.problems("vanishing_gradients"), str(report)


def test_initial_loss_check(rng):
    X, y = rng.standard_normal((200, 10)), rng.integers(0, 10, 200)
    model = Sequential([Dense(32), Tanh(), Dense(10)])
    model.build(10, rng=rng, dtype="float64")
    fine = check_initial_loss(model, "cross_entropy", X, y)
    assert fine.severity == "ok" and abs(fine.value - math.log(10)) < 0.3
    model.layers[2].params["W"] *= 100.0
    loud = check_initial_loss(model, "cross_entropy", X, y)
    assert loud.severity == "problem" and "confidently wrong" in loud.message
    assert check_initial_loss(model, "mse", X, np.zeros((200, 10))) is None


def test_bias_variance_verdicts_from_numbers():
    r = bias_variance_report((0.15, 0.16), baseline_error=0.01)
    assert r.high_bias and not r.high_variance and r.avoidable_bias == pytest.approx(0.14)
    assert "bigger network" in r.remedies[0]
    r = bias_variance_report({"train": 0.01, "val": 0.11})
    assert r.high_variance and not r.high_bias and "more training data" in r.remedies[0]
    r = bias_variance_report((0.10, 0.30))  # bias 0.10, variance 0.20
    assert r.high_bias and r.high_variance and "mostly variance" in r.verdict
    assert bias_variance_report((0.005, 0.01)).verdict.startswith("fine")
    r = bias_variance_report({"loss": [2.0, 1.0], "val_loss": [2.1, 1.5]})
    assert r.metric == "loss" and r.avoidable_bias is None and r.high_variance
    assert "bias not judged" in str(r)
    with pytest.raises(ValueError, match="no validation results"):
        bias_variance_report({"loss": [1.0], "accuracy": [0.5]})
    with pytest.raises(TypeError, match="give a History"):
        bias_variance_report(0.3)


def test_too_small_network_has_high_bias_and_a_big_one_does_not():
    data = mlplab.load_dataset("spiral", n_samples=600, rng=np.random.default_rng(0))
    Xtr, Xv, _, ytr, yv, _ = mlplab.train_val_test_split(
        data.X, data.y, rng=np.random.default_rng(0)
    )

    def report(layers):
        t = Trainer(
            Sequential(layers),
            "cross_entropy",
            mlplab.adam(0.01),
            batch_size=32,
            epochs=100,
            rng=np.random.default_rng(0),
            verbose=0,
        )
        t.fit(Xtr, ytr, validation_data=(Xv, yv))
        return bias_variance_report(t.history)

    linear = report([Dense(3)])
    assert linear.high_bias and not linear.high_variance and linear.train_error > 0.3
    deep = report([Dense(64), ReLU(), Dense(64), ReLU(), Dense(3)])
    assert not deep.high_bias, str(deep)


def test_big_unregularized_net_on_500_examples_has_high_variance(digits):
    X, y = digits
    t = Trainer(
        Sequential([Dense(512), ReLU(), Dense(512), ReLU(), Dense(10)]),
        "cross_entropy",
        "adam",
        batch_size=32,
        epochs=40,
        rng=np.random.default_rng(0),
        verbose=0,
    )
    t.fit(X[:500], y[:500], validation_data=(X[500:], y[500:]))
    errors = (
        1 - t.evaluate(X[:500], y[:500])["accuracy"],
        1 - t.evaluate(X[500:], y[500:])["accuracy"],
    )
    r = bias_variance_report(errors)
    assert r.high_variance and not r.high_bias, str(r)
    assert bias_variance_report(t.history).high_variance


def test_learning_and_validation_curves(digits, tmp_path):
    X, y = digits

    def make(rng, lam=0.0):
        return Trainer(
            Sequential([Dense(32), ReLU(), Dense(10)]),
            "cross_entropy",
            mlplab.adam(3e-3),
            batch_size=32,
            epochs=15,
            rng=rng,
            verbose=0,
            penalties=[mlplab.L2(lam)] if lam else [],
        )

    curve = learning_curve(
        make,
        X[:1000],
        y[:1000],
        X[1000:],
        y[1000:],
        sizes=(0.05, 0.3, 1.0),
        preprocessing="standardize",
        rng=np.random.default_rng(0),
    )
    assert curve.x == [50, 300, 1000]
    assert curve.val_error[0] > curve.val_error[-1]  # more data, lower validation error
    assert all(tr <= va + 0.01 for tr, va in zip(curve.train_error, curve.val_error))
    vc = validation_curve(
        lambda lam, rng: make(rng, lam),
        [1e-4, 1e-2, 1.0],
        X[:1000],
        y[:1000],
        X[1000:],
        y[1000:],
        name="L2 lambda",
        rng=np.random.default_rng(0),
    )
    assert vc.log_x and vc.train_error[-1] > vc.train_error[0]  # strong L2 underfits
    assert vc.best in (1e-4, 1e-2)
    fig = vc.plot()
    fig.savefig(tmp_path / "vc.png")
    assert fig.axes[0].get_xscale() == "log"


def test_overfit_tiny_subset(digits):
    X, y = digits

    def make(lr):
        return lambda rng: Trainer(
            Sequential([Dense(64), ReLU(), Dense(10)]),
            "cross_entropy",
            mlplab.adam(lr),
            batch_size=20,
            epochs=100,
            rng=rng,
            verbose=0,
        )

    ok = overfit_tiny_subset(make(1e-2), X, y, rng=np.random.default_rng(0))
    assert ok.severity == "ok" and "100%" in ok.message
    stuck = overfit_tiny_subset(make(1e-7), X, y, rng=np.random.default_rng(0))
    assert stuck.severity == "problem" and "cannot even memorize" in stuck.message


def test_monitor_history_and_gradient_plot(digits, tmp_path):
    X, y = digits
    monitor = mlplab.TrainingMonitor(X[:200], y[:200], every=2)
    t = Trainer(
        Sequential([Dense(32), Tanh(), Dense(10)]),
        "cross_entropy",
        "adam",
        epochs=4,
        rng=np.random.default_rng(0),
        callbacks=[monitor],
        verbose=0,
    )
    t.fit(X, y)
    assert [h["epoch"] for h in monitor.history] == [0, 2] and sorted(monitor.reports) == [0, 2]
    assert set(monitor.history[0]["grad_norm"]) == {"0.W", "2.W"}
    assert 1e-5 < monitor.history[0]["update_ratio"]["0.W"] < 1e-1
    assert monitor.initial is not None and monitor.initial.check == "initial_loss"
    fig = monitor.plot_gradient_norms()
    fig.savefig(tmp_path / "g.png")
    assert len(fig.axes[0].lines) == 2
