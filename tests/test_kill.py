"""A training process that writes a checkpoint every epoch (``ModelCheckpoint``), killed with
SIGKILL at random moments, always leaves a checkpoint that loads and resumes bit-exactly: the
save is atomic, so the file is the previous epoch's or the new one, never a mix."""

from __future__ import annotations

import multiprocessing
import sys
import time

import numpy as np
import pytest

from mlplab.train import checkpoint

# The run, as source: the killed children execute it, and this process runs the same for the
# reference. Saves dominate an epoch (2 small steps, then a checkpoint with fsync), so many
# kills land inside a save.
SETUP = """
import numpy as np
import mlplab
from mlplab import Dense, ReLU, Sequential, Trainer

def make_trainer(epochs):
    model = Sequential([Dense(16), ReLU(), mlplab.Dropout(0.2), Dense(3)])
    return Trainer(model, "cross_entropy", mlplab.adam(0.01), batch_size=32, epochs=epochs,
                   rng=np.random.default_rng(3), augment=mlplab.GaussianInputNoise(0.1),
                   verbose=0)

data_rng = np.random.default_rng(11)
X = data_rng.normal(size=(64, 6)).astype(np.float32)
y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0).astype(int)
"""
CHILD = (
    SETUP
    + """
trainer = make_trainer(EPOCHS)
trainer.callbacks.append(mlplab.ModelCheckpoint(PATH, save_best_only=False))
trainer.fit(X, y)
"""
)
EPOCHS, KILLS, MAX_DELAY = 400, 20, 0.35


def reference_run() -> tuple[dict, list]:
    """The uninterrupted run: (namespace of SETUP, (weights, optimizer state) after each epoch,
    index 0 = the start)."""
    ns: dict = {}
    exec(SETUP, ns)
    trainer = ns["make_trainer"](EPOCHS)
    states = []

    class Record(ns["mlplab"].Callback):
        def on_epoch_end(self, epoch, logs):
            states.append(state_of(trainer))

    trainer.callbacks.append(Record())
    trainer.fit(ns["X"], ns["y"])
    return ns, states


def state_of(trainer) -> tuple[dict, dict, dict]:
    arrays, scalars = checkpoint._flatten(trainer.opt_state)
    return (
        trainer.get_state(),
        {k: v.copy() for k, v in arrays.items()},
        {k: v for k, v in scalars.items() if k.split("/")[-1] != "end_epoch"},
    )


def assert_bits_equal(a, b, what: str) -> None:
    for part, x, y in zip(("weights", "optimizer"), a[:2], b[:2]):
        assert x.keys() == y.keys()
        for k in x:
            assert np.array_equal(x[k], y[k]), f"{what}: {part} {k} differ"
    assert a[2] == b[2], f"{what}: optimizer numbers differ"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and the forkserver are POSIX")
def test_sigkill_at_random_moments_leaves_a_checkpoint_that_resumes_bit_exactly(tmp_path):
    ns, reference = reference_run()
    path = tmp_path / "ck.npz"
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["numpy", "mlplab"])  # each child is a fork: fast starts
    code = CHILD.replace("EPOCHS", str(EPOCHS)).replace("PATH", repr(str(path)))
    moments = np.random.default_rng(2024).uniform(0.05, MAX_DELAY, size=KILLS)
    epochs_seen, mid_save = [], 0
    for delay in moments:
        child = context.Process(target=exec, args=(code, {"__name__": "killed_child"}))
        child.start()
        time.sleep(delay)
        child.kill()  # SIGKILL: no cleanup, no flush, whatever it was doing
        child.join(5)
        assert child.exitcode == -9, "the child finished before its kill; raise EPOCHS"
        mid_save += any(p.name.startswith(".tmp-") for p in tmp_path.iterdir())
        if not path.exists():
            continue  # killed before its first save (only possible on the first kill)
        resumed = ns["make_trainer"](EPOCHS)
        resumed.load(path)  # loads: never half-written
        k = resumed.epoch
        assert 1 <= k <= EPOCHS - 2, "raise EPOCHS: the reference must reach k + 2"
        epochs_seen.append(k)
        assert_bits_equal(state_of(resumed), reference[k - 1], f"checkpoint of epoch {k}")
        resumed.fit(ns["X"], ns["y"], epochs=2)  # and resumes as if never interrupted
        assert_bits_equal(state_of(resumed), reference[k + 1], f"resumed from epoch {k}")
    assert len(epochs_seen) >= KILLS - 1 and len(set(epochs_seen)) > KILLS // 2
    assert mid_save >= 1, "no kill landed inside a save; the test is not testing it"
    resumed.save(path)  # the next save removes the temporaries the kills left
    assert [p.name for p in tmp_path.iterdir()] == ["ck.npz"]
