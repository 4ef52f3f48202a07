"""Issue 12, item 7: one registry method, real activation classes, DropConnect as Dense's hooks,
one 2-D check, and scikit-learn estimators that build through the registries."""

from __future__ import annotations

import inspect
import json
import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import mlplab
import mlplab.sklearn
from mlplab import activations
from mlplab._registry import Registry
from mlplab.layers import LAYERS, Dense, DropConnect, register_layer
from mlplab.losses import LOSSES, register_loss
from mlplab.sklearn import MLPClassifier, MLPRegressor

# the parameter-free activation layers: class -> (the function it fixes, its other names)
FIXED = {
    mlplab.Identity: ("identity", ("linear",)),
    mlplab.Sigmoid: ("sigmoid", ("logistic",)),
    mlplab.Tanh: ("tanh", ()),
    mlplab.ReLU: ("relu", ()),
    mlplab.Softplus: ("softplus", ()),
    mlplab.Softmax: ("softmax", ()),
}


# -- one registry method ---------------------------------------------------------------------------


def test_register_class_names_a_class_after_itself_and_its_aliases():
    reg: Registry[type] = Registry("widget")

    @reg.register_class("gizmo")
    class Widget:
        pass

    assert reg.get("Widget") is reg.get("gizmo") is Widget
    assert reg.name_of(Widget) == "Widget"

    with pytest.raises(ValueError, match="widget registry: name 'gizmo' is already taken"):

        @reg.register_class("gizmo")
        class Other:
            pass


def test_layers_and_losses_register_through_the_one_method():
    # the same function, bound to each registry: no second copy of the logic
    assert register_layer.__func__ is register_loss.__func__ is Registry.register_class
    assert register_layer.__self__ is LAYERS and register_loss.__self__ is LOSSES


# -- activation layers are classes -----------------------------------------------------------------


@pytest.mark.parametrize("cls", FIXED, ids=lambda c: c.__name__)
def test_activation_layer_is_a_class_in_the_source(cls):
    """``class ReLU`` is written in the source (a class made by ``type()`` has no source), with
    its formula in the docstring, under the names it always had."""
    function, aliases = FIXED[cls]
    assert inspect.getsource(cls).startswith(f"@register_layer(\"{function}\"")
    assert f"class {cls.__name__}(" in inspect.getsource(cls)
    assert "a = " in cls.__doc__ or "a_k = " in cls.__doc__
    for name in (cls.__name__, function, *aliases):
        assert LAYERS.get(name) is cls


@pytest.mark.parametrize("cls", FIXED, ids=lambda c: c.__name__)
def test_activation_layer_computes_its_function(cls):
    """Forward and backward are the registered activation's (a closed form each, tested in
    test_layers); the layer adds nothing, pickles by name and round-trips its config."""
    function, _ = FIXED[cls]
    rng = np.random.default_rng(0)
    layer = cls()
    layer.build(3, rng=rng, dtype="float64")
    z, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    fn = activations.ACTIVATIONS.get(function)
    a = layer.forward(z)
    np.testing.assert_array_equal(a, fn.forward(z))
    np.testing.assert_array_equal(layer.backward(dout), fn.backward(dout, z, a))
    assert layer.get_config() == {} and type(cls(**layer.get_config())) is cls
    clone = pickle.loads(pickle.dumps(layer))
    assert type(clone) is cls
    np.testing.assert_array_equal(clone.forward(z), a)


def test_fixed_activation_takes_no_arguments():
    with pytest.raises(TypeError):
        mlplab.ReLU(alpha=0.1)  # type: ignore[call-arg]


# -- DropConnect is Dense with a weight-drawing step -----------------------------------------------


def test_dropconnect_overrides_only_dense_hooks():
    """The passes are Dense's; DropConnect supplies the weights a pass multiplies by."""
    own = set(vars(DropConnect))
    assert not own & {"forward", "backward", "backward_params"}
    assert {"_effective_weights", "_weight_gradient"} <= own


def test_dropconnect_pass_is_x_times_masked_weights():
    """Closed form: z = x (M * W) + b with the layer's own mask (already scaled by 1/(1-rate));
    dW = M * (x^T dout), dx = dout (M * W)^T."""
    rng = np.random.default_rng(1)
    layer = DropConnect(3, rate=0.5)
    layer.build(4, rng=rng, dtype="float64")
    x, dout = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    z = layer.forward(x, training=True)
    M, W, b = layer.mask, layer.params["W"], layer.params["b"]
    assert set(np.unique(M)) <= {0.0, 2.0}
    np.testing.assert_allclose(z, x @ (M * W) + b, rtol=1e-12)
    dx = layer.backward(dout)
    np.testing.assert_allclose(layer.grads["W"], M * (x.T @ dout), rtol=1e-12)
    np.testing.assert_allclose(dx, dout @ (M * W).T, rtol=1e-12)
    np.testing.assert_array_equal(layer.forward(x), Dense.forward(layer, x))  # eval: no mask
    assert layer.mask is None


