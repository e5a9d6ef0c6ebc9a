"""Instrumentation overhead per scheduled call, in-process (issue 5: median <= 1 ms over bare).

Run: ``.venv/bin/python benchmarks/overhead.py [--rounds 40] [--calls 25] [--json OUT]
[--profile] [--no-store]``

Every call goes to a fast local fake OpenAI-compatible server (a threaded ``http.server`` in
its own process on 127.0.0.1, answering ``/v1/chat/completions`` with a fixed body, keep-alive
on), so the backend is quick and steady and the overhead is not hidden in it. Four pairs, bare
against Hermes:

1. ``openai``: ``openai.OpenAI`` against ``hermes_agents.openai.OpenAI`` (a one-call app);
2. ``langgraph``: a one-node LangGraph graph whose node calls the bare client, against the same
   graph ``instrument()``-ed with the node calling the Hermes client (one app run per call,
   learned and stored);
3. ``langchain``: ``langchain_openai.ChatOpenAI`` against ``HermesChatModel`` around it;
4. ``tool``: a plain function against the same function under ``@hermes_agents.tool``.

Hermes runs an in-process ``gittins`` scheduler as a process gets by default (learning, and
keeping runs in a profile store in a temporary directory unless ``--no-store``). Rounds
alternate which side goes first, to cancel drift; each call is timed alone, in wall time and
in CPU time of this process (the server runs in another). Overhead at a percentile is the
Hermes side's percentile minus the bare side's; the CPU figures are what the instrumentation
itself costs, steady even when other jobs share the machine. Prints a table (and writes
``--json OUT``); never a pass/fail test. With ``--profile``, or when a median overhead is above
1 ms, the Hermes side of that pair is run under cProfile and the top functions are printed.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import operator
import os
import platform
import pstats
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, TypedDict

import numpy as np
import openai
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, StateGraph
from rich.console import Console
from rich.table import Table

import hermes_agents
from hermes_agents import StageKind
from hermes_agents.langchain import scheduled
from hermes_agents.langgraph import instrument
from hermes_agents.openai import OpenAI as HermesOpenAI
from hermes_agents.scheduling import BackendLimits, LocalScheduler
from hermes_agents.scheduling.models import AppModels
from hermes_agents.store import ProfileStore

GOAL_US = 1000.0
MODEL = "fake-model"
PROMPT = "Say hello."
MESSAGES = [{"role": "user", "content": PROMPT}]
_CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": MODEL,
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello!", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
}


SERVER = textwrap.dedent(
    """
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    BODY = sys.argv[1].encode()

    class FakeOpenAI(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as openai's client expects
        disable_nagle_algorithm = True  # else a delayed ACK adds ~40 ms to every answer

        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """
)
"""The fake server: every POST gets one fixed chat completion (``argv[1]``)."""


@contextmanager
def fake_server() -> Iterator[str]:
    """The fake server in its own process (so it takes no CPU time or GIL from the measured
    process) on a free port of 127.0.0.1; yields its ``/v1`` base URL."""
    command = [sys.executable, "-c", SERVER, json.dumps(_CHAT)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait(10)


@dataclass(frozen=True)
class Pair:
    """One comparison: a bare call and the same call through Hermes."""

    name: str
    bare: Callable[[], object]
    hermes: Callable[[], object]


@dataclass(frozen=True)
class Overhead:
    """Per-call times of one pair, in microseconds (``*_us``), over ``calls`` calls a side."""

    name: str
    calls: int
    bare_p50_us: float
    bare_p90_us: float
    hermes_p50_us: float
    hermes_p90_us: float
    overhead_p50_us: float
    overhead_p90_us: float
    cpu_overhead_p50_us: float
    """The same difference in CPU time of this process: what the instrumentation computes,
    without the waits a noisy machine adds to wall time."""
    cpu_overhead_p90_us: float


class _State(TypedDict, total=False):
    reply: Annotated[list[str], operator.add]


def _one_node_graph(client: openai.OpenAI) -> Any:
    def answer(state: _State) -> dict[str, Any]:
        reply = client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
        return {"reply": [reply.choices[0].message.content or ""]}

    builder = StateGraph(_State)
    builder.add_node("answer", answer)
    builder.add_edge(START, "answer")
    builder.add_edge("answer", END)
    return builder.compile(name="one-node")


def pairs(base_url: str, scheduler: LocalScheduler) -> list[Pair]:
    """The four comparisons, every Hermes side on ``scheduler``."""
    bare = openai.OpenAI(base_url=base_url, api_key="-", max_retries=0)
    hermes = HermesOpenAI(base_url=base_url, api_key="-", max_retries=0, hermes_scheduler=scheduler)
    graph = _one_node_graph(bare)
    app = instrument(_one_node_graph(hermes), name="one-node", scheduler=scheduler)
    chat = ChatOpenAI(model=MODEL, base_url=base_url, api_key=lambda: "-", max_retries=0)
    hermes_chat = scheduled(
        ChatOpenAI(model=MODEL, base_url=base_url, api_key=lambda: "-", max_retries=0),
        scheduler=scheduler,
    )

    def add(a: int, b: int) -> int:
        return a + b

    scheduled_add = hermes_agents.tool(backend="tools", scheduler=scheduler)(add)
    return [
        Pair(
            "openai",
            lambda: bare.chat.completions.create(model=MODEL, messages=MESSAGES),  # type: ignore[arg-type]
            lambda: hermes.chat.completions.create(model=MODEL, messages=MESSAGES),  # type: ignore[arg-type]
        ),
        Pair("langgraph", lambda: graph.invoke({}), lambda: app.invoke({})),
        Pair("langchain", lambda: chat.invoke(PROMPT), lambda: hermes_chat.invoke(PROMPT)),
        Pair("tool", lambda: add(1, 2), lambda: scheduled_add(1, 2)),
    ]


def _timed(call: Callable[[], object], count: int) -> tuple[list[float], list[float]]:
    """Wall and CPU (this process, all threads) microseconds of ``count`` calls, one by one."""
    wall, cpu = [], []
    for _ in range(count):
        wall_start, cpu_start = time.perf_counter_ns(), time.process_time_ns()
        call()
        cpu.append((time.process_time_ns() - cpu_start) / 1000)
        wall.append((time.perf_counter_ns() - wall_start) / 1000)
    return wall, cpu


def measure(pair: Pair, rounds: int, calls: int, warmup: int) -> Overhead:
    """Interleaved rounds of ``calls`` calls a side (after ``warmup`` untimed calls each)."""
    _timed(pair.bare, warmup)
    _timed(pair.hermes, warmup)
    times: dict[str, tuple[list[float], list[float]]] = {"bare": ([], []), "hermes": ([], [])}
    for index in range(rounds):
        for side in ("bare", "hermes") if index % 2 == 0 else ("hermes", "bare"):
            wall, cpu = _timed(pair.bare if side == "bare" else pair.hermes, calls)
            times[side][0].extend(wall)
            times[side][1].extend(cpu)
    (b50, b90), (h50, h90) = (np.percentile(times[side][0], [50, 90]) for side in times)
    (c50, c90), (d50, d90) = (np.percentile(times[side][1], [50, 90]) for side in times)
    return Overhead(
        pair.name,
        rounds * calls,
        *(float(v) for v in (b50, b90, h50, h90, h50 - b50, h90 - b90, d50 - c50, d90 - c90)),
    )


def profile(pair: Pair, calls: int, top: int = 20) -> str:
    """The top ``top`` functions by own time over ``calls`` Hermes-side calls (cProfile)."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        pair.hermes()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats("hermes_agents", top)
    return out.getvalue()


def table(results: list[Overhead]) -> Table:
    """The figures, one row per pair."""
    view = Table(title="Per-call overhead of Hermes, in-process (µs; overhead = Hermes - bare)")
    columns = (
        *("pair", "calls", "bare p50", "bare p90", "hermes p50", "hermes p90"),
        *("overhead p50", "overhead p90", "CPU overhead p50", "CPU overhead p90"),
    )
    for column in columns:
        view.add_column(column, justify="left" if column == "pair" else "right")
    view.add_column("goal: p50 <= 1,000", justify="right")
    for row in results:
        figures = (
            *(row.bare_p50_us, row.bare_p90_us, row.hermes_p50_us, row.hermes_p90_us),
            *(row.overhead_p50_us, row.overhead_p90_us),
            *(row.cpu_overhead_p50_us, row.cpu_overhead_p90_us),
        )
        view.add_row(
            row.name,
            str(row.calls),
            *(f"{value:,.0f}" for value in figures),
            "met" if row.overhead_p50_us <= GOAL_US else "[bold red]missed[/bold red]",
        )
    return view


def _scheduler(store: ProfileStore | None) -> LocalScheduler:
    """What a process gets by default: in-process, gittins, learning (and storing) its runs."""
    limits = {"llm": BackendLimits(4), "tools": BackendLimits(8, kind=StageKind.TOOL)}
    return LocalScheduler.in_process(limits, policy="gittins", models=AppModels(store=store))


def main() -> None:
    """Measure every pair; print the table; write the JSON; profile what misses the goal."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40, help="interleaved rounds (40)")
    parser.add_argument("--calls", type=int, default=25, help="calls per side per round (25)")
    parser.add_argument("--warmup", type=int, default=30, help="untimed calls per side (30)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the figures here")
    parser.add_argument("--profile", action="store_true", help="profile every Hermes side")
    parser.add_argument("--no-store", action="store_true", help="learn without a profile store")
    args = parser.parse_args()
    console = Console()
    if not console.is_terminal:  # a file or a pipe: keep each pair on one line
        console = Console(width=max(console.width, 150))
    with tempfile.TemporaryDirectory() as folder, fake_server() as base_url:
        store = None if args.no_store else ProfileStore(Path(folder) / "profiles.sqlite3")
        scheduler = _scheduler(store)
        results = []
        for pair in pairs(base_url, scheduler):
            results.append(measure(pair, args.rounds, args.calls, args.warmup))
            console.print(f"measured {pair.name}", style="dim")
        console.print(table(results))
        for pair, result in zip(pairs(base_url, scheduler), results, strict=True):
            if args.profile or result.overhead_p50_us > GOAL_US:
                console.print(f"[bold]cProfile of the Hermes side of {pair.name}[/bold]")
                print(profile(pair, args.rounds * args.calls), flush=True)
        if store is not None:
            store.close()
    if args.json is not None:
        record = {
            "goal_p50_us": GOAL_US,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "settings": {"rounds": args.rounds, "calls": args.calls, "store": not args.no_store},
            "pairs": [asdict(result) for result in results],
        }
        args.json.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        console.print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
