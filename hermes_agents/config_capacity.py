"""``max_concurrency = "auto"`` in a config file: the window's bounds and what reads it.

``[backends.NAME] max_concurrency = "auto"`` lets Hermes find the backend's capacity at run
time (``hermes_agents.capacity``); an optional ``[backends.NAME.auto]`` table bounds it
(``min``, ``max``), says where it starts (``start``) and how often the engine is read
(``poll_s``). Which controller runs depends on the backend's ``adapter`` (default: the adapter
of its ``[backends.NAME.prewarm]`` table): ``llamacpp`` follows the server's slots, ``vllm`` and
``sglang`` the engine's metrics (both need ``base_url``), anything else a latency-gradient limit.

A backend with no ``max_concurrency`` at all gets ``auto`` when its adapter can measure
(``llamacpp``, ``vllm``, ``sglang`` with a ``base_url``), else 1, as before.

>>> from hermes_agents.config import parse_config
>>> config = parse_config({"backends": {"llm": {
...     "kind": "llm", "base_url": "http://127.0.0.1:8000", "adapter": "vllm",
...     "max_concurrency": "auto", "auto": {"min": 2, "max": 64}}}})
>>> backend = config.backends["llm"]
>>> backend.max_concurrency, backend.auto.bounds.min, backend.auto.bounds.max
('auto', 2, 64)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hermes_agents.capacity.probes import MEASURING_ADAPTERS
from hermes_agents.capacity.runtime import DEFAULT_POLL_S
from hermes_agents.capacity.window import DEFAULT_MAX_WINDOW, DEFAULT_MIN_WINDOW, Bounds
from hermes_agents.config_fields import field_name, got, reject_unknown
from hermes_agents.errors import ValidationError

__all__ = [
    "AUTO",
    "AUTO_KEYS",
    "AutoCapacity",
    "adapter_name",
    "auto_from_table",
    "measures",
    "resolve_auto",
]

AUTO = "auto"
"""The ``max_concurrency`` value that turns the window on."""
AUTO_KEYS = frozenset({"min", "max", "start", "poll_s"})
"""Keys of a ``[backends.NAME.auto]`` table."""


@dataclass(frozen=True)
class AutoCapacity:
    """How an ``auto`` backend's window is bounded and read; constructing one validates it."""

    min: int = DEFAULT_MIN_WINDOW
    """Smallest window (>= 1)."""
    max: int = DEFAULT_MAX_WINDOW
    """Largest window (>= min)."""
    start: int | None = None
    """The window until the first observation (None: 4, within the bounds)."""
    poll_s: float = DEFAULT_POLL_S
    """Seconds between two reads of the engine (> 0)."""

    def __post_init__(self) -> None:
        bounds = Bounds(self.min, self.max, self.start)  # raises naming min, max or start
        poll = self.poll_s
        if isinstance(poll, bool) or not isinstance(poll, int | float) or not math.isfinite(poll):
            raise ValidationError(f"must be a number of seconds, got {got(poll)}", "field 'poll_s'")
        if poll <= 0:
            raise ValidationError(f"must be > 0 seconds, got {poll!r}", "field 'poll_s'")
        object.__setattr__(self, "start", bounds.start)
        object.__setattr__(self, "poll_s", float(poll))

    @property
    def bounds(self) -> Bounds:
        """The controller's bounds."""
        return Bounds(self.min, self.max, self.start)


def measures(adapter: str | None, base_url: str | None) -> bool:
    """Whether ``auto`` can read the backend's own capacity (its slots or its metrics)."""
    return adapter in MEASURING_ADAPTERS and base_url is not None


def auto_from_table(data: object) -> AutoCapacity:
    """An ``AutoCapacity`` from a ``[backends.NAME.auto]`` table (errors name the field)."""
    if not isinstance(data, Mapping):
        problem = f"must be a table such as auto = {{ min = 1, max = 64 }}, got {got(data)}"
        raise ValidationError(problem, field_name("auto"))
    reject_unknown(data, AUTO_KEYS, "auto")
    try:
        return AutoCapacity(**{str(key): value for key, value in data.items()})
    except ValidationError as error:
        raise error.within("auto") from None


def resolve_auto(
    max_concurrency: object, auto: object, adapter: str | None, base_url: str | None
) -> tuple[Any, AutoCapacity | None]:
    """``(max_concurrency, auto)`` as a ``BackendConfig`` keeps them: no cap given means
    ``auto`` where the adapter measures, else 1; bounds without ``auto`` are an error."""
    if max_concurrency is None:
        max_concurrency = AUTO if auto is not None or measures(adapter, base_url) else 1
    if max_concurrency == AUTO:
        if adapter in MEASURING_ADAPTERS and base_url is None:
            problem = f"auto reads the {adapter} server's own capacity: set its base_url"
            raise ValidationError(problem, field_name("base_url"))
        if auto is None:
            return AUTO, AutoCapacity()
        if isinstance(auto, AutoCapacity):
            return AUTO, auto
        return AUTO, auto_from_table(auto)
    if auto is not None:
        problem = (
            f"bounds apply to max_concurrency = {AUTO!r} only (it is {max_concurrency!r}); "
            'remove them, or set max_concurrency = "auto"'
        )
        raise ValidationError(problem, field_name("auto"))
    return max_concurrency, None


def adapter_name(value: object, prewarm: Any) -> str | None:
    """The backend's ``adapter``, else its prewarm table's (``None``: neither names one)."""
    if value is not None:
        if not isinstance(value, str) or not value:
            raise ValidationError(f"must name an adapter, got {got(value)}", field_name("adapter"))
        from hermes_agents.backends.base import default_registry

        default_registry.factory(value)  # unknown names raise, with a "did you mean"
        return value
    if isinstance(prewarm, Mapping) and isinstance(prewarm.get("adapter"), str):
        from hermes_agents.backends.base import default_registry

        name = str(prewarm["adapter"])  # an unknown one is the prewarm table's error, named there
        return name if name in default_registry.kinds() else None
    return None
