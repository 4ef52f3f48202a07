"""The experiment config: pydantic v2 models of one TOML file (level 4).

Structure and types are checked by pydantic (unknown keys are errors); names and values are
checked against the registries by building each object once, so an error names its TOML path
and the valid choices: ``optimizer.name: unknown 'adamm'; valid: adadelta, adagrad, ...``,
``model.layers[2].config.units: must be a positive int, got units=0 (Dense)``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .._registry import Registry

#: the dtypes a model may compute in
DTYPES = ("float32", "float64")


class ConfigError(ValueError):
    """A config that does not validate; each line of the message names a TOML path."""


class _Section(BaseModel):
    # strict: TOML values are typed, so "3" is never silently the number 3
    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True)


class Spec(_Section):
    """A registered object: ``{name = "adam", config = {learning_rate = 0.001}}``."""

    name: str
    config: dict[str, Any] = Field(default_factory=dict)


class DataConfig(_Section):
    """``dataset``: a name for :func:`mlplab.load_dataset`; or ``path`` (+ ``target``): a table
    for :func:`mlplab.load_table`. ``options``: further keyword arguments of the loader."""

    dataset: str | None = None
    path: str | None = None
    target: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    #: use only the first ``n`` examples of the training data (the official test set whole)
    n: int | None = Field(default=None, gt=0)


class SplitConfig(_Section):
    """Hold-out fractions of the examples. A dataset with an official test split (MNIST,
    Fashion-MNIST) keeps it as the test set when ``official_test`` (then ``test`` is unused)."""

    kind: Literal["holdout"] = "holdout"
    validation: float = Field(default=0.2, ge=0.0, lt=1.0)
    test: float = Field(default=0.2, ge=0.0, lt=1.0)
    stratify: bool | None = None
    official_test: bool = True


class HiddenConfig(_Section):
    """The template ``depth`` x (Dense(units) -> activation [-> Dropout(dropout)])."""

    depth: int = Field(ge=0)
    units: int = Field(gt=0)
    activation: str = "relu"
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    kernel_initializer: str = "he_normal"


class ModelConfig(_Section):
    """Either ``layers`` (explicit, by registry name and config, the output layer included) or
    ``hidden`` (a template; the output Dense layer is added with ``output_units``, by default
    the number of classes, or 1 for a binary loss or a regression)."""

    layers: list[Spec] | None = None
    hidden: HiddenConfig | None = None
    output_units: int | None = Field(default=None, gt=0)


class RegularizationConfig(_Section):
    """Penalties (``l1``, ``l2``: :class:`mlplab.L1`/``L2`` on weights), the max-norm constraint
    and gradient clipping (by global norm ``clip_norm``, by value ``clip_value``)."""

    l1: float = Field(default=0.0, ge=0.0)
    l2: float = Field(default=0.0, ge=0.0)
    max_norm: float | None = Field(default=None, gt=0.0)
    clip_norm: float | None = Field(default=None, gt=0.0)
    clip_value: float | None = Field(default=None, gt=0.0)


class EarlyStoppingConfig(_Section):
    monitor: str = "val_loss"
    mode: str = "auto"
    patience: int = Field(default=5, ge=0)
    min_delta: float = Field(default=0.0, ge=0.0)
    restore_best: bool = True


class ReduceLROnPlateauConfig(_Section):
    """:class:`mlplab.ReduceLROnPlateau`: the learning rate times ``factor`` after ``patience``
    epochs without improvement of ``monitor``, not below ``min_lr``."""

    monitor: str = "val_loss"
    mode: str = "auto"
    factor: float = 0.5
    patience: int = 5
    min_delta: float = 0.0
    min_lr: float = 0.0
    stop_at_min_lr: bool = False


class CallbacksConfig(_Section):
    early_stopping: EarlyStoppingConfig | None = None
    reduce_lr_on_plateau: ReduceLROnPlateauConfig | None = None


class MonitorConfig(_Section):
    """:class:`mlplab.TrainingMonitor` on the first ``examples`` training examples, every
    ``every`` epochs; the run folder's ``monitor.json`` records its per-layer statistics."""

    enabled: bool = True
    every: int = Field(default=1, gt=0)
    examples: int = Field(default=512, gt=0)


class TrainConfig(_Section):
    batch_size: int = Field(default=32, gt=0)
    epochs: int = Field(default=10, gt=0)
    seed: int = Field(default=0, ge=0)
    dtype: Literal["float32", "float64"] = "float32"
    shuffle: bool = True


class EvaluateConfig(_Section):
    """What the end of a run reports: ``metrics`` by registry name, on the test set once."""

    metrics: list[str] = Field(default_factory=lambda: ["accuracy"])
    test: bool = True


