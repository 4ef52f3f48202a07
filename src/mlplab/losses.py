"""Losses: ``value_and_grad(y_pred, y_true) -> (mean loss, dL/dy_pred)`` and one registry.

The loss owns the batch mean: the gradient it returns already carries the ``1/batch`` (or
``1/(batch * outputs)``) factor, so layers never divide. Classification losses take logits:
softmax + cross-entropy and sigmoid + binary cross-entropy are fused, which is both stable and
gives the classic ``delta = p - t``. Values are 0-d arrays (no host sync per step).
"""
from __future__ import annotations

import heapq
from types import MappingProxyType
from typing import Any

import numpy as np

from ._registry import Registry, build_from_spec
from ._typing import Array
from .activations import log_softmax, sigmoid, softplus
from .activations import softmax as xp_softmax
from .backend import all_finite, get_namespace, resolve_dtype
from .errors import NotBuiltError, check_choice, check_float, check_generator, check_positive_int
from .initializers import get_initializer, serialize_initializer

LOSSES: Registry[type] = Registry("loss")


#: class decorator: register a loss under its class name and ``aliases``
register_loss = LOSSES.register_class


class Loss:
    """Base class. Subclasses implement ``_targets`` (validation) and ``_value_and_grad``."""

    params: dict[str, Array] = MappingProxyType({})  # type: ignore[assignment]
    grads: dict[str, Array] = MappingProxyType({})  # type: ignore[assignment]
    #: "regression", "multiclass" or "multilabel" (binary is multilabel with one output)
    task = "regression"

    @property
    def name(self) -> str:
        return type(self).__name__

    def validate_targets(self, y_true: Any, y_pred_like: Array) -> Array:
        """Check ``y_true`` against outputs shaped like ``y_pred_like`` (whole data set, once)."""
        xp = get_namespace(y_pred_like)
        self._check_pred(y_pred_like)
        self._targets(xp, y_pred_like, y_true)
        return self._as_array(xp, y_true)

    def predict(self, y_pred: Array) -> Array:
        """What the model's outputs mean: values (regression), probabilities or scores."""
        return y_pred

    def predicted_labels(self, y_pred: Array) -> Array:
        """Class labels (multiclass: argmax) or 0/1 per output (multilabel: score > 0)."""
        xp = get_namespace(y_pred)
        if self.task == "multiclass":
            return xp.argmax(y_pred, axis=1)
        return xp.astype(y_pred > 0, xp.int64)

    def target_labels(self, y_true: Array) -> Array:
        """``y_true`` in the form :meth:`predicted_labels` returns."""
        xp = get_namespace(y_true)
        if self.task == "multiclass":
            return y_true if y_true.ndim == 1 else xp.argmax(y_true, axis=1)
        y = xp.reshape(y_true, (y_true.shape[0], -1))
        return xp.astype(y > 0.5 if self.task == "multilabel" else y > 0, xp.int64)

    def value_and_grad(self, y_pred: Array, y_true: Any,
                       sample_weight: Any = None) -> tuple[Array, Array]:
        """Mean loss over the batch (0-d array) and dL/dy_pred, shaped like ``y_pred``.

        With ``sample_weight`` (non-negative, one per row) the loss is sum_n w_n l_n / N, as
        Keras weights a batch: the weights scale each row's share of the mean (normalize them to
        mean 1 over the data set and the full-batch loss is the weighted average).
        """
        xp = get_namespace(y_pred)
        self._check_pred(y_pred)
        t = self._targets(xp, y_pred, y_true)
        return self._value_and_grad(xp, y_pred, t, self.row_weights(xp, y_pred, sample_weight))

    def row_weights(self, xp, y_pred: Array, sample_weight: Any = None):
        """The factor each row's loss gets in the batch mean: 1/N, or a column ``(N, 1)`` of
        w_n / N (checked: one finite, non-negative weight per row)."""
        n = y_pred.shape[0]
        if sample_weight is None:
            return 1.0 / n
        w = self._as_array(xp, sample_weight)
        if w.ndim != 1 or w.shape[0] != n:
            raise ValueError(f"{self.name}: sample_weight must have shape ({n},), got "
                             f"{tuple(w.shape)}")
        w = xp.astype(w, y_pred.dtype)
        if not all_finite(xp, w) or bool(xp.any(w < 0)):
            raise ValueError(f"{self.name}: sample_weight must be finite and >= 0")
        return xp.reshape(w, (n, 1)) * (1.0 / n)

    def __call__(self, y_pred: Array, y_true: Any) -> Array:
        return self.value_and_grad(y_pred, y_true)[0]

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Loss":
        return cls(**config)

    def __repr__(self) -> str:
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"

    # -- validation helpers ------------------------------------------------------------------
    def _check_pred(self, y_pred: Array) -> None:
        shape = getattr(y_pred, "shape", None)
        if shape is None or len(shape) != 2:
            raise ValueError(f"{self.name}: y_pred must be 2-D (batch, outputs), got "
                             f"{tuple(shape) if shape is not None else type(y_pred).__name__}")
        self._check_not_empty(shape)

    def _check_not_empty(self, shape) -> None:
        if shape[0] == 0:  # the mean over no rows is 0/0
            raise ValueError(f"{self.name}: the batch is empty (predictions of shape "
                             f"{tuple(shape)}): a mean loss needs at least one example")

    def _as_array(self, xp, y: Any) -> Array:
        if not hasattr(y, "shape") or get_namespace(y) is not xp:
            y = xp.asarray(y)
        if not (xp.isdtype(y.dtype, "numeric") or xp.isdtype(y.dtype, "bool")):
            raise TypeError(f"{self.name}: y_true must be numeric, got dtype {y.dtype}")
        return y

    def _real_targets(self, xp, y_pred: Array, y_true: Any) -> Array:
        """Targets shaped like y_pred ((batch,) accepted for one output), cast to its dtype."""
        y = self._as_array(xp, y_true)
        if y.ndim == 1 and y_pred.shape[1] == 1:
            y = xp.reshape(y, (-1, 1))
        if tuple(y.shape) != tuple(y_pred.shape):
            raise ValueError(f"{self.name}: y_true must have the shape of y_pred "
                             f"{tuple(y_pred.shape)}, got {tuple(y.shape)}")
        if y.dtype != y_pred.dtype:
            y = xp.astype(y, y_pred.dtype)
        if not all_finite(xp, y):
            raise ValueError(f"{self.name}: y_true contains NaN or inf")
        return y

    def _class_targets(self, xp, y_pred: Array, y_true: Any, *, soft: bool) -> Array:
        """Integer labels (batch,) -> one-hot; (batch, C) one-hot (or soft if allowed) as is."""
        y = self._as_array(xp, y_true)
        n, c = y_pred.shape
        if y.ndim == 1:
            if not xp.isdtype(y.dtype, "integral"):
                raise TypeError(f"{self.name}: 1-D y_true must hold integer class labels in "
                                f"[0, {c}), got dtype {y.dtype}; pass one-hot targets as "
                                f"shape (batch, {c})")
            if y.shape[0] != n:
                raise ValueError(f"{self.name}: y_true has {y.shape[0]} labels for {n} predictions")
            lo, hi = int(xp.min(y)), int(xp.max(y))
            if lo < 0 or hi >= c:
                raise ValueError(f"{self.name}: class labels must be in [0, {c}) for {c} outputs, "
                                 f"got labels in [{lo}, {hi}]")
            return one_hot(xp, y, c, y_pred.dtype)
        if tuple(y.shape) != (n, c):
            raise ValueError(f"{self.name}: y_true must be integer labels of shape ({n},) or "
                             f"targets of shape ({n}, {c}), got shape {tuple(y.shape)}")
        t = xp.astype(y, y_pred.dtype)
        if not all_finite(xp, t):
            raise ValueError(f"{self.name}: y_true contains NaN or inf")
        if bool(xp.any(t < 0)) or bool(xp.any(t > 1)):
            raise ValueError(f"{self.name}: targets must be probabilities in [0, 1]")
        tol = 1e-4 if t.dtype == xp.float32 else 1e-8
        if bool(xp.any(xp.abs(xp.sum(t, axis=1) - 1.0) > tol)):
            raise ValueError(f"{self.name}: each row of y_true must sum to 1 (one-hot or a "
                             "probability distribution)")
        if not soft and bool(xp.any((t != 0) & (t != 1))):
            raise ValueError(f"{self.name}: targets of shape (batch, C) must be one-hot (0/1)")
        return t


