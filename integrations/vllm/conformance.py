"""Conformance of Hermes' vLLM adapter against a running vLLM server (or the fake).

    ./integrations/vllm/launch.sh Qwen/Qwen2.5-0.5B-Instruct          # on a GPU box
    python integrations/vllm/conformance.py --base-url http://127.0.0.1:8000 \\
        [--lora-path /adapters/sql] [--prefix "You are a SQL assistant."]
    python integrations/vllm/conformance.py --fake                    # anywhere: FakeVLLM

Checks, in order: metrics readable (both KV-usage names understood); ``/sleep`` puts it to
sleep and the adapter sees it; ``warm`` wakes it, loads the hinted app's LoRA and warms its
prefix; the LoRA is listed in ``/v1/models``; cleanup. Prints each check with its time and
exits 1 on the first failure.
"""

from __future__ import annotations

import argparse
import sys
import time

from hermes_agents.backends import VLLMAdapter
from hermes_agents.backends.testing import FakeVLLM
from hermes_agents.prewarm.hints import WarmHint

APP = "hermes-conformance"


def check(name: str, ok: bool, started: float, detail: str = "") -> None:
    """Print one check; exit 1 when it failed."""
    print(f"{'PASS' if ok else 'FAIL'}  {name} ({time.perf_counter() - started:.3f} s) {detail}")
    if not ok:
        sys.exit(1)


def run(adapter: VLLMAdapter, lora_path: str | None) -> None:
    """The conformance checks (see the module docstring)."""
    started = time.perf_counter()
    state = adapter.state()
    check("state: metrics readable", state.waiting is not None and state.running is not None,
          started, f"{state}")  # fmt: skip
    started = time.perf_counter()
    adapter.sleep(level=1)
    check("POST /sleep?level=1: asleep", adapter.is_sleeping(), started)
    check("state sees it asleep", adapter.state().awake is False, started)
    hint = WarmHint(adapter.name, APP, "run-1", 1.0, 0.0, 0.0, "wake")
    result = adapter.warm(hint)
    check(
        "warm(hint): ok",
        result.ok,
        started,
        f"warm took {result.seconds:.3f} s {result.error or ''}",
    )
    check("awake after warm", not adapter.is_sleeping(), started)
    if lora_path is not None:
        ids = {card["id"] for card in adapter.models()}
        check("LoRA loaded under the app's name", APP in ids, started, f"{sorted(ids)}")
        adapter.unload_lora(APP)


def main() -> None:
    """Parse the flags and run against the server or the fake."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--lora-path", default=None)
    parser.add_argument("--prefix", default="You are a helpful assistant.")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--fake", action="store_true", help="run against FakeVLLM")
    args = parser.parse_args()
    if args.fake and args.lora_path is None:
        args.lora_path = f"/adapters/{APP}"  # the fake accepts any path: exercise LoRA too
    lora = {APP: args.lora_path} if args.lora_path else {}
    transport = FakeVLLM().transport() if args.fake else None
    with VLLMAdapter(args.base_url, lora=lora, prefix=args.prefix, api_key=args.api_key,
                     transport=transport) as adapter:  # fmt: skip
        run(adapter, args.lora_path)
    print("vLLM adapter conformance: all checks passed")


if __name__ == "__main__":
    main()
