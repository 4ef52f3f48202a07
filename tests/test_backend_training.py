"""The training stack on every array-API backend it claims (array_api_strict, torch CPU tensors):
fit, evaluate, predict, every gradient optimizer (with a schedule and clipping too), the
callbacks that change training, the non-finite stop and a checkpoint round trip across backends.

The reference is the same run on NumPy, from the same seeds: NumPy takes the compiled optimizer
step where it applies, the other libraries the readable transforms, and their matrix products
sum in their own order, so the weights agree to rounding: relative 1e-10 after 3 float64 steps,
1e-4 after a float32 epoch (measured against each tensor's largest entry).
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import mlplab
from mlplab import BatchNorm, Dense, Dropout, Sequential, Tanh, Trainer
from mlplab.backend import dtype_name, get_namespace, to_numpy
from mlplab.optim import OPTIMIZERS

from examples import backends

BACKENDS = backends()
GRADIENT_OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam"]
RTOL = {"float64": 1e-10, "float32": 1e-4}
N, BATCH = 24, 8  # 3 updates per epoch


def data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, 4))
    return X, (X[:, 0] - X[:, 1] > 0.3).astype(np.int64) + (X[:, 2] > 0.5)  # 3 classes


def make_trainer(xp, optimizer="adam", *, dtype="float64", epochs=1, **kw):
    """Buffers (BatchNorm) and a stochastic layer (Dropout, whose generator is state too). The
    first Dense has no bias: before BatchNorm its gradient is rounding noise, which Adam-like
    rules scale up to full steps, so it would compare noise."""
    model = Sequential([Dense(8, use_bias=False), BatchNorm(), Tanh(), Dropout(0.25), Dense(3)])
    model.build(4, rng=np.random.default_rng(1), dtype=dtype, xp=xp)
    return Trainer(
        model,
        "softmax_cross_entropy",
        optimizer,
        batch_size=BATCH,
        epochs=epochs,
        rng=np.random.default_rng(2),
        verbose=0,
        **kw,
    )


def on(xp, *arrays):
    return tuple(xp.asarray(a) for a in arrays)


def leaves(state):
    """(path, leaf) of a nested optimizer state: arrays as NumPy, numbers as they are; not the
    fit's horizon (``end_epoch``), which differs between a long fit and a short one."""
    if hasattr(state, "_asdict"):
        state = state._asdict()
    if isinstance(state, dict):
        return [(f"{k}/{p}", x) for k, v in state.items() if k != "end_epoch" for p, x in leaves(v)]
    if isinstance(state, (tuple, list)):
        return [(f"{i}/{p}", x) for i, v in enumerate(state) for p, x in leaves(v)]
    return [("", to_numpy(state) if hasattr(state, "shape") else state)]


def assert_close(actual, reference, rtol, what):
    """Entrywise within ``rtol`` of the reference tensor's largest entry."""
    actual, reference = to_numpy(actual), to_numpy(reference)
    assert actual.shape == reference.shape, what
    scale = float(np.max(np.abs(reference))) if reference.size else 0.0
    np.testing.assert_allclose(actual, reference, rtol=rtol, atol=rtol * scale, err_msg=what)


def assert_same_training(trainer, ref, rtol, backend):
    """Same weights, buffers and optimizer state as the NumPy reference, held by the backend's
    arrays in the model's dtype."""
    weights = {**trainer.model.params(), **trainer.model.buffers()}
    ref_weights = {**ref.model.params(), **ref.model.buffers()}
    assert weights.keys() == ref_weights.keys()
    for k, w in weights.items():
        assert type(w).__module__.split(".")[0] == backend, k
        assert dtype_name(w.dtype) == dtype_name(ref_weights[k].dtype), k
        assert_close(w, ref_weights[k], rtol, k)
    state, ref_state = leaves(trainer.opt_state), leaves(ref.opt_state)
    assert [p for p, _ in state] == [p for p, _ in ref_state]
    for (path, x), (_, r) in zip(state, ref_state):
        if isinstance(r, np.ndarray):
            assert x.dtype == r.dtype, path  # no silent float64 in the float32 path
            assert_close(x, r, rtol, path)
        else:
            assert x == pytest.approx(r, rel=1e-12), path
    assert trainer.step == ref.step and trainer.epoch == ref.epoch


def default_rate(name):
    return inspect.signature(OPTIMIZERS.get(name)).parameters["learning_rate"].default


