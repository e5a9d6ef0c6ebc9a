"""The comparison figure: ACT CDF per policy (one panel per load), mean and p95 bars per load."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from hermes_agents.sim.metrics import Key, Pooled


def _label(key: Key) -> str:
    policy, prewarm, _ = key
    return policy if prewarm == "off" else f"{policy} ({prewarm})"


def plot_bench(pooled: Mapping[Key, Pooled], path: str | Path, title: str = "") -> Path:
    """Write the figure to ``path`` (PNG) and return the path."""
    loads = sorted({key[2] for key in pooled})
    labels = list(dict.fromkeys(_label(key) for key in pooled))
    colours = {label: plt.get_cmap("tab10")(i % 10) for i, label in enumerate(labels)}
    figure = plt.figure(figsize=(max(10.0, 4.2 * len(loads)), 8.5), layout="constrained")
    grid = figure.add_gridspec(2, 1)
    top, bottom = figure.add_subfigure(grid[0]), figure.add_subfigure(grid[1])
    cdf_axes = [top.add_subplot(1, len(loads), i + 1) for i in range(len(loads))]
    for axis, load in zip(cdf_axes, loads, strict=True):
        _cdf(axis, pooled, load, colours)
    cdf_axes[0].legend(fontsize="small")
    bar_axes = [bottom.add_subplot(1, 2, i + 1) for i in range(2)]
    for axis, (statistic, name) in zip(
        bar_axes, (("mean_s", "mean"), ("p95_s", "p95")), strict=True
    ):
        _bars(axis, pooled, loads, labels, colours, statistic)
        axis.set(title=f"{name} ACT by load", xlabel="load", ylabel=f"{name} ACT (s)")
    if title:
        figure.suptitle(title)
    path = Path(path)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _cdf(axis: Axes, pooled: Mapping[Key, Pooled], load: float, colours: Mapping[str, Any]) -> None:
    for key, row in pooled.items():
        if key[2] == load:
            values = np.sort(row.act_s)
            share = np.arange(1, values.size + 1) / values.size
            label = _label(key)
            axis.step(values, share, where="post", label=label, color=colours[label])
    axis.set_xscale("log")
    axis.set(title=f"ACT CDF, load {load:g}", xlabel="ACT (s)", ylabel="share of apps")
    axis.grid(alpha=0.3)


def _bars(
    axis: Axes,
    pooled: Mapping[Key, Pooled],
    loads: list[float],
    labels: list[str],
    colours: Mapping[str, Any],
    statistic: str,
) -> None:
    width = 0.8 / len(labels)
    values = {(_label(key), key[2]): getattr(p.summary, statistic) for key, p in pooled.items()}
    for index, label in enumerate(labels):
        heights = [values.get((label, load), np.nan) for load in loads]
        positions = np.arange(len(loads)) + (index - (len(labels) - 1) / 2) * width
        axis.bar(positions, heights, width, label=label, color=colours[label])
    axis.set_xticks(np.arange(len(loads)), [f"{load:g}" for load in loads])
    axis.grid(axis="y", alpha=0.3)
