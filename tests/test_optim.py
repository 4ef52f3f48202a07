"""Optimizers against torch.optim: the same gradient sequence, 50 steps in float64, trajectories
equal to 1e-10 relative; convergence on a quadratic; schedules against their closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mlplab
from mlplab import optim

# ours, the torch optimizer with matching hyperparameters
CASES = {
    "sgd": (lambda: optim.sgd(0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    "momentum": (
        lambda: optim.momentum(0.05, mu=0.9),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
    ),
    "nesterov": (
        lambda: optim.nesterov(0.05, mu=0.8),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True),
    ),
    "adagrad": (lambda: optim.adagrad(0.1), lambda p: torch.optim.Adagrad(p, lr=0.1, eps=1e-7)),
    "adadelta": (
        lambda: optim.adadelta(1.0, rho=0.95, eps=1e-6),
        lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.95, eps=1e-6),
    ),
    "rmsprop": (
        lambda: optim.rmsprop(0.01, rho=0.9, eps=1e-8),
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-8),
    ),
    "adam": (lambda: optim.adam(0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_trajectory_matches_torch_optim(name, kernel_kind):
    """Both kernel paths (NumPy, compiled) and both step forms (update + apply_updates, and the
    trainer's fused update_and_apply, on alternate steps) follow torch.optim."""
    ours_factory, torch_factory = CASES[name]
    rng = np.random.default_rng(0)
    params = {"0.W": rng.standard_normal((4, 3)), "0.b": rng.standard_normal(3)}
    tparams = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in params.items()}
    opt, topt = ours_factory(), torch_factory(list(tparams.values()))
    state = opt.init(params)
    for step in range(50):
        grads = {k: rng.standard_normal(v.shape) * (1 + step % 3) for k, v in params.items()}
        frozen = {k: g.copy() for k, g in grads.items()}
        if step % 2:
            state = optim.update_and_apply(opt, grads, state, params)
        else:
            updates, state = opt.update(grads, state, params)
            optim.apply_updates(params, updates)
        assert all(np.array_equal(grads[k], frozen[k]) for k in grads), "update mutated grads"
        for k, p in tparams.items():
            p.grad = torch.from_numpy(grads[k].copy())
        topt.step()
        for k in params:
            np.testing.assert_allclose(
                params[k],
                tparams[k].detach().numpy(),
                rtol=1e-10,
                atol=1e-13,
                err_msg=f"{name} step {step} {k}",
            )


def quadratic(A, b):
    """f(w) = 1/2 w^T A w - b^T w, minimum at A^-1 b."""
    return lambda w: A @ w - b


@pytest.mark.parametrize("name", sorted(CASES))
def test_converges_on_a_quadratic(name):
    A = np.array([[3.0, 0.5], [0.5, 1.0]])
    b = np.array([1.0, -2.0])
    grad = quadratic(A, b)
    lr = {
        "sgd": 0.2,
        "momentum": 0.05,
        "nesterov": 0.05,
        "adagrad": 0.5,
        "adadelta": 1.0,
        "rmsprop": 0.01,
        "adam": 0.05,
    }[name]
    factory = getattr(optim, name)
    opt = factory(lr)
    params = {"w": np.zeros(2)}
    state = opt.init(params)
    # AdaDelta reaches the minimum in ~1000 steps, then drifts on a noise-free problem: its
    # step ratio RMS[dx]/RMS[g] grows as g vanishes (it matches torch.optim step for step above)
    for _ in range(1000 if name == "adadelta" else 2000):
        updates, state = opt.update({"w": grad(params["w"])}, state, params)
        optim.apply_updates(params, updates)
    w_star = np.linalg.solve(A, b)
    f = lambda w: 0.5 * w @ A @ w - b @ w  # noqa: E731
    assert f(params["w"]) - f(w_star) < 1e-3 * (f(np.zeros(2)) - f(w_star))


def test_one_hand_worked_adam_step():
    """t=1: m = 0.1 g, v = 0.001 g^2, m_hat = g, v_hat = g^2 -> step = -eta g/(|g| + eps)."""
    opt = optim.adam(0.1)
    params = {"w": np.array([1.0, -1.0])}
    updates, _ = opt.update({"w": np.array([0.5, -2.0])}, opt.init(params), params)
    np.testing.assert_allclose(updates["w"], [-0.1 * 0.5 / (0.5 + 1e-8), 0.1 * 2 / (2 + 1e-8)])


def test_float32_state_and_updates_stay_float32():
    for name in CASES:
        opt = getattr(optim, name)()
        params = {"w": np.ones((3, 2), np.float32)}
        state = opt.init(params)
        for _ in range(3):
            updates, state = opt.update({"w": np.full((3, 2), 0.3, np.float32)}, state, params)
        assert updates["w"].dtype == np.float32, name


