"""Capacity and enforcement compared: fixed client windows, ``auto``, engine priority, both
(``hermes bench --capacity 8,16,64,auto,engine,both``).

Each variant is a ``Capacity`` (``hermes_agents.sim.enforce``) applied to every LLM backend;
every (policy, variant) pair serves the same apps of a seed (``run_bench``'s fairness), on the
same engine (``EngineShape.limits`` or the workload's ``engine``), so a row's change against
another is the variant's doing. Each row carries throughput next to ACT: LLM requests and
output tokens per second of makespan (first arrival to last completion, the same work in
every row), the engine's preemptions and, for ``auto``, the window it ended at.

>>> from hermes_agents.engine_limits import EngineLimits
>>> from hermes_agents.sim.bench import run_bench
>>> from hermes_agents.sim.servers import EngineShape
>>> spec = CapacityBenchSpec("paper-mix", ("gittins",), apps=20, variants=variants("8,auto"),
...     engine=EngineShape(limits=EngineLimits(max_num_seqs=16)))
>>> [(row.policy, row.variant) for row in capacity_rows(run_bench(spec), 1.0)]
[('gittins', 'cap 8'), ('gittins', 'auto')]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hermes_agents.errors import ValidationError
from hermes_agents.sim.bench import BenchSpec, record
from hermes_agents.sim.enforce import Capacity, Window
from hermes_agents.sim.metrics import Pooled, pool
from hermes_agents.sim.simulator import SimConfig, SimResult

__all__ = ["CapacityBenchSpec", "CapacityRow", "capacity_record", "capacity_rows", "variants"]


def variants(text: str) -> tuple[Capacity, ...]:
    """Parse ``--capacity``: ``N`` (a fixed window), ``auto``, ``engine``, ``both``,
    ``both-N``, ``both-auto``, comma-separated (errors name the flag and the forms)."""
    out = []
    for part in dict.fromkeys(p.strip() for p in text.split(",") if p.strip()):
        mode, _, window = part.partition("-") if part.startswith("both") else ("", "", part)
        if part == "engine":
            out.append(Capacity("engine"))
            continue
        if part == "both":
            out.append(Capacity("both"))
            continue
        cap: Window = "auto"
        if window != "auto":
            cap = int(window) if window.isdigit() else 0
            if cap < 1:
                raise ValidationError(
                    f"{part!r} is not a window; use N (calls), auto, engine, both, both-N or "
                    "both-auto, e.g. --capacity 8,16,64,auto,engine,both",
                    "--capacity",
                )
        out.append(Capacity("both" if mode else "client", cap))
    if not out:
        raise ValidationError("needs at least one variant, e.g. 16,auto,engine", "--capacity")
    return tuple(out)


@dataclass(frozen=True)
class CapacityBenchSpec(BenchSpec):
    """A ``BenchSpec`` whose every combination runs once per ``variants`` entry."""

    variants: tuple[Capacity, ...] = (Capacity(),)

    @classmethod
    def of(cls, spec: BenchSpec, chosen: tuple[Capacity, ...]) -> CapacityBenchSpec:
        """``spec`` with the variants added."""
        fields = {f.name: getattr(spec, f.name) for f in dataclasses.fields(BenchSpec)}
        return cls(**fields, variants=chosen)

    def configs(self, seed: int) -> list[SimConfig]:
        """Every base configuration with each variant, variant by variant within a policy."""
        return [
            dataclasses.replace(config, capacity=variant)
            for config in super().configs(seed)
            for variant in self.variants
        ]


@dataclass(frozen=True)
class CapacityRow:
    """One (policy, variant) at one load, all seeds pooled.

    Attributes:
        policy / variant: the row (``Capacity.label``).
        pooled: the apps' ACT.
        requests_per_s / tokens_per_s: LLM calls and output tokens per second of makespan.
        preemptions: per run, mean over the seeds (0 without engine limits).
        window: ``auto``: the window at the end, mean over seeds (None otherwise).
    """

    policy: str
    variant: str
    pooled: Pooled
    requests_per_s: float
    tokens_per_s: float
    preemptions: float
    window: float | None


def capacity_rows(results: Iterable[SimResult], load: float) -> list[CapacityRow]:
    """The rows of ``load``, in the order first seen."""
    groups: dict[tuple[str, str], list[SimResult]] = {}
    for result in results:
        if result.config.load == load:
            key = (result.config.policy, result.config.capacity.label())
            groups.setdefault(key, []).append(result)
    rows = []
    for (policy, variant), runs in groups.items():
        (pooled,) = pool(runs).values()
        makespan = sum(r.makespan_s for r in runs)
        windows = [
            r.engines[n]["window"] for r in runs for n in r.engines if "window" in r.engines[n]
        ]
        rows.append(
            CapacityRow(
                policy,
                variant,
                pooled,
                sum(r.llm.calls for r in runs) / makespan if makespan > 0 else 0.0,
                sum(r.llm.output_tokens for r in runs) / makespan if makespan > 0 else 0.0,
                _mean([e.get("preemptions", 0.0) for r in runs for e in r.engines.values()]),
                _mean(windows) if windows else None,
            )
        )
    return rows


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else 0.0


def capacity_record(result: SimResult, workload: str) -> dict[str, Any]:
    """``record``'s JSON entry with the variant, throughput and engine counters added."""
    capacity = result.config.capacity
    makespan = result.makespan_s
    return record(result, workload) | {
        "enforce": capacity.enforce or "workload",
        "max_concurrency": capacity.max_concurrency,
        "variant": capacity.label(),
        "requests_per_s": result.llm.calls / makespan if makespan > 0 else 0.0,
        "tokens_per_s": result.llm.output_tokens / makespan if makespan > 0 else 0.0,
        "engines": result.engines,
    }
