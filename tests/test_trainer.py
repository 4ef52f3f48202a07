"""The trainer: acceptance accuracies, early stopping, resume bit for bit, divergence, errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import mlplab
from mlplab import Dense, ReLU, Sequential, Trainer


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(
        (X / 16.0).astype(np.float32), y, test_size=0.25, random_state=0, stratify=y
    )


def small_net():
    return Sequential([Dense(64, kernel_initializer="he_normal"), ReLU(), Dense(10)])


def test_digits_reaches_96_percent(digits):
    Xtr, Xte, ytr, yte = digits
    t = Trainer(
        small_net(),
        "cross_entropy",
        mlplab.adam(1e-3),
        batch_size=32,
        epochs=25,
        rng=np.random.default_rng(0),
        verbose=0,
    )
    t.fit(Xtr, ytr)
    assert t.evaluate(Xte, yte)["accuracy"] >= 0.96
    assert np.mean(t.predict_labels(Xte) == yte) >= 0.96
    np.testing.assert_allclose(t.predict(Xte[:5]).sum(axis=1), 1.0, rtol=1e-5)


def test_fashion_mnist_84_percent_in_5_epochs():
    try:  # tests never download: the system folder, $MLPLAB_DATA or the cache must have it
        (X, y), (Xt, yt) = mlplab.load_fashion_mnist(download=False)
    except mlplab.data.DatasetNotFoundError as e:
        pytest.skip(
            f"Fashion-MNIST not installed (make test installs Debian's "
            f"dataset-fashion-mnist when it can): {e}"
        )
    rng = np.random.default_rng(0)
    sub = rng.choice(len(X), 10_000, replace=False)
    model = Sequential(
        [
            Dense(256, kernel_initializer="he_normal"),
            ReLU(),
            Dense(256, kernel_initializer="he_normal"),
            ReLU(),
            Dense(10),
        ]
    )
    t = Trainer(
        model, "cross_entropy", mlplab.adam(1e-3), batch_size=64, epochs=5, rng=rng, verbose=0
    )
    t.fit(X[sub], y[sub])
    assert t.evaluate(Xt, yt)["accuracy"] >= 0.84


def test_same_seed_bit_identical_weights_and_history(digits):
    Xtr, _, ytr, _ = digits

    def run():
        model = Sequential([Dense(32), ReLU(), mlplab.Dropout(0.2), Dense(10)])
        model.build(64, rng=np.random.default_rng(1))
        t = Trainer(
            model,
            "cross_entropy",
            "adam",
            batch_size=64,
            epochs=3,
            rng=np.random.default_rng(2),
            verbose=0,
        )
        h = t.fit(Xtr, ytr)
        return model.get_state(), h.history

    (s1, h1), (s2, h2) = run(), run()
    assert all(np.array_equal(s1[k], s2[k]) for k in s1)
    assert {k: v for k, v in h1.items() if k != "time"} == {
        k: v for k, v in h2.items() if k != "time"
    }


def test_early_stopping_restores_best_weights(digits):
    Xtr, Xte, ytr, yte = digits
    # a big net with a high rate overfits and gets noisy: the best epoch is not the last
    stop = mlplab.EarlyStopping("val_loss", patience=2, restore_best=True)
    t = Trainer(
        Sequential([Dense(256), ReLU(), Dense(10)]),
        "cross_entropy",
        mlplab.adam(0.02),
        batch_size=16,
        epochs=40,
        rng=np.random.default_rng(0),
        callbacks=[stop],
        verbose=0,
    )
    h = t.fit(Xtr[:300], ytr[:300], validation_data=(Xte, yte)).history
    assert stop.stopped_epoch is not None and len(h["val_loss"]) < 40
    best = min(h["val_loss"])
    assert h["val_loss"][-1] > best  # training went past the best epoch ...
    assert t.evaluate(Xte, yte)["loss"] == pytest.approx(best, rel=1e-6)  # ... and came back


def test_resume_equals_uninterrupted_run(digits, tmp_path):
    Xtr, Xte, ytr, yte = digits

    def trainer(epochs):
        model = Sequential([Dense(32), mlplab.BatchNorm(), ReLU(), mlplab.Dropout(0.1), Dense(10)])
        model.build(64, rng=np.random.default_rng(5))
        return Trainer(
            model,
            "cross_entropy",
            mlplab.momentum(0.05),
            batch_size=50,
            epochs=epochs,
            rng=np.random.default_rng(6),
            verbose=0,
            augment=mlplab.GaussianInputNoise(0.05),
        )

    full = trainer(4)
    full.fit(Xtr, ytr)
    first = trainer(2)
    first.fit(Xtr, ytr)
    first.save(tmp_path / "ck.npz")
    resumed = trainer(4)
    resumed.load(tmp_path / "ck.npz")
    assert resumed.epoch == 2
    resumed.fit(Xtr, ytr, epochs=2)  # each fit trains epochs more (Keras): 2 more make 4
    a, b = full.model.get_state(), resumed.model.get_state()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    model = mlplab.load_model(tmp_path / "ck.npz")
    np.testing.assert_array_equal(model.forward(Xte), first.model.forward(Xte))


def test_checkpoint_errors(tmp_path, digits):
    Xtr, _, ytr, _ = digits
    t = Trainer(
        small_net(), "cross_entropy", "sgd", epochs=1, rng=np.random.default_rng(0), verbose=0
    )
    with pytest.raises(FileNotFoundError, match="does not exist"):
        t.load(tmp_path / "missing.npz")
    t.fit(Xtr, ytr)
    path = tmp_path / "ck.npz"
    t.save(path)
    data = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        t.load(tmp_path / "cut.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(2))
    with pytest.raises(ValueError, match="not an mlplab checkpoint"):
        t.load(tmp_path / "other.npz")
    assert not list(tmp_path.glob(".tmp-*")), "atomic write left a temporary file"
    other = Trainer(
        small_net(), "cross_entropy", "adam", epochs=1, rng=np.random.default_rng(0), verbose=0
    )
    other.fit(Xtr[:10], ytr[:10])
    with pytest.raises(ValueError, match="optimizer state .* is missing; .* different optimizer"):
        other.load(path)  # an sgd checkpoint has no Adam moments


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point of the test
def test_terminate_on_nan_restores_last_finite_weights(digits):
    Xtr, _, ytr, _ = digits
    t = Trainer(
        Sequential([Dense(64), ReLU(), Dense(64), ReLU(), Dense(10)]),
        "cross_entropy",
        mlplab.sgd(1e4),
        batch_size=32,
        epochs=5,
        rng=np.random.default_rng(0),
        callbacks=[mlplab.TerminateOnNaN()],
        verbose=0,
    )
    with pytest.warns(mlplab.TrainingDiverged, match=r"in epoch \d+ at learning rate 10000"):
        t.fit(Xtr * 100, ytr)
    assert all(np.all(np.isfinite(v)) for v in t.model.params().values())
    assert t.stop_reason is not None and t.epoch < 5  # stopped early, not after all epochs


def test_reduce_lr_on_plateau_halves_and_stops_at_min():
    X = np.random.default_rng(0).standard_normal((64, 3)).astype(np.float32)
    y = np.zeros(64, dtype=np.int64)
    # the training loss falls every epoch, so in "max" mode it never improves after epoch 0
    cb = mlplab.ReduceLROnPlateau(
        "loss", mode="max", factor=0.5, patience=0, min_lr=0.1 / 8, stop_at_min_lr=True
    )
    t = Trainer(
        Sequential([Dense(2)]),
        "cross_entropy",
        mlplab.sgd(0.1),
        batch_size=None,
        epochs=50,
        rng=np.random.default_rng(0),
        callbacks=[cb],
        verbose=0,
    )
    h = t.fit(X, y).history
    # logged: the rate used during each epoch; halved after epochs 1, 2, 3; below 0.1/8 -> stop
    assert h["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.025, 0.0125])


def test_penalties_constraints_and_clipping(digits):
    Xtr, _, ytr, _ = digits
    maxnorm = mlplab.MaxNorm(0.5)
    t = Trainer(
        small_net(),
        "cross_entropy",
        mlplab.sgd(0.5),
        epochs=2,
        rng=np.random.default_rng(0),
        penalties=[mlplab.L2(1e-3)],
        constraints=[maxnorm],
        clip_norm=1.0,
        verbose=0,
    )
    h = t.fit(Xtr, ytr).history
    weights = [W for k, W in t.model.params().items() if k.endswith("W")]
    # the logged penalty is lambda/2 ||W||^2 over the weights (biases excluded) at epoch end
    assert h["penalty"][-1] == pytest.approx(
        0.5e-3 * sum(float(np.sum(W.astype(np.float64) ** 2)) for W in weights), rel=1e-4
    )
    for W in weights:
        assert np.all(np.linalg.norm(W, axis=0) <= 0.5 + 1e-6)


def test_clip_norm_bounds_the_step(digits):
    """With sgd(eta) and clip_norm=c, a step moves the parameters by exactly eta * c whenever the
    gradient's global norm exceeds c (the gradient computed independently, before the step)."""
    Xtr, _, ytr, _ = digits
    x, y = Xtr[:64], ytr[:64]
    t = Trainer(
        small_net(),
        "cross_entropy",
        mlplab.sgd(0.1),
        clip_norm=0.01,
        rng=np.random.default_rng(0),
        verbose=0,
    )
    t.model.build(x.shape[1], rng=np.random.default_rng(0))
    before = {k: v.astype(np.float64) for k, v in t.params().items()}
    out = t.model.forward(x, training=True)
    _, dout = t.loss.value_and_grad(out, y)
    t.model.backward(dout)
    g_norm = np.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in t.grads().values()))
    assert g_norm > 0.01
    t.opt_state = t.optimizer.init(t.params())
    t.train_step(x, y)
    step = np.sqrt(sum(float(np.sum((v - before[k]) ** 2)) for k, v in t.params().items()))
    assert step == pytest.approx(0.1 * 0.01, rel=1e-4)


