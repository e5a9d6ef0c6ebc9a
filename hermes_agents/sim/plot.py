"""The comparison figure: ACT CDF per policy (one panel per load), mean and p95 bars per load.

ACT is the app completion time. matplotlib comes with the ``cli`` extra and is imported when a
figure is drawn; the figure is drawn on matplotlib's Agg canvas (no display, no pyplot state).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hermes_agents.extras import needs_extra
from hermes_agents.sim.metrics import Key, Pooled

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def _label(key: Key) -> str:
    policy, prewarm, _ = key
    return policy if prewarm == "off" else f"{policy} ({prewarm})"


def palette(labels: list[str]) -> dict[str, Any]:
    """One tab10 colour per label, in order (the same in every panel)."""
    with needs_extra("cli"):
        from matplotlib import colormaps
    tab10 = colormaps["tab10"]
    return {label: tab10(i % 10) for i, label in enumerate(labels)}


def plot_bench(pooled: Mapping[Key, Pooled], path: str | Path, title: str = "") -> Path:
    """Write the figure to ``path`` (PNG) and return the path. One legend, right of the
    panels (outside the data), names the policies of every panel."""
    with needs_extra("cli"):
        from matplotlib.figure import Figure
    loads = sorted({key[2] for key in pooled})
    labels = list(dict.fromkeys(_label(key) for key in pooled))
    colours = palette(labels)
    figure = Figure(figsize=(max(10.0, 4.2 * len(loads)), 8.5), layout="constrained")
    grid = figure.add_gridspec(2, 1)
    top, bottom = figure.add_subfigure(grid[0]), figure.add_subfigure(grid[1])
    cdf_axes = [top.add_subplot(1, len(loads), i + 1) for i in range(len(loads))]
    for axis, load in zip(cdf_axes, loads, strict=True):
        _cdf(axis, pooled, load, colours)
    bar_axes = [bottom.add_subplot(1, 2, i + 1) for i in range(2)]
    for axis, (statistic, name) in zip(
        bar_axes, (("mean_s", "mean"), ("p95_s", "p95")), strict=True
    ):
        _bars(axis, pooled, loads, labels, colours, statistic)
        axis.set(title=f"{name} ACT by load", xlabel="load", ylabel=f"{name} ACT (s)")
    handles, names = bar_axes[0].get_legend_handles_labels()
    seeds = max(p.seeds for p in pooled.values())
    note = "\n(bars' whiskers:\n± sd across seeds)" if seeds > 1 else ""
    figure.legend(
        handles, names, loc="outside right upper", fontsize="small", title=f"policy{note}"
    )
    if title:
        figure.suptitle(title)
    path = Path(path)
    figure.savefig(path, dpi=100)
    return path


def _cdf(axis: Axes, pooled: Mapping[Key, Pooled], load: float, colours: Mapping[str, Any]) -> None:
    for key, row in pooled.items():
        if key[2] == load:
            values = np.sort(row.act_s)
            share = np.arange(1, values.size + 1) / values.size
            label = _label(key)
            axis.step(values, share, where="post", label=label, color=colours[label])
    axis.set_xscale("log")
    axis.set(
        title=f"ACT CDF, load {load:g}", xlabel="app completion time (s)", ylabel="share of apps"
    )
    axis.grid(alpha=0.3)


def _bars(
    axis: Axes,
    pooled: Mapping[Key, Pooled],
    loads: list[float],
    labels: list[str],
    colours: Mapping[str, Any],
    statistic: str,
) -> None:
    """One bar per policy and load: the pooled ``statistic``, with a whisker of its standard
    deviation across the seeds when there are several."""
    width = 0.8 / len(labels)
    rows = {(_label(key), key[2]): p for key, p in pooled.items()}
    for index, label in enumerate(labels):
        found = [rows.get((label, load)) for load in loads]
        heights = [np.nan if p is None else getattr(p.summary, statistic) for p in found]
        sds = [0.0 if p is None else p.spread(statistic).sd for p in found]
        positions = np.arange(len(loads)) + (index - (len(labels) - 1) / 2) * width
        whiskers = sds if any(sds) else None
        axis.bar(
            positions, heights, width, yerr=whiskers, capsize=3, label=label, color=colours[label]
        )
    axis.set_xticks(np.arange(len(loads)), [f"{load:g}" for load in loads])
    axis.grid(axis="y", alpha=0.3)
