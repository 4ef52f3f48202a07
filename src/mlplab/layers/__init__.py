"""Layers: explicit forward/backward passes (level 2)."""

from .activation import (
    ELU,
    Activation,
    Identity,
    LeakyReLU,
    PReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
)
from .base import LAYERS, Layer, get_layer, register_layer, serialize_layer
from .batchnorm import BatchNorm
from .dense import Dense, DropConnect
from .dropout import Dropout, GaussianNoise
from .hierarchical import HierarchicalSoftmax
from .maxout import Maxout
from .residual import Residual

__all__ = [
    "LAYERS",
    "Activation",
    "BatchNorm",
    "Dense",
    "DropConnect",
    "Dropout",
    "ELU",
    "GaussianNoise",
    "HierarchicalSoftmax",
    "Identity",
    "Layer",
    "LeakyReLU",
    "Maxout",
    "PReLU",
    "ReLU",
    "Residual",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Tanh",
    "get_layer",
    "register_layer",
    "serialize_layer",
]
