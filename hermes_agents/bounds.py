"""The bounds every number and name must keep, checked at every boundary.

One place for them: the in-process API (``Scheduler.slot``, ``Scheduler.run``), the daemon's
protocol, usage read back from backends' responses, and the learner all check against these,
so that a NaN, an infinity or 1e308 never reaches a queue's order, a run's attained service or a
stored profile, and a name that cannot be printed or stored never enters.

>>> checked_seconds(2.5, "estimate_s")
2.5
>>> checked_seconds(float("nan"), "estimate_s")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
hermes_agents.errors.ValidationError: field 'estimate_s': must be a finite number of seconds...
>>> name_problem("qa\\ud800") is not None
True
"""

from __future__ import annotations

import math
import unicodedata
from functools import lru_cache

from hermes_agents.errors import ValidationError

MAX_CALL_S = 86_400.0
"""The longest a single call may take or be estimated to take: one day."""
MAX_TOKENS = 100_000_000
"""The most tokens one call may report (prompt, output or cached)."""
MAX_DEADLINE_S = 365 * 86_400.0
"""How far from now a deadline may lie: a year."""
MAX_RETRY_AFTER_S = 3600.0
"""The longest ``Retry-After`` a backend's 429/503 is read as (a bad header cannot hold an
``auto`` window for days); the daemon refuses a longer one."""
THROTTLE_STATUSES = (429, 503)
"""The statuses that say a backend throttles (Too Many Requests, Service Unavailable): what an
``auto`` window shrinks on, and what a daemon's ``throttle`` message may carry."""
MAX_NAME_CHARS = 256
"""The longest app, backend, stage or visit name."""


def checked_seconds(value: object, field: str) -> float:
    """``value`` as seconds in [0, ``MAX_CALL_S``], or ``ValidationError`` naming ``field``."""
    if not seconds_ok(value):
        raise ValidationError(
            f"must be a finite number of seconds from 0 to {MAX_CALL_S:.0f}, got {value!r}",
            f"field {field!r}",
        )
    assert isinstance(value, int | float)
    return float(value)


def checked_tokens(value: object, field: str) -> int:
    """``value`` as a token count in [0, ``MAX_TOKENS``], or ``ValidationError``."""
    if not tokens_ok(value):
        raise ValidationError(
            f"must be a whole number of tokens from 0 to {MAX_TOKENS}, got {value!r}",
            f"field {field!r}",
        )
    assert isinstance(value, int)
    return value


def seconds_ok(value: object) -> bool:
    """Whether ``value`` is a number of seconds within bounds (bools are not numbers)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= MAX_CALL_S
    )


def tokens_ok(value: object) -> bool:
    """Whether ``value`` is a token count within bounds."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TOKENS


def usage_problem(
    prompt_tokens: object, output_tokens: object, cached_tokens: object, seconds: object
) -> str | None:
    """What is wrong with a call's reported usage, or None when every field is in bounds."""
    for name, value in (
        ("prompt_tokens", prompt_tokens),
        ("output_tokens", output_tokens),
        ("cached_tokens", cached_tokens),
    ):
        if not tokens_ok(value):
            return f"{name} {value!r} is not a token count from 0 to {MAX_TOKENS}"
    if not seconds_ok(seconds):
        return f"seconds {seconds!r} is not a number of seconds from 0 to {MAX_CALL_S:.0f}"
    return None


def checked_name(value: object, field: str) -> str:
    """``value`` as a name (see ``name_problem``), or ``ValidationError`` naming ``field``."""
    problem = remembered_name_problem(value)
    if problem is not None:
        raise ValidationError(problem, f"field {field!r}")
    assert isinstance(value, str)
    return value


def remembered_name_problem(value: object) -> str | None:
    """``name_problem``, remembering good names (``GOOD_NAMES``): names seen before cost one
    set lookup."""
    if type(value) is str and value in GOOD_NAMES:  # the hot path: names seen before
        return None
    problem = name_problem(value)
    if problem is None and len(GOOD_NAMES) < MAX_GOOD_NAMES:
        GOOD_NAMES.add(value)
    return problem


MAX_GOOD_NAMES = 4096
GOOD_NAMES: set[object] = set()
"""Names already found good (bounded: beyond it names are simply checked each time); a hot
path may test membership itself before calling ``checked_name``."""


def name_problem(value: object) -> str | None:
    """What is wrong with ``value`` as a name, or None: 1 to ``MAX_NAME_CHARS`` characters of
    text that can be printed and stored (no control characters, no lone surrogates)."""
    if not isinstance(value, str):
        return f"must be a string, got {type(value).__name__}"
    return _text_problem(value)


@lru_cache(maxsize=4096)
def _text_problem(value: str) -> str | None:
    if not 0 < len(value) <= MAX_NAME_CHARS:
        return f"must be 1 to {MAX_NAME_CHARS} characters, got {len(value)}"
    for char in value:
        category = unicodedata.category(char)
        if category == "Cs":
            return f"contains a lone surrogate ({char!r}): not valid Unicode text"
        if category == "Cc":
            return f"contains a control character ({char!r})"
    return None
