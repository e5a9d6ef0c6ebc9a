"""What the drop-in clients share: one call's slot, its rough size, and the nesting guard.

``CallSlot`` is the slot of one call made through a drop-in (the OpenAI clients, the LangChain
wrappers). It takes the stage from the LangGraph node running here (``context.current_node``),
sizes the call from its prompt (``rough_tokens``: characters / 4) and its output limit, and
releases exactly once, from whichever thread or task finishes the call.

The nesting guard: a call made while this context already holds a slot on the same backend
(a LangChain wrapper around a chat model that itself uses the drop-in OpenAI client) is part
of the outer call. It runs without a second slot, which would otherwise wait for the first
forever on a backend of capacity 1, and its rank (for priority hints) is the outer call's.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Iterator, Mapping
from types import MappingProxyType, TracebackType

from hermes_agents.context import current_node
from hermes_agents.cost import LLMCost
from hermes_agents.scheduling.default import get_scheduler
from hermes_agents.scheduling.front import Scheduler, Slot
from hermes_agents.scheduling.state import Usage

CHARS_PER_TOKEN = 4
"""The rough size of a token in characters, for estimates made before the call."""

_MAX_DEPTH = 32
_ESTIMATE_COST = LLMCost()
_held: contextvars.ContextVar[Mapping[str, CallSlot]] = contextvars.ContextVar(
    "hermes_held_calls", default=MappingProxyType({})
)
"""The calls this context is inside, by backend (never mutated: replaced)."""


def rough_tokens(value: object) -> int:
    """Rough token count of a request's text: characters / 4, token ids counted one each.

    Walks strings, mappings (their values), lists and tuples; anything else (including inline
    ``data:`` payloads such as base64 images) counts nothing. Other iterables are never
    consumed.

    >>> rough_tokens([{"role": "user", "content": "How tall is Everest?"}])
    6
    """
    chars, ids = _measure(value, 0)
    return -(-chars // CHARS_PER_TOKEN) + ids


def _measure(value: object, depth: int) -> tuple[int, int]:
    if isinstance(value, str):
        return (0 if value.startswith("data:") else len(value)), 0
    if isinstance(value, bool) or depth >= _MAX_DEPTH:
        return 0, 0
    if isinstance(value, int):
        return 0, 1
    if isinstance(value, Mapping):
        value = list(value.values())
    if not isinstance(value, list | tuple):
        return 0, 0
    chars = ids = 0
    for item in value:
        more_chars, more_ids = _measure(item, depth + 1)
        chars += more_chars
        ids += more_ids
    return chars, ids


def outer_call(backend: str) -> CallSlot | None:
    """The call on ``backend`` this context is inside, if any (see the module docstring)."""
    return _held.get().get(backend)


@contextlib.contextmanager
def nested_calls(call: CallSlot) -> Iterator[None]:
    """Mark calls made inside as part of ``call``.

    Enter and leave it in one context: around the inner call, or around each step of a stream,
    never across a ``yield`` to the consumer.
    """
    token = _held.set({**_held.get(), call.backend: call})
    try:
        yield
    finally:
        _held.reset(token)


class CallSlot:
    """The slot of one drop-in call: ``with``/``async with``, or ``enter`` and ``release``.

    ``release`` may come later from any thread (a stream that ends elsewhere); it reports the
    usage given to ``report`` (else only the measured seconds) and runs once, however often it
    is called. A nested call (``outer_call``) holds no slot and has the outer call's rank.
    """

    def __init__(
        self,
        scheduler: Scheduler | None,
        backend: str,
        *,
        prompt_tokens: int = 0,
        max_output_tokens: int | None = None,
    ) -> None:
        self.backend = backend
        self.slot: Slot | None = None
        self.outer = outer_call(backend)
        if self.outer is None:
            node = current_node()
            output = max_output_tokens or 0
            self.slot = (scheduler or get_scheduler()).slot(
                backend,
                stage=node.node if node is not None else None,
                visit=node.visit if node is not None else None,
                estimate_s=_ESTIMATE_COST.seconds_one(prompt_tokens, output),
                tokens=prompt_tokens + output,
            )
        self._usage: tuple[int, int, int] | None = None
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._released = False

    @property
    def rank(self) -> float | None:
        """The app's Gittins rank once admitted (lower is more urgent), if known."""
        if self.slot is not None:
            return self.slot.rank
        return self.outer.rank if self.outer is not None else None

    def enter(self) -> CallSlot:
        """Wait for admission (blocking)."""
        if self.slot is not None:
            self.slot.__enter__()
        self._started = time.monotonic()
        return self

    async def aenter(self) -> CallSlot:
        """Wait for admission (asyncio)."""
        if self.slot is not None:
            await self.slot.__aenter__()
        self._started = time.monotonic()
        return self

    def report(self, prompt_tokens: int, output_tokens: int, cached_tokens: int = 0) -> None:
        """The call's actual token usage, as its response says."""
        self._usage = (prompt_tokens, output_tokens, cached_tokens)

    def release(self) -> None:
        """Give the slot back with the reported usage and the seconds since admission."""
        with self._lock:
            if self._released:
                return
            self._released = True
        if self.slot is None:
            return
        prompt, output, cached = self._usage or (0, 0, 0)
        seconds = time.monotonic() - self._started
        self.slot.usage = Usage(prompt, output, cached, seconds)
        self.slot.__exit__(None, None, None)

    def __enter__(self) -> CallSlot:
        return self.enter()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    async def __aenter__(self) -> CallSlot:
        return await self.aenter()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
