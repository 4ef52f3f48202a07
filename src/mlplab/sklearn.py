"""scikit-learn estimators on the mlplab engine: ``MLPClassifier`` and ``MLPRegressor`` (level 4).

Drop-in for scikit-learn's MLP: every parameter that scikit-learn's MLP has keeps its name,
default and meaning; ours are added (dropout, BatchNorm, initializers, any optimizer, L1,
max-norm, clipping, losses, schedules, float32, class weights). ``__init__`` only stores; ``fit``
validates (scikit-learn's parameter constraints) and builds the engine objects; fitted
attributes end in ``_``.

Conventions carried over from scikit-learn: ``alpha`` is the L2 penalty ``alpha / (2 m)
||W||^2`` added to the mean loss of a batch of m examples (so our ``L2`` gets ``alpha /
batch_size``, or ``alpha / n`` for full-batch solvers); ``solver="sgd"`` uses ``momentum`` and
``nesterovs_momentum``; convergence is "the training loss (or, with ``early_stopping``, the
validation score) improved by less than ``tol`` for ``n_iter_no_change`` epochs".
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import os
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from .activations import ACTIVATIONS, log_softmax, sigmoid, softmax, softplus
from .data.split import sklearn_seed
from .initializers import INITIALIZERS
from .layers import Activation, BatchNorm, Dense, Dropout
from .losses import get_loss
from .network import Sequential
from .optim import OPTIMIZERS, Solver, get_optimizer, get_schedule
from .regularizers import L1, L2, MaxNorm
from .train import Callback, EarlyStopping, ProgressBar, Trainer, TrainingDiverged, read_checkpoint

# scikit-learn's words when a fit ends with NaN or inf weights; our message continues it
NON_FINITE = (
    "Solver produced non-finite parameter weights. The input data may contain large "
    "values and need to be preprocessed."
)

# scikit-learn's optimizer parameters: parameter -> (our optimizer's config key, the solvers
# scikit-learn uses it for; None: every mini-batch optimizer). A solver takes a key only if its
# factory has that argument; every other hyperparameter comes from ``solver_params``.
_SOLVER_PARAMETERS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "learning_rate_init": ("learning_rate", None),
    "beta_1": ("b1", ("adam",)),
    "beta_2": ("b2", ("adam",)),
    "epsilon": ("eps", ("adam",)),
    "momentum": ("mu", ("sgd",)),
    "tol": ("gtol", ("lbfgs",)),
    "max_fun": ("max_fun", ("lbfgs",)),
}


class _ConvergenceStop(EarlyStopping):
    """scikit-learn's stopping rule: no improvement by ``tol`` for ``n_iter_no_change`` epochs.

    With ``restore_best`` the weights at the start of the fit are the best until an epoch
    scores better (scikit-learn's ``_best_coefs``), so a fit whose every validation score is
    NaN (diverged from the first epoch) ends with the starting weights, not NaN ones."""

    def on_train_begin(self, trainer):
        super().on_train_begin(trainer)
        if self.restore_best:
            self.best_state = trainer.get_state()

    def _out_of_patience(self) -> bool:
        # scikit-learn stops once the count exceeds n_iter_no_change (Keras: reaches patience)
        return self.wait > self.patience


class _ValidationScore(Callback):
    """The estimator's own ``score`` on the validation set after each epoch (accuracy, or R^2
    for regressors, as scikit-learn's ``validation_scores_``), logged as ``val_score``."""

    log_keys = ("val_score",)

    def __init__(self, estimator, X, y):
        self.estimator, self.X, self.y = estimator, X, y
        self.scores: list[float] = []

    def on_epoch_end(self, epoch, logs):
        logs["val_score"] = self.estimator._validation_score(self.X, self.y)
        self.scores.append(logs["val_score"])


def _quiet_overflow(fit):
    """NumPy's overflow and invalid-value warnings are silenced while fitting: a diverging fit
    ends in the estimator's own error (or, with early stopping, in the best weights), which
    says what happened and what to do, instead of one warning per overflowing operation."""

    @functools.wraps(fit)
    def wrapped(*args, **kwargs):
        with np.errstate(over="ignore", invalid="ignore"):
            return fit(*args, **kwargs)

    return wrapped


def _py(value):
    """A NumPy scalar parameter (``np.float32(0.01)``, ``np.int64(5)``) as the Python number it
    holds: the engine's checks take Python numbers, and under NumPy 2 a float64 scalar times a
    float32 array is float64, which would leave the float32 path silently."""
    return value.item() if isinstance(value, np.generic) else value


def _full_batch(solver: Any) -> bool:
    """Whether ``solver`` (a registered name or an optimizer) is a full-batch :class:`Solver`
    (``lbfgs``, ``newton``): one step per epoch on all the data, where a mini-batch optimizer
    (a Transform) takes one per batch."""
    if isinstance(solver, str):
        solver = get_optimizer(solver) if solver in OPTIMIZERS else None
    return isinstance(solver, Solver)


def _incremental_solver(estimator) -> bool:
    """partial_fit exists for mini-batch optimizers, not for the full-batch solvers (as
    scikit-learn's MLP has none for lbfgs), whether named now or used by the fitted model."""
    if _full_batch(estimator.solver):
        raise AttributeError(f"partial_fit is not available for solver={estimator.solver!r}")
    if _full_batch(getattr(estimator, "optimizer_", None)):  # solver changed by set_params
        raise AttributeError(
            f"partial_fit is not available: the model was fitted by a "
            f"full-batch solver, not solver={estimator.solver!r}; fit it first"
        )
    return True


class _MLPBase(BaseEstimator):
    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "activation": [StrOptions((set(ACTIVATIONS.names()) - {"softmax"}) | {"logistic"})],
        "solver": [StrOptions(set(OPTIMIZERS.names()))],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(numbers.Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_fun": [Interval(numbers.Integral, 1, None, closed="left")],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left"), "array-like"],
        "batch_norm": ["boolean"],
        "weight_init": [StrOptions(set(INITIALIZERS.names()) | {"auto"}), dict],
        "solver_params": [dict, None],
        "l1": [Interval(numbers.Real, 0, None, closed="left")],
        "max_norm": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "clip_norm": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "lr_schedule": [str, dict, None],
        "dtype": [StrOptions({"float32", "float64"})],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate_init=0.001,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout=0.0,
        batch_norm=False,
        weight_init="auto",
        solver_params=None,
        l1=0.0,
        max_norm=None,
        clip_norm=None,
        loss=None,
        lr_schedule=None,
        dtype="float32",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.weight_init = weight_init
        self.solver_params = solver_params
        self.l1 = l1
        self.max_norm = max_norm
        self.clip_norm = clip_norm
        self.loss = loss
        self.lr_schedule = lr_schedule
        self.dtype = dtype

    # -- what subclasses define -------------------------------------------------------------
    def _encode_targets(self, y, *, first: bool, classes=None):
        """(targets for the engine loss, number of outputs) and set the target attributes."""
        raise NotImplementedError

    def _make_loss(self):
        raise NotImplementedError

    # -- building ---------------------------------------------------------------------------
    def _sizes(self) -> tuple[int, ...]:
        h = self.hidden_layer_sizes
        sizes = (h,) if isinstance(h, numbers.Integral) else tuple(h)
        if not all(isinstance(s, numbers.Integral) and int(s) >= 1 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive ints, got {h!r}")
        return tuple(int(s) for s in sizes)

    def _dropouts(self, n_hidden: int) -> list[float]:
        d = self.dropout
        rates = [float(d)] * n_hidden if isinstance(d, numbers.Real) else [float(r) for r in d]
        if len(rates) != n_hidden or not all(0.0 <= r < 1.0 for r in rates):
            raise ValueError(
                f"dropout must be a rate in [0, 1) or one per hidden layer ({n_hidden}), got {d!r}"
            )
        return rates

    def _build_model(self, n_features: int, n_outputs: int, rng) -> Sequential:
        act = "sigmoid" if self.activation == "logistic" else self.activation
        init = self.weight_init
        if init == "auto":  # scikit-learn's MLP draws Glorot-uniform weights for every activation
            init = "glorot_uniform"
        layers: list = []
        sizes = self._sizes()
        for units, rate in zip(sizes, self._dropouts(len(sizes))):
            layers.append(Dense(units, kernel_initializer=init))
            if self.batch_norm:
                layers.append(BatchNorm())
            layers.append(Activation(act))
            if rate > 0:
                layers.append(Dropout(rate))
        layers.append(Dense(n_outputs, kernel_initializer="glorot_uniform"))
        model = Sequential(layers)
        model.build(n_features, rng=rng, dtype=self.dtype)
        return model

    def _optimizer(self, incremental: bool = False):
        """scikit-learn's solver parameters as an mlplab optimizer, built by name through the
        registry: each parameter goes to the solvers it is for (``_SOLVER_PARAMETERS``) and
        ``solver_params`` adds or overrides the optimizer's own hyperparameters."""
        name = self.solver
        if name == "sgd" and self.momentum > 0:  # scikit-learn's sgd has momentum built in
            name = "nesterov" if self.nesterovs_momentum else "momentum"
        takes = inspect.signature(OPTIMIZERS.get(name)).parameters
        mini_batch = not _full_batch(self.solver)
        config = {
            key: _py(getattr(self, param))
            for param, (key, solvers) in _SOLVER_PARAMETERS.items()
            if key in takes and (self.solver in solvers if solvers else mini_batch)
        }
        if "learning_rate" in config:
            config["learning_rate"] = self._learning_rate(incremental)
        return get_optimizer({"name": name, "config": {**config, **(self.solver_params or {})}})

    def _learning_rate(self, incremental: bool) -> Any:
        """``learning_rate_init``, or the schedule ``lr_schedule`` starting from it."""
        if self.lr_schedule is None:
            return _py(self.learning_rate_init)
        try:  # the schedule starts at learning_rate_init unless its config says otherwise
            lr = get_schedule(
                self.lr_schedule, defaults={"learning_rate": _py(self.learning_rate_init)}
            )
        except (TypeError, ValueError) as e:
            raise type(e)(f"lr_schedule={self.lr_schedule!r}: {e}") from None
        if incremental and lr.decays_over_the_fit():
            raise ValueError(
                f"lr_schedule={self.lr_schedule!r} decays over the length of the fit, which "
                "partial_fit (one epoch per call) does not know: give its length in the "
                "config, e.g. {'name': 'cosine_decay', 'config': {'decay_steps': 30, "
                "'unit': 'epoch'}}"
            )
        return lr

    def _batch(self, n: int) -> int | None:
        if isinstance(self.optimizer_, Solver):
            return None
        if self.batch_size == "auto":
            return min(200, n)
        batch_size = _py(self.batch_size)
        if batch_size > n:
            warnings.warn(
                f"Got batch_size={batch_size} larger than the {n} training "
                "examples; using all of them",
                UserWarning,
                stacklevel=2,
            )
        return min(batch_size, n)

    def _initialize(
        self, X, n_outputs: int, n_examples: int | None = None, *, incremental: bool = False
    ) -> None:
        rng = np.random.default_rng(
            sklearn_seed(np.random.default_rng(self.random_state))
            if not isinstance(self.random_state, np.random.RandomState)
            else self.random_state.randint(0, 2**31 - 1)
        )
        self._rng = rng
        self.optimizer_ = self._optimizer(incremental)
        self.model_ = self._build_model(X.shape[1], n_outputs, rng.spawn(1)[0])
        self._n_examples = X.shape[0] if n_examples is None else n_examples
        self.n_outputs_ = n_outputs
        self.n_iter_, self.t_ = 0, 0
        self.loss_curve_: list[float] = []
        self.best_loss_ = np.inf
        self.validation_scores_: list[float] | None = None
        self.validation_loss_curve_: list[float] | None = None
        self.best_validation_score_: float | None = None
        self.trainer_ = self._make_trainer(rng.spawn(1)[0])

    def _penalties(self, batch_size: int | None, n: int, sample_weight=None) -> list:
        """scikit-learn's alpha / (2 m) ||W||^2 per batch of m examples (m: the batch's total
        sample weight; here its expectation, batch size x mean weight), and our L1."""
        mean_w = 1.0 if sample_weight is None else float(np.mean(sample_weight))
        m = (batch_size if batch_size is not None else n) * mean_w
        alpha, l1 = _py(self.alpha), _py(self.l1)
        penalties: list = [L2(alpha / m)] if alpha > 0 else []
        if l1 > 0:
            penalties.append(L1(l1))
        return penalties

    def _make_trainer(self, rng) -> Trainer:
        """The engine's Trainer; each fit sets its penalties (they depend on the sample
        weights) and its callbacks (:meth:`_callbacks`)."""
        solver = isinstance(self.optimizer_, Solver)
        return Trainer(
            self.model_,
            self._make_loss(),
            self.optimizer_,
            batch_size=self._batch(self._n_examples),
            epochs=1,
            shuffle=self.shuffle,
            rng=rng,
            constraints=[MaxNorm(_py(self.max_norm))] if self.max_norm and not solver else [],
            clip_norm=_py(self.clip_norm),
            verbose=0,
        )

    def _callbacks(self, trainer: Trainer, own: list) -> list:
        """The trainer's callbacks for one fit, in the order they see each epoch: its History,
        this fit's scorer and stopping rule (``own``), then the progress lines (``verbose``)."""
        return [trainer.history, *own, *([ProgressBar(2)] if self.verbose else [])]

    # -- fitting ------------------------------------------------------------------------------
    def _check_real(self, y, name: str) -> None:
        """Complex numbers are neither targets nor labels. scikit-learn refuses complex arrays,
        but an object array of complex numbers is cast to float, dropping the imaginary part."""
        a = np.asarray(y)
        if a.dtype == object:
            a = np.asarray([v for v in a.ravel() if isinstance(v, (complex, np.complexfloating))])
        if np.iscomplexobj(a) and a.size:
            raise ValueError(
                f"{type(self).__name__}: Complex data not supported: {name} must "
                f"be real numbers or labels, got {a.ravel()[0]!r}; pass the real "
                "part (np.real), or both parts as separate outputs if that is meant"
            )

    def _validate_X_y(self, X, y, reset: bool):
        self._check_real(y, "y")
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            dtype=[np.float64, np.float32],
            multi_output=True,
            y_numeric=isinstance(self, RegressorMixin),
        )
        return X.astype(self.dtype, copy=False), y

    def _sample_weights(self, sample_weight, X, y_raw):
        sw = None
        if sample_weight is not None:
            sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        cw = getattr(self, "class_weight", None)
        if cw is not None:
            if type_of_target(y_raw) == "multilabel-indicator":
                raise ValueError("class_weight is not supported for multi-label targets")
            self._check_class_weight(cw)
            w = compute_sample_weight(cw, y_raw)
            sw = w if sw is None else sw * w
        return sw

    def _check_class_weight(self, cw) -> None:
        """Each class weight is a finite number >= 0 (compute_sample_weight takes any: a NaN
        weight made the sample weights NaN, a negative one rewarded the loss)."""
        if not isinstance(cw, dict):
            return  # "balanced"
        for label, w in cw.items():
            w = _py(w)
            if (
                isinstance(w, bool)
                or not isinstance(w, numbers.Real)
                or not math.isfinite(w)
                or w < 0
            ):
                raise ValueError(
                    f"{type(self).__name__}: class_weight must map each class to a "
                    f"finite weight >= 0, got {label!r}: {w!r} in {cw!r}"
                )

    @_quiet_overflow
    def _fit(
        self, X, y, sample_weight=None, X_val=None, y_val=None, *, incremental=False, classes=None
    ):
        first = not (incremental or self.warm_start) or not hasattr(self, "trainer_")
        X, y_raw = self._validate_X_y(X, y, reset=first)
        targets, n_outputs = self._encode_targets(y_raw, first=first, classes=classes)
        sw = self._sample_weights(sample_weight, X, y_raw)
        if sw is not None and not sw.sum() > 0:
            raise ValueError(
                f"{type(self).__name__}: the sample weights (sample_weight times "
                "class_weight) are all zero; at least one example must count"
            )
        if first:
            self._initialize(X, n_outputs, incremental=incremental)
        elif self.n_outputs_ != n_outputs:
            raise ValueError(f"y has {n_outputs} outputs, the fitted model {self.n_outputs_}")
        trainer = self.trainer_
        validation, val_raw = None, None
        if X_val is not None or y_val is not None:
            if X_val is None or y_val is None:
                raise ValueError("give both X_val and y_val, or neither")
            Xv = validate_data(self, X_val, reset=False, dtype=[np.float64, np.float32])
            self._check_real(y_val, "y_val")
            Xv, yv = Xv.astype(self.dtype, copy=False), np.asarray(y_val)
            validation = (Xv, self._encode_targets(yv, first=False)[0])
            val_raw = (Xv, yv)
        elif self.early_stopping and not incremental:
            X, targets, sw, validation, val_raw = self._split_validation(X, targets, y_raw, sw)
        added: list = []
        if val_raw is not None:
            added.append(_ValidationScore(self, *val_raw))
        trainer.penalties = self._penalties(trainer.batch_size, X.shape[0], sw)
        if not incremental and not isinstance(self.optimizer_, Solver):
            if validation is not None and self.early_stopping:
                added.append(
                    _ConvergenceStop(
                        "val_score",
                        mode="max",
                        patience=_py(self.n_iter_no_change),
                        min_delta=_py(self.tol),
                        restore_best=True,
                    )
                )
            else:
                added.append(
                    _ConvergenceStop(
                        "loss",
                        patience=_py(self.n_iter_no_change),
                        min_delta=_py(self.tol),
                        restore_best=False,
                    )
                )
        trainer.callbacks = self._callbacks(trainer, added)
        before = len(trainer.history.epoch)
        with warnings.catch_warnings():  # a divergence is this estimator's to report (below)
            warnings.simplefilter("ignore", TrainingDiverged)
            trainer.fit(
                X,
                targets,
                epochs=1 if incremental else self.max_iter,
                validation_data=validation,
                sample_weight=sw,
            )
        losses = self._record(
            trainer, before, X.shape[0], added[0] if val_raw is not None else None
        )
        self._check_finite(trainer, losses)
        if trainer.diverged_at is not None:  # survived: early stopping kept the best weights
            warnings.warn(trainer.stop_reason, TrainingDiverged, stacklevel=3)
        if (
            not incremental
            and not isinstance(self.optimizer_, Solver)
            and trainer.epoch >= trainer.end_epoch
            and not trainer.stop_training
        ):
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                "and the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _split_validation(self, X, targets, y_raw, sw):
        from sklearn.model_selection import train_test_split

        stratify = y_raw if isinstance(self, ClassifierMixin) and np.ndim(y_raw) == 1 else None
        idx, fraction = np.arange(X.shape[0]), _py(self.validation_fraction)
        try:
            tr, va = train_test_split(
                idx, test_size=fraction, stratify=stratify, random_state=sklearn_seed(self._rng)
            )
        except ValueError:  # a class too small to stratify: fall back to a plain split
            tr, va = train_test_split(idx, test_size=fraction, random_state=sklearn_seed(self._rng))
        if len(va) < 2:
            raise ValueError(
                f"early_stopping: validation_fraction={self.validation_fraction} "
                f"of {X.shape[0]} examples leaves {len(va)} for validation"
            )
        return (
            X[tr],
            targets[tr],
            None if sw is None else sw[tr],
            (X[va], targets[va]),
            (X[va], y_raw[va]),
        )

    def _record(self, trainer, before: int, n: int, scorer) -> list[float]:
        """Append this fit's epochs to the curves; returns its training losses."""
        h = trainer.history.history
        new = slice(before, None)
        losses = [float(v) for v in h.get("loss", [])[new]]
        self.loss_curve_ += losses
        self.n_iter_ += len(losses)
        self.t_ += n * len(losses)
        if losses:  # NaN is never the best (min() of a list with NaN depends on the order)
            self.loss_: float | None = self.loss_curve_[-1]
            self.best_loss_ = min([self.best_loss_, *(v for v in losses if not math.isnan(v))])
        if scorer is not None:
            if self.validation_scores_ is None:
                self.validation_scores_, self.validation_loss_curve_ = [], []
            assert self.validation_loss_curve_ is not None  # set with validation_scores_
            self.validation_scores_ += scorer.scores
            self.validation_loss_curve_ += [float(v) for v in h["val_loss"][new]]
            self.best_validation_score_ = max(
                (v for v in self.validation_scores_ if not math.isnan(v)), default=-math.inf
            )
        return losses

    def _check_finite(self, trainer, losses: list[float]) -> None:
        """scikit-learn's rule: a fit that diverged is a ``ValueError``, never a NaN model.

        Diverged: the trainer stopped at a non-finite loss (``diverged_at``; it restores the
        last finite weights), a logged loss is NaN or inf, or the weights are. With early
        stopping the best weights were kept (the NaN epochs score NaN and never win), so the
        fit stands, as in scikit-learn."""
        finite = trainer._weights_finite()
        keeps_best = any(
            isinstance(c, _ConvergenceStop) and c.restore_best for c in trainer.callbacks
        )
        diverged_at = getattr(trainer, "diverged_at", None)
        bad = [i for i, v in enumerate(losses) if not math.isfinite(v)]
        if finite and (keeps_best or (diverged_at is None and not bad)):
            return
        first = self.n_iter_ - len(losses)  # epochs before this fit
        epoch = (
            diverged_at + 1
            if diverged_at is not None
            else first + bad[0] + 1
            if bad
            else self.n_iter_
        )
        if isinstance(self.optimizer_, Solver):
            advice = "standardize the inputs (e.g. StandardScaler)"
        else:
            advice = (
                f"lower learning_rate_init (now {self.learning_rate_init!r}), standardize "
                "the inputs (e.g. StandardScaler) or clip the gradients (clip_norm)"
            )
        raise ValueError(
            f"{NON_FINITE} {type(self).__name__}: training diverged in epoch "
            f"{epoch} (the loss or the weights became NaN or inf; "
            f"solver={self.solver!r}); {advice}"
        )

    def _validation_score(self, X, y) -> float:
        """The validation score; NaN when a prediction is NaN or inf (scikit-learn's
        ``_score_with_function``), so a diverged epoch is recorded and never the best."""
        out = self._outputs(X)
        if not np.all(np.isfinite(out)):
            return math.nan
        return float(self._score_function(y, self._predict_outputs(out)))

    # -- prediction ---------------------------------------------------------------------------
    def _outputs(self, X):
        """The model's evaluation-mode outputs (logits or scores) as float64, ``(n, outputs)``."""
        check_is_fitted(self, "trainer_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        rows = max(self.trainer_.batch_size or 0, 1024)  # per forward pass, as Trainer.evaluate
        return np.asarray(self.model_.predict(X, batch_size=rows), dtype=np.float64)

    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weight matrices of the Dense layers, input first (scikit-learn's attribute)."""
        check_is_fitted(self, "model_")
        return [layer.params["W"] for layer in self.model_.layers if isinstance(layer, Dense)]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        check_is_fitted(self, "model_")
        return [layer.params["b"] for layer in self.model_.layers if isinstance(layer, Dense)]

    # -- persistence ------------------------------------------------------------------------
    def __getstate__(self):
        state = dict(super().__getstate__())
        trainer = state.pop("trainer_", None)
        state.pop("optimizer_", None)  # closures do not pickle; rebuilt from the parameters
        if trainer is not None:
            state["_trainer_state"] = {
                "opt_state": trainer.opt_state,
                "epoch": trainer.epoch,
                "step": trainer.step,
                "rng": trainer.rng,
                "history": (trainer.history.history, trainer.history.epoch),
            }
        return state

    def __setstate__(self, state):
        saved = state.pop("_trainer_state", None)
        super().__setstate__(state)
        if saved is not None:
            self.optimizer_ = self._optimizer()
            self.trainer_ = self._make_trainer(saved["rng"])
            self._restore_trainer(saved)

    def _restore_trainer(self, saved: dict) -> None:
        self.trainer_.opt_state = saved["opt_state"]
        self.trainer_.epoch, self.trainer_.step = saved["epoch"], saved["step"]
        self.trainer_.history.history, self.trainer_.history.epoch = saved["history"]

    def save(self, path) -> None:
        """Write mlplab's safe checkpoint (.npz + JSON, no pickle): weights, optimizer state,
        history, and the estimator's parameters and target encoding."""
        check_is_fitted(self, "trainer_")
        params = self.get_params()
        extra = {
            "estimator": type(self).__name__,
            "params": _jsonable(params),
            "fitted": self._fitted_json(),
        }
        self.trainer_.save(path, extra=extra)

    @classmethod
    def load(cls, path) -> _MLPBase:
        """An estimator restored from :meth:`save` (loaded with ``allow_pickle=False``)."""
        meta, _ = read_checkpoint(path)
        extra = meta.get("extra", {})
        if extra.get("estimator") != cls.__name__:
            raise ValueError(
                f"{path!r} holds {extra.get('estimator') or 'no estimator'}, not a {cls.__name__}"
            )
        try:  # the file is not trusted: a broken 'extra' is a clear error, not a KeyError
            est = cls(**_from_json(extra["params"]))
            fitted = extra["fitted"]
            est._restore_fitted(fitted)
            X0 = np.zeros((1, fitted["n_features_in"]), dtype=est.dtype)
            est._initialize(X0, fitted["n_outputs"], n_examples=fitted["n_examples"])
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            raise ValueError(
                f"checkpoint {os.fspath(path)!r}: field 'extra' does not describe "
                f"a fitted {cls.__name__} ({type(e).__name__}: {e})"
            ) from None
        est.trainer_.load(path)
        h = est.trainer_.history.history
        est.loss_curve_ = [float(v) for v in h.get("loss", [])]
        est.n_iter_ = len(est.loss_curve_)
        est.loss_ = est.loss_curve_[-1] if est.loss_curve_ else None
        est.best_loss_ = min(est.loss_curve_) if est.loss_curve_ else np.inf
        return est

    def _fitted_json(self) -> dict:
        return {
            "n_features_in": int(self.n_features_in_),
            "n_outputs": int(self.n_outputs_),
            "n_examples": int(self._n_examples),
            "feature_names_in": (
                list(map(str, self.feature_names_in_))
                if hasattr(self, "feature_names_in_")
                else None
            ),
        }

    def _restore_fitted(self, fitted: dict) -> None:
        self.n_features_in_ = fitted["n_features_in"]
        if fitted.get("feature_names_in") is not None:
            self.feature_names_in_ = np.asarray(fitted["feature_names_in"], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


def _jsonable(params: dict) -> dict:
    """The estimator's parameters as JSON; tuples and dicts (any keys) are tagged so that
    :func:`_from_json` gives back equal values of the same types."""
    for v in params.values():
        if isinstance(v, (np.random.RandomState, np.random.Generator)):
            raise ValueError(f"save: random_state must be an int or None to be saved, got {v!r}")
    return {k: _to_json(v) for k, v in params.items()}


def _to_json(v: Any) -> Any:
    if isinstance(v, tuple):
        return {"__tuple__": [_to_json(x) for x in v]}
    if isinstance(v, list):
        return [_to_json(x) for x in v]
    if isinstance(v, dict):
        return {"__dict_items__": [[_to_json(kk), _to_json(vv)] for kk, vv in v.items()]}
    return v


def _from_json(v: Any) -> Any:
    """The inverse of :func:`_to_json` (files written before tuples were tagged hold lists)."""
    if isinstance(v, list):
        return [_from_json(x) for x in v]
    if not isinstance(v, dict):
        return v
    if "__tuple__" in v:
        return tuple(_from_json(x) for x in v["__tuple__"])
    if "__dict_items__" in v:  # a key saved as a list was a tuple: lists are not keys
        return {_hashable(_from_json(kk)): _from_json(vv) for kk, vv in v["__dict_items__"]}
    return {k: _from_json(x) for k, x in v.items()}


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key


class MLPClassifier(ClassifierMixin, _MLPBase):
    """A multilayer perceptron classifier: binary, multiclass and multi-label.

    scikit-learn's ``MLPClassifier`` parameters (same names, defaults and meaning) plus:

    dropout : float or list, drop rate after each hidden activation (0: none)
    batch_norm : bool, BatchNorm between each hidden Dense layer and its activation
    weight_init : initializer name or spec; "auto" = glorot_uniform, as scikit-learn (try
        "he_normal" for deep ReLU nets)
    solver : any mlplab optimizer ("sgd", "momentum", "nesterov", "adagrad", "adadelta",
        "rmsprop", "adam", "newton", "lbfgs"); ``solver_params`` adds its hyperparameters
    l1, max_norm, clip_norm : L1 penalty, max-norm constraint, gradient clipping by global norm
    loss : "cross_entropy" (default; softmax for multiclass, sigmoid for binary and
        multi-label) or "hinge" (multiclass SVM; no predict_proba)
    lr_schedule : a schedule name or ``{"name", "config"}``, starting at learning_rate_init
    dtype : "float32" (default) or "float64"
    class_weight : None, "balanced" or {class: weight}, multiplied into sample weights

    ``fit(X, y, sample_weight=None, X_val=None, y_val=None)``: with ``X_val``/``y_val`` the
    validation curves are recorded and ``early_stopping`` uses them instead of a split of the
    training data (works inside GridSearchCV: the same validation set for every fold).
    """

    #: ``loss`` -> the registered engine loss for multiclass targets (softmax over the
    #: classes) and for binary and multi-label ones (one sigmoid or margin per output)
    _LOSSES = {
        "cross_entropy": ("cross_entropy", "binary_cross_entropy"),
        "hinge": ("hinge", "multilabel_hinge"),
    }

    _parameter_constraints = {
        **_MLPBase._parameter_constraints,
        "loss": [StrOptions(set(_LOSSES)), None],
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate_init=0.001,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout=0.0,
        batch_norm=False,
        weight_init="auto",
        solver_params=None,
        l1=0.0,
        max_norm=None,
        clip_norm=None,
        loss="cross_entropy",
        lr_schedule=None,
        dtype="float32",
        class_weight=None,
    ):
        super().__init__(
            hidden_layer_sizes,
            activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate_init=learning_rate_init,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            dropout=dropout,
            batch_norm=batch_norm,
            weight_init=weight_init,
            solver_params=solver_params,
            l1=l1,
            max_norm=max_norm,
            clip_norm=clip_norm,
            loss=loss,
            lr_schedule=lr_schedule,
            dtype=dtype,
        )
        self.class_weight = class_weight

    def fit(self, X, y, sample_weight=None, X_val=None, y_val=None):
        """Train on (X, y); see the class docstring for the validation set."""
        self._validate_params()
        return self._fit(X, y, sample_weight, X_val, y_val)

    @available_if(_incremental_solver)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over (X, y), keeping the weights and the optimizer state (Adam moments,
        momentum) between calls. ``classes`` is required on the first call."""
        if not hasattr(self, "trainer_"):
            self._validate_params()
            if classes is None and type_of_target(y) != "multilabel-indicator":
                raise ValueError("classes must be passed on the first call to partial_fit")
        elif classes is not None and self._kind != "multilabel":
            self._check_same_classes(classes)
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _check_same_classes(self, classes) -> None:
        """A later partial_fit may repeat ``classes`` (in any order), never change them: the
        output units are already tied to the first call's classes (scikit-learn's rule)."""
        if not np.array_equal(unique_labels(classes), self.classes_):
            raise ValueError(
                f"{type(self).__name__}.partial_fit: classes={classes!r} differ from "
                f"the classes of the first call, {self.classes_.tolist()}"
            )

    def _encode_targets(self, y, *, first, classes=None):
        kind = type_of_target(y)
        if first:
            check_classification_targets(y)
            if kind == "multilabel-indicator":
                self._kind = "multilabel"
                self.classes_ = np.arange(y.shape[1])
            else:
                y = column_or_1d(y, warn=True)
                if classes is not None:
                    self._check_real(classes, "classes")
                self.classes_ = unique_labels(y if classes is None else classes)
                if len(self.classes_) < 2:
                    raise ValueError(
                        f"{type(self).__name__}: only one class "
                        f"({self.classes_[0]!r}) in y; a classifier needs at "
                        "least 2 classes"
                    )
                self._kind = "binary" if len(self.classes_) == 2 else "multiclass"
        if self._kind == "multilabel":
            y = np.asarray(y)
            if y.ndim != 2 or y.shape[1] != len(self.classes_):
                raise ValueError(
                    f"y must be a label indicator matrix with "
                    f"{len(self.classes_)} columns, got shape {y.shape}"
                )
            t = y.astype(self.dtype)
            return (2 * t - 1 if self.loss == "hinge" else t), len(self.classes_)
        y = np.ravel(y) if np.ndim(y) == 2 and np.shape(y)[1] == 1 else y
        if np.ndim(y) != 1:
            raise ValueError(f"y must be 1-D class labels, got shape {np.shape(y)}")
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(
                f"y contains labels not in classes_ {self.classes_.tolist()}: {unknown.tolist()}"
            )
        idx = np.searchsorted(self.classes_, y)
        if self._kind == "binary":
            t = idx.astype(self.dtype)[:, None]
            return (2 * t - 1 if self.loss == "hinge" else t), 1
        return idx.astype(np.int64), len(self.classes_)

    def _make_loss(self):
        multiclass, per_output = self._LOSSES[self.loss or "cross_entropy"]
        return get_loss(multiclass if self._kind == "multiclass" else per_output)

    def _fitted_json(self) -> dict:
        out = super()._fitted_json()
        out.update(
            kind=self._kind, classes=self.classes_.tolist(), classes_dtype=self.classes_.dtype.str
        )
        return out

    def _restore_fitted(self, fitted: dict) -> None:
        super()._restore_fitted(fitted)
        self._kind = fitted["kind"]
        self.classes_ = np.asarray(fitted["classes"], dtype=np.dtype(fitted["classes_dtype"]))

    # -- prediction -------------------------------------------------------------------------
    def decision_function(self, X):
        """Raw scores: logits (cross-entropy) or SVM scores (hinge); ``(n,)`` for binary."""
        out = self._outputs(X)
        return out[:, 0] if self._kind == "binary" else out

    def predict(self, X):
        return self._predict_outputs(self._outputs(X))

    _score_function = staticmethod(accuracy_score)  # ClassifierMixin.score's

    def _predict_outputs(self, out):
        if self._kind == "multilabel":
            return (out > 0).astype(np.int64)
        if self._kind == "binary":
            return self.classes_[(out[:, 0] > 0).astype(np.int64)]
        return self.classes_[np.argmax(out, axis=1)]

    def _has_proba(self):
        return self.loss != "hinge"

    @available_if(_has_proba)
    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``."""
        out = self._outputs(X)
        if self._kind == "multiclass":
            return softmax(out)
        p = sigmoid(out)  # 1 - sigma(z) = sigma(-z), without the cancellation near 1
        return np.hstack([sigmoid(-out), p]) if self._kind == "binary" else p

    @available_if(_has_proba)
    def predict_log_proba(self, X):
        """log predict_proba, computed stably from the logits (no log of 0)."""
        out = self._outputs(X)
        if self._kind == "multiclass":
            return log_softmax(out)
        if self._kind == "binary":
            return np.hstack([-softplus(out), -softplus(-out)])
        return -softplus(-out)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _MLPBase):
    """A multilayer perceptron regressor, single or multi-output, with scikit-learn's
    ``MLPRegressor`` parameters plus those of :class:`MLPClassifier` (no class_weight);
    ``loss`` is "squared_error" (default: 1/2 mean squared error, as scikit-learn),
    "absolute_error" or "huber"."""

    #: the ``loss`` values, each a name in the loss registry (scikit-learn's names)
    _LOSSES = ("squared_error", "absolute_error", "huber")

    _parameter_constraints = {
        **_MLPBase._parameter_constraints,
        "loss": [StrOptions(set(_LOSSES)), None],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate_init=0.001,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout=0.0,
        batch_norm=False,
        weight_init="auto",
        solver_params=None,
        l1=0.0,
        max_norm=None,
        clip_norm=None,
        loss="squared_error",
        lr_schedule=None,
        dtype="float32",
    ):
        super().__init__(
            hidden_layer_sizes,
            activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate_init=learning_rate_init,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            dropout=dropout,
            batch_norm=batch_norm,
            weight_init=weight_init,
            solver_params=solver_params,
            l1=l1,
            max_norm=max_norm,
            clip_norm=clip_norm,
            loss=loss,
            lr_schedule=lr_schedule,
            dtype=dtype,
        )

    def fit(self, X, y, sample_weight=None, X_val=None, y_val=None):
        """Train on (X, y); ``X_val``/``y_val`` as in :class:`MLPClassifier`."""
        self._validate_params()
        return self._fit(X, y, sample_weight, X_val, y_val)

    @available_if(_incremental_solver)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), keeping weights and optimizer state between calls."""
        if not hasattr(self, "trainer_"):
            self._validate_params()
        return self._fit(X, y, sample_weight, incremental=True)

    def _encode_targets(self, y, *, first, classes=None):
        y = np.asarray(y)
        self._check_target_range(y)
        y = y.astype(self.dtype, copy=False)
        if first:
            self._y_1d = y.ndim == 1
        t = y.reshape(-1, 1) if y.ndim == 1 else y
        if not first and t.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {t.shape[1]} outputs, the model was fit with {self.n_outputs_}"
            )
        return t, t.shape[1]

    def _check_target_range(self, y) -> None:
        """Refuse, before training, targets whose loss overflows ``dtype``: the epoch's loss
        at the start (predictions near 0) sums 1/2 y^2 (|y| for the absolute and Huber
        losses) over the data, and float32 ends at 3.4e38, so y of 1e19 already trains on an
        infinite loss."""
        with np.errstate(over="ignore"):
            a = np.abs(y.astype(np.float64))
            squared = self.loss in (None, "squared_error")
            total = float(np.sum(a * a) / 2 if squared else np.sum(a))
        largest = float(np.finfo(self.dtype).max)
        if total < largest:
            return
        advice = (
            "scale the targets (e.g. TransformedTargetRegressor(regressor, "
            "transformer=StandardScaler()))"
        )
        if self.dtype == "float32":
            advice += ' or use dtype="float64"'
        raise ValueError(
            f"{type(self).__name__}: the targets are too large for dtype={self.dtype!r}: with "
            f"|y| up to {float(a.max()):.3g} the {'squared' if squared else 'absolute'} error "
            f"summed over the data ({total:.3g}) overflows {self.dtype} (largest "
            f"{largest:.3g}); {advice}"
        )

    def _make_loss(self):
        return get_loss(self.loss or "squared_error")

    def _fitted_json(self) -> dict:
        return {**super()._fitted_json(), "y_1d": bool(self._y_1d)}

    def _restore_fitted(self, fitted: dict) -> None:
        super()._restore_fitted(fitted)
        self._y_1d = fitted["y_1d"]

    def predict(self, X):
        return self._predict_outputs(self._outputs(X))

    _score_function = staticmethod(r2_score)  # RegressorMixin.score's

    def _predict_outputs(self, out):
        return out[:, 0] if self._y_1d else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


__all__ = ["MLPClassifier", "MLPRegressor", "NotFittedError"]
