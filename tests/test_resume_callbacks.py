"""A resumed fit continues the callbacks' counters (EarlyStopping's wait, best, best epoch and
best weights; ReduceLROnPlateau's wait and best): interrupted after epoch k and resumed from
the checkpoint, it ends bit for bit as the uninterrupted fit, stop epoch and restored weights
included. A plain second fit (no load) starts them afresh, as Keras does."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import load_digits

from mlplab import (
    Callback,
    Dense,
    EarlyStopping,
    ModelCheckpoint,
    ReduceLROnPlateau,
    ReLU,
    Sequential,
    Trainer,
    adam,
)

EPOCHS = 30


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    return (X[:500], y[:500]), (X[500:800], y[500:800])


def make_trainer(monitor="val_loss", extra=()):
    # min_delta makes both callbacks act within a dozen epochs: the learning rate falls at
    # epochs 7, 8, 10, 11 and training stops after epoch 12 with the weights of epoch 9
    callbacks = [
        EarlyStopping(monitor, patience=3, min_delta=0.02),
        ReduceLROnPlateau(monitor, factor=0.5, patience=1, min_delta=0.05),
        *extra,
    ]
    model = Sequential([Dense(32), ReLU(), Dense(10)])
    trainer = Trainer(
        model,
        "cross_entropy",
        adam(0.01),
        batch_size=64,
        epochs=EPOCHS,
        rng=np.random.default_rng(0),
        callbacks=callbacks,
        verbose=0,
    )
    return trainer, callbacks


class Interrupt(Callback):
    """Stands for a killed process: raises after epoch ``k`` (after the checkpoint's save)."""

    def __init__(self, k: int):
        self.k = k

    def on_epoch_end(self, epoch, logs):
        if epoch + 1 == self.k:
            raise KeyboardInterrupt


def without_time(history: dict) -> dict:
    return {k: v for k, v in history.items() if k != "time"}


def bits(trainer) -> dict:
    return {k: np.asarray(v).tobytes() for k, v in trainer.get_state().items()}


@pytest.fixture(scope="module")
def reference(data):
    train, val = data
    trainer, (stop, plateau) = make_trainer()
    trainer.fit(*train, validation_data=val)
    return trainer, stop, plateau


def test_reference_exercises_both_callbacks(reference):
    trainer, stop, _ = reference
    lrs = trainer.history.history["lr"]
    assert stop.stopped_epoch is not None and trainer.epoch < EPOCHS  # it stopped early
    assert trainer.history.best_epoch is not None and trainer.history.best_epoch + 1 < trainer.epoch
    assert len(set(lrs)) >= 3  # the rate fell at least twice
    assert "weights restored" in trainer.stop_reason


@pytest.mark.parametrize("k", [3, 8, 10, 11])
def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, data, reference, k):
    train, val = data
    path = tmp_path / "last.npz"
    first, _ = make_trainer(extra=[ModelCheckpoint(path, save_best_only=False), Interrupt(k)])
    with pytest.raises(KeyboardInterrupt):
        first.fit(*train, validation_data=val)
    resumed, (stop, plateau) = make_trainer()
    resumed.load(path)
    assert resumed.epoch == k
    resumed.fit(*train, epochs=EPOCHS - k, validation_data=val)
    ref, ref_stop, ref_plateau = reference
    assert without_time(resumed.history.history) == without_time(ref.history.history)
    assert resumed.history.epoch == ref.history.epoch
    assert resumed.epoch == ref.epoch and stop.stopped_epoch == ref_stop.stopped_epoch
    assert resumed.history.best_epoch == ref.history.best_epoch  # the restored best weights
    assert resumed.stop_reason == ref.stop_reason
    assert bits(resumed) == bits(ref)
    assert (stop.best, stop.wait, plateau.best, plateau.wait) == (
        ref_stop.best,
        ref_stop.wait,
        ref_plateau.best,
        ref_plateau.wait,
    )


def test_without_the_callback_state_the_resume_would_differ(tmp_path, data, reference):
    """The test above has teeth: a resume whose callbacks start afresh ends elsewhere."""
    train, val = data
    path = tmp_path / "last.npz"
    first, _ = make_trainer(extra=[ModelCheckpoint(path, save_best_only=False), Interrupt(10)])
    with pytest.raises(KeyboardInterrupt):
        first.fit(*train, validation_data=val)
    meta, arrays = read_npz(path)
    meta["callbacks"] = []
    arrays = {k: v for k, v in arrays.items() if not k.startswith("callbacks/")}
    write_npz(path, meta, arrays)
    fresh, _ = make_trainer()
    fresh.load(path)
    fresh.fit(*train, epochs=EPOCHS - 10, validation_data=val)
    ref = reference[0]
    assert without_time(fresh.history.history) != without_time(ref.history.history)


