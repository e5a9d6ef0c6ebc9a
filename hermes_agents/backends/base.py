"""The adapter contract: warm a real backend, read its state, never break the app.

An adapter is small on purpose, like ``httpx.BaseTransport``: one blocking ``warm(hint)`` that
never raises, one ``state()`` and ``close()``. The prewarm runtime calls ``warm`` from a worker
thread when the planner issues a ``WarmHint``; the hint is optional data (an adapter reads only
``.app``, ``.run_id``, ``.backend``, ``.action`` and ``.keep_s``, each with a default).

The exception tree, in one place::

    HermesError
     ├── ValidationError      bad adapter name or options, when building (fail fast)
     └── BackendError         a backend answered badly to an explicit call such as
                              ``VLLMAdapter.sleep()``; never raised by ``warm()``/``state()``

``FailOpenAdapter`` is the base every built-in adapter uses: it times ``warm``, turns any
exception into ``WarmResult(ok=False, error=...)``, counts it (``.counters``) and logs one warning
per outage, like the scheduler's fail-open warning. ``adapter_for(kind, base_url, **options)``
builds an adapter by name from the ``AdapterRegistry``.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self

from hermes_agents.errors import HermesError, ValidationError, did_you_mean

if TYPE_CHECKING:
    from hermes_agents.prewarm.hints import (  # type: ignore[import-not-found,unused-ignore]
        WarmHint,
    )

__all__ = [
    "AdapterCounters",
    "AdapterRegistry",
    "BackendAdapter",
    "BackendError",
    "BackendState",
    "FailOpenAdapter",
    "WarmResult",
    "adapter_for",
    "default_registry",
    "hint_field",
]

logger = logging.getLogger("hermes_agents.backends")


class BackendError(HermesError):
    """A backend refused or failed an explicit request (status and body in the message)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        """The HTTP status, when the backend answered at all."""


@dataclass(frozen=True)
class WarmResult:
    """What one ``warm()`` did."""

    ok: bool
    """True when the backend is warm (or was already)."""
    seconds: float
    """Wall time the warm-up took, failed attempts included."""
    error: str | None = None
    """Why it failed (exception type and message); None when ``ok``."""


@dataclass(frozen=True)
class BackendState:
    """What an adapter knows about its backend right now; None = unknown."""

    awake: bool | None = None
    """True when it can serve without a cold start; False when asleep/unloaded/stopped."""
    waiting: int | None = None
    """Requests queued inside the backend (e.g. ``vllm:num_requests_waiting``)."""
    running: int | None = None
    """Requests being served (e.g. ``vllm:num_requests_running``)."""
    kv_usage: float | None = None
    """KV-cache usage as a fraction, 0..1 (e.g. ``vllm:kv_cache_usage_perc``)."""
    preemptions: int | None = None
    """Running requests preempted since the server started, a counter
    (e.g. ``vllm:num_preemptions_total``)."""


@dataclass(frozen=True)
class AdapterCounters:
    """Counts of what an adapter did since it was built (a snapshot)."""

    warms: int = 0
    """``warm()`` calls."""
    warm_failures: int = 0
    """``warm()`` calls that returned ``ok=False``."""
    state_failures: int = 0
    """``state()`` calls that could not read the backend."""
    outages: int = 0
    """Runs of failures (each logged once)."""
    last_error: str | None = None
    """The most recent failure, if any."""


def hint_field(hint: object, field: str, default: Any) -> Any:
    """``hint.<field>``, or ``default`` when there is no hint or it lacks the field.

    Hints are optional data: adapters work with hints from any planner version, or none.
    """
    return default if hint is None else getattr(hint, field, default)


