"""``hermes bench --hosts N --coordinator-rtt-ms X,Y,...``: what a shared scheduler a round
trip away (Redis) costs the order, against the single scheduler (``hermes_agents.sim.hosts``).

Prints one table per load: for each policy, the single scheduler's mean and p95 ACT, then the
same apps spread over N hosts at each round trip, with the change against the single
scheduler. ``--json`` writes the usual records, each with ``hosts`` and ``coordinator_rtt_ms``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hermes_agents.commands.bench_output import Runner, bench_table, run_and_print
from hermes_agents.errors import ValidationError
from hermes_agents.sim.bench import BenchSpec, record
from hermes_agents.sim.hosts import Hosts, rtts_ms
from hermes_agents.sim.hosts_bench import (
    DEFAULT_HOSTS,
    DEFAULT_RTTS_MS,
    HostsBenchSpec,
    HostsRow,
    hosts_rows,
)
from hermes_agents.sim.simulator import SimResult

if TYPE_CHECKING:
    from rich.table import Table


def hosts_spec(
    spec: BenchSpec, hosts: int | None, rtt_text: str | None, plot: Path | None
) -> HostsBenchSpec | None:
    """``spec`` spread over hosts when ``--hosts`` or ``--coordinator-rtt-ms`` is given (the
    other takes its default: 100 hosts, or 0.1 to 20 ms), else None."""
    if hosts is None and rtt_text is None:
        return None
    if plot is not None:
        raise ValidationError("is not drawn with --hosts; leave out --plot", "--plot")
    count = DEFAULT_HOSTS if hosts is None else hosts
    Hosts(count)  # names --hosts when it is out of range
    rtts = DEFAULT_RTTS_MS if rtt_text is None else rtts_ms(rtt_text)
    return HostsBenchSpec.of(spec, count, rtts)


def main(spec: HostsBenchSpec, json_path: Path | None, run: Runner) -> int:
    """Simulate every combination in every layout; print the tables; write the JSON."""

    def table(results: list[SimResult], load: float, apps: int, seeds: int) -> Table:
        return hosts_table(hosts_rows(results, load), load, apps, seeds)

    return run_and_print(spec, json_path, run, table, record)


def hosts_table(rows: list[HostsRow], load: float, apps: int, seeds: int) -> Table:
    """The comparison of one load as a rich table."""
    caption = (
        f"ACT: app completion time, seconds ({apps:,} apps x {seeds} seed(s) pooled)",
        "1 host, 0 ms: the single scheduler (in process, hermes serve)",
        "other rows: the same apps over N hosts, one scheduler",
        "a round trip away (Redis); vs single: the change",
    )
    columns = ("policy", "hosts", "rtt ms", "mean", "vs single", "p95", "vs single")
    table = bench_table(f"load {load:g}: ordering across hosts", caption, columns, ("policy",))
    for row in rows:
        policy = row.policy if row.prewarm == "off" else f"{row.policy} +{row.prewarm}"
        summary = row.pooled.summary
        table.add_row(
            policy,
            str(row.hosts),
            f"{row.rtt_ms:g}",
            f"{summary.mean_s:.2f}",
            _signed(row.mean_change),
            f"{summary.p95_s:.2f}",
            _signed(row.p95_change),
        )
    return table


def _signed(change: float) -> str:
    """``+1.2%`` (higher than the single scheduler) or ``-0.3%``; ``0`` for none."""
    return "0" if change == 0 else f"{change:+.1%}"
