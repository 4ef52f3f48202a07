"""Findings in words: each check turns numbers from :mod:`.stats` into a :class:`Finding` with a
severity, the evidence, and the classic advice (cs231n's "babysitting the learning process",
Glorot & Bengio 2010 on saturation, Ng on bias and variance).

Checks look at one quantity each; :func:`explain` then follows causes across them, so that the
advice names what to fix first: a learning rate too high kills ReLUs, dead ReLUs pass no
gradient, and no gradient means no update. A finding explained by another keeps its numbers and
names its ``cause``; :attr:`Report.headline` is the worst finding that nothing else explains.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import NotBuiltError
from ..losses import get_loss
from ..network import Sequential
from .stats import (
    LayerStats,
    activation_statistics,
    expected_initial_loss,
    gradient_norms,
    weight_gains,
)

#: thresholds, in one place so that reports can quote them
DEAD_WARNING, DEAD_PROBLEM = 0.10, 0.25
SATURATED_WARNING, SATURATED_PROBLEM = 0.10, 0.25
COLLAPSED_STD = 1e-2  # hidden activations this small carry almost no signal
GRADIENT_SPREAD = 1e3  # largest/smallest per-layer gradient norm ratio
UPDATE_RATIO_LOW, UPDATE_RATIO_HIGH = 1e-5, 1e-1
UPDATE_RATIO_WARN_LOW, UPDATE_RATIO_WARN_HIGH = 1e-4, 1e-2
SMALL_GAIN, LARGE_GAIN = 0.5, 3.0  # weight gains (stats.weight_gains): glorot ~1, he_normal ~1.4
LOSS_ROSE = 1.1  # an epoch's mean loss this far above the untrained loss: overshoot

SEVERITIES = ("ok", "warning", "problem")
#: the order in which root causes are named when equally severe (causes before consequences)
CAUSE_ORDER = (
    "learning_rate",
    "exploding_gradients",
    "dead_relu",
    "saturation",
    "collapsed_activations",
    "vanishing_gradients",
    "no_gradient",
    "update_ratio",
    "initial_loss",
    "bias_variance",
)


@dataclass
class Finding:
    """One diagnostic result: ``check`` names the test, ``message`` states the evidence in
    numbers, ``advice`` says what to do (empty when all is well). ``cause`` names the check
    whose finding explains this one (then ``advice`` says how), None for a root cause."""

    check: str
    severity: str
    message: str
    advice: str = ""
    layer: int | None = None
    value: float | None = None
    cause: str | None = None

    def __str__(self) -> str:
        tag = {"ok": "ok     ", "warning": "WARNING", "problem": "PROBLEM"}[self.severity]
        text = f"[{tag}] {self.message}"
        if self.cause is not None:
            return (
                text
                + f"\n          <- caused by {self.cause}"
                + (f": {self.advice}" if self.advice else "")
            )
        return text + (f"\n          -> {self.advice}" if self.advice else "")


#: how an ok finding is summed up in one number on the report's ok lines
_BRIEF = {
    "dead_relu": "{:.0%} dead",
    "saturation": "{:.0%} saturated",
    "collapsed_activations": "std {:.2g}",
    "update_ratio": "ratio {:.1e}",
}


def _ratio(f: Finding) -> float:
    """The update/weight ratio an ``update_ratio`` finding holds in ``value``."""
    assert f.value is not None, f"an update_ratio finding without its ratio: {f}"
    return f.value


def _brief(f: Finding) -> str:
    if f.layer is not None and f.value is not None and f.check in _BRIEF:
        return f"layer {f.layer} " + _BRIEF[f.check].format(f.value)
    return f.message


def _rank(f: Finding) -> tuple:
    order = CAUSE_ORDER.index(f.check) if f.check in CAUSE_ORDER else len(CAUSE_ORDER)
    return (-SEVERITIES.index(f.severity), order, -1 if f.layer is None else f.layer)


@dataclass
class Report:
    """Findings; printed root causes first (the headline first), then what they explain, then
    the passed checks with their numbers."""

    findings: list[Finding] = field(default_factory=list)

    def problems(self, check: str | None = None) -> list[Finding]:
        return [
            f for f in self.findings if f.severity != "ok" and (check is None or f.check == check)
        ]

    def by_check(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]

    def roots(self) -> list[Finding]:
        """Problems and warnings that no other finding explains, the one to fix first first."""
        return sorted((f for f in self.problems() if f.cause is None), key=_rank)

    @property
    def headline(self) -> Finding | None:
        """The root cause to fix first: the worst finding nothing else explains (ties broken
        by :data:`CAUSE_ORDER`); None when all checks passed."""
        roots = self.roots()
        return roots[0] if roots else None

    @property
    def ok(self) -> bool:
        return not self.problems()

    def __str__(self) -> str:
        explained = sorted((f for f in self.problems() if f.cause is not None), key=_rank)
        lines, advised = [], set()
        for f in self.roots() + explained:  # the same advice for several layers is given once
            lines.append(str(f) if f.advice not in advised else str(replace(f, advice="")))
            advised.add(f.advice)
        passed: dict[str, list[str]] = {}
        for f in self.findings:
            if f.severity == "ok":
                passed.setdefault(f.check, []).append(_brief(f))
        lines += [f"[ok     ] {check}: " + ", ".join(briefs) for check, briefs in passed.items()]
        return "\n".join(lines) or "no findings"


def _grade(value: float, warning: float, problem: float) -> str:
    return "problem" if value >= problem else "warning" if value >= warning else "ok"


DEAD_ADVICE = (
    "the usual cause is a learning rate too high (diagnose(..., history=...) checks "
    "the losses), else a negative bias or a bad init: lower the learning rate, use "
    "he_normal init, a small positive bias, or LeakyReLU"
)
SATURATION_ADVICE = (
    "weights too large for the input scale: use glorot (Xavier) init, "
    "standardize the inputs, or add BatchNorm before the activation"
)
COLLAPSE_ADVICE = (
    "weights too small (e.g. N(0, 0.01) in a deep net): use glorot init for "
    "tanh/sigmoid or he_normal for ReLU, or BatchNorm"
)


def check_activations(stats: Iterable[LayerStats]) -> list[Finding]:
    """Dead ReLUs, saturated tanh/sigmoid units, and collapsed (vanishing) activations.

    A collapse at or after a layer whose ReLUs are mostly dead is put down to the dead units
    (``cause="dead_relu"``): a dead layer passes a constant on, whatever the weights' scale.
    """
    stats = list(stats)
    out = []
    hidden = [s for s in stats[:-1] if s.kind is not None]  # the last layer is the output
    first_dead = None
    for s in hidden:
        if s.dead is not None:
            sev = _grade(s.dead, DEAD_WARNING, DEAD_PROBLEM)
            out.append(
                Finding(
                    "dead_relu",
                    sev,
                    f"{s.dead:.0%} of the ReLU units in {s.label} are dead (zero on every example)",
                    "" if sev == "ok" else DEAD_ADVICE,
                    s.index,
                    s.dead,
                )
            )
            if sev == "problem" and first_dead is None:
                first_dead = s.index
        if s.saturated is not None:
            sev = _grade(s.saturated, SATURATED_WARNING, SATURATED_PROBLEM)
            out.append(
                Finding(
                    "saturation",
                    sev,
                    f"{s.saturated:.0%} of the {s.kind} outputs in {s.label} are saturated "
                    f"(gradient < 2% of its peak)",
                    "" if sev == "ok" else SATURATION_ADVICE,
                    s.index,
                    s.saturated,
                )
            )
        if s.kind in ("tanh", "sigmoid", "relu", "leaky_relu", "elu", "softplus", "identity"):
            if s.std >= COLLAPSED_STD:
                out.append(
                    Finding(
                        "collapsed_activations",
                        "ok",
                        f"activations in {s.label} have std {s.std:.2g}",
                        "",
                        s.index,
                        s.std,
                    )
                )
                continue
            msg = (
                f"activations in {s.label} have std {s.std:.1e}: the signal has collapsed "
                "toward a constant"
            )
            if first_dead is not None:
                out.append(
                    Finding(
                        "collapsed_activations",
                        "problem",
                        msg,
                        f"the dead ReLUs of layer {first_dead} pass on a constant "
                        "(not a sign of small weights)",
                        s.index,
                        s.std,
                        cause="dead_relu",
                    )
                )
            else:
                out.append(
                    Finding(
                        "collapsed_activations", "problem", msg, COLLAPSE_ADVICE, s.index, s.std
                    )
                )
    return out


def check_gradients(norms: dict[str, tuple[float, float]]) -> list[Finding]:
    """Vanishing or exploding gradients: how much the per-layer weight-gradient norms differ
    from the output layer back to the input layer; ``no_gradient`` when all are zero."""
    if not norms:
        return []
    keys = list(norms)
    values = [norms[k][0] for k in keys]
    if not all(math.isfinite(v) for v in values):
        bad = [k for k, v in zip(keys, values) if not math.isfinite(v)]
        return [
            Finding(
                "exploding_gradients",
                "problem",
                f"non-finite gradients in {bad}",
                "the loss diverged: lower the learning rate, clip gradients "
                "(clip_norm=...), standardize the inputs",
            )
        ]
    msg = "weight-gradient norms from the input layer to the output layer: " + ", ".join(
        f"{k} {v:.1e}" for k, v in zip(keys, values)
    )
    if max(values) == 0.0:  # no spread to judge: nothing reaches any weight
        return [
            Finding(
                "no_gradient",
                "problem",
                msg + ": every weight gradient is zero, nothing can learn",
                "dead ReLUs or a zeroed layer pass no gradient back: see the other findings",
                None,
                0.0,
            )
        ]
    first, last = values[0], values[-1]
    lo = max(min(values), 1e-30)
    spread = max(values) / lo
    if len(values) > 1 and spread >= GRADIENT_SPREAD:
        if first < last:
            return [
                Finding(
                    "vanishing_gradients",
                    "problem",
                    msg + f" (the first layer's is {last / max(first, 1e-30):.0e} times smaller)",
                    "gradients vanish on the way back: use ReLU-family activations with "
                    "he_normal init, glorot init for tanh, BatchNorm, residual blocks, "
                    "or a shallower net",
                    None,
                    first / last,
                )
            ]
        return [
            Finding(
                "exploding_gradients",
                "problem",
                msg + f" (the first layer's is {first / max(last, 1e-30):.0e} times larger)",
                "gradients explode on the way back: smaller init, gradient clipping "
                "(clip_norm=...), BatchNorm, a lower learning rate",
                None,
                first / max(last, 1e-30),
            )
        ]
    return [Finding("gradient_flow", "ok", msg + f" (spread {spread:.1f}x)", "", None, spread)]


def check_update_ratios(ratios: dict[str, float]) -> list[Finding]:
    """||delta W|| / ||W|| per update, healthy near 1e-3 (cs231n). A ratio of exactly 0 means
    a zero gradient, which no learning rate can fix."""
    out = []
    for k, r in ratios.items():
        layer = int(k.split(".")[0])
        if r == 0.0:
            out.append(
                Finding(
                    "update_ratio",
                    "problem",
                    f"update/weight ratio of {k} is 0: the weights did not move",
                    "a zero update means a zero "
                    "gradient, not a low learning rate: see the gradient and "
                    "dead-unit findings",
                    layer,
                    r,
                )
            )
            continue
        if r < UPDATE_RATIO_LOW or r > UPDATE_RATIO_HIGH:
            sev = "problem"
        elif r < UPDATE_RATIO_WARN_LOW or r > UPDATE_RATIO_WARN_HIGH:
            sev = "warning"
        else:
            sev = "ok"
        advice = ""
        if sev != "ok":
            advice = (
                "learning rate too low: raise it (about x10 per 10x below 1e-3)"
                if r < UPDATE_RATIO_WARN_LOW
                else "learning rate too high: lower it (updates should be ~1e-3 of the weights)"
            )
        out.append(
            Finding(
                "update_ratio",
                sev,
                f"update/weight ratio of {k} is {r:.1e} (healthy near 1e-3)",
                advice,
                layer,
                r,
            )
        )
    return out


def check_bias_variance(history: Any) -> Finding:
    """Ng's bias/variance verdict (:func:`~mlplab.diagnostics.bias_variance_report`) on a
    training history with validation results, as a finding with the first two remedies."""
    from .curves import bias_variance_report  # curves builds on this module's Finding

    r = bias_variance_report(history)
    sev = "problem" if (r.high_bias or r.high_variance) else "ok"
    msg = (
        f"{r.metric}: train {r.train_error:.3g}, validation {r.val_error:.3g} "
        f"(tolerance {r.tolerance:.2g}): {r.verdict}"
    )
    return Finding("bias_variance", sev, msg, "; ".join(r.remedies[:2]), None, r.variance)


def chance_level(value: float) -> str:
    """``value``, the loss of an uninformed classifier (:func:`~.stats.expected_initial_loss`:
    ln C for C classes, ln 2 for sigmoid outputs), in words: "the chance-level loss ln(10) =
    2.30". Not the untrained loss, which is measured on the net before training."""
    return f"the chance-level loss ln({round(math.exp(value))}) = {value:.2f}"


