"""The demo's figure: ACT CDF of both runs, and a per-app timeline of each run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from hermes_agents.demo.runner import AppOutcome
from hermes_agents.demo.summary import RunSummary


def plot_demo(runs: Sequence[tuple[str, RunSummary]], path: str | Path) -> Path:
    """Write the figure (PNG) to ``path``: one CDF panel, one timeline per run."""
    classes = sorted({o.app for _, run in runs for o in run.outcomes})
    colours = {name: plt.get_cmap("tab10")(i % 10) for i, name in enumerate(classes)}
    figure, axes = plt.subplots(
        1, 1 + len(runs), figsize=(5.5 * (1 + len(runs)), 5.5), layout="constrained"
    )
    cdf, timelines = axes[0], axes[1:]
    for label, run in runs:
        values = np.sort([o.act_s for o in run.outcomes])
        share = np.arange(1, values.size + 1) / max(values.size, 1)
        cdf.step(values, share, where="post", label=f"{label} (mean {run.mean_s:.1f} s)")
    cdf.set(title="app completion time (CDF)", xlabel="ACT (s)", ylabel="share of apps")
    cdf.grid(alpha=0.3)
    cdf.legend(fontsize="small")
    end = max((o.finished_s for _, run in runs for o in run.outcomes), default=1.0)
    for axis, (label, run) in zip(timelines, runs, strict=True):
        _timeline(axis, run.outcomes, colours, end)
        axis.set_title(f"{label}: each app from arrival to finish")
    handles = [Rectangle((0, 0), 1, 1, color=colours[name]) for name in classes]
    timelines[-1].legend(handles, classes, fontsize="small", loc="lower right")
    path = Path(path)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


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
