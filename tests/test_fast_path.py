"""The trainer on either optimizer path (the readable transforms, the compiled step of
mlplab.optim.fast): the same bits with clipping and ReduceLROnPlateau, checkpoints that do not
know which path ran (save on one, resume on the other, bit-exact), version-2 checkpoints refused
with a clear message, and ReduceLROnPlateau setting the injected learning rate."""

from __future__ import annotations

import json

import numpy as np
import pytest

import mlplab
from mlplab.optim import fast
from mlplab.train import checkpoint

needs_extension = pytest.mark.skipif(not fast.AVAILABLE, reason="mlplab._sweep was not built")


def _data(dtype="float32"):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((48, 5)).astype(dtype)
    return X, (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)


def _trainer(optimizer, dtype="float32", **kw):
    model = mlplab.Sequential([mlplab.Dense(6), mlplab.Tanh(), mlplab.Dense(3)])
    model.build(5, rng=np.random.default_rng(1), dtype=dtype)
    return mlplab.Trainer(
        model,
        "softmax_cross_entropy",
        optimizer,
        batch_size=16,
        epochs=4,
        rng=np.random.default_rng(2),
        verbose=0,
        **kw,
    )


def _bits(trainer) -> dict:
    """Weights and every leaf of the optimizer state, as the checkpoint names them."""
    arrays, scalars = checkpoint._flatten(trainer.opt_state)
    state = {f"state/{k}": np.asarray(v) for k, v in trainer.get_state().items()}
    return {**state, **{f"opt/{k}": v.copy() for k, v in arrays.items()}, **scalars}


def assert_same_bits(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _fit(make, compiled, dtype="float32", epochs=4, **kw):
    mlplab.set_compiled_kernels(compiled)
    try:
        t = _trainer(make(), dtype, **kw)
        X, y = _data(dtype)
        t.fit(X, y, epochs=epochs)
        return t
    finally:
        mlplab.set_compiled_kernels(None)


CASES = {
    "adam clip_value": (lambda: mlplab.adam(0.05), {"clip_value": 0.05}),
    "momentum clip_norm": (lambda: mlplab.momentum(0.2), {"clip_norm": 0.5}),
    "rmsprop plateau": (
        lambda: mlplab.rmsprop(0.02),
        {"callbacks": [mlplab.ReduceLROnPlateau("loss", mode="max", factor=0.5, patience=0)]},
    ),
    "nesterov epoch schedule": (
        lambda: mlplab.nesterov(mlplab.StepDecay(0.1, drop=0.5, every=1, unit="epoch")),
        {},
    ),
}


@needs_extension
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_trainer_gives_the_same_bits_on_either_path(case, dtype):
    make, kw = CASES[case]
    readable = _fit(make, False, dtype, **kw)
    compiled = _fit(make, True, dtype, **kw)
    assert_same_bits(_bits(compiled), _bits(readable))
    assert compiled.history.history["lr"] == readable.history.history["lr"]
    if "plateau" in case:  # the callback set the injected rate: 0.02 halved after epochs 1-3
        assert readable.history.history["lr"] == [0.02, 0.02, 0.01, 0.005]


@needs_extension
@pytest.mark.parametrize("save_on, resume_on", [(True, False), (False, True)])
def test_resume_on_the_other_path_is_bit_exact(tmp_path, save_on, resume_on):
    """2 epochs on one path, save, load into a fresh trainer, 2 more on the other path: the
    bits of 4 epochs in one go."""
    make = lambda: mlplab.adam(0.05)  # noqa: E731
    whole = _fit(make, save_on, epochs=4)
    first = _fit(make, save_on, epochs=2)
    first.save(tmp_path / "ck.npz")
    resumed = _trainer(make())
    resumed.load(tmp_path / "ck.npz")
    mlplab.set_compiled_kernels(resume_on)
    try:
        resumed.fit(*_data(), epochs=2)
    finally:
        mlplab.set_compiled_kernels(None)
    horizonless = [
        {k: v for k, v in _bits(t).items() if k != "end_epoch"}  # the fit's length
        for t in (resumed, whole)
    ]
    assert_same_bits(*horizonless)


def test_checkpoint_holds_the_readable_state(tmp_path):
    """Adam's state in the file is m, v and t by name, and the injected hyperparameters."""
    t = _fit(lambda: mlplab.adam(0.05), None, epochs=1)
    t.save(tmp_path / "ck.npz")
    meta, arrays = checkpoint.read_checkpoint(tmp_path / "ck.npz")
    assert {"opt/inner_state/0/m/0.W", "opt/inner_state/0/v/0.W"} <= set(arrays)
    assert meta["opt_scalars"]["inner_state/0/t"] == 3  # 48 examples in batches of 16
    assert meta["opt_scalars"]["hyperparams/learning_rate"] == 0.05
    assert meta["version"] == 3


def _rewrite_meta(src, dst, change) -> None:
    """A copy of the checkpoint ``src`` at ``dst`` with ``change(meta)`` applied."""
    import io
    import zipfile

    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    meta = json.loads(str(np.load(io.BytesIO(members["meta.npy"]))))
    change(meta)
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array(json.dumps(meta)))
    members["meta.npy"] = buf.getvalue()
    with zipfile.ZipFile(dst, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)


