"""Diagnostics: gradient checking, per-layer statistics with advice, bias/variance, learning
and validation curves (level 3)."""

from .advice import (
    Evidence,
    Finding,
    Report,
    check_activations,
    check_bias_variance,
    check_gradients,
    check_initial_loss,
    check_update_ratios,
    diagnose,
    explain,
    learning_rate_too_high,
)
from .curves import (
    BiasVarianceReport,
    Curve,
    bias_variance_report,
    learning_curve,
    overfit_tiny_subset,
    validation_curve,
)
from .experiments import initialization_experiment
from .gradcheck import GradcheckReport, GradcheckRow, gradcheck
from .monitor import EpochReports, TrainingMonitor, plot_activation_histograms
from .stats import (
    LayerStats,
    activation_statistics,
    gradient_norms,
    layer_outputs,
    update_ratios,
    weight_gains,
)

__all__ = [
    "BiasVarianceReport",
    "Curve",
    "EpochReports",
    "Evidence",
    "Finding",
    "GradcheckReport",
    "GradcheckRow",
    "LayerStats",
    "Report",
    "TrainingMonitor",
    "activation_statistics",
    "bias_variance_report",
    "check_activations",
    "check_bias_variance",
    "check_gradients",
    "check_initial_loss",
    "check_update_ratios",
    "diagnose",
    "explain",
    "gradcheck",
    "gradient_norms",
    "initialization_experiment",
    "layer_outputs",
    "learning_curve",
    "learning_rate_too_high",
    "overfit_tiny_subset",
    "plot_activation_histograms",
    "update_ratios",
    "validation_curve",
    "weight_gains",
]
