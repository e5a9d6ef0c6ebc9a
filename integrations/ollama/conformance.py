"""Conformance of Hermes' Ollama adapter against a running Ollama (or the fake).

    ollama serve &  ollama pull llama3.2                                # once
    python integrations/ollama/conformance.py --model llama3.2 [--base-url http://127.0.0.1:11434]
    python integrations/ollama/conformance.py --fake                   # anywhere: FakeOllama

Checks: unload, and ``/api/ps`` no longer lists the model; ``warm`` loads it with the configured
``keep_alive`` and ``/api/ps`` lists it; a keep-awake hint extends ``keep_alive``. Prints the
load time (the cold start Hermes hides). Exits 1 on the first failure.
"""

from __future__ import annotations

import argparse
import sys
import time

from hermes_agents.backends import OllamaAdapter
from hermes_agents.backends.testing import FakeOllama
from hermes_agents.prewarm.hints import WarmHint


def check(name: str, ok: bool, started: float, detail: str = "") -> None:
    """Print one check; exit 1 when it failed."""
    print(f"{'PASS' if ok else 'FAIL'}  {name} ({time.perf_counter() - started:.3f} s) {detail}")
    if not ok:
        sys.exit(1)


def run(adapter: OllamaAdapter) -> None:
    """The conformance checks (see the module docstring)."""
    started = time.perf_counter()
    adapter.unload()
    check("unload (keep_alive 0): not in /api/ps", adapter.state().awake is False, started)
    started = time.perf_counter()
    result = adapter.warm()
    check("warm(): loaded", result.ok and adapter.state().awake is True, started,
          f"load took {result.seconds:.3f} s {result.error or ''}")  # fmt: skip
    keep_s = adapter.keep_alive_s + 60
    hint = WarmHint(adapter.name, "chat", "run-1", 1.0, 0.0, 0.0, "keep_awake", keep_s)
    started = time.perf_counter()
    check("keep-awake hint: ok", adapter.warm(hint).ok, started)


def main() -> None:
    """Parse the flags and run against the server or the fake."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:11434")
    parser.add_argument("--model", default="llama3.2")
    parser.add_argument("--keep-alive-s", type=float, default=300.0)
    parser.add_argument("--fake", action="store_true", help="run against FakeOllama")
    args = parser.parse_args()
    transport = FakeOllama(models=(f"{args.model}:latest",)).transport() if args.fake else None
    with OllamaAdapter(args.base_url, model=args.model, keep_alive_s=args.keep_alive_s,
                       transport=transport) as adapter:  # fmt: skip
        run(adapter)
    print("Ollama adapter conformance: all checks passed")


if __name__ == "__main__":
    main()
