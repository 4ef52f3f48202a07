"""The trainer says what it did: divergence stops and restores, early stopping reports, each fit
trains more epochs (Keras), callbacks are checked before epoch 1, clear input errors.

References are independent runs: a trainer stopped after k epochs must hold exactly the weights
and optimizer state of a fresh run of k epochs from the same seeds.
"""

from __future__ import annotations

import array_api_strict
import numpy as np
import pytest

import mlplab
from mlplab import Dense, ReLU, Sequential, Trainer
from mlplab.backend import to_numpy


def regression_data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3)).astype(np.float32)
    y = (X @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32) + 0.1).astype(np.float32)
    return X, y


def classification_data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4)).astype(np.float32)
    return X, (X[:, 0] + X[:, 1] > 0).astype(np.int64)


def linear_trainer(optimizer, *, epochs, xp=np, dtype="float32", batch_size=None, **kw):
    model = Sequential([Dense(1)])
    model.build(3, rng=np.random.default_rng(1), dtype=dtype, xp=xp)
    return Trainer(
        model,
        "mse",
        optimizer,
        batch_size=batch_size,
        epochs=epochs,
        rng=np.random.default_rng(2),
        verbose=0,
        **kw,
    )


def leaves(state):
    """The arrays and numbers of a (nested) optimizer state, in order, as NumPy / Python; not
    the fit's horizon (``end_epoch``), which differs between a long fit and a short one."""
    if hasattr(state, "_asdict"):  # the optimizers' NamedTuple states, by field
        state = state._asdict()
    if isinstance(state, dict):
        return [x for k, v in state.items() if k != "end_epoch" for x in leaves(v)]
    if isinstance(state, (tuple, list)):
        return [x for v in state for x in leaves(v)]
    return [to_numpy(state) if hasattr(state, "shape") else state]


def assert_same_state(a: Trainer, b: Trainer):
    """Bit-identical weights, buffers and optimizer state (momentum included)."""
    sa, sb = a.get_state(), b.get_state()
    assert sa.keys() == sb.keys()
    for k in sa:
        np.testing.assert_array_equal(to_numpy(sa[k]), to_numpy(sb[k]), err_msg=k)
    la, lb = leaves(a.opt_state), leaves(b.opt_state)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        np.testing.assert_array_equal(x, y)


# -- 3: a non-finite loss stops training and restores the last finite epoch ---------------------


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # float32 overflow is the point here
def test_divergence_stops_and_restores_weights_and_momentum():
    X, y = regression_data()
    # full-batch gradient descent with momentum above its stable rate: |w| grows geometrically
    # and the float32 loss overflows within a few dozen epochs of the 500 asked for
    t = linear_trainer(mlplab.momentum(5.0), epochs=500)
    with pytest.warns(
        mlplab.TrainingDiverged,
        match=r"(loss became (inf|nan)|an update made "
        r"the weights NaN or inf) in epoch \d+ at "
        r"learning rate 5; weights and optimizer state restored to the end of "
        r"epoch \d+",
    ):
        t.fit(X, y)
    k = t.diverged_at
    assert k is not None and 2 < k < 500 and t.epoch == k and t.stop_training
    assert f"in epoch {k + 1} " in t.stop_reason and f"end of epoch {k}." in t.stop_reason
    assert len(t.history.epoch) == k and np.all(np.isfinite(t.history.history["loss"]))
    reference = linear_trainer(mlplab.momentum(5.0), epochs=k)  # a fresh run of k epochs
    reference.fit(X, y)
    assert_same_state(t, reference)  # weights and velocity (the velocity was NaN before)
    assert t.step == reference.step == k


