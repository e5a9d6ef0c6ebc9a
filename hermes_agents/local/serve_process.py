"""Run llama.cpp's HTTP server (through ``xllamacpp``) in this process until told to stop.

``xllamacpp`` offers the server only in-process (``xllamacpp.Server``); this module is the tiny
entry point that lets ``LlamaServer`` run it in a subprocess of its own, so a crash or a kill is
real and decoding runs outside the caller's GIL. Usable by hand too::

    python -m hermes_agents.local.serve_process --model SmolLM2.gguf --port 8080 \\
        --parallel 2 --ctx-size 2048 --sleep-idle-seconds 30

It prints the server's address on stdout once the model is loaded and serves until it gets
SIGTERM/SIGINT. Flags beyond ``llama-server``'s: ``--ready-file PATH`` (write
``{"url": ..., "pid": ...}`` there, atomically, once serving) and ``--exit-on-stdin-eof`` (stop
when standard input closes, so the server dies with the process that started it). Exit status:
0 after a clean stop, 1 when the server cannot start, 2 for bad arguments or no ``xllamacpp``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from hermes_agents.local.options import ServerOptions

__all__ = ["main"]

_POOLING_TYPES = {
    "none": "LLAMA_POOLING_TYPE_NONE",
    "mean": "LLAMA_POOLING_TYPE_MEAN",
    "cls": "LLAMA_POOLING_TYPE_CLS",
    "last": "LLAMA_POOLING_TYPE_LAST",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hermes_agents.local.serve_process",
        description="Serve a GGUF model with llama.cpp's server (xllamacpp) until stopped.",
    )
    parser.add_argument("--model", "-m", required=True, type=Path, help="the .gguf file")
    ServerOptions.add_arguments(parser)
    parser.add_argument("--ready-file", type=Path, default=None)
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    return parser


def _params(xlc: ModuleType, model: Path, options: ServerOptions) -> Any:
    """xllamacpp's ``CommonParams`` for ``options``."""
    params = xlc.CommonParams()
    params.model.path = str(model)
    params.hostnames = [options.host]
    params.port = options.port
    params.n_parallel = options.slots
    params.n_ctx = options.ctx_tokens
    params.endpoint_metrics = True
    params.endpoint_slots = True
    if options.sleep_idle_s is not None:
        params.sleep_idle_seconds = options.sleep_idle_s
    if options.embeddings:
        params.embedding = True
        params.pooling_type = getattr(xlc.llama_pooling_type, _POOLING_TYPES[options.pooling])
    if options.threads is not None:
        params.cpuparams.n_threads = options.threads
        params.cpuparams_batch.n_threads = options.threads
    params.model_alias = {options.alias or model.stem}
    return params


def _write_ready(path: Path, url: str) -> None:
    """Write the ready file atomically, so a reader never sees half of it."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"url": url, "pid": os.getpid()}), encoding="utf-8")
    os.replace(temporary, path)


def _wait_for_stop(exit_on_stdin_eof: bool) -> None:
    """Block until stdin closes (when asked) or a signal ends the process."""
    if exit_on_stdin_eof:
        # Nothing is ever written to this pipe: EOF means the parent closed it or died.
        while sys.stdin.buffer.read(65536):
            pass
        return
    threading.Event().wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Start the server described by ``argv`` and serve until stopped; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        options = ServerOptions.from_namespace(args)
        xlc = importlib.import_module("xllamacpp")
    except ImportError:
        print(
            "xllamacpp is not installed; install it with: pip install 'hermes-agents[local]'",
            file=sys.stderr,
        )
        return 2
    except ValueError as exc:
        print(f"bad arguments: {exc}", file=sys.stderr)
        return 2
    try:
        server = xlc.Server(_params(xlc, args.model, options))
    except RuntimeError as exc:
        print(f"llama.cpp server failed to start with model {args.model}: {exc}", file=sys.stderr)
        return 1
    url = str(server.listening_address)
    if args.ready_file is not None:
        _write_ready(args.ready_file, url)
    print(url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        _wait_for_stop(args.exit_on_stdin_eof)
    del server  # stops llama.cpp's loops before the interpreter tears down
    return 0


if __name__ == "__main__":
    sys.exit(main())