def _weighted_sum(xp, a: Array, w) -> Array:
    """sum_n w_n sum_k a_nk for a row factor w: a Python float (1/N) or a column ``(N, 1)``."""
    return xp.sum(a) * w if isinstance(w, float) else xp.sum(a * w)


def one_hot(xp, labels: Array, n_classes: int, dtype: Any) -> Array:
    """t_nk = [labels_n == k] as a float array ``(batch, n_classes)``."""
    return xp.astype(labels[:, None] == xp.arange(n_classes)[None, :], dtype)


# --- regression -----------------------------------------------------------------------------------

@register_loss("mse", "mean_squared_error", "squared_error")
class MeanSquaredError(Loss):
    """L = 1/(2 N K) sum_nk (y_pred - y)^2, the mean over all N*K outputs, halved.

    The 1/2 is the classic convention (Ng, Nielsen, scikit-learn's MLP) that makes
    ``dL/dy_pred = (y_pred - y) / (N K)``. ``half=False`` gives PyTorch's and Keras' MSE.
    """

    def __init__(self, half: bool = True):
        if not isinstance(half, bool):
            raise TypeError(f"{self.name}: half must be a bool, got {half=!r}")
        self.half = half

    def _targets(self, xp, y_pred, y_true):
        return self._real_targets(xp, y_pred, y_true)

    def _value_and_grad(self, xp, y_pred, y, w):
        diff = y_pred - y
        c = (1.0 if self.half else 2.0) / diff.shape[1]
        return _weighted_sum(xp, diff * diff, w) * (c / 2.0), diff * (w * c)

    def get_config(self):
        return {"half": self.half}


