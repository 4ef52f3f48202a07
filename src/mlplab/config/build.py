"""Config -> objects through the registries: data, preprocessing, model, trainer (level 4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .schema import ExperimentConfig


@dataclass
class SplitData:
    """The arrays of one experiment after preprocessing (fit on ``X_train`` alone), and the
    indices of each part into the loaded arrays (``test`` indexes the official test set when
    the dataset has one and ``split.official_test``)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    indices: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def validation(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(X_val, y_val)`` for ``Trainer.fit(validation_data=...)``, or None if empty."""
        return (self.X_val, self.y_val) if len(self.X_val) else None


@dataclass
class Experiment:
    """What :func:`build_experiment` returns: ready to ``trainer.fit(data.X_train, ...)``."""

    config: ExperimentConfig
    trainer: Any
    data: SplitData
    preprocessing: Any  # the fitted scikit-learn Pipeline, or None
    class_names: list[str] | None
    epochs: int
    seed: int
    task: str
    dataset: Any = None  # the loaded Dataset (raw arrays, for fingerprints)

    def fit(self):
        """Train for the configured epochs on the training part, validating on the validation
        part; returns the History."""
        d = self.data
        return self.trainer.fit(d.X_train, d.y_train, validation_data=d.validation)


def rngs(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """The experiment's two generators: (data split, model init + trainer), from ``seed``."""
    data_rng, train_rng = np.random.default_rng(seed).spawn(2)
    return data_rng, train_rng


def load_data(config: ExperimentConfig):
    """The Dataset the config names (``data.dataset`` or the table ``data.path``)."""
    from ..data import load_dataset, load_table

    d = config.data
    options = {"dtype": config.train.dtype, **d.options}
    if d.dataset is not None:
        return load_dataset(d.dataset, **options)
    assert d.path is not None and d.target is not None
    return load_table(d.path, d.target, **options)


def split_data(
    config: ExperimentConfig, dataset, rng: np.random.Generator
) -> tuple[SplitData, Any]:
    """Hold-out split (stratified for class labels unless ``split.stratify = false``), then the
    preprocessing steps fit on the training part and applied to every part: returns the
    arrays and the fitted preprocessing (None for no steps)."""
    from ..data import train_val_test_split
    from ..data.preprocessing import fit_preprocessing

    s = config.split
    X, y = np.asarray(dataset.X), np.asarray(dataset.y)
    n = config.data.n
    if n is not None:
        if n > len(X):
            source = config.data.dataset or config.data.path
            raise ValueError(
                f"data.n: {n} is more than the {len(X)} training examples of {source!r}; "
                f"give at most {len(X)}, or leave it out for all of them"
            )
        X, y = X[:n], y[:n]  # the first n: the split indices index the loaded arrays still
    official = s.official_test and dataset.X_test is not None
    test_ratio = 0.0 if official else s.test
    ratios = (1.0 - s.validation - test_ratio, s.validation, test_ratio)
    i_tr, i_val, i_te, *_ = train_val_test_split(
        np.arange(len(X)), y, ratios=ratios, stratify=s.stratify, rng=rng
    )
    if official:
        X_te, y_te = np.asarray(dataset.X_test), np.asarray(dataset.y_test)
        i_te = np.arange(len(X_te))
    else:
        X_te, y_te = X[i_te], y[i_te]
    fitted, X_tr, X_val, X_te = fit_preprocessing(
        [{"name": p.name, "config": p.config} for p in config.preprocessing],
        X[i_tr],
        X[i_val],
        X_te,
    )
    dtype = config.train.dtype
    arrays = [np.asarray(a, dtype=dtype) for a in (X_tr, X_val, X_te)]
    return SplitData(
        arrays[0],
        y[i_tr],
        arrays[1],
        y[i_val],
        arrays[2],
        y_te,
        {"train": i_tr, "validation": i_val, "test": i_te},
    ), fitted


def build_layers(config: ExperimentConfig, out_units: int) -> list[Any]:
    """The model's layers: the explicit list, or the ``hidden`` template + output Dense."""
    from ..layers import Dense, Dropout, get_layer

    m = config.model
    if m.layers is not None:
        return [get_layer({"name": s.name, "config": s.config}) for s in m.layers]
    h = m.hidden
    assert h is not None
    layers: list[Any] = []
    for _ in range(h.depth):
        layers += [Dense(h.units, kernel_initializer=h.kernel_initializer), get_layer(h.activation)]
        if h.dropout > 0:
            layers.append(Dropout(h.dropout))
    layers.append(Dense(m.output_units or out_units))
    return layers


def output_units(dataset, loss) -> int:
    """Output width for the template: classes (1 for a binary loss), or the target's columns."""
    from ..losses import SigmoidBinaryCrossEntropy

    y = np.asarray(dataset.y)
    if dataset.task == "regression":
        return 1 if y.ndim == 1 else y.shape[1]
    if isinstance(loss, SigmoidBinaryCrossEntropy):
        return 1 if y.ndim == 1 else y.shape[1]
    if dataset.target_names:
        return len(dataset.target_names)
    return int(y.max()) + 1


def build_optimizer(config: ExperimentConfig):
    from ..optim import get_optimizer

    opt = dict(config.optimizer.config)
    if config.schedule is not None:
        opt["learning_rate"] = {"name": config.schedule.name, "config": config.schedule.config}
    return get_optimizer({"name": config.optimizer.name, "config": opt})


def build_callbacks(config: ExperimentConfig, probe: tuple | None = None) -> list[Any]:
    """The configured callbacks: ``callbacks.early_stopping``, ``callbacks.reduce_lr_on_plateau``
    and, with ``monitor.enabled``, a TrainingMonitor on ``probe`` (X, y: its first
    ``monitor.examples`` rows)."""
    from ..diagnostics import TrainingMonitor
    from ..train import EarlyStopping, ReduceLROnPlateau

    out: list[Any] = []
    c, m = config.callbacks, config.monitor
    if c.early_stopping is not None:
        out.append(EarlyStopping(**c.early_stopping.model_dump()))
    if c.reduce_lr_on_plateau is not None:
        out.append(ReduceLROnPlateau(**c.reduce_lr_on_plateau.model_dump()))
    if m.enabled and probe is not None:
        X, y = probe
        out.append(TrainingMonitor(X[: m.examples], y[: m.examples], every=m.every))
    return out


def build_trainer(
    config: ExperimentConfig,
    n_features: int,
    out_units: int,
    rng,
    *,
    verbose: int = 0,
    probe: tuple | None = None,
):
    """The built model and its Trainer; the model is built here (with ``rng`` and
    ``train.dtype``) before the Trainer takes ``rng``. ``probe``: the (X, y) a configured
    ``monitor`` watches (none without it)."""
    from ..losses import get_loss
    from ..network import Sequential
    from ..regularizers import L1, L2, MaxNorm
    from ..train import Trainer

    t, r = config.train, config.regularization
    loss = get_loss({"name": config.loss.name, "config": config.loss.config})
    model = Sequential(build_layers(config, out_units))
    model.build(n_features, rng=rng, dtype=t.dtype)
    penalties = ([L1(r.l1)] if r.l1 else []) + ([L2(r.l2)] if r.l2 else [])
    return Trainer(
        model,
        loss,
        build_optimizer(config),
        batch_size=t.batch_size,
        epochs=t.epochs,
        shuffle=t.shuffle,
        rng=rng,
        callbacks=build_callbacks(config, probe),
        penalties=penalties,
        constraints=[MaxNorm(r.max_norm)] if r.max_norm is not None else [],
        clip_norm=r.clip_norm,
        clip_value=r.clip_value,
        verbose=verbose,
    )


def build_experiment(config: ExperimentConfig, *, verbose: int = 0) -> Experiment:
    """Load and split the data, fit the preprocessing on the training part, build the model and
    its Trainer: everything :class:`Experiment` holds, nothing trained yet."""
    from ..losses import get_loss

    data_rng, train_rng = rngs(config.train.seed)
    dataset = load_data(config)
    data, fitted = split_data(config, dataset, data_rng)
    loss = get_loss({"name": config.loss.name, "config": config.loss.config})
    trainer = build_trainer(
        config,
        data.X_train.shape[1],
        output_units(dataset, loss),
        train_rng,
        verbose=verbose,
        probe=(data.X_train, data.y_train),
    )
    classification = dataset.task != "regression"
    return Experiment(
        config=config,
        trainer=trainer,
        data=data,
        preprocessing=fitted,
        class_names=list(dataset.target_names) if classification and dataset.target_names else None,
        epochs=config.train.epochs,
        seed=config.train.seed,
        task=dataset.task,
        dataset=dataset,
    )
