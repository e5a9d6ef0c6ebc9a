"""First-call latency after a pause on the real llama.cpp server, with and without prewarming
(issue 6: within 20% of a warm call with prewarming, the full reload without).

Run: ``.venv/bin/python benchmarks/prewarm_latency.py [--rounds 8] [--threads 1] [--json OUT]``

One llama.cpp server (SmolLM2-135M from the local model cache, ``--sleep-idle-seconds 1``).
Each round times the same 4-token chat call three ways, in an order that rotates per round to
cancel drift:

- ``warm``: the server is awake (a call just before);
- ``cold``: the model slept (idle for more than a second); the call pays the reload;
- ``prewarmed``: the model slept, then ``LlamaCppAdapter.warm()`` ran (as the prewarm runtime
  does off the app's path, just before the app arrives), then the call.

Prints the median and range per way and the ratios to the warm median (a table; never a
pass/fail test: the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from hermes_agents.backends.llamacpp import LlamaCppAdapter
from hermes_agents.local import LlamaServer, local_model_path

CALL = {"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 4, "seed": 0}


def _timed_call(client: httpx.Client, server: LlamaServer) -> float:
    body = {**CALL, "cache_prompt": False}  # the same work every time, bar the reload
    started = time.perf_counter()
    client.post(f"{server.base_url}/chat/completions", json=body, timeout=120).raise_for_status()
    return time.perf_counter() - started


def _asleep(server: LlamaServer) -> None:
    deadline = time.monotonic() + 60
    while not server.is_sleeping():
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not fall asleep within 60 s")
        time.sleep(0.1)


def measure(rounds: int, threads: int) -> dict[str, list[float]]:
    """Seconds per call, per way (``warm``, ``cold``, ``prewarmed``), ``rounds`` each."""
    times: dict[str, list[float]] = {"warm": [], "cold": [], "prewarmed": []}
    with (
        LlamaServer(local_model_path(progress=True), sleep_idle_s=1, threads=threads) as server,
        LlamaCppAdapter(server.url) as adapter,
        httpx.Client() as client,
    ):
        _timed_call(client, server)  # one-off start-up costs

        def warm() -> float:
            _timed_call(client, server)
            return _timed_call(client, server)

        def cold() -> float:
            _asleep(server)
            return _timed_call(client, server)

        def prewarmed() -> float:
            _asleep(server)
            if not adapter.warm().ok:
                raise RuntimeError("warm() failed; see the log")
            return _timed_call(client, server)

        ways: list[tuple[str, Callable[[], float]]] = [
            ("warm", warm),
            ("cold", cold),
            ("prewarmed", prewarmed),
        ]
        for round_ in range(rounds):
            shift = round_ % len(ways)
            for name, way in ways[shift:] + ways[:shift]:
                times[name].append(way())
    return times


def main() -> None:
    """Measure, print the table, write the JSON if asked."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8, help="calls per way (default 8)")
    parser.add_argument("--threads", type=int, default=1, help="server threads (default 1)")
    parser.add_argument("--json", type=Path, help="write the raw seconds here")
    args = parser.parse_args()
    console = Console()
    with console.status(f"timing {args.rounds} rounds"):
        times = measure(args.rounds, args.threads)
    warm = statistics.median(times["warm"])
    table = Table(title="First call after a pause (llama.cpp, SmolLM2-135M, 4 tokens)")
    for column in ("call", "median s", "range s", "vs warm"):
        table.add_column(column, justify="left" if column == "call" else "right")
    for name, values in times.items():
        median = statistics.median(values)
        spread = f"{min(values):.3f}-{max(values):.3f}"
        table.add_row(name, f"{median:.3f}", spread, f"{median / warm - 1:+.0%}")
    console.print(table)
    if args.json is not None:
        args.json.write_text(json.dumps(times, indent=2))
        console.print(f"json: {args.json}")


if __name__ == "__main__":
    main()
