"""The prewarming trade-off: cold-start waiting hidden against warm seconds wasted.

``sweep`` simulates one workload under every prewarm setting of a ``SweepSpec`` (the planner's
threshold K for ``hermes``, ``hermes-partial`` and ``hermes-plain``, the keep-alive TTL for
``lru``, and the ``off`` and ``reactive`` points), all seeds serving the same apps per seed,
and pools each setting over the seeds. ``plot_tradeoff`` draws one point per setting: latency
hidden against warm waste. ``benchmarks/prewarm_sweep.py`` prints the table and writes the
figure.

>>> rows = sweep(SweepSpec(thresholds=(0.5,), keepalives_s=(), seeds=(0,), apps=20))
>>> [row.label for row in rows]
['off', 'reactive', 'hermes K=0.5', 'hermes-partial K=0.5', 'hermes-plain K=0.5']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hermes_agents.extras import needs_extra
from hermes_agents.prewarm import DEFAULT_THRESHOLD
from hermes_agents.sim.arrivals import ArrivalSpec
from hermes_agents.sim.bench import load_workload
from hermes_agents.sim.demand import ProfiledModels
from hermes_agents.sim.metrics import hidden_share
from hermes_agents.sim.plans import draw_plans
from hermes_agents.sim.prewarming import PLANNED_MODES
from hermes_agents.sim.simulator import SimConfig, SimResult, scheduler_cost, simulate

if TYPE_CHECKING:
    from matplotlib.axes import Axes

DEFAULT_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
DEFAULT_KEEPALIVES_S = (15.0, 30.0, 60.0, 120.0, 300.0)


@dataclass(frozen=True)
class SweepSpec:
    """What to sweep (one policy, one load; every setting on the same apps per seed)."""

    workload: str = "paper-mix-cold"
    policy: str = "gittins"
    load: float = 1.0
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    apps: int | None = None
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    keepalives_s: tuple[float, ...] = DEFAULT_KEEPALIVES_S

    def configs(self, seed: int) -> list[tuple[str, SimConfig]]:
        """Every (label, configuration) of one seed."""
        base = SimConfig(policy=self.policy, load=self.load, seed=seed, apps=self.apps)
        out = [("off", base), ("reactive", replace(base, prewarm="reactive"))]
        out += [
            (f"lru TTL={ttl:g}s", replace(base, prewarm="lru", keepalive_s=ttl))
            for ttl in self.keepalives_s
        ]
        out += [
            (f"{mode} K={k:g}", replace(base, prewarm=mode, prewarm_k=k))
            for mode in PLANNED_MODES
            for k in self.thresholds
        ]
        return out


@dataclass(frozen=True)
class SweepRow:
    """One setting pooled over the seeds.

    Attributes:
        label: the setting (``off``, ``reactive``, ``lru TTL=60s``, ``hermes K=0.5``, ...).
        mode: its prewarm mode.
        parameter: its K (planned modes), TTL (``lru``) or None.
        mean_act_s: mean application completion time over all apps.
        cold_wait_s: mean cold-start wait per app.
        hidden: share of ``off``'s cold-start wait that is gone (None for ``off``).
        warm_waste_s: seconds per run that cold backends were awake and idle.
        hints / hint_waste_s: per run, the ledger's hints and the warm seconds they wasted.
    """

    label: str
    mode: str
    parameter: float | None
    mean_act_s: float
    cold_wait_s: float
    hidden: float | None
    warm_waste_s: float
    hints: float
    hint_waste_s: float


def sweep(spec: SweepSpec) -> list[SweepRow]:
    """Simulate every setting of ``spec`` and pool each over the seeds (``off`` first)."""
    profile = load_workload(spec.workload)
    cost = scheduler_cost(profile, "sum")
    models = ProfiledModels(profile.apps, cost)
    results: dict[str, list[SimResult]] = {}
    for seed in spec.seeds:
        truth = load_workload(spec.workload, seed=seed + 1)
        count = spec.apps or (truth.arrivals.count if truth.arrivals else 100)
        plans = draw_plans(truth, count, seed, ArrivalSpec(), cost)
        for label, config in spec.configs(seed):
            result = simulate(profile, config, plans=plans, models=models)
            results.setdefault(label, []).append(result)
    off = _cold(results["off"])
    return [_row(label, runs, off) for label, runs in results.items()]


def _cold(runs: list[SimResult]) -> float:
    return float(np.concatenate([r.cold_wait_s for r in runs]).mean())


def _row(label: str, runs: list[SimResult], off_cold_s: float) -> SweepRow:
    config = runs[0].config
    mode = config.prewarm
    parameter = config.prewarm_k if mode in PLANNED_MODES else None
    if mode == "lru":
        parameter = config.keepalive_s
    totals = [r.prewarm.get("total", {}) for r in runs]
    cold = _cold(runs)
    return SweepRow(
        label=label,
        mode=mode,
        parameter=parameter,
        mean_act_s=float(np.concatenate([r.act_s for r in runs]).mean()),
        cold_wait_s=cold,
        hidden=None if mode == "off" else hidden_share(cold, off_cold_s),
        warm_waste_s=float(np.mean([r.warm_waste_s for r in runs])),
        hints=float(np.mean([t.get("hints", 0) for t in totals])),
        hint_waste_s=float(np.mean([t.get("hint_waste_s", 0.0) for t in totals])),
    )


def plot_tradeoff(panels: Mapping[str, list[SweepRow]], path: str | Path, title: str = "") -> Path:
    """One panel per entry of ``panels`` (e.g. per load): cold-start wait hidden (%) against
    the warm waste each setting adds to ``off`` (s per run, log scale), one point per setting.
    The legend sits below the panels, outside the data."""
    with needs_extra("cli"):
        from matplotlib.figure import Figure
    figure = Figure(figsize=(7.0 * len(panels), 6.0), layout="constrained")
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for axis, (name, rows) in zip(axes, panels.items(), strict=True):
        _panel(axis, rows)
        axis.set_title(name)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=len(labels))
    if title:
        figure.suptitle(title)
    path = Path(path)
    figure.savefig(path, dpi=100)
    return path


_STYLES = {
    "hermes": "o-",
    "hermes-partial": "s-",
    "hermes-plain": "v:",
    "lru": "^--",
    "reactive": "D",
}
"""Marker and line of each prewarm mode; labels are placed in this order (first wins)."""


def _panel(axis: Axes, rows: list[SweepRow]) -> None:
    from matplotlib.colors import to_hex  # the caller checked the extra

    base = rows[0].warm_waste_s  # off
    labels: list[Label] = []
    points: list[tuple[float, float]] = []
    for mode, style in _STYLES.items():
        chosen = [r for r in rows if r.mode == mode]
        if not chosen:
            continue
        xs = [max(r.warm_waste_s - base, 1.0) for r in chosen]
        ys = [100 * (r.hidden or 0.0) for r in chosen]
        (line,) = axis.plot(xs, ys, style, label=mode, markersize=6)
        points += zip(xs, ys, strict=True)
        colour = to_hex(line.get_color())
        labels += [(_point_label(r), x, y, colour) for r, x, y in zip(chosen, xs, ys, strict=True)]
    for row in rows:
        if row.mode == "hermes" and row.parameter == DEFAULT_THRESHOLD:
            x, y = max(row.warm_waste_s - base, 1.0), 100 * (row.hidden or 0.0)
            axis.plot([x], [y], "o", markersize=14, fillstyle="none", color="black")
            axis.plot([], [], "o", fillstyle="none", color="black", label="default")
    axis.set_xscale("log")
    axis.set(
        xlabel="extra warm waste vs off (s per run, awake and idle)",
        ylabel="cold-start waiting hidden vs off (%)",
        ylim=(0, 100),
    )
    axis.grid(alpha=0.3, which="both")
    _place_labels(axis, [label for label in labels if label[0]], points)


_LABEL_SIZE = (0.055, 0.03)
"""A point label's box (fontsize 7, ``K=0.5``), in axes fractions, with a little margin."""
_MARKER_SIZE = (0.014, 0.02)
"""A marker's box, in axes fractions."""
_LABEL_OFFSETS = ((0.008, -0.035), (0.008, 0.008), (-0.062, 0.008), (-0.062, -0.035))
"""Where a label may go, from its point (axes fractions): right-below first, then around."""

