"""Optimizers: pure update rules over dicts of arrays; never see a layer (level 1).

The transforms (``transforms.py``) are the readable reference; ``fast.py`` is the one door to
the compiled step (optional speed, the same bits)."""
from .base import (EmptyState, InjectHyperparamsState, Transform, apply_updates, assign_flat,
                   chain, configure_schedules, current_hyperparams, current_learning_rate,
                   inject_hyperparams, ravel, set_hyperparams)
from .optimizers import (OPTIMIZERS, adadelta, adagrad, adam, get_optimizer, momentum, nesterov,
                         rmsprop, sgd)
from .solvers import Solver, hessian_by_differences, lbfgs, newton
from .schedules import (SCHEDULES, Constant, CosineDecay, ExponentialDecay, InverseTimeDecay,
                        LinearWarmup, Schedule, StepDecay, get_schedule)
from .transforms import (AdadeltaState, AdagradState, AdamState, RmsState, TraceState, clip,
                         clip_by_global_norm, scale_by_adadelta, scale_by_adagrad, scale_by_adam,
                         scale_by_learning_rate, scale_by_rms, trace)
from .fast import update_and_apply

__all__ = ["OPTIMIZERS", "SCHEDULES", "AdadeltaState", "AdagradState", "AdamState", "Constant",
           "CosineDecay", "EmptyState", "ExponentialDecay", "InjectHyperparamsState",
           "InverseTimeDecay", "LinearWarmup", "RmsState", "Schedule", "Solver", "StepDecay",
           "TraceState", "Transform", "adadelta", "adagrad", "adam", "apply_updates",
           "assign_flat", "chain", "clip", "clip_by_global_norm", "configure_schedules",
           "current_hyperparams", "current_learning_rate", "get_optimizer", "get_schedule",
           "hessian_by_differences", "inject_hyperparams", "lbfgs", "momentum", "nesterov",
           "newton", "ravel", "rmsprop", "scale_by_adadelta", "scale_by_adagrad", "scale_by_adam",
           "scale_by_learning_rate", "scale_by_rms", "set_hyperparams", "sgd", "trace",
           "update_and_apply"]
