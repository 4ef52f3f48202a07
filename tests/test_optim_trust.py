"""Trust in the optimizers (issue 11): eps > 0, schedules in stated units (epoch or step)
against their closed forms and torch.optim.lr_scheduler, the BLAS/sweep thread API, NumPy
scalars as numbers, and clear errors for specs without a name, empty batches and list input."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch

import mlplab
from mlplab import optim
from mlplab.errors import check_float, check_matrix, check_positive_int


def _tiny(n=60, features=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, features)).astype(np.float32)
    return X, rng.integers(0, classes, n)


def _trainer(optimizer, *, epochs=3, batch_size=20):
    model = mlplab.Sequential([mlplab.Dense(5), mlplab.Tanh(), mlplab.Dense(3)])
    model.build(4, rng=np.random.default_rng(1))
    return mlplab.Trainer(
        model,
        "softmax_cross_entropy",
        optimizer,
        batch_size=batch_size,
        epochs=epochs,
        rng=np.random.default_rng(2),
        verbose=0,
    )


def _steps(opt, grads, state=None, params=None):
    """-update / g for each gradient: the learning rate each update used (SGD)."""
    params = params if params is not None else {"w": np.zeros(1)}
    state = opt.init(params) if state is None else state
    rates = []
    for g in grads:
        updates, state = opt.update({"w": np.full(1, g)}, state, params)
        rates.append(-updates["w"][0] / g)
    return rates, state


# -- item 4: eps must be > 0 ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["adam", "adagrad", "rmsprop", "adadelta"])
@pytest.mark.parametrize("eps", [0.0, 0, -1e-8])
def test_eps_must_be_positive(name, eps):
    with pytest.raises(ValueError, match=rf"{name}: eps must be > 0 .*got eps={float(eps)!r}"):
        optim.get_optimizer({"name": name, "config": {"eps": eps}})


@pytest.mark.parametrize("name", ["adam", "adagrad", "rmsprop", "adadelta"])
def test_eps_nan_and_bool_are_refused(name):
    with pytest.raises(ValueError, match=rf"{name}: eps must be a finite number"):
        optim.get_optimizer({"name": name, "config": {"eps": float("nan")}})
    with pytest.raises(TypeError, match=rf"{name}: eps must be a real number, got eps=True"):
        optim.get_optimizer({"name": name, "config": {"eps": True}})


@pytest.mark.parametrize("name", ["adam", "adagrad", "rmsprop"])
def test_zero_gradient_gives_a_zero_step(name):
    """With the smallest valid eps a zero gradient moves nothing (0 / eps = 0, not 0/0)."""
    opt = optim.get_optimizer({"name": name, "config": {"eps": 1e-30}})
    params = {"w": np.ones(3, dtype=np.float32)}
    state = opt.init(params)
    for _ in range(3):
        state = optim.update_and_apply(opt, {"w": np.zeros(3, dtype=np.float32)}, state, params)
    np.testing.assert_array_equal(params["w"], np.ones(3, dtype=np.float32))


# -- item 8: schedules in stated units ----------------------------------------------------------


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda: optim.StepDecay(0.1, every=10),
            r"StepDecay: unit is required with every=10: "
            r"'epoch' .* or 'step'",
        ),
        (lambda: optim.ExponentialDecay(0.1, 0.9, 5), r"ExponentialDecay: unit is required"),
        (lambda: optim.InverseTimeDecay(0.1, 1.0, 5), r"InverseTimeDecay: unit is required"),
        (lambda: optim.CosineDecay(0.1, 30), r"CosineDecay: unit is required with decay_steps=30"),
        (lambda: optim.LinearWarmup(0.1, 3), r"LinearWarmup: unit is required with warmup_steps=3"),
        (
            lambda: mlplab.get_schedule("step_decay"),
            r"schedule 'step_decay': bad config \{\} \(.*"
            r"missing a required argument: 'learning_rate'",
        ),
        (
            lambda: mlplab.get_schedule({"name": "step_decay", "config": {"learning_rate": 0.1}}),
            r"StepDecay: every is required: how many epochs \(unit='epoch'\) or updates",
        ),
        (
            lambda: mlplab.get_schedule(
                {"name": "exponential_decay", "config": {"learning_rate": 0.1}}
            ),
            r"ExponentialDecay: decay_steps is required",
        ),
        (
            lambda: optim.StepDecay(0.1, every=2, unit="epochs"),
            r"StepDecay: unit must be one of \['epoch', 'step'\], got unit='epochs'",
        ),
    ],
)
def test_a_period_needs_its_unit(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_epoch_unit_is_constant_within_an_epoch():
    """The value at update t is the value at epoch floor(t / steps_per_epoch) (closed forms)."""
    spe, eta = 7, 0.1
    cases = [
        (optim.StepDecay(eta, drop=0.5, every=2, unit="epoch"), lambda e: eta * 0.5 ** (e // 2)),
        (optim.ExponentialDecay(eta, 0.9, 2, unit="epoch"), lambda e: eta * 0.9 ** (e / 2)),
        (optim.InverseTimeDecay(eta, 0.5, 1, unit="epoch"), lambda e: eta / (1 + 0.5 * e)),
        (
            optim.CosineDecay(eta, 4, alpha=0.1, unit="epoch"),
            lambda e: eta * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(e, 4) / 4))),
        ),
        (optim.LinearWarmup(eta, 2, unit="epoch"), lambda e: eta * min(e + 1, 2) / 2),
    ]
    for sched, closed in cases:
        got = [sched(t, steps_per_epoch=spe, epochs=6) for t in range(6 * spe)]
        want = [closed(t // spe) for t in range(6 * spe)]
        np.testing.assert_allclose(got, want, rtol=1e-13, err_msg=repr(sched))


def test_step_unit_counts_updates():
    eta = 0.1
    assert [optim.StepDecay(eta, 0.5, every=3, unit="step")(t) for t in range(7)] == pytest.approx(
        [eta] * 3 + [eta / 2] * 3 + [eta / 4]
    )
    assert optim.ExponentialDecay(eta, 0.5, 4, unit="step")(2) == pytest.approx(eta * 0.5**0.5)


def _torch_per_epoch(make, epochs, lr=0.1):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    scheduler = make(opt)
    rates = []
    for _ in range(epochs):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return rates


@pytest.mark.parametrize(
    "ours, theirs, epochs",
    [
        (
            optim.StepDecay(0.1, drop=0.3, every=3, unit="epoch"),
            lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.3),
            10,
        ),
        (
            optim.ExponentialDecay(0.1, 0.8, 1, unit="epoch"),
            lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.8),
            10,
        ),
        (
            optim.CosineDecay(0.1, 8, alpha=0.05, unit="epoch"),
            lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=8, eta_min=0.005),
            9,
        ),
    ],
)
def test_epoch_schedules_match_torch_stepped_per_epoch(ours, theirs, epochs):
    spe = 5
    want = np.repeat(_torch_per_epoch(theirs, epochs), spe)
    got = [ours(t, steps_per_epoch=spe, epochs=epochs) for t in range(epochs * spe)]
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_epoch_unit_before_configure_says_what_is_missing():
    opt = optim.sgd(optim.StepDecay(0.1, every=1, unit="epoch"))
    params = {"w": np.zeros(1)}
    state = opt.init(params)
    opt.update({"w": np.ones(1)}, state, params)  # update 0 is in epoch 0 however long epochs are
    with pytest.raises(
        RuntimeError,
        match=r"StepDecay\(.*unit='epoch'\) counts epochs, but the "
        r"number of updates per epoch is not known: "
        r"Trainer.fit sets it; .*configure_schedules",
    ):
        _steps(opt, [1.0, 1.0])
    with pytest.raises(
        RuntimeError,
        match=r"CosineDecay\(.*decay_steps=None.*\) decays over the "
        r"fit, whose length is not known",
    ):
        optim.CosineDecay(0.1)(3)


def test_configure_schedules_drives_the_optimizer_and_checks_its_arguments():
    """sgd with an epoch-unit schedule, 3 updates per epoch: the step is -eta_epoch g."""
    opt = optim.sgd(optim.StepDecay(0.2, drop=0.5, every=1, unit="epoch"))
    state = optim.configure_schedules(opt.init({"w": np.zeros(1)}), steps_per_epoch=3, epochs=3)
    assert state.steps_per_epoch == 3 and state.end_epoch == 3
    rates, _ = _steps(opt, [1.0, -2.0, 0.5] * 3, state)
    assert rates == pytest.approx([0.2] * 3 + [0.1] * 3 + [0.05] * 3)
    with pytest.raises(
        ValueError,
        match=r"configure_schedules: steps_per_epoch must be an int "
        r">= 1, got steps_per_epoch=0",
    ):
        optim.configure_schedules(state, steps_per_epoch=0, epochs=3)
    with pytest.raises(TypeError, match=r"configure_schedules: epochs must be an int"):
        optim.configure_schedules(state, steps_per_epoch=3, epochs=2.5)


def test_warmup_then_cosine_over_the_rest_of_the_fit():
    """LinearWarmup(2 epochs) then CosineDecay without a horizon: the cosine runs over the
    updates left after the warmup (closed form)."""
    spe, epochs = 4, 5
    sched = optim.LinearWarmup(1.0, 2, unit="epoch", after=optim.CosineDecay(1.0))
    got = [sched(t, steps_per_epoch=spe, epochs=epochs) for t in range(epochs * spe)]
    rest = (epochs - 2) * spe
    want = [
        (t // spe + 1) / 2 if t < 2 * spe else 0.5 * (1 + math.cos(math.pi * (t - 2 * spe) / rest))
        for t in range(epochs * spe)
    ]
    np.testing.assert_allclose(got, want, rtol=1e-13)
    rebuilt = mlplab.get_schedule(optim.schedules.serialize_schedule(sched))
    assert rebuilt.get_config() == sched.get_config()
    assert "decay_steps" not in rebuilt.after.get_config()  # no None: configs go to TOML


def test_trainer_epoch_schedule_lr_per_epoch_and_resume(tmp_path):
    """Trainer: StepDecay(every=1 epoch) halves once per epoch (the reported bug: it counted
    updates, 7.6e-7 by epoch 3); the schedule's state survives a checkpoint."""
    X, y = _tiny()
    sched = mlplab.StepDecay(0.1, drop=0.5, every=1, unit="epoch")
    first = _trainer(mlplab.sgd(sched), epochs=2)
    first.fit(X, y)
    assert first.history.history["lr"] == pytest.approx([0.1, 0.05])
    first.save(tmp_path / "ck.npz")
    resumed = _trainer(mlplab.sgd(sched), epochs=2)
    resumed.load(tmp_path / "ck.npz")
    assert resumed.opt_state.steps_per_epoch == 3
    assert isinstance(resumed.opt_state.end_epoch, int)
    resumed.fit(X, y, epochs=1)
    assert resumed.history.history["lr"][-1] == pytest.approx(0.025)


