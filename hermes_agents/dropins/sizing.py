"""How big a drop-in call is before it runs: tokens from its prompt, seconds from a price.

``call_slot`` makes the one ``Slot`` type (``hermes_agents.scheduling.slot``) for a call made
through a drop-in (the OpenAI clients, the LangChain wrappers), sized from its prompt
(``rough_tokens``: characters / 4) and its output limit; the slot finds the stage, the run and
the nesting guard itself.
"""

from __future__ import annotations

from collections.abc import Mapping

from hermes_agents.bounds import MAX_CALL_S, MAX_TOKENS
from hermes_agents.cost import LLMCost
from hermes_agents.scheduling.interface import Scheduler
from hermes_agents.scheduling.slot import Slot

CHARS_PER_TOKEN = 4
"""The rough size of a token in characters, for estimates made before the call."""

_MAX_DEPTH = 32
_ESTIMATE_COST = LLMCost()


def call_slot(
    scheduler: Scheduler | None,
    backend: str,
    *,
    prompt_tokens: int = 0,
    max_output_tokens: int | None = None,
) -> Slot:
    """The slot of one drop-in call of ``prompt_tokens`` and at most ``max_output_tokens``
    (``scheduler`` None: the process default when the call starts)."""
    output = min(max_output_tokens or 0, MAX_TOKENS)  # a caller's own limit may be absurd
    prompt_tokens = min(prompt_tokens, MAX_TOKENS)
    return Slot(
        scheduler,
        backend,
        estimate_s=min(_ESTIMATE_COST.seconds_one(prompt_tokens, output), MAX_CALL_S),
        tokens=min(prompt_tokens + output, MAX_TOKENS),
    )


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