# -- one 2-D check (errors.check_matrix) for layers and models -------------------------------------


def test_layers_and_models_check_input_with_check_matrix(rng):
    """A list of rows is an array (as for the Trainer); the messages name the owner."""
    model = mlplab.Sequential([Dense(3), mlplab.Tanh(), mlplab.Maxout(2, k=2)])
    model.build(4, rng=rng, dtype="float64")
    rows = [[0.5, -1.0, 2.0, 0.0], [1.0, 1.0, -3.0, 0.25]]
    np.testing.assert_array_equal(model.forward(rows), model.forward(np.array(rows)))
    np.testing.assert_array_equal(
        model.layers[0].forward(rows), model.layers[0].forward(np.array(rows))
    )
    with pytest.raises(ValueError, match=r"Dense: input is empty \(shape \(0, 4\)\)"):
        model.layers[0].forward(np.zeros((0, 4)))
    with pytest.raises(
        ValueError,
        match=r"Tanh: expected input of shape \(batch, 3\), "
        r"got shape \(2, 4\)",
    ):
        model.layers[1].forward(np.zeros((2, 4)))
    with pytest.raises(
        ValueError,
        match=r"Sequential: layer 0 \(Dense\): input must be rows of "
        r"equal length",
    ):
        model.forward([[1.0, 2.0, 3.0, 4.0], [1.0]])
    with pytest.raises(
        TypeError,
        match=r"Sequential: layer 0 \(Dense\): input must be an array "
        r"or a list of rows",
    ):
        model.forward(3.0)


# -- scikit-learn estimators build through the registries; their numbers do not move ---------------


def _blobs():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), y


def _weights(est):
    return [*est.coefs_, *est.intercepts_]


