"""Tuning: evaluating and choosing training configurations (level 4)."""

from .crossval import CVResult, SelectionResult, cross_validate, select_and_evaluate

__all__ = ["CVResult", "SelectionResult", "cross_validate", "select_and_evaluate"]