def test_a_plain_second_fit_starts_the_callbacks_afresh(data):
    train, val = data
    trainer, (stop, plateau) = make_trainer()
    trainer.fit(*train, validation_data=val)
    first_stop = trainer.epoch
    trainer.fit(*train, epochs=5, validation_data=val)
    # afresh: the first epoch of the new fit is an improvement over +inf, so the best epoch is
    # in the new fit and the run did not stop at once
    assert stop.best_epoch is not None and stop.best_epoch >= first_stop
    assert trainer.epoch > first_stop + 1


def read_npz(path):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return json.loads(str(arrays.pop("meta")[()])), arrays


def write_npz(path, meta, arrays):
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)


@pytest.fixture
def saved(tmp_path, data):
    train, val = data
    path = tmp_path / "ck.npz"  # written during the fit: after it, no best weights are kept
    trainer, _ = make_trainer(extra=[ModelCheckpoint(path, save_best_only=False)])
    trainer.fit(*train, epochs=2, validation_data=val)
    return path


def test_checkpoint_holds_the_callback_states(saved):
    meta, arrays = read_npz(saved)
    classes = [(c["class"], c["monitor"], c["mode"]) for c in meta["callbacks"]]
    assert classes == [
        ("EarlyStopping", "val_loss", "min"),
        ("ReduceLROnPlateau", "val_loss", "min"),
    ]
    assert set(meta["callbacks"][0]["numbers"]) == {"best", "wait", "best_epoch", "stopped_epoch"}
    assert meta["callbacks"][0]["arrays"] == {"best_state": ["0.W", "0.b", "2.W", "2.b"]}
    # the best weights are those of the best epoch so far (epoch 2: the loss still falls)
    for key in ("0.W", "2.b"):
        assert arrays[f"callbacks/0/best_state/{key}"].tobytes() == arrays[f"state/{key}"].tobytes()


def test_load_refuses_a_callback_that_watches_something_else(saved):
    trainer, _ = make_trainer(monitor="val_accuracy")
    with pytest.raises(ValueError, match=r"EarlyStopping\(monitor='val_loss'\).*has monitor="):
        trainer.load(saved)
    assert trainer.epoch == 0  # unchanged


def test_a_dropped_callback_is_ignored_and_a_new_one_starts_afresh(saved, data):
    model = Sequential([Dense(32), ReLU(), Dense(10)])
    plain = Trainer(
        model, "cross_entropy", adam(0.01), batch_size=64, rng=np.random.default_rng(0), verbose=0
    )
    plain.load(saved)  # no callbacks: the saved states are not needed
    assert plain.epoch == 2
    trainer, (stop, plateau) = make_trainer()
    trainer.callbacks.remove(stop)
    trainer.load(saved)  # the EarlyStopping state is left, ReduceLROnPlateau's continued
    assert plateau._resume is not None
    second = EarlyStopping("val_loss", patience=3)
    trainer, (stop, _, _) = make_trainer(extra=[second])
    trainer.load(saved)  # the first EarlyStopping continues, the second has none: afresh
    assert stop._resume is not None and second._resume is None


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda m, a: m.update(callbacks={}), "field 'callbacks' must be a list"),
        (lambda m, a: m["callbacks"][0].pop("mode"), r"field 'callbacks/0' must be an object"),
        (
            lambda m, a: m["callbacks"][1]["numbers"].update(wait="2"),
            r"'callbacks/1/numbers/wait' must be a number or null",
        ),
        (
            lambda m, a: m["callbacks"][0].update(arrays={"best_state": [1]}),
            r"'callbacks/0/arrays' must be an object of lists of array names",
        ),
        (lambda m, a: m["callbacks"][0].update(monitor=3), "must be a string or null"),
        (
            lambda m, a: a.pop("callbacks/0/best_state/0.W"),
            r"callback arrays do not match field 'callbacks': missing",
        ),
        (
            lambda m, a: a.update({"callbacks/0/best_state/0.W": np.zeros((2, 2), "f4")}),
            r"holds float32 \(2, 2\), but the model's 'state/0.W' is float32 \(64, 32\)",
        ),
        (
            lambda m, a: m["callbacks"][1]["numbers"].pop("wait"),
            r"holds ReduceLROnPlateau state \['best'\], the trainer's .* keeps \['best', 'wait'\]",
        ),
    ],
)
def test_load_refuses_broken_callback_states(saved, change, match):
    meta, arrays = read_npz(saved)
    change(meta, arrays)
    write_npz(saved, meta, arrays)
    trainer, _ = make_trainer()
    with pytest.raises(ValueError, match=match):
        trainer.load(saved)
    assert trainer.epoch == 0


def test_set_state_errors():
    with pytest.raises(ValueError, match=r"EarlyStopping.set_state: state keys must be"):
        EarlyStopping().set_state({"best": 1.0})
    with pytest.raises(TypeError, match="Callback keeps no state to restore"):
        Callback().set_state({})
    assert ModelCheckpoint("x.npz", save_best_only=False).get_state() is None
    assert ModelCheckpoint("x.npz").get_state() == {"best": float("inf")}
