"""The layer interface, the layer registry, and the chain helpers shared by containers.

A layer is a pair of explicit passes (as in "Deep Learning from Scratch", ``common/layers.py``):
``forward`` caches what ``backward`` needs; ``backward(dout)`` fills ``grads`` (same keys as
``params``) and returns ``dx``, never mutating ``dout``. ``__init__`` stores and validates config
only; ``build`` allocates. ``state`` holds buffers that are not trained (BatchNorm's running
statistics).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from types import MappingProxyType
from typing import Any

import numpy as np

from .._registry import Registry, build_from_spec
from .._typing import Array, Namespace
from ..backend import PicklesNamespace, resolve_dtype
from ..errors import NotBuiltError, check_generator, check_matrix, check_positive_int

_EMPTY: MappingProxyType = MappingProxyType({})  # shared, read-only: layers without parameters

LAYERS: Registry[type] = Registry("layer")


#: class decorator: register a layer under its class name and ``aliases``
register_layer = LAYERS.register_class


class Layer(PicklesNamespace):
    """Base class: a layer with explicit ``forward``/``backward`` passes.

    Attributes
    ----------
    params, grads : dict[str, Array]
        Trainable arrays and their gradients, same keys (``"W"``, ``"b"``, ``"gamma"`` ...).
    state : dict[str, Array]
        Buffers that are saved and restored but not trained.
    rng : numpy.random.Generator or None
        A child generator for layers that draw at training time (Dropout, noise).
    """

    params: dict[str, Array] = _EMPTY  # type: ignore[assignment]
    grads: dict[str, Array] = _EMPTY  # type: ignore[assignment]
    state: dict[str, Array] = _EMPTY  # type: ignore[assignment]
    #: whether forward(training=True) draws random numbers (gradcheck replays their rng)
    stochastic = False

    def __init__(self) -> None:
        self.built = False
        self.in_features: int | None = None
        self.out_features: int | None = None
        self.xp: Namespace = None
        self.dtype: Any = None
        self.rng: np.random.Generator | None = None

    @property
    def name(self) -> str:
        return type(self).__name__

    # -- lifecycle -------------------------------------------------------------------------
    def build(
        self,
        in_features: int,
        *,
        rng: np.random.Generator,
        dtype: Any = "float32",
        xp: Namespace = np,
    ) -> int:
        """Allocate parameters for inputs ``(batch, in_features)``; returns ``out_features``."""
        check_positive_int(self.name, "in_features", in_features)
        check_generator(self.name, rng)
        self.xp = xp
        self.dtype = resolve_dtype(xp, dtype, self.name)
        if self.stochastic:
            self.rng = rng.spawn(1)[0]
        self.in_features = int(in_features)
        self.out_features = int(self._build(self.in_features, rng))
        self.built = True
        return self.out_features

    def _build(self, in_features: int, rng: np.random.Generator) -> int:
        """Subclasses allocate here; the default keeps the width and has no parameters."""
        return in_features

    def forward(self, x: Array, *, training: bool = False) -> Array:
        raise NotImplementedError

    def backward(self, dout: Array) -> Array:
        raise NotImplementedError

    def backward_params(self, dout: Array) -> None:
        """``backward`` without dL/dx: fill ``grads`` only. The first trained layer's input
        gradient is never used in training, and for a Dense layer it is a full extra GEMM."""
        self.backward(dout)

    # -- introspection ---------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """JSON-able constructor arguments: ``type(self)(**layer.get_config())`` rebuilds it."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    @property
    def n_params(self) -> int:
        return sum(int(np.prod(p.shape)) for p in self.params.values())

    def generators(self) -> list[np.random.Generator]:
        """Every generator this layer draws from at training time (for exact replays)."""
        return [self.rng] if self.rng is not None else []

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{self.name}({args})"

    # -- helpers for subclasses ------------------------------------------------------------
    def _check_input(self, x: Array) -> Array:
        """``x`` after checking the layer is built and ``x`` is ``(batch, in_features)``."""
        if not self.built:
            raise NotBuiltError(f"{self.name}: call build(in_features, rng=...) before forward")
        return check_matrix(self.name, x, features=self.in_features)

    def _generator(self) -> np.random.Generator:
        """The layer's own generator (a stochastic layer keeps a child of the build rng)."""
        if self.rng is None:
            raise NotBuiltError(f"{self.name}: call build(in_features, rng=...) before forward")
        return self.rng

    def _cached(self, value: Any) -> Any:
        if value is None:
            raise RuntimeError(f"{self.name}: backward called before forward")
        return value


def serialize_layer(layer: Layer) -> dict[str, Any]:
    """``{"name": <class name>, "config": {...}}``, the form :func:`get_layer` reads."""
    return {"name": layer.name, "config": layer.get_config()}


def get_layer(spec: Any) -> Layer:
    """A layer from an instance, a registered name (``"relu"``) or ``{"name", "config"}``."""
    return build_from_spec(
        LAYERS, spec, instance_of=Layer, factory=lambda cls, cfg: cls.from_config(cfg)
    )


# -- chains: the one implementation of "apply layers in order", used by Sequential and Residual --


def build_chain(layers: list[Layer], in_features: int, *, rng, dtype, xp) -> int:
    width = in_features
    for layer in layers:
        width = layer.build(width, rng=rng, dtype=dtype, xp=xp)
    return width


def forward_chain(layers: list[Layer], x: Array, training: bool) -> Array:
    for layer in layers:
        x = layer.forward(x, training=training)
    return x


def backward_chain(layers: list[Layer], dout: Array, input_grad: bool = True) -> Array | None:
    """Backpropagate through ``layers``; returns dL/dx, or ``None`` with ``input_grad=False``,
    which stops at the first layer that has parameters (nothing before it needs a gradient)."""
    if input_grad:
        for layer in reversed(layers):
            dout = layer.backward(dout)
        return dout
    first = next((i for i, layer in enumerate(layers) if layer.params), len(layers))
    for layer in reversed(layers[first + 1 :]):
        dout = layer.backward(dout)
    if first < len(layers):
        layers[first].backward_params(dout)
    return None


def collect(layers: Iterable[Layer], attr: str) -> dict[str, Array]:
    """Flatten ``layer.<attr>`` dicts into dotted keys ``"<index>.<key>"`` (views, not copies)."""
    return {
        f"{i}.{k}": v for i, layer in enumerate(layers) for k, v in getattr(layer, attr).items()
    }


def iter_generators(layers: Iterable[Layer]) -> Iterator[np.random.Generator]:
    for layer in layers:
        yield from layer.generators()