class ExperimentConfig(_Section):
    """One experiment, as one TOML file (see the README's "Experiments")."""

    name: str = "experiment"
    description: str = ""
    data: DataConfig
    preprocessing: list[Spec] = Field(default_factory=list)
    split: SplitConfig = Field(default_factory=SplitConfig)
    model: ModelConfig
    loss: Spec = Field(default_factory=lambda: Spec(name="cross_entropy"))
    optimizer: Spec = Field(default_factory=lambda: Spec(name="adam"))
    schedule: Spec | None = None
    regularization: RegularizationConfig = Field(default_factory=RegularizationConfig)
    callbacks: CallbacksConfig = Field(default_factory=CallbacksConfig)
    monitor: MonitorConfig = Field(default_factory=lambda: MonitorConfig(enabled=False))
    train: TrainConfig = Field(default_factory=TrainConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)

    @model_validator(mode="after")
    def _check_registries(self) -> ExperimentConfig:
        _check(self)
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentConfig:
        """Validate a parsed TOML document; a :class:`ConfigError` lists every problem, each
        with its TOML path."""
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise ConfigError(_format(e)) from None

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain data (no None: TOML has no null)."""
        return _drop_none(self.model_dump(mode="python"))

    def to_toml(self) -> str:
        """The resolved config as TOML, every default filled in; loads back to an equal config."""
        return tomli_w.dumps(self.to_dict())


# -- messages ---------------------------------------------------------------------------------


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _format(error: ValidationError) -> str:
    lines = []
    for e in error.errors(include_url=False):
        loc, msg = tuple(e["loc"]), e["msg"]
        if e["type"] == "extra_forbidden":
            valid = _fields_at(loc[:-1])
            lines.append(f"{_path(loc)}: unknown key; valid keys: {', '.join(valid)}")
            continue
        if e["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")
            # our own checks name the full path themselves
            lines.append(msg if not loc else f"{_path(loc)}: {msg}")
            continue
        got = "" if e["type"] == "missing" else f", got {e['input']!r}"
        lines.append(f"{_path(loc) or '(top level)'}: {msg.lower()}{got}")
    return "\n".join(lines)


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """The valid keys of the section at ``loc`` (for 'unknown key' messages)."""
    model: Any = ExperimentConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        model = _section_type(field.annotation)
        if model is None:
            return []
    return sorted(model.model_fields)


def _section_type(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _section_type(arg)
        if found is not None:
            return found
    return None


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


# -- registry checks: build each object once, prefix the library's own errors with the path ---

_OWNER_KEY = re.compile(r"^([\w.]+): (\w+) (.*)$", re.S)


def _known(path: str, registry: Registry, name: str) -> Any:
    """The registered object ``name``, or an error naming ``path`` and the valid names."""
    if name not in registry:
        raise ValueError(f"{path}: unknown {name!r}; valid: {', '.join(registry.names())}")
    return registry.get(name)


def _name(path: str, registry: Registry, name: str) -> Any:
    return _known(f"{path}.name", registry, name)


def _keys(path: str, factory: Callable[..., Any], config: dict[str, Any], skip=()) -> None:
    """Unknown config keys are errors that list the valid ones (the factory's signature)."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return  # a factory that forwards **config checks it itself
    valid = [n for n, p in params.items() if p.kind is not p.VAR_POSITIONAL and n not in skip]
    for key in config:
        if key not in valid:
            raise ValueError(f"{path}.config.{key}: unknown key; valid keys: {', '.join(valid)}")


def _built(path: str, make: Callable[[], Any], config: dict[str, Any]) -> Any:
    """``make()``, its ValueError/TypeError prefixed with the TOML path of the value it names
    (``path`` is the table holding ``config``)."""
    try:
        return make()
    except (ValueError, TypeError) as e:
        text = str(e)
        m = _OWNER_KEY.match(text)
        if m and m.group(2) in config:
            owner, key, rest = m.groups()
            raise type(e)(f"{path}.{key}: {rest} ({owner})") from None
        raise type(e)(f"{path}: {text}") from None


def _spec(
    path: str,
    registry: Registry,
    spec: Spec,
    build: Callable[[Any, dict[str, Any]], Any] | None = None,
    skip=(),
) -> Any:
    factory = _name(path, registry, spec.name)
    _keys(path, factory, spec.config, skip)
    config = dict(spec.config)
    make = build or (lambda f, c: f(**c))
    return _built(f"{path}.config", lambda: make(factory, config), config)


def _full_config(obj: Any) -> dict[str, Any] | None:
    get = getattr(obj, "get_config", None)
    return _drop_none(get()) if callable(get) else None


def _check(cfg: ExperimentConfig) -> None:
    from ..data import DATASETS
    from ..data.preprocessing import PREPROCESSORS
    from ..layers import LAYERS
    from ..losses import LOSSES
    from ..metrics import METRICS
    from ..optim import OPTIMIZERS, SCHEDULES
    from ..train import EarlyStopping, ReduceLROnPlateau

    d = cfg.data
    if (d.dataset is None) == (d.path is None):
        raise ValueError(
            "data: give exactly one of data.dataset (a registered name: "
            f"{', '.join(DATASETS.names())}) or data.path (a CSV or Parquet table)"
        )
    if d.dataset is not None:
        _known("data.dataset", DATASETS, d.dataset)
        if d.target is not None:
            raise ValueError("data.target: only for a table (data.path), not a registered dataset")
    elif d.target is None:
        raise ValueError("data.target: required with data.path: the name of the target column")
    if cfg.split.validation + cfg.split.test >= 1.0:
        raise ValueError(
            f"split: validation + test = {cfg.split.validation + cfg.split.test:g} "
            "leaves no training data; they are fractions of all examples"
        )
    for i, step in enumerate(cfg.preprocessing):
        _spec(f"preprocessing[{i}]", PREPROCESSORS, step)

    m = cfg.model
    if (m.layers is None) == (m.hidden is None):
        raise ValueError(
            "model: give exactly one of model.layers (a list of {name, config}) or model.hidden "
            "(the template {depth, units, activation, dropout})"
        )
    if m.layers is not None:
        if not m.layers:
            raise ValueError("model.layers: empty; give at least the output layer")
        if m.output_units is not None:
            raise ValueError("model.output_units: only with model.hidden (layers give their own)")
        for i, layer in enumerate(m.layers):
            path = f"model.layers[{i}]"
            obj = _spec(path, LAYERS, layer, lambda cls, c: cls.from_config(c))
            layer.config = _full_config(obj) or layer.config
    else:
        h = m.hidden
        assert h is not None
        from ..initializers import INITIALIZERS

        _known("model.hidden.activation", LAYERS, h.activation)
        _known("model.hidden.kernel_initializer", INITIALIZERS, h.kernel_initializer)

    loss = _spec("loss", LOSSES, cfg.loss)
    cfg.loss.config = _full_config(loss) or cfg.loss.config
    opt_factory = _name("optimizer", OPTIMIZERS, cfg.optimizer.name)
    _spec("optimizer", OPTIMIZERS, cfg.optimizer)
    cfg.optimizer.config = _filled(opt_factory, cfg.optimizer.config)
    if cfg.schedule is not None:
        from ..optim import get_schedule

        rate = cfg.optimizer.config.get("learning_rate")
        spec = cfg.schedule
        if "learning_rate" not in spec.config and isinstance(rate, (int, float)):
            spec.config = {"learning_rate": rate, **spec.config}
        sched = _spec(
            "schedule",
            SCHEDULES,
            spec,
            lambda cls, c: get_schedule({"name": spec.name, "config": c}),
        )
        spec.config = _full_config(sched) or spec.config
    es = cfg.callbacks.early_stopping
    if es is not None:
        fields = es.model_dump()
        _built("callbacks.early_stopping", lambda: EarlyStopping(**fields), fields)
    rlr = cfg.callbacks.reduce_lr_on_plateau
    if rlr is not None:
        path = "callbacks.reduce_lr_on_plateau"
        fields = rlr.model_dump()
        _built(path, lambda: ReduceLROnPlateau(**fields), fields)
        if cfg.schedule is not None:
            raise ValueError(
                f"{path}: the learning rate follows schedule.name={cfg.schedule.name!r}; "
                "use one of the two, not both"
            )
        if "learning_rate" not in inspect.signature(opt_factory).parameters:
            raise ValueError(
                f"{path}: optimizer.name={cfg.optimizer.name!r} has no learning rate to "
                "reduce; remove the callback"
            )
    for i, metric in enumerate(cfg.evaluate.metrics):
        if metric not in METRICS and metric != "loss":
            raise ValueError(
                f"evaluate.metrics[{i}]: unknown {metric!r}; valid: "
                f"{', '.join(['loss', *METRICS.names()])}"
            )


def _filled(factory: Callable[..., Any], config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with the factory's defaults filled in (so `config show` shows them)."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return config
    out = {
        n: p.default
        for n, p in params.items()
        if p.default is not p.empty and p.default is not None and n not in config
    }
    return {**out, **config}