def test_divergence_in_the_first_epoch_restores_the_initial_weights():
    X, y = regression_data()
    t = linear_trainer(mlplab.sgd(0.1), epochs=3, batch_size=8, callbacks=[PoisonAt(step=3)])
    initial = t.get_state()
    with pytest.warns(
        mlplab.TrainingDiverged,
        match="loss became nan in epoch 1 .* restored to the initial weights",
    ):
        t.fit(X, y)
    assert t.diverged_at == 0 and t.epoch == 0 and t.step == 0 and t.history.epoch == []
    assert "epoch -1" not in t.stop_reason and "epoch 0" not in t.stop_reason
    state = t.get_state()
    assert all(np.array_equal(state[k], initial[k]) for k in initial)


class PoisonAt(mlplab.Callback):
    """Writes NaN into the first weight after update ``step`` (once): the next loss is NaN."""

    def __init__(self, step):
        self.at = step

    def on_batch_end(self, step, logs):
        if step == self.at:
            self.at = None
            W = next(iter(self.trainer.model.params().values()))
            xp = array_api_strict if "array_api_strict" in type(W).__module__ else np
            W[...] = xp.asarray(np.full(W.shape, np.nan), dtype=W.dtype)


@pytest.mark.parametrize("per_batch", [False, True])
def test_divergence_on_another_array_library(per_batch):
    """array_api_strict: the trainer checks at the end of the epoch, TerminateOnNaN per batch;
    both restore the end of the last finite epoch (weights and momentum)."""
    X, y = regression_data()
    extra = [mlplab.TerminateOnNaN()] if per_batch else []
    # 6 batches per epoch; poisoned after update 14, in the third epoch
    t = linear_trainer(
        mlplab.momentum(0.05),
        epochs=5,
        xp=array_api_strict,
        dtype="float64",
        batch_size=8,
        callbacks=[PoisonAt(step=14), *extra],
    )
    with pytest.warns(mlplab.TrainingDiverged, match="in epoch 3 .* end of epoch 2"):
        t.fit(array_api_strict.asarray(X), array_api_strict.asarray(y))
    assert t.diverged_at == 2 and t.epoch == 2 and len(t.history.epoch) == 2
    reference = linear_trainer(
        mlplab.momentum(0.05), epochs=2, xp=array_api_strict, dtype="float64", batch_size=8
    )
    reference.fit(array_api_strict.asarray(X), array_api_strict.asarray(y))
    assert_same_state(t, reference)


def test_next_fit_resets_stop_reason_and_keeps_history():
    X, y = regression_data()
    t = linear_trainer(mlplab.sgd(0.05), epochs=2, batch_size=8, callbacks=[PoisonAt(step=9)])
    with pytest.warns(mlplab.TrainingDiverged, match="in epoch 2 .* end of epoch 1"):
        t.fit(X, y)
    assert t.history.epoch == [0] and t.diverged_at == 1
    t.fit(X, y)  # the poison fired once: now two clean epochs
    assert t.stop_reason is None and t.diverged_at is None
    assert t.history.epoch == [0, 1, 2] and t.epoch == 3


def test_diverged_progress_output_says_so(capsys):
    X, y = regression_data()
    model = Sequential([Dense(1)])
    t = Trainer(
        model,
        "mse",
        "sgd",
        batch_size=8,
        epochs=2,
        rng=np.random.default_rng(0),
        verbose=2,
        callbacks=[PoisonAt(step=8)],
    )
    with pytest.warns(mlplab.TrainingDiverged):
        t.fit(X, y)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("epoch 1/2") and out[-1] == t.stop_reason
    assert "restored to the end of epoch 1" in out[-1]


# -- 6: early stopping says what it restored; reports use that epoch ----------------------------


