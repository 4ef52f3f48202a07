"""Optimizers: pure update rules over dicts of arrays; never see a layer (level 1)."""
from .base import (Elementwise, Transform, apply_updates, assign_flat, chain,
                   configure_schedules, current_learning_rate, elementwise_transform, ravel,
                   scale_learning_rate, update_and_apply)
from .optimizers import (OPTIMIZERS, adadelta, adagrad, adam, get_optimizer, momentum, nesterov,
                         rmsprop, sgd)
from .solvers import Solver, hessian_by_differences, lbfgs, newton
from .schedules import (SCHEDULES, Constant, CosineDecay, ExponentialDecay, InverseTimeDecay,
                        LinearWarmup, Schedule, StepDecay, get_schedule)
from .transforms import (clip, clip_by_global_norm, scale_by_adadelta, scale_by_adagrad,
                         scale_by_adam, scale_by_learning_rate, scale_by_rms, trace)

__all__ = ["OPTIMIZERS", "SCHEDULES", "Constant", "CosineDecay", "ExponentialDecay",
           "InverseTimeDecay", "LinearWarmup", "Schedule", "Solver", "StepDecay", "Transform",
           "Elementwise", "elementwise_transform", "update_and_apply",
           "adadelta", "adagrad", "adam", "apply_updates", "assign_flat", "chain", "clip",
           "clip_by_global_norm", "configure_schedules", "current_learning_rate", "get_optimizer",
           "get_schedule",
           "hessian_by_differences", "lbfgs", "momentum", "nesterov", "newton", "ravel",
           "rmsprop", "scale_by_adadelta", "scale_by_adagrad", "scale_by_adam",
           "scale_by_learning_rate", "scale_by_rms", "scale_learning_rate", "sgd", "trace"]
