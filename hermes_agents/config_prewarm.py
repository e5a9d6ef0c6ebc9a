"""The prewarm tables of a config file: ``[backends.NAME.prewarm]`` and ``[prewarm]``.

A ``[backends.NAME.prewarm]`` table turns prewarming on for that backend: ``adapter`` names the
adapter that wakes it (``hermes_agents.backends.adapter_for``; it gets the backend's
``base_url``), ``threshold`` is the planner's K, ``warmup_s`` its cold start (default: the
backend's ``cold_start_s``), ``pool``/``memory`` the memory it competes for, and ``options`` the
adapter's extra keyword arguments. ``[prewarm]`` holds ``partial`` and the pools' ``memory``
budgets. Everything is checked when the file is loaded; each adapter is built once then (HTTP
clients connect lazily, so no connection is opened) and closed.

>>> from hermes_agents.config import parse_config
>>> config = parse_config({"backends": {"llm": {
...     "kind": "llm", "base_url": "http://127.0.0.1:8080", "cold_start_s": 1.5,
...     "idle_sleep_s": 1, "prewarm": {"adapter": "llamacpp"}}}})
>>> spec = config.prewarm.backends["llm"].spec
>>> spec.warmup_s, spec.threshold, spec.idle_sleep_s  # cold_start_s, default K, idle_sleep_s
(1.5, 0.5, 1.0)
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from hermes_agents.backends.base import BackendAdapter, adapter_for, default_registry, describe
from hermes_agents.config_fields import field_name, got, reject_unknown, table_name
from hermes_agents.errors import ValidationError, did_you_mean
from hermes_agents.prewarm.spec import DEFAULT_THRESHOLD, WarmupSpec

if TYPE_CHECKING:
    from hermes_agents.config import BackendConfig

__all__ = ["BACKEND_PREWARM_KEYS", "PREWARM_KEYS", "BackendPrewarm", "PrewarmConfig"]

BACKEND_PREWARM_KEYS = frozenset({"adapter", "threshold", "warmup_s", "pool", "memory", "options"})
"""Keys of a ``[backends.NAME.prewarm]`` table."""
PREWARM_KEYS = frozenset({"partial", "memory"})
"""Keys of the top-level ``[prewarm]`` table."""

_SET_BY_HERMES = {
    "base_url": "it is the backend's own base_url; set it in [{backend}]",
    "name": "the adapter is named after its backend",
}


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class BackendPrewarm:
    """How one backend is warmed: its adapter, by registry name and options, and its spec."""

    adapter: str
    """The adapter's registry name, e.g. ``"llamacpp"`` (``AdapterRegistry.kinds()``)."""
    spec: WarmupSpec
    """What the planner knows of the backend's warm-up (its ``backend`` is the backend's name)."""
    base_url: str | None = None
    """The backend's ``base_url``, given to the adapter."""
    options: Mapping[str, Any] = field(default_factory=_empty)
    """Extra keyword arguments for the adapter (read-only)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    def build(self) -> BackendAdapter:
        """A new adapter for this backend (the caller closes it), named after the backend and
        given its ``base_url`` (when the adapter takes these)."""
        options = dict(self.options)
        parameters = _parameters(self.adapter)
        if "name" in parameters:
            options["name"] = self.spec.backend
        return adapter_for(
            self.adapter, self.base_url if "base_url" in parameters else None, **options
        )


@dataclass(frozen=True)
class PrewarmConfig:
    """Prewarming as configured: the prewarmed backends, ``partial`` and the memory budgets."""

    backends: Mapping[str, BackendPrewarm]
    """Backend name -> how it is warmed (read-only)."""
    partial: bool | None = None
    """The planner's ``partial`` rule; None: ``PrewarmSetup``'s default."""
    memory: Mapping[str, float] = field(default_factory=_empty)
    """Pool name -> budget, in the units of the backends' ``memory`` (read-only)."""

    def __post_init__(self) -> None:
        for name, entry in self.backends.items():
            if entry.spec.backend != name:
                problem = f"its spec is for backend {entry.spec.backend!r}"
                raise ValidationError(problem, table_name("backends", name, "prewarm"))
        object.__setattr__(self, "backends", MappingProxyType(dict(self.backends)))
        object.__setattr__(self, "memory", MappingProxyType(dict(self.memory)))

    def specs(self) -> dict[str, WarmupSpec]:
        """Backend name -> its ``WarmupSpec``."""
        return {name: entry.spec for name, entry in self.backends.items()}

    def adapters(self) -> dict[str, BackendAdapter]:
        """Backend name -> a new adapter (the caller closes them)."""
        built: dict[str, BackendAdapter] = {}
        try:
            for name, entry in self.backends.items():
                built[name] = entry.build()
        except BaseException:
            for adapter in built.values():
                adapter.close()
            raise
        return built


