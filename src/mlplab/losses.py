"""Losses: ``value_and_grad(y_pred, y_true) -> (mean loss, dL/dy_pred)`` and one registry.

The loss owns the batch mean: the gradient it returns already carries the ``1/batch`` (or
``1/(batch * outputs)``) factor, so layers never divide. Classification losses take logits:
softmax + cross-entropy and sigmoid + binary cross-entropy are fused, which is both stable and
gives the classic ``delta = p - t``. Values are 0-d arrays (no host sync per step).
"""

from __future__ import annotations

from typing import Any

from ._registry import Registry, build_from_spec
from ._typing import Array
from .activations import log_softmax, sigmoid, softplus
from .activations import softmax as xp_softmax
from .backend import all_finite, get_namespace
from .errors import check_float

LOSSES: Registry[type] = Registry("loss")


#: class decorator: register a loss under its class name and ``aliases``
register_loss = LOSSES.register_class


#: what a loss's outputs predict; it decides the labels that accuracy compares
#: (binary classification is "multilabel" with one output)
TASKS = (
    "regression",  # real values
    "multiclass",  # one class per example: argmax of the outputs
    "multilabel",  # 0/1 per output: output > 0, target > 0.5
    "signed_multilabel",
)  # -1/+1 per output: output > 0, target > 0