def test_clipping():
    g = {"a": np.array([3.0, -4.0]), "b": np.array([0.0])}
    u, _ = optim.clip_by_global_norm(1.0).update(g, {}, None)
    np.testing.assert_allclose(u["a"], [0.6, -0.8])
    u, _ = optim.clip(3.5).update(g, {}, None)
    np.testing.assert_allclose(u["a"], [3.0, -3.5])
    u, _ = optim.clip_by_global_norm(10.0).update(g, {}, None)
    assert u["a"] is g["a"]


def test_schedules_closed_forms():
    assert optim.StepDecay(0.1, drop=0.5, every=10, unit="step")(25) == pytest.approx(0.025)
    assert optim.ExponentialDecay(0.1, 0.5, 10, unit="step")(5) == pytest.approx(0.1 * 0.5**0.5)
    assert optim.InverseTimeDecay(0.1, 1.0, 1, unit="step")(9) == pytest.approx(0.01)
    cos = optim.CosineDecay(1.0, 100, alpha=0.1, unit="step")
    assert (cos(0), cos(50), cos(100), cos(500)) == pytest.approx((1.0, 0.55, 0.1, 0.1))
    warm = optim.LinearWarmup(
        1.0, 4, unit="step", after=optim.ExponentialDecay(1.0, 0.5, 1, unit="step")
    )
    assert [warm(t) for t in range(6)] == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 0.5])


def test_schedule_drives_learning_rate_and_round_trips():
    sched = optim.StepDecay(0.1, drop=0.5, every=2, unit="step")
    opt = optim.sgd(sched)
    params = {"w": np.zeros(1)}
    state = opt.init(params)
    steps = []
    for _ in range(5):
        updates, state = opt.update({"w": np.ones(1)}, state, params)
        steps.append(-updates["w"][0])
    assert steps == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    rebuilt = optim.get_optimizer(opt.spec)
    assert rebuilt.spec == opt.spec
    assert optim.current_learning_rate(state) == pytest.approx(0.025)
    with pytest.raises(ValueError, match=r"X: learning_rate follows a schedule, which sets it"):
        optim.set_hyperparams(state, "X", learning_rate=0.01)


def test_injected_learning_rate_is_state_a_callback_may_set():
    """inject_hyperparams: the rate lives in the state; setting it changes the next update
    (sgd: u = -eta g) and leaves the old state as it was."""
    opt = optim.sgd(0.1)
    params = {"w": np.zeros(1)}
    state = opt.init(params)
    assert state.hyperparams == {"learning_rate": 0.1}
    lowered = optim.set_hyperparams(state, learning_rate=0.025)
    assert optim.current_learning_rate(state) == 0.1  # a new state: the old one is unchanged
    updates, lowered = opt.update({"w": np.ones(1)}, lowered, params)
    assert updates["w"][0] == -0.025 and optim.current_learning_rate(lowered) == 0.025
    with pytest.raises(
        ValueError,
        match=r"set_hyperparams: the optimizer has no injected mu "
        r"\(its hyperparameters: \['learning_rate'\]\)",
    ):
        optim.set_hyperparams(state, mu=0.5)
    with pytest.raises(
        ValueError, match=r"no injected learning_rate .*mlplab.optim.inject_hyperparams"
    ):
        optim.set_hyperparams(optim.chain(optim.clip(1.0)).init(params), learning_rate=0.1)
    custom = optim.inject_hyperparams(
        lambda learning_rate, decay: optim.chain(
            optim.scale_by_learning_rate(learning_rate), optim.trace(decay)
        )
    )(learning_rate=0.5, decay=0.5)
    state = custom.init(params)
    for _ in range(2):
        updates, state = custom.update({"w": np.ones(1)}, state, params)
    assert updates["w"][0] == -0.5 * 1.5  # v = 0.5 (-0.5) - 0.5


def test_optimizer_errors():
    with pytest.raises(ValueError, match=r"unknown optimizer 'adamm'; valid names: .*'adam'"):
        optim.get_optimizer("adamm")
    with pytest.raises(ValueError, match=r"adam: b1 must be in \[0.0, 1.0\)"):
        optim.adam(b1=1.0)
    with pytest.raises(
        ValueError, match=r"learning_rate must be in \(0.0, inf\], got learning_rate=-0.1"
    ):
        optim.sgd(-0.1)
    with pytest.raises(TypeError, match="optimizer 'sgd': bad config"):
        optim.get_optimizer({"name": "sgd", "config": {"lr": 0.1}})


