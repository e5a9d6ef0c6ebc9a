"""The child side of ``ToolSandbox``: one worker process that runs the tool calls it is sent.

``ToolSandbox`` runs this file as a script (``python sandbox_worker.py READ_FD WRITE_FD``), so a
worker imports nothing of hermes-agents: its start-up is a fresh interpreter, the configured
imports and initializer, then ``warmup_s`` of configured warm-up (standing in for what a real
sandbox does before it can serve: load a dataset, start a container, JIT a model).

Protocol, over two pipes framed by ``multiprocessing.connection.Connection``: the parent sends
its ``sys.path``, its main script's path, then ``(imports, initializer, warmup_s)``; the worker
answers ``("ready", pid)`` or ``("failed", reason)``; then for each ``(fn, args, kwargs)`` it
answers ``("ok", value)`` or ``("error", exception)``. An empty message or a closed pipe stops
it. The tool's prints go to stderr, so they cannot corrupt the pipe.

Tools defined in the parent's main script pickle as ``__main__.<name>``; unless the sandbox
says not to, the worker runs that script as ``__mp_main__`` at start and makes it its
``__main__``, exactly as ``multiprocessing``'s spawn start method does (so guard the script's
own work with ``if __name__ == "__main__":``).
"""

from __future__ import annotations

import importlib
import os
import pickle
import runpy
import sys
import time
import types
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["serve"]


def _start(
    imports: Sequence[str], initializer: Callable[[], object] | None, warmup_s: float
) -> None:
    for module in imports:
        importlib.import_module(module)
    if initializer is not None:
        initializer()
    if warmup_s > 0:
        time.sleep(warmup_s)


def _import_main(path: str) -> None:
    """Run the parent's main script as ``__mp_main__`` and alias it as ``__main__``."""
    module = types.ModuleType("__mp_main__")
    module.__file__ = path
    sys.modules["__mp_main__"] = module
    module.__dict__.update(runpy.run_path(path, run_name="__mp_main__"))
    sys.modules["__main__"] = module


def _answer(out: Connection, data: bytes) -> None:
    try:
        fn, args, kwargs = pickle.loads(data)
    except Exception as error:  # the call cannot even be read here: tell the caller
        out.send(("error", error))
        return
    try:
        reply: tuple[str, Any] = ("ok", fn(*args, **kwargs))
    except Exception as error:  # the tool's own exception goes back to the caller, unwrapped
        reply = ("error", error)
    try:
        out.send(reply)
    except Exception as error:  # an unpicklable result or exception: say so instead
        problem = f"the tool's {reply[0]} value could not be sent back: {error!r}"
        out.send(("error", RuntimeError(problem)))


def serve(inbox: Connection, out: Connection) -> None:
    """Worker main: receive the set-up, start up, report ready, run calls until told to stop."""
    try:
        sys.path[:] = inbox.recv()  # before unpickling anything that names user modules
        main_path = inbox.recv()
        if main_path is not None:
            _import_main(main_path)
        imports, initializer, warmup_s = inbox.recv()
        _start(imports, initializer, warmup_s)
    except Exception as error:
        out.send(("failed", f"{type(error).__name__}: {error}"))
        return
    out.send(("ready", os.getpid()))
    while True:
        try:
            data = inbox.recv_bytes()
        except (EOFError, OSError):  # the parent went away
            return
        if not data:  # the stop message
            return
        _answer(out, data)


def main(argv: Sequence[str]) -> None:
    """``sandbox_worker.py READ_FD WRITE_FD``: serve over the two inherited pipe ends."""
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not reach a pipe
    inbox = Connection(int(argv[1]), writable=False)
    out = Connection(int(argv[2]), readable=False)
    serve(inbox, out)


if __name__ == "__main__":
    main(sys.argv)
