"""An app's rank as a serving engine's request priority: a fixed log-scale bucketing.

Engines take an integer ``priority`` per request and order their waiting queue by it (vLLM
with ``--scheduling-policy priority``: lower first; SGLang with ``--enable-priority-scheduling``:
higher first unless ``--schedule-low-priority-values-first``). A Gittins rank is seconds of
expected remaining work, from milliseconds to hours. The mapping is a pure function of the rank
with constants fixed here, so every process and host that ranks apps hands the engine the same
integer for the same rank, with no coordination::

    bucket(rank_s) = round(BUCKETS_PER_DOUBLING * log2(rank_s / FLOOR_S)), clamped to
                     0 .. MAX_BUCKET

Eight buckets per doubling: two ranks within ~9% of each other may share a bucket, and the
engine then serves them in arrival order (vLLM breaks ties by arrival time), which is what a
rank that close deserves. Ranks at or below ``FLOOR_S`` (1 ms) share bucket 0; ranks from
``2**30`` ms (12 days) up, and infinite ones, share ``MAX_BUCKET``. A NaN rank (unknown) goes
last. The polarity turns the bucket into the engine's value: ``lower-first`` gives the bucket,
``higher-first`` gives ``MAX_BUCKET - bucket`` (both stay within 0 .. 240).

>>> engine_priority(1.5, "lower-first"), engine_priority(1.5, "higher-first")
(84, 156)
>>> engine_priority(0.0, "lower-first"), engine_priority(float("inf"), "lower-first")
(0, 240)
"""

from __future__ import annotations

import math
from typing import Literal, get_args

from hermes_agents.errors import ValidationError, did_you_mean

Enforce = Literal["client", "engine", "both"]
"""Where a backend's order is enforced: ``client`` (Hermes's admission window, in rank order),
``engine`` (every call admitted, its rank sent as the engine's request priority) or ``both``
(the window, and the rank sent)."""

ENFORCE_MODES: tuple[str, ...] = get_args(Enforce)
Polarity = Literal["lower-first", "higher-first"]
"""Which priority values an engine serves first."""

POLARITIES: tuple[str, ...] = get_args(Polarity)
FLOOR_S = 1e-3
"""Ranks at or below this many seconds share the most urgent bucket."""
BUCKETS_PER_DOUBLING = 8
"""Buckets per factor of two of rank (about 9% apart)."""
MAX_BUCKET = 240
"""The least urgent bucket: 30 doublings above ``FLOOR_S``."""

ENGINE_POLARITY: dict[str, Polarity] = {"vllm": "lower-first", "sglang": "higher-first"}
"""Each engine's default polarity (SGLang's flips with ``--schedule-low-priority-values-first``)."""

PRIORITY_REFUSED = "Priority scheduling is not enabled"
"""What vLLM answers (400) to a request ``priority`` when it runs without ``--scheduling-policy
priority``; the drop-ins then send the call again without one, and stop sending them."""

PriorityStyle = Literal["vllm", "sglang", "lower-first", "higher-first"]
"""How a server reads a request's ``priority``, as drop-ins name it: an engine (its default
polarity) or the polarity itself."""

STYLE_POLARITY: dict[str, Polarity] = {
    **ENGINE_POLARITY,
    "lower-first": "lower-first",
    "higher-first": "higher-first",
}
"""The polarity of each ``PriorityStyle``."""


def parse_enforce(value: object, *where: str) -> Enforce:
    """``value`` as an ``Enforce`` mode; the error names ``where`` and the choices."""
    if value == "client" or value == "engine" or value == "both":
        return value
    raise ValidationError(
        f"unknown mode {value!r}{did_you_mean(str(value), ENFORCE_MODES)}; use one of "
        f"{', '.join(repr(m) for m in ENFORCE_MODES)}",
        *where,
    )


def sends_priority(enforce: Enforce) -> bool:
    """Whether calls on a backend of this mode carry their rank as the engine's priority."""
    return enforce != "client"


def rank_bucket(rank_s: float) -> int:
    """The bucket of ``rank_s`` (0 most urgent .. ``MAX_BUCKET``); monotone in the rank."""
    if math.isnan(rank_s):
        return MAX_BUCKET
    if rank_s <= FLOOR_S:
        return 0
    if math.isinf(rank_s):
        return MAX_BUCKET
    bucket = round(BUCKETS_PER_DOUBLING * math.log2(rank_s / FLOOR_S))
    return min(MAX_BUCKET, max(0, bucket))


def engine_priority(rank_s: float, polarity: Polarity) -> int:
    """The request priority an engine of ``polarity`` should get for an app of ``rank_s``."""
    bucket = rank_bucket(rank_s)
    if polarity == "lower-first":
        return bucket
    if polarity == "higher-first":
        return MAX_BUCKET - bucket
    raise ValidationError(
        f"unknown polarity {polarity!r}{did_you_mean(str(polarity), POLARITIES)}; use one of "
        f"{', '.join(POLARITIES)}",
        "argument 'polarity'",
    )


def style_priority(rank_s: float, style: PriorityStyle) -> int:
    """``engine_priority`` of ``rank_s`` for a server of ``style`` (``PriorityStyle``)."""
    return engine_priority(rank_s, STYLE_POLARITY[style])


def bucket_rank_s(bucket: int) -> float:
    """The rank at the middle of ``bucket`` (the inverse of ``rank_bucket``, for reports)."""
    return float(FLOOR_S * 2.0 ** (min(MAX_BUCKET, max(0, bucket)) / BUCKETS_PER_DOUBLING))
