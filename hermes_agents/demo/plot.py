"""The demo's figure: the ACT CDF of every run, and a per-app timeline of each run.

Panels in a grid of two columns (the CDF first); the app classes' legend sits below the
panels, outside the data. matplotlib comes with the ``cli`` extra.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hermes_agents.demo.runner import AppOutcome
from hermes_agents.demo.summary import RunSummary
from hermes_agents.extras import needs_extra
from hermes_agents.sim.plot import palette

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_PANEL_IN = (6.0, 4.6)
"""Width and height of one panel, inches."""


def plot_demo(runs: Sequence[tuple[str, RunSummary]], path: str | Path) -> Path:
    """Write the figure (PNG) to ``path``: one CDF panel, one timeline per run."""
    with needs_extra("cli"):
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle
    classes = sorted({o.app for _, run in runs for o in run.outcomes})
    colours = palette(classes)
    rows = math.ceil((1 + len(runs)) / 2)
    figure = Figure(figsize=(2 * _PANEL_IN[0], rows * _PANEL_IN[1]), layout="constrained")
    axes = list(figure.subplots(rows, 2, squeeze=False).flat)
    _cdf(axes[0], runs)
    end = max((o.finished_s for _, run in runs for o in run.outcomes), default=1.0)
    for axis, (label, run) in zip(axes[1:], runs, strict=False):
        _timeline(axis, run.outcomes, colours, end)
        axis.set_title(f"{label}: each app from arrival to finish")
    for spare in axes[1 + len(runs) :]:
        spare.set_visible(False)
    handles = [Rectangle((0, 0), 1, 1, color=colours[name]) for name in classes]
    figure.legend(
        handles, classes, loc="outside lower center", ncols=len(classes), title="app class"
    )
    path = Path(path)
    figure.savefig(path, dpi=100)
    return path


def _cdf(axis: Axes, runs: Sequence[tuple[str, RunSummary]]) -> None:
    for label, run in runs:
        values = np.sort([o.act_s for o in run.outcomes])
        share = np.arange(1, values.size + 1) / max(values.size, 1)
        axis.step(values, share, where="post", label=f"{label} (mean {run.mean_s:.1f} s)")
    axis.set(
        title="app completion time (CDF)",
        xlabel="app completion time, ACT (s)",
        ylabel="share of apps",
    )
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small", loc="lower right")


def _timeline(
    axis: Axes, outcomes: Sequence[AppOutcome], colours: Mapping[str, Any], end_s: float
) -> None:
    for outcome in outcomes:
        axis.barh(
            outcome.index,
            outcome.act_s,
            left=outcome.arrival_s,
            height=0.8,
            color=colours[outcome.app],
            hatch="xx" if outcome.error else None,
        )
    axis.set(xlabel="seconds since the run started", ylabel="app (arrival order)")
    axis.set_xlim(0, end_s * 1.02)
    axis.invert_yaxis()
    axis.grid(axis="x", alpha=0.3)