def parse_prewarm(
    settings: object, tables: Mapping[str, tuple[BackendConfig, object]]
) -> PrewarmConfig | None:
    """Validate ``[prewarm]`` (``settings``; None when absent) and each backend's prewarm table.

    ``tables`` maps backend name -> (its parsed config, its ``prewarm`` table). None when no
    backend has a prewarm table: ``[prewarm]`` alone turns nothing on.
    """
    partial, budgets = _settings({} if settings is None else settings)
    if not tables:
        return None
    backends = {
        name: _backend(backend, table, budgets) for name, (backend, table) in tables.items()
    }
    return PrewarmConfig(backends, partial, budgets)


def _settings(data: object) -> tuple[bool | None, dict[str, float]]:
    if not isinstance(data, Mapping):
        raise ValidationError(f"must be a table [prewarm], got {got(data)}", "prewarm")
    reject_unknown(data, PREWARM_KEYS, "prewarm")
    partial = data.get("partial")
    if partial is not None and not isinstance(partial, bool):
        problem = f"must be true or false, got {got(partial)}"
        raise ValidationError(problem, "prewarm", field_name("partial"))
    memory = data.get("memory", {})
    where = table_name("prewarm", "memory")
    if not isinstance(memory, Mapping):
        problem = (
            f"must be a table of pool = budget, e.g. memory = {{ gpu = 80 }}; got {got(memory)}"
        )
        raise ValidationError(problem, "prewarm", field_name("memory"))
    budgets = {
        str(pool): _positive(budget, str(pool), "the pool's budget", where)
        for pool, budget in memory.items()
    }
    return partial, budgets


def _backend(backend: BackendConfig, data: object, budgets: Mapping[str, float]) -> BackendPrewarm:
    where = table_name("backends", backend.name, "prewarm")
    if not isinstance(data, Mapping):
        problem = f'must be a table [{where}] with an adapter (e.g. adapter = "llamacpp")'
        raise ValidationError(f"{problem}, got {got(data)}", where)
    reject_unknown(data, BACKEND_PREWARM_KEYS, where)
    idle_sleep_s = _idle_sleep_s(backend)
    try:
        adapter = _adapter(data.get("adapter"))
        spec = WarmupSpec(
            backend.name,
            warmup_s=_warmup_s(data.get("warmup_s"), backend),
            threshold=_threshold(data.get("threshold", DEFAULT_THRESHOLD)),
            idle_sleep_s=idle_sleep_s,
            **_pool(data, budgets),
        )
        options = _options(data.get("options", {}))
    except ValidationError as error:
        raise error.within(where) from None
    entry = BackendPrewarm(adapter, spec, backend.base_url, options)
    _check_builds(entry, backend.name)
    return entry


def _adapter(value: object) -> str:
    if value is None:
        kinds = ", ".join(default_registry.kinds())
        problem = f"is required: the adapter that wakes the backend, one of {kinds}"
        raise ValidationError(problem, field_name("adapter"))
    if not isinstance(value, str):
        raise ValidationError(f"must be an adapter name, got {got(value)}", field_name("adapter"))
    default_registry.factory(value)  # unknown names raise, with a "did you mean"
    return value