def test_early_stopping_reports_restored_epoch_and_bias_variance_uses_it(capsys):
    X, y = regression_data(seed=0)
    Xv, yv = regression_data(n=24, seed=1)
    # the training loss falls every epoch, so in "max" mode only epoch 1 is ever the best
    stop = mlplab.EarlyStopping("loss", mode="max", patience=2)
    t = linear_trainer(mlplab.sgd(0.01), epochs=20, batch_size=16, callbacks=[stop])
    t.callbacks.append(mlplab.train.ProgressBar(verbose=2))
    h = t.fit(X, y, validation_data=(Xv, yv))
    # Keras's rule: patience=2 stops after the second epoch in a row without improvement
    assert t.epoch == 3 and h.epoch == [0, 1, 2] and h.best_epoch == 0  # epochs run
    expected = (
        f"early stopping: loss did not improve for 2 epochs after epoch 1 (best "
        f"{h.history['loss'][0]:.4g}); weights restored to the end of epoch 1"
    )
    assert t.stop_reason == expected
    assert capsys.readouterr().out.splitlines()[-1] == expected
    reference = linear_trainer(mlplab.sgd(0.01), epochs=1, batch_size=16)
    reference.fit(X, y)
    state, ref = t.get_state(), reference.get_state()
    assert all(np.array_equal(state[k], ref[k]) for k in ref)
    # the report judges the weights the model holds: epoch 1's row, not the last
    report = mlplab.diagnostics.bias_variance_report(h)
    assert report.val_error == pytest.approx(t.evaluate(Xv, yv)["loss"], rel=1e-6)
    assert report.train_error == h.history["loss"][0]
    assert report.val_error != h.history["val_loss"][-1]


def test_early_stopping_without_restore_and_fresh_state_each_fit():
    X, y = regression_data()
    stop = mlplab.EarlyStopping("loss", mode="max", patience=0, restore_best=False)
    t = linear_trainer(mlplab.sgd(0.01), epochs=10, batch_size=16, callbacks=[stop])
    t.fit(X, y)
    assert t.epoch == 2 and t.history.best_epoch is None
    assert t.stop_reason == (
        f"early stopping: loss did not improve for 1 epochs after epoch 1 "
        f"(best {t.history.history['loss'][0]:.4g}); the weights of the "
        "last epoch (2) are kept"
    )
    t.fit(X, y)  # a new fit starts afresh (Keras): its own first epoch is the best
    assert t.epoch == 4 and "after epoch 3 " in t.stop_reason


# -- 7: each fit trains epochs more (Keras) ------------------------------------------------------


def test_fit_twice_equals_one_longer_fit_and_continues_the_schedule(capsys):
    X, y = classification_data()

    def trainer(epochs, verbose=0):
        model = Sequential([Dense(8, kernel_initializer="he_normal"), ReLU(), Dense(2)])
        model.build(4, rng=np.random.default_rng(3))
        lr = mlplab.optim.StepDecay(0.1, drop=0.5, every=1, unit="epoch")
        return Trainer(
            model,
            "cross_entropy",
            mlplab.momentum(lr),
            batch_size=16,
            epochs=epochs,
            rng=np.random.default_rng(4),
            verbose=verbose,
        )

    once = trainer(5)
    once.fit(X, y)
    twice = trainer(2, verbose=2)
    twice.fit(X, y)
    twice.fit(X, y, epochs=3)
    assert twice.epoch == 5 and twice.step == 5 * 4 and twice.history.epoch == [0, 1, 2, 3, 4]
    assert_same_state(twice, once)
    assert twice.history.history["lr"] == [0.1 * 0.5**e for e in range(5)]  # closed form
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0] for line in lines] == [
        "epoch 1/2",
        "epoch 2/2",
        "epoch 3/5",
        "epoch 4/5",
        "epoch 5/5",
    ]
    twice.fit(X, y)  # the default: the trainer's epochs more
    assert twice.epoch == 7


def test_fit_epochs_must_be_positive_int():
    X, y = regression_data()
    t = linear_trainer("sgd", epochs=1)
    with pytest.raises(ValueError, match=r"Trainer.fit: epochs must be an int >= 1, got epochs=0"):
        t.fit(X, y, epochs=0)
    with pytest.raises(
        TypeError,
        match=r"Trainer.fit: epochs must be an int >= 1, got "
        r"epochs=2.0",
    ):
        t.fit(X, y, epochs=2.0)


# -- 9: callbacks are checked before the first epoch --------------------------------------------


