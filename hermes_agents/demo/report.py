"""The demo's table and headline: no limit, the same slots in arrival order (FCFS), and Hermes,
overall and per app class, with what the limit alone gives and what Hermes' order adds.

>>> from hermes_agents.demo.runner import AppOutcome
>>> def run(act_s):
...     return RunSummary.of([AppOutcome(i, "a", 0.0, s) for i, s in enumerate(act_s)])
>>> for line in headline(run([10.0, 10.0]), run([8.0, 8.0]), run([4.0, 4.0]), slots=2):
...     print(line)
the limit alone (2 slots, arrival order): mean 20% lower, p95 20% lower than no limit
Hermes' order on the same slots: mean 50% lower, p95 50% lower than the FCFS limit
Hermes against no limit: mean 60% lower, p95 60% lower
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hermes_agents.demo.summary import RunSummary, Stats, reduction
from hermes_agents.extras import needs_extra

if TYPE_CHECKING:
    from rich.table import Table

STATISTICS = (("mean", "mean_s"), ("p95", "p95_s"))
"""The table's statistics: column heading, ``Stats`` field."""


def _change(before: float, after: float) -> str:
    change = -reduction(before, after)
    colour = "green" if change < 0 else "red"
    return f"[{colour}]({change:+.0%})[/{colour}]"


def _cells(no_limit: Stats, fcfs: Stats, hermes: Stats) -> list[str]:
    """Per statistic: no limit; FCFS (change against no limit); Hermes (change against FCFS)."""
    cells = []
    for _, name in STATISTICS:
        base, limited, ordered = (getattr(s, name) for s in (no_limit, fcfs, hermes))
        cells += [
            f"{base:.1f}",
            f"{limited:.1f} {_change(base, limited)}",
            f"{ordered:.1f} {_change(limited, ordered)}",
        ]
    return cells


def comparison_table(
    no_limit: RunSummary, fcfs: RunSummary, hermes: RunSummary, *, slots: int
) -> Table:
    """Mean and p95 app completion time of the three runs, overall and per app class."""
    with needs_extra("cli"):
        from rich.table import Table
    table = Table(
        title="App completion time (ACT), seconds: one plan, three ways",
        caption=f"no limit: as apps run today; FCFS limit: the same {slots} slots in arrival "
        f"order (a semaphore); Hermes: the same {slots} slots in Gittins order, with "
        "prewarming.\n(change) under FCFS limit: what the limit alone gives, against no "
        "limit; under Hermes: what Hermes adds, against the FCFS limit.",
        caption_justify="left",
    )
    table.add_column("apps", no_wrap=True)
    table.add_column("n", justify="right")
    for heading, _ in STATISTICS:
        for run in ("no limit", "FCFS limit", "Hermes"):
            table.add_column(f"{heading}\n{run}", justify="right", no_wrap=True)
    rows = [("all", no_limit.overall, fcfs.overall, hermes.overall)]
    for name, base in no_limit.by_class.items():
        limited, ordered = fcfs.by_class.get(name), hermes.by_class.get(name)
        if limited is not None and ordered is not None:
            rows.append((name, base, limited, ordered))
    for name, base, limited, ordered in rows:
        table.add_row(name, str(base.apps), *_cells(base, limited, ordered))
    return table


def _lower(before: Stats, after: Stats) -> str:
    mean = reduction(before.mean_s, after.mean_s)
    p95 = reduction(before.p95_s, after.p95_s)
    return f"mean {_percent(mean)}, p95 {_percent(p95)}"


def _percent(lower: float) -> str:
    return f"{lower:.0%} lower" if lower >= 0 else f"{-lower:.0%} higher"


def headline(
    no_limit: RunSummary, fcfs: RunSummary, hermes: RunSummary, *, slots: int
) -> list[str]:
    """Three lines: what the limit alone gives, what the order adds, and both together."""
    a, b, c = no_limit.overall, fcfs.overall, hermes.overall
    return [
        f"the limit alone ({slots} slots, arrival order): {_lower(a, b)} than no limit",
        f"Hermes' order on the same slots: {_lower(b, c)} than the FCFS limit",
        f"Hermes against no limit: {_lower(a, c)}",
    ]