Box = tuple[float, float, float, float]
"""x0, y0, x1, y1 in axes fractions."""
Label = tuple[str, float, float, str]
"""Text, the point's x and y (data), and the colour of its curve."""


def _overlaps(box: Box, others: Sequence[Box]) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < b1 and b0 < x1 and y0 < c1 and c0 < y1 for b0, c0, b1, c1 in others)


def _place_labels(
    axis: Axes, labels: Sequence[Label], points: Sequence[tuple[float, float]]
) -> None:
    """Annotate each label, in its curve's colour, at the first offset where it covers neither
    a marker nor a label placed before it; a label with no free place is left out (the curve's
    order and the neighbouring labels still tell its value)."""
    axis.autoscale_view()
    to_axes = axis.transScale + axis.transLimits  # data -> axes fraction, before any layout
    mw, mh = _MARKER_SIZE
    taken: list[Box] = []
    for x, y in points:
        fx, fy = to_axes.transform((x, y))
        taken.append((fx - mw / 2, fy - mh / 2, fx + mw / 2, fy + mh / 2))
    width, height = _LABEL_SIZE
    for text, x, y, colour in labels:
        fx, fy = to_axes.transform((x, y))
        for dx, dy in _LABEL_OFFSETS:
            box = (fx + dx, fy + dy, fx + dx + width, fy + dy + height)
            if box[0] >= 0 and box[2] <= 1 and box[1] >= 0 and not _overlaps(box, taken):
                taken.append(box)
                axis.annotate(
                    text,
                    (x, y),
                    xytext=box[:2],
                    textcoords="axes fraction",
                    fontsize=7,
                    color=colour,
                )
                break


def _point_label(row: SweepRow) -> str:
    """K for every other planner point (0.1, 0.3, ...; not ``hermes-partial``'s, which mostly
    coincide with ``hermes``'s), the TTL for lru points."""
    if row.parameter is None or row.mode == "hermes-partial":
        return ""
    if row.mode == "lru":
        return f"{row.parameter:g}s"
    return f"K={row.parameter:g}" if round(row.parameter * 10) % 2 == 1 else ""
