"""``Slot``: admission to one backend for one call, the one slot type every drop-in uses.

Use it as ``with`` / ``async with``, or ``enter()`` / ``await aenter()`` then ``release()`` (a
stream that ends elsewhere). It finds, in one place, what the call belongs to:

- the scheduler: the one given, else the process default (``get_scheduler()``) at entry;
- the run: the scheduler's run scope around the call (none: a one-call app);
- the stage and visit: ``stage=`` if given, else the LangGraph node running here
  (``context.current_node()``: calls of one node visit share it), else ``default_stage``;
- the nesting guard: a call made while this context already holds a slot on the same backend
  (a LangChain wrapper around a model that itself uses the drop-in OpenAI client, a tool that
  calls a tool) is part of the outer call. It takes no second slot, which would wait for the
  first forever on a backend of capacity 1, and its rank is the outer call's. A drop-in marks
  the code it runs for the call with ``nested_calls(slot)`` (a stream: each step).

``release`` reports the usage given to ``report`` (or set as ``slot.usage``) with the seconds
since admission, exactly once, from whichever thread or task finishes the call. The call's
numbers and names are checked when the slot is made (``ValidationError`` naming the field: a
NaN estimate is a bug in the caller); usage read back from a backend that is out of bounds is
dropped with one warning per backend and never learned (the measured seconds stand). If the run
ended while the call waited, entering raises ``RunEndedError``; if scheduling broke, the call
runs unscheduled. A timeout or a cancellation while waiting withdraws the call.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from types import MappingProxyType, TracebackType

from hermes_agents.bounds import (
    GOOD_NAMES,
    MAX_CALL_S,
    MAX_TOKENS,
    checked_name,
    checked_seconds,
    checked_tokens,
    usage_problem,
)
from hermes_agents.context import current_node
from hermes_agents.errors import HermesError, RunEndedError
from hermes_agents.scheduling.interface import Scheduler
from hermes_agents.scheduling.state import Usage
from hermes_agents.scheduling.ticket import Answer, Ticket

logger = logging.getLogger(__name__)

_RELEASE_LOCK = threading.Lock()
"""Makes ``release`` run once, whichever threads call it (shared: held for an instant)."""

_held: contextvars.ContextVar[Mapping[str, Slot]] = contextvars.ContextVar(
    "hermes_held_slots", default=MappingProxyType({})
)
"""The calls this context is inside, by backend (never mutated: replaced)."""
_new_usage = tuple.__new__
"""``Usage(...)`` from a tuple of all its fields, without the named tuple's Python-level
``__new__`` (the release path)."""
_WARNED_USAGE: set[str] = set()
"""Backends whose bad usage was warned about (once each)."""


@contextlib.contextmanager
def nested_calls(slot: Slot) -> Iterator[None]:
    """Mark calls made inside as part of ``slot``'s call.

    Enter and leave it in one context: around the inner call, or around each step of a stream,
    never across a ``yield`` to the consumer.
    """
    token = _held.set({**_held.get(), slot.backend: slot})
    try:
        yield
    finally:
        _held.reset(token)


def _default_scheduler() -> Scheduler | None:
    """The process default scheduler; None (logged once) when it cannot be built: at call time
    a bad setting never breaks the user's call (``check_environment`` raised at startup)."""
    from hermes_agents.scheduling.default import get_scheduler

    try:
        return get_scheduler()
    except HermesError as error:
        global _UNSCHEDULED
        _UNSCHEDULED += 1
        if _UNSCHEDULED == 1:
            logger.warning("no hermes scheduler (%s); calls run unscheduled", error)
        return None


_UNSCHEDULED = 0
"""Calls that ran unscheduled because no default scheduler could be built."""


