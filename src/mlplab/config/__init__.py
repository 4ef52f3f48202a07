"""Experiment configs: one TOML file -> a validated :class:`ExperimentConfig` -> the objects
that run it (level 4). See the README's "Experiments"."""

from .build import Experiment, SplitData, build_experiment
from .load import apply_override, deep_merge, load_config, parse_value
from .schema import ConfigError, ExperimentConfig

__all__ = [
    "ConfigError",
    "Experiment",
    "ExperimentConfig",
    "SplitData",
    "apply_override",
    "build_experiment",
    "deep_merge",
    "load_config",
    "parse_value",
]
