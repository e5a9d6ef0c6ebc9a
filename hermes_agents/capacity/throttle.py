"""Reading a 429 / 503 out of whatever a call raised, with its ``Retry-After``.

Drop-ins hand the exception a call ended with to ``throttle_of``: ``openai.APIStatusError``
(``.status_code``, ``.response``), ``httpx.HTTPStatusError`` (``.response``), our own
``BackendError`` (``.status``), or anything shaped like them. ``Retry-After`` is read as
seconds or as an HTTP date; OpenAI's ``retry-after-ms`` is read first when present.

A 503 that says the model is asleep or loading is a cold start, not overload, and no throttle:
vLLM's sleep mode answers ``ModelSleepingError`` (the versions that guard their endpoints while
asleep), llama.cpp ``Loading model``. Halving the window then would only slow the calls that
come once the engine is awake (the prewarmer wakes it; ``docs/backends/vllm.md``).

>>> class Refused(Exception):
...     status_code = 429
>>> throttle_of(Refused())
Throttle(status=429, retry_after_s=None)
>>> retry_after_s({"retry-after": "7"})  # httpx headers: any case
7.0
>>> class Asleep(Exception):
...     status_code = 503
...     type = "ModelSleepingError"
>>> throttle_of(Asleep()) is None
True
"""

from __future__ import annotations

import contextlib
import email.utils
import math
import time
from collections.abc import Callable
from typing import Any

from hermes_agents.bounds import MAX_RETRY_AFTER_S, THROTTLE_STATUSES
from hermes_agents.capacity.window import Throttle

__all__ = [
    "COLD_START_MARKERS",
    "MAX_RETRY_AFTER_S",
    "THROTTLE_STATUSES",
    "cold_start",
    "retry_after_s",
    "throttle_of",
]

COLD_START_MARKERS = ("ModelSleepingError", "Loading model")
"""What a 503 from an engine that is asleep or loading carries (vLLM's error type in
vllm docs/source/features/sleep_mode.md, "Protected Endpoints"; llama.cpp server's message)."""


def throttle_of(error: BaseException) -> Throttle | None:
    """The throttle ``error`` carries, or None when it is no 429/503."""
    response = getattr(error, "response", None)
    status = getattr(error, "status_code", None) or getattr(error, "status", None)
    if status is None and response is not None:
        status = getattr(response, "status_code", None)
    if status not in THROTTLE_STATUSES or (status == 503 and cold_start(error)):
        return None
    assert isinstance(status, int)
    return Throttle(status, retry_after_s(getattr(response, "headers", None)))


def cold_start(error: BaseException) -> bool:
    """Whether ``error`` says the engine is asleep or loading (``COLD_START_MARKERS``): its
    ``type`` (openai's errors), its text, or its response's body."""
    texts = [str(getattr(error, "type", None) or ""), str(error)]
    response = getattr(error, "response", None)
    with contextlib.suppress(Exception):  # a streamed body not read: its text is unknown
        texts.append(str(getattr(response, "text", "") or ""))
    return any(marker in text for text in texts for marker in COLD_START_MARKERS)


def retry_after_s(headers: Any, now: Callable[[], float] = time.time) -> float | None:
    """Seconds the headers ask to wait (``retry-after-ms``, else ``Retry-After``), or None."""
    if headers is None:
        return None
    try:
        millis = headers.get("retry-after-ms")
        if millis is not None:
            return _bounded(float(millis) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return _bounded(float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(str(value))
            return _bounded(when.timestamp() - now())
    except (AttributeError, TypeError, ValueError, IndexError, OverflowError):
        return None  # a header we cannot read is no header


def _bounded(seconds: float) -> float | None:
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)