def _warmup_s(value: object, backend: BackendConfig) -> float:
    if value is None:
        if backend.cold_start_s > 0:
            return backend.cold_start_s
        raise ValidationError(
            f"is missing and [{table_name('backends', backend.name)}] cold_start_s is "
            f"{backend.cold_start_s:g}: set warmup_s here, or cold_start_s there, to the seconds "
            "the backend takes to wake (> 0)",
            field_name("warmup_s"),
        )
    return _positive(value, "warmup_s", "seconds the backend takes to wake")


def _threshold(value: object) -> float:
    number = _number(value, "threshold")
    if not 0 < number <= 1:
        problem = f"must be in (0, 1], got {value!r}; {DEFAULT_THRESHOLD} is the default"
        raise ValidationError(problem, field_name("threshold"))
    return number


def _idle_sleep_s(backend: BackendConfig) -> float | None:
    if backend.idle_sleep_s == 0:
        raise ValidationError(
            "must be > 0 on a prewarmed backend (leave it out if the backend never sleeps)",
            table_name("backends", backend.name),
            field_name("idle_sleep_s"),
        )
    return backend.idle_sleep_s


def _pool(data: Mapping[str, Any], budgets: Mapping[str, float]) -> dict[str, Any]:
    pool, memory = data.get("pool"), data.get("memory")
    if pool is None and memory is None:
        return {}
    if pool is None or memory is None:
        given, missing = ("pool", "memory") if memory is None else ("memory", "pool")
        problem = f"{given} needs {missing}: give both (the pool and what the backend takes of it)"
        raise ValidationError(problem, field_name(missing))
    if not isinstance(pool, str) or not pool:
        raise ValidationError(f"must name a memory pool, got {got(pool)}", field_name("pool"))
    if pool not in budgets:
        guess = did_you_mean(pool, budgets)
        raise ValidationError(
            f"pool {pool!r} has no budget{guess}; add it to [prewarm], e.g. "
            f"memory = {{ {table_name(pool)} = 80 }}",
            field_name("pool"),
        )
    return {"pool": pool, "memory": _positive(memory, "memory", "what it takes of its pool")}


def _options(value: object) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        problem = f'must be a table of adapter options, e.g. {{ model = "..." }}; got {got(value)}'
        raise ValidationError(problem, field_name("options"))
    return {str(key): option for key, option in value.items()}


def _check_builds(entry: BackendPrewarm, backend: str) -> None:
    """Build the adapter once, and close it: its own checks of the options run now."""
    where = table_name("backends", backend, "prewarm", "options")
    for key, why in _SET_BY_HERMES.items():
        if key in entry.options:
            problem = f"is set by hermes: {why.format(backend=table_name('backends', backend))}"
            raise ValidationError(f"{problem}; remove it", where, field_name(key))
    if entry.base_url is None and _needs_base_url(entry.adapter):
        raise ValidationError(
            f"the {entry.adapter} adapter needs the server's URL: set base_url",
            table_name("backends", backend),
            field_name("base_url"),
        )
    try:
        entry.build().close()
    except ValidationError as error:
        raise error.within(where) from None
    except Exception as error:  # a constructor's own type checks (TypeError, ...)
        problem = f"the {entry.adapter} adapter refused them: {describe(error)}"
        raise ValidationError(problem, where) from None


def _parameters(adapter: str) -> Mapping[str, inspect.Parameter]:
    return inspect.signature(default_registry.factory(adapter)).parameters


def _needs_base_url(adapter: str) -> bool:
    parameter = _parameters(adapter).get("base_url")
    return parameter is not None and parameter.default is parameter.empty


def _number(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(f"must be a finite number, got {got(value)}", field_name(key))
    return float(value)


def _positive(value: object, key: str, meaning: str, *where: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and value > 0)
    ):
        problem = f"must be a finite number > 0 ({meaning}), got {got(value)}"
        raise ValidationError(problem, *where, field_name(key))
    return float(value)