def test_misspelled_monitor_fails_before_epoch_one():
    X, y = classification_data()
    t = Trainer(
        Sequential([Dense(2)]),
        "cross_entropy",
        "sgd",
        epochs=3,
        rng=np.random.default_rng(0),
        verbose=0,
        callbacks=[mlplab.EarlyStopping("val_acc")],
    )
    with pytest.raises(
        ValueError,
        match=r"EarlyStopping: monitor='val_acc' is not logged by "
        r"this fit; its epoch logs are \['loss', 'accuracy', 'val_loss', "
        r"'val_accuracy', 'lr', 'time'\]; did you mean 'val_accuracy'\?",
    ):
        t.fit(X, y, validation_data=(X, y))
    assert t.epoch == 0 and t.step == 0 and t.history.epoch == []


def test_monitor_of_validation_without_validation_data(tmp_path):
    X, y = classification_data()
    t = Trainer(
        Sequential([Dense(2)]),
        "cross_entropy",
        "sgd",
        epochs=3,
        rng=np.random.default_rng(0),
        verbose=0,
        callbacks=[mlplab.ModelCheckpoint(tmp_path / "ck.npz")],
    )  # monitors val_loss
    with pytest.raises(
        ValueError,
        match=r"ModelCheckpoint: monitor='val_loss' is not logged .*"
        r"val_\* keys need fit\(\.\.\., validation_data=\(X_val, y_val\)\)",
    ) as info:
        t.fit(X, y)
    assert "did you mean" not in str(info.value)  # 'loss' is no stand-in for 'val_loss'
    assert t.epoch == 0 and not (tmp_path / "ck.npz").exists()
    with pytest.raises(ValueError, match="ReduceLROnPlateau: monitor='val_loss' is not logged"):
        Trainer(
            Sequential([Dense(2)]),
            "cross_entropy",
            "sgd",
            epochs=3,
            rng=np.random.default_rng(0),
            verbose=0,
            callbacks=[mlplab.ReduceLROnPlateau()],
        ).fit(X, y)


def test_unwritable_checkpoint_path_fails_before_epoch_one(tmp_path):
    X, y = classification_data()
    (tmp_path / "file").write_text("not a folder")
    cases = [
        (tmp_path / "missing" / "ck.npz", "folder .* is missing or not writable"),
        (tmp_path / "file" / "ck.npz", "folder .* is missing or not writable"),
        (tmp_path, "exists and is not a regular file"),
    ]
    for path, message in cases:
        for callback in (
            mlplab.ModelCheckpoint(path, save_best_only=False),
            mlplab.CSVLogger(path),
        ):
            t = Trainer(
                Sequential([Dense(2)]),
                "cross_entropy",
                "sgd",
                epochs=2,
                rng=np.random.default_rng(0),
                verbose=0,
                callbacks=[callback],
            )
            with pytest.raises(ValueError, match=f"{type(callback).__name__}: .*{message}"):
                t.fit(X, y)
            assert t.epoch == 0


def test_keys_declared_by_a_callback_can_be_monitored():
    X, y = classification_data()

    class Margin(mlplab.Callback):
        log_keys = ("margin",)

        def on_epoch_end(self, epoch, logs):
            logs["margin"] = float(-epoch)  # falls: never improves in "max" mode after epoch 1

    stop = mlplab.EarlyStopping("margin", mode="max", patience=0)
    t = Trainer(
        Sequential([Dense(2)]),
        "cross_entropy",
        "sgd",
        epochs=5,
        rng=np.random.default_rng(0),
        verbose=0,
        callbacks=[Margin(), stop],
    )
    t.fit(X, y)
    assert t.epoch == 2 and t.log_keys[-1] == "margin"


# -- 15: clear errors for common mistakes --------------------------------------------------------