@register_loss("mae", "mean_absolute_error", "absolute_error")
class MeanAbsoluteError(Loss):
    """L = 1/(N K) sum_nk |y_pred - y|; dL/dy_pred = sign(y_pred - y) / (N K) (0 at a tie)."""

    def _targets(self, xp, y_pred, y_true):
        return self._real_targets(xp, y_pred, y_true)

    def _value_and_grad(self, xp, y_pred, y, w):
        diff = y_pred - y
        k = diff.shape[1]
        return _weighted_sum(xp, xp.abs(diff), w) / k, xp.sign(diff) * (w / k)


@register_loss("huber")
class Huber(Loss):
    """L = mean_nk h(r), r = y_pred - y, h(r) = r^2/2 if |r| <= delta else delta (|r| - delta/2).

    Quadratic near 0, linear in the tails; dL/dy_pred = clip(r, -delta, delta) / (N K).
    Same convention as PyTorch's ``HuberLoss(delta)``.

    References: Huber, "Robust Estimation of a Location Parameter" (1964).
    """

    def __init__(self, delta: float = 1.0):
        self.delta = check_float(self.name, "delta", delta, low=0.0, low_inclusive=False)

    def _targets(self, xp, y_pred, y_true):
        return self._real_targets(xp, y_pred, y_true)

    def _value_and_grad(self, xp, y_pred, y, w):
        r = y_pred - y
        a = xp.abs(r)
        d = self.delta
        k = r.shape[1]
        h = xp.where(a <= d, 0.5 * r * r, d * (a - 0.5 * d))
        return _weighted_sum(xp, h, w) / k, xp.clip(r, min=-d, max=d) * (w / k)

    def get_config(self):
        return {"delta": self.delta}


# --- classification on logits -----------------------------------------------------------------------

@register_loss("cross_entropy", "softmax_cross_entropy", "categorical_cross_entropy", "log_loss")
class SoftmaxCrossEntropy(Loss):
    """Softmax + cross-entropy on logits z: L = -1/N sum_n sum_k t_nk log softmax(z_n)_k.

    ``y_true`` is integer labels ``(batch,)``, one-hot or soft targets ``(batch, C)`` (rows sum
    to 1). Fused backward: ``dL/dz = (softmax(z) - t) / N``; log-softmax is max-shifted.
    """

    task = "multiclass"

    def _targets(self, xp, y_pred, y_true):
        return self._class_targets(xp, y_pred, y_true, soft=True)

    def predict(self, y_pred):
        """Class probabilities softmax(z)."""
        return xp_softmax(y_pred)

    def _value_and_grad(self, xp, z, t, w):
        logp = log_softmax(z)
        return -_weighted_sum(xp, t * logp, w), (xp.exp(logp) - t) * w


