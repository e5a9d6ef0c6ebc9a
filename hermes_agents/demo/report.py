"""The demo's tables: both runs side by side with the reduction, overall and per app class."""

from __future__ import annotations

from rich.table import Table

from hermes_agents.demo.summary import RunSummary, Stats, reduction


def _cells(base: Stats, hermes: Stats) -> list[str]:
    cells = []
    for before, after in (
        (base.mean_s, hermes.mean_s),
        (base.p50_s, hermes.p50_s),
        (base.p95_s, hermes.p95_s),
    ):
        change = -reduction(before, after)
        colour = "green" if change < 0 else "red"
        cells.append(f"{before:.1f} → {after:.1f} [{colour}]({change:+.0%})[/{colour}]")
    return cells


def comparison_table(baseline: RunSummary, hermes: RunSummary) -> Table:
    """Mean / p50 / p95 completion time: without Hermes → with Hermes (relative change)."""
    table = Table(title="App completion time, seconds: without Hermes → with Hermes (change)")
    table.add_column("apps", no_wrap=True)
    table.add_column("n", justify="right")
    for name in ("mean", "p50", "p95"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_row("all", str(baseline.overall.apps), *_cells(baseline.overall, hermes.overall))
    for name, base in baseline.by_class.items():
        other = hermes.by_class.get(name)
        if other is not None:
            table.add_row(name, str(base.apps), *_cells(base, other))
    return table