def test_input_mistakes_get_clear_errors():
    X, y = classification_data()
    t = Trainer(
        Sequential([Dense(2)]),
        "cross_entropy",
        "sgd",
        epochs=1,
        rng=np.random.default_rng(0),
        verbose=0,
    )
    with pytest.raises(
        TypeError,
        match=r"Trainer: the targets must be an array with one target "
        r"per example, got int 3; epochs is a keyword argument: "
        r"fit\(X, y, epochs=3\)",
    ):
        t.fit(X, 3)
    labels = np.where(y == 1, "cat", "dog")
    for targets in (labels, labels.tolist(), labels.astype(object)):
        with pytest.raises(
            TypeError,
            match=r"Trainer: the targets are strings \(e.g. 'dog'\); "
            r".*LabelEncoder.*mlplab.sklearn.MLPClassifier",
        ):
            t.fit(X, targets)
    with pytest.raises(TypeError, match=r"Trainer \(validation X\): the targets are strings"):
        t.fit(X, y, validation_data=(X, labels))
    t.fit(X, y)
    for bad in (-1, 0):
        with pytest.raises(
            ValueError,
            match=rf"Trainer.predict: batch_size must be an int >= 1, "
            rf"got batch_size={bad}",
        ):
            t.predict(X, batch_size=bad)
    np.testing.assert_array_equal(t.predict(X, batch_size=7), t.predict(X))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point here
def test_an_update_that_overflows_the_weights_is_a_divergence():
    """The loss is measured before each update, so the last update of a fit can overflow the
    weights while every logged loss is finite: that too stops and restores (found by the fuzz
    suite: sgd at 3.4e38, inf in float32, returned NaN weights without a word)."""
    model = mlplab.Sequential([mlplab.Dense(3), mlplab.ReLU(), mlplab.Dense(3)])
    t = mlplab.Trainer(
        model,
        "cross_entropy",
        mlplab.sgd(1e39),
        batch_size=1,
        epochs=1,
        rng=np.random.default_rng(0),
        verbose=0,
    )
    X, y = np.zeros((1, 1), np.float32), np.array([0])
    model.build(1, rng=np.random.default_rng(0))
    initial = t.get_state()
    with pytest.warns(
        mlplab.TrainingDiverged,
        match="an update made the weights NaN or inf in epoch 1 .* restored to the initial weights",
    ):
        t.fit(X, y)
    assert t.diverged_at == 0
    assert all(np.array_equal(v, initial[k]) for k, v in t.get_state().items())


def test_a_list_of_rows_trains_as_its_array():
    """A list of rows is an array to scikit-learn and PyTorch users; an unbuilt model said
    'got list'. The same data as a list and as an array give the same weights, bit for bit."""
    X = np.random.default_rng(3).normal(size=(12, 2)).astype(np.float32)
    y = np.arange(12) % 2
    states = []
    for data in (X.tolist(), X):
        t = Trainer(
            Sequential([Dense(2)]),
            "cross_entropy",
            "sgd",
            batch_size=4,
            epochs=2,
            rng=np.random.default_rng(0),
            verbose=0,
        )
        t.fit(data, y)
        states.append(t.get_state())
    assert all(np.array_equal(states[0][k], states[1][k]) for k in states[1])
    t = Trainer(Sequential([Dense(2)]), "cross_entropy", rng=np.random.default_rng(0), verbose=0)
    with pytest.raises(ValueError, match=r"Trainer: X must be 2-D"):
        t.fit([1.0, 2.0], [0, 1])


def test_zero_dimensional_and_complex_targets_are_refused():
    """A 0-d target array raised IndexError; complex targets lost their imaginary part with only
    NumPy's ComplexWarning (the estimators already refused them)."""
    X = np.zeros((3, 2), np.float32)
    t = Trainer(Sequential([Dense(1)]), "mse", rng=np.random.default_rng(0), verbose=0)
    with pytest.raises(
        TypeError,
        match=r"Trainer: the targets must be an array with one target "
        r"per example, got a 0-d array",
    ):
        t.fit(X, np.array(3.0))
    for y in (np.array([1 + 2j, 0, 1]), [1 + 2j, 0, 1]):
        with pytest.raises(TypeError, match=r"Trainer: the targets are complex numbers"):
            t.fit(X, y)
