"""Findings in words: each check turns numbers from :mod:`.stats` into a :class:`Finding` with a
severity, the evidence, and the classic advice (cs231n's "babysitting the learning process",
Glorot & Bengio 2010 on saturation, Ng on bias and variance)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..losses import get_loss
from ..network import Sequential
from .stats import (LayerStats, activation_statistics, expected_initial_loss, gradient_norms)

#: thresholds, in one place so that reports can quote them
DEAD_WARNING, DEAD_PROBLEM = 0.10, 0.25
SATURATED_WARNING, SATURATED_PROBLEM = 0.10, 0.25
COLLAPSED_STD = 1e-2          # hidden activations this small carry almost no signal
GRADIENT_SPREAD = 1e3         # largest/smallest per-layer gradient norm ratio
UPDATE_RATIO_LOW, UPDATE_RATIO_HIGH = 1e-5, 1e-1
UPDATE_RATIO_WARN_LOW, UPDATE_RATIO_WARN_HIGH = 1e-4, 1e-2

SEVERITIES = ("ok", "warning", "problem")


@dataclass
class Finding:
    """One diagnostic result: ``check`` names the test, ``message`` states the evidence in
    numbers, ``advice`` says what to do (empty when all is well)."""
    check: str
    severity: str
    message: str
    advice: str = ""
    layer: int | None = None
    value: float | None = None

    def __str__(self) -> str:
        tag = {"ok": "ok     ", "warning": "WARNING", "problem": "PROBLEM"}[self.severity]
        return f"[{tag}] {self.message}" + (f"\n          -> {self.advice}" if self.advice else "")


@dataclass
class Report:
    """Findings, worst first when printed."""
    findings: list[Finding] = field(default_factory=list)

    def problems(self, check: str | None = None) -> list[Finding]:
        return [f for f in self.findings if f.severity != "ok" and (check is None or
                                                                    f.check == check)]

    def by_check(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]

    @property
    def ok(self) -> bool:
        return not self.problems()

    def __str__(self) -> str:
        """Problems and warnings one by one, worst first; passed checks summed up in a line."""
        ordered = sorted(self.problems(), key=lambda f: -SEVERITIES.index(f.severity))
        lines, advised = [], set()
        for f in ordered:  # the same advice for several layers is given once
            lines.append(str(f) if f.advice not in advised else str(Finding(
                f.check, f.severity, f.message)))
            advised.add(f.advice)
        passed: dict[str, int] = {}
        for f in self.findings:
            if f.severity == "ok":
                passed[f.check] = passed.get(f.check, 0) + 1
        if passed:
            lines.append("[ok     ] " + ", ".join(f"{k} ({n})" if n > 1 else k
                                                 for k, n in passed.items()))
        return "\n".join(lines) or "no findings"


def _grade(value: float, warning: float, problem: float) -> str:
    return "problem" if value >= problem else "warning" if value >= warning else "ok"


def check_activations(stats: Iterable[LayerStats]) -> list[Finding]:
    """Dead ReLUs, saturated tanh/sigmoid units, and collapsed (vanishing) activations."""
    stats = list(stats)
    out = []
    hidden = [s for s in stats[:-1] if s.kind is not None]  # the last layer is the output
    for s in hidden:
        if s.dead is not None:
            sev = _grade(s.dead, DEAD_WARNING, DEAD_PROBLEM)
            out.append(Finding(
                "dead_relu", sev,
                f"{s.dead:.0%} of the ReLU units in {s.label} are dead (zero on every example)",
                "" if sev == "ok" else
                "a learning rate too high knocked them out (or the init/bias is off): lower the "
                "learning rate, use he_normal init, a small positive bias, or LeakyReLU",
                s.index, s.dead))
        if s.saturated is not None:
            sev = _grade(s.saturated, SATURATED_WARNING, SATURATED_PROBLEM)
            out.append(Finding(
                "saturation", sev,
                f"{s.saturated:.0%} of the {s.kind} outputs in {s.label} are saturated "
                f"(gradient < 2% of its peak)",
                "" if sev == "ok" else
                "weights too large for the input scale: use glorot (Xavier) init, standardize "
                "the inputs, lower the learning rate, or add BatchNorm before the activation",
                s.index, s.saturated))
        if s.kind in ("tanh", "sigmoid", "relu", "leaky_relu", "elu", "softplus", "identity"):
            centred_std = s.std
            if centred_std < COLLAPSED_STD:
                out.append(Finding(
                    "collapsed_activations", "problem",
                    f"activations in {s.label} have std {centred_std:.1e}: the signal has "
                    "collapsed toward a constant",
                    "weights too small (e.g. N(0, 0.01) in a deep net): use glorot init for "
                    "tanh/sigmoid or he_normal for ReLU, or BatchNorm", s.index, centred_std))
    return out


def check_gradients(norms: dict[str, tuple[float, float]]) -> list[Finding]:
    """Vanishing or exploding gradients: how much the per-layer weight-gradient norms differ
    from the output layer back to the input layer."""
    if not norms:
        return []
    keys = list(norms)
    values = [norms[k][0] for k in keys]
    if not all(math.isfinite(v) for v in values):
        bad = [k for k, v in zip(keys, values) if not math.isfinite(v)]
        return [Finding("exploding_gradients", "problem", f"non-finite gradients in {bad}",
                        "the loss diverged: lower the learning rate, clip gradients "
                        "(clip_norm=...), standardize the inputs")]
    first, last = values[0], values[-1]
    lo = max(min(values), 1e-30)
    spread = max(values) / lo
    msg = (f"weight-gradient norms from the input layer to the output layer: "
           + ", ".join(f"{k} {v:.1e}" for k, v in zip(keys, values)))
    if len(values) > 1 and spread >= GRADIENT_SPREAD:
        if first < last:
            return [Finding("vanishing_gradients", "problem", msg + f" (the first layer's is "
                            f"{last / max(first, 1e-30):.0e} times smaller)",
                            "gradients vanish on the way back: use ReLU-family activations with "
                            "he_normal init, glorot init for tanh, BatchNorm, residual blocks, "
                            "or a shallower net", None, first / last)]
        return [Finding("exploding_gradients", "problem", msg + f" (the first layer's is "
                        f"{first / max(last, 1e-30):.0e} times larger)",
                        "gradients explode on the way back: smaller init, gradient clipping "
                        "(clip_norm=...), BatchNorm, a lower learning rate", None,
                        first / max(last, 1e-30))]
    return [Finding("gradient_flow", "ok", msg, "", None, spread)]


def check_update_ratios(ratios: dict[str, float]) -> list[Finding]:
    """||delta W|| / ||W|| per update, healthy near 1e-3 (cs231n)."""
    out = []
    for k, r in ratios.items():
        layer = int(k.split(".")[0])
        if r < UPDATE_RATIO_LOW or r > UPDATE_RATIO_HIGH:
            sev = "problem"
        elif r < UPDATE_RATIO_WARN_LOW or r > UPDATE_RATIO_WARN_HIGH:
            sev = "warning"
        else:
            sev = "ok"
        advice = ""
        if sev != "ok":
            advice = ("learning rate too low: raise it (about x10 per 10x below 1e-3)"
                      if r < UPDATE_RATIO_WARN_LOW else
                      "learning rate too high: lower it (updates should be ~1e-3 of the weights)")
        out.append(Finding("update_ratio", sev, f"update/weight ratio of {k} is {r:.1e} "
                           "(healthy near 1e-3)", advice, layer, r))
    return out


def check_initial_loss(model: Sequential, loss: Any, X, y) -> Finding | None:
    """At initialization a classifier should be uninformed: softmax cross-entropy near ln C.
    Much higher means confident wrong outputs (weights or inputs too large)."""
    loss = get_loss(loss)
    expected = expected_initial_loss(loss, model.out_features)
    if expected is None:
        return None
    out = model.forward(model.check_input(X), training=False)
    value = float(loss(out, loss.validate_targets(y, out)))
    far = value > expected + max(0.5, 0.25 * expected)
    low = value < 0.75 * expected
    msg = f"initial loss {value:.3f}, expected about {expected:.3f} (" + (
        f"ln {model.out_features})" if expected != math.log(2.0) else "ln 2)")
    if far:
        return Finding("initial_loss", "problem", msg + ": the untrained net is confidently wrong",
                       "output weights or inputs too large: standardize the inputs, use a "
                       "smaller init for the last layer (glorot/lecun), check the labels",
                       None, value)
    if low:
        return Finding("initial_loss", "warning", msg + ": lower than chance before training",
                       "check for labels leaking into the inputs or a pretrained state", None,
                       value)
    return Finding("initial_loss", "ok", msg, "", None, value)


def diagnose(model: Sequential, loss: Any, X, y=None, *, initial: bool = False) -> Report:
    """All batch checks on (X, y): activations over all of X, gradient flow (needs y), and the
    initial-loss check with ``initial=True`` (meaningful before training only)."""
    report = Report(check_activations(activation_statistics(model, X)))
    if y is not None:
        report.findings += check_gradients(gradient_norms(model, loss, X, y))
        if initial:
            f = check_initial_loss(model, loss, X, y)
            if f is not None:
                report.findings.append(f)
    return report
