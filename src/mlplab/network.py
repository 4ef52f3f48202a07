"""``Sequential``: a stack of layers with flat, dotted-key views of their arrays (level 2)."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

import numpy as np

from ._typing import Array, Namespace, Params
from .backend import PicklesNamespace, all_finite, copy, dtype_name, get_namespace, resolve_dtype
from .errors import NotBuiltError, check_generator, check_matrix, check_positive_int
from .layers.base import (
    Layer,
    backward_chain,
    build_chain,
    collect,
    forward_chain,
    get_layer,
    iter_generators,
    serialize_layer,
)
from .losses import get_loss


class Sequential(PicklesNamespace):
    """Layers applied in order: ``a^(l) = layer_l(a^(l-1))``, backprop in reverse.

    Parameters
    ----------
    layers : list of Layer, names or ``{"name", "config"}`` dicts

    Examples
    --------
    >>> import numpy as np
    >>> from mlplab import Sequential, Dense, Tanh
    >>> net = Sequential([Dense(4), Tanh(), Dense(2)])
    >>> net.build(3, rng=np.random.default_rng(0))
    2
    >>> net.n_params   # (3*4 + 4) + (4*2 + 2)
    26
    """

    def __init__(self, layers: Iterable[Any] = ()):
        if isinstance(layers, (str, Layer)) or not isinstance(layers, Iterable):
            raise TypeError(f"Sequential: layers must be a list of layers, got {layers!r}")
        self.layers: list[Layer] = [get_layer(s) for s in layers]
        self.built = False
        self.in_features: int | None = None
        self.out_features: int | None = None
        self.xp: Namespace = None
        self.dtype: Any = None
        #: the loss the model was trained with, where known (set by ``load_model`` from the
        #: checkpoint); :meth:`predict_proba` uses it when given none
        self.loss: Any = None

    def add(self, layer: Any) -> Sequential:
        if self.built:
            raise RuntimeError("Sequential: cannot add layers after build")
        self.layers.append(get_layer(layer))
        return self

    # -- lifecycle ---------------------------------------------------------------------------
    def build(
        self,
        in_features: int,
        *,
        rng: np.random.Generator,
        dtype: Any = "float32",
        xp: Namespace = np,
    ) -> int:
        """Allocate every layer's parameters for inputs ``(batch, in_features)``.

        All initial weights are drawn from ``rng`` in layer order, so a seed fixes them.
        Returns the output width.
        """
        if not self.layers:
            raise ValueError("Sequential: cannot build an empty model; give it layers")
        check_positive_int("Sequential", "in_features", in_features)
        check_generator("Sequential", rng)
        self.xp = xp
        self.dtype = resolve_dtype(xp, dtype, "Sequential")
        self.in_features = int(in_features)
        self.out_features = build_chain(self.layers, self.in_features, rng=rng, dtype=dtype, xp=xp)
        self.built = True
        return self.out_features

    def _require_built(self) -> None:
        if not self.built:
            raise NotBuiltError("Sequential: call build(in_features, rng=...) first")

    # -- passes ------------------------------------------------------------------------------
    def check_input(self, x: Any) -> Array:
        """Validate a batch ``(batch, in_features)`` and cast it to the model's dtype.

        Raises a ValueError naming the first layer and the expected shape, for NaN/inf, and a
        TypeError for non-numeric input. Real integer or other float inputs are cast (once).
        """
        self._require_built()
        xp = self.xp
        x = check_matrix(
            f"Sequential: layer 0 ({self.layers[0].name})", x, features=self.in_features
        )
        if get_namespace(x) is not xp:
            x = xp.asarray(x)  # e.g. NumPy data into a model built on another namespace
        if not (xp.isdtype(x.dtype, "real floating") or xp.isdtype(x.dtype, "integral")):
            raise TypeError(f"Sequential: input must be a real numeric array, got dtype {x.dtype}")
        if x.dtype != self.dtype:
            x = xp.astype(x, self.dtype)
        if not all_finite(xp, x):
            raise ValueError(
                "Sequential: input contains NaN or inf; clean or impute the data first"
            )
        return x

    def forward(self, x: Array, *, training: bool = False, check: bool = True) -> Array:
        """Output ``(batch, out_features)``; ``training=True`` enables dropout, batch statistics.

        ``check=False`` skips :meth:`check_input` (and its scan for NaN/inf): for batches of an
        array that was checked once already, as the Trainer's training loop does.
        """
        return forward_chain(self.layers, self.check_input(x) if check else x, training)

    def backward(self, dout: Array, *, input_grad: bool = True) -> Array | None:
        """Backpropagate ``dout = dL/d(output)``; fills every layer's grads and returns dL/dx
        (``input_grad=False``, as in training: returns None and skips the work dL/dx needs)."""
        self._require_built()
        return backward_chain(self.layers, dout, input_grad)

    __call__ = forward

    def predict(self, X: Any, *, batch_size: int | None = None) -> Array:
        """Evaluation-mode outputs ``(n, out_features)`` (logits for classifiers), in batches.

        Dropout is off and BatchNorm uses its running statistics, as in ``forward(X)``;
        ``batch_size`` rows at a time (default: all at once) bounds the memory of large inputs.
        For probabilities use :meth:`predict_proba` with the training loss.
        """
        x = self.check_input(X)
        if batch_size is None:
            return self.forward(x, check=False)
        check_positive_int("Sequential.predict", "batch_size", batch_size)
        outs = [
            self.forward(x[i : i + batch_size], check=False)
            for i in range(0, x.shape[0], batch_size)
        ]
        return outs[0] if len(outs) == 1 else self.xp.concat(outs, axis=0)

    def predict_proba(self, X: Any, loss: Any = None, *, batch_size: int | None = None) -> Array:
        """What the outputs mean under ``loss`` (a name, spec or Loss): class probabilities
        ``softmax(z)`` for ``"cross_entropy"``, ``sigmoid(z)`` per output for
        ``"binary_cross_entropy"``, scores for hinge losses, values for regression losses.

        ``loss=None`` uses :attr:`loss`, the loss the model was trained with: set by the
        ``Trainer`` that trains it and by :func:`~mlplab.load_model`; a model that does not
        know its loss raises a TypeError. (A :class:`~mlplab.HierarchicalSoftmax` output
        layer's log-probabilities become probabilities under its loss ``"nll"``.)
        """
        if loss is None:
            loss = getattr(self, "loss", None)  # None also for a model pickled before it
            if loss is None:
                raise TypeError(
                    "Sequential.predict_proba: this model does not know its loss "
                    "(a model given to a Trainer or from load_model does): pass "
                    "the loss it was trained with, e.g. "
                    "predict_proba(X, 'cross_entropy')"
                )
        return get_loss(loss).predict(self.predict(X, batch_size=batch_size))

    # -- views and state -----------------------------------------------------------------------
    def params(self) -> Params:
        """Trainable arrays, keys ``"<layer index>.<name>"`` (views: writing them changes the
        model)."""
        return collect(self.layers, "params")

    def grads(self) -> Params:
        """Gradients from the last ``backward``, same keys in the same order as :meth:`params`."""
        grads = collect(self.layers, "grads")
        # layers fill grads in the order backward computes them (BatchNorm: beta, then gamma);
        # zip(params().values(), grads().values()) must pair each array with its gradient
        ordered = {k: grads[k] for k in self.params() if k in grads}
        return ordered if len(ordered) == len(grads) else {**ordered, **grads}

    def buffers(self) -> Params:
        """Non-trainable state such as BatchNorm running statistics (views)."""
        return collect(self.layers, "state")

    def get_state(self) -> Params:
        """Copies of every parameter and buffer (for early stopping and checkpoints)."""
        self._require_built()
        xp = self.xp
        return {k: copy(xp, v) for k, v in {**self.params(), **self.buffers()}.items()}

    def set_state(self, state: dict[str, Any]) -> None:
        """Write ``state`` (from :meth:`get_state`) into the existing arrays, in place."""
        self._require_built()
        targets = {**self.params(), **self.buffers()}
        missing, unexpected = sorted(set(targets) - set(state)), sorted(set(state) - set(targets))
        if missing or unexpected:
            raise ValueError(
                f"Sequential.set_state: keys do not match the model: "
                f"missing {missing}, unexpected {unexpected}"
            )
        xp = self.xp
        for k, target in targets.items():
            value = state[k]
            if tuple(value.shape) != tuple(target.shape):
                raise ValueError(
                    f"Sequential.set_state: {k!r} has shape {tuple(value.shape)}, "
                    f"the model expects {tuple(target.shape)}"
                )
            target[...] = xp.asarray(value, dtype=target.dtype)

    def generators(self) -> list[np.random.Generator]:
        """The generators stochastic layers draw from (to replay a training-mode pass exactly)."""
        return list(iter_generators(self.layers))

    @property
    def n_params(self) -> int:
        self._require_built()
        return sum(layer.n_params for layer in self.layers)

    # -- config and display -------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {"layers": [serialize_layer(layer) for layer in self.layers]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        return cls(**config)

    def summary(self) -> str:
        """A table: layer, output shape, parameter count, and the totals. Each layer is named
        with its required arguments and those that differ from their defaults
        (:func:`layer_arguments`): ``Dense(64)``, ``BatchNorm()``, ``Dropout(rate=0.3)``."""
        rows = [("#", "Layer", "Output shape", "Params")]
        for i, layer in enumerate(self.layers):
            out = f"(batch, {layer.out_features})" if layer.built else "?"
            rows.append(
                (str(i), _short_repr(layer), out, f"{layer.n_params:,}" if layer.built else "?")
            )
        widths = [max(len(r[c]) for r in rows) for c in range(4)]
        line = "  ".join("-" * w for w in widths)
        fmt = lambda r: "  ".join(  # noqa: E731
            r[c].rjust(widths[c]) if c in (0, 3) else r[c].ljust(widths[c]) for c in range(4)
        )
        body = [fmt(rows[0]), line, *map(fmt, rows[1:]), line]
        if self.built:
            body.append(
                f"Input: (batch, {self.in_features})   Total params: {self.n_params:,}   "
                f"dtype: {dtype_name(self.dtype)}"
            )
        else:
            body.append("Not built: call build(in_features, rng=...)")
        return "\n".join(body)

    def __repr__(self) -> str:
        return f"Sequential([{', '.join(map(repr, self.layers))}])"

    __str__ = summary


def _constructor_defaults(cls: type) -> dict[str, Any]:
    """Every named constructor argument of ``cls`` with its default (``inspect.Parameter.empty``
    when required); a constructor that passes ``**kwargs`` up adds its base's arguments, one
    that takes none of them (``Identity()`` over ``Activation(activation)``) ends the walk."""
    defaults: dict[str, Any] = {}
    for klass in cls.__mro__:
        if "__init__" not in vars(klass) or klass is object:
            continue
        parameters = inspect.signature(vars(klass)["__init__"]).parameters.values()
        for p in parameters:
            if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                defaults.setdefault(p.name, p.default)
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    return defaults


def _same(a: Any, b: Any) -> bool:
    """Equal as configured values: numbers by value (a default ``1`` stored as ``1.0``), bools
    only as bools."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return a == b


def layer_arguments(layer: Layer) -> tuple[list[Any], dict[str, Any]]:
    """``(required, changed)``: the values of the layer's required constructor arguments, and
    the other configured arguments whose values differ from their defaults.

    An argument is at its default when it equals the signature's default (numbers by value) or
    what the constructor stores when the argument is left out, all else kept: this catches
    defaults stored after conversion (``PReLU(alpha_initializer=None)`` stores a constant-0.25
    initializer) and defaults without a named parameter (``Activation("elu")`` stores ELU's
    ``alpha=1.0``)."""
    config, defaults = layer.get_config(), _constructor_defaults(type(layer))
    empty, missing = inspect.Parameter.empty, object()
    required = {k: v for k, v in config.items() if defaults.get(k, 0) is empty}

    def left_out(key: str) -> Any:
        try:
            rest = {k: v for k, v in config.items() if k != key}
            return type(layer)(**rest).get_config().get(key, missing)
        except Exception:  # a layer that cannot be built without it: the signature decides
            return missing

    changed = {
        k: v
        for k, v in config.items()
        if k not in required and not (_same(v, defaults.get(k, missing)) or _same(v, left_out(k)))
    }
    return list(required.values()), changed


def _short_repr(layer: Layer, width: int = 44) -> str:
    """The layer's required arguments and its changed ones, as many as fit in ``width``, then
    ``...``: ``Dense(64, kernel_initializer='he_normal')``, ``Dense(64, ...)``, ``BatchNorm()``."""
    required, changed = layer_arguments(layer)
    positional = [repr(v) for v in required]
    keywords = [f"{k}={v!r}" for k, v in changed.items()]
    label = lambda args: f"{layer.name}({', '.join(args)})"  # noqa: E731
    candidates = [positional + keywords] + [
        positional + keywords[:k] + ["..."] for k in reversed(range(len(keywords)))
    ]
    return next(
        (label(args) for args in candidates if len(label(args)) <= width), f"{layer.name}(...)"
    )