# -- purity: updates are new arrays, the inputs untouched ------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_update_is_pure(name):
    """Two updates on one transform share no output array, and neither writes its grads,
    state or params (the issue's ``ua["w"] is ub["w"]``)."""
    opt = CASES[name][0]()
    rng = np.random.default_rng(3)
    pA, pB = ({"w": rng.standard_normal((4, 3))} for _ in range(2))
    sA = opt.init(pA)
    gA, gB = ({"w": rng.standard_normal((4, 3))} for _ in range(2))
    copies = [{k: v.copy() for k, v in d.items()} for d in (pA, pB, gA, gB)]
    _, sA = opt.update(gA, sA, pA)  # a state with nonzero moments, then two updates from it
    frozen = checkpoint_leaves(sA)
    ua, sa2 = opt.update(gA, sA, pA)
    ub, sb2 = opt.update(gB, sA, pB)
    assert ua["w"] is not ub["w"] and not np.array_equal(ua["w"], ub["w"])
    for d, c in zip((pA, pB, gA, gB), copies):
        np.testing.assert_array_equal(d["w"], c["w"])
    after = checkpoint_leaves(sA)
    assert frozen.keys() == after.keys()
    for k in frozen:
        np.testing.assert_array_equal(after[k], frozen[k], err_msg=k)
    assert not any(
        a is b
        for a in checkpoint_leaves(sa2).values()
        for b in checkpoint_leaves(sb2).values()
        if isinstance(a, np.ndarray)
    )
    # the updates are not the new state's arrays: a caller scaling them in place (as
    # apply_updates's callers may) leaves the state as it was (momentum's u = v)
    from mlplab.train.checkpoint import _leaves

    assert not any(ua["w"] is a for _, a in _leaves(sa2))
    frozen = checkpoint_leaves(sa2)
    ua["w"] *= 0.5
    for k, a in checkpoint_leaves(sa2).items():
        np.testing.assert_array_equal(a, frozen[k], err_msg=k)


def checkpoint_leaves(state):
    from mlplab.train.checkpoint import _leaves

    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in _leaves(state)}


def test_adam_state_holds_m_and_v_as_the_formula_says():
    """After two steps m and v are the closed forms b1 (1-b1) g1 + (1-b1) g2 and likewise v."""
    opt = optim.adam(0.1, b1=0.9, b2=0.99)
    params = {"w": np.zeros(2)}
    g1, g2 = np.array([0.5, -2.0]), np.array([1.0, 3.0])
    state = opt.init(params)
    for g in (g1, g2):
        _, state = opt.update({"w": g}, state, params)
    adam_state = state.inner_state[0]
    assert adam_state.t == 2
    np.testing.assert_allclose(adam_state.m["w"], 0.9 * 0.1 * g1 + 0.1 * g2, rtol=1e-15)
    np.testing.assert_allclose(adam_state.v["w"], 0.99 * 0.01 * g1**2 + 0.01 * g2**2, rtol=1e-15)


@pytest.fixture(params=[False, True], ids=["numpy-kernels", "compiled-kernels"])
def kernel_kind(request):
    """Run a test with the readable transforms, then with the compiled step (when built)."""
    from mlplab.optim import fast

    if request.param and not fast.AVAILABLE:
        pytest.skip("mlplab._sweep was not built")
    mlplab.set_compiled_kernels(request.param)
    yield request.param
    mlplab.set_compiled_kernels(None)


def test_threads_and_chunks_do_not_change_results(rng, kernel_kind):
    """Adam on an array of several chunks: 1 thread, 2 threads and a non-contiguous gradient
    (whole-array path) give bit-identical parameters; and they match torch.optim.Adam."""
    W0 = rng.standard_normal((700, 400))
    grads = [rng.standard_normal((700, 400)) for _ in range(10)]
    results = []
    for threads, transpose in ((1, False), (2, False), (2, True)):
        mlplab.set_num_threads(threads)
        try:
            opt, params = optim.adam(0.01), {"W": W0.copy()}
            state = opt.init(params)
            for g in grads:
                g = np.asfortranarray(g) if transpose else g  # not C-contiguous: no chunks
                state = optim.update_and_apply(opt, {"W": g}, state, params)
            results.append(params["W"])
        finally:
            mlplab.set_num_threads(None)
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])
    w = torch.tensor(W0, requires_grad=True)
    topt = torch.optim.Adam([w], lr=0.01)
    for g in grads:
        w.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(results[0], w.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_set_num_threads_rejects_bad_values():
    with pytest.raises(ValueError, match="positive int"):
        mlplab.set_num_threads(0)


def test_staggered_arrays_start_at_different_page_offsets():
    from mlplab._buffers import empty_staggered

    arrays = [empty_staggered(np, (300, 200), np.float32) for _ in range(7)]
    offsets = {a.ctypes.data % 4096 for a in arrays}
    assert len(offsets) == 7 and all(o % 64 == 0 for o in offsets)
    assert all(a.shape == (300, 200) and a.dtype == np.float32 for a in arrays)
    for a in arrays:  # writable, each its own memory
        a[...] = 0
    arrays[0][0, 0] = 1
    assert sum(int(a[0, 0]) for a in arrays) == 1
    a = empty_staggered(np, (5, 3), np.float64)  # small: a plain array
    assert a.shape == (5, 3) and a.flags.c_contiguous