class Loss:
    """Base class. Subclasses implement ``_targets`` (validation) and ``_value_and_grad``.

    Two entry points: :meth:`value_and_grad` checks its inputs every call; the training hot
    path checks a data set's targets once with :meth:`targets` and then calls
    ``value_and_grad(out, t, check=False)`` on each batch of them, which checks nothing.
    """

    #: one of :data:`TASKS`
    task = "regression"

    @property
    def name(self) -> str:
        return type(self).__name__

    def targets(self, y_true: Any, shape: tuple[int, int], *, dtype: Any, xp: Any) -> Array:
        """``y_true`` checked against predictions of ``shape`` ``(batch, outputs)`` and
        ``dtype``, and converted to the form ``value_and_grad(..., check=False)`` takes:
        class labels become one-hot rows, real targets ``(batch, outputs)`` of ``dtype``.
        Call it once per data set; rows of the result are the targets of a batch's rows."""
        self._check_not_empty(shape)
        return self._targets(xp, y_true, tuple(shape), dtype)

    def _targets(self, xp: Any, y_true: Any, shape: tuple[int, ...], dtype: Any) -> Array:
        """``y_true`` checked and converted for predictions of ``shape`` (subclasses)."""
        raise NotImplementedError(
            f"{self.name}: a Loss subclass implements _targets(xp, y_true, "
            "shape, dtype), the checked targets"
        )

    def _value_and_grad(self, xp: Any, y_pred: Array, t: Array, w: Any) -> tuple[Array, Array]:
        """(mean loss, dL/dy_pred) of prepared targets ``t``, rows weighted by ``w``
        (subclasses)."""
        raise NotImplementedError(
            f"{self.name}: a Loss subclass implements _value_and_grad(xp, "
            "y_pred, t, w), the loss and its gradient"
        )

    def validate_targets(self, y_true: Any, y_pred_like: Array) -> Array:
        """:meth:`targets` for predictions shaped like ``y_pred_like`` (checked too)."""
        self._check_pred(y_pred_like)
        return self.targets(
            y_true, tuple(y_pred_like.shape), dtype=y_pred_like.dtype, xp=get_namespace(y_pred_like)
        )

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

    def value_and_grad(
        self, y_pred: Array, y_true: Any, sample_weight: Any = None, *, check: bool = True
    ) -> tuple[Array, Array]:
        """Mean loss over the batch (0-d array) and dL/dy_pred, shaped like ``y_pred``.

        With ``sample_weight`` (non-negative, one per row) the loss is sum_n w_n l_n / N, as
        Keras weights a batch: the weights scale each row's share of the mean (normalize them to
        mean 1 over the data set and the full-batch loss is the weighted average).

        ``check=False`` is the training hot path: ``y_true`` must come from :meth:`targets`
        and ``sample_weight`` be a checked array of ``y_pred``'s dtype; nothing is validated
        (no host synchronisation, no one-hot per batch).
        """
        xp = get_namespace(y_pred)
        if not check:
            return self._value_and_grad(
                xp, y_pred, y_true, _row_factor(xp, y_pred.shape[0], sample_weight)
            )
        self._check_pred(y_pred)
        t = self._targets(xp, y_true, tuple(y_pred.shape), y_pred.dtype)
        return self._value_and_grad(xp, y_pred, t, self.row_weights(xp, y_pred, sample_weight))

    def row_weights(self, xp, y_pred: Array, sample_weight: Any = None):
        """The factor each row's loss gets in the batch mean: 1/N, or a column ``(N, 1)`` of
        w_n / N (checked: one finite, non-negative weight per row)."""
        n = y_pred.shape[0]
        if sample_weight is None:
            return _row_factor(xp, n, None)
        w = self._as_array(xp, sample_weight)
        if w.ndim != 1 or w.shape[0] != n:
            raise ValueError(
                f"{self.name}: sample_weight must have shape ({n},), got {tuple(w.shape)}"
            )
        w = xp.astype(w, y_pred.dtype)
        if not all_finite(xp, w) or bool(xp.any(w < 0)):
            raise ValueError(f"{self.name}: sample_weight must be finite and >= 0")
        return _row_factor(xp, n, w)

    def __call__(self, y_pred: Array, y_true: Any) -> Array:
        return self.value_and_grad(y_pred, y_true)[0]

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        return cls(**config)

    def __repr__(self) -> str:
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"

    # -- validation helpers ------------------------------------------------------------------
    def _check_pred(self, y_pred: Array) -> None:
        shape = getattr(y_pred, "shape", None)
        if shape is None or len(shape) != 2:
            raise ValueError(
                f"{self.name}: y_pred must be 2-D (batch, outputs), got "
                f"{tuple(shape) if shape is not None else type(y_pred).__name__}"
            )
        self._check_not_empty(shape)

    def _check_not_empty(self, shape) -> None:
        if shape[0] == 0:  # the mean over no rows is 0/0
            raise ValueError(
                f"{self.name}: the batch is empty (predictions of shape "
                f"{tuple(shape)}): a mean loss needs at least one example"
            )

    def _as_array(self, xp, y: Any) -> Array:
        if not hasattr(y, "shape") or get_namespace(y) is not xp:
            y = xp.asarray(y)
        if not (xp.isdtype(y.dtype, "numeric") or xp.isdtype(y.dtype, "bool")):
            raise TypeError(f"{self.name}: y_true must be numeric, got dtype {y.dtype}")
        return y

    def _real_targets(self, xp, y_true: Any, shape: tuple, dtype: Any) -> Array:
        """Targets of ``shape`` ((batch,) accepted for one output), cast to ``dtype``."""
        y = self._as_array(xp, y_true)
        if y.ndim == 1 and shape[1] == 1:
            y = xp.reshape(y, (-1, 1))
        if tuple(y.shape) != shape:
            raise ValueError(
                f"{self.name}: y_true must have the shape of y_pred {shape}, got {tuple(y.shape)}"
            )
        if y.dtype != dtype:
            y = xp.astype(y, dtype)
        if not all_finite(xp, y):
            raise ValueError(f"{self.name}: y_true contains NaN or inf")
        return y

    def _class_targets(self, xp, y_true: Any, shape: tuple, dtype: Any, *, soft: bool) -> Array:
        """Integer labels (batch,) -> one-hot; (batch, C) one-hot (or soft if allowed) as is."""
        y = self._as_array(xp, y_true)
        n, c = shape
        if y.ndim == 1:
            if not xp.isdtype(y.dtype, "integral"):
                raise TypeError(
                    f"{self.name}: 1-D y_true must hold integer class labels in "
                    f"[0, {c}), got dtype {y.dtype}; pass one-hot targets as "
                    f"shape (batch, {c})"
                )
            if y.shape[0] != n:
                raise ValueError(f"{self.name}: y_true has {y.shape[0]} labels for {n} predictions")
            lo, hi = int(xp.min(y)), int(xp.max(y))
            if lo < 0 or hi >= c:
                raise ValueError(
                    f"{self.name}: class labels must be in [0, {c}) for {c} outputs, "
                    f"got labels in [{lo}, {hi}]"
                )
            return one_hot(xp, y, c, dtype)
        if tuple(y.shape) != (n, c):
            raise ValueError(
                f"{self.name}: y_true must be integer labels of shape ({n},) or "
                f"targets of shape ({n}, {c}), got shape {tuple(y.shape)}"
            )
        t = xp.astype(y, dtype)
        if not all_finite(xp, t):
            raise ValueError(f"{self.name}: y_true contains NaN or inf")
        if bool(xp.any(t < 0)) or bool(xp.any(t > 1)):
            raise ValueError(f"{self.name}: targets must be probabilities in [0, 1]")
        tol = 1e-4 if t.dtype == xp.float32 else 1e-8
        if bool(xp.any(xp.abs(xp.sum(t, axis=1) - 1.0) > tol)):
            raise ValueError(
                f"{self.name}: each row of y_true must sum to 1 (one-hot or a "
                "probability distribution)"
            )
        if not soft and bool(xp.any((t != 0) & (t != 1))):
            raise ValueError(f"{self.name}: targets of shape (batch, C) must be one-hot (0/1)")
        return t


