"""Property-based tests: generated bad or unusual inputs either work correctly or raise a
``ValueError``/``TypeError`` whose message names what was wrong; never another exception, never
NaN weights, never a hang.

A few hundred cases run in ``make test`` (derandomized, so a CI failure reproduces); set
``MLPLAB_FUZZ=1`` (or a number of examples per property, ``MLPLAB_FUZZ=5000``) for a long,
randomized run.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import warnings
import zipfile

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import mlplab  # noqa: E402
from mlplab import Dense, ReLU, Sequential, Trainer  # noqa: E402

_FUZZ = os.environ.get("MLPLAB_FUZZ", "")
LONG = _FUZZ not in ("", "0")
EXAMPLES = (int(_FUZZ) if _FUZZ.isdigit() and int(_FUZZ) > 1 else 1000) if LONG else 60

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not LONG,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
    ],
)
HANG_S = 30  # one example may not take longer than this (sizes are bounded far below it)


@contextlib.contextmanager
def no_hang(seconds: int = HANG_S):
    """Fail (instead of hanging the suite) when one example runs longer than ``seconds``."""

    def alarm(*_):
        raise AssertionError(f"an example ran for more than {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def works_or_clear_error(fn, names):
    """Run ``fn``; a ValueError/TypeError must name one of ``names`` (the arguments of the call).
    Returns (result, None) or (None, exception)."""
    with no_hang(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # TrainingDiverged, ConvergenceWarning, ...
        # NumPy's overflow warnings on the way to a divergence are allowed: what is judged is
        # the outcome (finite weights, or a clear error), not the warnings before it
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return fn(), None
        except (ValueError, TypeError) as e:
            message = str(e)
            assert message.strip(), f"{type(e).__name__} without a message"
            lowered = message.lower()
            assert any(n.lower() in lowered for n in names), (
                f"{type(e).__name__} does not name what was wrong (one of {sorted(names)}): "
                f"{message!r}"
            )
            return None, e


def assert_finite_weights(params: dict) -> None:
    for k, v in params.items():
        assert np.all(np.isfinite(np.asarray(v))), f"weights {k!r} are not finite"


# -- generated pieces ---------------------------------------------------------------------------

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.floats(min_value=1e-6, max_value=1e3),
    st.integers(min_value=-3, max_value=10**6),
    st.sampled_from([0, 1, -1, 0.0, 1e-3, 1e300, -1e-3]),
    st.builds(np.float32, st.floats(min_value=2.0**-16, max_value=10.0, width=32)),
    st.builds(np.int64, st.integers(min_value=-2, max_value=64)),
    st.sampled_from([None, True, False, "0.1", "adam", [1], (2,), {}]),
)

element_kinds = st.sampled_from(["normal", "huge", "nan", "inf", "int", "bool"])


@st.composite
def feature_arrays(draw, n=None, d=None):
    """X: mostly well-formed numeric arrays, sometimes with NaN/inf/huge values, other dtypes,
    other dimensions, or as nested lists."""
    n = draw(st.integers(0, 12)) if n is None else n
    d = draw(st.integers(0, 4)) if d is None else d
    kind = draw(element_kinds)
    shape = draw(st.sampled_from([(n, d), (n, d), (n, d), (n,), (n, d, 1), ()]))
    if kind == "int":
        X = draw(hnp.arrays(np.int64, shape, elements=st.integers(-5, 5)))
    elif kind == "bool":
        X = draw(hnp.arrays(np.bool_, shape))
    else:
        dtype = draw(st.sampled_from([np.float32, np.float64]))
        bound = {"normal": 10.0, "huge": 2.0**100, "nan": 10.0, "inf": 10.0}[kind]
        X = draw(hnp.arrays(dtype, shape, elements=st.floats(-bound, bound, width=32)))
        if kind in ("nan", "inf") and X.size:
            X.flat[draw(st.integers(0, X.size - 1))] = np.nan if kind == "nan" else np.inf
    as_list = draw(st.booleans()) and draw(st.booleans())
    return X.tolist() if as_list else X


@st.composite
def class_labels(draw, n):
    kind = draw(
        st.sampled_from(
            [
                "ok",
                "ok",
                "ok",
                "negative",
                "float",
                "string",
                "nan",
                "2d",
                "wrong_length",
                "scalar",
                "complex",
            ]
        )
    )
    labels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, 2)))
    if kind == "negative" and n:
        labels[0] = -1
    elif kind == "float":
        return labels.astype(np.float64) + draw(st.sampled_from([0.0, 0.5]))
    elif kind == "string":
        return np.array([f"c{v}" for v in labels])
    elif kind == "nan":
        out = labels.astype(np.float64)
        if n:
            out[0] = np.nan
        return out
    elif kind == "2d":
        return labels.reshape(n, 1) if draw(st.booleans()) else np.zeros((n, 5))
    elif kind == "wrong_length":
        return labels[: max(n - 1, 0)] if n else np.zeros(3, np.int64)
    elif kind == "scalar":
        return 3
    elif kind == "complex":
        return labels + 1j
    return labels


TRAINER_NAMES = [
    "X",
    "y",
    "target",
    "label",
    "input",
    "example",
    "feature",
    "batch_size",
    "epochs",
    "learning_rate",
    "loss",
    "optimizer",
    "dtype",
    "shape",
]


# -- the Trainer ----------------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_trainer_fit_works_or_says_what_is_wrong(data):
    n, d = data.draw(st.integers(1, 12)), data.draw(st.integers(1, 4))
    X = data.draw(feature_arrays(n, d))
    y = data.draw(class_labels(n))
    batch_size = data.draw(st.one_of(st.integers(1, 16), numbers))
    lr = data.draw(st.one_of(st.floats(1e-4, 10.0), numbers))
    epochs = data.draw(st.one_of(st.integers(1, 3), st.sampled_from([0, -1, 2.5, None])))

    def run():
        model = Sequential([Dense(3), ReLU(), Dense(3)])
        trainer = Trainer(
            model,
            "cross_entropy",
            mlplab.sgd(lr),
            batch_size=batch_size,
            epochs=epochs,
            rng=np.random.default_rng(0),
            verbose=0,
        )
        trainer.fit(X, y)
        return trainer

    trainer, error = works_or_clear_error(run, TRAINER_NAMES)
    if trainer is not None:
        assert_finite_weights(trainer.params())
        out = trainer.predict(np.zeros((2, d)))
        assert np.all(np.isfinite(out))


@FUZZ
@given(data=st.data())
def test_trainer_predict_and_evaluate_bad_inputs(data, fitted_trainer):
    trainer = fitted_trainer
    X = data.draw(feature_arrays())
    batch_size = data.draw(st.one_of(st.none(), st.integers(-2, 8), numbers))

    def run():
        return trainer.predict(X, batch_size=batch_size)

    out, error = works_or_clear_error(run, TRAINER_NAMES)
    if out is not None:
        out = np.asarray(out)
        assert out.shape == (np.asarray(X).shape[0], 3)
        assert np.all(np.isfinite(out))
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


@pytest.fixture(scope="module")
def fitted_trainer():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0)
    trainer = Trainer(
        Sequential([Dense(5), ReLU(), Dense(3)]),
        "cross_entropy",
        "adam",
        batch_size=8,
        epochs=2,
        rng=rng,
        verbose=0,
    )
    trainer.fit(X, y)
    return trainer


# -- losses ---------------------------------------------------------------------------------------

LOSS_NAMES = mlplab.LOSSES.names()


@FUZZ
@given(data=st.data(), name=st.sampled_from(LOSS_NAMES))
def test_losses_work_or_say_what_is_wrong(data, name):
    n, k = data.draw(st.integers(0, 6)), data.draw(st.integers(1, 4))
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    y_pred = data.draw(hnp.arrays(dtype, (n, k), elements=st.floats(-50, 50, width=32)))
    kind = data.draw(st.sampled_from(["labels", "values", "onehot", "bad_shape", "nan"]))
    if kind == "labels":
        y_true = data.draw(hnp.arrays(np.int64, (n,), elements=st.integers(-1, k)))
    elif kind == "values":
        y_true = data.draw(hnp.arrays(dtype, (n, k), elements=st.floats(-2, 2, width=32)))
    elif kind == "onehot":
        y_true = np.eye(k, dtype=dtype)[
            data.draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
        ]
    elif kind == "bad_shape":
        y_true = np.zeros((n + 1, k + 1), dtype)
    else:
        y_true = np.full((n, k), np.nan, dtype)
    weights = data.draw(
        st.one_of(st.none(), hnp.arrays(np.float64, (n,), elements=st.floats(-1, 3)))
    )

    def run():
        loss = mlplab.get_loss(name)
        value, grad = loss.value_and_grad(y_pred, y_true, weights)
        return loss, value, grad

    result, error = works_or_clear_error(
        run,
        [
            "y_true",
            "y_pred",
            "target",
            "label",
            "shape",
            "sample_weight",
            "batch",
            "output",
            "class",
            "loss",
            "value",
        ],
    )
    if result is not None:
        loss, value, grad = result
        assert np.isfinite(float(value)), f"{name}: loss {value} on finite inputs"
        assert np.asarray(grad).shape == y_pred.shape
        assert np.all(np.isfinite(np.asarray(grad)))
        assert np.asarray(value).dtype == dtype, f"{name}: {dtype} inputs gave a {value.dtype} loss"


# -- the scikit-learn estimators ------------------------------------------------------------------


@FUZZ
@given(data=st.data(), regressor=st.booleans())
def test_estimators_work_or_say_what_is_wrong(data, regressor):
    from mlplab.sklearn import MLPClassifier, MLPRegressor

    n, d = data.draw(st.integers(2, 12)), data.draw(st.integers(1, 3))
    X = data.draw(feature_arrays(n, d))
    y = (
        data.draw(hnp.arrays(np.float64, (n,), elements=st.floats(-1e3, 1e3)))
        if regressor
        else data.draw(class_labels(n))
    )
    param, value = (
        data.draw(
            st.sampled_from(
                [
                    "learning_rate_init",
                    "alpha",
                    "batch_size",
                    "max_iter",
                    "tol",
                    "momentum",
                    "beta_1",
                    "epsilon",
                    "validation_fraction",
                    "n_iter_no_change",
                    "hidden_layer_sizes",
                    "activation",
                    "solver",
                    "learning_rate",
                ]
            )
        ),
        data.draw(numbers),
    )
    kwargs = {"hidden_layer_sizes": (3,), "max_iter": 3, "random_state": 0, param: value}
    estimator_class = MLPRegressor if regressor else MLPClassifier

    def run():
        est = estimator_class(**kwargs)
        est.fit(X, y)
        return est

    est, error = works_or_clear_error(
        run,
        [
            param,
            "X",
            "y",
            "target",
            "label",
            "class",
            "input",
            "sample",
            "feature",
            "array",
            "dtype",
        ],
    )
    if est is not None:
        for w in [*est.coefs_, *est.intercepts_]:
            assert np.all(np.isfinite(w))
        pred = est.predict(np.asarray(X, dtype=np.float64))
        if regressor:
            assert np.all(np.isfinite(pred))
        else:
            assert set(np.asarray(pred).ravel()) <= set(est.classes_)


# -- loaders --------------------------------------------------------------------------------------


@FUZZ
@given(
    header=st.binary(min_size=0, max_size=24), body=st.binary(max_size=64), compress=st.booleans()
)
def test_read_idx_random_bytes(tmp_path_factory, header, body, compress):
    import gzip

    from mlplab.data.idx import read_idx

    path = tmp_path_factory.mktemp("idx") / ("data.idx.gz" if compress else "data.idx")
    raw = header + body
    path.write_bytes(gzip.compress(raw) if compress else raw)
    array, error = works_or_clear_error(lambda: read_idx(path), [str(path), "idx"])
    if array is not None:
        assert isinstance(array, np.ndarray)


@FUZZ
@given(
    header=st.integers(1, 4).flatmap(
        lambda nd: st.tuples(
            st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]),
            st.just(nd),
            st.lists(st.integers(0, 2**32 - 1), min_size=nd, max_size=nd),
        )
    )
)
def test_read_idx_huge_declared_shape_fails_fast(tmp_path_factory, header):
    """A tiny file whose header declares a huge array must not allocate it."""
    import gzip

    from mlplab.data.idx import read_idx

    code, ndim, shape = header
    raw = bytes([0, 0, code, ndim]) + b"".join(s.to_bytes(4, "big") for s in shape) + bytes(16)
    path = tmp_path_factory.mktemp("idx") / "huge.idx.gz"
    path.write_bytes(gzip.compress(raw))
    works_or_clear_error(lambda: read_idx(path), [str(path), "idx"])


CELLS = st.one_of(
    st.integers(-5, 5).map(str),
    st.floats(-10, 10).map(lambda v: f"{v:.3g}"),
    st.sampled_from(["", "nan", "oops", "a", "b", "NA", "1e400", "inf", '"x,y"']),
)


@FUZZ
@given(
    rows=st.lists(st.lists(CELLS, min_size=3, max_size=3), min_size=0, max_size=8),
    header=st.sampled_from(["f1,f2,target", "f1,f1,target", "f1,f2", "", "target,,x"]),
    drop=st.sampled_from([(), ("f1",), ("target",), ("nope",)]),
)
def test_load_table_random_csv(tmp_path_factory, rows, header, drop):
    from mlplab import load_table

    path = tmp_path_factory.mktemp("table") / "t.csv"
    path.write_text("\n".join([header, *(",".join(r) for r in rows)]) + "\n")
    ds, error = works_or_clear_error(
        lambda: load_table(path, "target", drop=drop),
        [str(path), "t.csv", "target", "drop", "column", "row", "missing", "class", "empty"],
    )
    if ds is not None:
        assert np.all(np.isfinite(np.asarray(ds.X)))


# -- checkpoints ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkpoint_bytes(tmp_path_factory, fitted_trainer):
    path = tmp_path_factory.mktemp("ckpt") / "good.npz"
    fitted_trainer.save(path)
    return path.read_bytes()


def _fresh_trainer():
    trainer = Trainer(
        Sequential([Dense(5), ReLU(), Dense(3)]),
        "cross_entropy",
        "adam",
        batch_size=8,
        epochs=2,
        rng=np.random.default_rng(1),
        verbose=0,
    )
    X = np.random.default_rng(2).normal(size=(16, 4)).astype(np.float32)
    trainer.fit(X, np.arange(16) % 3)
    return trainer


@FUZZ
@given(data=st.data())
def test_damaged_checkpoint_is_refused_and_leaves_the_trainer_untouched(
    data, tmp_path_factory, checkpoint_bytes
):
    raw = bytearray(checkpoint_bytes)
    how = data.draw(st.sampled_from(["truncate", "flip", "flip_many", "append"]))
    if how == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    elif how == "append":
        raw += data.draw(st.binary(min_size=1, max_size=64))
    else:
        for _ in range(1 if how == "flip" else data.draw(st.integers(2, 20))):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] ^= data.draw(st.integers(1, 255))
    path = tmp_path_factory.mktemp("bad") / "damaged.npz"
    path.write_bytes(bytes(raw))

    trainer = _fresh_trainer()
    before = {k: np.array(v, copy=True) for k, v in trainer.get_state().items()}
    epoch, step = trainer.epoch, trainer.step
    _, error = works_or_clear_error(lambda: trainer.load(path), [str(path), "damaged.npz"])
    if error is not None:  # refused: nothing of the file reached the trainer
        assert trainer.epoch == epoch and trainer.step == step
        for k, v in trainer.get_state().items():
            np.testing.assert_array_equal(v, before[k], err_msg=f"{k} changed by a failed load")
    else:
        assert_finite_weights(trainer.params())


META_FIELDS = [
    "model",
    "in_features",
    "dtype",
    "loss",
    "optimizer",
    "opt_scalars",
    "epoch",
    "step",
    "rng",
    "history",
    "version",
    "format",
]
BAD_VALUES = st.one_of(
    st.none(),
    st.integers(-5, 10**9),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.just({}),
    st.just({"name": "nope", "config": {}}),
    st.floats(allow_nan=True),
)


@FUZZ
@given(field=st.sampled_from(META_FIELDS), value=BAD_VALUES)
def test_checkpoint_with_a_wrong_meta_field(tmp_path_factory, checkpoint_bytes, field, value):
    import json

    with zipfile.ZipFile(io.BytesIO(checkpoint_bytes)) as z:
        members = {name: z.read(name) for name in z.namelist()}
    meta_npy = np.load(io.BytesIO(members["meta.npy"]), allow_pickle=False)
    meta = json.loads(str(meta_npy))
    meta[field] = value
    buffer = io.BytesIO()
    np.save(buffer, np.array(json.dumps(meta)), allow_pickle=False)
    members["meta.npy"] = buffer.getvalue()
    path = tmp_path_factory.mktemp("meta") / "edited.npz"
    with zipfile.ZipFile(path, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)

    trainer = _fresh_trainer()
    before = {k: np.array(v, copy=True) for k, v in trainer.get_state().items()}
    _, error = works_or_clear_error(lambda: trainer.load(path), [str(path), "edited.npz"])
    if error is not None:
        for k, v in trainer.get_state().items():
            np.testing.assert_array_equal(v, before[k], err_msg=f"{k} changed by a failed load")
    _, error = works_or_clear_error(lambda: mlplab.load_model(path), [str(path), "edited.npz"])
