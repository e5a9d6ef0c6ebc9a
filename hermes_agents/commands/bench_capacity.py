"""``hermes bench --capacity VARIANTS`` and the engine flags: what the client window and the
place order is enforced cost, beside throughput (``hermes_agents.sim.capacity_bench``).

    hermes bench --engine-seqs 16 --capacity 8,16,64,auto,engine,both --policies fcfs,gittins

The engine flags give every LLM backend an engine with limits of its own
(``hermes_agents.engine_limits``; without them each backend keeps its workload ``engine``, or
the unbounded model): ``--engine-seqs`` (its batch, vLLM ``--max-num-seqs``),
``--engine-kv`` (KV-cache tokens), ``--engine-queue fcfs|priority``, ``--preempt
off|kv|batch``, ``--preempt-cost recompute|swap``, ``--swap-s-per-token`` and
``--preempt-threshold``. ``--capacity`` prints one table per load:
each policy under each variant, mean and p95 ACT, the change against the first ``fcfs`` row
and against the best fixed window of the same policy, requests/s, tokens/s, preemptions and
the ``auto`` window.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from hermes_agents.commands.bench_output import Runner, bench_table, run_and_print
from hermes_agents.engine_limits import (
    SWAP_S_PER_TOKEN,
    EngineLimits,
    Preempt,
    PreemptCost,
    Queueing,
)
from hermes_agents.errors import ValidationError
from hermes_agents.sim.bench import BenchSpec
from hermes_agents.sim.capacity_bench import (
    CapacityBenchSpec,
    CapacityRow,
    capacity_record,
    capacity_rows,
    variants,
)
from hermes_agents.sim.metrics import reduction
from hermes_agents.sim.simulator import SimResult

if TYPE_CHECKING:
    from rich.table import Table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--capacity`` and the engine flags."""
    add = parser.add_argument
    add(
        "--capacity",
        metavar="VARIANTS",
        help="compare client windows and enforcement: N, auto, engine, both, both-N, both-auto",
    )
    add("--engine-seqs", type=int, metavar="N", help="LLM engines' own batch (max_num_seqs)")
    add("--engine-kv", type=int, metavar="TOKENS", help="LLM engines' KV cache, in tokens")
    add("--engine-queue", default="priority", metavar="ORDER", help="fcfs or priority")
    add("--preempt", default="kv", metavar="TRIGGER", help="off, kv (stock vLLM) or batch")
    add("--preempt-cost", default="recompute", metavar="COST", help="recompute or swap")
    add(
        "--swap-s-per-token",
        type=float,
        default=SWAP_S_PER_TOKEN,
        metavar="S",
        help="swap: seconds per token moved each way (0: free preemption, a bound)",
    )
    add(
        "--preempt-threshold",
        type=float,
        default=0.0,
        metavar="P",
        help="batch: preempt only for a priority better by more than P (SGLang: 10)",
    )


def with_engine(spec: BenchSpec, args: argparse.Namespace) -> BenchSpec:
    """``spec`` with the engine flags' limits, when ``--engine-seqs`` or ``--engine-kv`` is
    given (errors name the flag)."""
    if args.engine_seqs is None and args.engine_kv is None:
        return spec
    for flag, value in (("--engine-seqs", args.engine_seqs), ("--engine-kv", args.engine_kv)):
        if value is not None and value < 1:
            raise ValidationError(f"must be >= 1, got {value}", flag)
    limits = EngineLimits(
        max_num_seqs=args.engine_seqs or EngineLimits().max_num_seqs,
        kv_cache_tokens=args.engine_kv,
        scheduling=_enum(Queueing, args.engine_queue, "--engine-queue"),
        preempt=_enum(Preempt, args.preempt, "--preempt"),
        preempt_cost=_enum(PreemptCost, args.preempt_cost, "--preempt-cost"),
        swap_s_per_token=_at_least_zero(args.swap_s_per_token, "--swap-s-per-token"),
        preempt_threshold=_at_least_zero(args.preempt_threshold, "--preempt-threshold"),
    )
    return dataclasses.replace(spec, engine=dataclasses.replace(spec.engine, limits=limits))