class BackendAdapter(ABC):
    """One real backend's warm-up/state surface. Small, like ``httpx.BaseTransport``."""

    name: str
    """The backend's name (its ``[backends.NAME]`` table)."""

    @abstractmethod
    def warm(self, hint: WarmHint | None = None) -> WarmResult:
        """Make the backend ready for the hinted app; blocking, and never raises.

        The runtime calls it from a worker thread. Failures come back as
        ``WarmResult(ok=False, error=...)``, are counted and logged once.
        """

    def state(self) -> BackendState:
        """Awake / asleep / unknown (+ load when the backend exposes it); never raises."""
        return BackendState()

    def close(self) -> None:  # noqa: B027 (optional hook: not every adapter holds anything)
        """Free what the adapter holds (HTTP connections, worker processes)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def describe(error: BaseException) -> str:
    """A one-line reason: the exception's type and message."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


class _FailureLog:
    """Counts failures per operation and logs once per outage (until the next success)."""

    def __init__(self, backend: str, kind: str) -> None:
        self._backend, self._kind = backend, kind
        self._lock = threading.Lock()
        self._failing: set[str] = set()
        self._counts = {"warms": 0, "warm_failures": 0, "state_failures": 0, "outages": 0}
        self._last_error: str | None = None

    def attempted(self, op: str) -> None:
        if op == "warm":
            with self._lock:
                self._counts["warms"] += 1

    def failed(self, op: str, error: str) -> None:
        with self._lock:
            self._counts[f"{op}_failures"] += 1
            self._last_error = error
            first = op not in self._failing
            if first:
                self._failing.add(op)
                self._counts["outages"] += 1
        if first:
            logger.warning(
                "backend %r (%s adapter): %s failed: %s; the app is unaffected, and further "
                "failures are counted (adapter.counters), not logged, until it works again",
                self._backend,
                self._kind,
                op,
                error,
            )

    def succeeded(self, op: str) -> None:
        with self._lock:
            recovered = op in self._failing
            self._failing.discard(op)
        if recovered:
            logger.info("backend %r (%s adapter): %s works again", self._backend, self._kind, op)

    def snapshot(self) -> AdapterCounters:
        with self._lock:
            return AdapterCounters(**self._counts, last_error=self._last_error)


class FailOpenAdapter(BackendAdapter):
    """Base of the built-in adapters: subclasses implement ``_warm`` (and ``_state``) and may
    raise anything; ``warm``/``state`` time, count, log once per outage and never raise."""

    kind: ClassVar[str] = "custom"
    """The adapter's registry name, e.g. ``"vllm"``."""

    def __init__(self, name: str | None = None, *, clock: Callable[[], float] | None = None):
        self.name = name or self.kind
        self._clock = clock or time.perf_counter
        self._failures = _FailureLog(self.name, self.kind)

    @property
    def counters(self) -> AdapterCounters:
        """Warm-ups, failures and outages so far."""
        return self._failures.snapshot()

    def warm(self, hint: WarmHint | None = None) -> WarmResult:
        """Run ``_warm(hint)``; any exception becomes ``WarmResult(ok=False)`` (see class)."""
        self._failures.attempted("warm")
        started = self._clock()
        try:
            self._warm(hint)
        except Exception as error:  # fail open: a warm-up problem never reaches the app
            reason = describe(error)
            self._failures.failed("warm", reason)
            return WarmResult(False, max(self._clock() - started, 0.0), reason)
        self._failures.succeeded("warm")
        return WarmResult(True, max(self._clock() - started, 0.0))

    def state(self) -> BackendState:
        """``_state()``, or an all-unknown state (counted, logged once) when it fails."""
        try:
            state = self._state()
        except Exception as error:  # fail open: a status read never reaches the app
            self._failures.failed("state", describe(error))
            return BackendState()
        self._failures.succeeded("state")
        return state

    @abstractmethod
    def _warm(self, hint: WarmHint | None) -> None:
        """Do the warm-up; raise on failure."""

    def _state(self) -> BackendState:
        return BackendState()


AdapterFactory = Callable[..., BackendAdapter]
"""Builds an adapter from keyword options (``base_url`` among them when given)."""

