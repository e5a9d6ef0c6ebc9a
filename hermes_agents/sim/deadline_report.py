"""Deadline columns of ``hermes bench``'s tables, and the per-tier table (rich, ``cli`` extra).

The load table gains two columns when any app has a deadline: ``deadline met`` (deadline
satisfaction: the share of apps with a deadline that finished by it) and ``no-deadline mean``
(mean ACT of the apps without one). ``tier_table`` shows, per policy and tier, the tier's apps,
mean and p95 ACT, and its SLO attainment (the same share, among the tier's apps).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from hermes_agents.extras import needs_extra
from hermes_agents.sim.deadline_metrics import DeadlineSummary, by_tier
from hermes_agents.sim.metrics import Key, Pooled

if TYPE_CHECKING:
    from rich.table import Table

DEADLINE_COLUMNS = ("deadline met", "no-deadline mean")
DEADLINE_CAPTION = (
    "\ndeadline met: share of the apps with a deadline that finished by it"
    "\nno-deadline mean: mean ACT of the apps without one"
)


def deadline_summary(row: Pooled) -> DeadlineSummary:
    """Deadline satisfaction of a table row (all its seeds pooled)."""
    return DeadlineSummary.of(row.act_s, row.deadlines_s)


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def deadline_cells(row: Pooled) -> list[str]:
    """The ``DEADLINE_COLUMNS`` cells of one row."""
    summary = deadline_summary(row)
    return [_share(summary.met), _seconds(summary.free_mean_s)]


def shows_tiers(pooled: Mapping[Key, Pooled]) -> bool:
    """Whether the apps of ``pooled`` are in more than one tier."""
    return len({tier for row in pooled.values() for tier in row.tiers}) > 1


def tier_table(pooled: Mapping[Key, Pooled], load: float) -> Table:
    """Per policy and tier at ``load``: apps, mean and p95 ACT, SLO attainment."""
    with needs_extra("cli"):
        from rich import box
        from rich.table import Table
    table = Table(
        title=f"load {load:g}: ACT (s) and SLO attainment by tier",
        caption="SLO attainment: share of the tier's apps with a deadline that finished by it",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for column in ("policy", "tier", "apps", "mean", "p95", "SLO attainment"):
        table.add_column(column, justify="left" if column in ("policy", "tier") else "right")
    for key, row in pooled.items():
        if key[2] != load:
            continue
        name = key[0] if key[1] == "off" else f"{key[0]} ({key[1]})"
        for tier, summary in by_tier(row.tiers, row.act_s, row.deadlines_s).items():
            act = summary.act
            cells = [str(act.apps), f"{act.mean_s:.1f}", f"{act.p95_s:.1f}"]
            table.add_row(name, tier, *cells, _share(summary.deadlines.met))
    return table