def test_regressor_equals_the_trainer_it_describes():
    """Same seed, same weights bit for bit as the engine objects built by hand: Glorot-uniform
    Dense layers drawn from the first child of the estimator's generator, Adam with scikit-
    learn's defaults, 1/2 MSE, and L2 of alpha / (2 batch) ||W||^2 (scikit-learn's penalty)."""
    from mlplab import ReLU, Sequential, Trainer
    from mlplab.data.split import sklearn_seed
    from mlplab.losses import MeanSquaredError
    from mlplab.optim import adam
    from mlplab.regularizers import L2

    X, _ = _blobs()
    y = X[:, 0] - 2 * X[:, 1]
    est = MLPRegressor(
        (5,), max_iter=4, alpha=1e-3, batch_size=32, random_state=0, tol=0.0, n_iter_no_change=100
    )
    with pytest.warns(Warning, match="Maximum iterations"):
        est.fit(X, y)

    rng = np.random.default_rng(sklearn_seed(np.random.default_rng(0)))
    model = Sequential([Dense(5), ReLU(), Dense(1)])
    model.build(4, rng=rng.spawn(1)[0])
    trainer = Trainer(
        model,
        MeanSquaredError(),
        adam(0.001, b1=0.9, b2=0.999, eps=1e-8),
        batch_size=32,
        epochs=4,
        rng=rng.spawn(1)[0],
        penalties=[L2(1e-3 / 32)],
        verbose=0,
    )
    trainer.fit(X.astype(np.float32), y.astype(np.float32).reshape(-1, 1))
    ours = [
        model.layers[0].params["W"],
        model.layers[2].params["W"],
        model.layers[0].params["b"],
        model.layers[2].params["b"],
    ]
    for a, b in zip(_weights(est), ours, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "sklearn_names, our_names",
    [
        (
            dict(solver="sgd", momentum=0.8, nesterovs_momentum=True, learning_rate_init=0.05),
            dict(solver="nesterov", solver_params={"mu": 0.8, "learning_rate": 0.05}),
        ),
        (
            dict(solver="sgd", momentum=0.7, nesterovs_momentum=False),
            dict(solver="momentum", solver_params={"mu": 0.7}),
        ),
        (
            dict(solver="sgd", momentum=0.0, learning_rate_init=0.1),
            dict(solver="sgd", momentum=0.0, solver_params={"learning_rate": 0.1}),
        ),
        (
            dict(solver="adam", beta_1=0.8, beta_2=0.99, epsilon=1e-6),
            dict(solver="adam", solver_params={"b1": 0.8, "b2": 0.99, "eps": 1e-6}),
        ),
        (
            dict(solver="lbfgs", tol=1e-3, max_fun=40),
            dict(solver="lbfgs", solver_params={"gtol": 1e-3, "max_fun": 40}),
        ),
    ],
    ids=["nesterov", "momentum", "sgd", "adam", "lbfgs"],
)
def test_sklearn_solver_parameters_mean_our_optimizer_config(sklearn_names, our_names):
    """scikit-learn's parameter names and our optimizer's own config are two paths to the same
    optimizer: the fits agree bit for bit."""
    X, y = _blobs()
    kw = dict(hidden_layer_sizes=(4,), max_iter=3, batch_size=50, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLPClassifier(**kw, **sklearn_names).fit(X, y)
        b = MLPClassifier(**kw, **our_names).fit(X, y)
    assert a.optimizer_.spec == b.optimizer_.spec
    for u, v in zip(_weights(a), _weights(b), strict=True):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize(
    "cls, loss, kind, engine",
    [
        ("MLPClassifier", "cross_entropy", "multiclass", "SoftmaxCrossEntropy"),
        ("MLPClassifier", "cross_entropy", "binary", "SigmoidBinaryCrossEntropy"),
        ("MLPClassifier", "hinge", "multiclass", "MulticlassHinge"),
        ("MLPClassifier", "hinge", "binary", "MultilabelHinge"),
        ("MLPRegressor", "squared_error", None, "MeanSquaredError"),
        ("MLPRegressor", "absolute_error", None, "MeanAbsoluteError"),
        ("MLPRegressor", "huber", None, "Huber"),
    ],
)
def test_estimator_losses_come_from_the_loss_registry(cls, loss, kind, engine):
    X, y = _blobs()
    y = {"multiclass": y, "binary": (y == 1).astype(int), None: X[:, 0]}[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = getattr(mlplab.sklearn, cls)((3,), loss=loss, max_iter=1, random_state=0).fit(X, y)
    assert type(est.trainer_.loss).__name__ == engine


def test_partial_fit_refused_once_for_a_full_batch_solver():
    X, y = _blobs()
    est = MLPClassifier((3,), solver="lbfgs", max_iter=2, random_state=0)
    assert not hasattr(est, "partial_fit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    est.set_params(solver="adam")  # the fitted model still holds the lbfgs solver
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as e:
        est.partial_fit(X, y)
    assert str(e.value.__cause__) == (
        "partial_fit is not available: the model was fitted by a "
        "full-batch solver, not solver='adam'; fit it first"
    )
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as e:
        MLPRegressor(solver="newton").partial_fit  # noqa: B018
    assert str(e.value.__cause__) == "partial_fit is not available for solver='newton'"


def test_saved_parameters_keep_their_types(tmp_path):
    """JSON has no tuples: tuples (hidden_layer_sizes, dict keys) are tagged and come back as
    tuples, for every parameter alike."""
    X, y = _blobs()
    est = MLPClassifier(
        (4, 3),
        max_iter=2,
        random_state=0,
        dropout=[0.1, 0.0],
        solver_params={"b1": 0.8},
        class_weight={0: 1.0, 1: 2.0, 2: 1.5},
        lr_schedule={"name": "step_decay", "config": {"every": 1, "unit": "epoch"}},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    est.save(tmp_path / "m.npz")
    back = MLPClassifier.load(tmp_path / "m.npz")
    params, again = est.get_params(), back.get_params()
    assert again == params
    assert {k: type(v) for k, v in again.items()} == {k: type(v) for k, v in params.items()}
    from mlplab.sklearn import _from_json, _jsonable

    value = {"k": (1, [2, (3, "a")]), "d": {(1, 2): (3,), "x": [4]}}
    assert _from_json(json.loads(json.dumps(_jsonable(value)))) == value


def test_verbose_estimator_prints_each_epoch_with_its_validation_score(capsys):
    """The progress lines come after the estimator's scorer, so they show ``val_score``."""
    X, y = _blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier((3,), max_iter=2, early_stopping=True, verbose=True, random_state=0).fit(X, y)
    lines = [s for s in capsys.readouterr().out.splitlines() if s.startswith("epoch")]
    assert len(lines) == 2 and all("val_score" in s for s in lines)