@register_loss("bce", "binary_cross_entropy", "sigmoid_cross_entropy")
class SigmoidBinaryCrossEntropy(Loss):
    """Sigmoid + binary cross-entropy on logits, each of the K outputs its own binary problem.

    L = 1/(N K) sum_nk [softplus(z) - t z] (= -t log sigma(z) - (1-t) log(1 - sigma(z)), computed
    without overflow); dL/dz = (sigma(z) - t) / (N K). Binary: one output and ``y_true``
    ``(batch,)``; multi-label: K outputs and ``y_true`` ``(batch, K)``, targets in [0, 1].
    Same convention as PyTorch's ``BCEWithLogitsLoss``.
    """

    task = "multilabel"

    def predict(self, y_pred):
        """Probabilities sigma(z) per output."""
        return sigmoid(y_pred)

    def _targets(self, xp, y_pred, y_true):
        t = self._real_targets(xp, y_pred, y_true)
        if bool(xp.any(t < 0)) or bool(xp.any(t > 1)):
            raise ValueError(f"{self.name}: targets must be in [0, 1] (0/1 labels or "
                             "probabilities)")
        return t

    def _value_and_grad(self, xp, z, t, w):
        k = z.shape[1]
        return _weighted_sum(xp, softplus(z) - t * z, w) / k, (sigmoid(z) - t) * (w / k)


@register_loss("hinge", "multiclass_hinge", "multi_margin")
class MulticlassHinge(Loss):
    """Weston-Watkins multiclass SVM loss on scores s:

    L = 1/N sum_n sum_{j != y_n} max(0, s_nj - s_ny + margin)   (``squared=True``: the terms squared)

    As in cs231n's notes: summed over classes, averaged over the batch. PyTorch's
    ``MultiMarginLoss`` also divides by the number of classes C.

    References: Weston & Watkins, "Support Vector Machines for Multi-Class Pattern Recognition"
    (1999).
    """

    task = "multiclass"

    def __init__(self, margin: float = 1.0, squared: bool = False):
        self.margin = check_float(self.name, "margin", margin, low=0.0, low_inclusive=False)
        if not isinstance(squared, bool):
            raise TypeError(f"{self.name}: squared must be a bool, got {squared=!r}")
        self.squared = squared

    def _targets(self, xp, y_pred, y_true):
        return self._class_targets(xp, y_pred, y_true, soft=False)

    def _value_and_grad(self, xp, s, t, w):
        s_true = xp.sum(s * t, axis=1, keepdims=True)
        margins = xp.maximum(s - s_true + self.margin, 0.0) * (1.0 - t)
        if self.squared:
            value, g = _weighted_sum(xp, margins * margins, w), 2.0 * margins
        else:
            value, g = _weighted_sum(xp, margins, w), xp.astype(margins > 0, s.dtype)
        # each violated margin pushes s_j up and s_y down
        return value, (g - t * xp.sum(g, axis=1, keepdims=True)) * w

    def get_config(self):
        return {"margin": self.margin, "squared": self.squared}


@register_loss("squared_hinge")
class SquaredHinge(MulticlassHinge):
    """The squared Weston-Watkins loss: ``MulticlassHinge(squared=True)``."""

    def __init__(self, margin: float = 1.0):
        super().__init__(margin=margin, squared=True)

    def get_config(self):
        return {"margin": self.margin}


@register_loss("multilabel_hinge")
class MultilabelHinge(Loss):
    """One binary SVM per output, targets t in {-1, +1}:

    L = 1/(N K) sum_nk max(0, margin - t_nk s_nk)   (``squared=True``: the terms squared).
    """

    def __init__(self, margin: float = 1.0, squared: bool = False):
        self.margin = check_float(self.name, "margin", margin, low=0.0, low_inclusive=False)
        if not isinstance(squared, bool):
            raise TypeError(f"{self.name}: squared must be a bool, got {squared=!r}")
        self.squared = squared

    task = "signed_multilabel"  # targets -1/+1, predictions sign(s)

    def _targets(self, xp, y_pred, y_true):
        t = self._real_targets(xp, y_pred, y_true)
        if bool(xp.any((t != 1.0) & (t != -1.0))):
            raise ValueError(f"{self.name}: targets must be -1 or +1 (convert 0/1 labels with "
                             "2 * y - 1)")
        return t

    def _value_and_grad(self, xp, s, t, w):
        scale = w / s.shape[1]
        m = xp.maximum(self.margin - t * s, 0.0)
        if self.squared:
            return _weighted_sum(xp, m * m, scale), (t * m) * (-2.0 * scale)
        return _weighted_sum(xp, m, scale), (t * xp.astype(m > 0, s.dtype)) * (-scale)

    def get_config(self):
        return {"margin": self.margin, "squared": self.squared}


