"""Parity with PyTorch autograd in float64: the same formula in torch operations, on copied
weights and inputs, differentiated by autograd; outputs and gradients agree to 1e-10 relative."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import mlplab

from examples import LAYER_CASES, LOSS_CASES, kink_free

RTOL, ATOL = 1e-10, 1e-12


def close(ours, theirs, what=""):
    np.testing.assert_allclose(
        np.asarray(ours), theirs.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=what
    )


def replay_uniform(layer, shape):
    """The uniforms the layer's next forward draws, from a copy of its generator."""
    return copy.deepcopy(layer.rng).random(shape)


def torch_forward(layer, x, p, training, draws, buffers=None):
    """The layer's formula in torch ops; ``p`` holds torch copies of its params, ``draws`` the
    random numbers it will use (replayed from its own generator)."""
    name = type(layer).__name__
    if name == "Dense":
        return x @ p["W"] + p["b"] if layer.use_bias else x @ p["W"]
    if name == "DropConnect":
        if not training:
            return x @ p["W"] + p["b"]
        mask = torch.from_numpy((draws >= layer.rate) / (1 - layer.rate))
        return x @ (p["W"] * mask) + p["b"]
    if name in ("Activation", "ELU"):
        return F.elu(x, alpha=layer.hyper["alpha"])
    simple = {
        "Identity": lambda t: t,
        "Sigmoid": torch.sigmoid,
        "Tanh": torch.tanh,
        "ReLU": torch.relu,
        "Softplus": F.softplus,
        "Softmax": lambda t: torch.softmax(t, 1),
    }
    if name in simple:
        return simple[name](x)
    if name == "LeakyReLU":
        return F.leaky_relu(x, negative_slope=layer.hyper["alpha"])
    if name == "PReLU":
        return F.prelu(x, p["alpha"])
    if name == "Maxout":
        z = x @ p["W"] + p["b"]
        return z.reshape(x.shape[0], layer.units, layer.k).max(dim=2).values
    if name == "BatchNorm":
        rm = torch.from_numpy(buffers["running_mean"].copy())  # as they were before our forward
        rv = torch.from_numpy(buffers["running_var"].copy())
        out = F.batch_norm(
            x,
            rm,
            rv,
            p["gamma"],
            p["beta"],
            training=training,
            momentum=1 - layer.momentum,
            eps=layer.eps,
        )
        layer._torch_running = (rm, rv)
        return out
    if name == "Dropout":
        keep = 1 - layer.rate
        if not training:
            return x if layer.inverted else x * keep
        mask = torch.from_numpy((draws >= layer.rate) * 1.0)
        return x * mask / keep if layer.inverted else x * mask
    if name == "GaussianNoise":
        return x + torch.from_numpy(draws) * layer.std if training else x
    if name == "HierarchicalSoftmax":
        # log P(c|x) = sum over c's path of log sigma(z_j) (right turn) or log sigma(-z_j)
        z = x @ p["W"] + p["b"]
        on, right = torch.from_numpy(layer.on_path * 1.0), torch.from_numpy(layer.go_right * 1.0)
        return F.logsigmoid(z) @ (on * right).T + F.logsigmoid(-z) @ (on * (1 - right)).T
    if name == "Residual":
        h = x
        for i, inner in enumerate(layer.layers):
            sub = {k.split(".", 1)[1]: v for k, v in p.items() if k.startswith(f"{i}.")}
            h = torch_forward(inner, h, sub, training, None)
        return x + h
    raise AssertionError(f"no torch formula for {name}: add one")


@pytest.mark.parametrize("make", LAYER_CASES)
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_layer_matches_torch_autograd(make, training, rng):
    layer = make()
    layer.build(5, rng=rng, dtype="float64")
    if "running_mean" in layer.state:  # non-trivial running statistics for eval mode
        layer.state["running_mean"][...] = rng.standard_normal(5)
        layer.state["running_var"][...] = rng.uniform(0.5, 2.0, 5)
    x = kink_free(rng, (6, 5))
    draws = None
    if layer.stochastic and training:
        shape = layer.params["W"].shape if isinstance(layer, mlplab.DropConnect) else x.shape
        draws = (
            copy.deepcopy(layer.rng).standard_normal(shape)
            if isinstance(layer, mlplab.GaussianNoise)
            else replay_uniform(layer, shape)
        )

    buffers = {k: v.copy() for k, v in layer.state.items()}
    out = layer.forward(x, training=training)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)

    xt = torch.tensor(x, requires_grad=True)
    pt = {k: torch.tensor(v, requires_grad=True) for k, v in layer.params.items()}
    out_t = torch_forward(layer, xt, pt, training, draws, buffers)
    (out_t * torch.from_numpy(dout)).sum().backward()

    close(out, out_t, "output")
    close(dx, xt.grad, "dx")
    for k in layer.params:
        close(layer.grads[k], pt[k].grad, f"d{k}")
    if isinstance(layer, mlplab.BatchNorm):
        rm, rv = layer._torch_running
        close(layer.state["running_mean"], rm, "running_mean")
        close(layer.state["running_var"], rv, "running_var")