def test_cosine_by_name_decays_over_the_fit():
    """A cosine given without decay_steps takes the fit's length from the trainer: the lr of an
    epoch's last update (3 per epoch, 2 epochs) is the closed form at that update."""
    X, y = _tiny()
    trainer = _trainer(
        mlplab.sgd(mlplab.get_schedule({"name": "cosine_decay", "config": {"learning_rate": 0.1}})),
        epochs=2,
    )
    trainer.fit(X, y)
    want = [0.05 * (1 + math.cos(math.pi * t / 6)) for t in (2, 5)]
    assert trainer.history.history["lr"] == pytest.approx(want, rel=1e-12)


def test_estimator_lr_schedule_by_name():
    from sklearn.exceptions import ConvergenceWarning

    from mlplab.sklearn import MLPClassifier

    X, y = _tiny(n=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(
            (4,),
            solver="sgd",
            momentum=0.0,
            batch_size=20,
            learning_rate_init=0.1,
            lr_schedule="cosine_decay",
            max_iter=2,
            random_state=0,
        ).fit(X, y)
    # 2 updates per epoch, 2 epochs: the last update is t = 3 of 4
    assert clf.trainer_.history.history["lr"][-1] == pytest.approx(
        0.05 * (1 + math.cos(math.pi * 3 / 4)), rel=1e-12
    )
    with pytest.raises(ValueError, match="StepDecay: every is required"):
        MLPClassifier((4,), solver="sgd", lr_schedule="step_decay", max_iter=1).fit(X, y)


def test_schedules_exported_at_the_top_level():
    for name in [
        "StepDecay",
        "ExponentialDecay",
        "InverseTimeDecay",
        "CosineDecay",
        "LinearWarmup",
        "Constant",
        "get_schedule",
        "set_num_threads",
        "threads",
        "get_num_threads",
    ]:
        assert name in mlplab.__all__ and getattr(mlplab, name) is not None


# -- item 10: threads ---------------------------------------------------------------------------


def _blas_threads():
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_threads_sets_blas_and_sweep_and_restores_both():
    from mlplab import _settings

    before, sweep_before = _blas_threads(), mlplab.get_num_threads()
    assert before, "NumPy's BLAS should be visible to threadpoolctl"
    try:
        mlplab.set_num_threads(2)
        assert mlplab.get_num_threads() == 2
        with mlplab.threads(1):
            assert _blas_threads() == [1] * len(before)
            assert mlplab.get_num_threads() == _settings.get_num_threads() == 1
        assert mlplab.get_num_threads() == 2
        assert _blas_threads() == [2] * len(before)
        _settings.set_num_threads(1)  # the settings module's name sets both as well
        assert _blas_threads() == [1] * len(before)
    finally:
        mlplab.set_num_threads(None)
    assert _blas_threads() == before and mlplab.get_num_threads() == sweep_before


def test_threads_restore_on_error_and_reject_bad_values():
    before = _blas_threads()
    with pytest.raises(KeyError):
        with mlplab.threads(np.int64(1)):
            raise KeyError("inside")
    assert _blas_threads() == before
    # a bad value is a ValueError, a bad type (bool, float, str; None in threads) a TypeError
    for bad, error in (
        (0, ValueError),
        (-1, ValueError),
        (True, TypeError),
        (1.5, TypeError),
        ("2", TypeError),
    ):
        with pytest.raises(
            error,
            match=r"set_num_threads: n must be a positive int or "
            r"None, got n=",
        ):
            mlplab.set_num_threads(bad)
        with pytest.raises(error, match=r"threads: n must be a positive int, got n="):
            with mlplab.threads(bad):
                pass
    with pytest.raises(TypeError, match=r"threads: n must be a positive int, got n=None"):
        with mlplab.threads(None):
            pass


# -- item 15: NumPy scalars, specs, empty batches, nested lists -------------------------------


def test_numpy_scalars_are_numbers():
    rates, _ = _steps(mlplab.sgd(np.float32(0.01)), [1.0, 2.0])
    assert rates == pytest.approx([float(np.float32(0.01))] * 2, rel=1e-15)
    assert mlplab.get_schedule(np.int64(1))(5) == 1.0
    opt = mlplab.get_optimizer(
        {
            "name": "adam",
            "config": {
                "learning_rate": np.float32(0.01),
                "b1": np.float64(0.8),
                "eps": np.float32(1e-6),
            },
        }
    )
    json.dumps(opt.spec)  # a checkpoint stores it as JSON
    ref = mlplab.adam(float(np.float32(0.01)), b1=0.8, eps=float(np.float32(1e-6)))
    grads = [0.3, -1.0, 2.0]
    assert _steps(opt, grads)[0] == pytest.approx(_steps(ref, grads)[0], rel=1e-15)
    sched = mlplab.StepDecay(np.float32(0.5), drop=np.float64(0.5), every=np.int64(2), unit="step")
    assert sched(3) == 0.25 and type(sched.every) is int
    assert check_positive_int("X", "n", np.uint8(3)) == 3
    assert check_float("X", "a", np.float16(0.5)) == 0.5


@pytest.mark.parametrize(
    "bad, error, match",
    [
        (True, TypeError, r"learning_rate: expected a number, a Schedule, a schedule name"),
        (np.True_, TypeError, r"learning_rate: expected a number, a Schedule, a schedule name"),
        (float("nan"), ValueError, r"Constant: learning_rate must be a finite number"),
        (np.float32("nan"), ValueError, r"Constant: learning_rate must be a finite number"),
        (
            {"config": {}},
            ValueError,
            r"schedule spec \{'config': \{\}\} needs a 'name': a spec is "
            r"\{'name': \.\.\., 'config'",
        ),
    ],
)
def test_schedule_spec_errors(bad, error, match):
    with pytest.raises(error, match=match):
        mlplab.get_schedule(bad)


def test_optimizer_config_errors_name_the_argument():
    with pytest.raises(TypeError, match=r"adam: b1 must be a real number, got b1=False"):
        mlplab.get_optimizer({"name": "adam", "config": {"b1": False}})
    with pytest.raises(TypeError, match=r"learning_rate: expected a number, .* got True"):
        mlplab.get_optimizer({"name": "sgd", "config": {"learning_rate": True}})
    with pytest.raises(
        TypeError,
        match=r"optimizer 'adam': bad config \{'lr': 0.1\} \(got an "
        r"unexpected keyword argument 'lr'\)",
    ):
        mlplab.get_optimizer({"name": "adam", "config": {"lr": 0.1}})


def test_check_helpers_still_refuse_numpy_bools():
    with pytest.raises(TypeError, match=r"X: n must be an int >= 1, got n=np.True_"):
        check_positive_int("X", "n", np.True_)
    with pytest.raises(TypeError, match=r"X: a must be a real number"):
        check_float("X", "a", np.False_)


def test_get_schedule_defaults_fill_missing_config():
    sched = mlplab.get_schedule(
        {"name": "cosine_decay", "config": {"decay_steps": 4, "unit": "step"}},
        defaults={"learning_rate": 0.3},
    )
    assert sched(0) == 0.3 and sched(4) == 0.0
    assert mlplab.get_schedule("constant", defaults={"learning_rate": 0.2})(9) == 0.2


@pytest.mark.parametrize(
    "loss",
    [
        mlplab.SoftmaxCrossEntropy(),
        mlplab.MeanSquaredError(),
        mlplab.SigmoidBinaryCrossEntropy(),
        mlplab.Huber(),
    ],
)
def test_loss_on_an_empty_batch_is_a_clear_error(loss):
    y = np.zeros(0, dtype=np.int64) if loss.task == "multiclass" else np.zeros((0, 3))
    with pytest.raises(
        ValueError,
        match=rf"{loss.name}: the batch is empty \(predictions of "
        r"shape \(0, 3\)\): a mean loss needs at least one",
    ):
        loss.value_and_grad(np.zeros((0, 3), dtype=np.float32), y)


def test_nested_lists_are_arrays():
    rows = [[1.0, 2.0], [3.0, 4.5], [0.0, -1.0]]
    np.testing.assert_array_equal(check_matrix("T", rows), np.array(rows))
    with pytest.raises(ValueError, match=r"T: input must be rows of equal length"):
        check_matrix("T", [[1.0, 2.0], [3.0]])
    with pytest.raises(TypeError, match=r"T: input must hold numbers, got a list of dtype <U1"):
        check_matrix("T", [["a", "b"]])
    with pytest.raises(TypeError, match=r"T: input must be an array or a list of rows .* got int"):
        check_matrix("T", 3)
    with pytest.raises(
        ValueError,
        match=r"T: input must be 2-D of shape \(batch, 2\), got "
        r"shape \(2,\)",
    ):
        check_matrix("T", [1.0, 2.0], features=2)


def test_a_horizon_less_cosine_is_set_by_the_first_fit_and_continued():
    """Two fits of 4 epochs continue one cosine over the first fit's 4 epochs (PyTorch's
    CosineAnnealingLR(T_max=4) stepped per epoch, then its final rate), instead of a second
    decay from the top; partial_fit, whose length is unknown, refuses such a schedule."""
    import warnings

    from mlplab.sklearn import MLPClassifier

    X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    t = mlplab.Trainer(
        mlplab.Sequential([mlplab.Dense(2)]),
        "cross_entropy",
        mlplab.sgd(mlplab.CosineDecay(0.1, unit="epoch")),
        batch_size=40,
        rng=np.random.default_rng(0),
        verbose=0,
    )
    t.fit(X, y, epochs=4)
    t.fit(X, y, epochs=4)
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    expected = []
    for _ in range(4):  # one full-batch update per epoch
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    np.testing.assert_allclose(t.history.history["lr"][:4], expected, rtol=1e-12)
    assert t.history.history["lr"][4:] == [0.0] * 4  # cos(pi) with alpha = 0: the final rate
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(
            ValueError,
            match=r"lr_schedule='cosine_decay' decays over the length "
            r"of the fit, which partial_fit .* does not know",
        ):
            MLPClassifier(hidden_layer_sizes=(3,), lr_schedule="cosine_decay").partial_fit(
                X, y, classes=[0, 1]
            )
