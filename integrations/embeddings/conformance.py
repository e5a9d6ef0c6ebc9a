"""Conformance of Hermes' embeddings adapter against any OpenAI-compatible embeddings server.

    python integrations/embeddings/conformance.py --base-url http://127.0.0.1:8081/v1 [--model NAME]
    python integrations/embeddings/conformance.py --local              # starts llama.cpp here

Checks: ``warm`` sends one tiny ``/v1/embeddings`` request and succeeds; the model name was found
(or given); an embedding comes back. ``--local`` starts SmolLM2 on llama.cpp with
``--embeddings`` (the same server ``tests/backends/test_embeddings_real.py`` uses).
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack

from hermes_agents.backends import EmbeddingsAdapter


def check(name: str, ok: bool, started: float, detail: str = "") -> None:
    """Print one check; exit 1 when it failed."""
    print(f"{'PASS' if ok else 'FAIL'}  {name} ({time.perf_counter() - started:.3f} s) {detail}")
    if not ok:
        sys.exit(1)


def run(adapter: EmbeddingsAdapter) -> None:
    """The conformance checks (see the module docstring)."""
    started = time.perf_counter()
    result = adapter.warm()
    check("warm(): one tiny embeddings request", result.ok, started,
          f"{result.seconds:.3f} s {result.error or ''}")  # fmt: skip
    started = time.perf_counter()
    vector = adapter.embed("hermes")
    check("embed(): a vector", len(vector) > 0, started, f"model={adapter.model} dim={len(vector)}")


def main() -> None:
    """Parse the flags and run against the server (or a local llama.cpp one)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8081/v1")
    parser.add_argument("--model", default=None)
    parser.add_argument("--local", action="store_true", help="start llama.cpp --embeddings here")
    args = parser.parse_args()
    with ExitStack() as stack:
        url = args.base_url
        if args.local:
            from hermes_agents.local import LlamaServer, local_model_path

            server = stack.enter_context(LlamaServer(local_model_path(), embeddings=True))
            url = server.base_url
        run(stack.enter_context(EmbeddingsAdapter(url, model=args.model)))
    print("embeddings adapter conformance: all checks passed")


if __name__ == "__main__":
    main()
