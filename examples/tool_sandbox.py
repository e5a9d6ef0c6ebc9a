"""A tool sandbox with a real cold start: a cold call, then a call after ``warm()``.

The sandbox runs tool calls in worker processes that start on demand (a fresh interpreter,
its imports, then ``--warmup-s`` of start-up work, standing in for loading a dataset or
booting a container) and stop when idle. An app that calls a tool on a cold sandbox pays that
start on its critical path; when Hermes predicts the call, its prewarmer calls the sandbox
adapter's ``warm()`` first, and the app's call finds a worker ready::

    python examples/tool_sandbox.py                 # --warmup-s 1.0 --workers 2
    python examples/tool_sandbox.py --json out.json

Prints both latencies and the sandbox's counters (worker starts, cold calls).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from hermes_agents.backends import SandboxAdapter, ToolSandbox


def run_tests(code: str, cases: list[tuple[int, int]]) -> bool:
    """The tool: define ``f`` from ``code`` and check it on ``cases`` (input, expected)."""
    scope: dict[str, object] = {}
    exec(compile(code, "<candidate>", "exec"), scope)
    f = scope["f"]
    assert callable(f)
    return all(f(x) == y for x, y in cases)


CODE = "def f(x):\n    return x * x\n"
CASES = [(2, 4), (3, 9), (10, 100)]


def _timed_call(sandbox: ToolSandbox) -> float:
    started = time.perf_counter()
    assert sandbox.call(run_tests, CODE, CASES)
    return time.perf_counter() - started


def measure(warmup_s: float, workers: int) -> dict[str, float | int]:
    """Cold call on a fresh sandbox vs a call on a fresh sandbox warmed by its adapter."""

    def fresh() -> ToolSandbox:
        return ToolSandbox(workers=workers, warmup_s=warmup_s, imports=["decimal", "json"])

    with fresh() as cold:
        cold_s = _timed_call(cold)
        reuse_s = _timed_call(cold)
        cold_stats = cold.stats
    with fresh() as sandbox:
        warm = SandboxAdapter(sandbox, name="code_exec").warm()  # what a prewarm hint does
        warmed_s = _timed_call(sandbox)
        warm_stats = sandbox.stats
    assert warm.ok, warm.error
    return {
        "cold_call_s": round(cold_s, 4),
        "next_call_same_worker_s": round(reuse_s, 4),
        "warm_s": round(warm.seconds, 4),
        "call_after_warm_s": round(warmed_s, 4),
        "cold_worker_starts": cold_stats.worker_starts,
        "cold_calls_without_warm": cold_stats.cold_calls,
        "cold_calls_after_warm": warm_stats.cold_calls,
        "workers_started_by_warm": warm_stats.worker_starts,
    }


def main() -> None:
    """Parse the flags, measure, print (and optionally write JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup-s", type=float, default=1.0, help="start-up work per worker")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    figures = measure(args.warmup_s, args.workers)
    print(f"cold call (starts a worker):     {figures['cold_call_s']:.3f} s")
    print(f"next call (same worker):         {figures['next_call_same_worker_s']:.3f} s")
    print(f"warm() ahead of the call:        {figures['warm_s']:.3f} s (off the critical path)")
    print(f"call after warm():               {figures['call_after_warm_s']:.3f} s")
    print(
        f"cold calls: {figures['cold_calls_without_warm']} without warm(), "
        f"{figures['cold_calls_after_warm']} after warm() "
        f"({figures['workers_started_by_warm']} workers started by warm())"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