_BUILTINS: dict[str, str] = {
    "llamacpp": "hermes_agents.backends.llamacpp:LlamaCppAdapter",
    "vllm": "hermes_agents.backends.vllm:VLLMAdapter",
    "sglang": "hermes_agents.backends.sglang:SGLangAdapter",
    "ollama": "hermes_agents.backends.ollama:OllamaAdapter",
    "embeddings": "hermes_agents.backends.embeddings:EmbeddingsAdapter",
    "tools": "hermes_agents.backends.tools:ToolAdapter",
    "sandbox": "hermes_agents.backends.sandbox:SandboxAdapter",
}


class AdapterRegistry:
    """Adapter factories by name; ``create`` validates options before building.

    >>> registry = AdapterRegistry.with_builtins()
    >>> "vllm" in registry.kinds()
    True
    """

    def __init__(self) -> None:
        self._factories: dict[str, AdapterFactory | str] = {}

    @classmethod
    def with_builtins(cls) -> AdapterRegistry:
        """A registry holding the built-in adapters (imported when first used)."""
        registry = cls()
        for kind, path in _BUILTINS.items():
            registry.register(kind, path)
        return registry

    def register(self, kind: str, factory: AdapterFactory | str) -> None:
        """Add or replace ``kind``: a factory, or ``"module:attribute"`` imported lazily."""
        if not kind or not isinstance(kind, str):
            raise ValidationError(f"must be a non-empty string, got {kind!r}", "adapter kind")
        self._factories[kind] = factory

    def kinds(self) -> tuple[str, ...]:
        """The registered names, sorted."""
        return tuple(sorted(self._factories))

    def factory(self, kind: str) -> AdapterFactory:
        """The factory for ``kind``; ``ValidationError`` naming the known kinds otherwise."""
        found = self._factories.get(kind)
        if found is None:
            guess = did_you_mean(kind, self.kinds())
            raise ValidationError(
                f"unknown adapter {kind!r}{guess}; use one of {', '.join(self.kinds())}",
                "field 'adapter'",
            )
        if isinstance(found, str):
            module, _, attribute = found.partition(":")
            found = getattr(importlib.import_module(module), attribute)
            assert callable(found)
            self._factories[kind] = found
        return found

    def create(self, kind: str, base_url: str | None = None, **options: Any) -> BackendAdapter:
        """Build a ``kind`` adapter; unknown or missing options raise ``ValidationError``."""
        factory = self.factory(kind)
        if base_url is not None:
            options["base_url"] = base_url
        _check_options(kind, factory, options)
        return factory(**options)


def _check_options(kind: str, factory: AdapterFactory, options: dict[str, Any]) -> None:
    """Raise a ``ValidationError`` naming the first bad option and the accepted ones."""
    parameters = inspect.signature(factory).parameters
    accepted = sorted(n for n, p in parameters.items() if p.kind is not p.VAR_KEYWORD)
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    for key in sorted(options):
        if key not in parameters and not takes_any:
            guess = did_you_mean(key, accepted)
            problem = f"unknown option{guess}; the {kind} adapter takes {', '.join(accepted)}"
            raise ValidationError(problem, f"{kind} adapter", f"field {key!r}")
    for name, parameter in parameters.items():
        required = parameter.default is parameter.empty
        plain = parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
        if required and plain and name not in options:
            raise ValidationError(f"is required by the {kind} adapter", f"field {name!r}")


default_registry = AdapterRegistry.with_builtins()
"""The registry ``adapter_for`` uses; ``register`` your own adapters on it."""


def adapter_for(kind: str, base_url: str | None = None, **options: Any) -> BackendAdapter:
    """Build the ``kind`` adapter (``"llamacpp"``, ``"vllm"``, ``"sglang"``, ``"ollama"``,
    ``"embeddings"``, ``"tools"``, ``"sandbox"``) for the server at ``base_url``.

    Example::

        adapter = adapter_for("vllm", "http://127.0.0.1:8000", lora={"qa": "/adapters/qa"})
        adapter.warm()  # WarmResult(ok=True, seconds=0.21, error=None)
    """
    return default_registry.create(kind, base_url, **options)
