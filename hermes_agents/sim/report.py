"""Tables of a policy comparison (rich, from the ``cli`` extra): one per load, and a per-class
breakdown. ACT is the app completion time: from an app's arrival to its last call's end."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from hermes_agents.extras import needs_extra
from hermes_agents.sim.deadline_report import (
    DEADLINE_CAPTION,
    DEADLINE_COLUMNS,
    deadline_cells,
    deadline_summary,
)
from hermes_agents.sim.metrics import Key, Pooled, by_class, hidden_share, reduction

if TYPE_CHECKING:
    from rich.table import Table

BASELINE = "fcfs"


def _baseline(pooled: Mapping[Key, Pooled], prewarm: str, load: float) -> Pooled | None:
    return pooled.get((BASELINE, prewarm, load)) or pooled.get((BASELINE, "off", load))


def _versus(value: float, base: float | None) -> str:
    """``-63%``: 63% lower than the baseline; ``+5%``: 5% higher."""
    if base is None:
        return "-"
    change = reduction(value, base)
    return f"-{change:.0%}" if change >= 0 else f"+{-change:.0%}"


def _table(title: str, caption: str | None = None) -> Table:
    with needs_extra("cli"):
        from rich import box
        from rich.table import Table
    return Table(title=title, caption=caption, caption_justify="left", box=box.SIMPLE_HEAD)


def _with_spread(row: Pooled, statistic: str) -> str:
    """The pooled value; with several seeds, ``± sd`` of each seed's own value."""
    value = float(getattr(row.summary, statistic))
    if row.seeds < 2:
        return f"{value:.1f}"
    return f"{value:.1f} ± {row.spread(statistic).sd:.1f}"


def _caption(seeds: int, show_cold: bool) -> str:
    lines = ["ACT: app completion time (arrival to end), in seconds"]
    if seeds > 1:
        lines += [
            f"mean, p50, p95, p99: all apps of the {seeds} seeds pooled",
            "± sd: how each seed's own mean or p95 varies across the seeds",
        ]
    lines.append("vs fcfs: the change against the fcfs row (- is lower, better)")
    if show_cold:
        lines += [
            "cold wait: seconds per app waiting for a sleeping backend",
            "cold hidden: the share of the same policy's 'off' cold wait that prewarming hid",
            "warm waste: seconds per run a cold backend was awake and idle",
        ]
    return "\n".join(lines)


def load_table(pooled: Mapping[Key, Pooled], load: float, title: str = "") -> Table:
    """Mean, p50, p95, p99 ACT per policy at ``load``, and the change against ``fcfs``.

    With several seeds the mean and p95 cells add ``± sd``: how much each seed's own mean (p95)
    varies across the seeds. The prewarm and cold-start columns appear only when they say
    something (a prewarm mode other than "off", a backend that ever woke up): mean cold wait per
    app, the share of the same policy's ``off`` cold wait that prewarming hid, and warm waste
    per run.
    """
    rows = [p for key, p in pooled.items() if key[2] == load]
    seeds = max((p.seeds for p in rows), default=0)
    show_prewarm = any(p.key[1] != "off" for p in rows)
    show_cold = any(float(p.cold_wait_s.max(initial=0.0)) > 0 for p in rows)
    show_deadlines = any(deadline_summary(p).apps for p in rows)
    plural = "s" * (seeds != 1)
    table = _table(
        title or f"load {load:g}: app completion time (ACT), seconds; {seeds} seed{plural}",
        _caption(seeds, show_cold) + (DEADLINE_CAPTION if show_deadlines else ""),
    )
    table.add_column("policy", no_wrap=True)
    if show_prewarm:
        table.add_column("prewarm", no_wrap=True)
    for column in ("apps", "mean", "p50", "p95", "p99", "mean vs fcfs", "p95 vs fcfs"):
        table.add_column(column, justify="right")
    if show_cold:
        for column in ("cold wait", "cold hidden", "warm waste"):
            table.add_column(column, justify="right")
    if show_deadlines:
        for column in DEADLINE_COLUMNS:
            table.add_column(column, justify="right")
    for row in rows:
        policy, prewarm, _ = row.key
        s = row.summary
        base = _baseline(pooled, prewarm, load)
        base_s = base.summary if base is not None and base is not row else None
        cells = [policy] + ([prewarm] if show_prewarm else [])
        cells += [str(s.apps), _with_spread(row, "mean_s"), f"{s.p50_s:.1f}"]
        cells += [_with_spread(row, "p95_s")]
        cells += [f"{s.p99_s:.1f}", _versus(s.mean_s, base_s.mean_s if base_s else None)]
        cells += [_versus(s.p95_s, base_s.p95_s if base_s else None)]
        if show_cold:
            cells += _cold_cells(pooled, row)
        if show_deadlines:
            cells += deadline_cells(row)
        table.add_row(*cells)
    return table


def _cold_cells(pooled: Mapping[Key, Pooled], row: Pooled) -> list[str]:
    """Cold wait per app, the share of ``off``'s hidden, warm waste per run."""
    policy, _, load = row.key
    cold = float(row.cold_wait_s.mean())
    off = pooled.get((policy, "off", load))
    hidden = hidden_share(cold, float(off.cold_wait_s.mean())) if off is not None else None
    shown = "-" if hidden is None or off is row else f"{hidden:.0%}"
    return [f"{cold:.2f}", shown, f"{row.warm_waste_s:.0f}"]


def class_table(pooled: Mapping[Key, Pooled], load: float) -> Table:
    """Mean ACT per app class (rows) and policy (columns) at ``load``."""
    rows = [p for key, p in pooled.items() if key[2] == load]
    table = _table(f"load {load:g}: mean ACT by class (s)")
    table.add_column("class (apps)", no_wrap=True)
    columns = [f"{p.key[0]}" + ("" if p.key[1] == "off" else f" ({p.key[1]})") for p in rows]
    for column in columns:
        table.add_column(column, justify="right")
    per_policy = [by_class(p.classes, p.act_s) for p in rows]
    names: Sequence[str] = sorted({name for classes in per_policy for name in classes})
    for name in names:
        cells = [f"{c[name].mean_s:.1f}" if name in c else "-" for c in per_policy]
        apps = max(c[name].apps if name in c else 0 for c in per_policy)
        table.add_row(f"{name} ({apps})", *cells)
    return table