def check_initial_loss(model: Sequential, loss: Any, X, y) -> Finding | None:
    """At initialization a classifier should be uninformed: softmax cross-entropy near ln C.
    Much higher means confident wrong outputs (weights or inputs too large)."""
    loss = get_loss(loss)
    if model.out_features is None:
        raise NotBuiltError("check_initial_loss: call model.build(in_features, rng=...) first")
    expected = expected_initial_loss(loss, model.out_features)
    if expected is None:
        return None
    out = model.forward(model.check_input(X), training=False)
    value = float(loss(out, loss.validate_targets(y, out)))
    far = value > expected + max(0.5, 0.25 * expected)
    low = value < 0.75 * expected
    msg = f"initial loss {value:.3f}, expected near {chance_level(expected)}"
    if far:
        return Finding(
            "initial_loss",
            "problem",
            msg + ": the untrained net is confidently wrong",
            "output weights or inputs too large: standardize the inputs, use a "
            "smaller init for the last layer (glorot/lecun), check the labels",
            None,
            value,
        )
    if low:
        return Finding(
            "initial_loss",
            "warning",
            msg + ": lower than chance before training",
            "check for labels leaking into the inputs or a pretrained state",
            None,
            value,
        )
    return Finding("initial_loss", "ok", msg, "", None, value)