def test_version_2_checkpoint_is_refused_with_its_version(tmp_path):
    t = _fit(lambda: mlplab.adam(0.05), None, epochs=1)
    t.save(tmp_path / "ck.npz")
    _rewrite_meta(tmp_path / "ck.npz", tmp_path / "v2.npz", lambda meta: meta.update(version=2))
    fresh = _trainer(mlplab.adam(0.05))
    with pytest.raises(
        ValueError,
        match=r"v2\.npz' has format version 2, whose optimizer state "
        r"\(Adam's undivided moment sums .*reads version 3",
    ):
        fresh.load(tmp_path / "v2.npz")


@pytest.mark.parametrize("field, value", [("b1", 1.5), ("learning_rate", -0.5)])
def test_checkpoint_with_a_bad_hyperparameter_is_refused(tmp_path, field, value):
    """Injected hyperparameters read from a file are checked as the next update checks them
    (on either path), before the trainer changes."""
    t = _fit(lambda: mlplab.adam(0.05), None, epochs=1)
    t.save(tmp_path / "ck.npz")
    _rewrite_meta(
        tmp_path / "ck.npz",
        tmp_path / "bad.npz",
        lambda meta: meta["opt_scalars"].__setitem__(f"hyperparams/{field}", value),
    )
    fresh = _trainer(mlplab.adam(0.05))
    before = fresh.get_state()
    with pytest.raises(ValueError, match=rf"bad\.npz'.*hyperparameters.*{field}"):
        fresh.load(tmp_path / "bad.npz")
    assert fresh.opt_state is None and fresh.epoch == 0
    for k, a in fresh.get_state().items():
        np.testing.assert_array_equal(a, before[k])


@needs_extension
@pytest.mark.parametrize("compiled", [False, True])
def test_trainer_step_takes_the_compiled_step_when_it_can(compiled, monkeypatch):
    """Trainer._step asks fast.compiled_step first; None (kernels off) means the readable
    update and apply_updates ran."""
    seen: list[bool] = []
    real = fast.compiled_step

    def spy(*args):
        state = real(*args)
        seen.append(state is not None)
        return state

    monkeypatch.setattr(fast, "compiled_step", spy)
    t = _fit(lambda: mlplab.adam(0.05), compiled, epochs=1)
    assert seen == [compiled] * 3 and t.opt_state.count == 3


def test_reduce_lr_on_plateau_refuses_a_scheduled_rate():
    sched = mlplab.StepDecay(0.1, drop=0.5, every=1, unit="epoch")
    t = _trainer(mlplab.sgd(sched), callbacks=[mlplab.ReduceLROnPlateau("loss")])
    with pytest.raises(
        ValueError,
        match=r"ReduceLROnPlateau: learning_rate follows a schedule, "
        r"which sets it at every update",
    ):
        t.fit(*_data())
