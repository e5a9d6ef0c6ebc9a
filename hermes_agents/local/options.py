"""How a local llama.cpp server is configured, and the command-line flags that carry it.

The flags are the same names ``llama-server`` uses (``--parallel``, ``--ctx-size``,
``--sleep-idle-seconds``, ``--embeddings``, ``--pooling``, ...), so what works with our launcher
reads the same as the upstream binary. ``ServerOptions.to_args()`` writes them and
``ServerOptions.from_args()`` reads them back (``serve_process`` uses the latter).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Literal, get_args

from hermes_agents.errors import ValidationError

__all__ = ["Pooling", "ServerOptions"]

Pooling = Literal["mean", "cls", "last", "none"]
"""How token embeddings are pooled into one vector per input (llama.cpp's ``--pooling``).

``/v1/embeddings`` refuses ``"none"``; chat models such as SmolLM2 have no pooling of their own,
so ``"mean"`` is the default.
"""

_POOLINGS: tuple[str, ...] = get_args(Pooling)


@dataclass(frozen=True)
class ServerOptions:
    """Settings of one llama.cpp server process (model path excluded).

    Example::

        ServerOptions(slots=2, ctx_tokens=2048, sleep_idle_s=30)
    """

    slots: int = 2
    """Requests decoded at the same time (``--parallel``); more wait in the server's queue."""
    ctx_tokens: int = 2048
    """Total context (``--ctx-size``), split evenly across slots; 0 takes the model's own."""
    sleep_idle_s: int | None = None
    """Unload the model after this many idle seconds (``--sleep-idle-seconds``); ``/props``
    then reports ``is_sleeping`` and the next inference request reloads it. None: never."""
    embeddings: bool = False
    """Serve ``/v1/embeddings`` as well (``--embeddings``)."""
    pooling: Pooling = "mean"
    """Embedding pooling (``--pooling``); used only with ``embeddings``."""
    threads: int | None = None
    """CPU threads for decoding and prompt processing (``--threads``). None: all cores."""
    host: str = "127.0.0.1"
    """Interface to listen on (``--host``)."""
    port: int = 0
    """Port to listen on (``--port``); 0 lets the operating system pick a free one."""
    alias: str | None = None
    """Model name reported by ``/v1/models`` (``--alias``). None: the model file's name."""

    def __post_init__(self) -> None:
        problem = self._problem()
        if problem is not None:
            field, message = problem
            raise ValidationError(message, "llama.cpp server options", f"field {field!r}")

    def _problem(self) -> tuple[str, str] | None:
        """The first invalid field and what to change, or None."""
        if self.slots < 1:
            return "slots", f"must be at least 1, got {self.slots}"
        if self.ctx_tokens < 0:
            return "ctx_tokens", f"must be 0 (model default) or positive, got {self.ctx_tokens}"
        if self.ctx_tokens and self.ctx_tokens < 16 * self.slots:
            return "ctx_tokens", f"{self.ctx_tokens} leaves under 16 tokens per slot"
        if self.sleep_idle_s is not None and self.sleep_idle_s < 1:
            return "sleep_idle_s", f"must be None (never sleep) or >= 1, got {self.sleep_idle_s}"
        if self.pooling not in _POOLINGS:
            return "pooling", f"must be one of {', '.join(_POOLINGS)}, got {self.pooling!r}"
        if self.threads is not None and self.threads < 1:
            return "threads", f"must be None (all cores) or >= 1, got {self.threads}"
        if not 0 <= self.port <= 65535:
            return "port", f"must be 0 (any free port) or a TCP port, got {self.port}"
        return None

    def to_args(self) -> list[str]:
        """The ``llama-server``-style flags for these options (model path excluded)."""
        args = ["--host", self.host, "--port", str(self.port)]
        args += ["--parallel", str(self.slots), "--ctx-size", str(self.ctx_tokens)]
        if self.sleep_idle_s is not None:
            args += ["--sleep-idle-seconds", str(self.sleep_idle_s)]
        if self.embeddings:
            args += ["--embeddings", "--pooling", self.pooling]
        if self.threads is not None:
            args += ["--threads", str(self.threads)]
        if self.alias is not None:
            args += ["--alias", self.alias]
        return args

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Declare the flags ``to_args`` writes on ``parser``."""
        default = cls()
        parser.add_argument("--host", default=default.host)
        parser.add_argument("--port", type=int, default=default.port)
        parser.add_argument("--parallel", type=int, default=default.slots, dest="slots")
        parser.add_argument("--ctx-size", type=int, default=default.ctx_tokens, dest="ctx_tokens")
        parser.add_argument("--sleep-idle-seconds", type=int, default=None, dest="sleep_idle_s")
        parser.add_argument("--embeddings", action="store_true")
        parser.add_argument("--pooling", choices=_POOLINGS, default=default.pooling)
        parser.add_argument("--threads", type=int, default=None)
        parser.add_argument("--alias", default=None)

    @classmethod
    def from_namespace(cls, namespace: argparse.Namespace) -> ServerOptions:
        """Build options from a namespace parsed with ``add_arguments``."""
        return cls(**{f.name: getattr(namespace, f.name) for f in fields(cls)})

    @classmethod
    def from_args(cls, args: Sequence[str]) -> ServerOptions:
        """Parse flags written by ``to_args`` (the inverse of ``to_args``)."""
        parser = argparse.ArgumentParser(add_help=False)
        cls.add_arguments(parser)
        return cls.from_namespace(parser.parse_args(list(args)))