def scheduled(name):
    """The optimizer with its default rate decayed by a cosine over the fit (its horizon from
    the fit, so the schedule's plumbing runs too)."""
    rate = {"name": "cosine_decay", "config": {"learning_rate": default_rate(name)}}
    return {"name": name, "config": {"learning_rate": rate}}


# clip_value bites on most entries of these gradients, clip_norm on the rest
VARIANTS = {
    "plain": (lambda name: name, {}),
    "schedule+clipping": (scheduled, {"clip_value": 0.02, "clip_norm": 0.1}),
}


def fit_run(xp, name, variant, dtype):
    make, clipping = VARIANTS[variant]
    trainer = make_trainer(xp, make(name), dtype=dtype, **clipping)
    X, y = data()
    trainer.fit(*on(xp, X, y))
    return trainer


# -- every gradient optimizer: fit, plain and with a schedule and clipping ----------------------


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("name", GRADIENT_OPTIMIZERS)
@pytest.mark.parametrize(
    "variant, dtype", [("plain", "float64"), ("schedule+clipping", "float64"), ("plain", "float32")]
)
def test_fit_every_optimizer_as_on_numpy(backend, name, variant, dtype):
    xp = BACKENDS[backend]
    trainer = fit_run(xp, name, variant, dtype)
    ref = fit_run(np, name, variant, dtype)
    assert trainer.step == 3
    assert_same_training(trainer, ref, RTOL[dtype], backend)
    for k in ("loss", "accuracy", "lr"):
        assert trainer.history.history[k] == pytest.approx(
            ref.history.history[k], rel=RTOL[dtype]
        ), k


def test_the_clipping_variant_clips():
    """The clipping thresholds of VARIANTS are below the gradients' size, so the variant tests
    clipping and not an unclipped run."""
    trainer = make_trainer(np, "sgd")
    X, y = data()
    model = trainer.model
    _, dout = trainer.loss.value_and_grad(model.forward(X[:BATCH], training=True), y[:BATCH])
    model.backward(dout)
    grads = [to_numpy(g) for g in model.grads().values()]
    clip_value, clip_norm = (
        VARIANTS["schedule+clipping"][1][k] for k in ("clip_value", "clip_norm")
    )
    assert max(float(np.max(np.abs(g))) for g in grads) > clip_value
    clipped = [np.clip(g, -clip_value, clip_value) for g in grads]
    assert np.sqrt(sum(float(np.sum(g * g)) for g in clipped)) > clip_norm


# -- evaluate, predict, validation data, train_step ---------------------------------------------


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_evaluate_predict_and_validation_as_on_numpy(backend):
    xp = BACKENDS[backend]
    X, y = data()
    X_val, y_val = data(seed=1)
    runs = {}
    for key, ns in (("ref", np), ("xp", xp)):
        trainer = make_trainer(ns, "adam", epochs=2)
        trainer.fit(*on(ns, X, y), validation_data=on(ns, X_val, y_val))
        x0, t0 = on(ns, X[:5], y[:5])
        value, _ = trainer.train_step(x0, t0)  # one more update, outside fit
        runs[key] = (
            trainer,
            float(value),
            trainer.evaluate(*on(ns, X_val, y_val)),
            trainer.predict(ns.asarray(X_val), batch_size=7),  # 7 does not divide 24
            trainer.predict_labels(ns.asarray(X_val)),
        )
    (ref, ref_value, ref_eval, ref_proba, ref_labels) = runs["ref"]
    (trainer, value, evaluated, proba, labels) = runs["xp"]
    assert_same_training(trainer, ref, 1e-10, backend)
    for k in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert trainer.history.history[k] == pytest.approx(ref.history.history[k], rel=1e-10), k
    assert value == pytest.approx(ref_value, rel=1e-10)
    assert evaluated.keys() == ref_eval.keys() == {"loss", "accuracy"}
    assert evaluated["loss"] == pytest.approx(ref_eval["loss"], rel=1e-10)
    assert evaluated["accuracy"] == ref_eval["accuracy"]
    # evaluate's accuracy is the share of right labels of predict_labels
    assert evaluated["accuracy"] == pytest.approx(np.mean(to_numpy(labels) == y_val))
    assert get_namespace(proba) is get_namespace(xp.asarray(X))  # predictions stay on the backend
    assert proba.shape == (N, 3)
    assert_close(proba, ref_proba, 1e-10, "predict")
    np.testing.assert_array_equal(to_numpy(labels), ref_labels)


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_an_unbuilt_model_is_built_on_the_data_library(backend):
    """fit builds a model left unbuilt on its data's library (float32, the default), as NumPy
    data builds it on NumPy: the same numbers."""
    xp = BACKENDS[backend]
    X, y = data()
    runs = []
    for ns in (np, xp):
        model = Sequential([Dense(8), Tanh(), Dense(3)])
        trainer = Trainer(
            model,
            "softmax_cross_entropy",
            "adam",
            batch_size=BATCH,
            epochs=1,
            rng=np.random.default_rng(2),
            verbose=0,
        )
        trainer.fit(*on(ns, X, y))
        runs.append(trainer)
    ref, trainer = runs
    assert get_namespace(trainer.model.params()["0.W"]) is get_namespace(xp.asarray(X))
    assert_same_training(trainer, ref, RTOL["float32"], backend)


