"""The one door to speed (mlplab.optim.fast): the compiled step gives the readable transforms'
bits for every optimizer in float32 and float64, a run may switch paths at any update, and it
falls back to the readable path when it cannot run."""

from __future__ import annotations

import numpy as np
import pytest

import mlplab
from mlplab import _parallel, _settings, optim
from mlplab.optim import fast

needs_extension = pytest.mark.skipif(
    not fast.AVAILABLE, reason="mlplab._sweep was not built (no C compiler)"
)

# every named optimizer, and a scheduled rate (evaluated by the door as inject_hyperparams does)
OPTIMIZERS = {
    "sgd": lambda: optim.sgd(0.1),
    "momentum": lambda: optim.momentum(0.05),
    "nesterov": lambda: optim.nesterov(0.05),
    "adagrad": lambda: optim.adagrad(0.1),
    "rmsprop": lambda: optim.rmsprop(0.01),
    "adadelta": lambda: optim.adadelta(),
    "adam": lambda: optim.adam(0.01),
    "adam+cosine": lambda: optim.adam(optim.CosineDecay(0.01, 30, unit="step")),
}


@pytest.fixture
def kernels():
    """Switch compiled kernels on or off for one test; restore the default after."""
    yield mlplab.set_compiled_kernels
    mlplab.set_compiled_kernels(None)


@pytest.fixture
def compiled_steps(monkeypatch):
    """Record whether each step through the door ran compiled."""
    seen: list[bool] = []
    real = fast.compiled_step

    def spy(*args):
        state = real(*args)
        seen.append(state is not None)
        return state

    monkeypatch.setattr(fast, "compiled_step", spy)
    return seen


def _train(make, dtype, steps=34, shapes=((300, 500), (7,)), door=lambda step: True):
    """Parameters and state after ``steps`` updates on seeded gradients: large, tiny (state in
    the flushed range, so the flushes at updates 16 and 32 change values) and zero gradients,
    and in the last step inf and -inf; ``door(step)``: through fast.update_and_apply, else the
    readable update + apply_updates."""
    rng = np.random.default_rng(1)
    params = {f"p{i}": rng.standard_normal(s).astype(dtype) for i, s in enumerate(shapes)}
    tiny = np.finfo(dtype).smallest_normal * 2.0**20
    opt = make()
    state = opt.init(params)
    for step in range(steps):
        grads = {
            k: (rng.standard_normal(p.shape) * (3.0 if step % 5 else 1e-3)).astype(dtype)
            for k, p in params.items()
        }
        grads["p0"][1] *= tiny  # a row of would-be subnormal moments
        grads["p0"][0, :3] = [0.0, np.inf, -np.inf] if step == steps - 1 else 0.0
        if door(step):
            state = optim.update_and_apply(opt, grads, state, params)
        else:
            updates, state = opt.update(grads, state, params)
            optim.apply_updates(params, updates)
    return params, state