@dataclass
class Evidence:
    """What training showed besides the model's present state; every field may stay empty.

    ``losses``: mean training loss per epoch, oldest first. ``ratios``: ``{epoch: {"<i>.W":
    update/weight ratio}}`` of recorded updates (a monitor records the first of each watched
    epoch). ``initial_loss``: the untrained net's loss; ``chance_loss``: an uninformed
    classifier's (ln C). ``grad_norms``: :func:`~.stats.gradient_norms` now. ``gains``:
    :func:`~.stats.weight_gains` now.
    """

    losses: list[float] = field(default_factory=list)
    ratios: dict[int, dict[str, float]] = field(default_factory=dict)
    initial_loss: float | None = None
    chance_loss: float | None = None
    grad_norms: dict[str, tuple[float, float]] = field(default_factory=dict)
    gains: dict[str, float] = field(default_factory=dict)

    @property
    def trained(self) -> bool:
        return bool(self.losses or self.ratios)


def learning_rate_too_high(ev: Evidence) -> list[str]:
    """The signs, in numbers, that steps overshoot: an update/weight ratio above
    ``UPDATE_RATIO_HIGH``, a non-finite loss, the first epoch's mean loss above the untrained
    loss (measured: ``ev.initial_loss``) or else the chance-level loss (ln C:
    ``ev.chance_loss``), or a loss that rose from its best by more than 10% of the first
    epoch's."""
    signs = []
    high = [
        (r, e, k) for e, rs in ev.ratios.items() for k, r in rs.items() if r > UPDATE_RATIO_HIGH
    ]
    if high:
        r, e, k = max(high)
        signs.append(f"update/weight ratio up to {r:.1e} ({k} in epoch {e + 1}; healthy near 1e-3)")
    bad = [e for e, v in enumerate(ev.losses) if not math.isfinite(v)]
    if bad:
        signs.append(f"the loss became non-finite in epoch {bad[0] + 1}")
    finite = [v for v in ev.losses if math.isfinite(v)]
    # the measured loss of the untrained net where known, else the chance level (ln C)
    if ev.initial_loss is not None:
        untrained, named = ev.initial_loss, f"the untrained loss ({ev.initial_loss:.3g})"
    elif ev.chance_loss is not None:
        untrained, named = ev.chance_loss, chance_level(ev.chance_loss)
    else:
        untrained, named = None, ""
    if untrained is not None and finite and finite[0] > LOSS_ROSE * untrained:
        signs.append(f"the mean loss of epoch 1 ({finite[0]:.3g}) is above {named}")
    else:  # a rise judged against the first epoch's loss, so that noise near 0 is no sign
        for e in range(1, len(finite)):
            if finite[e] - min(finite[:e]) > (LOSS_ROSE - 1) * abs(finite[0]):
                signs.append(
                    f"the loss rose from {min(finite[:e]):.3g} to {finite[e]:.3g} in epoch {e + 1}"
                )
                break
    if (
        signs
        and untrained is not None
        and finite
        and abs(finite[-1] - untrained) < 0.05 * untrained
    ):
        signs.append(f"the loss is stuck at {finite[-1]:.3g}, near {named}")
    return signs


