"""The engine priority a LangChain chat-model call carries, in its request's ``extra_body``.

Models of the OpenAI family (``ChatOpenAI`` and the providers built on it) send their
``extra_body`` mapping as top-level fields of the request: that is where vLLM and SGLang read
``priority``. ``with_priority`` adds it to a call's keyword arguments, merged over the model's
own ``extra_body``, once the call's slot is granted and its rank known. A priority the caller
set is kept; models without ``extra_body`` (Ollama, Anthropic, fakes) are left alone. A
server that refuses the priority (vLLM without ``--scheduling-policy priority`` answers 400) gets
the call again without it (``priority_refused``): a hint never breaks the user's call.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from hermes_agents.priority import PRIORITY_REFUSED, PriorityStyle, style_priority
from hermes_agents.scheduling.slot import Slot

__all__ = ["priority_refused", "with_priority"]

logger = logging.getLogger(__name__)


def with_priority(
    inner: object, call: Slot, kwargs: dict[str, Any], style: PriorityStyle | None
) -> dict[str, Any]:
    """``kwargs`` with ``extra_body["priority"]`` for ``call``'s rank (unchanged when there is
    no style, no rank, no ``extra_body`` on the model, or a priority already set)."""
    if style is None or not hasattr(inner, "extra_body"):
        return kwargs
    rank = call.rank
    if rank is None or math.isnan(rank):
        return kwargs
    given = kwargs.get("extra_body")
    body = given if isinstance(given, Mapping) else getattr(inner, "extra_body", None)
    body = dict(body) if isinstance(body, Mapping) else {}
    if "priority" in body:
        return kwargs
    body["priority"] = style_priority(rank, style)
    return {**kwargs, "extra_body": body}


def priority_refused(error: BaseException, backend: str) -> bool:
    """Whether ``error`` is the server refusing a request for its ``priority`` (then the caller
    sends it again without one and stops sending them; one warning says why)."""
    if PRIORITY_REFUSED not in str(error):
        return False
    logger.warning(
        "backend %r refuses request priorities (start vLLM with --scheduling-policy priority, "
        'or set enforce = "client"); sending none from this model',
        backend,
    )
    return True