# --- hierarchical softmax ------------------------------------------------------------------------------

def class_tree(n_classes: int, class_counts: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Paths from the root to each class leaf of a binary tree with ``n_classes - 1`` inner nodes.

    Balanced when ``class_counts`` is None, else the Huffman tree of the counts (frequent classes
    get short paths). Returns ``(on_path, go_right)``, both ``(n_classes, n_classes - 1)``:
    ``on_path[c, j] = 1`` if inner node j is on class c's path, ``go_right[c, j] = 1`` if the
    path turns right there. Inner node 0 is the root.
    """
    if class_counts is None:
        def split(classes):
            if len(classes) == 1:
                return classes[0]
            half = (len(classes) + 1) // 2
            return (split(classes[:half]), split(classes[half:]))
        root = split(list(range(n_classes)))
    else:
        # ties broken by insertion order, so the tree is deterministic
        heap = [(float(c), i, i) for i, c in enumerate(class_counts)]
        heapq.heapify(heap)
        order = n_classes
        while len(heap) > 1:
            c1, _, a = heapq.heappop(heap)
            c2, _, b = heapq.heappop(heap)
            heapq.heappush(heap, (c1 + c2, order, (a, b)))
            order += 1
        root = heap[0][2]
    on_path = np.zeros((n_classes, n_classes - 1))
    go_right = np.zeros((n_classes, n_classes - 1))
    queue, next_id = [(root, [])], 0
    while queue:  # breadth first, so inner nodes are numbered from the root down
        node, path = queue.pop(0)
        if isinstance(node, tuple):
            j, next_id = next_id, next_id + 1
            queue += [(node[0], path + [(j, 0)]), (node[1], path + [(j, 1)])]
        else:
            for j, bit in path:
                on_path[node, j], go_right[node, j] = 1.0, bit
    return on_path, go_right


@register_loss()
class HierarchicalSoftmax(Loss):
    """Classes as leaves of a binary tree, a logistic decision at each inner node.

    With hidden features h ``(batch, d)`` and node logits ``z = h W + b`` (W of shape
    ``(d, C - 1)``), ``P(c | h) = prod_{j on path(c)} sigma(+-z_j)`` (+ where the path turns
    right) and ``L = -1/N sum_n log P(y_n | h_n) = 1/N sum_n sum_{j on path} softplus(z_j) - r_j z_j``
    with r_j = 1 for a right turn. The loss owns its node weights: ``build`` allocates them,
    ``params``/``grads`` expose them like a layer's, and ``value_and_grad`` returns dL/dh.

    Here every node's logit is computed with one GEMM (fast at the class counts of an MLP); the
    O(log C) saving of the original comes from evaluating path nodes only.

    Parameters
    ----------
    n_classes : int (>= 2)
    tree : "balanced" or "huffman" (the latter needs ``class_counts``)
    class_counts : sequence of n_classes positive numbers, for the Huffman tree

    References: Morin & Bengio, "Hierarchical Probabilistic Neural Network Language Model"
    (2005); Mikolov et al., "Distributed Representations of Words and Phrases" (2013).
    """

    task = "multiclass"

    def __init__(self, n_classes: int, tree: str = "balanced", class_counts: Any = None,
                 kernel_initializer: Any = "glorot_uniform"):
        self.n_classes = check_positive_int(self.name, "n_classes", n_classes, minimum=2)
        self.tree = check_choice(self.name, "tree", tree, ("balanced", "huffman"))
        if tree == "huffman":
            if class_counts is None:
                raise ValueError(f"{self.name}: tree='huffman' needs class_counts")
            counts = np.asarray(class_counts, dtype=float)
            if counts.shape != (self.n_classes,) or not np.all(np.isfinite(counts)) \
                    or np.any(counts <= 0):
                raise ValueError(f"{self.name}: class_counts must be {self.n_classes} positive "
                                 f"numbers, got {class_counts!r}")
            class_counts = counts.tolist()
        elif class_counts is not None:
            raise ValueError(f"{self.name}: class_counts is only used with tree='huffman'")
        self.class_counts = class_counts
        self.kernel_initializer = serialize_initializer(kernel_initializer)
        self.on_path, self.go_right = class_tree(self.n_classes, class_counts)
        self.built = False

    def build(self, in_features: int, *, rng: np.random.Generator, dtype: Any = "float32",
              xp: Any = np) -> int:
        """Allocate node weights W ``(in_features, C - 1)`` and b ``(C - 1,)``."""
        check_positive_int(self.name, "in_features", in_features)
        check_generator(self.name, rng)
        dt = resolve_dtype(xp, dtype, self.name)
        W = get_initializer(self.kernel_initializer)((in_features, self.n_classes - 1),
                                                     rng=rng, dtype=dtype, xp=xp)
        self.params = {"W": W, "b": xp.zeros((self.n_classes - 1,), dtype=dt)}
        self.grads = {}
        self._on_path = xp.asarray(self.on_path, dtype=dt)
        self._go_right = xp.asarray(self.go_right, dtype=dt)
        self.in_features, self.built = int(in_features), True
        return self.n_classes

    def _check_pred(self, h):
        if not self.built:
            raise NotBuiltError(f"{self.name}: call build(in_features, rng=...) first")
        shape = getattr(h, "shape", None)
        if shape is None or len(shape) != 2 or shape[1] != self.in_features:
            raise ValueError(f"{self.name}: expected hidden features of shape "
                             f"(batch, {self.in_features}), got {shape}")
        self._check_not_empty(shape)

    def _targets(self, xp, h, y_true):
        y = self._as_array(xp, y_true)
        if y.ndim != 1 or not xp.isdtype(y.dtype, "integral"):
            raise TypeError(f"{self.name}: y_true must be integer class labels (batch,), got "
                            f"shape {tuple(y.shape)} dtype {y.dtype}")
        if y.shape[0] != h.shape[0]:
            raise ValueError(f"{self.name}: y_true has {y.shape[0]} labels for {h.shape[0]} rows")
        lo, hi = int(xp.min(y)), int(xp.max(y))
        if lo < 0 or hi >= self.n_classes:
            raise ValueError(f"{self.name}: class labels must be in [0, {self.n_classes}), got "
                             f"labels in [{lo}, {hi}]")
        return y

    def _value_and_grad(self, xp, h, y, w):
        W, b = self.params["W"], self.params["b"]
        z = h @ W + b
        on = xp.take(self._on_path, y, axis=0)
        right = xp.take(self._go_right, y, axis=0)
        value = _weighted_sum(xp, on * (softplus(z) - right * z), w)
        dz = on * (sigmoid(z) - right) * w
        self.grads["W"] = h.T @ dz
        self.grads["b"] = xp.sum(dz, axis=0)
        return value, dz @ W.T

    def predict(self, h: Array) -> Array:
        return self.predict_proba(h)

    def predicted_labels(self, h: Array) -> Array:
        return get_namespace(h).argmax(self.predict_proba(h), axis=1)

    def predict_proba(self, h: Array) -> Array:
        """P(c | h) for every class, ``(batch, C)``; rows sum to 1."""
        self._check_pred(h)
        xp = get_namespace(h)
        z = h @ self.params["W"] + self.params["b"]
        # log sigma(z) = -softplus(-z), log sigma(-z) = -softplus(z)
        log_p = -(softplus(-z) @ (self._on_path * self._go_right).T
                  + softplus(z) @ (self._on_path * (1.0 - self._go_right)).T)
        return xp.exp(log_p)

    def get_config(self):
        return {"n_classes": self.n_classes, "tree": self.tree, "class_counts": self.class_counts,
                "kernel_initializer": self.kernel_initializer}


def get_loss(spec: Any) -> Loss:
    """A loss from an instance, a registered name (``"cross_entropy"``) or ``{"name", "config"}``."""
    return build_from_spec(LOSSES, spec, instance_of=Loss,
                           factory=lambda cls, cfg: cls.from_config(cfg))
