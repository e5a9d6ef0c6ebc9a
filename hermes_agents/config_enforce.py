"""``enforce`` in a config file: where a backend's order is enforced, and the engine's polarity.

``[backends.NAME] enforce = "client" | "engine" | "both"`` (LLM backends):

- ``client`` (default): Hermes admits at most ``max_concurrency`` calls (or the ``auto``
  window), in rank order; no priority is sent;
- ``engine``: Hermes admits every call at once (``max_concurrency`` unset means no client
  window; a number stays a safety bound) and each request carries its app's rank as the
  engine's ``priority``, so the engine orders its own queue by it and, where it does, preempts;
- ``both``: the window, and the priority.

The priority is ``hermes_agents.priority.engine_priority`` of the rank (a fixed log-scale
bucketing, the same on every host), in the engine's polarity: ``priority_polarity =
"lower-first" | "higher-first"``, by default the adapter's (``vllm``: lower first, which needs
``vllm serve --scheduling-policy priority``; ``sglang``: higher first, with
``--enable-priority-scheduling``; set ``lower-first`` when SGLang runs with
``--schedule-low-priority-values-first``). Another adapter must name its polarity.

>>> from hermes_agents.config import parse_config
>>> config = parse_config({"backends": {"llm": {
...     "kind": "llm", "adapter": "vllm", "base_url": "http://127.0.0.1:8000",
...     "enforce": "engine"}}})
>>> client_priority(config, "llm"), config.backends["llm"].start_concurrency
('lower-first', 1000000)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hermes_agents.config_fields import field_name, got
from hermes_agents.errors import ValidationError
from hermes_agents.pdgraph import StageKind
from hermes_agents.priority import (
    ENGINE_POLARITY,
    POLARITIES,
    STYLE_POLARITY,
    Enforce,
    Polarity,
    parse_enforce,
    sends_priority,
)

if TYPE_CHECKING:
    from hermes_agents.config import Config

__all__ = ["ENFORCE_KEYS", "ENGINE_WINDOW", "client_priority", "resolve_enforce"]

ENFORCE_KEYS = frozenset({"enforce", "priority_polarity"})
"""The keys of a ``[backends.NAME]`` table this module reads."""
ENGINE_WINDOW = 1_000_000
"""The client window of an ``engine`` backend without ``max_concurrency``: every call goes on."""


def resolve_enforce(
    enforce: object, polarity: object, kind: StageKind, adapter: str | None
) -> tuple[Enforce, Polarity | None]:
    """``(enforce, priority_polarity)`` as a ``BackendConfig`` keeps them (validated; errors
    name the field and the fix). The polarity is None exactly when no priority is sent."""
    mode = parse_enforce(enforce, field_name("enforce"))
    if polarity is not None and polarity not in POLARITIES:
        raise ValidationError(
            f"must be one of {', '.join(repr(p) for p in POLARITIES)}, got {got(polarity)}",
            field_name("priority_polarity"),
        )
    if not sends_priority(mode):
        if polarity is not None:
            problem = (
                'applies when the rank is sent: set enforce = "engine" or "both", or remove it'
            )
            raise ValidationError(problem, field_name("priority_polarity"))
        return mode, None
    if kind != StageKind.LLM:
        problem = f'only llm engines take a request priority; use enforce = "client" on a {kind}'
        raise ValidationError(problem, field_name("enforce"))
    chosen = polarity if polarity is not None else ENGINE_POLARITY.get(adapter or "")
    if chosen is None:
        problem = (
            f"enforce = {mode!r} sends the rank as the engine's priority: set adapter = "
            '"vllm" or "sglang", or priority_polarity = "lower-first" | "higher-first"'
        )
        raise ValidationError(problem, field_name("enforce"))
    return mode, STYLE_POLARITY[chosen]


def client_priority(config: Config | None, backend: str) -> Polarity | None:
    """The polarity drop-ins send ``backend``'s calls' priority in, from ``config``; None when
    the backend is not configured or enforces its order at the client only."""
    found = config.backends.get(backend) if config is not None else None
    if found is None or found.priority_polarity is None:
        return None
    return STYLE_POLARITY[found.priority_polarity]