_E = TypeVar("_E", Queueing, Preempt, PreemptCost)


def _at_least_zero(value: float, flag: str) -> float:
    if not value >= 0 or value == float("inf"):
        raise ValidationError(f"must be a number >= 0, got {value}", flag)
    return value


def _enum(kind: type[_E], value: str, flag: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(str(m) for m in kind)
        raise ValidationError(f"{value!r} is not one of {choices}", flag) from None


def capacity_spec(spec: BenchSpec, text: str | None, plot: Path | None) -> CapacityBenchSpec | None:
    """``spec`` with ``--capacity``'s variants, or None without the flag."""
    if text is None:
        return None
    if plot is not None:
        raise ValidationError("is not drawn with --capacity; leave out --plot", "--plot")
    return CapacityBenchSpec.of(spec, variants(text))


def main(spec: CapacityBenchSpec, json_path: Path | None, run: Runner) -> int:
    """Simulate every combination under every variant; print the tables; write the JSON."""

    def table(results: list[SimResult], load: float, apps: int, seeds: int) -> Table:
        return capacity_table(capacity_rows(results, load), load, apps, seeds)

    return run_and_print(spec, json_path, run, table, capacity_record)


def capacity_table(rows: list[CapacityRow], load: float, apps: int, seeds: int) -> Table:
    """One load's comparison as a rich table."""
    caption = (
        f"ACT: app completion time, seconds ({apps:,} apps x {seeds} seed(s) pooled)",
        "cap N: a fixed client window; auto: the window from the engine's metrics;",
        "engine: every call sent, rank as engine priority; both: window and priority",
        "vs fcfs: against fcfs with the widest window (a stock engine's FCFS queue);",
        "vs best cap: against the same policy's",
        "best fixed window by mean; req/s, tok/s: LLM calls and output tokens per second",
    )
    columns: tuple[str, ...] = ("policy", "variant", "mean", "p95", "mean vs fcfs", "p95 vs fcfs")
    columns += ("mean vs best cap", "req/s", "tok/s", "preempted", "window")
    title = f"load {load:g}: client window and enforcement"
    table = bench_table(title, caption, columns, ("policy", "variant"))
    base = request_fcfs(rows)
    for row in rows:
        table.add_row(*_cells(row, base, _best_cap(rows, row.policy)))
    return table


def _cells(row: CapacityRow, base: CapacityRow | None, best: CapacityRow | None) -> list[str]:
    """One row of the table: ACT, its changes, throughput, preemptions, the window."""
    s = row.pooled.summary
    return [
        row.policy,
        row.variant,
        f"{s.mean_s:.1f}",
        f"{s.p95_s:.1f}",
        _change(s.mean_s, base.pooled.summary.mean_s if base else None),
        _change(s.p95_s, base.pooled.summary.p95_s if base else None),
        _change(s.mean_s, best.pooled.summary.mean_s if best else None),
        f"{row.requests_per_s:.3f}",
        f"{row.tokens_per_s:.0f}",
        f"{row.preemptions:.0f}",
        "-" if row.window is None else f"{row.window:.0f}",
    ]


def request_fcfs(rows: list[CapacityRow]) -> CapacityRow | None:
    """The baseline: ``fcfs`` with the widest window (``engine`` counts as unbounded), so
    every call waits in the engine, first come first served: a stock engine without Hermes."""
    fcfs = [row for row in rows if row.policy == "fcfs"]
    return max(fcfs, key=_width, default=None)


def _width(row: CapacityRow) -> float:
    if row.variant.startswith("cap "):
        return float(row.variant.removeprefix("cap "))
    return float("inf") if row.variant == "engine" else 0.0


def _best_cap(rows: list[CapacityRow], policy: str) -> CapacityRow | None:
    fixed = [r for r in rows if r.policy == policy and r.variant.startswith("cap ")]
    return min(fixed, key=lambda r: r.pooled.summary.mean_s, default=None)


def _change(value: float, base: float | None) -> str:
    """``-63%`` (lower than ``base``) or ``+5%``; ``-`` without a base."""
    if base is None:
        return "-"
    change = -reduction(value, base)
    return f"{change:+.0%}" if abs(change) >= 0.005 else "0%"
