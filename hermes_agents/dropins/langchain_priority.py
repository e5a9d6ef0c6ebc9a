"""The engine priority a LangChain chat-model call carries, in its request's ``extra_body``.

Models of the OpenAI family (``ChatOpenAI`` and the providers built on it) send their
``extra_body`` mapping as top-level fields of the request: that is where vLLM and SGLang read
``priority``. ``with_priority`` adds it to a call's keyword arguments, merged over the model's
own ``extra_body``, once the call's slot is granted and its rank known. A priority the caller
set is kept; models without ``extra_body`` (Ollama, Anthropic, fakes) are left alone. A
server that refuses the priority (vLLM without ``--scheduling-policy priority`` answers 400) gets
the call again without it (``priority_refused``): a hint never breaks the user's call.

A stream is resent the same way when the refusal comes before its first chunk (``open_stream``,
``aopen_stream``): vLLM's streaming answer is then a 200 whose first event is the error, other
servers answer 400; once a chunk has been handed on nothing is resent.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, TypeVar

from hermes_agents.priority import PRIORITY_REFUSED, PriorityStyle, style_priority
from hermes_agents.scheduling.slot import Slot

__all__ = ["aopen_stream", "open_stream", "priority_refused", "with_priority"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


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


def open_stream(
    start: Callable[..., Iterator[T]],
    hinted: dict[str, Any],
    plain: dict[str, Any],
    refused: Callable[[Exception], bool],
) -> tuple[Iterator[T], T | None]:
    """The stream ``start(**hinted)`` and its first chunk (None: it is empty); when the server
    refuses the priority before that chunk (``refused(error)``), ``start(**plain)`` once."""
    chunks: Iterator[T] | None = None
    try:
        chunks = start(**hinted)
        return chunks, next(chunks, None)
    except Exception as error:
        if hinted is plain or not refused(error):
            raise
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
    chunks = start(**plain)
    return chunks, next(chunks, None)


async def aopen_stream(
    start: Callable[..., AsyncIterator[T]],
    hinted: dict[str, Any],
    plain: dict[str, Any],
    refused: Callable[[Exception], bool],
) -> tuple[AsyncIterator[T], T | None]:
    """``open_stream`` for an async stream."""
    chunks: AsyncIterator[T] | None = None
    try:
        chunks = start(**hinted)
        return chunks, await anext(chunks, None)
    except Exception as error:
        if hinted is plain or not refused(error):
            raise
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()
    chunks = start(**plain)
    return chunks, await anext(chunks, None)
