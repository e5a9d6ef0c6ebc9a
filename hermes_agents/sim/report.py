"""Tables of a policy comparison (rich): one per load, and a per-class breakdown."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich import box
from rich.table import Table

from hermes_agents.sim.metrics import Key, Pooled, by_class, hidden_share, reduction

BASELINE = "fcfs"


def _baseline(pooled: Mapping[Key, Pooled], prewarm: str, load: float) -> Pooled | None:
    return pooled.get((BASELINE, prewarm, load)) or pooled.get((BASELINE, "off", load))


def _versus(value: float, base: float | None) -> str:
    """``-63%``: 63% lower than the baseline; ``+5%``: 5% higher."""
    if base is None:
        return "-"
    change = reduction(value, base)
    return f"-{change:.0%}" if change >= 0 else f"+{-change:.0%}"


def load_table(pooled: Mapping[Key, Pooled], load: float, title: str = "") -> Table:
    """Mean, p50, p95, p99 ACT per policy at ``load``, and the change against ``fcfs``.

    The prewarm and cold-start columns appear only when they say something (a prewarm mode
    other than "off", a backend that ever woke up): mean cold wait per app, the share of the
    same policy's ``off`` cold wait that prewarming hid, and warm waste per run.
    """
    rows = [p for key, p in pooled.items() if key[2] == load]
    seeds = max((p.seeds for p in rows), default=0)
    show_prewarm = any(p.key[1] != "off" for p in rows)
    show_cold = any(float(p.cold_wait_s.max(initial=0.0)) > 0 for p in rows)
    table = Table(
        title=title or f"load {load:g}: ACT (s), {seeds} seed{'s' * (seeds != 1)} pooled",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("policy", no_wrap=True)
    if show_prewarm:
        table.add_column("prewarm", no_wrap=True)
    for column in ("apps", "mean", "p50", "p95", "p99", "mean vs fcfs", "p95 vs fcfs"):
        table.add_column(column, justify="right")
    if show_cold:
        for column in ("cold wait", "cold hidden", "warm waste"):
            table.add_column(column, justify="right")
    for row in rows:
        policy, prewarm, _ = row.key
        s = row.summary
        base = _baseline(pooled, prewarm, load)
        base_s = base.summary if base is not None and base is not row else None
        cells = [policy] + ([prewarm] if show_prewarm else [])
        cells += [str(s.apps), f"{s.mean_s:.1f}", f"{s.p50_s:.1f}", f"{s.p95_s:.1f}"]
        cells += [f"{s.p99_s:.1f}", _versus(s.mean_s, base_s.mean_s if base_s else None)]
        cells += [_versus(s.p95_s, base_s.p95_s if base_s else None)]
        if show_cold:
            cells += _cold_cells(pooled, row)
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
    table = Table(title=f"load {load:g}: mean ACT by class (s)", box=box.SIMPLE_HEAD)
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
