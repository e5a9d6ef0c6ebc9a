"""Reading a 429 / 503 out of whatever a call raised, with its ``Retry-After``.

Drop-ins hand the exception a call ended with to ``throttle_of``: ``openai.APIStatusError``
(``.status_code``, ``.response``), ``httpx.HTTPStatusError`` (``.response``), our own
``BackendError`` (``.status``), or anything shaped like them. ``Retry-After`` is read as
seconds or as an HTTP date; OpenAI's ``retry-after-ms`` is read first when present.

>>> class Refused(Exception):
...     status_code = 429
>>> throttle_of(Refused())
Throttle(status=429, retry_after_s=None)
>>> retry_after_s({"retry-after": "7"})  # httpx headers: any case
7.0
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable
from typing import Any

from hermes_agents.capacity.window import Throttle

__all__ = ["MAX_RETRY_AFTER_S", "THROTTLE_STATUSES", "retry_after_s", "throttle_of"]

THROTTLE_STATUSES = frozenset({429, 503})
"""The answers that say "too much load": Too Many Requests, Service Unavailable."""
MAX_RETRY_AFTER_S = 3600.0
"""A ``Retry-After`` beyond this is read as this (a bad header cannot hold a window for days)."""


def throttle_of(error: BaseException) -> Throttle | None:
    """The throttle ``error`` carries, or None when it is no 429/503."""
    response = getattr(error, "response", None)
    status = getattr(error, "status_code", None) or getattr(error, "status", None)
    if status is None and response is not None:
        status = getattr(response, "status_code", None)
    if status not in THROTTLE_STATUSES:
        return None
    assert isinstance(status, int)
    return Throttle(status, retry_after_s(getattr(response, "headers", None)))


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
