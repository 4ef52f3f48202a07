"""Sample weights: every loss's weighted value is sum_n w_n l_n / N with l_n the loss of row n
alone, its gradient matches central differences, integer weights equal duplicated rows, and the
trainer's weighted fit equals scikit-learn's weighted logistic regression."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import mlplab
from mlplab import Dense, Sequential, Trainer

from examples import LOSS_CASES


@pytest.mark.parametrize("make, n_out, targets", LOSS_CASES)
def test_weighted_value_and_gradient(make, n_out, targets, rng):
    n = 6
    loss, out = make(), rng.standard_normal((n, n_out))
    y = targets(rng, n, n_out)
    w = rng.uniform(0.0, 3.0, n)
    value, grad = loss.value_and_grad(out, y, sample_weight=w)
    rows = [float(loss.value_and_grad(out[i : i + 1], y[i : i + 1])[0]) for i in range(n)]
    assert float(value) == pytest.approx(np.dot(w, rows) / n, rel=1e-12)
    eps = 1e-6
    num = np.zeros_like(out)
    for idx in np.ndindex(*out.shape):
        up, down = out.copy(), out.copy()
        up[idx] += eps
        down[idx] -= eps
        num[idx] = (
            float(loss.value_and_grad(up, y, w)[0]) - float(loss.value_and_grad(down, y, w)[0])
        ) / (2 * eps)
    np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-8)
    ones = loss.value_and_grad(out, y, np.ones(n))
    plain = loss.value_and_grad(out, y)
    assert float(ones[0]) == pytest.approx(float(plain[0]), rel=1e-14)
    np.testing.assert_allclose(ones[1], plain[1], rtol=1e-14)


def test_sample_weight_errors(rng):
    loss = mlplab.SoftmaxCrossEntropy()
    z, y = rng.standard_normal((4, 3)), np.array([0, 1, 2, 0])
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(4,\)"):
        loss.value_and_grad(z, y, np.ones(3))
    with pytest.raises(ValueError, match="sample_weight must be finite and >= 0"):
        loss.value_and_grad(z, y, np.array([1.0, -1.0, 1.0, 1.0]))
    t = Trainer(
        Sequential([Dense(3)]), "cross_entropy", "sgd", rng=np.random.default_rng(0), verbose=0
    )
    with pytest.raises(ValueError, match="not all 0"):
        t.fit(z, y, sample_weight=np.zeros(4))
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(4,\)"):
        t.fit(z, y, sample_weight=np.ones(5))


def softmax_regression(lam):
    model = Sequential([Dense(3)])
    model.build(4, rng=np.random.default_rng(0), dtype="float64")
    return Trainer(
        model,
        "cross_entropy",
        "newton",
        epochs=50,
        rng=np.random.default_rng(0),
        penalties=[mlplab.L2(lam)],
        verbose=0,
    )


def test_integer_weights_equal_duplicated_rows_and_match_scikit_learn():
    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    w = np.random.default_rng(0).integers(0, 4, len(X)).astype(float)
    lam = 1e-2
    weighted = softmax_regression(lam)
    weighted.fit(X, y, sample_weight=w)
    rows = np.repeat(np.arange(len(X)), w.astype(int))
    duplicated = softmax_regression(lam)
    duplicated.fit(X[rows], y[rows])
    Ww, Wd = weighted.model.params()["0.W"], duplicated.model.params()["0.W"]
    np.testing.assert_allclose(Ww, Wd, atol=1e-7)
    # sum_n w_n l_n / sum w + lam/2 ||W||^2  ==  sklearn's C sum_n w_n l_n + 1/2 ||W||^2
    ref = LogisticRegression(C=1 / (w.sum() * lam), tol=1e-12, max_iter=10_000)
    ref.fit(X, y, sample_weight=w)
    np.testing.assert_allclose(Ww, ref.coef_.T, atol=2e-5)


def test_minibatch_weights_change_the_fit(rng):
    """Weighting one class up moves the decision toward it (more of its examples right)."""
    X = rng.standard_normal((400, 2))
    y = (X[:, 0] + 0.8 * rng.standard_normal(400) > 0).astype(int)

    def recall_of_class_1(sample_weight):
        t = Trainer(
            Sequential([Dense(2)]),
            "cross_entropy",
            mlplab.sgd(0.1),
            batch_size=32,
            epochs=20,
            rng=np.random.default_rng(0),
            verbose=0,
        )
        t.fit(X, y, sample_weight=sample_weight)
        pred = t.predict_labels(X)
        return np.mean(pred[y == 1] == 1)

    assert recall_of_class_1(np.where(y == 1, 10.0, 1.0)) > recall_of_class_1(None) + 0.05