def _explain(f: Finding, cause: str, advice: str) -> None:
    f.cause, f.advice = cause, advice


def _gain_before(ev: Evidence, layer: int | None, pick) -> tuple[str, float] | None:
    """The smallest or largest (``pick``) gain among the weight matrices before ``layer``."""
    before = {k: g for k, g in ev.gains.items() if layer is None or int(k.split(".")[0]) < layer}
    if not before:
        return None
    k = pick(before, key=before.get)
    return k, before[k]


def explain(findings: Iterable[Finding], evidence: Evidence | None = None) -> list[Finding]:
    """Follow causes across findings so that the advice names what to fix, in place.

    - signs of a learning rate too high (:func:`learning_rate_too_high`) become one root finding
      ``learning_rate`` that explains dead ReLUs, saturation, exploding gradients and large
      update ratios;
    - dead ReLUs explain zero gradients (``no_gradient``), vanishing gradient spreads and zero
      or tiny updates (raising the learning rate cannot help there);
    - saturation and collapse explain vanishing gradients; the weights' gains decide whether
      they are put down to the init scale (large or small weights) or to the inputs;
    - update ratios all too low (with gradients flowing) become a root ``learning_rate``
      finding "too low"; low ratios beside high ones are a per-layer imbalance, not a reason
      to raise the rate;
    - high bias is explained by any other root problem (a net that cannot learn underfits).

    Returns the findings, with new root findings first.
    """
    ev = evidence if evidence is not None else Evidence()
    fs = list(findings)

    def roots(*checks: str) -> list[Finding]:
        return [f for f in fs if f.severity != "ok" and f.cause is None and f.check in checks]

    signs = learning_rate_too_high(ev)
    if signs:
        finite = [v for v in ev.losses if math.isfinite(v)]
        falls = (
            len(signs) == 1
            and signs[0].startswith("update/weight")
            and len(finite) > 1
            and len(finite) == len(ev.losses)
            and all(b < a for a, b in zip(finite, finite[1:]))
        )
        if falls:  # large steps that still converge: worth a look, not yet a failure
            signs.append(f"though the loss falls every epoch ({finite[0]:.3g} -> {finite[-1]:.3g})")
        fs.insert(
            0,
            Finding(
                "learning_rate",
                "warning" if falls else "problem",
                "the learning rate is too high: " + "; ".join(signs),
                "lower the learning rate (about 10x) and retrain from a fresh init",
            ),
        )
        for f in roots("dead_relu", "saturation", "exploding_gradients"):
            _explain(
                f,
                "learning_rate",
                {
                    "dead_relu": "a learning rate too high knocked them out; once it is "
                    "lowered, he_normal init or LeakyReLU make ReLUs harder to kill",
                    "saturation": "large steps pushed the pre-activations into the flat tails",
                    "exploding_gradients": "the loss diverged under large steps",
                }[f.check],
            )
        for f in roots("update_ratio"):
            if _ratio(f) > UPDATE_RATIO_WARN_HIGH:
                _explain(f, "learning_rate", "one of the signs above")
    elif ev.trained:
        for f in roots("dead_relu"):
            f.advice = (
                "no sign of a learning rate too high in the recorded losses and "
                "updates: check the biases and the init (he_normal, a small positive "
                "bias) or use LeakyReLU"
            )

    dead = [f for f in fs if f.check == "dead_relu" and f.severity == "problem"]
    if dead:
        where = ", ".join(str(f.layer) for f in dead)
        zero = {k for k, (g, _) in ev.grad_norms.items() if g == 0.0}
        for f in roots("no_gradient", "vanishing_gradients"):
            _explain(f, "dead_relu", f"the dead ReLUs (layer {where}) pass no gradient back")
        for f in roots("update_ratio"):
            key = f"{f.layer}.W"
            if _ratio(f) < UPDATE_RATIO_WARN_LOW and (
                f.value == 0.0 or key in zero or not ev.grad_norms
            ):
                _explain(
                    f,
                    "dead_relu",
                    f"no gradient reaches {key} through the dead ReLUs "
                    f"(layer {where}): a higher learning rate cannot help",
                )

    for f in roots("saturation"):
        big = _gain_before(ev, f.layer, max)
        if big is not None and big[1] > LARGE_GAIN:
            f.advice = (
                f"weights too large (gain {big[1]:.2g} in {big[0]}; glorot init gives "
                "about 1): use glorot (Xavier) init, or BatchNorm before the activation"
            )
        elif big is not None:
            f.advice = (
                f"the weights are not large (gains up to {big[1]:.2g}; glorot gives "
                "about 1), so the inputs are: standardize them, or add BatchNorm"
            )
    for f in roots("collapsed_activations"):
        small = _gain_before(ev, f.layer, min)
        if small is not None and small[1] < SMALL_GAIN:
            f.advice = (
                f"weights too small (gain {small[1]:.2g} in {small[0]}; glorot gives "
                "about 1, he_normal 1.4): use glorot init for tanh/sigmoid or "
                "he_normal for ReLU, or BatchNorm"
            )
        elif small is not None:
            f.advice = (
                f"the weights are not small (gains from {small[1]:.2g}): the inputs "
                "may be near-constant: standardize them, or add BatchNorm"
            )
    for source, how in (
        ("saturation", "saturated units pass almost no gradient back"),
        ("collapsed_activations", "a collapsed signal leaves the weight gradients near zero"),
    ):
        if roots(source):
            for f in roots("vanishing_gradients"):
                _explain(f, source, how)

    low = [f for f in roots("update_ratio") if _ratio(f) < UPDATE_RATIO_WARN_LOW]
    high = [
        f
        for f in fs
        if f.check in ("update_ratio", "learning_rate")
        and f.severity != "ok"
        and f.cause is None
        and (f.value is None or f.value > UPDATE_RATIO_WARN_HIGH)
    ]
    if low and high:
        for f in low:
            _explain(
                f,
                high[0].check,
                "this layer moves far less than the others: one "
                "learning rate cannot suit both; fix the fast layer first, then even the "
                "layers out (adam, BatchNorm)",
            )
    elif low:
        worst = min(low, key=_ratio)
        msg = (
            "the learning rate is too low: update/weight ratios "
            + ", ".join(f"{f.layer}.W {f.value:.1e}" for f in low)
            + " (healthy near 1e-3)"
        )
        finite = [v for v in ev.losses if math.isfinite(v)]
        if len(finite) > 1 and finite[0] > 0:
            msg += f"; the loss fell only {1 - finite[-1] / finite[0]:.1%} in {len(finite)} epochs"
        fs.insert(
            0,
            Finding(
                "learning_rate",
                worst.severity,
                msg,
                f"raise the learning rate (about 10x per decade below 1e-3, so "
                f"{1e-3 / _ratio(worst):.0f}x here)",
                None,
                worst.value,
            ),
        )
        for f in low:
            _explain(f, "learning_rate", "one of the signs above")

    for f in roots("bias_variance"):
        others = sorted(
            (
                g
                for g in fs
                if g is not f
                and g.severity == "problem"
                and g.cause is None
                and g.check != "bias_variance"
            ),
            key=_rank,
        )
        if others and "high bias" in f.message:
            _explain(
                f,
                others[0].check,
                "fix that first: a net that cannot learn underfits whatever its size",
            )
    return fs


