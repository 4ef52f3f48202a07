"""Issue 12, item 7: one registry method, real activation classes, DropConnect as Dense's hooks,
one 2-D check, and scikit-learn estimators that build through the registries."""
from __future__ import annotations

import inspect
import pickle

import numpy as np
import pytest

import mlplab
from mlplab import activations
from mlplab._registry import Registry
from mlplab.layers import LAYERS, Dense, DropConnect, register_layer
from mlplab.losses import LOSSES, register_loss

# the parameter-free activation layers: class -> (the function it fixes, its other names)
FIXED = {mlplab.Identity: ("identity", ("linear",)), mlplab.Sigmoid: ("sigmoid", ("logistic",)),
         mlplab.Tanh: ("tanh", ()), mlplab.ReLU: ("relu", ()), mlplab.Softplus: ("softplus", ()),
         mlplab.Softmax: ("softmax", ())}


# -- one registry method -------------------------------------------------------------------------

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


# -- activation layers are classes ---------------------------------------------------------------

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


# -- DropConnect is Dense with a weight-drawing step ------------------------------------------------

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


# -- one 2-D check (errors.check_matrix) for layers and models ------------------------------------

def test_layers_and_models_check_input_with_check_matrix(rng):
    """A list of rows is an array (as for the Trainer); the messages name the owner."""
    model = mlplab.Sequential([Dense(3), mlplab.Tanh(), mlplab.Maxout(2, k=2)])
    model.build(4, rng=rng, dtype="float64")
    rows = [[0.5, -1.0, 2.0, 0.0], [1.0, 1.0, -3.0, 0.25]]
    np.testing.assert_array_equal(model.forward(rows), model.forward(np.array(rows)))
    np.testing.assert_array_equal(model.layers[0].forward(rows),
                                  model.layers[0].forward(np.array(rows)))
    with pytest.raises(ValueError, match=r"Dense: input is empty \(shape \(0, 4\)\)"):
        model.layers[0].forward(np.zeros((0, 4)))
    with pytest.raises(ValueError, match=r"Tanh: expected input of shape \(batch, 3\), "
                                         r"got shape \(2, 4\)"):
        model.layers[1].forward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"Sequential: layer 0 \(Dense\): input must be rows of "
                                         r"equal length"):
        model.forward([[1.0, 2.0, 3.0, 4.0], [1.0]])
    with pytest.raises(TypeError, match=r"Sequential: layer 0 \(Dense\): input must be an array "
                                        r"or a list of rows"):
        model.forward(3.0)
