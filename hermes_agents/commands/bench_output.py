"""What ``hermes bench``'s comparisons share: running them, printing one table per load, writing
the JSON records, and the look of their tables."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hermes_agents.commands.console import console
from hermes_agents.extras import needs_extra
from hermes_agents.sim.bench import BenchSpec, app_count, load_workload
from hermes_agents.sim.simulator import SimResult

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

Runner = Callable[[BenchSpec, int, "Console"], list[SimResult]]
"""Runs a spec's simulations with a progress bar (``hermes bench``'s own)."""
LoadTable = Callable[[list[SimResult], float, int, int], "Table"]
"""One load's table from the results, the load, the apps per run and the seeds."""
Record = Callable[[SimResult, str], dict[str, Any]]
"""One result's JSON entry, given the workload's name."""


def run_and_print(
    spec: BenchSpec, json_path: Path | None, run: Runner, table: LoadTable, to_record: Record
) -> int:
    """Simulate ``spec``; print ``table`` for each load; write the records to ``json_path``."""
    workload = load_workload(spec.workload)
    apps = app_count(spec, workload)
    results = run(spec, apps, console(stderr=True))
    out = console()
    for load in spec.loads:
        out.print(table(results, load, apps, len(spec.seeds)))
    if json_path is not None:
        write_runs(out, json_path, [to_record(result, workload.name) for result in results])
    return 0


def write_runs(out: Console, json_path: Path, runs: list[dict[str, Any]]) -> None:
    """Write ``{"runs": runs}`` to ``json_path`` and say so on ``out``."""
    json_path.write_text(json.dumps({"runs": runs}, indent=2) + "\n")
    out.print(f"wrote {len(runs)} records to {json_path}")


def bench_table(
    title: str, caption: Iterable[str], columns: Iterable[str], left: Iterable[str]
) -> Table:
    """An empty rich table in the bench's style: ``columns``, those in ``left`` left-justified
    (the rest right), the ``caption`` lines under it."""
    with needs_extra("cli"):
        from rich import box
        from rich.table import Table
    table = Table(
        title=title, caption="\n".join(caption), caption_justify="left", box=box.SIMPLE_HEAD
    )
    left = set(left)
    for name in columns:
        table.add_column(name, justify="left" if name in left else "right")
    return table