def _history_dict(history: Any) -> dict:
    h = getattr(history, "history", history)
    if not isinstance(h, dict) or not isinstance(h.get("loss"), (list, tuple)):
        raise TypeError(
            "diagnose: history must be a History or its .history dict with a "
            f"'loss' list, got {type(history).__name__}"
        )
    return h


def diagnose(
    model: Sequential,
    loss: Any,
    X,
    y=None,
    *,
    initial: bool = False,
    history: Any = None,
    update_ratios: dict[str, float] | None = None,
) -> Report:
    """All checks on (X, y), with the causes followed across them (:func:`explain`).

    Parameters
    ----------
    model, loss : the network and its loss (name or object)
    X, y : a batch; activations are checked over all of X, gradient flow needs y
    initial : also check the loss of the untrained net (meaningful before training only)
    history : the training History (or its ``.history`` dict): its losses tell a learning rate
        too high, and with validation results it adds Ng's bias/variance verdict
    update_ratios : ``{"<i>.W": ||dW|| / ||W||}`` of a recent update (:func:`~.stats.
        update_ratios`), checked against the healthy 1e-3

    Returns a :class:`Report`; ``report.headline`` is the root cause to fix first.
    """
    h = None if history is None else _history_dict(history)
    findings = check_activations(activation_statistics(model, X))
    ev = Evidence(gains=weight_gains(model))
    if h is not None:
        ev.losses = [float(v) for v in h["loss"]]
    if update_ratios:
        findings += check_update_ratios(update_ratios)
        ev.ratios = {max(len(ev.losses) - 1, 0): dict(update_ratios)}
    if y is not None:
        ev.grad_norms = gradient_norms(model, loss, X, y)
        findings += check_gradients(ev.grad_norms)
        assert model.out_features is not None  # built: activation_statistics checked
        ev.chance_loss = expected_initial_loss(loss, model.out_features)
        if initial:
            f = check_initial_loss(model, loss, X, y)
            if f is not None:
                findings.append(f)
                ev.initial_loss = f.value
    if h is not None and h.get("val_loss"):
        findings.append(check_bias_variance(h))
    return Report(explain(findings, ev))