def test_l2_and_l1_gradients_match_closed_form():
    W = np.array([[1.0, -2.0], [0.5, 0.0]])
    params = {"0.W": W, "0.b": np.ones(2)}
    assert mlplab.L2(0.1).value(params) == pytest.approx(0.05 * (1 + 4 + 0.25))
    np.testing.assert_allclose(mlplab.L2(0.1).grad(params)["0.W"], 0.1 * W)
    assert "0.b" not in mlplab.L2(0.1).grad(params)
    np.testing.assert_allclose(mlplab.L1(0.1).grad(params)["0.W"], 0.1 * np.sign(W))
    assert mlplab.ElasticNet(0.1, 0.2).value(params) == pytest.approx(0.1 * 3.5 + 0.1 * 5.25)


def test_csv_logger_and_piped_progress(digits, tmp_path, capsys):
    Xtr, _, ytr, _ = digits
    t = Trainer(
        small_net(),
        "cross_entropy",
        "adam",
        epochs=2,
        rng=np.random.default_rng(0),
        callbacks=[mlplab.CSVLogger(tmp_path / "log.csv")],
        verbose=1,
    )
    t.fit(Xtr, ytr)
    out = capsys.readouterr()
    assert "\r" not in out.out and out.out.count("epoch ") == 2
    lines = (tmp_path / "log.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,loss,accuracy") and len(lines) == 3


