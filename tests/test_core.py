"""The core a student reads (issue 12): the hierarchical softmax as an output layer with a
parameter-free loss, the checked and unchecked entry points of losses and models, and the one
accuracy helper behind the trainer's logs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import mlplab
from mlplab import Dense, HierarchicalSoftmax, Sequential, Tanh, Trainer, gradcheck
from mlplab.losses import TASKS

from examples import LOSS_CASES

# -- hierarchical softmax: an output layer and the loss "nll" ------------------------------------


@pytest.mark.parametrize(
    "layer",
    [
        HierarchicalSoftmax(5),
        HierarchicalSoftmax(6, tree="huffman", class_counts=[9, 1, 4, 2, 7, 3]),
    ],
    ids=["balanced", "huffman"],
)
def test_hierarchical_model_matches_torch_path_formula(layer, rng):
    # the classic formula: -log P(y|h) = -sum over y's path of log sigma(+-z_j), z = h W + b
    model = Sequential([Dense(4), Tanh(), layer])
    model.build(3, rng=rng, dtype="float64")
    X, y = rng.standard_normal((8, 3)), rng.integers(0, layer.n_classes, 8)
    value, dout = mlplab.get_loss("nll").value_and_grad(model.forward(X, training=True), y)
    model.backward(dout)

    p = {k: torch.tensor(v, requires_grad=True) for k, v in model.params().items()}
    h = torch.tanh(torch.from_numpy(X) @ p["0.W"] + p["0.b"])
    z = h @ p["2.W"] + p["2.b"]
    on = torch.from_numpy(layer.on_path[y] * 1.0)
    right = torch.from_numpy(layer.go_right[y] * 1.0)
    loss_t = -(on * (right * F.logsigmoid(z) + (1 - right) * F.logsigmoid(-z))).sum() / 8
    loss_t.backward()
    np.testing.assert_allclose(float(value), loss_t.item(), rtol=1e-12)
    for k, g in model.grads().items():
        np.testing.assert_allclose(g, p[k].grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)


def test_hierarchical_model_passes_gradcheck_with_nll(rng):
    model = Sequential([Dense(5), Tanh(), HierarchicalSoftmax(4)])
    model.build(3, rng=rng, dtype="float64")
    report = gradcheck(model, "nll", rng.standard_normal((6, 3)), rng.integers(0, 4, 6))
    assert report.passed, f"\n{report}"
    assert {r.name for r in report.rows} == {"0.W", "0.b", "2.W", "2.b", "input"}


def test_hierarchical_probabilities_sum_to_one_and_losses_hold_no_weights(rng):
    model = Sequential([Dense(4), HierarchicalSoftmax(7)])
    trainer = Trainer(model, "nll", "adam", epochs=1, batch_size=8, rng=rng, verbose=0)
    trainer.fit(rng.standard_normal((24, 3)), rng.integers(0, 7, 24))
    proba = np.asarray(trainer.predict(rng.standard_normal((5, 3))), np.float64)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert set(trainer.params()) == {"0.W", "0.b", "1.W", "1.b"}
    for name in mlplab.LOSSES.names():  # level 1: pure math, nothing to build or train
        loss = mlplab.get_loss(name)
        assert not any(hasattr(loss, a) for a in ("build", "params", "grads"))


# -- checked once, then unchecked ---------------------------------------------------------------


@pytest.mark.parametrize("make, n_out, targets", LOSS_CASES)
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
def test_unchecked_entry_on_prepared_targets_gives_the_checked_bits(
    make, n_out, targets, weighted, rng
):
    loss = make()
    z = rng.standard_normal((7, n_out)).astype(np.float32)
    y = targets(rng, 7, n_out)
    w = rng.uniform(0.5, 2.0, 7).astype(np.float32) if weighted else None
    t = loss.targets(y, z.shape, dtype=z.dtype, xp=np)
    checked = loss.value_and_grad(z, y, w)
    rows = slice(2, 6)  # a batch of the prepared targets is the batch's targets
    unchecked = loss.value_and_grad(z[rows], t[rows], None if w is None else w[rows], check=False)
    again = loss.value_and_grad(z[rows], y[rows], None if w is None else w[rows])
    assert float(unchecked[0]) == float(again[0])
    np.testing.assert_array_equal(unchecked[1], again[1])
    full = loss.value_and_grad(z, t, w, check=False)
    assert float(full[0]) == float(checked[0])
    np.testing.assert_array_equal(full[1], checked[1])


def test_loss_targets_refuses_an_empty_batch():
    with pytest.raises(ValueError, match=r"SoftmaxCrossEntropy: the batch is empty"):
        mlplab.SoftmaxCrossEntropy().targets(np.zeros(0, np.int64), (0, 3), dtype=np.float32, xp=np)


def test_fit_checks_inputs_and_targets_once_not_per_batch(rng, monkeypatch):
    model = Sequential([Dense(4), Tanh(), Dense(3)])
    trainer = Trainer(model, "cross_entropy", "sgd", epochs=2, batch_size=4, rng=rng, verbose=0)
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 3, 20)
    calls = {"targets": 0, "check_input": 0}
    loss_cls, targets = type(trainer.loss), type(trainer.loss)._targets
    check_input = Sequential.check_input

    def counted_targets(self, *args):
        calls["targets"] += 1
        return targets(self, *args)

    def counted_check_input(self, x):
        calls["check_input"] += 1
        return check_input(self, x)

    monkeypatch.setattr(loss_cls, "_targets", counted_targets)
    monkeypatch.setattr(Sequential, "check_input", counted_check_input)
    trainer.fit(X, y, validation_data=(X[:6], y[:6]))
    assert trainer.step == 10  # 5 batches a epoch, 2 epochs
    assert calls == {"targets": 2, "check_input": 2}  # training set and validation set


def test_forward_check_false_skips_the_input_check(rng):
    model = Sequential([Dense(2)])
    model.build(3, rng=rng, dtype="float64")
    x = np.full((2, 3), np.nan)
    with pytest.raises(ValueError, match=r"Sequential: input contains NaN or inf"):
        model.forward(x)
    assert np.all(np.isnan(model.forward(x, check=False)))  # the caller vouched for it
    ok = rng.standard_normal((4, 3))
    np.testing.assert_array_equal(model.forward(ok, check=False), model.forward(ok))


# -- accuracy: one helper for mini-batch, full-batch and evaluate ------------------------------


def test_every_loss_declares_a_known_task():
    for name in mlplab.LOSSES.names():
        assert mlplab.get_loss(name).task in TASKS, name


@pytest.mark.parametrize(
    "loss, n_out, make_y, labels",
    [
        ("cross_entropy", 3, lambda r: r.integers(0, 3, 30), lambda out: out.argmax(1)),
        ("binary_cross_entropy", 2, lambda r: r.integers(0, 2, (30, 2)), lambda out: out > 0),
        (
            "multilabel_hinge",
            2,
            lambda r: 2 * r.integers(0, 2, (30, 2)) - 1.0,
            lambda out: np.where(out > 0, 1.0, -1.0),
        ),
    ],
    ids=["multiclass", "multilabel", "signed_multilabel"],
)
def test_accuracy_of_evaluate_and_full_batch_solver_is_the_share_of_right_labels(
    loss, n_out, make_y, labels, rng
):
    X, y = rng.standard_normal((30, 4)), make_y(rng)
    trainer = Trainer(
        Sequential([Dense(5), Tanh(), Dense(n_out)]), loss, "lbfgs", epochs=3, rng=rng, verbose=0
    )
    trainer.fit(X, y)
    out = np.asarray(trainer.model.predict(X), np.float64)
    expected = float(np.mean(labels(out) == y))  # per example, or per output
    assert trainer.evaluate(X, y)["accuracy"] == pytest.approx(expected, abs=1e-12)
    # the solver's last epoch logs the accuracy at the weights it accepted
    assert trainer.history.history["accuracy"][-1] == pytest.approx(expected, abs=1e-12)