class Slot(Ticket):
    """One call's admission (see the module docstring); it is the call's ``Ticket`` too, so
    one object per call goes to the scheduler (``stage``, ``visit`` and ``run_id`` become
    the ones found when it is entered)."""

    usage: Usage | None = None
    """The call's usage, if known in full; else ``report``'s tokens and measured seconds."""
    outer: Slot | None = None
    """The call this one is nested in (it then holds no slot of its own)."""
    default_stage: str | None = None
    timeout: float | None = None
    _holding = False
    """Whether its scheduler holds a slot for it (granted, not released yet)."""
    _tokens_used: tuple[int, int, int] | None = None
    _started = 0.0

    def __init__(
        self,
        scheduler: Scheduler | None,
        backend: str,
        *,
        stage: str | None = None,
        visit: str | None = None,
        default_stage: str | None = None,
        estimate_s: float = 0.0,
        tokens: int = 0,
        timeout: float | None = None,
    ) -> None:
        # names seen before are good (a set lookup, written out: this runs for every call)
        if not (backend.__class__ is str and backend in GOOD_NAMES):
            backend = checked_name(backend, "backend")
        if stage is not None and not (stage.__class__ is str and stage in GOOD_NAMES):
            stage = checked_name(stage, "stage")
        if visit is not None:
            visit = checked_name(visit, "visit")
        if not (estimate_s.__class__ is float and 0.0 <= estimate_s <= MAX_CALL_S):
            estimate_s = checked_seconds(estimate_s, "estimate_s")  # ints, or a clear error
        if not (tokens.__class__ is int and 0 <= tokens <= MAX_TOKENS):
            tokens = checked_tokens(tokens, "tokens")
        if timeout is not None:
            checked_seconds(timeout, "timeout")
        self.scheduler = scheduler
        self.backend = backend  # the ticket's fields (run_id is found when it is entered)
        self.stage = stage
        self.visit = visit
        self.estimate_s = estimate_s
        self.tokens = tokens
        if default_stage is not None:
            self.default_stage = default_stage
        if timeout is not None:
            self.timeout = timeout

    @property
    def ticket(self) -> Ticket | None:
        """Itself while its scheduler holds a slot for it; None when it holds none (nested,
        unscheduled, withdrawn, or released)."""
        return self if self._holding else None

    @property
    def rank(self) -> float | None:
        """The run's rank when admitted (lower is more urgent), for backends that take a
        priority hint; the outer call's when nested; None when unknown or unscheduled."""
        if self.outer is not None:
            return self.outer.rank
        return Ticket.rank.fget(self)  # type: ignore[attr-defined,no-any-return]

    def report(self, prompt_tokens: int, output_tokens: int, cached_tokens: int = 0) -> None:
        """The call's actual token usage, as its response says."""
        self._tokens_used = (prompt_tokens, output_tokens, cached_tokens)

    def enter(self) -> Slot:
        """Wait for admission (blocking)."""
        ticket = self._submit()
        if ticket is not None:
            try:
                answer = ticket.wait(self.timeout)
            except BaseException:
                self._withdraw(ticket)
                raise
            if answer is not Answer.GRANTED:
                self._answered(ticket, answer)
        self._started = time.monotonic()
        return self

    async def aenter(self) -> Slot:
        """Wait for admission (asyncio)."""
        ticket = self._submit()
        if ticket is not None:
            try:
                answer = await ticket.wait_async(self.timeout)
            except BaseException:
                self._withdraw(ticket)
                raise
            if answer is not Answer.GRANTED:
                self._answered(ticket, answer)
        self._started = time.monotonic()
        return self

    def release(self) -> None:
        """Give the slot back with the call's usage (once; any thread)."""
        with _RELEASE_LOCK:  # once, whichever threads call it
            if not self._holding:
                return  # released already, or its scheduler holds nothing for it
            self._holding = False
        seconds = time.monotonic() - self._started
        usage = self.usage
        if usage is None and self._tokens_used is None:  # measured: in bounds
            usage = _new_usage(Usage, (0, 0, 0, seconds if seconds < MAX_CALL_S else MAX_CALL_S))
        else:
            usage = usage or Usage(*(self._tokens_used or (0, 0, 0)), seconds=seconds)
            problem = usage_problem(*usage)
            if problem is not None:  # garbage from a backend (or the caller): never learned
                self._warn_usage(problem)
                usage = Usage(seconds=min(max(seconds, 0.0), MAX_CALL_S))
        assert self.scheduler is not None  # it held a slot of it
        self.scheduler.release(self, usage)

    __enter__ = enter

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if error is not None:
            self.failed(error)
        self.release()

    async def __aenter__(self) -> Slot:
        return await self.aenter()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if error is not None:
            self.failed(error)
        self.release()

    def failed(self, error: BaseException) -> None:
        """The call raised ``error`` (call before ``release``): a 429/503 answer goes to the
        scheduler (``Scheduler.throttled``: an ``auto`` window shrinks). Never raises."""
        if not self._holding or self.scheduler is None:
            return  # unscheduled or nested: its scheduler holds no slot for it
        try:
            from hermes_agents.capacity.throttle import throttle_of

            throttle = throttle_of(error)
            if throttle is not None:
                self.scheduler.throttled(self.backend, throttle.status, throttle.retry_after_s)
        except Exception:  # fail open: the user's own exception is what propagates
            logger.debug("reporting a throttle on %r failed", self.backend, exc_info=True)

    # -- helpers ------------------------------------------------------------------------------

    def _warn_usage(self, problem: str) -> None:
        if self.backend not in _WARNED_USAGE:
            _WARNED_USAGE.add(self.backend)
            logger.warning(
                "a call on %r reported unusable usage (%s); it is dropped (only the measured "
                "seconds count) and not learned",
                self.backend,
                problem,
            )

    def _submit(self) -> Ticket | None:
        """Queue the call's ticket; None for a nested call (it holds no slot of its own)."""
        outer = _held.get().get(self.backend)  # the call this one is nested in, if any
        if outer is not None:
            self.outer = outer
            return None
        if self.scheduler is None:
            scheduler = _default_scheduler()
            if scheduler is None:
                return None  # no scheduler can be built: the call runs unscheduled
            self.scheduler = scheduler
        stage, visit = self.stage, self.visit
        if stage is None:
            node = current_node()
            if node is not None:
                stage, visit = node.node, node.visit
            else:
                stage = self.default_stage
        self.run_id = self.scheduler.current_run_id()
        self.stage, self.visit = stage, visit
        self._holding = True  # until answered otherwise (``_answered``, ``_withdraw``)
        self.scheduler.submit(self)
        return self

    def _answered(self, ticket: Ticket, answer: Answer) -> None:
        """Not granted: nothing to release; a withdrawal raises."""
        self._holding = False  # nothing to release: the scheduler holds nothing for it
        if answer is Answer.WITHDRAWN:
            raise RunEndedError(
                f"a call on {self.backend!r} was withdrawn: {ticket.reason}; make the calls "
                "of an app run inside its run scope (`with scheduler.run(...)`)"
            )

    def _withdraw(self, ticket: Ticket) -> None:
        self._holding = False
        assert self.scheduler is not None
        self.scheduler.withdraw(ticket)
