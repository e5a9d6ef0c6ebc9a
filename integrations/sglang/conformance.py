"""Conformance of Hermes' SGLang adapter against a running SGLang server (or the fake).

    ./integrations/sglang/launch.sh Qwen/Qwen2.5-0.5B-Instruct         # on a GPU box
    python integrations/sglang/conformance.py --base-url http://127.0.0.1:30000
    python integrations/sglang/conformance.py --fake                   # anywhere: FakeSGLang

Checks: metrics readable; ``release_memory_occupation`` on the idle server and the adapter
reports it asleep; ``warm`` resumes exactly what was released and warms a prefix; a second
``warm`` does not resume again (resuming what is not released would take SGLang down).
Exits 1 on the first failure.
"""

from __future__ import annotations

import argparse
import sys
import time

from hermes_agents.backends import SGLangAdapter
from hermes_agents.backends.testing import FakeSGLang


def check(name: str, ok: bool, started: float, detail: str = "") -> None:
    """Print one check; exit 1 when it failed."""
    print(f"{'PASS' if ok else 'FAIL'}  {name} ({time.perf_counter() - started:.3f} s) {detail}")
    if not ok:
        sys.exit(1)


def run(adapter: SGLangAdapter) -> None:
    """The conformance checks (see the module docstring)."""
    started = time.perf_counter()
    state = adapter.state()
    check("state: metrics readable", state.running is not None and state.waiting is not None,
          started, f"{state}")  # fmt: skip
    started = time.perf_counter()
    adapter.release()
    check("release_memory_occupation: adapter knows", adapter.state().awake is False, started)
    result = adapter.warm()
    check("warm(): resumed", result.ok and not adapter.released, started,
          f"warm took {result.seconds:.3f} s {result.error or ''}")  # fmt: skip
    again = adapter.warm()
    check("warm() again: no second resume", again.ok, started, f"{again.error or ''}")
    check("still serving", adapter.state().running is not None, started)


def main() -> None:
    """Parse the flags and run against the server or the fake."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:30000")
    parser.add_argument("--prefix", default="You are a helpful assistant.")
    parser.add_argument("--fake", action="store_true", help="run against FakeSGLang")
    args = parser.parse_args()
    transport = FakeSGLang().transport() if args.fake else None
    with SGLangAdapter(args.base_url, prefix=args.prefix, transport=transport) as adapter:
        run(adapter)
    print("SGLang adapter conformance: all checks passed")


if __name__ == "__main__":
    main()