def _row_factor(xp, n: int, sample_weight: Any):
    """1/N (a Python float), or the column ``(N, 1)`` of w_n / N for weights ``w``."""
    if sample_weight is None:
        return 1.0 / n
    return xp.reshape(sample_weight, (n, 1)) * (1.0 / n)


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

    def _targets(self, xp, y_true, shape, dtype):
        return self._real_targets(xp, y_true, shape, dtype)

    def _value_and_grad(self, xp, y_pred, y, w):
        diff = y_pred - y
        c = (1.0 if self.half else 2.0) / diff.shape[1]
        return _weighted_sum(xp, diff * diff, w) * (c / 2.0), diff * (w * c)

    def get_config(self):
        return {"half": self.half}


@register_loss("mae", "mean_absolute_error", "absolute_error")
class MeanAbsoluteError(Loss):
    """L = 1/(N K) sum_nk |y_pred - y|; dL/dy_pred = sign(y_pred - y) / (N K) (0 at a tie)."""

    def _targets(self, xp, y_true, shape, dtype):
        return self._real_targets(xp, y_true, shape, dtype)

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

    def _targets(self, xp, y_true, shape, dtype):
        return self._real_targets(xp, y_true, shape, dtype)

    def _value_and_grad(self, xp, y_pred, y, w):
        r = y_pred - y
        a = xp.abs(r)
        d = self.delta
        k = r.shape[1]
        h = xp.where(a <= d, 0.5 * r * r, d * (a - 0.5 * d))
        return _weighted_sum(xp, h, w) / k, xp.clip(r, min=-d, max=d) * (w / k)

    def get_config(self):
        return {"delta": self.delta}


# --- classification on logits ---------------------------------------------------------------


@register_loss("cross_entropy", "softmax_cross_entropy", "categorical_cross_entropy", "log_loss")
class SoftmaxCrossEntropy(Loss):
    """Softmax + cross-entropy on logits z: L = -1/N sum_n sum_k t_nk log softmax(z_n)_k.

    ``y_true`` is integer labels ``(batch,)``, one-hot or soft targets ``(batch, C)`` (rows sum
    to 1). Fused backward: ``dL/dz = (softmax(z) - t) / N``; log-softmax is max-shifted.
    """

    task = "multiclass"

    def _targets(self, xp, y_true, shape, dtype):
        return self._class_targets(xp, y_true, shape, dtype, soft=True)

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

    def _targets(self, xp, y_true, shape, dtype):
        t = self._real_targets(xp, y_true, shape, dtype)
        if bool(xp.any(t < 0)) or bool(xp.any(t > 1)):
            raise ValueError(
                f"{self.name}: targets must be in [0, 1] (0/1 labels or probabilities)"
            )
        return t

    def _value_and_grad(self, xp, z, t, w):
        k = z.shape[1]
        return _weighted_sum(xp, softplus(z) - t * z, w) / k, (sigmoid(z) - t) * (w / k)


class _MarginLoss(Loss):
    """The hinge losses' configuration: a positive ``margin``, and whether the terms are
    ``squared``."""

    def __init__(self, margin: float = 1.0, squared: bool = False):
        self.margin = check_float(self.name, "margin", margin, low=0.0, low_inclusive=False)
        if not isinstance(squared, bool):
            raise TypeError(f"{self.name}: squared must be a bool, got {squared=!r}")
        self.squared = squared

    def get_config(self):
        return {"margin": self.margin, "squared": self.squared}