# -- callbacks that change training ----------------------------------------------------------------


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_reduce_lr_on_plateau_and_early_stopping_as_on_numpy(backend):
    """A min_delta no epoch can meet: every epoch after the first is a plateau. The rate halves
    after each (patience 1), training stops after 3 epochs without improvement and the weights
    of the first epoch come back."""
    xp = BACKENDS[backend]
    X, y = data()
    X_val, y_val = data(seed=1)
    runs = []
    for ns in (np, xp):
        callbacks = [
            mlplab.ReduceLROnPlateau("val_loss", factor=0.5, patience=1, min_delta=1e3),
            mlplab.EarlyStopping("val_loss", patience=3, min_delta=1e3),
        ]
        trainer = make_trainer(
            ns,
            {"name": "momentum", "config": {"learning_rate": 0.1}},
            epochs=10,
            callbacks=callbacks,
        )
        trainer.fit(*on(ns, X, y), validation_data=on(ns, X_val, y_val))
        runs.append(trainer)
    ref, trainer = runs
    assert trainer.history.history["lr"] == [0.1, 0.1, 0.05, 0.025]  # logged before the cut
    assert trainer.epoch == 4 and trainer.history.best_epoch == 0
    assert "weights restored to the end of epoch 1" in trainer.stop_reason
    for k in ("loss", "val_loss"):
        assert trainer.history.history[k] == pytest.approx(ref.history.history[k], rel=1e-10)
    assert_same_training(trainer, ref, 1e-10, backend)
    # the restored weights are those of a fresh one-epoch run on the same library, bit for bit
    one = make_trainer(xp, {"name": "momentum", "config": {"learning_rate": 0.1}}, epochs=1)
    one.fit(*on(xp, X, y))
    for k, w in one.model.params().items():
        np.testing.assert_array_equal(to_numpy(trainer.model.params()[k]), to_numpy(w), k)


# -- penalties, constraints, sample weights ----------------------------------------------------


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_penalties_constraints_and_sample_weight_as_on_numpy(backend):
    """L1 + L2 gradients, a max-norm small enough to bind, per-example weights (given as NumPy:
    they are moved to the model's library once per fit)."""
    xp = BACKENDS[backend]
    X, y = data()
    sample_weight = np.linspace(0.2, 3.0, N)
    runs = []
    for ns in (np, xp):
        trainer = make_trainer(
            ns,
            "rmsprop",
            epochs=2,
            penalties=[mlplab.L1(1e-3), mlplab.L2(1e-2)],
            constraints=[mlplab.MaxNorm(0.5)],
        )
        trainer.fit(*on(ns, X, y), sample_weight=sample_weight)
        runs.append(trainer)
    ref, trainer = runs
    assert_same_training(trainer, ref, 1e-10, backend)
    for k in ("loss", "penalty"):
        assert trainer.history.history[k] == pytest.approx(ref.history.history[k], rel=1e-10), k
    column_norms = [
        np.sqrt(np.sum(to_numpy(t.model.params()["0.W"]) ** 2, axis=0))
        for t in (make_trainer(np), trainer)
    ]
    assert np.max(column_norms[0]) > 0.6  # the initial weights break it: it binds
    assert np.all(column_norms[1] <= 0.5 * (1 + 1e-12))


# -- the non-finite stop --------------------------------------------------------------------------


class PoisonAt(mlplab.Callback):
    """Writes NaN into the first weight after update ``step`` (once); counts the batches."""

    def __init__(self, step):
        self.at, self.batches = step, 0

    def on_batch_end(self, step, logs):
        self.batches += 1
        if step == self.at:
            self.at = None
            W = next(iter(self.trainer.model.params().values()))
            W[...] = get_namespace(W).full(W.shape, float("nan"), dtype=W.dtype)


