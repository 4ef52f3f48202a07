"""Advice that follows the cause (issue 11, item 5), monitor lookups and sampled gradient checks
(item 18).

Each classic failure is built for real on small data (digits, the spiral, Gaussian inputs), the
cause is confirmed independently (closed forms, direct NumPy, finite differences, scikit-learn),
and the report's headline must name that cause; in every scenario no two findings may
contradict each other (the pairs are listed in ``CONTRADICTORY`` below).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

import mlplab
from mlplab import Dense, ReLU, Sequential, Tanh, Trainer, gradcheck
from mlplab.diagnostics import (
    Evidence,
    Report,
    check_gradients,
    check_update_ratios,
    diagnose,
    explain,
    learning_rate_too_high,
)

#: advice that cannot both be right about one network at one time
CONTRADICTORY = [
    (
        r"\braise (it|the learning rate)\b|learning rate (is )?too low",
        r"\blower (it|the learning rate)\b|learning rate (is )?too high",
    ),
    (r"weights too small", r"weights too large"),
    (r"bigger network", r"smaller network"),
]


def _zero_gradients(model, loss, X, y) -> bool:
    """Whether every weight gradient is exactly zero, by one direct backward pass."""
    loss = mlplab.get_loss(loss)
    out = model.forward(model.check_input(X), training=False)
    _, dout = loss.value_and_grad(out, loss.validate_targets(y, out))
    model.backward(dout)
    return all(not np.any(np.asarray(g)) for k, g in model.grads().items() if k.endswith(".W"))


def _dead_fraction(model, X, layer: int) -> float:
    """Fraction of the ReLU units of ``layer`` that are zero on every row of X, directly."""
    x = np.asarray(X, dtype=np.float64)
    for i in range(layer + 1):
        x = np.asarray(model.layers[i].forward(x.astype(model.dtype)), dtype=np.float64)
    return float(np.mean(~(x > 0).any(axis=0)))


def contradictions(report, model=None, loss=None, X=None, y=None) -> list[str]:
    """Every contradiction in the report: a pair from ``CONTRADICTORY`` among the advice of its
    problems and warnings, "weights too small" while ReLUs are dead, or ``[ok] gradient_flow``
    while every weight gradient is zero."""
    advice = [f.advice for f in report.problems()]
    found = []
    for a, b in CONTRADICTORY:
        if any(re.search(a, t) for t in advice) and any(re.search(b, t) for t in advice):
            found.append(f"{a!r} with {b!r}")
    if report.problems("dead_relu") and any("weights too small" in t for t in advice):
        found.append("weights too small with dead ReLUs")
    if (
        model is not None
        and y is not None
        and report.by_check("gradient_flow")
        and _zero_gradients(model, loss, X, y)
    ):
        found.append("[ok] gradient_flow while every weight gradient is zero")
    return found


def assert_trustworthy(report, headline: str, advice: str, *context):
    """The headline names the cause and its advice, nothing contradicts, every line has numbers."""
    assert report.headline is not None, str(report)
    assert report.headline.check == headline, str(report)
    assert re.search(advice, report.headline.advice), report.headline.advice
    assert not contradictions(report, *context), (contradictions(report, *context), str(report))
    text = str(report)
    assert text.splitlines()[0] == str(report.headline).splitlines()[0]  # printed first
    for line in text.splitlines():
        if line.startswith("["):
            assert re.search(r"\d", line), line  # the numbers behind each verdict


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-8)
    return X.astype(np.float32), y


def _stack(width, depth, activation, std):
    layers = []
    for _ in range(depth):
        layers += [
            Dense(width, kernel_initializer={"name": "normal", "config": {"std": std}}),
            mlplab.Activation(activation),
        ]
    return layers


# -- the classic failures ---------------------------------------------------------------------


def test_too_high_learning_rate_kills_relus_and_is_named_as_the_cause():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    model = Sequential([Dense(128), ReLU(), Dense(128), ReLU(), Dense(10)])
    monitor = mlplab.TrainingMonitor(X[:200], y[:200])
    t = Trainer(
        model,
        "cross_entropy",
        mlplab.sgd(3.0),
        batch_size=32,
        epochs=2,
        rng=np.random.default_rng(0),
        callbacks=[monitor],
        verbose=0,
    )
    t.fit(X, y)  # the case: digits, 128-128 ReLU, sgd(3.0)
    # the cause, independently: the first epoch's loss overshot chance (ln 10), units died
    assert t.history.history["loss"][0] > math.log(10)
    assert _dead_fraction(model, X[:200], 3) == 1.0 and _zero_gradients(
        model, "cross_entropy", X[:200], y[:200]
    )
    context = (model, "cross_entropy", X[:200], y[:200])
    # while the updates are huge (epoch 0), and after they stopped for good (now)
    assert_trustworthy(monitor.reports[0], "learning_rate", "lower the learning rate")
    assert_trustworthy(monitor.reports[1], "learning_rate", "lower the learning rate", *context)
    late = monitor.reports[1]
    assert late.problems("no_gradient") and not late.by_check("gradient_flow")
    assert {f.cause for f in late.problems("update_ratio")} == {"dead_relu"}
    assert {f.cause for f in late.problems("dead_relu")} == {"learning_rate"}
    assert "epoch 1" in late.headline.message  # the ratios before they died
    # on demand: the history alone shows the overshoot; without it the dead units lead
    assert_trustworthy(
        diagnose(*context, history=t.history), "learning_rate", "lower the learning rate", *context
    )
    bare = diagnose(*context)
    assert_trustworthy(bare, "dead_relu", "learning rate too high", *context)
    assert f"{_dead_fraction(model, X[:200], 1):.0%} of the ReLU units in layer 1" in str(bare)


def test_too_low_learning_rate(digits):
    X, y = digits
    model = Sequential([Dense(32), Tanh(), Dense(10)])
    monitor = mlplab.TrainingMonitor(X[:200], y[:200])
    t = Trainer(
        model,
        "cross_entropy",
        mlplab.sgd(1e-5),
        batch_size=32,
        epochs=2,
        rng=np.random.default_rng(0),
        callbacks=[monitor],
        verbose=0,
    )
    model.build(64, rng=np.random.default_rng(1))
    W0 = np.array(model.params()["0.W"], dtype=np.float64)
    t.fit(X[:500], y[:500])
    W1 = np.asarray(model.params()["0.W"], dtype=np.float64)
    assert np.linalg.norm(W1 - W0) / np.linalg.norm(W0) < 1e-3  # the weights barely moved
    report = monitor.reports[1]
    assert_trustworthy(
        report, "learning_rate", "raise the learning rate", model, "cross_entropy", X[:200], y[:200]
    )
    assert report.headline.severity == "problem" and "too low" in report.headline.message


def test_too_small_init_collapses_a_deep_tanh_net(digits):
    X, y = digits
    model = Sequential(_stack(64, 6, "tanh", 0.01) + [Dense(10)])
    model.build(64, rng=np.random.default_rng(0))
    assert np.std(np.asarray(model.params()["2.W"])) == pytest.approx(0.01, rel=0.1)
    report = diagnose(model, "cross_entropy", X[:200], y[:200], initial=True)
    assert_trustworthy(
        report,
        "collapsed_activations",
        "weights too small",
        model,
        "cross_entropy",
        X[:200],
        y[:200],
    )
    assert "gain 0.0" in report.headline.advice  # 0.01 * sqrt(64) = 0.08


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_too_large_init_saturates(digits, activation):
    X, y = digits
    model = Sequential(_stack(64, 3, activation, 1.0) + [Dense(10)])
    model.build(64, rng=np.random.default_rng(0))
    W, b = (np.asarray(model.params()[k], dtype=np.float64) for k in ("0.W", "0.b"))
    z = X[:300].astype(np.float64) @ W + b
    a = np.tanh(z) if activation == "tanh" else 1 / (1 + np.exp(-z))
    flat = np.abs(a) > 0.99 if activation == "tanh" else (a < 0.01) | (a > 0.99)
    assert flat.mean() > 0.25  # most units sit in the flat tails
    report = diagnose(model, "cross_entropy", X[:300], y[:300], initial=True)
    assert_trustworthy(
        report, "saturation", "weights too large", model, "cross_entropy", X[:300], y[:300]
    )


def test_vanishing_gradients_in_a_deep_sigmoid_net(rng):
    X, y = rng.standard_normal((200, 20)), rng.integers(0, 3, 200)
    model = Sequential(_stack(20, 12, "sigmoid", 0.3) + [Dense(3)])
    model.build(20, rng=rng, dtype="float64")
    loss = mlplab.get_loss("cross_entropy")

    def numeric(key, entry, eps=1e-5):  # central difference of the loss in one weight
        W = model.params()[key].reshape(-1)
        old, values = W[entry], []
        for w in (old + eps, old - eps):
            W[entry] = w
            values.append(float(loss(model.forward(X), y)))
        W[entry] = old
        return (values[0] - values[1]) / (2 * eps)

    first = max(abs(numeric("0.W", i)) for i in range(0, 400, 40))
    last = max(abs(numeric("24.W", i)) for i in range(0, 60, 6))
    assert first < 1e-3 * last  # the gradient really vanishes on the way back
    report = diagnose(model, loss, X, y)
    assert_trustworthy(report, "vanishing_gradients", "ReLU-family activations", model, loss, X, y)


def test_overfitting_big_net_on_few_examples(digits):
    X, y = digits
    t = Trainer(
        Sequential([Dense(64), ReLU(), Dense(64), ReLU(), Dense(10)]),
        "cross_entropy",
        mlplab.adam(3e-3),
        batch_size=25,
        epochs=25,
        rng=np.random.default_rng(0),
        verbose=0,
    )
    t.fit(X[:100], y[:100], validation_data=(X[1000:1400], y[1000:1400]))
    train = accuracy_score(y[:100], t.predict_labels(X[:100]))
    val = accuracy_score(y[1000:1400], t.predict_labels(X[1000:1400]))
    assert train == 1.0 and val < 0.9
    report = diagnose(t.model, "cross_entropy", X[:100], y[:100], history=t.history)
    assert_trustworthy(
        report, "bias_variance", "more training data", t.model, "cross_entropy", X[:100], y[:100]
    )
    assert "high variance" in report.headline.message


def test_underfitting_linear_model_on_the_spiral():
    data = mlplab.load_dataset("spiral", n_samples=300, rng=np.random.default_rng(0))
    Xtr, Xv, _, ytr, yv, _ = mlplab.train_val_test_split(
        data.X, data.y, rng=np.random.default_rng(0)
    )
    reference = LogisticRegression().fit(Xtr, ytr)  # the best linear model cannot fit it either
    assert accuracy_score(ytr, reference.predict(Xtr)) < 0.7
    t = Trainer(
        Sequential([Dense(3)]),
        "cross_entropy",
        mlplab.adam(0.05),
        batch_size=32,
        epochs=30,
        rng=np.random.default_rng(0),
        verbose=0,
    )
    t.fit(Xtr, ytr, validation_data=(Xv, yv))
    report = diagnose(t.model, "cross_entropy", Xtr, ytr, history=t.history)
    assert_trustworthy(
        report, "bias_variance", "bigger network", t.model, "cross_entropy", Xtr, ytr
    )
    assert "high bias" in report.headline.message


def test_monitor_reports_the_epoch_in_which_training_diverged():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5)).astype(np.float32)
    y = (X @ rng.standard_normal((5, 1))).astype(np.float32)
    monitor = mlplab.TrainingMonitor(X[:50], y[:50], every=5)
    t = Trainer(
        Sequential([Dense(16), ReLU(), Dense(1)]),
        "mse",
        mlplab.sgd(2.0),
        batch_size=20,
        epochs=4,
        rng=np.random.default_rng(0),
        callbacks=[monitor],
        verbose=0,
    )
    with np.errstate(all="ignore"), pytest.warns(mlplab.TrainingDiverged):
        t.fit(X, y)
    report = monitor.reports[t.diverged_at]  # that epoch never ended, and still has a report
    assert report.headline.check == "learning_rate"
    assert f"non-finite in epoch {t.diverged_at + 1}" in report.headline.message
    assert not contradictions(report, t.model, "mse", X[:50], y[:50])


def test_large_first_steps_that_converge_are_a_warning_not_a_failure():
    ev = Evidence(losses=[0.78, 0.15, 0.008], ratios={0: {"0.W": 0.25, "2.W": 1.0}})
    [lr] = [f for f in explain([], ev) if f.check == "learning_rate"]
    assert lr.severity == "warning" and "though the loss falls every epoch" in lr.message
    [lr] = explain([], Evidence(losses=[0.78, 0.9], ratios={0: {"0.W": 0.25}}))
    assert lr.severity == "problem"


# -- the rules behind the advice, on hand-made numbers -----------------------------------------


def test_zero_gradients_and_zero_updates_are_not_ok_and_not_a_low_learning_rate():
    zero = check_gradients({"0.W": (0.0, 1.0), "2.W": (0.0, 2.0)})
    assert [f.check for f in zero] == ["no_gradient"] and zero[0].severity == "problem"
    [f] = check_update_ratios({"0.W": 0.0})
    assert f.severity == "problem" and not re.search(CONTRADICTORY[0][0], f.advice)
    assert "not a low learning rate" in f.advice


def test_low_and_high_update_ratios_give_one_direction():
    findings = explain(
        check_update_ratios({"0.W": 1e-6, "2.W": 0.5}),
        Evidence(ratios={0: {"0.W": 1e-6, "2.W": 0.5}}),
    )
    report = Report(findings)
    assert report.headline.check == "learning_rate" and "too high" in report.headline.message
    assert not contradictions(report)
    low = [f for f in findings if f.check == "update_ratio" and f.layer == 0]
    assert low[0].cause == "learning_rate"


def test_loss_history_alone_reveals_a_too_high_rate():
    ev = Evidence(losses=[1.0, 0.5, 3.0], chance_loss=math.log(10))
    assert "rose from 0.5 to 3" in learning_rate_too_high(ev)[0]
    ev = Evidence(losses=[1.0, float("nan")])
    assert any("non-finite in epoch 2" in s for s in learning_rate_too_high(ev))
    assert learning_rate_too_high(Evidence(losses=[2.0, 1.0, 0.5])) == []
    # late noise on a small loss is no overshoot: 0.010 -> 0.013 is 0.15% of the first loss
    assert learning_rate_too_high(Evidence(losses=[2.0, 0.5, 0.01, 0.013])) == []


def test_printed_report_shows_the_numbers_of_passed_checks(digits):
    X, y = digits
    model = Sequential([Dense(16, kernel_initializer="he_normal"), ReLU(), Dense(10)])
    model.build(64, rng=np.random.default_rng(0))
    text = str(diagnose(model, "cross_entropy", X[:200], y[:200], initial=True))
    dead = _dead_fraction(model, X[:200], 1)
    assert f"[ok     ] dead_relu: layer 1 {dead:.0%} dead" in text
    assert re.search(r"\[ok     \] gradient_flow: .*0\.W \d\.\de[+-]\d+", text)
    assert re.search(
        r"initial loss \d\.\d+, expected near the chance-level loss "
        rf"ln\(10\) = {math.log(10):.2f}",
        text,
    )


def _cross_entropy(model, X, y) -> float:
    """Mean softmax cross-entropy of the model on (X, y) in plain float64 NumPy."""
    z = np.asarray(model.forward(model.check_input(X)), dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean())


def test_untrained_loss_and_chance_level_loss_are_named_apart():
    # review finding: the monitor said "above the untrained loss (2.69)" (measured) and diagnose
    # "(2.3)" (ln 10) in the same words; the measured one is the untrained loss, ln C is chance
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    model = Sequential([Dense(128), ReLU(), Dense(128), ReLU(), Dense(10)])
    model.build(64, rng=np.random.default_rng(0))
    untrained = _cross_entropy(model, X[:200], y[:200])  # measured before any update
    monitor = mlplab.TrainingMonitor(X[:200], y[:200])
    t = Trainer(
        model,
        "cross_entropy",
        mlplab.sgd(3.0),
        batch_size=32,
        epochs=3,
        rng=np.random.default_rng(0),
        callbacks=[monitor],
        verbose=0,
    )
    t.fit(X, y)
    assert t.history.history["loss"][0] > 1.1 * max(untrained, math.log(10))  # an overshoot
    watched = monitor.reports[2].headline
    assert watched.check == "learning_rate"
    assert f"is above the untrained loss ({untrained:.3g})" in watched.message, watched.message
    assert "chance-level" not in watched.message
    on_demand = diagnose(model, "cross_entropy", X[:200], y[:200], history=t.history).headline
    assert on_demand.check == "learning_rate"
    assert f"is above the chance-level loss ln(10) = {math.log(10):.2f}" in on_demand.message
    assert "untrained" not in on_demand.message, on_demand.message


@pytest.mark.parametrize("n_classes", [2, 3, 10])
def test_chance_level_loss_is_written_as_ln_c(n_classes):
    sign = learning_rate_too_high(Evidence(losses=[9.0], chance_loss=math.log(n_classes)))
    assert sign == [
        f"the mean loss of epoch 1 (9) is above the chance-level loss "
        f"ln({n_classes}) = {math.log(n_classes):.2f}"
    ]
    sign = learning_rate_too_high(
        Evidence(losses=[9.0], initial_loss=2.69, chance_loss=math.log(n_classes))
    )
    assert sign == ["the mean loss of epoch 1 (9) is above the untrained loss (2.69)"]


def test_diagnose_rejects_a_history_without_losses(digits):
    X, y = digits
    model = Sequential([Dense(10)])
    model.build(64, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"diagnose: history must be a History .* got list"):
        diagnose(model, "cross_entropy", X[:10], y[:10], history=[1.0, 0.5])


# -- item 18: monitor lookups, sampled gradient checks --------------------------------------------


def test_monitor_reports_lookup_names_recorded_epochs_and_the_nearest(digits):
    X, y = digits
    monitor = mlplab.TrainingMonitor(X[:50], y[:50], every=2)
    Trainer(
        Sequential([Dense(8), Tanh(), Dense(10)]),
        "cross_entropy",
        "adam",
        epochs=5,
        rng=np.random.default_rng(0),
        callbacks=[monitor],
        verbose=0,
    ).fit(X[:100], y[:100])
    assert sorted(monitor.reports) == [0, 2, 4]
    with pytest.raises(
        KeyError,
        match=r"no report for epoch=3: reports are made every 2 "
        r"epoch\(s\), 0-based, at epochs \[0, 2, 4\]; the nearest "
        r"is epoch 2",
    ):
        monitor.reports[3]
    assert monitor.reports.nearest(3) == (2, monitor.reports[2])
    assert monitor.reports.nearest(1)[0] == 0 and monitor.reports.nearest(99)[0] == 4
    assert monitor.reports.get(3) is None
    empty = mlplab.TrainingMonitor(X[:50], y[:50])
    with pytest.raises(KeyError, match="none recorded yet"):
        empty.reports[0]
    with pytest.raises(
        ValueError,
        match=r"TrainingMonitor: every must be an int >= 1, got "
        r"every=0",
    ):
        mlplab.TrainingMonitor(X, y, every=0)


def _model(rng, width=64):
    model = Sequential([Dense(width), Tanh(), Dense(width), Tanh(), Dense(10)])
    model.build(64, rng=rng, dtype="float64")
    return model


def test_gradcheck_samples_entries_and_says_how_many(rng):
    model = _model(rng)
    X, y = rng.standard_normal((4, 64)), rng.integers(0, 10, 4)
    report = gradcheck(model, "cross_entropy", X, y, max_entries=7, rng=np.random.default_rng(0))
    assert report.passed
    sizes = {r.name: r.size for r in report.rows}
    assert {r.name: r.checked for r in report.rows} == {k: min(7, n) for k, n in sizes.items()}
    assert report.checked == sum(min(7, n) for n in sizes.values())
    assert f"checked {report.checked} of {sum(sizes.values())} entries" in str(report)
    again = gradcheck(model, "cross_entropy", X, y, max_entries=7, rng=np.random.default_rng(0))
    assert [r.max_abs_error for r in again.rows] == [r.max_abs_error for r in report.rows]
    small = _model(rng, width=2)  # every tensor within max_entries: all checked, no sample
    full = gradcheck(small, "cross_entropy", X, y, max_entries=1000, rng=np.random.default_rng(0))
    assert all(r.checked == r.size for r in full.rows) and "sample" not in str(full)


def test_sampled_gradcheck_catches_a_wrong_gradient(rng, monkeypatch):
    model = _model(rng)
    X, y = rng.standard_normal((4, 64)), rng.integers(0, 10, 4)
    real = Dense.backward_params

    def off_by_a_percent(self, dout):  # a bug the sample must not miss
        real(self, dout)
        self.grads["W"] = self.grads["W"] * 1.01

    monkeypatch.setattr(Dense, "backward_params", off_by_a_percent)
    report = gradcheck(model, "cross_entropy", X, y, max_entries=5, rng=np.random.default_rng(1))
    assert not report.passed
    assert {r.name for r in report.rows if not report.row_passed(r)} == {"0.W", "2.W", "4.W"}


def test_gradcheck_sampling_arguments_are_checked(rng):
    model = _model(rng, width=4)
    X, y = rng.standard_normal((2, 64)), rng.integers(0, 10, 2)
    with pytest.raises(
        ValueError,
        match=r"gradcheck: max_entries samples .* needs an explicit "
        r"rng=.*got rng=None",
    ):
        gradcheck(model, "cross_entropy", X, y, max_entries=5)
    with pytest.raises(ValueError, match=r"gradcheck: rng is only used to sample"):
        gradcheck(model, "cross_entropy", X, y, rng=np.random.default_rng(0))
    with pytest.raises(
        ValueError,
        match=r"gradcheck: max_entries must be an int >= 1, got "
        r"max_entries=0",
    ):
        gradcheck(model, "cross_entropy", X, y, max_entries=0, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"gradcheck: rng must be a numpy.random.Generator"):
        gradcheck(model, "cross_entropy", X, y, max_entries=5, rng=42)