def torch_loss(loss, z, y):
    """The loss formula in torch ops (or torch's own loss where conventions agree)."""
    name = type(loss).__name__
    yt = torch.from_numpy(np.asarray(y))
    if name == "MeanSquaredError":
        yt = yt.reshape(z.shape)
        return F.mse_loss(z, yt) * (0.5 if loss.half else 1.0)
    if name == "MeanAbsoluteError":
        return F.l1_loss(z, yt)
    if name == "Huber":
        return F.huber_loss(z, yt, delta=loss.delta)
    if name == "SoftmaxCrossEntropy":
        return F.cross_entropy(z, yt)  # integer labels or class probabilities
    if name == "SigmoidBinaryCrossEntropy":
        return F.binary_cross_entropy_with_logits(z, yt.reshape(z.shape).double())
    if name in ("MulticlassHinge", "SquaredHinge"):
        # torch divides by the number of classes C; cs231n's convention does not
        p = 2 if loss.squared else 1
        return F.multi_margin_loss(z, yt, p=p, margin=loss.margin) * z.shape[1]
    if name == "MultilabelHinge":
        m = torch.clamp(loss.margin - yt * z, min=0)
        return (m**2 if loss.squared else m).mean()
    if name == "NegativeLogLikelihood":  # torch's NLLLoss takes integer labels only
        return F.nll_loss(z, yt) if yt.ndim == 1 else -(yt * z).sum(dim=1).mean()
    raise AssertionError(f"no torch formula for {name}: add one")


@pytest.mark.parametrize("make, n_out, targets", LOSS_CASES)
def test_loss_matches_torch(make, n_out, targets, rng):
    loss = make()
    y = targets(rng, 8, n_out)
    z = 3 * rng.standard_normal((8, n_out))
    value, grad = loss.value_and_grad(z, y)
    zt = torch.tensor(z, requires_grad=True)
    lt = torch_loss(loss, zt, y)
    lt.backward()
    close(value, lt, "loss")
    close(grad, zt.grad, "dL/dz")


def test_mse_half_convention_is_half_of_torch(rng):
    z, y = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    half = float(mlplab.MeanSquaredError()(z, y))
    full = float(mlplab.MeanSquaredError(half=False)(z, y))
    torch_value = F.mse_loss(torch.from_numpy(z), torch.from_numpy(y)).item()
    assert half == pytest.approx(torch_value / 2, rel=1e-12)
    assert full == pytest.approx(torch_value, rel=1e-12)


def test_sequential_matches_torch_nn(rng):
    """A whole network against torch.nn modules with copied weights (W^T: torch is out x in)."""
    model = mlplab.Sequential(
        [mlplab.Dense(4), mlplab.Tanh(), mlplab.Dense(4), mlplab.ReLU(), mlplab.Dense(3)]
    )
    model.build(5, rng=rng, dtype="float64")
    net = torch.nn.Sequential(
        torch.nn.Linear(5, 4),
        torch.nn.Tanh(),
        torch.nn.Linear(4, 4),
        torch.nn.ReLU(),
        torch.nn.Linear(4, 3),
    ).double()
    P = model.params()
    with torch.no_grad():
        for i in (0, 2, 4):
            net[i].weight.copy_(torch.from_numpy(P[f"{i}.W"].T))
            net[i].bias.copy_(torch.from_numpy(P[f"{i}.b"]))
    x, y = rng.standard_normal((10, 5)), rng.integers(0, 3, 10)
    value, dout = mlplab.SoftmaxCrossEntropy().value_and_grad(model.forward(x), y)
    model.backward(dout)
    lt = F.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y))
    lt.backward()
    close(value, lt)
    G = model.grads()
    for i in (0, 2, 4):
        close(G[f"{i}.W"], net[i].weight.grad.T, f"{i}.W")
        close(G[f"{i}.b"], net[i].bias.grad, f"{i}.b")
