"""Finite-difference gradient checking for models, single layers and losses."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..backend import to_numpy
from ..errors import check_generator, check_matrix, check_positive_int
from ..layers.base import Layer
from ..losses import get_loss
from ..network import Sequential


@dataclass
class GradcheckRow:
    """One tensor's comparison; ``checked`` entries of its ``size`` were perturbed (all of them
    unless ``gradcheck(max_entries=...)`` sampled), and the errors are over those entries."""

    name: str
    shape: tuple[int, ...]
    max_abs_error: float
    relative_error: float
    checked: int | None = None

    def __post_init__(self):
        if self.checked is None:
            self.checked = self.size

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass
class GradcheckReport:
    """Per tensor: ``||g_backprop - g_numeric|| / max(||g_backprop||, ||g_numeric||)``.

    A tensor passes when that relative error is below ``tolerance``, or when every entry agrees
    to ``atol`` in absolute terms: a gradient that is exactly zero (a bias before BatchNorm) has
    only finite-difference noise (~1e-10) to compare, and no meaningful relative error.
    """

    rows: list[GradcheckRow] = field(default_factory=list)
    tolerance: float = 1e-6
    atol: float = 1e-8

    def row_passed(self, row: GradcheckRow) -> bool:
        return row.relative_error < self.tolerance or row.max_abs_error < self.atol

    @property
    def errors(self) -> dict[str, float]:
        return {r.name: r.relative_error for r in self.rows}

    @property
    def max_error(self) -> float:
        """The largest relative error, leaving out tensors that pass on ``atol`` alone."""
        return max(
            (
                r.relative_error
                for r in self.rows
                if r.relative_error < self.tolerance or r.max_abs_error >= self.atol
            ),
            default=0.0,
        )

    @property
    def passed(self) -> bool:
        return all(self.row_passed(r) for r in self.rows)

    def __str__(self) -> str:
        head = f"{'tensor':<16}{'shape':<14}{'checked':>14}{'max |diff|':>12}{'rel. error':>12}  ok"
        lines = [head, "-" * len(head)]
        for r in self.rows:
            ok = "yes" if self.row_passed(r) else "NO"
            lines.append(
                f"{r.name:<16}{str(r.shape):<14}{f'{r.checked}/{r.size}':>14}"
                f"{r.max_abs_error:>12.2e}{r.relative_error:>12.2e}  {ok}"
            )
        verdict = "PASSED" if self.passed else "FAILED"
        lines.append(
            f"{verdict}: max relative error {self.max_error:.2e} "
            f"(tolerance {self.tolerance:.0e}, or every entry within {self.atol:.0e}; "
            "float64 central differences)"
        )
        checked, size = self.checked, sum(r.size for r in self.rows)
        if checked < size:
            lines.append(
                f"checked {checked} of {size} entries (a random sample per tensor); "
                "the errors are over the checked entries only"
            )
        return "\n".join(lines)

    @property
    def checked(self) -> int:
        """How many entries were perturbed, over all tensors."""
        total = 0
        for r in self.rows:
            assert r.checked is not None  # GradcheckRow.__post_init__ sets it
            total += r.checked
        return total


def _float64_clone(target: Sequential | Layer, in_features: int) -> Sequential:
    """An unbuilt-independent float64 NumPy copy of ``target`` with the same weights."""
    layers = target.layers if isinstance(target, Sequential) else [target]
    clone = Sequential([type(layer).from_config(layer.get_config()) for layer in layers])
    clone.build(in_features, rng=np.random.default_rng(0), dtype="float64", xp=np)
    if target.built:
        src = (
            target.get_state()
            if isinstance(target, Sequential)
            else {f"0.{k}": v for k, v in {**target.params, **target.state}.items()}
        )
        clone.set_state({k: to_numpy(v).astype(np.float64) for k, v in src.items()})
    return clone


def gradcheck(
    target: Sequential | Layer,
    loss: Any = None,
    X: Any = None,
    y: Any = None,
    *,
    training: bool = False,
    eps: float = 1e-6,
    tolerance: float = 1e-6,
    atol: float = 1e-8,
    include_input: bool = True,
    seed: int = 0,
    max_entries: int | None = None,
    rng: np.random.Generator | None = None,
) -> GradcheckReport:
    """Compare backprop gradients with float64 central differences.

    ``(L(w + eps) - L(w - eps)) / (2 eps)`` for every parameter entry and every
    input entry, on a float64 NumPy copy of ``target`` (the original is not touched). With
    ``loss=None`` (e.g. for a single layer) the scalar is ``L = sum(out * R)`` for a fixed random
    R, so ``dout = R``. ``training=True`` checks the training-mode pass; random masks are replayed
    identically for every evaluation.

    Each entry costs two forward passes of the whole batch, so a 50k-parameter model takes
    tens of seconds: ``max_entries=n`` checks at most ``n`` entries per tensor, drawn without
    replacement from ``rng`` (required then), and the report says how many were checked.

    Returns a :class:`GradcheckReport`; ``print(report)`` gives a table, ``report.passed`` the
    verdict. Keep inputs away from kinks (ReLU at 0, hinge at the margin): there the numeric
    derivative is not defined.
    """
    if max_entries is not None:
        max_entries = check_positive_int("gradcheck", "max_entries", max_entries)
        if rng is None:
            raise ValueError(
                "gradcheck: max_entries samples entries at random and needs an "
                "explicit rng=numpy.random.default_rng(seed), got rng=None"
            )
        check_generator("gradcheck", rng)
    elif rng is not None:
        raise ValueError(
            "gradcheck: rng is only used to sample entries; give max_entries=... "
            "too, or leave rng=None to check every entry"
        )
    if not isinstance(target, (Sequential, Layer)):
        raise TypeError(
            f"gradcheck: target must be a Sequential or a Layer, got {type(target).__name__}"
        )
    if X is None:
        raise ValueError("gradcheck: X is required (a small batch, e.g. 4 rows)")
    X = np.array(to_numpy(check_matrix("gradcheck", X, what="X")), dtype=np.float64)
    model = _float64_clone(target, X.shape[1])
    R = None
    if loss is None:
        assert model.out_features is not None  # _float64_clone built it
        R = np.random.default_rng(seed).standard_normal((X.shape[0], model.out_features))
    else:
        loss = get_loss(loss)
        if y is None:
            raise ValueError("gradcheck: y is required when a loss is given")
        y = to_numpy(y)
    generators = model.generators()
    snapshot = [g.bit_generator.state for g in generators]

    def evaluate(x: np.ndarray) -> tuple[float, np.ndarray]:
        for g, s in zip(generators, snapshot):
            g.bit_generator.state = s
        out = model.forward(x, training=training)
        if R is not None:
            return float(np.sum(out * R)), R
        value, dout = loss.value_and_grad(out, y)
        return float(value), dout

    _, dout = evaluate(X)
    dx = model.backward(dout)
    tensors = dict(model.params())
    analytic = {k: np.array(v) for k, v in model.grads().items()}
    if include_input:
        tensors["input"] = X
        analytic["input"] = np.array(dx)

    report = GradcheckReport(tolerance=tolerance, atol=atol)
    for name, p in tensors.items():
        flat = p.reshape(-1)  # a view: parameters are contiguous
        entries = np.arange(flat.size)
        if max_entries is not None and flat.size > max_entries:
            assert rng is not None  # required with max_entries (checked above)
            entries = np.sort(rng.choice(flat.size, size=max_entries, replace=False))
        numeric = np.empty(entries.shape)
        for j, i in enumerate(entries):
            old = flat[i]
            flat[i] = old + eps
            plus = evaluate(X)[0]
            flat[i] = old - eps
            minus = evaluate(X)[0]
            flat[i] = old
            numeric[j] = (plus - minus) / (2 * eps)
        a = analytic[name].reshape(-1)[entries]
        denom = max(np.linalg.norm(a), np.linalg.norm(numeric))
        rel = 0.0 if denom < 1e-300 else float(np.linalg.norm(a - numeric) / denom)
        report.rows.append(
            GradcheckRow(
                name, tuple(p.shape), float(np.max(np.abs(a - numeric))), rel, int(entries.size)
            )
        )
    return report
