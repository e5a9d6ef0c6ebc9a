"""An app process of the several-hosts tests: runs of one app class, every call a ``@tool``
call on backend ``llm`` through the default scheduler (``HERMES_SCHEDULER``, ``HERMES_CONFIG``),
each call an HTTP request to the recording backend.

    python -m tests.scaleout.app --host A --app long --runs 1 --calls 4 --parallel \\
        --ms 50 --prior-s 2 --recorder /tmp/x/backend.sock [--gate g1] [--pause-s 0.2]

Before its first run it gives the scheduler the app's prior: one stage ``work`` (a tool on
``llm``) of ``--calls`` parallel calls of ``--prior-s`` seconds each, so a ``long`` and a
``short`` app rank apart on every host alike. ``--gate NAME`` holds the process's first call
at the backend until the test opens the gate. It prints one JSON line per call
(``{"event": "call", "call", "asked_s", "started_s"}``: when it asked for a slot and
when it had one) and a last one ``{"event": "done", "calls", "errors",
"unscheduled_calls"}``; a call that raises is counted in ``errors`` (a lost call).
"""

from __future__ import annotations

import argparse
import contextvars
import json
import logging
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from hermes_agents import tool
from hermes_agents.pdgraph import PDGraph
from hermes_agents.scheduling.default import get_scheduler

_print_lock = threading.Lock()


def emit(event: dict[str, Any]) -> None:
    """One JSON line on stdout (whole lines, from any thread)."""
    with _print_lock:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


def _stamp(record: logging.LogRecord) -> bool:
    record.monotonic = time.monotonic()
    return True


def prior(app: str, calls: int, seconds: float) -> PDGraph:
    """One stage ``work``: ``calls`` parallel tool calls of ``seconds`` on ``llm``."""
    stage = {
        "kind": "tool",
        "backend": "llm",
        "seconds": {"const": seconds},
        "fanout": {"const": calls},
        "next": {"END": 1.0},
    }
    return PDGraph.from_dict({"apps": {app: {"entry": "work", "stages": {"work": stage}}}}, app=app)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The flags (see the module docstring)."""
    parser = argparse.ArgumentParser(description="an app process of the scale-out tests")
    add = parser.add_argument
    add("--host", required=True)
    add("--app", required=True)
    add("--runs", type=int, default=1)
    add("--calls", type=int, default=1, help="calls per run")
    add("--parallel", action="store_true", help="a run's calls at once (a fan-out)")
    add("--ms", type=float, default=50.0, help="each call's work at the backend")
    add("--prior-s", type=float, default=1.0, help="each call's seconds in the prior")
    add("--recorder", required=True, help="the recording backend's Unix socket")
    add("--gate", help="hold the first call at the backend until this gate opens")
    add("--pause-s", type=float, default=0.0, help="pause between runs")
    return parser.parse_args(argv)


class App:
    """The process's app: its scheduled tool, its calls, what it counted."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.scheduler = get_scheduler()
        self.scheduler.add_prior(args.app, prior(args.app, args.calls, args.prior_s))
        self.client = httpx.Client(transport=httpx.HTTPTransport(uds=args.recorder), timeout=300)
        self.errors: list[str] = []
        self.done = 0
        self.gate: str | None = args.gate
        self.lock = threading.Lock()
        self.work = tool(backend="llm", stage="work")(self._work)  # the prior's stage

    def _work(self, run: int, call: int) -> float:
        """The call at the backend; ``work`` is it scheduled as a tool on ``llm``."""
        args = self.args
        params: dict[str, Any] = {"host": args.host, "app": args.app, "call": f"{run}.{call}"}
        params["ms"] = args.ms
        with self.lock:
            if self.gate is not None:
                params["gate"], self.gate = self.gate, None
        started = time.monotonic()
        self.client.get("http://backend/call", params=params).raise_for_status()
        return started

    def one(self, run: int, call: int) -> None:
        """One call, reported on stdout; one that raises is a lost call, counted."""
        try:
            asked = time.monotonic()
            started = self.work(run, call)
            line = {"event": "call", "call": f"{run}.{call}", "asked_s": asked}
            # unscheduled_calls so far: which calls ran unscheduled
            emit(line | {"started_s": started, "unscheduled_calls": self.unscheduled()})
            with self.lock:
                self.done += 1
        except Exception as error:  # a lost call: reported, never hidden
            self.errors.append(f"{run}.{call}: {type(error).__name__}: {error}")

    def unscheduled(self) -> int:
        """Calls of this process that ran unscheduled so far."""
        return self.scheduler.unscheduled_calls

    def run_all(self) -> None:
        """Every run, its calls one after another or (``--parallel``) all at once."""
        args = self.args
        with ThreadPoolExecutor(max_workers=max(args.calls, 1)) as pool:
            for run in range(args.runs):
                with self.scheduler.run(args.app):
                    if args.parallel:  # each call in its own copy of this context (the run's)
                        copies = [contextvars.copy_context() for _ in range(args.calls)]
                        calls = [pool.submit(c.run, self.one, run, n) for n, c in enumerate(copies)]
                        for future in calls:
                            future.result()
                    else:
                        for call in range(args.calls):
                            self.one(run, call)
                time.sleep(args.pause_s)


def main(argv: list[str] | None = None) -> int:
    """Run the app's runs; print the calls and the totals."""
    args = parse(argv)
    # warnings on stderr with the time.monotonic() the test's records use
    logging.basicConfig(format="%(monotonic).3f %(levelname)s %(name)s: %(message)s")
    logging.getLogger().handlers[0].addFilter(_stamp)
    app = App(args)
    app.run_all()
    totals = {"calls": app.done, "errors": app.errors, "unscheduled_calls": app.unscheduled()}
    emit({"event": "done"} | totals)
    app.scheduler.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