@pytest.mark.parametrize("backend", ["numpy", *BACKENDS])
@pytest.mark.parametrize(
    "step, per_batch",
    [(4, False), (4, True), (6, False)],
    ids=["loss", "loss-TerminateOnNaN", "weights-after-last-update"],
)
def test_non_finite_stop_restores_the_last_finite_epoch(backend, step, per_batch):
    """Poisoned after update 4 (the first of epoch 2): NumPy stops at the next batch, other
    libraries at the end of the epoch (a per-batch check would wait for the device), unless
    TerminateOnNaN checks every batch (it sees batch 5's loss and stops there). Poisoned after
    update 6 (the epoch's last) the losses stay finite and the end-of-epoch weight check stops
    it. Either way the weights and the momentum of the end of epoch 1 come back."""
    xp = np if backend == "numpy" else BACKENDS[backend]
    poison = PoisonAt(step)
    extra = [mlplab.TerminateOnNaN()] if per_batch else []
    trainer = make_trainer(xp, "momentum", epochs=3, callbacks=[poison, *extra])
    X, y = data()
    what = "an update made the weights NaN or inf" if step == 6 else "loss became nan"
    with pytest.warns(
        mlplab.TrainingDiverged, match=f"{what} in epoch 2 .* restored to the end of epoch 1"
    ):
        trainer.fit(*on(xp, X, y))
    assert trainer.diverged_at == 1 and trainer.epoch == 1 and trainer.step == 3
    # batches seen: NumPy checks batch 5's loss before the callbacks, TerminateOnNaN among
    # them; otherwise the whole epoch runs
    seen = 6 if step == 6 else 4 if backend == "numpy" else 5 if per_batch else 6
    assert poison.batches == seen
    ref = make_trainer(np, "momentum", epochs=1)
    ref.fit(X, y)
    assert_same_training(trainer, ref, 1e-10, backend)


# -- checkpoints across backends ------------------------------------------------------------------

PAIRS = [("array_api_strict", "torch"), ("torch", "numpy"), ("numpy", "array_api_strict")]


@pytest.mark.parametrize("written_on, loaded_on", PAIRS)
def test_checkpoint_written_on_one_backend_resumes_on_another(written_on, loaded_on, tmp_path):
    """One epoch on one library, saved; loaded by a trainer on another, one more epoch: the
    weights, buffers, Adam's moments and the dropout generator go on as one two-epoch NumPy run;
    load_model predicts on the loading library."""
    xp_a, xp_b = (np if b == "numpy" else BACKENDS[b] for b in (written_on, loaded_on))
    X, y = data()
    path = tmp_path / "run.npz"
    first = make_trainer(xp_a, "adam")
    first.fit(*on(xp_a, X, y))
    first.save(path)
    resumed = make_trainer(xp_b, "adam")
    resumed.load(path)
    assert resumed.epoch == 1 and resumed.step == 3
    resumed.fit(*on(xp_b, X, y))
    ref = make_trainer(np, "adam", epochs=2)
    ref.fit(X, y)
    assert_same_training(resumed, ref, 1e-10, loaded_on)
    assert resumed.history.history["loss"] == pytest.approx(ref.history.history["loss"], rel=1e-10)
    model = mlplab.load_model(path, xp=xp_b)
    proba = model.predict_proba(xp_b.asarray(X))
    assert get_namespace(proba) is get_namespace(xp_b.asarray(X))
    ref_first = make_trainer(np, "adam")
    ref_first.fit(X, y)
    assert_close(proba, ref_first.predict(X), 1e-10, "load_model predict_proba")


# -- full-batch solvers take the host path: same iterates ------------------------------------------


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_lbfgs_as_on_numpy(backend):
    xp = BACKENDS[backend]
    X, y = data()
    runs = []
    for ns in (np, xp):
        model = Sequential([Dense(6), Tanh(), Dense(3)])
        model.build(4, rng=np.random.default_rng(1), dtype="float64", xp=ns)
        trainer = Trainer(
            model,
            "softmax_cross_entropy",
            "lbfgs",
            epochs=3,
            rng=np.random.default_rng(2),
            verbose=0,
        )
        trainer.fit(*on(ns, X, y))
        runs.append(trainer)
    ref, trainer = runs
    assert trainer.step == ref.step == 3
    for k, w in trainer.model.params().items():
        assert_close(w, ref.model.params()[k], 1e-10, k)