def test_fit_validates_before_training(digits):
    Xtr, _, ytr, _ = digits
    t = Trainer(small_net(), "cross_entropy", "adam", rng=np.random.default_rng(0), verbose=0)
    with pytest.raises(ValueError, match="has 100 examples but its targets have 99"):
        t.fit(Xtr[:100], ytr[:99])
    bad = Xtr[:10].copy()
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        t.fit(bad, ytr[:10])
    with pytest.raises(ValueError, match=r"class labels must be in \[0, 10\)"):
        t.fit(Xtr[:10], ytr[:10] + 5)
    with pytest.raises(TypeError, match="integer class labels"):
        t.fit(Xtr[:10], ytr[:10].astype(float))
    with pytest.raises(ValueError, match="input is empty"):
        t.fit(Xtr[:0], ytr[:0])
    assert t.epoch == 0 and t.opt_state is None  # nothing ran


# every registered optimizer, with a learning rate and epoch budget suited to it
TINY_NETWORK_SETTINGS = {
    "sgd": ({"learning_rate": 0.5}, None, 300),
    "momentum": ({"learning_rate": 0.1}, 32, 150),
    "nesterov": ({"learning_rate": 0.1}, 32, 150),
    "adagrad": ({"learning_rate": 0.1}, 32, 150),
    "adadelta": ({}, 32, 150),
    "rmsprop": ({"learning_rate": 0.01}, 32, 150),
    "adam": ({"learning_rate": 0.01}, 32, 150),
    "newton": ({}, None, 12),
    "lbfgs": ({}, None, 200),
}


@pytest.mark.parametrize("name", mlplab.optim.OPTIMIZERS.names())
def test_every_optimizer_trains_a_tiny_network(name):
    """2-8-8-2 tanh on two moons: every optimizer must fit the training set (loss < 0.05,
    accuracy >= 99%) from the same start; the registry cannot grow without a setting here."""
    from sklearn.datasets import make_moons

    X, y = make_moons(200, noise=0.1, random_state=0)
    config, batch_size, epochs = TINY_NETWORK_SETTINGS[name]
    model = Sequential([Dense(8), mlplab.Tanh(), Dense(8), mlplab.Tanh(), Dense(2)])
    model.build(2, rng=np.random.default_rng(1), dtype="float64")
    trainer = Trainer(
        model,
        "cross_entropy",
        {"name": name, "config": config},
        batch_size=batch_size,
        epochs=epochs,
        rng=np.random.default_rng(0),
        verbose=0,
    )
    start = trainer.evaluate(X, y)["loss"]
    trainer.fit(X, y)
    end = trainer.evaluate(X, y)
    assert start > 0.3 and end["loss"] < 0.05 and end["accuracy"] >= 0.99, (start, end)
