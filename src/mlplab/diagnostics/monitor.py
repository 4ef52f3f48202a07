"""``TrainingMonitor``: the per-layer diagnostics as a callback, with advice each epoch."""

from __future__ import annotations

import numpy as np

from ..backend import copy, to_numpy
from ..errors import check_positive_int
from ..train.callbacks import Callback
from .advice import (
    Evidence,
    Report,
    check_activations,
    check_gradients,
    check_initial_loss,
    check_update_ratios,
    explain,
)
from .stats import (
    activation_statistics,
    expected_initial_loss,
    gradient_norms,
    update_ratios,
    weight_gains,
)


class EpochReports(dict):
    """``{epoch: Report}`` for the watched epochs (0-based). Looking up an epoch that was not
    watched raises a ``KeyError`` that names the recorded epochs and the nearest one;
    :meth:`nearest` returns that one's report."""

    def __init__(self, every: int = 1):
        super().__init__()
        self.every = every

    def nearest(self, epoch: int) -> tuple[int, Report]:
        """``(recorded_epoch, report)`` for the recorded epoch closest to ``epoch`` (the
        earlier one on a tie)."""
        if not self:
            raise KeyError(f"TrainingMonitor: no report recorded yet (asked for {epoch=})")
        best = min(self, key=lambda e: (abs(e - epoch), e))
        return best, self[best]

    def __missing__(self, epoch):
        if not self:
            raise KeyError(
                f"TrainingMonitor: no report for {epoch=}: none recorded yet "
                "(reports are made at the end of watched epochs)"
            )
        recorded = sorted(self)
        shown = recorded if len(recorded) <= 12 else recorded[:6] + ["..."] + recorded[-5:]
        hint = ""
        if isinstance(epoch, int) and not isinstance(epoch, bool):
            hint = f"; the nearest is epoch {self.nearest(epoch)[0]} (reports.nearest({epoch}))"
        raise KeyError(
            f"TrainingMonitor: no report for {epoch=}: reports are made every "
            f"{self.every} epoch(s), 0-based, at epochs {shown}{hint}"
        )


