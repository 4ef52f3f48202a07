"""Compiled (numba) optimizer sweeps give the NumPy kernels' bits, and fall back when they can't run."""
from __future__ import annotations

import numpy as np
import pytest

from mlplab import backend, optim
from mlplab.optim import base, compiled

# every elementwise optimizer, in chains that exercise each per-entry rule
OPTIMIZERS = {
    "sgd": lambda: optim.sgd(0.1),
    "momentum": lambda: optim.momentum(0.05),
    "nesterov": lambda: optim.nesterov(0.05),
    "adagrad": lambda: optim.adagrad(0.1),
    "rmsprop": lambda: optim.rmsprop(0.01),
    "adadelta": lambda: optim.adadelta(),
    "adam": lambda: optim.adam(0.01),
    "adam+cosine": lambda: optim.adam(optim.CosineDecay(0.01, 30)),
    "clip+adam": lambda: optim.chain(optim.clip(0.5), optim.adam(0.01)),
}


@pytest.fixture
def kernels():
    """Switch compiled kernels on or off for one test; restore the default after."""
    yield backend.set_compiled_kernels
    backend.set_compiled_kernels(None)


@pytest.fixture
def sweeps(monkeypatch):
    """Record whether each sweep ran compiled."""
    seen: list[bool] = []
    real = base.compiled_sweep

    def spy(*args):
        seen.append(real(*args))
        return seen[-1]
    monkeypatch.setattr(base, "compiled_sweep", spy)
    return seen


def _train(make, dtype, steps=30, shapes=((300, 500), (7,))):
    """Parameters after ``steps`` updates on seeded gradients: large and tiny gradients, zeros,
    and in the last step inf and -inf; odd steps use update_and_apply, even ones update +
    apply_updates (both sweep kinds)."""
    rng = np.random.default_rng(1)
    params = {f"p{i}": rng.standard_normal(s).astype(dtype) for i, s in enumerate(shapes)}
    opt = make()
    state = opt.init(params)
    for step in range(steps):
        grads = {k: (rng.standard_normal(p.shape) * (3.0 if step % 5 else 1e-3)).astype(dtype)
                 for k, p in params.items()}
        grads["p0"][0, :3] = [0.0, np.inf, -np.inf] if step == steps - 1 else 0.0
        if step % 2:
            state = optim.update_and_apply(opt, grads, state, params)
        else:
            updates, state = opt.update(grads, state, params)
            optim.apply_updates(params, updates)
    return params


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_compiled_sweep_gives_the_numpy_bits(name, dtype, kernels, sweeps):
    pytest.importorskip("numba")
    kernels(False)
    with np.errstate(all="ignore"):  # the inf step makes NaNs on the NumPy path
        reference = _train(OPTIMIZERS[name], dtype)
        assert sweeps and not any(sweeps)
        sweeps.clear()
        kernels(True)
        result = _train(OPTIMIZERS[name], dtype)
    assert sweeps and all(sweeps), "the compiled path did not run"
    for k in reference:
        assert result[k].dtype == dtype
        np.testing.assert_array_equal(result[k].view(f"u{result[k].itemsize}"),
                                      reference[k].view(f"u{reference[k].itemsize}"))


def test_compiled_sweep_on_threads_gives_the_same_bits(kernels, sweeps):
    pytest.importorskip("numba")
    shapes = ((backend.CHUNK // 100 + 3, 250), (250,))  # several chunks
    kernels(False)
    with np.errstate(all="ignore"):
        reference = _train(OPTIMIZERS["adam"], np.float32, 10, shapes)
        kernels(True)
        backend.set_num_threads(2)
        try:
            result = _train(OPTIMIZERS["adam"], np.float32, 10, shapes)
        finally:
            backend.set_num_threads(None)
    assert all(sweeps[-10:])
    for k in reference:
        np.testing.assert_array_equal(result[k], reference[k])


def test_elements_are_the_numpy_kernels_entry_by_entry(rng):
    """Each per-entry rule, run in plain Python on NumPy scalars (no numba needed), gives the
    NumPy kernel's update and state for every entry."""
    for name in ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam",
                 "clip+adam"):
        opt = OPTIMIZERS[name]()
        ew = opt.elementwise
        g = rng.standard_normal(40).astype(np.float32) * 3
        params = {"w": np.zeros(40, np.float32)}
        state = opt.init(params)
        for _ in range(3):  # non-zero state
            state = optim.update_and_apply(opt, {"w": g * 0.5}, state, params)
        arrays = [a.copy() for a in ew.state_arrays(state, "w")]
        state2, args = ew.prepare(state)
        expected = ew.kernel(g.copy(), np.empty_like(g), *ew.state_arrays(state2, "w"), *args)
        got = np.empty_like(g)
        for i in range(40):
            u, start = g[i], 0
            for e, part in zip(ew.elements, ew.part_args(args)):
                p = tuple(np.float32(x) for x in (*e.constants, *part))
                u = e.fn(i, u, tuple(arrays[start:start + e.n_arrays]), p)
                start += e.n_arrays
            got[i] = u
        np.testing.assert_array_equal(got, expected, err_msg=name)
        for a, b in zip(arrays, ew.state_arrays(state2, "w")):
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_falls_back_to_numpy_when_it_cannot_compile(kernels, sweeps, rng):
    """Non-contiguous arrays, mixed dtypes, or kernels switched off: the NumPy path runs, with
    the same result."""
    pytest.importorskip("numba")
    W = rng.standard_normal((30, 20)).astype(np.float32)
    g = rng.standard_normal((20, 30)).astype(np.float32).T  # not C-contiguous
    runs = []
    for setting in (True, False):
        kernels(setting)
        params = {"W": W.copy()}
        opt = optim.adam(0.1)
        state = opt.init(params)
        for _ in range(3):
            state = optim.update_and_apply(opt, {"W": g}, state, params)
        runs.append(params["W"])
    assert not any(sweeps)
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], W)
    # float64 gradients for float32 parameters: no compiled loop for mixed dtypes
    kernels(True)
    assert not compiled.compiled_sweep(optim.adam(0.1).elementwise.elements, ((1.0, 0.0), (0.1,)),
                                       {"W": g.T.astype(np.float64)}, lambda k: (), {"W": W}, True)


def test_switch_and_environment(kernels, monkeypatch):
    with pytest.raises(ValueError, match="enabled must be True, False or None"):
        kernels("yes")
    kernels(None)
    monkeypatch.setenv("MLPLAB_COMPILED", "0")
    assert backend.compiled_kernels() is False
    kernels(False)
    monkeypatch.setenv("MLPLAB_COMPILED", "1")
    assert backend.compiled_kernels() is False
    with pytest.raises(RuntimeError, match="compiled kernels are off"):
        backend.jit(lambda x: x)