@register_loss("hinge", "multiclass_hinge", "multi_margin")
class MulticlassHinge(_MarginLoss):
    """Weston-Watkins multiclass SVM loss on scores s:

    L = 1/N sum_n sum_{j != y_n} max(0, s_nj - s_ny + margin)
    (``squared=True``: the terms squared)

    As in cs231n's notes: summed over classes, averaged over the batch. PyTorch's
    ``MultiMarginLoss`` also divides by the number of classes C.

    References: Weston & Watkins, "Support Vector Machines for Multi-Class Pattern Recognition"
    (1999).
    """

    task = "multiclass"

    def _targets(self, xp, y_true, shape, dtype):
        return self._class_targets(xp, y_true, shape, dtype, soft=False)

    def _value_and_grad(self, xp, s, t, w):
        s_true = xp.sum(s * t, axis=1, keepdims=True)
        margins = xp.maximum(s - s_true + self.margin, 0.0) * (1.0 - t)
        if self.squared:
            value, g = _weighted_sum(xp, margins * margins, w), 2.0 * margins
        else:
            value, g = _weighted_sum(xp, margins, w), xp.astype(margins > 0, s.dtype)
        # each violated margin pushes s_j up and s_y down
        return value, (g - t * xp.sum(g, axis=1, keepdims=True)) * w


@register_loss("squared_hinge")
class SquaredHinge(MulticlassHinge):
    """The squared Weston-Watkins loss: ``MulticlassHinge(squared=True)``."""

    def __init__(self, margin: float = 1.0):
        super().__init__(margin=margin, squared=True)

    def get_config(self):
        return {"margin": self.margin}


@register_loss("multilabel_hinge")
class MultilabelHinge(_MarginLoss):
    """One binary SVM per output, targets t in {-1, +1}:

    L = 1/(N K) sum_nk max(0, margin - t_nk s_nk)   (``squared=True``: the terms squared).
    """

    task = "signed_multilabel"  # targets -1/+1, predictions sign(s)

    def _targets(self, xp, y_true, shape, dtype):
        t = self._real_targets(xp, y_true, shape, dtype)
        if bool(xp.any((t != 1.0) & (t != -1.0))):
            raise ValueError(
                f"{self.name}: targets must be -1 or +1 (convert 0/1 labels with 2 * y - 1)"
            )
        return t

    def _value_and_grad(self, xp, s, t, w):
        scale = w / s.shape[1]
        m = xp.maximum(self.margin - t * s, 0.0)
        if self.squared:
            return _weighted_sum(xp, m * m, scale), (t * m) * (-2.0 * scale)
        return _weighted_sum(xp, m, scale), (t * xp.astype(m > 0, s.dtype)) * (-scale)


# --- log-probabilities ----------------------------------------------------------------------------


@register_loss("nll", "negative_log_likelihood")
class NegativeLogLikelihood(Loss):
    """Negative log-likelihood of log-probabilities: L = -1/N sum_n sum_k t_nk logp_nk.

    For outputs that already are log-probabilities, such as the :class:`HierarchicalSoftmax`
    output layer's (for logits use ``"cross_entropy"``, which fuses the softmax);
    dL/dlogp = -t / N. ``y_true`` as for :class:`SoftmaxCrossEntropy`: integer labels
    ``(batch,)``, one-hot or soft targets ``(batch, C)``. Same as PyTorch's ``NLLLoss``.
    """

    task = "multiclass"

    def _targets(self, xp, y_true, shape, dtype):
        return self._class_targets(xp, y_true, shape, dtype, soft=True)

    def predict(self, y_pred):
        """Class probabilities exp(logp)."""
        return get_namespace(y_pred).exp(y_pred)

    def _value_and_grad(self, xp, logp, t, w):
        return -_weighted_sum(xp, t * logp, w), t * -w


def get_loss(spec: Any) -> Loss:
    """A loss from an instance, a registered name (``"cross_entropy"``) or
    ``{"name", "config"}``."""
    return build_from_spec(
        LOSSES, spec, instance_of=Loss, factory=lambda cls, cfg: cls.from_config(cfg)
    )