class TrainingMonitor(Callback):
    """Watch a probe set while training: activation statistics, dead ReLUs, saturation,
    per-layer gradient norms, and the update/weight ratio of the first update of each epoch.

    ``reports[epoch]`` holds the findings (a :class:`Report`, 0-based epochs, every ``every``
    epochs: see :class:`EpochReports` for the other epochs), ``initial`` the initial-loss
    check of a fresh run, and ``history`` per-epoch numbers for plots:
    ``{"epoch", "grad_norm": {key: float}, "update_ratio": {...}, "dead": {layer: fraction},
    "saturated": {...}, "std": {...}}``. With ``verbose`` the problems are printed as found.

    Each report follows causes across the checks (:func:`~.advice.explain`) with the evidence
    of the whole run so far: the training loss of every epoch and the update ratios of the
    earlier watched epochs (a learning rate that killed ReLUs in epoch 1 is still named when
    the dead units leave nothing to update in epoch 3).
    """

    def __init__(self, X, y=None, *, every: int = 1, verbose: bool = False):
        self.X, self.y = X, y
        self.every = check_positive_int("TrainingMonitor", "every", every)
        self.verbose = verbose
        self.reports: EpochReports = EpochReports(self.every)
        self.losses: list[float] = []
        self.history: list[dict] = []
        self.initial = None
        self._before: dict | None = None
        self._ratios: dict[str, float] = {}

    def on_train_begin(self, trainer):
        super().on_train_begin(trainer)
        if trainer.epoch == 0 and self.y is not None:
            self.initial = check_initial_loss(trainer.model, trainer.loss, self.X, self.y)
            if self.verbose and self.initial is not None and self.initial.severity != "ok":
                print(self.initial)

    def _watching(self, epoch: int) -> bool:
        return epoch % self.every == 0

    def on_epoch_begin(self, epoch):
        self._epoch = epoch
        self._before = None
        if self._watching(epoch):
            xp = self.trainer.model.xp
            self._before = {
                k: copy(xp, v) for k, v in self.trainer.model.params().items() if k.endswith(".W")
            }

    def on_batch_end(self, step, logs):
        if self._before is not None:  # the first update of a watched epoch
            self._ratios = update_ratios(self._before, self.trainer.model.params())
            self._before = None

    def on_epoch_end(self, epoch, logs):
        self.losses.append(float(logs.get("loss", float("nan"))))
        if self._watching(epoch):
            self._report(epoch)

    def on_train_end(self, logs):
        # a diverged epoch has no epoch end: report it (on the restored weights), with the
        # non-finite loss as evidence, whether or not it was a watched epoch
        epoch = getattr(self.trainer, "diverged_at", None)
        if epoch is not None and epoch not in self.reports:
            self.losses.append(float("nan"))
            self._report(epoch)

    def _report(self, epoch: int) -> None:
        model = self.trainer.model
        with np.errstate(all="ignore"):  # a diverging net is what it is here to report
            stats = activation_statistics(model, self.X)
            findings = check_activations(stats) + check_update_ratios(self._ratios)
            norms = {}
            if self.y is not None:
                norms = gradient_norms(model, self.trainer.loss, self.X, self.y)
                findings += check_gradients(norms)
            ratios = {h["epoch"]: h["update_ratio"] for h in self.history}
            ratios[epoch] = dict(self._ratios)
            findings = explain(
                findings,
                Evidence(
                    losses=list(self.losses),
                    ratios=ratios,
                    initial_loss=None if self.initial is None else self.initial.value,
                    chance_loss=expected_initial_loss(self.trainer.loss, model.out_features),
                    grad_norms=norms,
                    gains=weight_gains(model),
                ),
            )
        report = Report(findings)
        self.reports[epoch] = report
        self.history.append(
            {
                "epoch": epoch,
                "grad_norm": {k: g for k, (g, _) in norms.items()},
                "update_ratio": dict(self._ratios),
                "dead": {s.index: s.dead for s in stats if s.dead is not None},
                "saturated": {s.index: s.saturated for s in stats if s.saturated is not None},
                "std": {s.index: s.std for s in stats if s.kind is not None},
            }
        )
        if self.verbose and not report.ok:
            print(f"diagnostics after epoch {epoch + 1}:\n{report}")

    def plot_gradient_norms(self, ax=None):
        """Per-layer weight-gradient norms over the watched epochs (log scale): lines that
        drift apart by orders of magnitude show vanishing or exploding gradients."""
        from matplotlib.figure import Figure

        fig = ax.figure if ax is not None else Figure(figsize=(6, 4))
        ax = ax if ax is not None else fig.add_subplot()
        epochs = [h["epoch"] + 1 for h in self.history]
        keys = list(self.history[0]["grad_norm"]) if self.history else []
        for k in keys:
            ax.plot(epochs, [h["grad_norm"][k] for h in self.history], label=k)
        ax.set(yscale="log", xlabel="epoch", ylabel="||dL/dW||", title="gradient norm per layer")
        if keys:
            ax.legend(fontsize="small")
        return fig


def plot_activation_histograms(model, X, *, bins: int = 50, title: str | None = None, axes=None):
    """One histogram per activation layer of its outputs on ``X`` (cs231n's initialization
    figure: collapsing, saturating or healthy spreads). Returns the Figure."""
    from matplotlib.figure import Figure

    from .stats import activation_kind, layer_outputs

    outs = layer_outputs(model, X)
    last = len(model.layers) - 1  # the output layer is not a hidden activation
    chosen = [
        (i, kind, o)
        for i, (layer, o) in enumerate(zip(model.layers, outs))
        if (kind := activation_kind(layer)) is not None and i != last
    ]
    if axes is None:
        fig = Figure(figsize=(2.2 * max(len(chosen), 1), 2.4))
        axes = fig.subplots(1, max(len(chosen), 1), squeeze=False)[0]
    else:
        fig = axes[0].figure
    # bounded activations share a fixed axis, so a collapse shows as a spike at 0
    ranges = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}
    for ax, (i, kind, a) in zip(axes, chosen):
        a = np.asarray(to_numpy(a)).ravel()
        ax.hist(a, bins=bins, range=ranges.get(kind))
        ax.set_title(f"layer {i}\nmean {a.mean():.2g} std {a.std():.2g}", fontsize="small")
        ax.tick_params(labelsize="x-small")
    if title:
        fig.suptitle(title)
    return fig
