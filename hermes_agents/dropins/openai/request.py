"""The request side of a scheduled OpenAI call: which calls wait, their size, the priority hint."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from hermes_agents.dropins.sizing import call_slot as sized_slot
from hermes_agents.dropins.sizing import rough_tokens
from hermes_agents.priority import PRIORITY_REFUSED, PriorityStyle, style_priority
from hermes_agents.scheduling.interface import Scheduler
from hermes_agents.scheduling.slot import Slot

if TYPE_CHECKING:  # openai's request options: a private type, needed for the signatures only
    from openai._models import FinalRequestOptions

logger = logging.getLogger(__name__)

SCHEDULED_PATHS = frozenset({"/chat/completions", "/completions", "/embeddings", "/responses"})
"""The endpoints whose POST requests wait for a slot."""

_PROMPT_KEYS = ("messages", "prompt", "input", "instructions", "tools")
_MAX_OUTPUT_KEYS = ("max_completion_tokens", "max_tokens", "max_output_tokens")


class HermesSettings(Protocol):
    """What a drop-in client carries besides openai's own settings."""

    hermes_backend: str
    hermes_scheduler: Scheduler | None
    hermes_priority: PriorityStyle | None


def priority_hint(rank: float, style: PriorityStyle) -> int:
    """The request ``priority`` for an app of Gittins ``rank`` (seconds).

    ``hermes_agents.priority.engine_priority``: a fixed log-scale bucket of the rank (0 to 240,
    eight per doubling), the same on every host; reversed for engines that serve higher values
    first.

    >>> priority_hint(1.5, "vllm"), priority_hint(1.5, "sglang"), priority_hint(3.0, "vllm")
    (84, 156, 92)
    """
    return style_priority(rank, style)


def call_slot(client: HermesSettings, options: FinalRequestOptions) -> Slot | None:
    """The slot a request needs; None for endpoints that are not model calls."""
    if options.method.lower() != "post" or options.url not in SCHEDULED_PATHS:
        return None
    body = _body(options)
    limits = (body.get(key) for key in _MAX_OUTPUT_KEYS)
    max_output = next((n for n in limits if isinstance(n, int) and not isinstance(n, bool)), None)
    return sized_slot(
        client.hermes_scheduler,
        client.hermes_backend,
        prompt_tokens=rough_tokens([body.get(key) for key in _PROMPT_KEYS]),
        max_output_tokens=max_output,
    )


def _body(options: FinalRequestOptions) -> Mapping[str, object]:
    """The JSON body as sent: the method's arguments, then the caller's ``extra_body``."""
    body = options.json_data if isinstance(options.json_data, Mapping) else {}
    extra = options.extra_json
    return {**body, **extra} if extra else body


def with_hint(
    options: FinalRequestOptions, call: Slot, style: PriorityStyle | None
) -> FinalRequestOptions:
    """``options`` with ``priority`` added to its ``extra_body``, unless the caller set one."""
    if style is None:
        return options
    rank = call.rank
    if rank is None or math.isnan(rank) or "priority" in _body(options):
        return options
    extra = {**(options.extra_json or {}), "priority": priority_hint(rank, style)}
    return options.model_copy(update={"extra_json": extra})


def refuses_priority(client: HermesSettings, error: Exception | str) -> bool:
    """Whether the server refused the request for its ``priority`` (vLLM started without
    ``--scheduling-policy priority``; ``error``: what it raised, or the refusal read from a
    stream). If so the client stops sending one, with one warning, and the caller sends the
    request again without it: a hint never breaks the user's call."""
    if PRIORITY_REFUSED not in str(error):
        return False
    logger.warning(
        "backend %r refuses request priorities (start vLLM with --scheduling-policy priority, "
        'or set enforce = "client"); sending none from this client',
        client.hermes_backend,
    )
    client.hermes_priority = None
    return True
