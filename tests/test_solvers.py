"""Full-batch solvers (newton, lbfgs): Hessians against closed forms, Newton's one step on a
quadratic, least squares and L2 logistic regression against numpy/scikit-learn, saddle escape,
callbacks per iteration, trainer integration and errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import mlplab
from mlplab import Dense, Sequential, Tanh, Trainer
from mlplab.optim import hessian_by_differences, lbfgs, newton


def quadratic(A, b):
    """f(w) = 1/2 w^T A w - b^T w with its gradient; minimum at A^-1 b."""
    return lambda w: (0.5 * w @ A @ w - b @ w, A @ w - b)


def spd(rng, n):
    M = rng.standard_normal((n, n))
    return M @ M.T + 0.5 * np.eye(n)


def test_hessian_by_differences_matches_closed_forms(rng):
    A = spd(rng, 6)
    np.testing.assert_allclose(
        hessian_by_differences(quadratic(A, rng.standard_normal(6)), rng.standard_normal(6)),
        A,
        rtol=1e-8,
        atol=1e-8,
    )

    def logsumexp(z):  # Hessian diag(p) - p p^T with p = softmax(z)
        p = np.exp(z - z.max())
        p /= p.sum()
        return np.log(np.exp(z - z.max()).sum()) + z.max(), p

    z = rng.standard_normal(5)
    p = logsumexp(z)[1]
    np.testing.assert_allclose(
        hessian_by_differences(logsumexp, z), np.diag(p) - np.outer(p, p), atol=1e-9
    )


def test_newton_reaches_the_minimum_of_a_quadratic_in_one_step(rng):
    A, b = spd(rng, 10), rng.standard_normal(10)
    seen = []
    solver = newton()
    w, state, message = solver.minimize(
        quadratic(A, b),
        np.zeros(10),
        solver.init({}),
        max_iter=1,
        callback=lambda w, f: seen.append(f),
    )
    w_star = np.linalg.solve(A, b)
    np.testing.assert_allclose(w, w_star, rtol=1e-7, atol=1e-9)
    assert len(seen) == 1 and state["step"] == 1
    assert seen[0] == pytest.approx(-0.5 * b @ w_star, rel=1e-12)


def test_newton_descends_away_from_a_saddle_point():
    """f = x^2 + (y^2 - 1)^2 / 4 has a saddle at (0, 0) and minima at (0, +-1). Plain Newton from
    (1, 0.01) jumps to the saddle; the damped, absolute-curvature step must find a minimum."""

    def f(w):
        x, y = w
        return x * x + 0.25 * (y * y - 1) ** 2, np.array([2 * x, y * (y * y - 1)])

    H = np.array([[2.0, 0.0], [0.0, 3 * 0.01**2 - 1]])
    plain = np.array([1.0, 0.01]) - np.linalg.solve(H, f(np.array([1.0, 0.01]))[1])
    assert np.linalg.norm(plain) < 1e-3  # the classic failure this solver must avoid
    solver = newton()
    w, _, _ = solver.minimize(
        f, np.array([1.0, 0.01]), solver.init({}), max_iter=30, callback=lambda w, v: False
    )
    assert abs(abs(w[1]) - 1) < 1e-8 and abs(w[0]) < 1e-8


def test_newton_through_the_trainer_solves_least_squares_in_one_epoch(rng):
    """A linear model with squared error is a quadratic in its parameters: one Newton step must
    land on numpy's least-squares solution."""
    X = rng.standard_normal((50, 4))
    Y = X @ rng.standard_normal((4, 2)) + 0.3 + 0.1 * rng.standard_normal((50, 2))
    model = Sequential([Dense(2)])
    model.build(4, rng=np.random.default_rng(0), dtype="float64")
    trainer = Trainer(model, "mse", "newton", epochs=1, rng=np.random.default_rng(0), verbose=0)
    trainer.fit(X, Y)
    coef, *_ = np.linalg.lstsq(np.hstack([X, np.ones((50, 1))]), Y, rcond=None)
    np.testing.assert_allclose(model.params()["0.W"], coef[:4], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(model.params()["0.b"], coef[4], rtol=1e-6, atol=1e-8)
    assert len(trainer.history.epoch) == 1


@pytest.mark.parametrize(
    "solver", ["newton", {"name": "lbfgs", "config": {"gtol": 1e-10, "ftol": 1e-15}}]
)
def test_l2_softmax_regression_matches_scikit_learn(solver):
    """Mean cross-entropy + lambda/2 ||W||^2 is scikit-learn's multinomial logistic regression
    with C = 1 / (n lambda) (intercepts unpenalized in both; softmax biases only up to a shift)."""
    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    lam = 1e-2
    model = Sequential([Dense(3)])
    model.build(4, rng=np.random.default_rng(0), dtype="float64")
    trainer = Trainer(
        model,
        "cross_entropy",
        solver,
        epochs=200,
        rng=np.random.default_rng(0),
        penalties=[mlplab.L2(lam)],
        verbose=0,
    )
    trainer.fit(X, y)
    assert "converge" in trainer.solver_message.lower()
    ref = LogisticRegression(C=1 / (len(X) * lam), tol=1e-12, max_iter=10_000).fit(X, y)
    W, b = model.params()["0.W"], model.params()["0.b"]
    np.testing.assert_allclose(W, ref.coef_.T, atol=2e-5)
    np.testing.assert_allclose(b - b.mean(), ref.intercept_ - ref.intercept_.mean(), atol=2e-5)


def test_lbfgs_reports_every_iteration_and_stops_on_request(rng):
    A, b = spd(rng, 30), rng.standard_normal(30)
    values = []
    solver = lbfgs(gtol=1e-12, ftol=0.0)
    w, state, message = solver.minimize(
        quadratic(A, b),
        np.zeros(30),
        solver.init({}),
        max_iter=100,
        callback=lambda w, f: values.append(f) or len(values) == 4,
    )
    assert len(values) == 4 and state["step"] == 4
    assert values == sorted(values, reverse=True)  # a descent method
    assert quadratic(A, b)(w)[0] == pytest.approx(values[-1], rel=1e-12)


def test_trainer_epochs_are_solver_iterations_and_callbacks_can_stop():
    X, y = load_iris(return_X_y=True)
    model = Sequential([Dense(8), Tanh(), Dense(3)])
    stopper = mlplab.EarlyStopping("loss", patience=0, min_delta=10.0, restore_best=False)
    trainer = Trainer(
        model,
        "cross_entropy",
        "lbfgs",
        epochs=50,
        rng=np.random.default_rng(0),
        callbacks=[stopper],
        verbose=0,
    )
    trainer.fit(X.astype(np.float32), y, validation_data=(X[:20].astype(np.float32), y[:20]))
    assert trainer.history.epoch == [0, 1] and trainer.epoch == 2
    assert set(trainer.history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    # the logged loss is the loss of the weights the model holds after that iteration
    assert trainer.evaluate(X, y)["loss"] == pytest.approx(
        trainer.history.history["loss"][-1], rel=1e-5
    )


def test_newton_resume_equals_uninterrupted_run(tmp_path):
    X, y = load_iris(return_X_y=True)

    def trainer(epochs):
        model = Sequential([Dense(4), Tanh(), Dense(3)])
        model.build(4, rng=np.random.default_rng(1), dtype="float64")
        return Trainer(
            model, "cross_entropy", "newton", epochs=epochs, rng=np.random.default_rng(2), verbose=0
        )

    full = trainer(4)
    full.fit(X, y)
    first = trainer(2)
    first.fit(X, y)
    first.save(tmp_path / "newton.npz")
    resumed = trainer(4)
    resumed.load(tmp_path / "newton.npz")
    resumed.fit(X, y, epochs=2)  # each fit trains epochs more (Keras): 2 more make 4
    a, b = full.model.get_state(), resumed.model.get_state()
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_solver_errors():
    X, y = load_iris(return_X_y=True)
    big = Sequential([Dense(64), Tanh(), Dense(3)])  # 4*64+64 + 64*3+3 = 515 parameters
    t = Trainer(
        big,
        "cross_entropy",
        {"name": "newton", "config": {"max_params": 500}},
        epochs=1,
        rng=np.random.default_rng(0),
        verbose=0,
    )
    with pytest.raises(ValueError, match="515 parameters, above max_params=500.*lbfgs"):
        t.fit(X, y)
    assert t.history.epoch == []
    for kwargs, what in [
        ({"clip_norm": 1.0}, "clip_norm"),
        ({"augment": mlplab.GaussianInputNoise(0.1)}, "augment"),
        ({"constraints": [mlplab.MaxNorm(3.0)]}, "constraints"),
    ]:
        t = Trainer(
            Sequential([Dense(3)]),
            "cross_entropy",
            "lbfgs",
            rng=np.random.default_rng(0),
            verbose=0,
            **kwargs,
        )
        with pytest.raises(ValueError, match=f"{what} cannot be used with the full-batch solver"):
            t.fit(X, y)
    t = Trainer(
        Sequential([Dense(8), mlplab.Dropout(0.5), Dense(3)]),
        "cross_entropy",
        "newton",
        rng=np.random.default_rng(0),
        verbose=0,
    )
    with pytest.raises(ValueError, match="stochastic layers"):
        t.fit(X, y)
    t = Trainer(
        Sequential([Dense(3)]),
        "cross_entropy",
        "lbfgs",
        rng=np.random.default_rng(0),
        verbose=0,
        callbacks=[mlplab.ReduceLROnPlateau("loss")],
    )
    with pytest.raises(ValueError, match="no learning rate to reduce"):
        t.fit(X, y)
    with pytest.raises(RuntimeError, match="no single steps"):
        t.train_step(X, y)
    with pytest.raises(ValueError, match=r"newton: max_params must be an int >= 1"):
        newton(max_params=0)
    with pytest.raises(ValueError, match=r"newton: c1 must be in \(0.0, 0.5\)"):
        newton(c1=0.7)
    with pytest.raises(ValueError, match="lbfgs: memory must be an int >= 1"):
        lbfgs(memory=0)


def test_lbfgs_converges_on_a_quadratic(rng):
    A, b = spd(rng, 30), rng.standard_normal(30)
    solver = lbfgs(gtol=1e-10, ftol=0.0)
    w, _, message = solver.minimize(
        quadratic(A, b), np.zeros(30), solver.init({}), max_iter=500, callback=lambda w, f: False
    )
    np.testing.assert_allclose(w, np.linalg.solve(A, b), rtol=1e-6, atol=1e-8)
    assert "CONVERGENCE" in message
