"""Learning-rate schedules: ``schedule(step) -> learning rate`` (Python floats), by name.

``step`` counts optimizer updates from 0. A schedule with a period (``every``, ``decay_steps``,
``warmup_steps``) states its unit: ``unit="epoch"`` (the period counts epochs; the rate is
constant within an epoch, as PyTorch's per-epoch ``scheduler.step()``: its value at update t is
its value at epoch floor(t / steps_per_epoch)) or ``unit="step"`` (the period counts updates).
There is no default unit, so that ``every=10`` never silently means 10 updates.
``CosineDecay`` given without ``decay_steps`` decays over the whole fit. How many updates make
an epoch and when the fit ends come from :func:`mlplab.optim.configure_schedules`, which
``Trainer.fit`` calls; outside a trainer pass them: ``schedule(t, steps_per_epoch=, epochs=)``.
Each schedule has ``get_config()`` so it can be saved with the optimizer and rebuilt by name.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Mapping
from typing import Any

from .._registry import Registry, split_spec
from ..errors import check_choice, check_float, check_positive_int

SCHEDULES: Registry[type] = Registry("schedule")

#: the units a schedule's period may count
UNITS = ("epoch", "step")

_CONFIGURE = (
    "Trainer.fit sets it; elsewhere call mlplab.optim.configure_schedules(opt_state, "
    "steps_per_epoch=..., epochs=...) or pass them: schedule(step, steps_per_epoch=..., "
    "epochs=...)"
)


class Schedule:
    """Base class: ``schedule(step) -> float``; subclasses define :meth:`value` in their unit."""

    #: what ``t`` in :meth:`value` counts: "step" (updates) or "epoch"
    unit: str = "step"

    def __call__(self, step: int, *, steps_per_epoch: int = 0, epochs: int = 0) -> float:
        """The rate of update ``step`` (from 0); ``steps_per_epoch`` and ``epochs`` (the epoch at
        which the fit ends) are needed by epoch-unit schedules and by those without a horizon
        (0: not known)."""
        return self.at_step(step, steps_per_epoch, epochs * steps_per_epoch)

    def at_step(self, step: int, steps_per_epoch: int, total_steps: int) -> float:
        """The rate of update ``step`` in a fit of ``total_steps`` updates (0: not known)."""
        t, length = self._in_units(step, steps_per_epoch, total_steps)
        return float(self.value(t, length))

    def decays_over_the_fit(self) -> bool:
        """True when the schedule takes its horizon from the first fit (no period of its own)."""
        return False

    def value(self, t: int, length: float) -> float:
        """The rate at time ``t`` counted in ``unit`` s; ``length``: the fit's length in units
        (0: not known)."""
        raise NotImplementedError(
            f"{type(self).__name__}: a Schedule subclass defines "
            "value(t, length), the rate at time t in its unit"
        )

    def _in_units(self, step: int, steps_per_epoch: int, total_steps: int) -> tuple[int, float]:
        if self.unit == "step":
            return step, total_steps
        if steps_per_epoch < 1:
            if step == 0:  # update 0 is in epoch 0 however long an epoch is
                return 0, 0
            raise RuntimeError(
                f"{self!r} counts epochs, but the number of updates per epoch is "
                f"not known: {_CONFIGURE}"
            )
        return step // steps_per_epoch, total_steps / steps_per_epoch

    def get_config(self) -> dict[str, Any]:
        # None (e.g. no decay_steps: the fit's length) is left out: TOML has no null
        return {k: v for k, v in vars(self).items() if v is not None}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


def _lr(owner: str, value: Any) -> float:
    return check_float(owner, "learning_rate", value, low=0.0, low_inclusive=False)


def _period(owner: str, name: str, value: Any, unit: Any, example: str) -> tuple[int, str]:
    """A required period and its required unit, with a message that says what is missing."""
    if value is None:
        raise ValueError(
            f"{owner}: {name} is required: how many epochs (unit='epoch') or "
            f"updates (unit='step'), e.g. {example}"
        )
    value = check_positive_int(owner, name, value)
    if unit is None:
        raise ValueError(
            f"{owner}: unit is required with {name}={value}: 'epoch' (the period "
            f"counts epochs) or 'step' (it counts updates), e.g. {example}"
        )
    return value, check_choice(owner, "unit", unit, UNITS)


@SCHEDULES.register("constant")
class Constant(Schedule):
    """eta_t = eta."""

    def __init__(self, learning_rate: float):
        self.learning_rate = _lr("Constant", learning_rate)

    def value(self, t: int, length: float) -> float:
        return self.learning_rate


@SCHEDULES.register("step_decay")
class StepDecay(Schedule):
    """eta_t = eta * drop^floor(t / every), t in ``unit`` s: e.g. halve every 10 epochs.

    ``StepDecay(eta, drop, every, unit="epoch")`` is PyTorch's ``StepLR(step_size=every,
    gamma=drop)`` stepped once per epoch.
    """

    def __init__(
        self,
        learning_rate: float,
        drop: float = 0.5,
        every: int | None = None,
        unit: str | None = None,
    ):
        self.learning_rate = _lr("StepDecay", learning_rate)
        self.drop = check_float("StepDecay", "drop", drop, low=0.0, high=1.0, low_inclusive=False)
        self.every, self.unit = _period(
            "StepDecay", "every", every, unit, "StepDecay(0.1, drop=0.5, every=10, unit='epoch')"
        )

    def value(self, t: int, length: float) -> float:
        return self.learning_rate * self.drop ** (t // self.every)


@SCHEDULES.register("exponential_decay")
class ExponentialDecay(Schedule):
    """eta_t = eta * rate^(t / decay_steps), t in ``unit`` s.

    With ``unit="epoch"`` the rate is constant within an epoch; ``decay_steps=1`` is PyTorch's
    ``ExponentialLR(gamma=rate)`` stepped once per epoch.
    """

    def __init__(
        self,
        learning_rate: float,
        decay_rate: float = 0.96,
        decay_steps: int | None = None,
        unit: str | None = None,
    ):
        self.learning_rate = _lr("ExponentialDecay", learning_rate)
        self.decay_rate = check_float(
            "ExponentialDecay", "decay_rate", decay_rate, low=0.0, high=1.0, low_inclusive=False
        )
        self.decay_steps, self.unit = _period(
            "ExponentialDecay",
            "decay_steps",
            decay_steps,
            unit,
            "ExponentialDecay(0.1, decay_rate=0.9, decay_steps=1, unit='epoch')",
        )

    def value(self, t: int, length: float) -> float:
        return self.learning_rate * self.decay_rate ** (t / self.decay_steps)


@SCHEDULES.register("inverse_time_decay", aliases=("invscaling",))
class InverseTimeDecay(Schedule):
    """eta_t = eta / (1 + k t / decay_steps), t in ``unit`` s: the 1/t decay of stochastic
    approximation."""

    def __init__(
        self,
        learning_rate: float,
        decay_rate: float = 1.0,
        decay_steps: int | None = None,
        unit: str | None = None,
    ):
        self.learning_rate = _lr("InverseTimeDecay", learning_rate)
        self.decay_rate = check_float("InverseTimeDecay", "decay_rate", decay_rate, low=0.0)
        self.decay_steps, self.unit = _period(
            "InverseTimeDecay",
            "decay_steps",
            decay_steps,
            unit,
            "InverseTimeDecay(0.1, decay_rate=1.0, decay_steps=1, unit='epoch')",
        )

    def value(self, t: int, length: float) -> float:
        return self.learning_rate / (1.0 + self.decay_rate * t / self.decay_steps)


@SCHEDULES.register("cosine_decay")
class CosineDecay(Schedule):
    """eta_t = eta * (alpha + (1 - alpha) (1 + cos(pi min(t, T) / T)) / 2), t in ``unit`` s.

    ``T`` is ``decay_steps`` (which then needs a ``unit``), or without it the length of the first
    fit (the epoch at which the first ``fit`` ends, kept by later fits; ``unit`` defaults to
    "step": a smooth decay over the fit's updates). ``unit="epoch"`` is PyTorch's
    ``CosineAnnealingLR(T_max=T, eta_min=alpha eta)`` stepped once per epoch.

    References: Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts" (2017).
    """

    def __init__(
        self,
        learning_rate: float,
        decay_steps: int | None = None,
        alpha: float = 0.0,
        unit: str | None = None,
    ):
        self.learning_rate = _lr("CosineDecay", learning_rate)
        if decay_steps is None:
            self.decay_steps = None
            self.unit = check_choice("CosineDecay", "unit", "step" if unit is None else unit, UNITS)
        else:
            self.decay_steps, self.unit = _period(
                "CosineDecay",
                "decay_steps",
                decay_steps,
                unit,
                "CosineDecay(0.1, decay_steps=30, unit='epoch'), or no decay_steps: the fit",
            )
        self.alpha = check_float("CosineDecay", "alpha", alpha, low=0.0, high=1.0)

    def decays_over_the_fit(self) -> bool:
        return self.decay_steps is None

    def value(self, t: int, length: float) -> float:
        T = self.decay_steps or length
        if not T > 0:
            if t == 0:  # cos(0) = 1 for any horizon
                return self.learning_rate
            raise RuntimeError(
                f"{self!r} decays over the fit, whose length is not known: {_CONFIGURE}"
            )
        frac = min(t, T) / T
        return self.learning_rate * (
            self.alpha + (1 - self.alpha) * 0.5 * (1 + math.cos(math.pi * frac))
        )


@SCHEDULES.register("linear_warmup", aliases=("warmup",))
class LinearWarmup(Schedule):
    """eta_t = eta (t + 1) / W for t < W (t, W in ``unit`` s), then ``after`` started anew at
    the end of the warmup (or eta if no ``after``).

    References: Goyal et al., "Accurate, Large Minibatch SGD" (2017).
    """

    def __init__(
        self,
        learning_rate: float,
        warmup_steps: int | None = None,
        after: Any = None,
        unit: str | None = None,
    ):
        self.learning_rate = _lr("LinearWarmup", learning_rate)
        self.warmup_steps, self.unit = _period(
            "LinearWarmup",
            "warmup_steps",
            warmup_steps,
            unit,
            "LinearWarmup(0.1, warmup_steps=5, unit='epoch', after=...)",
        )
        self.after = None if after is None else get_schedule(after)

    def decays_over_the_fit(self) -> bool:
        return self.after is not None and self.after.decays_over_the_fit()

    def at_step(self, step: int, steps_per_epoch: int, total_steps: int) -> float:
        t, _ = self._in_units(step, steps_per_epoch, total_steps)
        if t < self.warmup_steps:
            return self.learning_rate * (t + 1) / self.warmup_steps
        if self.after is None:
            return self.learning_rate
        offset = self.warmup_steps * (1 if self.unit == "step" else steps_per_epoch)
        rest = max(total_steps - offset, 1) if total_steps > 0 else 0
        return self.after.at_step(step - offset, steps_per_epoch, rest)

    def get_config(self) -> dict[str, Any]:
        config = {
            "learning_rate": self.learning_rate,
            "warmup_steps": self.warmup_steps,
            "unit": self.unit,
        }
        if self.after is not None:
            config["after"] = serialize_schedule(self.after)
        return config


def get_schedule(spec: Any, defaults: Mapping[str, Any] | None = None) -> Schedule:
    """A schedule from a number (constant; NumPy scalars too), a Schedule, a name or
    ``{"name", "config"}``; ``defaults`` fill config entries the spec does not give (e.g. the
    estimator's ``learning_rate``)."""
    if isinstance(spec, numbers.Real) and not isinstance(spec, bool):
        return Constant(float(spec))  # NaN and inf are refused there
    if isinstance(spec, Schedule):
        return spec
    if callable(spec) and not isinstance(spec, (str, Mapping)):
        raise TypeError(
            f"schedule {spec!r}: use a mlplab.optim.schedules.Schedule subclass so it "
            "can be saved and rebuilt"
        )
    if not isinstance(spec, (str, Mapping)):
        raise TypeError(
            f"learning_rate: expected a number, a Schedule, a schedule name or "
            f"{{'name': ..., 'config': {{...}}}}, got {spec!r}"
        )
    try:
        name, config = split_spec("schedule", spec)
        cls = SCHEDULES.get(name)
    except (TypeError, ValueError) as e:  # say which argument held the bad spec
        raise type(e)(f"learning_rate: {e}") from None
    config = {**(defaults or {}), **config}
    try:
        inspect.signature(cls).bind(**config)
    except TypeError as e:  # a missing or unknown argument: name the schedule and its config
        raise TypeError(f"schedule {name!r}: bad config {config!r} ({e})") from None
    return cls(**config)


def serialize_schedule(schedule: Schedule) -> dict[str, Any]:
    return {
        "name": SCHEDULES.name_of(type(schedule)) or type(schedule).__name__,
        "config": schedule.get_config(),
    }