def assert_same_bits(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype
        np.testing.assert_array_equal(
            a[k].view(f"u{a[k].itemsize}"), b[k].view(f"u{b[k].itemsize}"), err_msg=k
        )


def state_arrays(state) -> dict:
    from mlplab.train.checkpoint import _leaves

    return {k: np.asarray(v) for k, v in _leaves(state)}


@needs_extension
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_compiled_step_gives_the_readable_bits(name, dtype, kernels, compiled_steps):
    """Weights and the whole state (moments, counts, hyperparameters) bit for bit."""
    with np.errstate(all="ignore"):  # the inf step makes NaNs
        kernels(False)
        reference, ref_state = _train(OPTIMIZERS[name], dtype)
        assert compiled_steps and not any(compiled_steps)
        compiled_steps.clear()
        kernels(True)
        result, state = _train(OPTIMIZERS[name], dtype)
    assert compiled_steps and all(compiled_steps), "the compiled path did not run"
    assert_same_bits(result, reference)
    assert_same_bits(state_arrays(state), state_arrays(ref_state))


@needs_extension
@pytest.mark.parametrize("name", ["momentum", "adadelta", "adam", "adam+cosine"])
def test_a_run_may_switch_paths_at_any_update(name, kernels, compiled_steps):
    """Readable and compiled updates alternating (in float32) give the all-readable bits."""
    with np.errstate(all="ignore"):
        kernels(False)
        reference, ref_state = _train(OPTIMIZERS[name], np.float32)
        kernels(True)
        result, state = _train(OPTIMIZERS[name], np.float32, door=lambda step: step % 3 == 1)
    assert any(compiled_steps)
    assert_same_bits(result, reference)
    assert_same_bits(state_arrays(state), state_arrays(ref_state))


@pytest.mark.parametrize("compiled", [False, True], ids=["readable", "compiled"])
def test_flushing_is_part_of_the_rule(compiled, kernels):
    """Every 16th update sets state below tiny * 2^24 to 0 (NaN stays NaN), on both paths:
    momentum's velocity -g 2^-(t-1) at mu = 0.5 is kept at update 15 and flushed at 16."""
    if compiled and not fast.AVAILABLE:
        pytest.skip("mlplab._sweep was not built")
    kernels(compiled)
    opt = optim.momentum(1.0, mu=0.5)
    tiny = float(np.finfo(np.float32).smallest_normal) * 2.0**24
    params = {"w": np.zeros(3, np.float32)}
    state = opt.init(params)
    g = np.array([tiny * 2.0**10, 1.0, np.nan], np.float32)
    with np.errstate(invalid="ignore"):
        for t in range(1, 17):
            grads = {"w": g if t == 1 else np.zeros(3, np.float32)}
            state = optim.update_and_apply(opt, grads, state, params)
            v = state.inner_state[1].velocity["w"]
            if t == 15:
                assert v[0] == np.float32(-tiny * 2.0**-4) and v[1] == -(2.0**-14)
    assert v[0] == 0 and v[1] == -(2.0**-15) and np.isnan(v[2])


@needs_extension
def test_compiled_step_on_threads_gives_the_same_bits(kernels, compiled_steps):
    shapes = ((_parallel.CHUNK // 100 + 3, 250), (250,))  # several chunks
    with np.errstate(all="ignore"):
        kernels(False)
        reference, _ = _train(OPTIMIZERS["adam"], np.float32, 10, shapes)
        kernels(True)
        mlplab.set_num_threads(2)
        try:
            result, _ = _train(OPTIMIZERS["adam"], np.float32, 10, shapes)
        finally:
            mlplab.set_num_threads(None)
    assert all(compiled_steps[-10:])
    assert_same_bits(result, reference)


@needs_extension
@pytest.mark.parametrize("case", ["not contiguous", "mixed dtypes", "user chain", "off"])
def test_falls_back_to_the_readable_path(case, kernels, compiled_steps, rng):
    """Non-contiguous arrays, mixed dtypes, an optimizer the door does not know, or compiled
    steps switched off: the readable path runs, with the readable result."""
    W = rng.standard_normal((30, 20)).astype(np.float32)
    g = rng.standard_normal((30, 20)).astype(np.float32)
    if case == "not contiguous":
        g = np.asfortranarray(g)
    if case == "mixed dtypes":
        g = g.astype(np.float64)
    make = (
        (lambda: optim.chain(optim.clip(0.5), optim.adam(0.1)))
        if case == "user chain"
        else (lambda: optim.adam(0.1))
    )
    kernels(case != "off")
    params, ref = {"W": W.copy()}, {"W": W.copy()}
    opt = make()
    state, ref_state = opt.init(params), opt.init(ref)
    for _ in range(3):
        state = optim.update_and_apply(opt, {"W": g}, state, params)
        updates, ref_state = opt.update({"W": g}, ref_state, ref)
        optim.apply_updates(ref, updates)
    assert not any(compiled_steps)
    np.testing.assert_array_equal(params["W"], ref["W"])
    assert not np.array_equal(params["W"], W)


BAD_HYPERPARAMS = [
    ({"learning_rate": float("nan"), "b1": 1.5}, r"adam: b1 must be in \[0.0, 1.0\), got b1=1.5"),
    ({"learning_rate": float("nan")}, "learning_rate must be a finite number"),
    ({"learning_rate": -1.0}, r"learning_rate must be in \[0.0, inf\], got learning_rate=-1.0"),
    ({"eps": 0.0}, "adam: eps must be > 0"),
]


@pytest.mark.parametrize("compiled", [False, True], ids=["readable", "compiled"])
@pytest.mark.parametrize("values, message", BAD_HYPERPARAMS)
def test_both_paths_refuse_a_bad_injected_hyperparameter(values, message, compiled, kernels):
    """A value a callback (or anyone) injects is checked by the built chain on either path: the
    same ValueError, and nothing written."""
    if compiled and not fast.AVAILABLE:
        pytest.skip("mlplab._sweep was not built")
    kernels(compiled)
    params = {"W": np.ones((4, 3), np.float32)}
    grads = {"W": np.full((4, 3), 0.5, np.float32)}
    opt = optim.adam(0.1)
    state = optim.set_hyperparams(opt.init(params), **values)
    with pytest.raises(ValueError, match=message):
        optim.update_and_apply(opt, grads, state, params)
    if compiled:
        with pytest.raises(ValueError, match=message):
            fast.compiled_step(opt, grads, state, params)
    with pytest.raises(ValueError, match=message):
        opt.update(grads, state, params)
    np.testing.assert_array_equal(params["W"], np.ones((4, 3), np.float32))
    assert not any(a.any() for a in state_arrays(state).values() if a.ndim)
    # a good value again: both paths take it
    state = optim.set_hyperparams(state, **{k: 0.01 if k != "eps" else 1e-8 for k in values})
    state = optim.update_and_apply(opt, grads, state, params)
    assert state.count == 1 and not np.array_equal(params["W"], np.ones((4, 3), np.float32))


@needs_extension
def test_extension_rejects_bad_calls():
    """The C entry point checks what it is given (the Python side never passes these)."""
    from mlplab import _sweep

    a = np.zeros(10, np.float32)
    adam = bytes([_sweep.RULES["adam"][0]])
    scalars = (0.9, 0.1, 0.999, 0.001, 0.3, 3e-10, 0.0)
    with pytest.raises(ValueError, match="unknown rule"):
        _sweep.sweep(bytes([200]), (), True, a, a.copy())
    with pytest.raises(ValueError, match="do not match"):
        _sweep.sweep(adam, (0.9, 0.999), True, a, a.copy(), a.copy(), a.copy())
    with pytest.raises(ValueError, match="float32 or float64, all alike, of one length"):
        _sweep.sweep(adam, scalars, True, a, a.copy(), a[:5].copy(), a.copy())
    with pytest.raises(ValueError, match="float32 or float64"):
        _sweep.sweep(adam, scalars, True, a, a.copy(), a.astype(np.float64), a.copy())
    with pytest.raises(ValueError, match="read-only"):
        ro = a.copy()
        ro.flags.writeable = False
        _sweep.sweep(adam, scalars, True, a, a.copy(), ro, a.copy())


def test_every_plan_names_rules_the_extension_has():
    if not fast.AVAILABLE:
        pytest.skip("mlplab._sweep was not built")
    params = {"w": np.zeros(3)}
    for name, (make_plan, kinds) in fast.PLANS.items():
        opt = optim.get_optimizer(name)
        state = opt.init(params)
        assert tuple(type(s) for s in state.inner_state) == kinds, name
        plan = make_plan(state.hyperparams, state.inner_state, np.dtype("float64"))
        assert sum(fast.RULES[r][2] for r in plan.rules) == len(plan.scalars), name
        assert sum(fast.RULES[r][1] for r in plan.rules) == len(plan.arrays("w")), name


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
    assert fast.AVAILABLE, "mlplab._sweep was not built although a C compiler is installed"
