"""Learning-rate schedules: callables ``step -> learning rate`` (Python floats), by name.

``step`` counts optimizer updates from 0. Each schedule is a small object with
``get_config()`` so it can be saved with the optimizer and rebuilt by name.
"""
from __future__ import annotations

import math
from typing import Any

from .._registry import Registry, build_from_spec
from ..errors import check_float, check_positive_int

SCHEDULES: Registry[type] = Registry("schedule")


class Schedule:
    """Base class: ``schedule(step) -> float``."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return dict(vars(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


def _lr(owner: str, value: Any) -> float:
    return check_float(owner, "learning_rate", value, low=0.0, low_inclusive=False)


@SCHEDULES.register("constant")
class Constant(Schedule):
    """eta_t = eta."""

    def __init__(self, learning_rate: float):
        self.learning_rate = _lr("Constant", learning_rate)

    def __call__(self, step: int) -> float:
        return self.learning_rate


@SCHEDULES.register("step_decay")
class StepDecay(Schedule):
    """eta_t = eta * drop^floor(t / every): e.g. halve every 10 epochs' worth of steps."""

    def __init__(self, learning_rate: float, drop: float = 0.5, every: int = 1000):
        self.learning_rate = _lr("StepDecay", learning_rate)
        self.drop = check_float("StepDecay", "drop", drop, low=0.0, high=1.0, low_inclusive=False)
        self.every = check_positive_int("StepDecay", "every", every)

    def __call__(self, step: int) -> float:
        return self.learning_rate * self.drop ** (step // self.every)


@SCHEDULES.register("exponential_decay")
class ExponentialDecay(Schedule):
    """eta_t = eta * rate^(t / decay_steps)."""

    def __init__(self, learning_rate: float, decay_rate: float = 0.96, decay_steps: int = 1000):
        self.learning_rate = _lr("ExponentialDecay", learning_rate)
        self.decay_rate = check_float("ExponentialDecay", "decay_rate", decay_rate, low=0.0,
                                      high=1.0, low_inclusive=False)
        self.decay_steps = check_positive_int("ExponentialDecay", "decay_steps", decay_steps)

    def __call__(self, step: int) -> float:
        return self.learning_rate * self.decay_rate ** (step / self.decay_steps)


@SCHEDULES.register("inverse_time_decay", aliases=("invscaling",))
class InverseTimeDecay(Schedule):
    """eta_t = eta / (1 + k t / decay_steps), the 1/t decay of stochastic approximation."""

    def __init__(self, learning_rate: float, decay_rate: float = 1.0, decay_steps: int = 1000):
        self.learning_rate = _lr("InverseTimeDecay", learning_rate)
        self.decay_rate = check_float("InverseTimeDecay", "decay_rate", decay_rate, low=0.0)
        self.decay_steps = check_positive_int("InverseTimeDecay", "decay_steps", decay_steps)

    def __call__(self, step: int) -> float:
        return self.learning_rate / (1.0 + self.decay_rate * step / self.decay_steps)


@SCHEDULES.register("cosine_decay")
class CosineDecay(Schedule):
    """eta_t = eta * (alpha + (1 - alpha) (1 + cos(pi min(t, T) / T)) / 2).

    References: Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts" (2017).
    """

    def __init__(self, learning_rate: float, decay_steps: int, alpha: float = 0.0):
        self.learning_rate = _lr("CosineDecay", learning_rate)
        self.decay_steps = check_positive_int("CosineDecay", "decay_steps", decay_steps)
        self.alpha = check_float("CosineDecay", "alpha", alpha, low=0.0, high=1.0)

    def __call__(self, step: int) -> float:
        frac = min(step, self.decay_steps) / self.decay_steps
        return self.learning_rate * (self.alpha + (1 - self.alpha) * 0.5 *
                                     (1 + math.cos(math.pi * frac)))


@SCHEDULES.register("linear_warmup", aliases=("warmup",))
class LinearWarmup(Schedule):
    """eta_t = eta (t + 1) / W for t < W, then ``after(t - W)`` (or eta if no ``after``).

    References: Goyal et al., "Accurate, Large Minibatch SGD" (2017).
    """

    def __init__(self, learning_rate: float, warmup_steps: int, after: Any = None):
        self.learning_rate = _lr("LinearWarmup", learning_rate)
        self.warmup_steps = check_positive_int("LinearWarmup", "warmup_steps", warmup_steps)
        self.after = None if after is None else get_schedule(after)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.learning_rate * (step + 1) / self.warmup_steps
        return self.learning_rate if self.after is None else self.after(step - self.warmup_steps)

    def get_config(self) -> dict[str, Any]:
        after = None if self.after is None else serialize_schedule(self.after)
        return {"learning_rate": self.learning_rate, "warmup_steps": self.warmup_steps,
                "after": after}


def get_schedule(spec: Any) -> Schedule:
    """A schedule from a number (constant), a Schedule, a name spec or ``{"name", "config"}``."""
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return Constant(spec)
    if isinstance(spec, Schedule):
        return spec
    if callable(spec) and not isinstance(spec, (str, dict)):
        raise TypeError(f"schedule {spec!r}: use a mlplab.optim.schedules.Schedule subclass so it "
                        "can be saved and rebuilt")
    return build_from_spec(SCHEDULES, spec)


def serialize_schedule(schedule: Schedule) -> dict[str, Any]:
    return {"name": SCHEDULES.name_of(type(schedule)) or type(schedule).__name__,
            "config": schedule.get_config()}
