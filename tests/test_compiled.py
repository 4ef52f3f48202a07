"""Compiled optimizer sweeps (the C extension) give the NumPy kernels' bits, and fall back when
they cannot run."""
from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab import _parallel, _settings, optim
from mlplab.optim import base, compiled

needs_extension = pytest.mark.skipif(not compiled.AVAILABLE,
                                     reason="mlplab._sweep was not built (no C compiler)")

# every elementwise optimizer, in chains that exercise each per-entry rule
OPTIMIZERS = {
    "sgd": lambda: optim.sgd(0.1),
    "momentum": lambda: optim.momentum(0.05),
    "nesterov": lambda: optim.nesterov(0.05),
    "adagrad": lambda: optim.adagrad(0.1),
    "rmsprop": lambda: optim.rmsprop(0.01),
    "adadelta": lambda: optim.adadelta(),
    "adam": lambda: optim.adam(0.01),
    "adam+cosine": lambda: optim.adam(optim.CosineDecay(0.01, 30, unit="step")),
    "clip+adam": lambda: optim.chain(optim.clip(0.5), optim.adam(0.01)),
}


@pytest.fixture
def kernels():
    """Switch compiled kernels on or off for one test; restore the default after."""
    yield mlplab.set_compiled_kernels
    mlplab.set_compiled_kernels(None)


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


@needs_extension
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_compiled_sweep_gives_the_numpy_bits(name, dtype, kernels, sweeps):
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


@needs_extension
def test_compiled_sweep_on_threads_gives_the_same_bits(kernels, sweeps):
    shapes = ((_parallel.CHUNK // 100 + 3, 250), (250,))  # several chunks
    kernels(False)
    with np.errstate(all="ignore"):
        reference = _train(OPTIMIZERS["adam"], np.float32, 10, shapes)
        kernels(True)
        mlplab.set_num_threads(2)
        try:
            result = _train(OPTIMIZERS["adam"], np.float32, 10, shapes)
        finally:
            mlplab.set_num_threads(None)
    assert all(sweeps[-10:])
    for k in reference:
        np.testing.assert_array_equal(result[k], reference[k])


@needs_extension
def test_falls_back_to_numpy_when_it_cannot_compile(kernels, sweeps, rng):
    """Non-contiguous arrays, mixed dtypes, or kernels switched off: the NumPy path runs, with
    the same result."""
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
    adam = optim.adam(0.1).elementwise
    m, v = np.zeros_like(W), np.zeros_like(W)
    args = (((1.0, 0.0), (0.1,)),)  # (Adam's a and e, the learning rate's scale)

    def sweep(g):
        return compiled.compiled_sweep(adam.elements, adam.part_args, args, {"W": g},
                                       lambda k: (m, v), {"W": W}, True)
    assert not sweep(np.ascontiguousarray(g, np.float64))
    assert sweep(np.ascontiguousarray(g))


@needs_extension
def test_extension_rejects_bad_calls():
    """The C entry point checks what it is given (the Python side never passes these)."""
    from mlplab import _sweep
    a = np.zeros(10, np.float32)
    adam = bytes([_sweep.RULES["adam"][0]])
    with pytest.raises(ValueError, match="unknown rule"):
        _sweep.sweep(bytes([200]), (), True, a, a.copy())
    with pytest.raises(ValueError, match="do not match"):
        _sweep.sweep(adam, (0.9, 0.999), True, a, a.copy(), a.copy(), a.copy())
    with pytest.raises(ValueError, match="float32 or float64, all alike, of one length"):
        _sweep.sweep(adam, (0.9, 0.999, 1.0, 0.0), True, a, a.copy(), a[:5].copy(), a.copy())
    with pytest.raises(ValueError, match="float32 or float64"):
        _sweep.sweep(adam, (0.9, 0.999, 1.0, 0.0), True, a, a.copy(), a.astype(np.float64),
                     a.copy())
    with pytest.raises(ValueError, match="read-only"):
        ro = a.copy()
        ro.flags.writeable = False
        _sweep.sweep(adam, (0.9, 0.999, 1.0, 0.0), True, a, a.copy(), ro, a.copy())


def test_a_rule_must_match_its_transform():
    if not compiled.AVAILABLE:
        pytest.skip("mlplab._sweep was not built")
    with pytest.raises(ValueError, match="compiled rule 'adam' does not match"):
        optim.elementwise_transform(lambda p: {}, lambda s: (s, ()), ("m",), lambda g, u, m: g,
                                    rule="adam")


def test_switch_and_environment(kernels, monkeypatch):
    with pytest.raises(TypeError, match="enabled must be True, False or None"):
        kernels("yes")
    kernels(None)
    monkeypatch.setenv("MLPLAB_COMPILED", "0")
    assert _settings.compiled_kernels_enabled() is False
    monkeypatch.setenv("MLPLAB_COMPILED", "1")
    assert _settings.compiled_kernels_enabled() is True
    kernels(False)
    assert _settings.compiled_kernels_enabled() is False


def test_extension_is_built_where_a_compiler_is():
    """The build treats the extension as optional; where a C compiler exists a failed build
    would go unnoticed, so say it here."""
    import shutil
    import sysconfig
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        pytest.skip(f"no C compiler ({compiler}): mlplab runs its NumPy kernels")
    assert compiled.AVAILABLE, "mlplab._sweep was not built although a C compiler is installed"
